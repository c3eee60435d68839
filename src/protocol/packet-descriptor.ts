/**
 * The VMBus packet descriptor: the 16 bytes that open every packet in a ring,
 * and the packet types and flags it may carry (spec vmbus-wire.md §2.1-2.3).
 *
 * ```
 *  0      2         4       6       8                       16
 *  +------+---------+-------+-------+-----------------------+
 *  | type | offset8 | len8  | flags |    transaction id     |
 *  +------+---------+-------+-------+-----------------------+
 *   u16    u16       u16     u16     u64 (little-endian)
 * ```
 *
 * `offset8` is where the payload starts and `len8` the packet length without
 * its 8-byte trailer, both in units of 8 bytes. The four types accepted here
 * are the four every maintained implementation accepts (openvmm, DPDK): any
 * other type or flag bit is damage (spec §4.3 item 5).
 *
 * @module
 */

/**
 * In-band data: the payload follows the descriptor (spec §2.3).
 *
 * @example
 * ```ts
 * import { PACKET_TYPE_IN_BAND, isKnownPacketType } from 'vmbus-kmcl/protocol';
 * console.log(PACKET_TYPE_IN_BAND === 6, isKnownPacketType(PACKET_TYPE_IN_BAND)); // true true
 * ```
 */
export const PACKET_TYPE_IN_BAND = 6;
/**
 * Data in a transfer page set registered by the upper protocol (spec §2.5).
 *
 * @example
 * ```ts
 * import { PACKET_TYPE_TRANSFER_PAGES, isKnownPacketType } from 'vmbus-kmcl/protocol';
 * console.log(PACKET_TYPE_TRANSFER_PAGES === 7, isKnownPacketType(PACKET_TYPE_TRANSFER_PAGES)); // true true
 * ```
 */
export const PACKET_TYPE_TRANSFER_PAGES = 7;
/**
 * Data in guest pages named by GPA ranges (spec §2.4).
 *
 * @example
 * ```ts
 * import { PACKET_TYPE_GPA_DIRECT, isKnownPacketType } from 'vmbus-kmcl/protocol';
 * console.log(PACKET_TYPE_GPA_DIRECT === 9, isKnownPacketType(PACKET_TYPE_GPA_DIRECT)); // true true
 * ```
 */
export const PACKET_TYPE_GPA_DIRECT = 9;
/**
 * A completion answering a packet that asked for one (spec §2.3).
 *
 * @example
 * ```ts
 * import { PACKET_TYPE_COMPLETION, isKnownPacketType } from 'vmbus-kmcl/protocol';
 * console.log(PACKET_TYPE_COMPLETION === 11, isKnownPacketType(PACKET_TYPE_COMPLETION)); // true true
 * ```
 */
export const PACKET_TYPE_COMPLETION = 11;

/**
 * Flag bit 0: the sender wants a completion packet with the same transaction id.
 *
 * @example
 * ```ts
 * import { PACKET_FLAG_COMPLETION_REQUESTED, PACKET_TYPE_IN_BAND, checkDescriptor } from 'vmbus-kmcl/protocol';
 * console.log(checkDescriptor(PACKET_TYPE_IN_BAND, PACKET_FLAG_COMPLETION_REQUESTED, 2, 3) === null); // true
 * ```
 */
export const PACKET_FLAG_COMPLETION_REQUESTED = 1;
/**
 * Every flag bit this library knows; any other bit set is damage.
 *
 * @example
 * ```ts
 * import { PACKET_FLAGS_KNOWN, checkDescriptor } from 'vmbus-kmcl/protocol';
 * console.log(checkDescriptor(6, ~PACKET_FLAGS_KNOWN & 0xffff, 2, 3) === 'VMBUS_PACKET_BAD_FLAGS'); // true
 * ```
 */
export const PACKET_FLAGS_KNOWN = PACKET_FLAG_COMPLETION_REQUESTED;

/**
 * Size of the descriptor in bytes.
 *
 * @example
 * ```ts
 * import { DESCRIPTOR_SIZE, minimumOffset8 } from 'vmbus-kmcl/protocol';
 * console.log(minimumOffset8(6) * 8 === DESCRIPTOR_SIZE); // true
 * ```
 */
export const DESCRIPTOR_SIZE = 16;
/**
 * Size of the trailing "previous packet offset" word that follows every packet.
 *
 * @example
 * ```ts
 * import { DESCRIPTOR_SIZE, TRAILER_SIZE } from 'vmbus-kmcl/protocol';
 * const payload = 5;
 * const onRing = DESCRIPTOR_SIZE + Math.ceil(payload / 8) * 8 + TRAILER_SIZE;
 * console.log(onRing === 32); // true
 * ```
 */
export const TRAILER_SIZE = 8;
/**
 * Largest `len8` (u16), so the largest packet is 524 280 bytes without trailer.
 *
 * @example
 * ```ts
 * import { MAX_LEN8, checkDescriptor } from 'vmbus-kmcl/protocol';
 * console.log(checkDescriptor(6, 0, 2, MAX_LEN8) === null); // true: the largest length a descriptor can state
 * ```
 */
