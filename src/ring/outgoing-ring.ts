/**
 * The writer of one ring (spec vmbus-wire.md §1.4, §1.5, §1.7, §1.8).
 *
 * Writing is two-phase. {@link OutgoingRing.write} reserves space after the
 * last uncommitted packet and copies descriptor, extension header, payload,
 * zero padding and trailer there; the peer cannot see it yet. {@link
 * OutgoingRing.commitWrite} publishes every packet written since the last
 * commit with one store of the write index and says whether the reader must
 * be signalled, using the write index from before the batch:
 *
 * ```
 *  data area:  ... | committed packets | uncommitted packets | free ... |
 *                  ^ read index        ^ committed write      ^ tail
 * ```
 *
 * A write needs raw free space strictly greater than the packet plus its
 * trailer (§1.4), so the write index never catches up with the read index
 * and a full ring is never mistaken for an empty one.
 *
 * The writer keeps its own indices privately; the only peer-controlled
 * value it reads is the read index, validated each time (§4.3 item 1).
 *
 * @module
 */

import { DESCRIPTOR_SIZE, MAX_LEN8, TRAILER_SIZE } from '../protocol/packet-descriptor.js';
import { RingCorruptError } from './ring-error.js';
import { RingMemory } from './ring-memory.js';

const EMPTY = new Uint8Array(0);
const TWO_32 = 0x1_0000_0000;

/**
 * Single-producer writer over one ring's memory.
 *
 * @example
 * ```ts
 * import { OutgoingRing, IncomingRing, ControlPage } from 'vmbus-kmcl/ring';
 * const sab = new SharedArrayBuffer(4096 + 4096);
 * ControlPage.initialize(sab, 0);
 * const out = new OutgoingRing(sab);
 * out.write(6, 1, 42, new Uint8Array([1, 2, 3]));
 * const signal = out.commitWrite(); // true: the ring went from empty to non-empty
 * const packet = new IncomingRing(sab).read();
 * console.log(signal, packet?.transactionId); // true 42
 * ```
 */
export class OutgoingRing {
  /** The ring's memory and control page. */
  readonly memory: RingMemory;
  /** Bytes in the data area. */
  readonly dataSize: number;
  /**
   * The largest packet (descriptor, headers, payload and padding, without the
   * trailer) that fits an empty ring of this size: `dataSize - 16`, at most
   * the 524 280 bytes `len8` can describe.
   */
  readonly maxPacketLength: number;
  /** Set by a {@link OutgoingRing.write} that returned false: bytes the packet needs (with trailer). */
  bytesNeeded = 0;
  /** Packets written (committed or not). */
  packetsWritten = 0;
  /** Bytes written before the last commit or abort (see `bytesWritten`). */
  private bytesBefore = 0;
  /** Payload bytes written (what follows each packet's descriptor and extension header). */
  payloadBytesWritten = 0;
  /** Writes refused because the ring was full. */
  fullCount = 0;
  /** The high-water mark as of the last read-index reload (see `highWater`). */
  private peak = 0;

  private committed: number;
  private tail: number;
  private readCache: number;
  private pendingArmed = false;
  /** The `bytesWritten` count up to which {@link OutgoingRing.claimAhead} claimed lines. */
  private claimedTo = 0;

  /**
   * @param buffer - memory holding the ring
   * @param byteOffset - where its control page starts
   * @param byteLength - control page plus data area
   * @throws RangeError when the region is not a valid ring (see {@link RingMemory})
   * @throws RingCorruptError when the control page's write or read index is invalid
   */
  constructor(buffer: ArrayBufferLike, byteOffset = 0, byteLength?: number) {
    this.memory = new RingMemory(buffer, byteOffset, byteLength ?? buffer.byteLength - byteOffset);
    this.dataSize = this.memory.dataSize;
    this.maxPacketLength = Math.min(this.dataSize - 2 * TRAILER_SIZE, MAX_LEN8 * 8);
    const w = this.memory.control.writeIndex;
    if (w >= this.dataSize || w % 8 !== 0) {
      throw new RingCorruptError(
        'VMBUS_RING_BAD_WRITE_INDEX',
        `Write index ${w} is not a multiple of 8 below the data size ${this.dataSize}`,
        w,
      );
    }
    this.committed = w;
    this.tail = w;
    this.readCache = this.validRead(this.memory.control.readIndex);
  }

