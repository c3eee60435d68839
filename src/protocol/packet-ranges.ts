/**
 * Extension headers of GPA-direct (type 9) and transfer-page (type 7)
 * packets: encoding from plain objects, and allocation-free validation of the
 * bytes a peer wrote (spec vmbus-wire.md §2.4, §2.5, §4.1, §4.3 item 6).
 *
 * GPA-direct extension header (bytes 16 .. offset8*8 of the packet):
 * ```
 *  16        20            24
 *  +---------+-------------+------------------------------------------+
 *  | reserved| range_count | range 0 | range 1 | ...                    |
 *  +---------+-------------+------------------------------------------+
 *  range: u32 byte_count, u32 byte_offset (< 4096), u64 pfn[n],
 *         n = ceil((byte_offset + byte_count) / 4096)
 * ```
 * Transfer-page extension header:
 * ```
 *  16       18      19    20            24
 *  +--------+-------+-----+-------------+----------------------------+
 *  | set id | owns  | rsvd| range_count | (u32 byte_count, u32 off)* |
 *  +--------+-------+-----+-------------+----------------------------+
 * ```
 *
 * @module
 */

/**
 * Bytes in one page frame, the unit of every PFN on the wire.
 *
 * @example
 * ```ts
 * import { PAGE_SIZE, gpaRangePfnCount } from 'vmbus-kmcl/protocol';
 * console.log(gpaRangePfnCount(0, 3 * PAGE_SIZE) === 3); // true
 * ```
 */
export const PAGE_SIZE = 4096;
/**
 * Most PFNs one GPA range may name (MSVM `GPA_RANGE_MAX_PFN_COUNT`, spec §4.1).
 *
 * @example
 * ```ts
 * import { GPA_RANGE_MAX_PFN_COUNT, gpaRangePfnCount } from 'vmbus-kmcl/protocol';
 * console.log(gpaRangePfnCount(0, 4096 * 16) <= GPA_RANGE_MAX_PFN_COUNT); // true
 * ```
 */
export const GPA_RANGE_MAX_PFN_COUNT = 0xfffff;

/**
 * One GPA range: a byte span of guest memory described by its pages.
 *
 * @example
 * ```ts
 * import { type GpaRange, gpaDirectHeaderLength } from 'vmbus-kmcl/protocol';
 * const range: GpaRange = { byteOffset: 100, byteCount: 5000, pfns: [0x20, 0x21] }; // crosses into a second page
 * console.log(gpaDirectHeaderLength([range])); // 32
 * ```
 */
export interface GpaRange {
  /** Bytes in the range; at least 1. */
  byteCount: number;
  /** Offset of the first byte in the first page, 0..4095. */
  byteOffset: number;
  /** Page frame numbers, exactly `ceil((byteOffset + byteCount) / 4096)` of them. */
  pfns: readonly (number | bigint)[];
}

/**
 * One transfer-page range: a byte span in a pre-registered transfer page set.
 *
 * @example
 * ```ts
 * import { type TransferPageRange, encodeTransferPageHeader } from 'vmbus-kmcl/protocol';
 * const frames: TransferPageRange[] = [{ byteOffset: 0, byteCount: 60 }, { byteOffset: 4096, byteCount: 1514 }];
 * console.log(encodeTransferPageHeader(0, frames, new Uint8Array(64), 0)); // 24
 * ```
 */
export interface TransferPageRange {
  /** Bytes in the range. */
  byteCount: number;
  /** Byte offset in the transfer page set. */
  byteOffset: number;
}

/**
 * How many PFNs a GPA range of this shape needs.
 *
 * @param byteOffset - offset in the first page
 * @param byteCount - bytes in the range
 * @returns `ceil((byteOffset + byteCount) / 4096)`
 *
 * @example
 * ```ts
 * import { gpaRangePfnCount } from 'vmbus-kmcl/protocol';
 * console.log(gpaRangePfnCount(4000, 200)); // 2: the range crosses a page boundary
 * ```
 */
