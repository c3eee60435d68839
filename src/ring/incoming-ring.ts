/**
 * The reader of one ring (spec vmbus-wire.md §1.4, §1.6-1.8, §4.3).
 *
 * Reading is two-phase. {@link IncomingRing.read} validates the next packet
 * and hands out a view of it, moving a private read position; the writer
 * cannot reuse the space yet. {@link IncomingRing.commitRead} publishes the
 * read index once for the whole batch and says whether the writer must be
 * signalled (pending-send-size rule, §1.8).
 *
 * Everything the writer controls is untrusted. For each packet the reader
 * snapshots the write index once and checks, in order (spec §4.3):
 *
 * 1. the write index is below the data size and a multiple of 8 (item 1);
 *    the read index is private, and was checked the same way on first use;
 * 2. at least 24 bytes are available (descriptor and trailer, item 3);
 * 3. `offset8 >= 2`, `len8 >= offset8`, known type and flags (items 4, 5);
 * 4. the packet and then its trailer end at or before the write index (item 4);
 * 5. transfer-page and GPA-direct headers fit in `offset8` and their ranges
 *    are non-empty, do not overflow and have every PFN they need (item 6),
 *    parsed from a private copy (item 7).
 *
 * A failed check throws {@link RingCorruptError}; the private read position
 * stays at the damaged packet, so the committed read index can never pass
 * the last good packet, and every later `read` throws the same error. Every
 * loop is bounded by the bytes available, so no input makes it hang, and
 * every access is inside the data area.
 *
 * Interrupt mask protocol (§1.8): call {@link IncomingRing.maskInterrupts}
 * before draining; when `read` returns null, call {@link
 * IncomingRing.unmaskInterrupts}, which re-checks for data that raced in.
 *
 * @module
 */

import {
  checkDescriptor,
  DESCRIPTOR_SIZE,
  type DescriptorViolation,
  describeDescriptorViolation,
  PACKET_TYPE_GPA_DIRECT,
} from '../protocol/packet-descriptor.js';
import { IncomingPacket } from './incoming-packet.js';
import { RingCorruptError, type RingErrorCode } from './ring-error.js';
import { RingMemory } from './ring-memory.js';

/**
 * Single-consumer reader over one ring's memory.
 *
 * @example
 * ```ts
 * import { ControlPage, IncomingRing, OutgoingRing } from 'vmbus-kmcl/ring';
 * const sab = new SharedArrayBuffer(8192);
 * ControlPage.initialize(sab, 0);
 * const writer = new OutgoingRing(sab);
 * writer.write(6, 0, 1, new TextEncoder().encode('hi'));
 * writer.commitWrite();
 * const reader = new IncomingRing(sab);
 * for (let p = reader.read(); p !== null; p = reader.read()) {
 *   console.log(p.type, p.payloadLength); // 6 8
 * }
 * reader.commitRead();
 * ```
 */
export class IncomingRing {
  /** The ring's memory and control page. */
  readonly memory: RingMemory;
  /** Bytes in the data area. */
  readonly dataSize: number;
  /** Packets read. */
  packetsRead = 0;
  /** Bytes consumed before the last commit (see `bytesRead`). */
  private bytesBefore = 0;
  /** Payload bytes of the packets read (what follows each descriptor and extension header). */
  payloadBytesRead = 0;

  private committed: number;
  private head: number;
  /** The last validated snapshot of the write index (spec §4.3 item 1). */
  private writeCache: number;
  private masked: boolean;
  private failure: RingCorruptError | null = null;
  private readonly packet: IncomingPacket;
  private ext = new Uint8Array(64);
  private extWords = new Uint32Array(this.ext.buffer);

  /**
   * @param buffer - memory holding the ring
   * @param byteOffset - where its control page starts
   * @param byteLength - control page plus data area
   * @throws RangeError when the region is not a valid ring (see {@link RingMemory})
   */
  constructor(buffer: ArrayBufferLike, byteOffset = 0, byteLength?: number) {
    this.memory = new RingMemory(buffer, byteOffset, byteLength ?? buffer.byteLength - byteOffset);
    this.dataSize = this.memory.dataSize;
    const r = this.memory.control.readIndex;
    this.committed = r;
    this.head = r;
    this.writeCache = r;
    this.masked = this.memory.control.interruptMask !== 0;
    this.packet = new IncomingPacket(this.memory);
    if (r >= this.dataSize || r % 8 !== 0) {
      this.failure = new RingCorruptError(
        'VMBUS_RING_BAD_READ_INDEX',
        `Read index ${r} is not a multiple of 8 below the data size ${this.dataSize}`,
        r,
      );
    }
  }

  /** The read index as published to the writer. */
  get readIndex(): number {
    return this.committed;
  }

  /** Whether this reader has the interrupt mask set. */
  get interruptsMasked(): boolean {
    return this.masked;
  }

