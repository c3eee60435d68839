/**
 * The echo device's protocol: the smallest complete VMBus device, used by
 * docs/getting-started.md. Every message is an in-band packet whose payload
 * starts with an 8-byte header:
 *
 * ```
 *  0  u32 operation   (1 VERSION, 2 ECHO)
 *  4  u32 argument    (VERSION: the version proposed; ECHO: payload length)
 *  8  ...             (ECHO: the bytes to echo)
 * ```
 *
 * The guest proposes a version first; the host completes it with the same
 * header and, in the argument, 1 (accepted) or 0 (refused). Afterwards each
 * ECHO is completed with the same header and bytes.
 *
 * @module
 */

/**
 * The echo device's interface GUID.
 *
 * @example
 * ```ts
 * import { ECHO_INTERFACE_TYPE, KmclChannel, createLocalBus } from 'vmbus-kmcl';
 * const bus = createLocalBus();
 * const channel = new KmclChannel({ guest: bus.guest }, false);
 * channel.initSetTargetPnp(ECHO_INTERFACE_TYPE, null); // open any echo device
 * bus.dispose();
 * ```
 */
export const ECHO_INTERFACE_TYPE = 'a1b2c3d4-0000-4e5c-8a70-ec0ec0ec0ec0';
/**
 * Operation: propose a protocol version.
 *
 * @example
 * ```ts
 * import { ECHO_OP_VERSION, ECHO_VERSION } from 'vmbus-kmcl';
 * const request = new Uint8Array(8);
 * const v = new DataView(request.buffer);
 * v.setUint32(0, ECHO_OP_VERSION, true); // the handshake comes first
 * v.setUint32(4, ECHO_VERSION, true);
 * console.log(request[0] === 1); // true
 * ```
 */
export const ECHO_OP_VERSION = 1;
/**
 * Operation: echo the bytes that follow.
 *
 * @example
 * ```ts
 * import { ECHO_OP_ECHO } from 'vmbus-kmcl';
 * const request = new Uint8Array(8 + 5);
 * new DataView(request.buffer).setUint32(0, ECHO_OP_ECHO, true);
 * request.set(new TextEncoder().encode('hello'), 8);
 * console.log(request[0] === 2); // true
 * ```
 */
export const ECHO_OP_ECHO = 2;
/**
 * The only version: 1.0.
 *
 * @example
 * ```ts
 * import { ECHO_VERSION } from 'vmbus-kmcl';
 * console.log(ECHO_VERSION >>> 16, ECHO_VERSION & 0xffff); // 1 0: version 1.0
 * ```
 */
export const ECHO_VERSION = 0x00010000;
/**
 * Largest echo payload.
 *
 * @example
 * ```ts
 * import { ECHO_MAX_PAYLOAD } from 'vmbus-kmcl';
 * const payload = new Uint8Array(10_000);
 * console.log(payload.subarray(0, ECHO_MAX_PAYLOAD).length === ECHO_MAX_PAYLOAD); // true: longer payloads are split by the caller
 * ```
 */
export const ECHO_MAX_PAYLOAD = 4088;