export function gpaRangePfnCount(byteOffset: number, byteCount: number): number {
  return Math.ceil((byteOffset + byteCount) / PAGE_SIZE);
}

/**
 * Bytes of the GPA-direct extension header for these ranges (the 8-byte
 * reserved/count words plus every range), always a multiple of 8.
 *
 * @param ranges - the ranges
 * @returns header length in bytes
 *
 * @example
 * ```ts
 * import { gpaDirectHeaderLength } from 'vmbus-kmcl/protocol';
 * console.log(gpaDirectHeaderLength([{ byteOffset: 0, byteCount: 8192, pfns: [10, 11] }])); // 32
 * ```
 */
export function gpaDirectHeaderLength(ranges: readonly GpaRange[]): number {
  let n = 8;
  for (const r of ranges) n += 8 + 8 * r.pfns.length;
  return n;
}

/**
 * Encodes the GPA-direct extension header into `dst` at `offset`.
 *
 * @param ranges - at least one range, each well formed
 * @param dst - destination, with {@link gpaDirectHeaderLength} bytes free at `offset`
 * @param offset - byte offset in `dst`
 * @returns the number of bytes written
 * @throws RangeError when a range is empty, its offset is 4096 or more, or its
 *   PFN count does not match its span
 * @example
 * ```ts
 * import { encodeGpaDirectHeader, gpaDirectHeaderLength } from 'vmbus-kmcl/protocol';
 * const ranges = [{ byteCount: 8192, byteOffset: 0, pfns: [0x12345, 0x12346] }];
 * const dst = new Uint8Array(gpaDirectHeaderLength(ranges));
 * encodeGpaDirectHeader(ranges, dst, 0); // 32 bytes
 * ```
 */
export function encodeGpaDirectHeader(
  ranges: readonly GpaRange[],
  dst: Uint8Array,
  offset: number,
): number {
  if (ranges.length === 0) throw new RangeError('A GPA-direct packet needs at least one range');
  const view = new DataView(dst.buffer, dst.byteOffset, dst.byteLength);
  view.setUint32(offset, 0, true);
  view.setUint32(offset + 4, ranges.length, true);
  let p = offset + 8;
  for (const [i, r] of ranges.entries()) {
    checkU32(`range ${i} byteCount`, r.byteCount);
    if (r.byteCount === 0) throw new RangeError(`GPA range ${i} has a byte count of 0`);
    if (!Number.isInteger(r.byteOffset) || r.byteOffset < 0 || r.byteOffset >= PAGE_SIZE) {
      throw new RangeError(`GPA range ${i} byte offset ${r.byteOffset} is not in 0..4095`);
    }
    const want = gpaRangePfnCount(r.byteOffset, r.byteCount);
    if (r.pfns.length !== want) {
      throw new RangeError(`GPA range ${i} spans ${want} pages but names ${r.pfns.length} PFNs`);
    }
    view.setUint32(p, r.byteCount, true);
    view.setUint32(p + 4, r.byteOffset, true);
    p += 8;
    for (const pfn of r.pfns) {
      const big = BigInt(pfn);
      if (big < 0n || big > 0xffff_ffff_ffff_ffffn) {
        throw new RangeError(`PFN ${pfn} of GPA range ${i} does not fit in a u64`);
      }
      view.setBigUint64(p, big, true);
      p += 8;
    }
  }
  return p - offset;
}

/**
 * Bytes of the transfer-page extension header for `count` ranges.
 *
 * @param count - number of ranges
 * @returns `8 + 8 * count`
 *
 * @example
 * ```ts
 * import { transferPageHeaderLength } from 'vmbus-kmcl/protocol';
 * console.log(transferPageHeaderLength(2)); // 24
 * ```
 */
export function transferPageHeaderLength(count: number): number {
  return 8 + 8 * count;
}

