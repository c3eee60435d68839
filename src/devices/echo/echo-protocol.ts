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

/** The echo device's interface GUID. */
export const ECHO_INTERFACE_TYPE = 'a1b2c3d4-0000-4e5c-8a70-ec0ec0ec0ec0';
/** Operation: propose a protocol version. */
export const ECHO_OP_VERSION = 1;
/** Operation: echo the bytes that follow. */
export const ECHO_OP_ECHO = 2;
/** The only version: 1.0. */
export const ECHO_VERSION = 0x00010000;
/** Largest echo payload. */
export const ECHO_MAX_PAYLOAD = 4088;
