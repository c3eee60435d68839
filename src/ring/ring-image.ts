/**
 * Ring images: one ring as raw bytes (a 4096-byte control page, then the
 * data area), built from a list of packets or read back into one. This is
 * the format of the shared test vectors and of `vmbus ring encode|decode`,
 * and what a tool writer uses to decode a ring from a dump or craft one.
 *
 * The spec format (JSON, see docs/cli.md):
 * ```
 * { "dataSize": 4096, "readIndex": 0, "writeIndex": 0,
 *   "interruptMask": 0, "pendingSendSize": 0, "featureBits": 0,
 *   "packets": [ { "type": 6, "flags": 1, "transactionId": "0x2a", "payload": "0102",
 *                  "ranges": [...] } ] }
 * ```
 * `ranges` is `[{byteCount, byteOffset, pfns: ["0x..."]}]` for type 9 and
 * `[{byteCount, byteOffset}]` (with `transferPageSetId`) for type 7.
 *
 * Platform-neutral: bytes in, bytes out; the command-line layer does the I/O.
 *
 * @module
 */

import {
  PACKET_TYPE_GPA_DIRECT,
  PACKET_TYPE_TRANSFER_PAGES,
} from '../protocol/packet-descriptor.js';
import {
  encodeGpaDirectHeader,
  encodeTransferPageHeader,
  type GpaRange,
  gpaDirectHeaderLength,
  type TransferPageRange,
  transferPageHeaderLength,
} from '../protocol/packet-ranges.js';
import { CONTROL_PAGE_SIZE, ControlPage } from './control-page.js';
import { IncomingRing } from './incoming-ring.js';
import { OutgoingRing } from './outgoing-ring.js';
import { RingCorruptError } from './ring-error.js';

/**
 * One packet of a ring spec, validated.
 *
 * @example
 * ```ts
 * import { type RingSpecPacket, encodeRingImage } from 'vmbus-kmcl/ring';
 * const gpaDirect: RingSpecPacket = {
 *   type: 9, flags: 1, transactionId: 1n, payload: new Uint8Array(8),
 *   ranges: [{ byteOffset: 0, byteCount: 4096, pfns: [0x100] }],
 * };
 * const { results } = encodeRingImage({ dataSize: 4096, readIndex: 0, writeIndex: 0, interruptMask: 0, pendingSendSize: 0, featureBits: 0, packets: [gpaDirect] });
 * console.log(results[0]?.written); // true
 * ```
 */
export interface RingSpecPacket {
  /** Packet type. */
  type: number;
  /** Descriptor flags. */
  flags: number;
  /** u64 transaction id. */
  transactionId: bigint;
  /** Payload bytes. */
  payload: Uint8Array;
  /** GPA ranges (type 9) or transfer-page ranges (type 7). */
  ranges?: GpaRange[] | TransferPageRange[];
  /** Transfer page set id (type 7). */
  transferPageSetId?: number;
}

/**
 * A ring spec, validated: what to put in a fresh ring image.
 *
 * @example
 * ```ts
 * import { type RingSpec, encodeRingImage } from 'vmbus-kmcl/ring';
 * const spec: RingSpec = {
 *   dataSize: 4096, readIndex: 0, writeIndex: 0, interruptMask: 0, pendingSendSize: 0, featureBits: 0,
 *   packets: [{ type: 6, flags: 1, transactionId: 9n, payload: Uint8Array.of(1, 2, 3) }],
 * };
 * console.log(encodeRingImage(spec).image.length); // 8192: control page and data
 * ```
 */
export interface RingSpec {
  /** Bytes in the data area, a positive multiple of 4096. */
  dataSize: number;
  /** Read index before writing. */
  readIndex: number;
  /** Write index before writing. */
  writeIndex: number;
  /** Interrupt mask before writing. */
  interruptMask: number;
  /** Pending send size before writing. */
  pendingSendSize: number;
  /** Feature bits. */
  featureBits: number;
  /** Packets to write, in order. */
  packets: RingSpecPacket[];
}

/**
 * The outcome of writing one spec packet.
 *
 * @example
 * ```ts
 * import { type WriteOutcome, encodeRingImage } from 'vmbus-kmcl/ring';
 * const outcome: WriteOutcome | undefined = encodeRingImage({
 *   dataSize: 4096, readIndex: 0, writeIndex: 0, interruptMask: 0, pendingSendSize: 0, featureBits: 0,
 *   packets: [{ type: 6, flags: 1, transactionId: 9n, payload: Uint8Array.of(1, 2, 3) }],
 * }).results[0];
 * console.log(outcome?.written, outcome?.signal); // true true: the reader was idle, so signal it
 * ```
 */
