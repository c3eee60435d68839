/**
 * `vmbus-kmcl`: Hyper-V VMBus in TypeScript. The root export gathers every
 * layer; the subpath exports (`vmbus-kmcl/ring`, `vmbus-kmcl/protocol`) give
 * one layer each.
 *
 * @module
 */

export * from './protocol/index.js';
export * from './ring/index.js';
export { EventWord } from './signal/event-word.js';
export { VmbusError } from './status/vmbus-error.js';