export const MAX_LEN8 = 0xffff;

const TYPE_NAMES: Readonly<Record<number, string>> = {
  0: 'invalid',
  1: 'synch',
  2: 'add-xfer-pageset',
  3: 'rm-xfer-pageset',
  4: 'establish-gpadl',
  5: 'teardown-gpadl',
  6: 'in-band',
  7: 'transfer-pages',
  8: 'data-using-gpadl',
  9: 'gpa-direct',
  10: 'cancel-request',
  11: 'completion',
  12: 'data-using-additional-packet',
  13: 'additional-data',
};

/**
 * The name of a packet type for people, including the types this library
 * refuses (they are named in dumps of damaged rings).
 *
 * @param type - the descriptor's type field
 * @returns a kebab-case name such as `in-band`, or `unknown-0x1234`
 * @example
 * ```ts
 * import { packetTypeName } from 'vmbus-kmcl/protocol';
 * packetTypeName(9); // 'gpa-direct'
 * ```
 */
export function packetTypeName(type: number): string {
  return TYPE_NAMES[type] ?? `unknown-0x${type.toString(16)}`;
}

/**
 * Whether `type` is one of the four packet types that travel in a ring.
 *
 * @param type - the descriptor's type field
 * @returns true for in-band, transfer-page, GPA-direct and completion
 *
 * @example
 * ```ts
 * import { isKnownPacketType } from 'vmbus-kmcl/protocol';
 * console.log(isKnownPacketType(6), isKnownPacketType(8)); // true false
 * ```
 */
export function isKnownPacketType(type: number): boolean {
  // Literals, not the constants above: this runs for every packet read,
  // and V8 loads and checks a module binding at each use (docs/performance.md,
  // "Literals on the per-packet path").
  return (
    type === 6 /* PACKET_TYPE_IN_BAND */ ||
    type === 7 /* PACKET_TYPE_TRANSFER_PAGES */ ||
    type === 9 /* PACKET_TYPE_GPA_DIRECT */ ||
    type === 11 /* PACKET_TYPE_COMPLETION */
  );
}

/**
 * The smallest `offset8` a packet of this type may have: 2 for in-band and
 * completion (the descriptor alone), 3 for transfer-page and GPA-direct
 * packets, which carry at least an 8-byte extension header.
 *
 * @param type - a known packet type
 * @returns the minimum `offset8`
 *
 * @example
 * ```ts
 * import { minimumOffset8 } from 'vmbus-kmcl/protocol';
 * console.log(minimumOffset8(6)); // 2: a 16-byte descriptor
 * ```
 */
export function minimumOffset8(type: number): number {
  return type === 7 /* TRANSFER_PAGES */ || type === 9 /* GPA_DIRECT */ ? 3 : 2;
}

/**
 * A descriptor decoded into plain values (the transaction id as a u64 bigint).
 *
 * @example
 * ```ts
 * import { type PacketDescriptor, decodeDescriptor } from 'vmbus-kmcl/protocol';
 * const bytes = Uint8Array.of(11, 0, 2, 0, 2, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0);
 * const d: PacketDescriptor = decodeDescriptor(new DataView(bytes.buffer), 0);
 * console.log(d.type, d.transactionId); // 11 5n
 * ```
 */
export interface PacketDescriptor {
  /** Packet type, such as {@link PACKET_TYPE_IN_BAND}. */
  type: number;
  /** Payload offset from the packet start, in 8-byte units. */
  offset8: number;
  /** Packet length without trailer, in 8-byte units. */
  len8: number;
  /** Flag bits, such as {@link PACKET_FLAG_COMPLETION_REQUESTED}. */
  flags: number;
  /** Opaque u64 transaction id. */
  transactionId: bigint;
}

/**
 * Writes a descriptor at `offset` of `view`.
 *
 * @param view - destination
 * @param offset - byte offset in `view`
 * @param d - the fields; each must fit its wire width
 * @throws RangeError when a field does not fit its width
 * @example
 * ```ts
 * import { encodeDescriptor, PACKET_TYPE_IN_BAND } from 'vmbus-kmcl/protocol';
 * const view = new DataView(new ArrayBuffer(16));
 * encodeDescriptor(view, 0, { type: PACKET_TYPE_IN_BAND, offset8: 2, len8: 3, flags: 1, transactionId: 7n });
 * ```
 */
export function encodeDescriptor(view: DataView, offset: number, d: PacketDescriptor): void {
  checkU16('type', d.type);
  checkU16('offset8', d.offset8);
  checkU16('len8', d.len8);
  checkU16('flags', d.flags);
  if (d.transactionId < 0n || d.transactionId > 0xffff_ffff_ffff_ffffn) {
    throw new RangeError(`Transaction id ${d.transactionId} does not fit in a u64`);
  }
  view.setUint16(offset, d.type, true);
  view.setUint16(offset + 2, d.offset8, true);
  view.setUint16(offset + 4, d.len8, true);
  view.setUint16(offset + 6, d.flags, true);
  view.setBigUint64(offset + 8, d.transactionId, true);
}