/**
 * Encodes the transfer-page extension header into `dst` at `offset`.
 *
 * @param transferPageSetId - the set the ranges point into (netvsc uses 0xCAFE)
 * @param ranges - at least one range
 * @param dst - destination
 * @param offset - byte offset in `dst`
 * @param senderOwnsSet - the `sender_owns_set` byte
 * @returns the number of bytes written
 * @throws RangeError when there is no range or a field does not fit
 *
 * @example
 * ```ts
 * import { encodeTransferPageHeader } from 'vmbus-kmcl/protocol';
 * const dst = new Uint8Array(64);
 * const end = encodeTransferPageHeader(1, [{ byteOffset: 0, byteCount: 1514 }], dst, 0);
 * console.log(end); // 16: the header runs to byte 16
 * ```
 */
export function encodeTransferPageHeader(
  transferPageSetId: number,
  ranges: readonly TransferPageRange[],
  dst: Uint8Array,
  offset: number,
  senderOwnsSet = 0,
): number {
  if (ranges.length === 0) throw new RangeError('A transfer-page packet needs at least one range');
  if (!Number.isInteger(transferPageSetId) || transferPageSetId < 0 || transferPageSetId > 0xffff) {
    throw new RangeError(`Transfer page set id ${transferPageSetId} does not fit in a u16`);
  }
  const view = new DataView(dst.buffer, dst.byteOffset, dst.byteLength);
  view.setUint16(offset, transferPageSetId, true);
  view.setUint8(offset + 2, senderOwnsSet & 0xff);
  view.setUint8(offset + 3, 0);
  view.setUint32(offset + 4, ranges.length, true);
  let p = offset + 8;
  for (const [i, r] of ranges.entries()) {
    checkU32(`range ${i} byteCount`, r.byteCount);
    checkU32(`range ${i} byteOffset`, r.byteOffset);
    view.setUint32(p, r.byteCount, true);
    view.setUint32(p + 4, r.byteOffset, true);
    p += 8;
  }
  return p - offset;
}

/**
 * Identifiers of the extension-header checks (spec §4.3 item 6).
 *
 * @example
 * ```ts
 * import { PacketRanges, type RangeViolation } from 'vmbus-kmcl/protocol';
 * const violation: RangeViolation | null = new PacketRanges().parseTransferPages(new Uint32Array(4), 16);
 * console.log(violation); // VMBUS_PACKET_NO_RANGES
 * ```
 */
export type RangeViolation =
  | 'VMBUS_PACKET_NO_RANGES'
  | 'VMBUS_PACKET_RANGES_TRUNCATED'
  | 'VMBUS_PACKET_RANGE_EMPTY'
  | 'VMBUS_PACKET_RANGE_OFFSET'
  | 'VMBUS_PACKET_RANGE_OVERFLOW'
  | 'VMBUS_PACKET_RANGE_PFNS_MISSING';

/**
 * The validated ranges of one packet, decoded without allocating: the table's
 * arrays grow to the largest packet seen and are then reused. Values refer to
 * the private copy of the extension header the table was parsed from, never
 * to shared memory, so a peer cannot change them after validation.
 *
 * @example
 * ```ts
 * import { PacketRanges, encodeTransferPageHeader } from 'vmbus-kmcl/protocol';
 * const bytes = new Uint8Array(64);
 * encodeTransferPageHeader(1, [{ byteOffset: 4096, byteCount: 60 }], bytes, 0);
 * const ranges = new PacketRanges();
 * const violation = ranges.parseTransferPages(new Uint32Array(bytes.buffer), 24);
 * console.log(violation, ranges.count, ranges.byteOffset[0]); // null 1 4096
 * ```
 */
