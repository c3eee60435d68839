/**
 * The synthetic NIC's wire formats (spec nvsp.md): NVSP message types,
 * versions and statuses (§2, §3), the RNDIS message types, statuses and
 * OIDs (§6), and encoders for the messages both sides build. Parsing of
 * hostile input lives with each side, which reads from a private copy.
 *
 * @module
 */

/**
 * The synthetic NIC's interface (class) GUID (spec nvsp.md §1.1).
 *
 * @example
 * ```ts
 * import { NIC_INTERFACE_TYPE } from 'vmbus-kmcl';
 * console.log(NIC_INTERFACE_TYPE); // f8615163-df3e-46c5-913f-f2d2f965ed0e
 * ```
 */
export const NIC_INTERFACE_TYPE = 'f8615163-df3e-46c5-913f-f2d2f965ed0e';

/**
 * NVSP message types (spec nvsp.md §2.2).
 *
 * @example
 * ```ts
 * import { NVSP_MSG } from 'vmbus-kmcl';
 * console.log(NVSP_MSG.SEND_RNDIS_PKT); // 107
 * ```
 */
export const NVSP_MSG = {
  INIT: 1,
  INIT_COMPLETE: 2,
  SEND_NDIS_VERSION: 100,
  SEND_RECV_BUF: 101,
  SEND_RECV_BUF_COMPLETE: 102,
  REVOKE_RECV_BUF: 103,
  SEND_SEND_BUF: 104,
  SEND_SEND_BUF_COMPLETE: 105,
  REVOKE_SEND_BUF: 106,
  SEND_RNDIS_PKT: 107,
  SEND_RNDIS_PKT_COMPLETE: 108,
  SEND_NDIS_CONFIG: 125,
  SEND_VF_ASSOCIATION: 128,
  SWITCH_DATA_PATH: 129,
  OID_QUERY_EX: 131,
  OID_QUERY_EX_COMPLETE: 132,
  SUBCHANNEL: 133,
  SEND_INDIRECTION_TABLE: 134,
} as const;

/**
 * NVSP protocol versions, `(major << 16) | minor` (spec nvsp.md §3.1).
 *
 * @example
 * ```ts
 * import { NVSP_VERSION } from 'vmbus-kmcl';
 * console.log(NVSP_VERSION.V61.toString(16)); // 60001
 * ```
 */
export const NVSP_VERSION = {
  V1: 0x0000_0002,
  V2: 0x0003_0002,
  V4: 0x0004_0000,
  V5: 0x0005_0000,
  V6: 0x0006_0000,
  V61: 0x0006_0001,
} as const;

/**
 * Every NVSP version, newest first: the order a guest tries them in (spec nvsp.md §3.2).
 *
 * @example
 * ```ts
 * import { NVSP_VERSIONS_NEWEST_FIRST } from 'vmbus-kmcl';
 * console.log(NVSP_VERSIONS_NEWEST_FIRST.length); // 6
 * ```
 */
export const NVSP_VERSIONS_NEWEST_FIRST: readonly number[] = [
  NVSP_VERSION.V61,
  NVSP_VERSION.V6,
  NVSP_VERSION.V5,
  NVSP_VERSION.V4,
  NVSP_VERSION.V2,
  NVSP_VERSION.V1,
];

/**
 * NVSP status values (spec nvsp.md §2.3).
 *
 * @example
 * ```ts
 * import { NVSP_STATUS } from 'vmbus-kmcl';
 * console.log(NVSP_STATUS.SUCCESS, NVSP_STATUS.FAILURE); // 1 2
 * ```
 */
export const NVSP_STATUS = {
  NONE: 0,
  SUCCESS: 1,
  FAILURE: 2,
  INVALID_RNDIS_PACKET: 5,
  BUSY: 6,
} as const;

/**
 * The section index that says "send buffer not used" (spec nvsp.md §2.4).
 *
 * @example
 * ```ts
 * import { NVSP_NO_SECTION } from 'vmbus-kmcl';
 * console.log(NVSP_NO_SECTION === 0xffffffff); // true
 * ```
 */
export const NVSP_NO_SECTION = 0xffff_ffff;

/**
 * NVSP message bytes a sender pads to: 32 before version 6.1, 40 from it
 * (spec nvsp.md §2.1, recommendation).
 *
 * @param version - the negotiated version (0 before negotiation)
 * @returns 32 or 40
 *
 * @example
 * ```ts
 * import { nvspMessageSize, NVSP_VERSION } from 'vmbus-kmcl';
 * console.log(nvspMessageSize(NVSP_VERSION.V5), nvspMessageSize(NVSP_VERSION.V61)); // 32 40
 * ```
 */