export interface WriteOutcome {
  /** False when the packet did not fit (it was skipped). */
  written: boolean;
  /** Whether the writer must signal the reader after this packet. */
  signal: boolean;
}

/**
 * A decoded packet, in the JSON shape of the test vectors.
 *
 * @example
 * ```ts
 * import { type DecodedPacket, decodeRingImage, encodeRingImage } from 'vmbus-kmcl/ring';
 * const { image } = encodeRingImage({
 *   dataSize: 4096, readIndex: 0, writeIndex: 0, interruptMask: 0, pendingSendSize: 0, featureBits: 0,
 *   packets: [{ type: 6, flags: 1, transactionId: 9n, payload: Uint8Array.of(1, 2, 3) }],
 * });
 * const packet: DecodedPacket | undefined = decodeRingImage(image).packets[0];
 * console.log(packet?.transactionId, packet?.payload); // 0x0000000000000009 0102030000000000
 * ```
 */
export interface DecodedPacket {
  /** Data-area offset where the packet starts. */
  offset: number;
  /** Packet type. */
  type: number;
  /** Descriptor flags. */
  flags: number;
  /** Payload offset, 8-byte units. */
  offset8: number;
  /** Packet length without trailer, 8-byte units. */
  len8: number;
  /** `0x` and 16 hex digits. */
  transactionId: string;
  /** Hex of bytes `offset8*8 .. len8*8`, padding included. */
  payload: string;
  /** Transfer page set id (type 7). */
  transferPageSetId?: number;
  /** Ranges (types 7 and 9); PFNs as `0x` hex strings. */
  ranges?: { byteCount: number; byteOffset: number; pfns?: string[] }[];
}

/**
 * What a reader finds in a ring image.
 *
 * @example
 * ```ts
 * import { type DecodedRing, decodeRingImage, encodeRingImage } from 'vmbus-kmcl/ring';
 * const { image } = encodeRingImage({
 *   dataSize: 4096, readIndex: 0, writeIndex: 0, interruptMask: 0, pendingSendSize: 0, featureBits: 0,
 *   packets: [{ type: 6, flags: 1, transactionId: 9n, payload: Uint8Array.of(1, 2, 3) }],
 * });
 * const ring: DecodedRing = decodeRingImage(image);
 * console.log(ring.packets.length, ring.error === undefined); // 1 true
 * ```
 */
export interface DecodedRing {
  /** Every good packet from the read index on. */
  packets: DecodedPacket[];
  /** The read index after the last good packet. */
  readIndex: number;
  /** The write index in the control page. */
  writeIndex: number;
  /** The damage that stopped the reader, if any. */
  error?: { code: string; reason: string; offset: number };
}

/**
 * Builds a ring image from a spec: a zeroed image, the control page set from
 * the spec, then every packet written and committed in turn. A packet that
 * does not fit is skipped and the next one tried.
 *
 * @param spec - a validated spec (see {@link parseRingSpec})
 * @returns the image bytes and one outcome per packet
 * @throws RangeError when the spec's sizes or indices are invalid
 * @example
 * ```ts
 * import { encodeRingImage } from 'vmbus-kmcl/ring';
 * const { image, results } = encodeRingImage({
 *   dataSize: 4096, readIndex: 0, writeIndex: 0, interruptMask: 0, pendingSendSize: 0, featureBits: 0,
 *   packets: [{ type: 6, flags: 1, transactionId: 1n, payload: new Uint8Array([1, 2, 3, 4, 5]) }],
 * });
 * console.log(image.length, results); // 8192 [ { written: true, signal: true } ]
 * ```
 */
