/**
 * The Hyper-V synthetic storage protocol (VSTOR) on the wire (spec
 * vstor.md §2-§5): operation codes, versions, statuses, the 64-byte (48
 * before 5.1) VSTOR packet and the SRB inside it.
 *
 * ```
 *  0  u32 operation   4  u32 flags (bit 0: request completion)   8  u32 status (NTSTATUS)
 *  12 union (52 bytes; 36 before 5.1): version | channel properties | SRB | sub-channel count
 * SRB at 12: 0 u16 length, 2 u8 srb_status, 3 u8 scsi_status, 4 port, 5 path, 6 target, 7 lun,
 *            8 u8 cdb_length, 9 u8 sense_info_length, 10 u8 data_in, 12 u32 data_transfer_length,
 *            16 cdb[16] / sense[20], 36.. (>= 5.1) reserve, queue tag/action, srb_flags, timeout
 * ```
 *
 * @module
 */

/**
 * The synthetic SCSI controller's interface GUID (spec vstor.md §1.1).
 *
 * @example
 * ```ts
 * import { KmclChannel, SCSI_INTERFACE_TYPE, createLocalBus } from 'vmbus-kmcl';
 * const bus = createLocalBus();
 * const channel = new KmclChannel({ guest: bus.guest }, false);
 * channel.initSetTargetPnp(SCSI_INTERFACE_TYPE, null); // any synthetic SCSI controller
 * bus.dispose();
 * ```
 */
export const SCSI_INTERFACE_TYPE = 'ba6163d9-04a1-4d29-b605-72e2ffb1dc7f';

/**
 * Operation codes (§2.2).
 *
 * @example
 * ```ts
 * import { VSTOR_OP, VSTOR_VERSION, encodeVstorRequest } from 'vmbus-kmcl';
 * const packet = new Uint8Array(64);
 * encodeVstorRequest(packet, VSTOR_OP.BEGIN_INITIALIZATION, VSTOR_VERSION.WIN10);
 * console.log(packet[0] === VSTOR_OP.BEGIN_INITIALIZATION); // true
 * ```
 */
export const VSTOR_OP = {
  COMPLETE_IO: 1,
  REMOVE_DEVICE: 2,
  EXECUTE_SRB: 3,
  RESET_LUN: 4,
  RESET_ADAPTER: 5,
  RESET_BUS: 6,
  BEGIN_INITIALIZATION: 7,
  END_INITIALIZATION: 8,
  QUERY_PROTOCOL_VERSION: 9,
  QUERY_PROPERTIES: 10,
  ENUMERATE_BUS: 11,
  FCHBA_DATA: 12,
  CREATE_SUB_CHANNELS: 13,
  EVENT_NOTIFICATION: 14,
} as const;

/**
 * Request-completion flag of the VSTOR header.
 *
 * @example
 * ```ts
 * import { VSTOR_FLAG_REQUEST_COMPLETION, VSTOR_OP, VSTOR_VERSION, encodeVstorRequest } from 'vmbus-kmcl';
 * const packet = new Uint8Array(64);
 * encodeVstorRequest(packet, VSTOR_OP.END_INITIALIZATION, VSTOR_VERSION.WIN10);
 * console.log((new DataView(packet.buffer).getUint32(4, true) & VSTOR_FLAG_REQUEST_COMPLETION) !== 0); // true
 * ```
 */
export const VSTOR_FLAG_REQUEST_COMPLETION = 1;

/**
 * Protocol versions (§3), `major << 8 | minor`.
 *
 * @example
 * ```ts
 * import { VSTOR_VERSION, vstorPacketSize } from 'vmbus-kmcl';
 * console.log(VSTOR_VERSION.WIN8 === 0x0501, vstorPacketSize(VSTOR_VERSION.WIN8)); // true 64
 * ```
 */
export const VSTOR_VERSION = {
  WIN6: 0x0200,
  WIN7: 0x0402,
  WIN8: 0x0501,
  WIN8_1: 0x0600,
  WIN10: 0x0602,
} as const;

