/**
 * The demo's network workload, shared by its two guests: frame kinds of a
 * local experimental EtherType carrying pings, their answers, and a
 * sequence-numbered bulk stream.
 *
 * @module
 */

/** The ARP EtherType: the demo's who-has request and its answer use its layout. */
export const ETHER_TYPE_ARP = 0x0806;

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

/**
 * Fills a 60-byte ARP-style request: broadcast, from `self`, operation 1,
 * sender hardware address `self`.
 *
 * @param frame - the frame to fill, at least 60 bytes (its first 60 are written)
 * @param self - the asking NIC's MAC
 */
export function fillArpRequest(frame: Uint8Array, self: Uint8Array): void {
  frame.fill(0, 0, 60);
  frame.fill(0xff, 0, 6);
  fillArp(frame, self, 1);
}

/**
 * Fills a 60-byte ARP-style reply to `request`: unicast to its sender, from
 * `self`, operation 2, sender hardware address `self`.
 *
 * @param frame - the frame to fill, at least 60 bytes (its first 60 are written)
 * @param request - the request being answered
 * @param self - the answering NIC's MAC
 */
export function fillArpReply(frame: Uint8Array, request: Uint8Array, self: Uint8Array): void {
  frame.fill(0, 0, 60);
  frame.set(request.subarray(6, 12), 0);
  fillArp(frame, self, 2);
}

/**
 * The ARP operation of a frame (1 request, 2 reply), or 0 when it is no ARP frame.
 *
 * @param frame - a received frame
 * @returns the operation
 */
export function arpOperation(frame: Uint8Array): number {
  if (frame.length < 28 || ((frame[12]! << 8) | frame[13]!) !== ETHER_TYPE_ARP) return 0;
  return frame[21]!;
}

function fillArp(frame: Uint8Array, self: Uint8Array, operation: number): void {
  frame.set(self, 6);
  frame[12] = ETHER_TYPE_ARP >> 8;
  frame[13] = ETHER_TYPE_ARP & 0xff;
  frame[21] = operation;
  frame.set(self, 22);
}
