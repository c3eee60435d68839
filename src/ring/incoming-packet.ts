/**
 * One validated packet as an {@link IncomingRing} hands it out: a reusable
 * view whose fields are overwritten by the next read (spec vmbus-wire.md
 * §1.6, §2). Nothing here is re-read from the descriptor in shared memory
 * after validation (spec §4.3 item 7): the fields are private copies, and the
 * ranges of transfer-page and GPA-direct packets come from a private copy of
 * the extension header.
 *
 * The payload stays in the ring until the read is committed. Take it with
 * {@link IncomingPacket.copyPayload} (no allocation) or {@link
 * IncomingPacket.payload} (a view, or a copy when it wraps).
 *
 * @module
 */

import { PacketRanges } from '../protocol/packet-ranges.js';
import type { RingMemory } from './ring-memory.js';

/**
 * A packet read from a ring; valid until the next `read` of that ring.
 *
 * @example
 * ```ts
 * import { ControlPage, IncomingRing, OutgoingRing } from 'vmbus-kmcl/ring';
 * const sab = new SharedArrayBuffer(8192);
 * ControlPage.initialize(sab, 0);
 * const writer = new OutgoingRing(sab);
 * writer.write(6, 1, 7, new Uint8Array([1, 2, 3]));
 * writer.commitWrite();
 * const packet = new IncomingRing(sab).read(); // an IncomingPacket, reused for the next read
 * console.log(packet?.type, packet?.transactionIdLow); // 6 7
 * ```
 */
export class IncomingPacket {
  /** Data-area offset where the packet starts (the read index before it). */
  offset = 0;
  /** Packet type. */
  type = 0;
  /** Descriptor flags. */
  flags = 0;
  /** Payload offset in 8-byte units. */
  offset8 = 0;
  /** Packet length without trailer, in 8-byte units. */
  len8 = 0;
  /** Low 32 bits of the transaction id. */
  transactionIdLow = 0;
  /** High 32 bits of the transaction id. */
  transactionIdHigh = 0;
  /** Data-area offset of the payload's first byte. */
  payloadOffset = 0;
  /** Payload bytes, padding included: `(len8 - offset8) * 8`. */
  payloadLength = 0;
  /** Ranges of a transfer-page or GPA-direct packet (count 0 otherwise). */
  readonly ranges = new PacketRanges();

  private readonly memory: RingMemory;
  private scratch = new Uint8Array(0);

  /** @param memory - the ring the packet lives in */
  constructor(memory: RingMemory) {
    this.memory = memory;
  }

  /**
   * The transaction id as a number: exact up to 2^53 (use
   * {@link IncomingPacket.transactionIdBigInt} for any u64).
   */
  get transactionId(): number {
    return this.transactionIdHigh * 0x1_0000_0000 + this.transactionIdLow;
  }

  /**
   * The exact u64 transaction id (allocates a bigint).
   *
   * @returns the transaction id
   */
  transactionIdBigInt(): bigint {
    return (BigInt(this.transactionIdHigh) << 32n) | BigInt(this.transactionIdLow);
  }

  /** Whether the sender asked for a completion packet. */
  get completionRequested(): boolean {
    // A literal (PACKET_FLAG_COMPLETION_REQUESTED): this runs per packet, and
    // V8 loads and checks a module binding at each use (docs/performance.md).
    return (this.flags & 1) !== 0;
  }

  /**
   * Copies the payload (padding included) into `dst`. Allocates nothing for
   * payloads up to 128 bytes.
   *
   * @param dst - destination
   * @param dstOffset - offset in `dst`
   * @param max - copy at most this many bytes
   * @returns bytes copied
   * @throws RangeError when `dst` is too small for what is copied
   */
  copyPayload(dst: Uint8Array, dstOffset = 0, max = this.payloadLength): number {
    const n = Math.min(max, this.payloadLength);
    if (dstOffset < 0 || dstOffset + n > dst.length) throw doesNotFit(n, dst, dstOffset);
    this.memory.copyOut(this.payloadOffset, n, dst, dstOffset);
    return n;
  }

  /**
   * The payload (padding included): a view into the ring when contiguous, or
   * a copy in a reused private buffer when it wraps. Valid until the next
   * read; allocates one view object.
   *
   * @returns the payload bytes
   */
  payload(): Uint8Array {
    const { payloadOffset: pos, payloadLength: n } = this;
    if (pos + n <= this.memory.dataSize) return this.memory.bytes.subarray(pos, pos + n);
    if (this.scratch.length < n) this.scratch = new Uint8Array(n);
    this.memory.copyOut(pos, n, this.scratch, 0);
    return this.scratch.subarray(0, n);
  }
}

/** The error of a `copyPayload` into too small a destination (built off the per-packet path). */
function doesNotFit(n: number, dst: Uint8Array, dstOffset: number): RangeError {
  return new RangeError(
    `Payload of ${n} bytes does not fit at offset ${dstOffset} of ${dst.length}`,
  );
}