export function nvspMessageSize(version: number): number {
  return version >= NVSP_VERSION.V61 ? 40 : 32;
}

/**
 * Receive-buffer slot size for an MTU: 256 header bytes + frame + 36 unused
 * (spec nvsp.md §4.1 step 2); 1806 for 1514.
 *
 * @param mtu - Ethernet frame size without FCS
 * @returns bytes per slot
 *
 * @example
 * ```ts
 * import { receiveSlotSize } from 'vmbus-kmcl';
 * console.log(receiveSlotSize(1514)); // 1806
 * ```
 */
export function receiveSlotSize(mtu: number): number {
  return 256 + mtu + 36;
}

/**
 * Receive slots kept for RNDIS control responses and indications (spec nvsp.md §4.1 step 4).
 *
 * @example
 * ```ts
 * import { RECEIVE_CONTROL_SLOTS } from 'vmbus-kmcl';
 * console.log(RECEIVE_CONTROL_SLOTS); // 16
 * ```
 */
export const RECEIVE_CONTROL_SLOTS = 16;

/**
 * Send-buffer section size the host announces (spec nvsp.md §4.2).
 *
 * @example
 * ```ts
 * import { SEND_SECTION_SIZE } from 'vmbus-kmcl';
 * console.log(SEND_SECTION_SIZE); // 6144
 * ```
 */
export const SEND_SECTION_SIZE = 6144;

/**
 * Buffer ids a Linux guest uses (spec nvsp.md §4.3).
 *
 * @example
 * ```ts
 * import { NETVSC_RECEIVE_BUFFER_ID } from 'vmbus-kmcl';
 * console.log(NETVSC_RECEIVE_BUFFER_ID.toString(16)); // cafe
 * ```
 */
export const NETVSC_RECEIVE_BUFFER_ID = 0xcafe;

/**
 * The send buffer id a Linux guest uses (spec nvsp.md §4.3).
 *
 * @example
 * ```ts
 * import { NETVSC_SEND_BUFFER_ID } from 'vmbus-kmcl';
 * console.log(NETVSC_SEND_BUFFER_ID); // 0
 * ```
 */
export const NETVSC_SEND_BUFFER_ID = 0;

/**
 * RNDIS message types (spec nvsp.md §6.1).
 *
 * @example
 * ```ts
 * import { RNDIS_MSG } from 'vmbus-kmcl';
 * console.log(RNDIS_MSG.INITIALIZE_CMPLT.toString(16)); // 80000002
 * ```
 */
export const RNDIS_MSG = {
  PACKET: 0x0000_0001,
  INITIALIZE: 0x0000_0002,
  INITIALIZE_CMPLT: 0x8000_0002,
  HALT: 0x0000_0003,
  QUERY: 0x0000_0004,
  QUERY_CMPLT: 0x8000_0004,
  SET: 0x0000_0005,
  SET_CMPLT: 0x8000_0005,
  RESET: 0x0000_0006,
  RESET_CMPLT: 0x8000_0006,
  INDICATE_STATUS: 0x0000_0007,
  KEEPALIVE: 0x0000_0008,
  KEEPALIVE_CMPLT: 0x8000_0008,
} as const;

/**
 * RNDIS / NDIS status codes (spec nvsp.md §6.2).
 *
 * @example
 * ```ts
 * import { RNDIS_STATUS } from 'vmbus-kmcl';
 * console.log(RNDIS_STATUS.NOT_SUPPORTED.toString(16)); // c00000bb
 * ```
 */
export const RNDIS_STATUS = {
  SUCCESS: 0,
  FAILURE: 0xc000_0001,
  NOT_SUPPORTED: 0xc000_00bb,
  INVALID_DATA: 0xc001_0015,
  MEDIA_CONNECT: 0x4001_000b,
  MEDIA_DISCONNECT: 0x4001_000c,
  LINK_SPEED_CHANGE: 0x4001_0013,
} as const;

/**
 * The OIDs this device answers or sets (spec nvsp.md §6.5).
 *
 * @example
 * ```ts
 * import { OID } from 'vmbus-kmcl';
 * console.log(OID.PERMANENT_ADDRESS.toString(16)); // 1010101
 * ```
 */