/**
 * Every version, newest first: the order a guest proposes them in.
 *
 * @example
 * ```ts
 * import { VSTOR_VERSIONS_NEWEST_FIRST, createLocalBus, StorageVsc } from 'vmbus-kmcl';
 * const bus = createLocalBus();
 * const vsc = new StorageVsc(bus.guest, { versions: VSTOR_VERSIONS_NEWEST_FIRST.slice(1) }); // skip 6.2
 * console.log(VSTOR_VERSIONS_NEWEST_FIRST[0] === 0x0602, vsc.queueCount); // true 0
 * bus.dispose();
 * ```
 */
export const VSTOR_VERSIONS_NEWEST_FIRST: readonly number[] = [
  0x0602, 0x0600, 0x0501, 0x0402, 0x0200,
];

/**
 * VSTOR status values (§2.4).
 *
 * @example
 * ```ts
 * import { NTSTATUS, VSTOR_STATUS } from 'vmbus-kmcl';
 * console.log(VSTOR_STATUS.INVALID_PARAMETER === NTSTATUS.STATUS_INVALID_PARAMETER); // true: VSTOR statuses are NTSTATUS values
 * ```
 */
export const VSTOR_STATUS = {
  SUCCESS: 0,
  BUFFER_OVERFLOW: 0x80000005,
  DEVICE_BUSY: 0x80000011,
  UNSUCCESSFUL: 0xc0000001,
  INVALID_PARAMETER: 0xc000000d,
  INVALID_DEVICE_REQUEST: 0xc0000010,
  REVISION_MISMATCH: 0xc0000059,
  DEVICE_NOT_CONNECTED: 0xc000009d,
  IO_TIMEOUT: 0xc00000b5,
  DEVICE_DOES_NOT_EXIST: 0xc00000c0,
  CANCELLED: 0xc0000120,
  INVALID_DEVICE_STATE: 0xc0000184,
  IO_DEVICE_ERROR: 0xc0000185,
} as const;

/**
 * SRB status codes used here (§5.3), and the autosense-valid bit.
 *
 * @example
 * ```ts
 * import { SRB_STATUS } from 'vmbus-kmcl';
 * const status = SRB_STATUS.ERROR | SRB_STATUS.AUTOSENSE_VALID; // as the VSP sends it with sense data
 * console.log((status & 0x3f) === SRB_STATUS.ERROR); // true
 * ```
 */
export const SRB_STATUS = {
  SUCCESS: 0x01,
  ABORTED: 0x02,
  ERROR: 0x04,
  INVALID_REQUEST: 0x06,
  DATA_OVERRUN: 0x12,
  INVALID_LUN: 0x20,
  AUTOSENSE_VALID: 0x80,
} as const;

/**
 * SAM status bytes (§5.4).
 *
 * @example
 * ```ts
 * import { MemoryBackend, SCSI_STATUS, ScsiDisk } from 'vmbus-kmcl';
 * const disk = new ScsiDisk(new MemoryBackend(1 << 20));
 * const r = await disk.execute(new Uint8Array(6), 2, null, 0); // TEST UNIT READY
 * console.log(r.scsiStatus === SCSI_STATUS.GOOD); // true
 * ```
 */
export const SCSI_STATUS = { GOOD: 0x00, CHECK_CONDITION: 0x02 } as const;

/**
 * Channel-properties flag: sub-channels supported (§4.3).
 *
 * @example
 * ```ts
 * import { STORAGE_CHANNEL_SUPPORTS_MULTI_CHANNEL } from 'vmbus-kmcl';
 * const properties = new Uint8Array(64); // a QUERY_PROPERTIES completion
 * new DataView(properties.buffer).setUint32(20, STORAGE_CHANNEL_SUPPORTS_MULTI_CHANNEL, true);
 * console.log((new DataView(properties.buffer).getUint32(20, true) & STORAGE_CHANNEL_SUPPORTS_MULTI_CHANNEL) !== 0); // true
 * ```
 */
