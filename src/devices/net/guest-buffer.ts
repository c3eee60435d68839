/**
 * A guest buffer (a receive or send buffer shared through a GPADL) seen
 * as one byte range: bounds-checked copies in and out, page by page when
 * its pages are scattered, one view when they are consecutive. Nothing is
 * allocated per copy, so the frame path can use it for every packet.
 *
 * @module
 */

import type { MemoryDescriptor } from '../../memory/memory-descriptor.js';

const PAGE = 4096;
/** Copies up to this many bytes go byte by byte: no view object for the small ones. */
const SMALL = 64;

/**
 * A page-aligned guest buffer made of whole pages (spec nvsp.md §4.1 step 1:
 * one range, offset 0, a multiple of 4096 bytes).
 *
 * @example
 * ```ts
 * import { GuestBuffer, GuestMemory, MemoryDescriptor } from 'vmbus-kmcl';
 * const memory = new GuestMemory(8);
 * const buffer = GuestBuffer.fromDescriptors([new MemoryDescriptor(memory, [5, 2], 0, 8192)]);
 * buffer.write(4090, Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8]), 0, 8); // crosses from page 5 into page 2
 * console.log(memory.bytes[5 * 4096 + 4095], memory.bytes[2 * 4096]); // 6 7
 * ```
 */
export class GuestBuffer {
  /** Bytes in the buffer. */
  readonly byteLength: number;
  /** Whether writes are refused. */
  readonly readOnly: boolean;
  private readonly bytes: Uint8Array;
  private readonly pageBase: Float64Array;
  /** The one view over the buffer when its pages are consecutive, else null. */
  readonly view: Uint8Array | null;

  private constructor(bytes: Uint8Array, pfns: readonly number[], readOnly: boolean) {
    this.bytes = bytes;
    this.readOnly = readOnly;
    this.byteLength = pfns.length * PAGE;
    this.pageBase = Float64Array.from(pfns, (p) => p * PAGE);
    let consecutive = true;
    for (let i = 1; i < pfns.length; i++) if (pfns[i] !== pfns[i - 1]! + 1) consecutive = false;
    const base = this.pageBase[0] ?? 0;
    this.view = consecutive ? bytes.subarray(base, base + this.byteLength) : null;
  }

  /**
   * Builds the buffer from a mapped GPADL's descriptors.
   *
   * @param descriptors - exactly one descriptor starting at offset 0 with a page-multiple length
   * @returns the buffer
   * @throws RangeError when the shape is not one whole-page range
   */
  static fromDescriptors(descriptors: readonly MemoryDescriptor[]): GuestBuffer {
    const d = descriptors[0];
    if (
      descriptors.length !== 1 ||
      !d ||
      d.byteOffset !== 0 ||
      d.byteLength % PAGE !== 0 ||
      d.byteLength === 0
    )
      throw new RangeError(
        'The buffer must be one range of whole pages starting at offset 0 (spec nvsp.md §4.1)',
      );
    return new GuestBuffer(d.memory.bytes, d.pfns, d.readOnly);
  }

  /**
   * Whether `[offset, offset + length)` lies inside the buffer (overflow-safe).
   *
   * @param offset - first byte
   * @param length - bytes
   * @returns true when inside
   */
  contains(offset: number, length: number): boolean {
    return (
      offset >= 0 && length >= 0 && offset <= this.byteLength && length <= this.byteLength - offset
    );
  }

  /**
   * Copies bytes out of the buffer.
   *
   * @param offset - byte offset in the buffer
   * @param dst - destination
   * @param dstOffset - where in `dst`
   * @param length - bytes
   * @throws RangeError when the span lies outside the buffer or `dst`
   */
  read(offset: number, dst: Uint8Array, dstOffset: number, length: number): void {
    this.check(offset, length);
    if (dstOffset < 0 || dstOffset + length > dst.length)
      throw new RangeError(`${length} bytes do not fit in the destination at ${dstOffset}`);
    if (this.view) {
      if (length <= SMALL)
        for (let i = 0; i < length; i++) dst[dstOffset + i] = this.view[offset + i]!;
      else dst.set(this.view.subarray(offset, offset + length), dstOffset);
      return;
    }
    let at = offset;
    let left = length;
    let to = dstOffset;
    while (left > 0) {
      const page = Math.floor(at / PAGE);
      const within = at - page * PAGE;
      const n = Math.min(left, PAGE - within);
      const gpa = this.pageBase[page]! + within;
      dst.set(this.bytes.subarray(gpa, gpa + n), to);
      at += n;
      to += n;
      left -= n;
    }
  }

  /**
   * Copies bytes into the buffer.
   *
   * @param offset - byte offset in the buffer
   * @param src - source
   * @param srcOffset - where in `src`
   * @param length - bytes
   * @throws RangeError when the span lies outside the buffer or `src`
   * @throws TypeError when the buffer is read-only
   */
  write(offset: number, src: Uint8Array, srcOffset: number, length: number): void {
    if (this.readOnly) throw new TypeError('The buffer is mapped read-only');
    this.check(offset, length);
    if (srcOffset < 0 || srcOffset + length > src.length)
      throw new RangeError(`${length} bytes are not in the source at ${srcOffset}`);
    if (this.view) {
      if (length <= SMALL)
        for (let i = 0; i < length; i++) this.view[offset + i] = src[srcOffset + i]!;
      else this.view.set(src.subarray(srcOffset, srcOffset + length), offset);
      return;
    }
    let at = offset;
    let left = length;
    let from = srcOffset;
    while (left > 0) {
      const page = Math.floor(at / PAGE);
      const within = at - page * PAGE;
      const n = Math.min(left, PAGE - within);
      const gpa = this.pageBase[page]! + within;
      this.bytes.set(src.subarray(from, from + n), gpa);
      at += n;
      from += n;
      left -= n;
    }
  }

  private check(offset: number, length: number): void {
    if (!Number.isInteger(offset) || !Number.isInteger(length) || !this.contains(offset, length))
      throw new RangeError(
        `Span ${offset}+${length} lies outside a buffer of ${this.byteLength} bytes`,
      );
  }
}