export const OID = {
  GEN_SUPPORTED_LIST: 0x0001_0101,
  GEN_HARDWARE_STATUS: 0x0001_0102,
  GEN_MEDIA_SUPPORTED: 0x0001_0103,
  GEN_MEDIA_IN_USE: 0x0001_0104,
  GEN_MAXIMUM_FRAME_SIZE: 0x0001_0106,
  GEN_LINK_SPEED: 0x0001_0107,
  GEN_VENDOR_ID: 0x0001_010c,
  GEN_VENDOR_DESCRIPTION: 0x0001_010d,
  GEN_CURRENT_PACKET_FILTER: 0x0001_010e,
  GEN_MAXIMUM_TOTAL_SIZE: 0x0001_0111,
  GEN_MEDIA_CONNECT_STATUS: 0x0001_0114,
  GEN_NETWORK_LAYER_ADDRESSES: 0x0001_0118,
  GEN_RECEIVE_SCALE_CAPABILITIES: 0x0001_0203,
  GEN_RECEIVE_SCALE_PARAMETERS: 0x0001_0204,
  GEN_RNDIS_CONFIG_PARAMETER: 0x0001_021b,
  GEN_FRIENDLY_NAME: 0x0002_0216,
  PERMANENT_ADDRESS: 0x0101_0101,
  CURRENT_ADDRESS: 0x0101_0102,
  MULTICAST_LIST: 0x0101_0103,
  MAXIMUM_LIST_SIZE: 0x0101_0104,
  TCP_OFFLOAD_PARAMETERS: 0xfc01_020c,
  TCP_OFFLOAD_HARDWARE_CAPABILITIES: 0xfc01_020d,
} as const;

/**
 * Packet filter bits of OID_GEN_CURRENT_PACKET_FILTER (spec nvsp.md §6.5).
 *
 * @example
 * ```ts
 * import { PACKET_FILTER } from 'vmbus-kmcl';
 * console.log(PACKET_FILTER.DIRECTED | PACKET_FILTER.ALL_MULTICAST | PACKET_FILTER.BROADCAST); // 13
 * ```
 */
export const PACKET_FILTER = {
  DIRECTED: 0x1,
  MULTICAST: 0x2,
  ALL_MULTICAST: 0x4,
  BROADCAST: 0x8,
  PROMISCUOUS: 0x20,
} as const;

/**
 * Bytes of the RNDIS PACKET_MSG header before any PPI (spec nvsp.md §6.7).
 *
 * @example
 * ```ts
 * import { RNDIS_PACKET_HEADER } from 'vmbus-kmcl';
 * console.log(RNDIS_PACKET_HEADER); // 44
 * ```
 */
export const RNDIS_PACKET_HEADER = 44;

/**
 * Writes an NVSP message: the type and up to seven u32 fields after it,
 * zero-filling the rest of `dst`.
 *
 * @param dst - the message bytes (its whole length is written)
 * @param type - NVSP message type
 * @param fields - u32 values at offsets 4, 8, 12, ...
 * @returns `dst`
 *
 * @example
 * ```ts
 * import { encodeNvsp, NVSP_MSG, NVSP_VERSION } from 'vmbus-kmcl';
 * const m = encodeNvsp(new Uint8Array(40), NVSP_MSG.INIT, NVSP_VERSION.V61, NVSP_VERSION.V61);
 * console.log(m[0], m[6]); // 1 6
 * ```
 */
export function encodeNvsp(dst: Uint8Array, type: number, ...fields: number[]): Uint8Array {
  dst.fill(0);
  const view = new DataView(dst.buffer, dst.byteOffset, dst.byteLength);
  view.setUint32(0, type, true);
  for (let i = 0; i < fields.length; i++) view.setUint32(4 + 4 * i, fields[i]! >>> 0, true);
  return dst;
}

/**
 * {@link encodeNvsp} for the frame path: the type and three fields, the
 * rest of `dst` zeroed, nothing allocated.
 *
 * @param dst - the message bytes (at least 16; its whole length is written)
 * @param type - NVSP message type
 * @param a - u32 at offset 4
 * @param b - u32 at offset 8
 * @param c - u32 at offset 12
 * @param view - a DataView over exactly `dst`, kept by the caller so nothing is allocated
 *
 * @example
 * ```ts
 * import { encodeNvsp3, NVSP_MSG } from 'vmbus-kmcl';
 * const m = new Uint8Array(40);
 * encodeNvsp3(m, NVSP_MSG.SEND_RNDIS_PKT, 0, 3, 104);
 * console.log(m[0], m[8], m[12]); // 107 3 104
 * ```
 */
