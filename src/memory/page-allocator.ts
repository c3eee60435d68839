/**
 * A page allocator for guest memory: what the guest's kernel does when a
 * driver asks for ring or buffer pages. First fit; contiguous runs on
 * request (rings need them: see docs/bus.md).
 *
 * @module
 */

import type { GuestMemory } from './guest-memory.js';

/**
 * Allocates and frees pages of one guest memory.
 *
 * @example
 * ```ts
 * import { GuestMemory, PageAllocator } from 'vmbus-kmcl';
 * const pages = new PageAllocator(new GuestMemory(64));
 * const run = pages.allocate(4); // four contiguous PFNs
 * pages.free(run);
 * console.log(pages.allocatedPages); // 0
 * ```
 */
export class PageAllocator {
  /** The memory pages come from. */
  readonly memory: GuestMemory;
  private readonly used: Uint8Array;
  private allocated = 0;
  private hint = 0;

  /**
   * @param memory - the guest memory to manage
   * @param reserved - pages at the start never handed out (PFN 0 by default, as real firmware keeps it)
   */
  constructor(memory: GuestMemory, reserved = 1) {
    this.memory = memory;
    this.used = new Uint8Array(memory.pageCount);
    this.used.fill(1, 0, Math.min(reserved, memory.pageCount));
  }

  /** Pages handed out and not yet freed. */
  get allocatedPages(): number {
    return this.allocated;
  }

  /** Pages still free. */
  get freePages(): number {
    let n = 0;
    for (const u of this.used) if (u === 0) n++;
    return n;
  }

  /**
   * Allocates `count` contiguous pages and zeroes them.
   *
   * @param count - pages, at least 1
   * @param zero - zero the pages (default); a caller that overwrites them at once may skip it
   * @returns their PFNs, ascending and consecutive
   * @throws RangeError when no run of that many free pages exists
   */
  allocate(count: number, zero = true): number[] {
    if (!Number.isInteger(count) || count < 1)
      throw new RangeError(`Cannot allocate ${count} pages`);
    const total = this.used.length;
    for (let pass = 0; pass < 2; pass++) {
      let start = pass === 0 ? this.hint : 0;
      const end = pass === 0 ? total : Math.min(total, this.hint + count);
      while (start + count <= end) {
        let run = 0;
        while (run < count && this.used[start + run] === 0) run++;
        if (run === count) {
          this.used.fill(1, start, start + count);
          this.allocated += count;
          this.hint = start + count;
          if (zero) this.memory.bytes.fill(0, start * 4096, (start + count) * 4096);
          return Array.from({ length: count }, (_, i) => start + i);
        }
        start += run + 1;
      }
    }
    throw new RangeError(`No run of ${count} free pages in guest memory of ${total} pages`);
  }

  /**
   * Returns pages to the allocator.
   *
   * @param pfns - pages from {@link PageAllocator.allocate}
   * @throws RangeError when a page is not allocated (a double free)
   */
  free(pfns: readonly number[]): void {
    for (const pfn of pfns) {
      if (this.used[pfn] !== 1) throw new RangeError(`Page ${pfn} is not allocated`);
    }
    for (const pfn of pfns) this.used[pfn] = 0;
    this.allocated -= pfns.length;
    if (pfns.length > 0) this.hint = Math.min(this.hint, pfns[0] ?? 0);
  }
}