  /** The private read position: after the last packet handed out. */
  get position(): number {
    return this.head;
  }

  /**
   * Bytes consumed, descriptors, padding and trailers included. Kept per
   * commit rather than per packet: the bytes of the packets read since the
   * last commit are the distance from the committed index to the position.
   */
  get bytesRead(): number {
    return this.bytesBefore + this.uncommittedBytes;
  }

  /** Bytes read but not yet committed (given back to the writer). */
  get uncommittedBytes(): number {
    return this.usedFrom(this.committed, this.head);
  }

  /**
   * About how many packets are known to wait: the bytes from the private
   * position to the last validated write-index snapshot, in packets the
   * size of the last one read. Reads no shared memory, so the writer may
   * have added more; for a reader sizing its work (a KMCL pump sizes its
   * publishing batches by it).
   */
  get backlog(): number {
    return Math.floor(this.usedFrom(this.head, this.writeCache) / (this.packet.len8 * 8 + 8));
  }

  /** The damage found, if any: once set, every `read` throws it. */
  get error(): RingCorruptError | null {
    return this.failure;
  }

  /**
   * Bytes available to read from the private position, from one snapshot of
   * the write index.
   *
   * @returns bytes available
   * @throws RingCorruptError when the write index is invalid
   */
  available(): number {
    if (this.failure !== null) throw this.failure;
    const w = this.loadWriteIndex();
    const d = w - this.head;
    return d < 0 ? d + this.dataSize : d;
  }

  /**
   * Validates the next packet and returns a view of it, or null when the
   * ring is empty. The view is reused by the next call. Allocates nothing
   * once the private header buffer has grown to the largest packet seen.
   *
   * @returns the packet, or null when empty
   * @throws RingCorruptError when the writer's data breaks a rule; the
   *   position stays at the damaged packet
   */
  read(): IncomingPacket | null {
    if (this.failure !== null) throw this.failure;
    const size = this.dataSize;
    const head = this.head;
    // Use the last snapshot while it shows data; load a new one (one atomic
    // load, validated) only when everything it showed has been read.
    let w = this.writeCache;
    if (w === head) {
      w = this.loadWriteIndex();
      if (w === head) return null;
    }
    const avail = w > head ? w - head : w - head + size;
    // The per-packet path names protocol sizes and types by literal (each
    // commented): V8 11's optimized code loads and checks a module binding
    // at every use (docs/performance.md, "Literals on the per-packet path").
    if (avail < 24 /* a descriptor and a trailer */) return this.failShort(avail);
    const mem = this.memory;
    const words = mem.words;
    // One snapshot of the descriptor; its first u64 never wraps.
    const w0 = words[head >>> 2]!;
    const w1 = words[(head >>> 2) + 1]!;
    const type = w0 & 0xffff;
    const offset8 = w0 >>> 16;
    const len8 = w1 & 0xffff;
    const flags = w1 >>> 16;
    const violation = checkDescriptor(type, flags, offset8, len8);
    const length = len8 * 8;
    if (violation !== null || length + 8 /* TRAILER_SIZE */ > avail)
      return this.failDescriptor(violation, type, flags, offset8, len8, avail);
    let t = head + 8;
    if (t === size) t = 0;
    const packet = this.packet;
    packet.transactionIdLow = words[t >>> 2]!;
    packet.transactionIdHigh = words[(t >>> 2) + 1]!;
    packet.ranges.count = 0;
    if (type === 9 /* GPA_DIRECT */ || type === 7 /* TRANSFER_PAGES */)
      this.readRanges(type, head, offset8 * 8 - 16 /* DESCRIPTOR_SIZE */);
    packet.offset = head;
    packet.type = type;
    packet.flags = flags;
    packet.offset8 = offset8;
    packet.len8 = len8;
    packet.payloadOffset = mem.advance(head, offset8 * 8);
    const payloadLength = length - offset8 * 8;
    packet.payloadLength = payloadLength;
    this.head = mem.advance(head, length + 8 /* TRAILER_SIZE */);
    this.packetsRead++;
    this.payloadBytesRead += payloadLength;
    return packet;
  }

  /**
   * Publishes the private read position as the read index (after every
   * packet byte was read: the store is sequentially consistent), then
   * applies the pending-send-size rule: signal the writer only when the free
   * space crossed its request during this batch, `before <= P < after`
   * (§1.8). `P` is rounded down to 8 as openvmm does; the feature bit is not
   * required, so a writer that waits without advertising is still woken.
   *
   * @returns true when the writer must be signalled
   */
  commitRead(): boolean {
    if (this.head === this.committed) return false;
    const before = this.committed;
    const control = this.memory.control;
    control.readIndex = this.head;
    this.bytesBefore += this.uncommittedBytes;
    this.committed = this.head;
    const pending = control.pendingSendSize & ~7;
    if (pending === 0) return false;
    return this.crossedPending(before, pending);
  }

