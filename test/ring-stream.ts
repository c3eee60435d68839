/**
 * The packet stream the cross-worker ring test sends: sizes and contents are
 * functions of a seed and the sequence number, so the reader can check each
 * packet without being told anything but the bytes.
 *
 * Packet `seq`: payload of `streamSize(seq)` bytes taken from a random pool
 * at a 4-aligned offset; transaction id low word = seq, high word = checksum
 * of the payload.
 */

import { xorshift } from '../src/demo/xorshift.js';

export { xorshift };

/** Bytes in the random pool payloads are cut from. */
export const POOL_SIZE = 1 << 20;
/** Largest payload: 16 KiB. */
export const MAX_SIZE = 16384;

/**
 * The random pool, the same on both sides for the same seed.
 *
 * @param seed - seed
 * @returns POOL_SIZE + MAX_SIZE bytes
 */
export function makePool(seed: number): Uint8Array {
  const next = xorshift(seed);
  const words = new Uint32Array((POOL_SIZE + MAX_SIZE) / 4);
  for (let i = 0; i < words.length; i++) words[i] = next();
  return new Uint8Array(words.buffer);
}

/**
 * Size of packet `seq`: log-uniform from 1 B to 16 KiB.
 *
 * @param next - the size generator (advanced once per packet)
 * @returns the size
 */
export function streamSize(next: () => number): number {
  const bits = next() % 15; // 0..14
  const lo = 1 << bits;
  return Math.min(MAX_SIZE, lo + (next() % lo));
}

/**
 * Offset in the pool of packet `seq`'s payload (4-aligned).
 *
 * @param seq - sequence number
 * @returns the offset
 */
export function poolOffset(seq: number): number {
  return ((Math.imul(seq, 2654435761) >>> 0) % (POOL_SIZE >>> 2)) << 2;
}

/**
 * An FNV-1a-style checksum taken a 32-bit word at a time, then the tail
 * bytes: position-sensitive, so a lost, doubled or moved word changes it.
 *
 * @param bytes - data, over a buffer whose `byteOffset` is 4-aligned
 * @param start - first byte, 4-aligned
 * @param end - one past the last byte
 * @returns the 32-bit checksum
 */
export function checksum(bytes: Uint8Array, start: number, end: number): number {
  const words = new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.length >>> 2);
  let h = 0x811c9dc5;
  const wordEnd = start + ((end - start) & ~3);
  for (let i = start >>> 2; i < wordEnd >>> 2; i++) h = Math.imul(h ^ words[i]!, 0x01000193);
  for (let i = wordEnd; i < end; i++) h = Math.imul(h ^ bytes[i]!, 0x01000193);
  return h >>> 0;
}
