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
 * Copies up to this many bytes move word by word and allocate nothing; longer
 * copies use `TypedArray.set` (memcpy), on a `subarray` view where the copy
 * covers part of an array: one short-lived view object per copy, repaid many
 * times over by the copy speed.
 */
const SMALL_COPY = 128;

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/**
 * `Uint8Array.prototype.set`, called directly: V8 does not fold a `.set`
 * looked up on a typed array into a constant (the prototype is a dictionary),
 * so each `bytes.set(...)` paid a generic property-load IC.
 */
const typedArraySet = Uint8Array.prototype.set;

/**
 * Views over one ring's region of an `ArrayBuffer` or `SharedArrayBuffer`.
 *
 * @example
 * ```ts
 * import { ControlPage, RingMemory } from 'vmbus-kmcl/ring';
 * const sab = new SharedArrayBuffer(8192);
 * ControlPage.initialize(sab, 0);
 * const ring = new RingMemory(sab);
 * console.log(ring.dataSize, ring.control.writeIndex); // 4096 0
 * ```
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

  // Word views of the last caller arrays copied from and to, and where those
  // arrays start in their buffers (a typed array's own getters are slow).
  private readonly source = new WordView();
  private readonly target = new WordView();

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
   * Small copies move 32-bit words when both sides are 4-aligned (through a
   * word view of the source's buffer, built once per buffer: arrays carved
   * from one buffer, like a packet pool, share it) and allocate nothing; large ones use `TypedArray.set`.
   *
   * @param src - source bytes
   * @param start - first source byte
   * @param end - one past the last source byte
   * @param pos - data-area offset, below `dataSize`
   * @returns the data-area offset after the copy
   */
  copyIn(src: Uint8Array, start: number, end: number, pos: number): number {
    // The per-packet case (a whole payload, contiguous) is kept this short so
    // that V8 inlines it into writers (it inlines functions of at most 460
    // bytecodes); the rest is a method of its own.
    const n = end - start;
    if (n >= 32 && start === 0 && end === src.length && n <= this.dataSize - pos) {
      // The whole source, contiguous: memcpy with no view to allocate.
      typedArraySet.call(this.bytes, src, pos);
      return pos + n === this.dataSize ? 0 : pos + n;
    }
    return this.copyInSlow(src, start, end, pos);
  }

  /** `copyIn` past its per-packet case: parts of a source, wrapping copies, small copies. */
  private copyInSlow(src: Uint8Array, start: number, end: number, pos: number): number {
    const n = end - start;
    const size = this.dataSize;
    const room = size - pos;
    if (n > SMALL_COPY) {
      if (n <= room) {
        typedArraySet.call(this.bytes, src.subarray(start, end), pos);
        return pos + n === size ? 0 : pos + n;
      }
      // Wraps: two copies, at the end of the data area and at its start.
      typedArraySet.call(this.bytes, src.subarray(start, start + room), pos);
      typedArraySet.call(this.bytes, src.subarray(start + room, end), 0);
      return n - room;
    }
    const bytes = this.bytes;
    const view = this.source;
    if (src !== view.array) view.use(src);
    const at = view.base + start;
    let p = pos;
    let i = 0;
    if (((at | pos) & 3) === 0) {
      const count = n >>> 2;
      const first = Math.min(count, (size - pos) >>> 2);
      copyWords(this.words, pos >>> 2, view.words, at >>> 2, first);
      copyWords(this.words, 0, view.words, (at >>> 2) + first, count - first);
      i = count << 2;
      p = first < count ? (count - first) << 2 : pos + i;
      if (p === size) p = 0;
    }
    for (; i < n; i++) {
      bytes[p] = src[start + i]!;
      if (++p === size) p = 0;
    }
    return p;
  }

  /**
   * Copies `n` data-area bytes starting at `pos` into `dst` at `dstOffset`,
   * wrapping at the end of the data area. Small copies move 32-bit words
   * when both sides are 4-aligned and allocate nothing; large ones use
   * `TypedArray.set` on a view of the ring (one short-lived view object).
   *
   * @param pos - data-area offset, below `dataSize`
   * @param n - bytes to copy, at most `dataSize`
   * @param dst - destination
   * @param dstOffset - offset in `dst`
   */
  copyOut(pos: number, n: number, dst: Uint8Array, dstOffset: number): void {
    // The per-packet case (a small, aligned copy) is kept short, so V8
    // inlines it into readers; the rest is in methods of its own.
    if (n > 128 /* SMALL_COPY */) return this.copyOutLarge(pos, n, dst, dstOffset);
    const view = this.target;
    if (dst !== view.array) view.use(dst);
    const at = view.base + dstOffset;
    if (((at | pos) & 3) !== 0) return this.copyOutBytes(pos, n, dst, dstOffset, 0);
    const count = n >>> 2;
    const first = Math.min(count, (this.dataSize - pos) >>> 2);
    copyWords(view.words, at >>> 2, this.words, pos >>> 2, first);
    if (first < count) copyWords(view.words, (at >>> 2) + first, this.words, 0, count - first);
    if ((n & 3) !== 0) this.copyOutBytes(pos, n, dst, dstOffset, count << 2);
  }

  /** `copyOut` of more than {@link SMALL_COPY} bytes: `TypedArray.set` from views of the ring. */
  private copyOutLarge(pos: number, n: number, dst: Uint8Array, dstOffset: number): void {
    const size = this.dataSize;
    const room = size - pos;
    const bytes = this.bytes;
    if (n <= room) {
      typedArraySet.call(dst, bytes.subarray(pos, pos + n), dstOffset);
      return;
    }
    typedArraySet.call(dst, bytes.subarray(pos, size), dstOffset);
    typedArraySet.call(dst, bytes.subarray(0, n - room), dstOffset + room);
  }

  /** Bytes `from` to `n` of a small `copyOut`, one at a time (an unaligned copy, or the tail). */
  private copyOutBytes(
    pos: number,
    n: number,
    dst: Uint8Array,
    dstOffset: number,
    from: number,
  ): void {
    const size = this.dataSize;
    const bytes = this.bytes;
    let p = pos + from;
    if (p >= size) p -= size;
    for (let i = from; i < n; i++) {
      dst[dstOffset + i] = bytes[p]!;
      if (++p === size) p = 0;
    }
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

/**
 * A 32-bit word view of the buffer under the array a small copy last read
 * or wrote: arrays carved from one buffer (a packet pool, token buffers)
 * share one view, so small copies allocate nothing.
 */
class WordView {
  /** The array the view was last set for. */
  array: Uint8Array | null = null;
  /** Its buffer. */
  buffer: ArrayBufferLike | null = null;
  /** The whole buffer as words. */
  words: Uint32Array = new Uint32Array(0);
  /** The array's byte offset in the buffer. */
  base = 0;

  /** Points the view at `array` (a new word view only for a new buffer). */
  use(array: Uint8Array): void {
    const buffer = array.buffer;
    if (buffer !== this.buffer) {
      this.buffer = buffer;
      this.words = new Uint32Array(buffer, 0, buffer.byteLength >>> 2);
    }
    this.array = array;
    this.base = array.byteOffset;
  }
}

/**
 * Copies `count` 32-bit words, four at a time.
 *
 * @param to - destination words
 * @param d - first destination word
 * @param from - source words
 * @param s - first source word
 * @param count - words to copy (may be 0)
 */
function copyWords(to: Uint32Array, d: number, from: Uint32Array, s: number, count: number): void {
  let i = 0;
  for (; i + 4 <= count; i += 4) {
    to[d + i] = from[s + i]!;
    to[d + i + 1] = from[s + i + 1]!;
    to[d + i + 2] = from[s + i + 2]!;
    to[d + i + 3] = from[s + i + 3]!;
  }
  for (; i < count; i++) to[d + i] = from[s + i]!;
}
