/**
 * Validation of the ring spec format (JSON) used by `vmbus ring encode` and
 * the shared test vectors: every field checked, every error one sentence
 * that names the field and quotes the value.
 *
 * @module
 */

import type { GpaRange, TransferPageRange } from '../protocol/packet-ranges.js';
import type { RingSpec, RingSpecPacket } from './ring-image.js';

/**
 * A ring spec that cannot be used: the message names the field at fault.
 *
 * @example
 * ```ts
 * import { RingSpecError, parseRingSpec } from 'vmbus-kmcl/ring';
 * try {
 *   parseRingSpec({ dataSize: 1000, packets: [] });
 * } catch (e) {
 *   if (e instanceof RingSpecError) console.log(e.message); // dataSize 1000 is not a positive multiple of 4096
 * }
 * ```
 */
export class RingSpecError extends Error {
  /** @param message - one sentence naming the field and the value */
  constructor(message: string) {
    super(message);
    this.name = 'RingSpecError';
  }
}

/**
 * Checks a parsed JSON value against the ring spec format.
 *
 * @param value - the result of `JSON.parse`
 * @returns the spec with bytes and bigints decoded
 * @throws RingSpecError naming the first field at fault
 * @example
 * ```ts
 * import { parseRingSpec } from 'vmbus-kmcl/ring';
 * const spec = parseRingSpec({ dataSize: 4096, packets: [{ type: 6, payload: 'aabb' }] });
 * console.log(spec.packets[0]?.payload); // Uint8Array(2) [ 170, 187 ]
 * ```
 */
export function parseRingSpec(value: unknown): RingSpec {
  const o = object(value, 'the spec');
  const dataSize = u32(o.dataSize, 'dataSize');
  if (dataSize < 4096 || dataSize % 4096 !== 0) {
    throw new RingSpecError(`dataSize ${dataSize} is not a positive multiple of 4096`);
  }
  const readIndex = optionalU32(o.readIndex, 'readIndex');
  const writeIndex = optionalU32(o.writeIndex, 'writeIndex');
  for (const [name, v] of [
    ['readIndex', readIndex],
    ['writeIndex', writeIndex],
  ] as const) {
    if (v >= dataSize || v % 8 !== 0) {
      throw new RingSpecError(`${name} ${v} is not a multiple of 8 below dataSize ${dataSize}`);
    }
  }
  if (!Array.isArray(o.packets)) throw new RingSpecError('packets is not an array');
  return {
    dataSize,
    readIndex,
    writeIndex,
    interruptMask: optionalU32(o.interruptMask, 'interruptMask'),
    pendingSendSize: optionalU32(o.pendingSendSize, 'pendingSendSize'),
    featureBits: optionalU32(o.featureBits, 'featureBits'),
    packets: o.packets.map((p, i) => parsePacket(p, `packets[${i}]`)),
  };
}

function parsePacket(value: unknown, where: string): RingSpecPacket {
  const o = object(value, where);
  const type = u16(o.type, `${where}.type`);
  const packet: RingSpecPacket = {
    type,
    flags: o.flags === undefined ? 0 : u16(o.flags, `${where}.flags`),
    transactionId:
      o.transactionId === undefined ? 0n : u64(o.transactionId, `${where}.transactionId`),
    payload: o.payload === undefined ? new Uint8Array(0) : hex(o.payload, `${where}.payload`),
  };
  if (o.ranges !== undefined) {
    if (!Array.isArray(o.ranges)) throw new RingSpecError(`${where}.ranges is not an array`);
    if (type === 9) {
      packet.ranges = o.ranges.map((r, j) => gpaRange(r, `${where}.ranges[${j}]`));
    } else if (type === 7) {
      packet.ranges = o.ranges.map((r, j) => transferRange(r, `${where}.ranges[${j}]`));
    } else {
      throw new RingSpecError(`${where}.ranges is given for type ${type}, which carries none`);
    }
  } else if (type === 9 || type === 7) {
    throw new RingSpecError(`${where} of type ${type} needs ranges`);
  }
  if (o.transferPageSetId !== undefined) {
    packet.transferPageSetId = u16(o.transferPageSetId, `${where}.transferPageSetId`);
  }
  return packet;
}

function gpaRange(value: unknown, where: string): GpaRange {
  const o = object(value, where);
  const byteCount = u32(o.byteCount, `${where}.byteCount`);
  const byteOffset = u32(o.byteOffset, `${where}.byteOffset`);
  if (byteCount === 0) throw new RingSpecError(`${where}.byteCount is 0`);
  if (byteOffset > 4095)
    throw new RingSpecError(`${where}.byteOffset ${byteOffset} is not in 0..4095`);
  if (!Array.isArray(o.pfns)) throw new RingSpecError(`${where}.pfns is not an array`);
  const pfns = o.pfns.map((p, k) => u64(p, `${where}.pfns[${k}]`));
  const want = Math.ceil((byteOffset + byteCount) / 4096);
  if (pfns.length !== want) {
    throw new RingSpecError(`${where} spans ${want} pages but lists ${pfns.length} pfns`);
  }
  return { byteCount, byteOffset, pfns };
}

function transferRange(value: unknown, where: string): TransferPageRange {
  const o = object(value, where);
  return {
    byteCount: u32(o.byteCount, `${where}.byteCount`),
    byteOffset: u32(o.byteOffset, `${where}.byteOffset`),
  };
}

function object(value: unknown, where: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new RingSpecError(`${where} is not an object`);
  }
  return value as Record<string, unknown>;
}

function u32(value: unknown, where: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 0xffff_ffff) {
    throw new RingSpecError(`${where} ${JSON.stringify(value)} is not an integer in 0..2^32-1`);
  }
  return value;
}

function optionalU32(value: unknown, where: string): number {
  return value === undefined ? 0 : u32(value, where);
}

function u16(value: unknown, where: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 0xffff) {
    throw new RingSpecError(`${where} ${JSON.stringify(value)} is not an integer in 0..65535`);
  }
  return value;
}

function u64(value: unknown, where: string): bigint {
  let big: bigint | undefined;
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) big = BigInt(value);
  if (typeof value === 'string' && /^(0x[0-9a-fA-F]{1,16}|[0-9]{1,20})$/.test(value))
    big = BigInt(value);
  if (big === undefined || big > 0xffff_ffff_ffff_ffffn) {
    throw new RingSpecError(
      `${where} ${JSON.stringify(value)} is not a u64 (a 0x-hex string or an integer)`,
    );
  }
  return big;
}

function hex(value: unknown, where: string): Uint8Array {
  if (typeof value !== 'string' || value.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(value)) {
    throw new RingSpecError(`${where} is not a string of hex byte pairs`);
  }
  const out = new Uint8Array(value.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(value.slice(2 * i, 2 * i + 2), 16);
  return out;
}
