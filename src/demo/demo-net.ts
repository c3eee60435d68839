/**
 * The demo's network workload, shared by its two guests: frame kinds of a
 * local experimental EtherType carrying pings, their answers, and a
 * sequence-numbered bulk stream.
 *
 * @module
 */

/** IEEE 802 local experimental EtherType 1. */
export const DEMO_ETHER_TYPE = 0x88b5;

/** The frame kinds (byte 14). */
export const DEMO_FRAME = { PING: 1, PONG: 2, BULK: 3 } as const;

/**
 * Fills a bulk frame: peer, self, type, kind, sequence number, pattern.
 *
 * @param frame - the frame to fill (its whole length)
 * @param peer - destination MAC
 * @param self - source MAC
 * @param seq - sequence number
 */
export function fillBulk(frame: Uint8Array, peer: Uint8Array, self: Uint8Array, seq: number): void {
  frame.set(peer, 0);
  frame.set(self, 6);
  frame[12] = DEMO_ETHER_TYPE >> 8;
  frame[13] = DEMO_ETHER_TYPE & 0xff;
  frame[14] = DEMO_FRAME.BULK;
  frame[15] = seq >>> 24;
  frame[16] = (seq >>> 16) & 0xff;
  frame[17] = (seq >>> 8) & 0xff;
  frame[18] = seq & 0xff;
  for (let j = 19; j < frame.length; j++) frame[j] = (seq + j) & 0xff;
}
