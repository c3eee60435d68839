/**
 * Guest physical memory: one `SharedArrayBuffer` cut into 4 KiB pages,
 * addressed by page frame number (PFN) or guest physical address (GPA), every
 * access bounds-checked. Host and guest threads share the buffer; nothing
 * outside it is reachable through a PFN.
 *
 * @module
 */

import { VmbusError } from '../status/vmbus-error.js';

/** Bytes in a page: the unit of PFNs on the wire. */
export const PAGE_SIZE = 4096;

/**
 * An address or PFN outside guest memory.
 *
 * @example
 * ```ts
 * import { GuestMemory, MemoryAccessError } from 'vmbus-kmcl';
 * const memory = new GuestMemory(1);
 * try {
 *   memory.view(4000, 200); // past the last page
 * } catch (e) {
 *   console.log(e instanceof MemoryAccessError); // true
 * }
 * ```
 */
export class MemoryAccessError extends VmbusError {
  /**
   * @param reason - a sentence quoting the address and the memory size
   */
  constructor(reason: string) {
    super('VMBUS_MEMORY_OUT_OF_RANGE', reason);
    this.name = 'MemoryAccessError';
  }
}

/**
 * A guest partition's physical memory.
 *
 * @example
 * ```ts
 * import { GuestMemory } from 'vmbus-kmcl';
 * const memory = new GuestMemory(256); // 1 MiB
 * memory.write(0x2000, new Uint8Array([1, 2, 3]));
 * console.log(memory.view(0x2000, 3)); // Uint8Array(3) [ 1, 2, 3 ]
 * ```
 */
export class GuestMemory {
  /** The shared buffer (pass it to another thread to share the memory). */
  readonly buffer: SharedArrayBuffer;
  /** Every byte of guest memory. */
  readonly bytes: Uint8Array;
  /** Pages in guest memory. */
  readonly pageCount: number;

  /**
   * @param pagesOrBuffer - a page count for new memory, or the buffer of
   *   existing memory (from another thread), a whole number of pages
   * @throws RangeError when the size is not a positive whole number of pages
   */
  constructor(pagesOrBuffer: number | SharedArrayBuffer) {
    if (typeof pagesOrBuffer === 'number') {
      if (!Number.isInteger(pagesOrBuffer) || pagesOrBuffer < 1 || pagesOrBuffer > 0x100000) {
        throw new RangeError(`Guest memory of ${pagesOrBuffer} pages is not in 1..1048576`);
      }
      this.buffer = new SharedArrayBuffer(pagesOrBuffer * PAGE_SIZE);
    } else {
      if (pagesOrBuffer.byteLength === 0 || pagesOrBuffer.byteLength % PAGE_SIZE !== 0) {
        throw new RangeError(
          `Guest memory of ${pagesOrBuffer.byteLength} bytes is not a whole number of pages`,
        );
      }
      this.buffer = pagesOrBuffer;
    }
    this.bytes = new Uint8Array(this.buffer);
    this.pageCount = this.buffer.byteLength / PAGE_SIZE;
  }

  /** Bytes of guest memory. */
  get byteLength(): number {
    return this.buffer.byteLength;
  }

  /**
   * Whether `pfn` names a page of this memory.
   *
   * @param pfn - a page frame number (any number a peer sent)
   * @returns true when it is an integer below the page count
   */
  isValidPfn(pfn: number): boolean {
    return Number.isInteger(pfn) && pfn >= 0 && pfn < this.pageCount;
  }

  /**
   * Checks that `[gpa, gpa + length)` lies in guest memory.
   *
   * @param gpa - guest physical address
   * @param length - bytes
   * @throws MemoryAccessError when any byte lies outside
   */
  check(gpa: number, length: number): void {
    if (
      !(
        Number.isInteger(gpa) &&
        Number.isInteger(length) &&
        gpa >= 0 &&
        length >= 0 &&
        gpa + length <= this.byteLength
      )
    ) {
      throw new MemoryAccessError(
        `Guest range 0x${gpa.toString(16)}+${length} lies outside guest memory of ${this.byteLength} bytes`,
      );
    }
  }

  /**
   * A view of guest memory (allocates one view object).
   *
   * @param gpa - guest physical address
   * @param length - bytes
   * @returns the bytes, shared with the guest
   * @throws MemoryAccessError when the range lies outside guest memory
   */
  view(gpa: number, length: number): Uint8Array {
    this.check(gpa, length);
    return this.bytes.subarray(gpa, gpa + length);
  }

  /**
   * Copies guest memory into `dst`.
   *
   * @param gpa - guest physical address
   * @param dst - destination; its whole length is read
   * @throws MemoryAccessError when the range lies outside guest memory
   */
  read(gpa: number, dst: Uint8Array): void {
    this.check(gpa, dst.length);
    dst.set(this.bytes.subarray(gpa, gpa + dst.length));
  }

  /**
   * Copies `src` into guest memory.
   *
   * @param gpa - guest physical address
   * @param src - bytes to write
   * @throws MemoryAccessError when the range lies outside guest memory
   */
  write(gpa: number, src: Uint8Array): void {
    this.check(gpa, src.length);
    this.bytes.set(src, gpa);
  }
}