export class PacketRanges {
  /** Number of valid ranges. */
  count = 0;
  /** Transfer page set id (transfer-page packets only). */
  transferPageSetId = 0;
  /** The `sender_owns_set` byte (transfer-page packets only). */
  senderOwnsSet = 0;
  /** Byte count of range i. */
  byteCount = new Uint32Array(4);
  /** Byte offset of range i. */
  byteOffset = new Uint32Array(4);
  /** Index in {@link PacketRanges.words} of the first PFN's low word (GPA-direct only). */
  pfnStart = new Uint32Array(4);
  /** PFNs in range i (0 for transfer-page ranges). */
  pfnCount = new Uint32Array(4);
  /** The private header copy the PFNs live in, as 32-bit words. */
  words: Uint32Array = new Uint32Array(0);
  /** Where the failed check stopped: the range index. */
  failedRange = 0;
  /** Where the failed check stopped: a value to quote in the reason. */
  failedValue = 0;

  /**
   * PFN j of range i as a number: exact below 2^53; a larger (hostile) value
   * rounds but stays far beyond any guest memory, so bounds checks still fail.
   *
   * @param i - range index
   * @param j - PFN index within the range
   * @returns the PFN
   */
  pfn(i: number, j: number): number {
    const w = (this.pfnStart[i] ?? 0) + 2 * j;
    return (this.words[w + 1] ?? 0) * 0x1_0000_0000 + (this.words[w] ?? 0);
  }

  /**
   * PFN j of range i as an exact u64 (allocates a bigint).
   *
   * @param i - range index
   * @param j - PFN index within the range
   * @returns the PFN
   */
  pfnBigInt(i: number, j: number): bigint {
    const w = (this.pfnStart[i] ?? 0) + 2 * j;
    return (BigInt(this.words[w + 1] ?? 0) << 32n) | BigInt(this.words[w] ?? 0);
  }

  /**
   * Decodes the ranges into plain objects (allocates; for tools, not the hot path).
   *
   * @returns GPA ranges with bigint PFNs
   */
  toGpaRanges(): GpaRange[] {
    const out: GpaRange[] = [];
    for (let i = 0; i < this.count; i++) {
      const pfns: bigint[] = [];
      for (let j = 0; j < (this.pfnCount[i] ?? 0); j++) pfns.push(this.pfnBigInt(i, j));
      out.push({ byteCount: this.byteCount[i] ?? 0, byteOffset: this.byteOffset[i] ?? 0, pfns });
    }
    return out;
  }

  /**
   * Decodes transfer-page ranges into plain objects (allocates).
   *
   * @returns the ranges
   */
  toTransferPageRanges(): TransferPageRange[] {
    const out: TransferPageRange[] = [];
    for (let i = 0; i < this.count; i++) {
      out.push({ byteCount: this.byteCount[i] ?? 0, byteOffset: this.byteOffset[i] ?? 0 });
    }
    return out;
  }

  private reserve(n: number): void {
    if (n <= this.byteCount.length) return;
    let cap = this.byteCount.length;
    while (cap < n) cap *= 2;
    this.byteCount = new Uint32Array(cap);
    this.byteOffset = new Uint32Array(cap);
    this.pfnStart = new Uint32Array(cap);
    this.pfnCount = new Uint32Array(cap);
  }

  /**
   * Validates and records a GPA-direct extension header.
   *
   * @param words - the private copy of the packet from byte 16, as u32 words
   * @param length - bytes of extension header (`offset8 * 8 - 16`), at least 8
   * @returns null when valid, else the failed check (see `failedRange`, `failedValue`)
   */
  parseGpaDirect(words: Uint32Array, length: number): RangeViolation | null {
    this.words = words;
    this.count = 0;
    const count = words[1] ?? 0;
    if (count === 0) return 'VMBUS_PACKET_NO_RANGES';
    let p = 8;
    for (let i = 0; i < count; i++) {
      this.failedRange = i;
      if (p + 8 > length) {
        this.failedValue = count;
        return 'VMBUS_PACKET_RANGES_TRUNCATED';
      }
      const byteCount = words[p >>> 2] ?? 0;
      const byteOffset = words[(p >>> 2) + 1] ?? 0;
      if (byteCount === 0) return 'VMBUS_PACKET_RANGE_EMPTY';
      if (byteOffset >= PAGE_SIZE) {
        this.failedValue = byteOffset;
        return 'VMBUS_PACKET_RANGE_OFFSET';
      }
      const pfns = Math.ceil((byteOffset + byteCount) / PAGE_SIZE);
      if (pfns > GPA_RANGE_MAX_PFN_COUNT) {
        this.failedValue = pfns;
        return 'VMBUS_PACKET_RANGE_OVERFLOW';
      }
      if (p + 8 + 8 * pfns > length) {
        this.failedValue = pfns;
        return 'VMBUS_PACKET_RANGE_PFNS_MISSING';
      }
      this.reserve(i + 1);
      this.byteCount[i] = byteCount;
      this.byteOffset[i] = byteOffset;
      this.pfnStart[i] = (p + 8) >>> 2;
      this.pfnCount[i] = pfns;
      p += 8 + 8 * pfns;
    }
    this.count = count;
    return null;
  }

