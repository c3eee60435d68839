/**
 * The memory of one ring: its control page and its data area, with the
 * wrap-aware copies both sides use (spec vmbus-wire.md §1.1, §1.3).
 *
 * ```
 *  byteOffset                byteOffset + 4096                 + 4096 + dsize
 *  +-------------------------+---------------------------------+
 *  | control page (4096 B)   | data area (dsize, n x 4096 B)   |
 *  +-------------------------+---------------------------------+
 * ```
 *
 * The data area is mapped once (like DPDK, FreeBSD and MSVM's single-mapped
 * mode): a packet that runs past the end continues at offset 0, and copies
 * split in two there. Indices wrap with one conditional subtraction, so the
 * data area may be any multiple of 4096, not only a power of two.
 *
 * Views over the region are built once here and reused for every packet.
 *
 * @module
 */

import { CONTROL_PAGE_SIZE, ControlPage } from './control-page.js';

/**
 * Copies up to this many bytes go byte by byte, which allocates nothing; longer
 * copies use `TypedArray.set` on a `subarray` view (one short-lived view per
 * copy, which the memcpy speed repays many times over).
 */
const SMALL_COPY = 256;

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/**
 * Views over one ring's region of an `ArrayBuffer` or `SharedArrayBuffer`.
 */
export class RingMemory {
  /** The control page. */
  readonly control: ControlPage;
  /** Bytes in the data area: a multiple of 4096. */
  readonly dataSize: number;
  /** The data area, byte view. */
  readonly bytes: Uint8Array;
  /** The data area, 32-bit word view (platform order, checked little-endian). */
  readonly words: Uint32Array;

  /**
   * @param buffer - memory holding the ring
   * @param byteOffset - where the control page starts, a multiple of 8
   * @param byteLength - control page plus data area: 4096 + n x 4096 bytes, n >= 1
   * @throws RangeError when the region is misaligned, does not fit, or has a
   *   data area that is not a positive multiple of 4096 below 2^32
   */
  constructor(
    buffer: ArrayBufferLike,
    byteOffset = 0,
    byteLength = buffer.byteLength - byteOffset,
  ) {
    if (!LITTLE_ENDIAN) {
      throw new RangeError(
        'vmbus-kmcl needs a little-endian platform, as the VMBus wire format is',
      );
    }
    if (!Number.isInteger(byteOffset) || byteOffset < 0 || byteOffset % 8 !== 0) {
      throw new RangeError(`Ring byte offset ${byteOffset} is not a non-negative multiple of 8`);
    }
    if (!Number.isInteger(byteLength) || byteOffset + byteLength > buffer.byteLength) {
      throw new RangeError(
        `Ring of ${byteLength} bytes at offset ${byteOffset} does not fit a buffer of ${buffer.byteLength} bytes`,
      );
    }
    const dataSize = byteLength - CONTROL_PAGE_SIZE;
    if (dataSize < 4096 || dataSize % 4096 !== 0 || dataSize > 0xffff_f000) {
      throw new RangeError(
        `Ring of ${byteLength} bytes needs a 4096-byte control page and a data area that is a positive multiple of 4096`,
      );
    }
    this.control = new ControlPage(buffer, byteOffset);
    this.dataSize = dataSize;
    this.bytes = new Uint8Array(buffer, byteOffset + CONTROL_PAGE_SIZE, dataSize);
    this.words = new Uint32Array(buffer, byteOffset + CONTROL_PAGE_SIZE, dataSize >>> 2);
  }

  /**
   * Copies `src[start, end)` into the data area at `pos`, wrapping at the end.
   *
   * @param src - source bytes
   * @param start - first source byte
   * @param end - one past the last source byte
   * @param pos - data-area offset, below `dataSize`
   * @returns the data-area offset after the copy
   */
  copyIn(src: Uint8Array, start: number, end: number, pos: number): number {
    const n = end - start;
    const size = this.dataSize;
    const room = size - pos;
    if (n <= room) {
      if (start === 0 && end === src.length) this.bytes.set(src, pos);
      else if (n <= SMALL_COPY) for (let i = 0; i < n; i++) this.bytes[pos + i] = src[start + i]!;
      else this.bytes.set(src.subarray(start, end), pos);
      const next = pos + n;
      return next === size ? 0 : next;
    }
    // Wraps: two copies, at the end of the data area and at its start.
    this.bytes.set(src.subarray(start, start + room), pos);
    this.bytes.set(src.subarray(start + room, end), 0);
    return n - room;
  }

  /**
   * Copies `n` data-area bytes starting at `pos` into `dst` at `dstOffset`,
   * wrapping at the end of the data area.
   *
   * @param pos - data-area offset, below `dataSize`
   * @param n - bytes to copy, at most `dataSize`
   * @param dst - destination
   * @param dstOffset - offset in `dst`
   */
  copyOut(pos: number, n: number, dst: Uint8Array, dstOffset: number): void {
    const room = this.dataSize - pos;
    const bytes = this.bytes;
    if (n <= room) {
      if (n <= SMALL_COPY) for (let i = 0; i < n; i++) dst[dstOffset + i] = bytes[pos + i]!;
      else dst.set(bytes.subarray(pos, pos + n), dstOffset);
      return;
    }
    dst.set(bytes.subarray(pos, this.dataSize), dstOffset);
    dst.set(bytes.subarray(0, n - room), dstOffset + room);
  }

  /**
   * Zeroes `n` bytes (at most 7: packet padding) from `pos`, wrapping.
   *
   * @param pos - data-area offset
   * @param n - bytes to zero
   */
  zero(pos: number, n: number): void {
    const size = this.dataSize;
    for (let i = 0; i < n; i++) {
      let q = pos + i;
      if (q >= size) q -= size;
      this.bytes[q] = 0;
    }
  }

  /**
   * Adds `n` to a data-area offset modulo the data size (one subtraction).
   *
   * @param pos - offset below `dataSize`
   * @param n - bytes to advance, at most `dataSize`
   * @returns the new offset
   */
  advance(pos: number, n: number): number {
    const next = pos + n;
    return next >= this.dataSize ? next - this.dataSize : next;
  }
}