/**
 * Reads a descriptor at `offset` of `view`. No validation: pair it with
 * {@link checkDescriptor}.
 *
 * @param view - source holding at least 16 bytes from `offset`
 * @param offset - byte offset in `view`
 * @returns the decoded fields (allocates one object)
 *
 * @example
 * ```ts
 * import { decodeDescriptor } from 'vmbus-kmcl/protocol';
 * const bytes = Uint8Array.from([6, 0, 2, 0, 3, 0, 1, 0, 42, 0, 0, 0, 0, 0, 0, 0]);
 * const d = decodeDescriptor(new DataView(bytes.buffer), 0);
 * console.log(d.type, d.offset8, d.len8, d.flags); // 6 2 3 1
 * ```
 */
export function decodeDescriptor(view: DataView, offset: number): PacketDescriptor {
  return {
    type: view.getUint16(offset, true),
    offset8: view.getUint16(offset + 2, true),
    len8: view.getUint16(offset + 4, true),
    flags: view.getUint16(offset + 6, true),
    transactionId: view.getBigUint64(offset + 8, true),
  };
}

/**
 * Identifiers of the descriptor checks (spec §4.3 items 4-5).
 *
 * @example
 * ```ts
 * import { type DescriptorViolation, checkDescriptor } from 'vmbus-kmcl/protocol';
 * const violation: DescriptorViolation | null = checkDescriptor(6, 0, 1, 3);
 * console.log(violation); // VMBUS_PACKET_BAD_OFFSET8
 * ```
 */
export type DescriptorViolation =
  | 'VMBUS_PACKET_BAD_TYPE'
  | 'VMBUS_PACKET_BAD_FLAGS'
  | 'VMBUS_PACKET_BAD_OFFSET8'
  | 'VMBUS_PACKET_BAD_LEN8';

/**
 * Checks the descriptor fields a peer controls, in the order the reader
 * applies them: lengths first (a damaged length is the likelier fault and
 * says where the damage is), then type, then flags.
 *
 * Allocation-free: returns a constant string or null.
 *
 * @param type - descriptor type
 * @param flags - descriptor flags
 * @param offset8 - descriptor offset8
 * @param len8 - descriptor len8
 * @returns null when valid, else the identifier of the first failed check
 *
 * @example
 * ```ts
 * import { checkDescriptor } from 'vmbus-kmcl/protocol';
 * console.log(checkDescriptor(6, 1, 2, 3)); // null: acceptable
 * console.log(checkDescriptor(6, 1, 4, 3)); // VMBUS_PACKET_BAD_LEN8
 * ```
 */
export function checkDescriptor(
  type: number,
  flags: number,
  offset8: number,
  len8: number,
): DescriptorViolation | null {
  if (offset8 < 2) return 'VMBUS_PACKET_BAD_OFFSET8';
  if (len8 < offset8) return 'VMBUS_PACKET_BAD_LEN8';
  if (!isKnownPacketType(type)) return 'VMBUS_PACKET_BAD_TYPE';
  if ((flags & ~1) !== 0) return 'VMBUS_PACKET_BAD_FLAGS'; // outside PACKET_FLAGS_KNOWN
  if (offset8 < minimumOffset8(type)) return 'VMBUS_PACKET_BAD_OFFSET8';
  return null;
}

/**
 * A sentence explaining a {@link DescriptorViolation} with the values seen.
 *
 * @param code - the violation
 * @param type - descriptor type
 * @param flags - descriptor flags
 * @param offset8 - descriptor offset8
 * @param len8 - descriptor len8
 * @returns the reason text
 *
 * @example
 * ```ts
 * import { checkDescriptor, describeDescriptorViolation } from 'vmbus-kmcl/protocol';
 * const code = checkDescriptor(8, 0, 2, 3);
 * if (code) console.log(describeDescriptorViolation(code, 8, 0, 2, 3)); // names the unknown type
 * ```
 */
export function describeDescriptorViolation(
  code: DescriptorViolation,
  type: number,
  flags: number,
  offset8: number,
  len8: number,
): string {
  switch (code) {
    case 'VMBUS_PACKET_BAD_OFFSET8':
      return `Descriptor offset8 ${offset8} is below the minimum ${type === PACKET_TYPE_TRANSFER_PAGES || type === PACKET_TYPE_GPA_DIRECT ? 3 : 2} for a ${packetTypeName(type)} packet`;
    case 'VMBUS_PACKET_BAD_LEN8':
      return `Descriptor len8 ${len8} is below offset8 ${offset8}`;
    case 'VMBUS_PACKET_BAD_TYPE':
      return `Packet type ${type} (${packetTypeName(type)}) is not in-band, transfer-pages, gpa-direct or completion`;
    case 'VMBUS_PACKET_BAD_FLAGS':
      return `Packet flags 0x${flags.toString(16)} carry bits other than completion-requested (0x1)`;
  }
}

function checkU16(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 0 || value > 0xffff) {
    throw new RangeError(`Descriptor ${name} ${value} does not fit in a u16`);
  }
}