export const STORAGE_CHANNEL_SUPPORTS_MULTI_CHANNEL = 0x1;

/**
 * Bytes of a VSTOR packet at a protocol version (§2.3).
 *
 * @param version - negotiated version (0 before negotiation counts as new)
 * @returns 64 from 5.1 on (and before negotiation), else 48
 *
 * @example
 * ```ts
 * import { VSTOR_VERSION, vstorPacketSize } from 'vmbus-kmcl';
 * console.log(vstorPacketSize(VSTOR_VERSION.WIN7), vstorPacketSize(VSTOR_VERSION.WIN10)); // 48 64
 * ```
 */
export function vstorPacketSize(version: number): number {
  return version !== 0 && version < VSTOR_VERSION.WIN8 ? 48 : 64;
}

/**
 * SRB length at a protocol version (§2.3).
 *
 * @param version - negotiated version
 * @returns 0x34, or 0x24 before 5.1
 *
 * @example
 * ```ts
 * import { VSTOR_VERSION, srbLength } from 'vmbus-kmcl';
 * console.log(srbLength(VSTOR_VERSION.WIN7) < srbLength(VSTOR_VERSION.WIN10)); // true: the WIN8 SRB is longer
 * ```
 */
export function srbLength(version: number): number {
  return version !== 0 && version < VSTOR_VERSION.WIN8 ? 0x24 : 0x34;
}

/**
 * Sense bytes a completion carries at a protocol version (§2.3).
 *
 * @param version - negotiated version
 * @returns 0x14, or 0x12 before 5.1
 *
 * @example
 * ```ts
 * import { VSTOR_VERSION, senseLength } from 'vmbus-kmcl';
 * console.log(senseLength(VSTOR_VERSION.WIN7), senseLength(VSTOR_VERSION.WIN10)); // 18 20
 * ```
 */
export function senseLength(version: number): number {
  return version !== 0 && version < VSTOR_VERSION.WIN8 ? 0x12 : 0x14;
}

/**
 * SRB status → NTSTATUS of the completion header (§2.4).
 *
 * @example
 * ```ts
 * import { NTSTATUS, SRB_STATUS, srbToNtStatus } from 'vmbus-kmcl';
 * console.log(srbToNtStatus(SRB_STATUS.SUCCESS) === NTSTATUS.STATUS_SUCCESS); // true
 * ```
 * @param srbStatus - an SRB status (the auto-sense bit is ignored)
 * @returns the NTSTATUS a Windows class driver would report
 */
export function srbToNtStatus(srbStatus: number): number {
  switch (srbStatus & 0x3f) {
    case SRB_STATUS.SUCCESS:
      return VSTOR_STATUS.SUCCESS;
    case SRB_STATUS.DATA_OVERRUN:
      return VSTOR_STATUS.BUFFER_OVERFLOW;
    case SRB_STATUS.INVALID_LUN:
      return VSTOR_STATUS.DEVICE_DOES_NOT_EXIST;
    case SRB_STATUS.ABORTED:
      return VSTOR_STATUS.CANCELLED;
    default:
      return VSTOR_STATUS.IO_DEVICE_ERROR;
  }
}

/**
 * A SCSI request as a VSC builds it.
 *
 * @example
 * ```ts
 * import { type SrbRequest, VSTOR_VERSION, encodeExecuteSrb } from 'vmbus-kmcl';
 * const request: SrbRequest = { lun: 1, cdb: Uint8Array.from([0x00, 0, 0, 0, 0, 0]), dataIn: 2, dataTransferLength: 0 };
 * console.log(encodeExecuteSrb(new Uint8Array(64), request, VSTOR_VERSION.WIN10)); // 64
 * ```
 */