export function encodeRingImage(spec: RingSpec): { image: Uint8Array; results: WriteOutcome[] } {
  const { dataSize } = spec;
  if (!Number.isInteger(dataSize) || dataSize < 4096 || dataSize % 4096 !== 0) {
    throw new RangeError(`dataSize ${dataSize} is not a positive multiple of 4096`);
  }
  for (const key of ['readIndex', 'writeIndex'] as const) {
    const v = spec[key];
    if (!Number.isInteger(v) || v < 0 || v >= dataSize || v % 8 !== 0) {
      throw new RangeError(`${key} ${v} is not a multiple of 8 below dataSize ${dataSize}`);
    }
  }
  const image = new Uint8Array(CONTROL_PAGE_SIZE + dataSize);
  ControlPage.initialize(image.buffer, 0, spec);
  const ring = new OutgoingRing(image.buffer);
  const results: WriteOutcome[] = [];
  for (const p of spec.packets) {
    const ext = encodeExtension(p);
    const length = OutgoingRing.packetLength(ext.length, p.payload.length);
    if (length > ring.maxPacketLength) {
      results.push({ written: false, signal: false });
      continue;
    }
    const written = ring.write(p.type, p.flags, p.transactionId, p.payload, ext);
    results.push({ written, signal: written && ring.commitWrite() });
  }
  return { image, results };
}

function encodeExtension(p: RingSpecPacket): Uint8Array {
  if (p.type === PACKET_TYPE_GPA_DIRECT) {
    const ranges = (p.ranges ?? []) as GpaRange[];
    const ext = new Uint8Array(gpaDirectHeaderLength(ranges));
    encodeGpaDirectHeader(ranges, ext, 0);
    return ext;
  }
  if (p.type === PACKET_TYPE_TRANSFER_PAGES) {
    const ranges = (p.ranges ?? []) as TransferPageRange[];
    const ext = new Uint8Array(transferPageHeaderLength(ranges.length));
    encodeTransferPageHeader(p.transferPageSetId ?? 0, ranges, ext, 0);
    return ext;
  }
  return new Uint8Array(0);
}

/**
 * Reads every packet of a ring image from its read index to its write
 * index, without modifying the image, and stops at the first damage.
 *
 * @param image - the image bytes: 4096 + n x 4096, n >= 1
 * @returns the packets, the indices and the error if any
 * @throws RangeError when the image size is not a valid ring
 *
 * @example
 * ```ts
 * import { decodeRingImage, encodeRingImage } from 'vmbus-kmcl/ring';
 * const { image } = encodeRingImage({
 *   dataSize: 4096, readIndex: 0, writeIndex: 0, interruptMask: 0, pendingSendSize: 0, featureBits: 0,
 *   packets: [{ type: 6, flags: 0, transactionId: 7n, payload: new Uint8Array([1, 2]) }],
 * });
 * const ring = decodeRingImage(image);
 * console.log(ring.packets.length, ring.writeIndex); // 1 32: descriptor, padded payload, trailer
 * ```
 */
export function decodeRingImage(image: Uint8Array): DecodedRing {
  // A private copy: reading never changes the caller's bytes.
  const copy = image.slice();
  const ring = new IncomingRing(copy.buffer);
  const packets: DecodedPacket[] = [];
  const result: DecodedRing = { packets, readIndex: ring.position, writeIndex: 0 };
  result.writeIndex = ring.memory.control.writeIndex;
  try {
    for (let p = ring.read(); p !== null; p = ring.read()) {
      const d: DecodedPacket = {
        offset: p.offset,
        type: p.type,
        flags: p.flags,
        offset8: p.offset8,
        len8: p.len8,
        transactionId: `0x${p.transactionIdBigInt().toString(16).padStart(16, '0')}`,
        payload: toHex(p.payload()),
      };
      if (p.type === PACKET_TYPE_GPA_DIRECT) {
        d.ranges = p.ranges.toGpaRanges().map((r) => ({
          byteCount: r.byteCount,
          byteOffset: r.byteOffset,
          pfns: r.pfns.map((x) => `0x${x.toString(16)}`),
        }));
      } else if (p.type === PACKET_TYPE_TRANSFER_PAGES) {
        d.transferPageSetId = p.ranges.transferPageSetId;
        d.ranges = p.ranges.toTransferPageRanges();
      }
      packets.push(d);
    }
  } catch (e) {
    if (!(e instanceof RingCorruptError)) throw e;
    result.error = { code: e.code, reason: e.reason, offset: e.offset };
  }
  result.readIndex = ring.position;
  return result;
}

/**
 * Lower-case hex of bytes.
 *
 * @param bytes - input
 * @returns hex string, two digits a byte
 *
 * @example
 * ```ts
 * import { toHex } from 'vmbus-kmcl/ring';
 * console.log(toHex(new Uint8Array([0xde, 0xad]))); // dead
 * ```
 */
export function toHex(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += b.toString(16).padStart(2, '0');
  return s;
}