  /**
   * Whether this commit moved the free space across the writer's pending
   * send size (`commitRead`'s rare case, a method of its own so that
   * `commitRead` stays small enough for V8 to inline cheaply).
   */
  private crossedPending(before: number, pending: number): boolean {
    const control = this.memory.control;
    const w = control.writeIndex;
    if (w >= this.dataSize || w % 8 !== 0) return false;
    const freeBefore = this.dataSize - this.usedFrom(before, w);
    const freeAfter = this.dataSize - this.usedFrom(this.head, w);
    return freeBefore <= pending && pending < freeAfter;
  }

  /**
   * Sets the interrupt mask: the writer will not signal while this side
   * drains. Checks that nobody changed the mask behind this reader's back
   * (spec §4.3 item 9).
   *
   * @throws RingCorruptError when the mask was set by someone else
   */
  maskInterrupts(): void {
    // Already masked by this reader (a parked reader keeps it set): no store.
    if (this.masked) return;
    const control = this.memory.control;
    if (control.interruptMask !== 0) {
      this.fail(
        'VMBUS_RING_MASK_CHANGED',
        'The interrupt mask was set by someone other than the reader',
      );
    }
    control.interruptMask = 1;
    this.masked = true;
  }

  /**
   * Clears the interrupt mask, then re-reads the write index (the store and
   * load are sequentially consistent: the full barrier of §1.7), because the
   * writer may have added a packet while the mask was still set and so not
   * signalled.
   *
   * @returns true when data is available: drain again instead of sleeping
   * @throws RingCorruptError when the write index is invalid
   */
  unmaskInterrupts(): boolean {
    this.memory.control.interruptMask = 0;
    this.masked = false;
    return this.loadWriteIndex() !== this.head;
  }

  /**
   * Whether the write index differs from the private read position: a
   * cheap, unvalidated look for a poller (the read that follows validates).
   *
   * @returns true when the writer may have published packets
   */
  peerWrote(): boolean {
    return this.memory.control.writeIndex !== this.head;
  }

  private loadWriteIndex(): number {
    const w = this.memory.control.writeIndex;
    if (w >= this.dataSize || w % 8 !== 0) {
      this.fail(
        'VMBUS_RING_BAD_WRITE_INDEX',
        `Write index ${w} is not a multiple of 8 below the data size ${this.dataSize}`,
      );
    }
    this.writeCache = w;
    return w;
  }

  private usedFrom(r: number, w: number): number {
    const d = w - r;
    return d < 0 ? d + this.dataSize : d;
  }

  private privateHeader(length: number): Uint32Array {
    if (this.ext.length < length) {
      let cap = this.ext.length;
      while (cap < length) cap *= 2;
      this.ext = new Uint8Array(cap);
      this.extWords = new Uint32Array(this.ext.buffer);
    }
    return this.extWords;
  }

  /** Parses the extension header of a GPA-direct or transfer-page packet into the packet's ranges. */
  private readRanges(type: number, head: number, extLength: number): void {
    const mem = this.memory;
    const extWords = this.privateHeader(extLength);
    mem.copyOut(mem.advance(head, DESCRIPTOR_SIZE), extLength, this.ext, 0);
    const ranges = this.packet.ranges;
    const bad =
      type === PACKET_TYPE_GPA_DIRECT
        ? ranges.parseGpaDirect(extWords, extLength)
        : ranges.parseTransferPages(extWords, extLength);
    if (bad !== null) {
      const kind = type === PACKET_TYPE_GPA_DIRECT ? 'gpa-direct' : 'transfer-page';
      ranges.count = 0;
      this.fail(bad, ranges.describe(bad, kind, extLength));
    }
  }

  private failShort(avail: number): never {
    return this.fail(
      'VMBUS_RING_SHORT_DATA',
      `Only ${avail} bytes are available, fewer than a descriptor and trailer (24)`,
    );
  }

  /** A descriptor that breaks a rule, or a packet or trailer past the write index. */
  private failDescriptor(
    violation: DescriptorViolation | null,
    type: number,
    flags: number,
    offset8: number,
    len8: number,
    avail: number,
  ): never {
    if (violation !== null)
      return this.fail(
        violation,
        describeDescriptorViolation(violation, type, flags, offset8, len8),
      );
    const length = len8 * 8;
    if (length > avail)
      return this.fail(
        'VMBUS_RING_PACKET_PAST_WRITE_INDEX',
        `Packet of len8 ${len8} (${length} bytes) extends past the write index: ${avail} bytes are available`,
      );
    return this.fail(
      'VMBUS_RING_TRAILER_PAST_WRITE_INDEX',
      `Trailer of the packet of ${length} bytes lies past the write index: ${avail} bytes are available`,
    );
  }

  private fail(code: RingErrorCode, reason: string): never {
    this.failure = new RingCorruptError(code, reason, this.head);
    throw this.failure;
  }
}