  /** The write index as published to the reader. */
  get writeIndex(): number {
    return this.committed;
  }

  /**
   * Bytes written (committed or not), with descriptors, padding and
   * trailers. Kept per commit rather than per packet: the bytes of the
   * packets since the last commit are the distance from the committed
   * index to the tail.
   */
  get bytesWritten(): number {
    return this.bytesBefore + this.uncommittedBytes;
  }

  /**
   * Highest number of used bytes seen just after a write. Between two
   * reloads of the read index the bytes in use only grow with each write,
   * so the mark is taken at each reload, not per packet.
   */
  get highWater(): number {
    return Math.max(this.peak, this.usedBytes);
  }

  /** Records the high-water mark before the cached read index changes. */
  private notePeak(): void {
    const used = this.usedBytes;
    if (used > this.peak) this.peak = used;
  }

  /** Bytes written but not yet committed. */
  get uncommittedBytes(): number {
    const d = this.tail - this.committed;
    return d < 0 ? d + this.dataSize : d;
  }

  /**
   * Bytes in use, from the last read index seen to the tail (may be stale:
   * the reader can have freed more since).
   */
  get usedBytes(): number {
    const d = this.tail - this.readCache;
    return d < 0 ? d + this.dataSize : d;
  }

  /**
   * The padded length of a packet (without trailer) for these sizes.
   *
   * @param extLength - extension header bytes (multiple of 8)
   * @param payloadLength - payload bytes
   * @returns `round_up(16 + extLength + payloadLength, 8)`
   */
  static packetLength(extLength: number, payloadLength: number): number {
    return (DESCRIPTOR_SIZE + extLength + payloadLength + 7) & ~7;
  }

  /**
   * Reserves space and copies one packet in, uncommitted. Allocates nothing
   * when `transactionId` is a number (a bigint id is split with bigint math).
   *
   * @param type - packet type (the writer does not judge it: a tool may craft any)
   * @param flags - descriptor flags
   * @param transactionId - u64 id: a safe integer number or a bigint
   * @param payload - payload bytes (padded with zeros to 8)
   * @param ext - extension header (transfer-page or GPA-direct), a multiple of 8 bytes
   * @returns true when written; false when the ring is full now, with
   *   {@link OutgoingRing.bytesNeeded} set
   * @throws RangeError when the packet can never fit this ring or a field is out of range
   * @throws RingCorruptError when the peer's read index is invalid
   */
  write(
    type: number,
    flags: number,
    transactionId: number | bigint,
    payload: Uint8Array,
    ext: Uint8Array = EMPTY,
  ): boolean {
    let lo: number;
    let hi: number;
    if (typeof transactionId === 'number') {
      if (!(transactionId >= 0 && transactionId <= Number.MAX_SAFE_INTEGER)) {
        throw new RangeError(`Transaction id ${transactionId} is not a safe non-negative integer`);
      }
      lo = transactionId >>> 0;
      hi = Math.floor(transactionId / TWO_32);
    } else {
      if (transactionId < 0n || transactionId > 0xffff_ffff_ffff_ffffn) {
        throw new RangeError(`Transaction id ${transactionId} does not fit in a u64`);
      }
      lo = Number(transactionId & 0xffff_ffffn);
      hi = Number(transactionId >> 32n);
    }
    return this.writePacket(type, flags, lo, hi, payload, ext);
  }

