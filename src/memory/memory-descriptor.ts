/**
 * Memory descriptors: this library's MDL. A list of page frame numbers with
 * a byte offset into the first page and a byte length, describing a buffer
 * that may be scattered over guest memory (spec vmbus-wire.md §2.4: the
 * shape of one GPA range).
 *
 * @module
 */

import { type GuestMemory, MemoryAccessError, PAGE_SIZE } from './guest-memory.js';

/**
 * A buffer in guest memory described by its pages.
 *
 * @example
 * ```ts
 * import { GuestMemory, MemoryDescriptor } from 'vmbus-kmcl';
 * const memory = new GuestMemory(16);
 * const mdl = new MemoryDescriptor(memory, [3, 7], 4000, 200); // straddles two scattered pages
 * mdl.write(0, new Uint8Array(200).fill(9));
 * console.log(memory.bytes[3 * 4096 + 4000], memory.bytes[7 * 4096 + 103]); // 9 9
 * ```
 */
export class MemoryDescriptor {
  /** The memory the pages belong to. */
  readonly memory: GuestMemory;
  /** Page frame numbers, in buffer order. */
  readonly pfns: readonly number[];
  /** Offset of the first byte in the first page (0..4095). */
  readonly byteOffset: number;
  /** Bytes in the buffer. */
  readonly byteLength: number;
  /** Whether writes through this descriptor are refused. */
  readonly readOnly: boolean;

  /**
   * @param memory - guest memory
   * @param pfns - exactly `ceil((byteOffset + byteLength) / 4096)` pages, each inside `memory`
   * @param byteOffset - offset in the first page
   * @param byteLength - bytes
   * @param readOnly - refuse writes
   * @throws MemoryAccessError when a PFN lies outside guest memory
   * @throws RangeError when the shape is inconsistent
   */
  constructor(
    memory: GuestMemory,
    pfns: readonly number[],
    byteOffset: number,
    byteLength: number,
    readOnly = false,
  ) {
    if (!Number.isInteger(byteOffset) || byteOffset < 0 || byteOffset >= PAGE_SIZE) {
      throw new RangeError(`Descriptor byte offset ${byteOffset} is not in 0..4095`);
    }
    if (!Number.isInteger(byteLength) || byteLength < 0) {
      throw new RangeError(`Descriptor length ${byteLength} is not a non-negative integer`);
    }
    const need = Math.ceil((byteOffset + byteLength) / PAGE_SIZE);
    if (pfns.length !== need) {
      throw new RangeError(
        `A descriptor of ${byteLength} bytes at offset ${byteOffset} needs ${need} pages, not ${pfns.length}`,
      );
    }
    for (const pfn of pfns) {
      if (!memory.isValidPfn(pfn)) {
        throw new MemoryAccessError(
          `PFN ${pfn} lies outside guest memory of ${memory.pageCount} pages`,
        );
      }
    }
    this.memory = memory;
    this.pfns = pfns;
    this.byteOffset = byteOffset;
    this.byteLength = byteLength;
    this.readOnly = readOnly;
  }

  /**
   * A descriptor of a contiguous guest-physical range.
   *
   * @param memory - guest memory
   * @param gpa - first byte
   * @param byteLength - bytes
   * @returns the descriptor
   * @throws MemoryAccessError when the range lies outside guest memory
   */
  static contiguous(memory: GuestMemory, gpa: number, byteLength: number): MemoryDescriptor {
    memory.check(gpa, byteLength);
    const first = Math.floor(gpa / PAGE_SIZE);
    const count = Math.ceil(((gpa % PAGE_SIZE) + byteLength) / PAGE_SIZE);
    return new MemoryDescriptor(
      memory,
      Array.from({ length: count }, (_, i) => first + i),
      gpa % PAGE_SIZE,
      byteLength,
    );
  }

  /**
   * Copies bytes of the buffer out, page by page.
   *
   * @param offset - byte offset in the buffer
   * @param dst - destination; its whole length is read
   * @throws RangeError when the span lies outside the buffer
   */
  read(offset: number, dst: Uint8Array): void {
    this.walk(offset, dst.length, (gpa, at, n) =>
      dst.set(this.memory.bytes.subarray(gpa, gpa + n), at),
    );
  }

  /**
   * Copies bytes into the buffer, page by page.
   *
   * @param offset - byte offset in the buffer
   * @param src - bytes to write
   * @throws RangeError when the span lies outside the buffer
   * @throws TypeError when the descriptor is read-only
   */
  write(offset: number, src: Uint8Array): void {
    if (this.readOnly) throw new TypeError('The buffer is mapped read-only');
    this.walk(offset, src.length, (gpa, at, n) =>
      this.memory.bytes.set(src.subarray(at, at + n), gpa),
    );
  }

  /**
   * A view of guest memory for `[offset, offset + length)` of the buffer
   * when those bytes lie on physically consecutive pages (no copy), else
   * null. Writes through the view are the caller's to refuse on a
   * read-only descriptor.
   *
   * @param offset - byte offset in the buffer
   * @param length - bytes
   * @returns the view, or null when the span crosses a page gap
   * @throws RangeError when the span lies outside the buffer
   */
  contiguousView(offset: number, length: number): Uint8Array | null {
    if (
      !Number.isInteger(offset) ||
      offset < 0 ||
      !Number.isInteger(length) ||
      length < 0 ||
      offset + length > this.byteLength
    ) {
      throw new RangeError(
        `Span ${offset}+${length} lies outside a buffer of ${this.byteLength} bytes`,
      );
    }
    const start = this.byteOffset + offset;
    const first = Math.floor(start / PAGE_SIZE);
    const last = Math.floor((start + Math.max(length, 1) - 1) / PAGE_SIZE);
    for (let p = first + 1; p <= last; p++)
      if (this.pfns[p] !== (this.pfns[p - 1] ?? -2) + 1) return null;
    const gpa = (this.pfns[first] ?? 0) * PAGE_SIZE + (start % PAGE_SIZE);
    return this.memory.bytes.subarray(gpa, gpa + length);
  }

  /**
   * The same pages seen read-only.
   *
   * @returns a read-only descriptor of the same buffer
   */
  asReadOnly(): MemoryDescriptor {
    return new MemoryDescriptor(this.memory, this.pfns, this.byteOffset, this.byteLength, true);
  }

  private walk(
    offset: number,
    length: number,
    step: (gpa: number, at: number, n: number) => void,
  ): void {
    if (!Number.isInteger(offset) || offset < 0 || offset + length > this.byteLength) {
      throw new RangeError(
        `Span ${offset}+${length} lies outside a buffer of ${this.byteLength} bytes`,
      );
    }
    let at = 0;
    let pos = this.byteOffset + offset;
    while (at < length) {
      const page = Math.floor(pos / PAGE_SIZE);
      const within = pos % PAGE_SIZE;
      // Coalesce physically consecutive pages into one copy.
      let last = page;
      while (
        (last + 1 - page) * PAGE_SIZE - within < length - at &&
        this.pfns[last + 1] === (this.pfns[last] ?? -2) + 1
      )
        last++;
      const n = Math.min(length - at, (last + 1 - page) * PAGE_SIZE - within);
      step((this.pfns[page] ?? 0) * PAGE_SIZE + within, at, n);
      at += n;
      pos += n;
    }
  }
}
