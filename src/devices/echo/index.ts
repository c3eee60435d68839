/**
 * The echo device: the hello-world of VMBus devices.
 *
 * @module
 */

export * from './echo-protocol.js';
export { EchoVsc } from './echo-vsc.js';
export { EchoVsp } from './echo-vsp.js';