  /**
   * Validates and records a transfer-page extension header.
   *
   * @param words - the private copy of the packet from byte 16, as u32 words
   * @param length - bytes of extension header (`offset8 * 8 - 16`), at least 8
   * @returns null when valid, else the failed check
   */
  parseTransferPages(words: Uint32Array, length: number): RangeViolation | null {
    this.words = words;
    this.count = 0;
    const w0 = words[0] ?? 0;
    this.transferPageSetId = w0 & 0xffff;
    this.senderOwnsSet = (w0 >>> 16) & 0xff;
    const count = words[1] ?? 0;
    if (count === 0) return 'VMBUS_PACKET_NO_RANGES';
    if (8 + 8 * count > length) {
      this.failedValue = count;
      return 'VMBUS_PACKET_RANGES_TRUNCATED';
    }
    this.reserve(count);
    for (let i = 0; i < count; i++) {
      const byteCount = words[2 + 2 * i] ?? 0;
      const byteOffset = words[3 + 2 * i] ?? 0;
      this.failedRange = i;
      if (byteCount === 0) return 'VMBUS_PACKET_RANGE_EMPTY';
      if (byteOffset + byteCount > 0x1_0000_0000) {
        this.failedValue = byteOffset;
        return 'VMBUS_PACKET_RANGE_OVERFLOW';
      }
      this.byteCount[i] = byteCount;
      this.byteOffset[i] = byteOffset;
      this.pfnStart[i] = 0;
      this.pfnCount[i] = 0;
    }
    this.count = count;
    return null;
  }

  /**
   * A sentence explaining the last failed parse.
   *
   * @param code - the violation returned by a parse
   * @param kind - `gpa-direct` or `transfer-page`
   * @param length - extension header bytes available
   * @returns the reason text
   */
  describe(code: RangeViolation, kind: string, length: number): string {
    const i = this.failedRange;
    switch (code) {
      case 'VMBUS_PACKET_NO_RANGES':
        return `The ${kind} header has a range count of 0`;
      case 'VMBUS_PACKET_RANGES_TRUNCATED':
        return `The ${kind} header claims ${this.failedValue} ranges but range ${i} does not fit in the ${length} header bytes that offset8 allows`;
      case 'VMBUS_PACKET_RANGE_EMPTY':
        return `Range ${i} of the ${kind} header has a byte count of 0`;
      case 'VMBUS_PACKET_RANGE_OFFSET':
        return `Range ${i} of the ${kind} header has byte offset ${this.failedValue}, beyond the first page`;
      case 'VMBUS_PACKET_RANGE_OVERFLOW':
        return `Range ${i} of the ${kind} header overflows (${this.failedValue})`;
      case 'VMBUS_PACKET_RANGE_PFNS_MISSING':
        return `Range ${i} of the ${kind} header needs ${this.failedValue} PFNs, more than the ${length} header bytes that offset8 allows`;
    }
  }
}

function checkU32(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 0 || value > 0xffff_ffff) {
    throw new RangeError(`The ${name} ${value} does not fit in a u32`);
  }
}