export function encodeNvsp3(
  dst: Uint8Array,
  type: number,
  a: number,
  b: number,
  c: number,
  view: DataView = new DataView(dst.buffer, dst.byteOffset, dst.byteLength),
): void {
  const o = 0;
  view.setUint32(o, type, true);
  view.setUint32(o + 4, a >>> 0, true);
  view.setUint32(o + 8, b >>> 0, true);
  view.setUint32(o + 12, c >>> 0, true);
  for (let p = 16; p + 4 <= dst.length; p += 4) view.setUint32(o + p, 0, true);
}

/**
 * Reads a little-endian u32 from bytes (the frame path's way to read a
 * message type without a DataView per packet).
 *
 * @param bytes - the bytes
 * @param offset - where the u32 starts; the caller checked it is inside
 * @returns the value
 *
 * @example
 * ```ts
 * import { readU32 } from 'vmbus-kmcl';
 * console.log(readU32(Uint8Array.of(0x6c, 0, 0, 0), 0)); // 108
 * ```
 */
export function readU32(bytes: Uint8Array, offset: number): number {
  return (
    (bytes[offset]! |
      (bytes[offset + 1]! << 8) |
      (bytes[offset + 2]! << 16) |
      (bytes[offset + 3]! << 24)) >>>
    0
  );
}

/**
 * Writes the 44-byte RNDIS PACKET_MSG header of a frame with no per-packet
 * info, tight layout (spec nvsp.md §6.7, §9 B1).
 *
 * @param dst - destination
 * @param offset - where the message starts
 * @param frameLength - frame bytes that follow the header
 * @param messageLength - msg_len (header + frame + any padding)
 * @param view - a DataView over exactly `dst`, kept by the caller so nothing is allocated
 *
 * @example
 * ```ts
 * import { writeRndisPacketHeader } from 'vmbus-kmcl';
 * const b = new Uint8Array(44);
 * writeRndisPacketHeader(b, 0, 60, 104);
 * console.log(b[4], b[8], b[12]); // 104 36 60
 * ```
 */
export function writeRndisPacketHeader(
  dst: Uint8Array,
  offset: number,
  frameLength: number,
  messageLength: number,
  view: DataView = new DataView(dst.buffer, dst.byteOffset, dst.byteLength),
): void {
  if (offset < 0 || offset + RNDIS_PACKET_HEADER > dst.length)
    throw new RangeError(`A PACKET_MSG header at ${offset} does not fit in ${dst.length} bytes`);
  const o = offset;
  view.setUint32(o, RNDIS_MSG.PACKET, true);
  view.setUint32(o + 4, messageLength, true);
  view.setUint32(o + 8, 36, true);
  view.setUint32(o + 12, frameLength, true);
  for (let p = 16; p < 28; p += 4) view.setUint32(o + p, 0, true);
  view.setUint32(o + 28, 36, true);
  for (let p = 32; p < 44; p += 4) view.setUint32(o + p, 0, true);
}

/**
 * Formats a MAC address as `aa:bb:cc:dd:ee:ff`.
 *
 * @param mac - six bytes (at `offset`)
 * @param offset - where they start
 * @returns the text
 *
 * @example
 * ```ts
 * import { formatMac } from 'vmbus-kmcl';
 * console.log(formatMac(Uint8Array.from([0, 0x15, 0x5d, 0, 0, 1]))); // 00:15:5d:00:00:01
 * ```
 */
export function formatMac(mac: Uint8Array, offset = 0): string {
  const parts: string[] = [];
  for (let i = 0; i < 6; i++) parts.push((mac[offset + i] ?? 0).toString(16).padStart(2, '0'));
  return parts.join(':');
}

/**
 * Parses `aa:bb:cc:dd:ee:ff` (or `-` separated).
 *
 * @param text - the address
 * @returns six bytes
 * @throws RangeError when it is not a MAC address
 *
 * @example
 * ```ts
 * import { parseMac } from 'vmbus-kmcl';
 * console.log(parseMac('00:15:5d:00:00:02')[5]); // 2
 * ```
 */
export function parseMac(text: string): Uint8Array {
  const parts = text.split(/[:-]/);
  if (parts.length !== 6 || parts.some((p) => !/^[0-9a-fA-F]{2}$/.test(p)))
    throw new RangeError(`${JSON.stringify(text)} is not a MAC address`);
  return Uint8Array.from(parts.map((p) => Number.parseInt(p, 16)));
}