  /**
   * {@link OutgoingRing.write} with the transaction id as two u32 halves:
   * the allocation-free form for any u64 id.
   *
   * @param type - packet type (the writer does not judge it: a tool may craft any)
   * @param flags - descriptor flags
   * @param idLow - low 32 bits of the transaction id
   * @param idHigh - high 32 bits of the transaction id
   * @param payload - payload bytes (padded with zeros to 8)
   * @param ext - extension header, a multiple of 8 bytes
   * @returns true when written; false when the ring is full now, with
   *   {@link OutgoingRing.bytesNeeded} set
   * @throws RangeError when the packet can never fit this ring or a field is out of range
   * @throws RingCorruptError when the peer's read index is invalid
   */
  writePacket(
    type: number,
    flags: number,
    idLow: number,
    idHigh: number,
    payload: Uint8Array,
    ext: Uint8Array = EMPTY,
  ): boolean {
    // Sizes by literal (each commented) on the per-packet path: V8 11's
    // optimized code loads and checks a module binding at every use
    // (docs/performance.md, "Literals on the per-packet path").
    const extLength = ext.length;
    const body = 16 /* DESCRIPTOR_SIZE */ + extLength + payload.length;
    const length = (body + 7) & ~7;
    const total = length + 8 /* TRAILER_SIZE */;
    if (
      (extLength & 7) !== 0 ||
      length > this.maxPacketLength ||
      (type & 0xffff) !== type ||
      (flags & 0xffff) !== flags
    )
      throw this.refusal(type, flags, extLength, length);
    const lo = idLow >>> 0;
    const hi = idHigh >>> 0;
    const size = this.dataSize;
    const w = this.tail;
    if (!this.hasRoom(w, total) && this.isFull(w, total)) return false;

    const mem = this.memory;
    const words = mem.words;
    // Descriptor: its first u64 never wraps (8-aligned, dsize a multiple of 8).
    words[w >>> 2] = type | (((16 + extLength) >>> 3) << 16); // type, offset8
    words[(w >>> 2) + 1] = (length >>> 3) | (flags << 16); // len8, flags
    let p = w + 8;
    if (p === size) p = 0;
    words[p >>> 2] = lo;
    words[(p >>> 2) + 1] = hi;
    p += 8;
    if (p === size) p = 0;
    // One copyIn call site, so V8 inlines it once; extension headers (not
    // on every packet) and padding go through methods of their own.
    if (extLength !== 0) p = this.writeExtension(ext, p);
    if (payload.length !== 0) p = mem.copyIn(payload, 0, payload.length, p);
    if (length !== body) mem.zero(p, length - body);
    // Trailer: u64 with the packet's start offset in its high half (§1.5 step 5).
    const t = mem.advance(w, length);
    words[t >>> 2] = 0;
    words[(t >>> 2) + 1] = w;
    const next = t + 8 /* TRAILER_SIZE */;
    this.tail = next === size ? 0 : next;

    if (this.pendingArmed) {
      this.pendingArmed = false;
      mem.control.pendingSendSize = 0;
    }
    this.packetsWritten++;
    this.payloadBytesWritten += payload.length;
    return true;
  }

  /** Copies an extension header in after the descriptor (kept out of `writePacket`). */
  private writeExtension(ext: Uint8Array, p: number): number {
    return this.memory.copyIn(ext, 0, ext.length, p);
  }

  /**
   * The cached read index shows no room: reloads it (validated) and tells
   * whether the ring is still too full, setting `bytesNeeded` if so.
   */
  private isFull(w: number, total: number): boolean {
    this.notePeak();
    this.readCache = this.validRead(this.memory.control.readIndex);
    if (this.hasRoom(w, total)) return false;
    this.bytesNeeded = total;
    this.fullCount++;
    return true;
  }

  /** Why `writePacket` refuses a packet (kept off the per-packet path). */
  private refusal(type: number, flags: number, extLength: number, length: number): RangeError {
    if ((extLength & 7) !== 0)
      return new RangeError(`Extension header of ${extLength} bytes is not a multiple of 8`);
    if (length > this.maxPacketLength)
      return new RangeError(
        `Packet of ${length} bytes can never fit a ring whose largest packet is ${this.maxPacketLength} bytes`,
      );
    return new RangeError(`Packet type ${type} or flags ${flags} does not fit in a u16`);
  }

  /**
   * Publishes every packet written since the last commit (one store of the
   * write index, after all packet bytes: release order) and decides whether
   * to signal: only when the reader has interrupts unmasked and had read
   * everything up to the write index from before this batch (§1.8).
   *
   * @returns true when the reader must be signalled
   */
  commitWrite(): boolean {
    if (this.tail === this.committed) return false;
    const old = this.committed;
    const control = this.memory.control;
    control.writeIndex = this.tail;
    this.bytesBefore += this.uncommittedBytes;
    this.committed = this.tail;
    // The store above and the loads below are sequentially consistent: the
    // full barrier spec §1.7 requires between them.
    if (control.interruptMask !== 0) return false;
    const r = control.readIndex;
    if (r < this.dataSize && r % 8 === 0) {
      this.notePeak();
      this.readCache = r;
    }
    return r === old;
  }