export interface SrbRequest {
  pathId?: number;
  targetId?: number;
  lun: number;
  cdb: Uint8Array;
  /** 1 read (device → buffer), 0 write, 2 no data. */
  dataIn: number;
  dataTransferLength: number;
  srbFlags?: number;
}

/**
 * Encodes an EXECUTE_SRB packet (§5.1) into `dst`.
 *
 * @param dst - at least `vstorPacketSize(version)` bytes, zeroed here
 * @param request - the SCSI request
 * @param version - negotiated version
 * @returns the packet length
 *
 * @example
 * ```ts
 * import { VSTOR_VERSION, encodeExecuteSrb } from 'vmbus-kmcl';
 * const packet = new Uint8Array(64);
 * const cdb = Uint8Array.from([0x28, 0, 0, 0, 0, 8, 0, 0, 1, 0]); // READ(10) of LBA 8
 * const size = encodeExecuteSrb(packet, { lun: 0, cdb, dataIn: 1, dataTransferLength: 512 }, VSTOR_VERSION.WIN10);
 * console.log(size); // 64
 * ```
 */
export function encodeExecuteSrb(dst: Uint8Array, request: SrbRequest, version: number): number {
  const size = vstorPacketSize(version);
  dst.fill(0, 0, size);
  const v = new DataView(dst.buffer, dst.byteOffset, size);
  v.setUint32(0, VSTOR_OP.EXECUTE_SRB, true);
  v.setUint32(4, VSTOR_FLAG_REQUEST_COMPLETION, true);
  v.setUint16(12, srbLength(version), true);
  v.setUint8(17, request.pathId ?? 0);
  v.setUint8(18, request.targetId ?? 0);
  v.setUint8(19, request.lun);
  v.setUint8(20, request.cdb.length);
  v.setUint8(21, senseLength(version));
  v.setUint8(22, request.dataIn);
  v.setUint32(24, request.dataTransferLength, true);
  dst.set(request.cdb.subarray(0, 16), 28);
  if (size === 64) {
    v.setUint8(50, 0xff); // queue tag: untagged
    v.setUint8(51, 0x20); // simple tag request
    v.setUint32(
      52,
      request.srbFlags ?? (request.dataIn === 1 ? 0x14a : request.dataIn === 0 ? 0x18a : 0x10a),
      true,
    );
    v.setUint32(56, 60, true);
  }
  return size;
}

/**
 * Encodes a header-only request (BEGIN/END_INITIALIZATION, QUERY_PROPERTIES),
 * or QUERY_PROTOCOL_VERSION / CREATE_SUB_CHANNELS with their argument.
 *
 * @param dst - at least `vstorPacketSize(version)` bytes
 * @param operation - VSTOR_OP value
 * @param version - packet-size version
 * @param argument - major_minor for QUERY_PROTOCOL_VERSION, count for CREATE_SUB_CHANNELS
 * @returns the packet length
 *
 * @example
 * ```ts
 * import { VSTOR_OP, VSTOR_VERSION, encodeVstorRequest } from 'vmbus-kmcl';
 * const packet = new Uint8Array(64);
 * const size = encodeVstorRequest(packet, VSTOR_OP.QUERY_PROTOCOL_VERSION, VSTOR_VERSION.WIN10, VSTOR_VERSION.WIN10);
 * console.log(size, packet[0]); // 64 9
 * ```
 */
export function encodeVstorRequest(
  dst: Uint8Array,
  operation: number,
  version: number,
  argument = 0,
): number {
  const size = vstorPacketSize(version);
  dst.fill(0, 0, size);
  const v = new DataView(dst.buffer, dst.byteOffset, size);
  v.setUint32(0, operation, true);
  v.setUint32(4, VSTOR_FLAG_REQUEST_COMPLETION, true);
  if (operation === VSTOR_OP.QUERY_PROTOCOL_VERSION || operation === VSTOR_OP.CREATE_SUB_CHANNELS) {
    v.setUint16(12, argument, true);
  }
  return size;
}