  /**
   * Bytes after the tail that {@link OutgoingRing.claimAhead} has handled
   * and no packet has reached yet (at most the free space it saw).
   */
  get claimedAhead(): number {
    const d = this.claimedTo - this.bytesWritten;
    return Math.max(d, 0);
  }

  /**
   * A store prefetch: stores a zero word into each 64-byte cache line of
   * the next `bytes` of free space after the tail, so this core owns those
   * lines before packets are written into them. Free space is what the
   * reader gave back by the last read index seen (less the 8 bytes a
   * writer never fills, §1.4): the reader reads none of it (§1.6), so its
   * contents are the writer's. Lines claimed by an earlier call and not yet
   * written over are not claimed again, and while at least half of `bytes`
   * is still claimed ahead nothing is done, so a writer may call it at each
   * commit and claims in bursts.
   *
   * Why: a line the reader read on the previous lap is in the reader's
   * cache, and a writer's first store to it waits for the line to come
   * over; stores leave the core in order, so one such wait holds up the
   * stores behind it. Claiming a batch's lines ahead, in one burst, lets
   * those transfers overlap (docs/performance.md, "Claiming lines ahead").
   *
   * @param bytes - how far ahead of the tail to claim
   * @returns lines claimed by this call
   */
  claimAhead(bytes: number): number {
    const written = this.bytesWritten;
    if (this.claimedTo - written >= bytes / 2) return 0;
    const size = this.dataSize;
    const free = size - this.usedBytes - 8; // a writer leaves 8 bytes free (§1.4)
    const limit = written + Math.min(bytes, free) - 4;
    // Positions as `bytesWritten` counts: `at` is the next line start not claimed yet.
    let at = Math.max(this.claimedTo, written);
    let p = this.tail + (at - written);
    if (p >= size) p -= size;
    const skip = -p & 63;
    at += skip;
    p += skip;
    if (p >= size) p -= size;
    const words = this.memory.words;
    let lines = 0;
    for (; at <= limit; at += 64) {
      words[p >>> 2] = 0;
      lines++;
      p += 64;
      if (p >= size) p -= size;
    }
    // Handled up to the end of the range: a line starting in its last
    // four bytes is considered again by the next call.
    if (at > limit + 4) at = limit + 4;
    if (at > this.claimedTo) this.claimedTo = at;
    return lines;
  }

  /**
   * Drops every packet written since the last commit.
   */
  abortWrite(): void {
    this.notePeak();
    this.bytesBefore += this.uncommittedBytes;
    this.tail = this.committed;
  }

  /**
   * Asks the reader to signal once `bytes` are free (pending-send-size flow
   * control, §1.8), then re-checks the read index, since the reader may have
   * freed space before it could see the request (§1.7, last row).
   *
   * @param bytes - bytes needed, usually {@link OutgoingRing.bytesNeeded}
   * @returns true when the space is already free: retry the write now instead of waiting
   * @throws RangeError when `bytes` can never be free in this ring
   */
  requestSpace(bytes: number): boolean {
    if (!(bytes > 0 && bytes <= this.dataSize - TRAILER_SIZE)) {
      throw new RangeError(
        `Pending send size ${bytes} is not in 1..${this.dataSize - TRAILER_SIZE} for this ring`,
      );
    }
    const want = (bytes + 7) & ~7;
    const control = this.memory.control;
    control.pendingSendSize = want;
    this.pendingArmed = true;
    this.notePeak();
    this.readCache = this.validRead(control.readIndex);
    return this.hasRoom(this.tail, want);
  }

  /**
   * Whether a packet of `total` bytes (with trailer) fits after `w` with the
   * cached read index: raw free space must exceed it (§1.4).
   */
  private hasRoom(w: number, total: number): boolean {
    const d = w - this.readCache;
    const used = d < 0 ? d + this.dataSize : d;
    return this.dataSize - used > total;
  }

  private validRead(r: number): number {
    if (r >= this.dataSize || r % 8 !== 0) {
      throw new RingCorruptError(
        'VMBUS_RING_BAD_READ_INDEX',
        `Read index ${r} is not a multiple of 8 below the data size ${this.dataSize}`,
        this.tail,
      );
    }
    return r;
  }
}
