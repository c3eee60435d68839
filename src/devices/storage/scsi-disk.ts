/**
 * A SCSI disk behind the storage VSP (spec vstor.md §6): the commands a
 * Linux guest sends, with the sense data of §6.2 for every error, over a
 * block backend (memory here; files through the Node adapter).
 *
 * @module
 */

import type { MemoryDescriptor } from '../../memory/memory-descriptor.js';
import { SCSI_STATUS, SRB_STATUS } from './vstor-protocol.js';

/**
 * Where a disk's blocks live. Methods may be synchronous or return promises.
 *
 * @example
 * ```ts
 * import { type BlockBackend, ScsiDisk } from 'vmbus-kmcl';
 * const bytes = new Uint8Array(64 * 512);
 * const backend: BlockBackend = {
 *   blockSize: 512,
 *   blockCount: 64,
 *   readOnly: false,
 *   read: (lba, dst) => dst.set(bytes.subarray(lba * 512, lba * 512 + dst.length)),
 *   write: (lba, src) => bytes.set(src, lba * 512),
 *   flush: () => {},
 * };
 * const disk = new ScsiDisk(backend);
 * console.log(disk.backend.blockCount === 64); // true
 * ```
 */
export interface BlockBackend {
  /** Bytes per logical block. */
  readonly blockSize: number;
  /** Logical blocks. */
  readonly blockCount: number;
  /** Whether writes are refused. */
  readonly readOnly: boolean;
  /** Reads `dst.length / blockSize` blocks from `lba`. */
  read(lba: number, dst: Uint8Array): void | Promise<void>;
  /** Writes `src.length / blockSize` blocks at `lba`. */
  write(lba: number, src: Uint8Array): void | Promise<void>;
  /** Makes written blocks durable. */
  flush(): void | Promise<void>;
  /** Discards blocks (optional). */
  unmap?(lba: number, blocks: number): void | Promise<void>;
}

/**
 * A disk in memory.
 *
 * @example
 * ```ts
 * import { MemoryBackend } from 'vmbus-kmcl';
 * const disk = new MemoryBackend(1 << 20); // 2048 blocks of 512 bytes
 * disk.write(10, new Uint8Array(512).fill(9));
 * const block = new Uint8Array(512);
 * disk.read(10, block);
 * console.log(disk.blockCount, block[0]); // 2048 9
 * ```
 */
export class MemoryBackend implements BlockBackend {
  readonly blockSize: number;
  readonly blockCount: number;
  readonly readOnly: boolean;
  /** The disk's bytes. */
  readonly bytes: Uint8Array;

  /**
   * @param bytes - disk size in bytes (a multiple of the block size)
   * @param blockSize - bytes per block
   * @param readOnly - refuse writes
   * @throws RangeError for a size that is not a whole number of blocks
   */
  constructor(bytes: number, blockSize = 512, readOnly = false) {
    if (bytes <= 0 || bytes % blockSize !== 0)
      throw new RangeError(
        `A disk of ${bytes} bytes is not a whole number of ${blockSize}-byte blocks`,
      );
    this.blockSize = blockSize;
    this.blockCount = bytes / blockSize;
    this.readOnly = readOnly;
    this.bytes = new Uint8Array(bytes);
  }
  /**
   * Reads whole blocks.
   * @param lba - the first block
   * @param dst - receives whole blocks
   */
  read(lba: number, dst: Uint8Array): void {
    dst.set(this.bytes.subarray(lba * this.blockSize, lba * this.blockSize + dst.length));
  }
  /**
   * Writes whole blocks.
   * @param lba - the first block
   * @param src - whole blocks
   */
  write(lba: number, src: Uint8Array): void {
    this.bytes.set(src, lba * this.blockSize);
  }
  flush(): void {}
  /**
   * Zeroes blocks (unmap on a memory disk).
   * @param lba - the first block
   * @param blocks - how many blocks to zero
   */
  unmap(lba: number, blocks: number): void {
    this.bytes.fill(0, lba * this.blockSize, (lba + blocks) * this.blockSize);
  }
}

/**
 * The outcome of one SCSI command.
 *
 * @example
 * ```ts
 * import { MemoryBackend, ScsiDisk, type ScsiResult } from 'vmbus-kmcl';
 * const disk = new ScsiDisk(new MemoryBackend(1 << 20));
 * const result: ScsiResult = await disk.execute(new Uint8Array(6), 2, null, 0); // TEST UNIT READY
 * console.log(result.srbStatus === 1 && result.sense === null); // true
 * ```
 */
export interface ScsiResult {
  srbStatus: number;
  scsiStatus: number;
  /** 18 bytes of fixed-format sense, or null. */
  sense: Uint8Array | null;
  /** Bytes moved to or from the data buffer. */
  transferred: number;
}

/**
 * Sense keys and additional sense codes used here.
 *
 * @example
 * ```ts
 * import { MemoryBackend, SENSE, ScsiDisk } from 'vmbus-kmcl';
 * const disk = new ScsiDisk(new MemoryBackend(1 << 20));
 * const r = await disk.execute(Uint8Array.from([0xff]), 2, null, 0); // an unknown opcode
 * console.log(r.sense?.[2] === SENSE.ILLEGAL_REQUEST, r.sense?.[12] === SENSE.ASC_INVALID_OPCODE); // true true
 * ```
 */
export const SENSE = {
  NO_SENSE: 0,
  MEDIUM_ERROR: 3,
  ILLEGAL_REQUEST: 5,
  DATA_PROTECT: 7,
  ASC_INVALID_OPCODE: 0x20,
  ASC_LBA_OUT_OF_RANGE: 0x21,
  ASC_INVALID_FIELD_IN_CDB: 0x24,
  ASC_PARAMETER_LIST_LENGTH: 0x1a,
  ASC_INVALID_FIELD_IN_PARAMETER_LIST: 0x26,
  ASC_WRITE_PROTECTED: 0x27,
} as const;

/**
 * Fixed-format sense data (§6.2).
 *
 * @param key - sense key
 * @param asc - additional sense code
 * @param ascq - qualifier
 * @returns 18 bytes
 *
 * @example
 * ```ts
 * import { SENSE, senseData } from 'vmbus-kmcl';
 * const sense = senseData(SENSE.ILLEGAL_REQUEST, SENSE.ASC_LBA_OUT_OF_RANGE);
 * console.log(sense.length, sense[2], sense[12]); // 18 5 33
 * ```
 */
export function senseData(key: number, asc: number, ascq = 0): Uint8Array {
  const s = new Uint8Array(18);
  s[0] = 0x70;
  s[2] = key & 0x0f;
  s[7] = 0x0a;
  s[12] = asc;
  s[13] = ascq;
  return s;
}

const GOOD = (transferred: number): ScsiResult => ({
  srbStatus: SRB_STATUS.SUCCESS,
  scsiStatus: SCSI_STATUS.GOOD,
  sense: null,
  transferred,
});

/**
 * Options of a disk.
 *
 * @example
 * ```ts
 * import { MemoryBackend, ScsiDisk, type ScsiDiskOptions } from 'vmbus-kmcl';
 * const options: ScsiDiskOptions = { vendor: 'Acme', product: 'Test Disk', serial: 'SN0001' };
 * const disk = new ScsiDisk(new MemoryBackend(1 << 20), options);
 * console.log(String.fromCharCode(...disk.standardInquiry().subarray(8, 12))); // Acme
 * ```
 */
export interface ScsiDiskOptions {
  vendor?: string;
  product?: string;
  revision?: string;
  serial?: string;
  /** 16 bytes identifying the disk (VPD 0x83). */
  diskId?: Uint8Array;
}

/**
 * One disk LUN.
 *
 * @example
 * ```ts
 * import { GuestMemory, MemoryBackend, MemoryDescriptor, ScsiDisk } from 'vmbus-kmcl';
 * const disk = new ScsiDisk(new MemoryBackend(1 << 20));
 * const memory = new GuestMemory(4);
 * const buffer = MemoryDescriptor.contiguous(memory, 4096, 8);
 * const result = await disk.execute(Uint8Array.from([0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0]), 1, buffer, 8); // READ CAPACITY(10)
 * console.log(result.srbStatus, result.transferred); // 1 8
 * ```
 */
export class ScsiDisk {
  /** The blocks. */
  readonly backend: BlockBackend;
  /** Commands executed. */
  commands = 0;
  private readonly options: Required<Omit<ScsiDiskOptions, 'serial'>> & { serial: string };
  private lastSense: Uint8Array | null = null;

  /**
   * @param backend - the blocks
   * @param options - identity strings
   */
  constructor(backend: BlockBackend, options: ScsiDiskOptions = {}) {
    this.backend = backend;
    this.options = {
      vendor: options.vendor ?? 'Msft',
      product: options.product ?? 'Virtual Disk',
      revision: options.revision ?? '1.0',
      serial: options.serial ?? '',
      diskId: options.diskId ?? new Uint8Array(16).map((_, i) => (i * 37 + 11) & 255),
    };
  }

  private fail(key: number, asc: number, srb: number = SRB_STATUS.INVALID_REQUEST): ScsiResult {
    const sense = senseData(key, asc);
    this.lastSense = sense;
    return {
      srbStatus: srb | SRB_STATUS.AUTOSENSE_VALID,
      scsiStatus: SCSI_STATUS.CHECK_CONDITION,
      sense,
      transferred: 0,
    };
  }

  private invalidField(): ScsiResult {
    return this.fail(SENSE.ILLEGAL_REQUEST, SENSE.ASC_INVALID_FIELD_IN_CDB);
  }

  /** Copies `data` (truncated to `limit` and the buffer) into the buffer. */
  private reply(
    buffer: MemoryDescriptor | null,
    transferLength: number,
    data: Uint8Array,
    limit: number,
  ): ScsiResult {
    const n = Math.min(data.length, limit, transferLength, buffer?.byteLength ?? 0);
    if (n > 0 && buffer) buffer.write(0, data.subarray(0, n));
    return GOOD(n);
  }

  /**
   * Executes one command.
   *
   * @param cdb - the CDB (16 bytes, zero-padded)
   * @param dataIn - 1 read, 0 write, 2 none
   * @param buffer - the data buffer in guest memory, or null
   * @param transferLength - `data_transfer_length` of the SRB
   * @returns the outcome
   */
  async execute(
    cdb: Uint8Array,
    dataIn: number,
    buffer: MemoryDescriptor | null,
    transferLength: number,
  ): Promise<ScsiResult> {
    this.commands++;
    const op = cdb[0] ?? 0;
    const be16 = (o: number) => ((cdb[o] ?? 0) << 8) | (cdb[o + 1] ?? 0);
    const be32 = (o: number) => be16(o) * 0x10000 + be16(o + 2);
    try {
      switch (op) {
        case 0x00: // TEST UNIT READY
        case 0x04: // FORMAT UNIT
        case 0x16: // RESERVE(6)
        case 0x17: // RELEASE(6)
        case 0x1e: // PREVENT ALLOW MEDIUM REMOVAL
          return GOOD(0);
        case 0x1b: // START STOP UNIT
          if ((cdb[1] ?? 0) & 1) return this.invalidField();
          if (((cdb[4] ?? 0) & 1) === 0) await this.backend.flush();
          return GOOD(0);
        case 0x03: {
          // REQUEST SENSE
          const alloc = cdb[4] ?? 0;
          if (alloc < 8 || alloc > transferLength) return this.invalidField();
          const sense = this.lastSense ?? senseData(SENSE.NO_SENSE, 0);
          this.lastSense = null;
          return this.reply(buffer, transferLength, sense, alloc);
        }
        case 0x12:
          return this.inquiry(cdb, dataIn, buffer, transferLength);
        case 0x25: {
          // READ CAPACITY(10)
          const data = new Uint8Array(8);
          const v = new DataView(data.buffer);
          v.setUint32(0, Math.min(this.backend.blockCount - 1, 0xffffffff));
          v.setUint32(4, this.backend.blockSize);
          if (transferLength < 8)
            return this.fail(
              SENSE.ILLEGAL_REQUEST,
              SENSE.ASC_INVALID_FIELD_IN_CDB,
              SRB_STATUS.DATA_OVERRUN,
            );
          return this.reply(buffer, transferLength, data, 8);
        }
        case 0x9e: {
          // SERVICE ACTION IN(16): READ CAPACITY(16)
          if (((cdb[1] ?? 0) & 0x1f) !== 0x10) return this.invalidField();
          if (transferLength < 12)
            return this.fail(
              SENSE.ILLEGAL_REQUEST,
              SENSE.ASC_INVALID_FIELD_IN_CDB,
              SRB_STATUS.DATA_OVERRUN,
            );
          const data = new Uint8Array(32);
          const v = new DataView(data.buffer);
          v.setBigUint64(0, BigInt(this.backend.blockCount - 1));
          v.setUint32(8, this.backend.blockSize);
          if (this.backend.unmap) data[14] = 0x80;
          return this.reply(buffer, transferLength, data, be32(10));
        }
        case 0x08:
        case 0x0a:
          return this.readWrite(
            op === 0x0a,
            ((cdb[1] ?? 0) & 0x1f) * 0x10000 + be16(2),
            cdb[4] ?? 0,
            dataIn,
            buffer,
            transferLength,
          );
        case 0x28:
        case 0x2a:
          if ((cdb[1] ?? 0) & 1) return this.invalidField();
          return this.readWrite(op === 0x2a, be32(2), be16(7), dataIn, buffer, transferLength);
        case 0xa8:
        case 0xaa:
          if ((cdb[1] ?? 0) & 1) return this.invalidField();
          return this.readWrite(op === 0xaa, be32(2), be32(6), dataIn, buffer, transferLength);
        case 0x88:
        case 0x8a: {
          const lba = be32(2) * 0x1_0000_0000 + be32(6);
          return this.readWrite(op === 0x8a, lba, be32(10), dataIn, buffer, transferLength);
        }
        case 0x35:
        case 0x91:
          await this.backend.flush();
          return GOOD(0);
        case 0x1a:
        case 0x5a:
          return this.modeSense(op === 0x5a, cdb, buffer, transferLength);
        case 0x42:
          return this.unmap(cdb, buffer, transferLength);
        case 0x41: // WRITE SAME(10)
          return this.writeSame(be32(2), be16(7), dataIn, buffer, transferLength);
        case 0x93: // WRITE SAME(16)
          return this.writeSame(
            be32(2) * 0x1_0000_0000 + be32(6),
            be32(10),
            dataIn,
            buffer,
            transferLength,
          );
        case 0x2f: // VERIFY(10)
        case 0x2e: // WRITE AND VERIFY(10)
          return this.verify(cdb, be32(2), be16(7));
        case 0xaf: // VERIFY(12)
        case 0xae: // WRITE AND VERIFY(12)
          return this.verify(cdb, be32(2), be32(6));
        case 0x8f: // VERIFY(16)
        case 0x8e: // WRITE AND VERIFY(16)
          return this.verify(cdb, be32(2) * 0x1_0000_0000 + be32(6), be32(10));
        case 0x1d: // SEND DIAGNOSTIC: only the default self-test (§6.3)
          if (((cdb[1] ?? 0) & 0xf0) !== 0 || be16(3) !== 0) return this.invalidField();
          return GOOD(0);
        case 0x15:
        case 0x55:
          return this.modeSelect(op === 0x55, cdb, dataIn, buffer, transferLength);
        case 0x5e: // PERSISTENT RESERVE IN
        case 0x5f: // PERSISTENT RESERVE OUT
          // No backend here keeps reservations: ILLEGAL REQUEST / 0x20 (§6.3).
          return this.fail(SENSE.ILLEGAL_REQUEST, SENSE.ASC_INVALID_OPCODE);
        default:
          return this.fail(SENSE.ILLEGAL_REQUEST, SENSE.ASC_INVALID_OPCODE);
      }
    } catch {
      // Guest memory not accessible, or the backend failed.
      return this.fail(SENSE.MEDIUM_ERROR, 0, SRB_STATUS.ERROR);
    }
  }

  private async readWrite(
    write: boolean,
    lba: number,
    blocks: number,
    dataIn: number,
    buffer: MemoryDescriptor | null,
    transferLength: number,
  ): Promise<ScsiResult> {
    const size = this.backend.blockSize;
    if (
      blocks === 0 ||
      blocks * size > transferLength ||
      !buffer ||
      buffer.byteLength < blocks * size
    ) {
      return this.fail(SENSE.ILLEGAL_REQUEST, SENSE.ASC_LBA_OUT_OF_RANGE);
    }
    if (lba >= this.backend.blockCount || this.backend.blockCount - lba < blocks) {
      return this.fail(SENSE.ILLEGAL_REQUEST, SENSE.ASC_LBA_OUT_OF_RANGE);
    }
    if ((write && dataIn !== 0) || (!write && dataIn !== 1)) return this.invalidField();
    const length = blocks * size;
    if (write && this.backend.readOnly) {
      return this.fail(SENSE.DATA_PROTECT, SENSE.ASC_WRITE_PROTECTED, SRB_STATUS.ERROR);
    }
    if (!write && buffer.readOnly) return this.invalidField();
    // Straight between the backend and guest memory when the pages are
    // consecutive; through a bounce buffer otherwise.
    const direct = buffer.contiguousView(0, length);
    if (direct) {
      if (write) await this.backend.write(lba, direct);
      else await this.backend.read(lba, direct);
      return GOOD(length);
    }
    const bytes = new Uint8Array(length);
    if (write) {
      buffer.read(0, bytes);
      await this.backend.write(lba, bytes);
    } else {
      await this.backend.read(lba, bytes);
      buffer.write(0, bytes);
    }
    return GOOD(length);
  }

  /** The largest WRITE SAME, in bytes (§6.3, and the block-limits page). */
  static readonly MAX_WRITE_SAME_BYTES = 8 << 20;

  /**
   * WRITE SAME (§6.3, §6.9): the first block of the buffer is written to
   * every block of the range. Zero blocks is refused (this disk sets no
   * "whole medium" meaning for it).
   */
  private async writeSame(
    lba: number,
    blocks: number,
    dataIn: number,
    buffer: MemoryDescriptor | null,
    transferLength: number,
  ): Promise<ScsiResult> {
    const size = this.backend.blockSize;
    if (
      blocks === 0 ||
      blocks * size > ScsiDisk.MAX_WRITE_SAME_BYTES ||
      lba >= this.backend.blockCount ||
      this.backend.blockCount - lba < blocks
    )
      return this.fail(SENSE.ILLEGAL_REQUEST, SENSE.ASC_LBA_OUT_OF_RANGE);
    if (dataIn !== 0 || !buffer || transferLength < size || buffer.byteLength < size)
      return this.invalidField();
    if (this.backend.readOnly)
      return this.fail(SENSE.DATA_PROTECT, SENSE.ASC_WRITE_PROTECTED, SRB_STATUS.ERROR);
    const block = new Uint8Array(size);
    buffer.read(0, block);
    const chunkBlocks = Math.min(blocks, 256);
    const chunk = new Uint8Array(chunkBlocks * size);
    for (let i = 0; i < chunkBlocks; i++) chunk.set(block, i * size);
    for (let done = 0; done < blocks; ) {
      const n = Math.min(chunkBlocks, blocks - done);
      await this.backend.write(lba + done, chunk.subarray(0, n * size));
      done += n;
    }
    return GOOD(size);
  }

  /** VERIFY and WRITE AND VERIFY: range-checked only, nothing moves (§6.3). */
  private verify(cdb: Uint8Array, lba: number, blocks: number): ScsiResult {
    if ((cdb[1] ?? 0) & 1) return this.invalidField();
    if (lba > this.backend.blockCount || this.backend.blockCount - lba < blocks)
      return this.fail(SENSE.ILLEGAL_REQUEST, SENSE.ASC_LBA_OUT_OF_RANGE);
    return GOOD(0);
  }

  /**
   * MODE SELECT(6/10) (§6.3): accepts only a caching page whose WCE bit
   * equals the current setting (on: this disk reports a write cache).
   */
  private modeSelect(
    ten: boolean,
    cdb: Uint8Array,
    dataIn: number,
    buffer: MemoryDescriptor | null,
    transferLength: number,
  ): ScsiResult {
    if ((cdb[1] ?? 0) & 1) return this.invalidField(); // SP
    const listLength = ten ? ((cdb[7] ?? 0) << 8) | (cdb[8] ?? 0) : (cdb[4] ?? 0);
    const header = ten ? 8 : 4;
    if (listLength === 0) return GOOD(0);
    if (
      dataIn !== 0 ||
      !buffer ||
      listLength !== transferLength ||
      buffer.byteLength < listLength ||
      listLength < header + 3
    )
      return this.fail(SENSE.ILLEGAL_REQUEST, SENSE.ASC_PARAMETER_LIST_LENGTH);
    const list = new Uint8Array(listLength);
    buffer.read(0, list);
    const blockDescriptors = ten ? ((list[6] ?? 0) << 8) | (list[7] ?? 0) : (list[3] ?? 0);
    const at = header + blockDescriptors;
    if (at + 3 > listLength || ((list[at] ?? 0) & 0x3f) !== 0x08)
      return this.fail(SENSE.ILLEGAL_REQUEST, SENSE.ASC_INVALID_FIELD_IN_PARAMETER_LIST);
    if (((list[at + 2] ?? 0) & 0x04) === 0)
      return this.fail(SENSE.ILLEGAL_REQUEST, SENSE.ASC_INVALID_FIELD_IN_PARAMETER_LIST);
    return GOOD(0);
  }

  private inquiry(
    cdb: Uint8Array,
    dataIn: number,
    buffer: MemoryDescriptor | null,
    transferLength: number,
  ): ScsiResult {
    const evpd = ((cdb[1] ?? 0) & 1) !== 0;
    const page = cdb[2] ?? 0;
    const alloc = ((cdb[3] ?? 0) << 8) | (cdb[4] ?? 0);
    if (
      dataIn !== 1 ||
      transferLength < alloc ||
      ((cdb[1] ?? 0) & 2) !== 0 ||
      (!evpd && page !== 0)
    )
      return this.invalidField();
    if (!evpd) {
      if (alloc < 5) return this.invalidField();
      return this.reply(buffer, transferLength, this.standardInquiry(), alloc);
    }
    if (alloc < 4) return this.invalidField();
    const data = this.vpdPage(page);
    if (!data) return this.invalidField();
    return this.reply(buffer, transferLength, data, alloc);
  }

  /**
   * Standard INQUIRY data (§6.4), 104 bytes.
   * @returns 104 bytes of standard INQUIRY data
   */
  standardInquiry(): Uint8Array {
    const d = new Uint8Array(104);
    d.set([0x00, 0x00, 0x05, 0x02, 0x63, 0x00, 0x00, 0x02]);
    const put = (at: number, text: string, width: number) => {
      for (let i = 0; i < width; i++)
        d[at + i] = i < text.length ? text.charCodeAt(i) & 0x7f : 0x20;
    };
    put(8, this.options.vendor, 8);
    put(16, this.options.product, 16);
    put(32, this.options.revision, 4);
    return d;
  }

  private vpdPage(page: number): Uint8Array | null {
    const unmap = this.backend.unmap !== undefined;
    const withHeader = (body: number[] | Uint8Array) => {
      const out = new Uint8Array(4 + body.length);
      out[1] = page;
      out[3] = body.length;
      out.set(body, 4);
      return out;
    };
    switch (page) {
      case 0x00: {
        const pages = [
          0x00,
          ...(this.options.serial ? [0x80] : []),
          0x83,
          ...(unmap ? [0xb0, 0xb1, 0xb2] : []),
          0xce,
          0xcf,
        ];
        return withHeader(pages);
      }
      case 0x80:
        return this.options.serial
          ? withHeader(Array.from(this.options.serial, (c) => c.charCodeAt(0) & 0x7f))
          : null;
      case 0x83: {
        const body = new Uint8Array(0x30);
        body.set([0x01, 0x01, 0x00, 0x18]);
        for (let i = 0; i < 8; i++)
          body[4 + i] = i < this.options.vendor.length ? this.options.vendor.charCodeAt(i) : 0x20;
        body.set(this.options.diskId, 12);
        body.set([0x01, 0x03, 0x00, 0x10, 0x60, 0x02, 0x24, 0x80], 28);
        body.set(this.options.diskId.subarray(0, 6), 36);
        body.set(this.options.diskId.subarray(10, 16), 42);
        return withHeader(body);
      }
      case 0xb0: {
        if (!unmap) return null;
        const body = new Uint8Array(0x3c);
        const v = new DataView(body.buffer);
        v.setUint32(16, 0xffffffff);
        v.setUint32(20, 4096);
        v.setUint32(24, 1);
        body[28] = 0x80;
        v.setBigUint64(32, BigInt((8 << 20) / this.backend.blockSize));
        return withHeader(body);
      }
      case 0xb1: {
        if (!unmap) return null;
        const body = new Uint8Array(0x3c);
        body[1] = 1;
        return withHeader(body);
      }
      case 0xb2: {
        if (!unmap) return null;
        let exp = 1;
        while (this.backend.blockCount / 2 ** exp >= 2 ** 32) exp++;
        return withHeader([exp, 0x80, 0x02, 0]);
      }
      case 0xce:
        return withHeader([1, 1, 0, 0]);
      case 0xcf: {
        const body = new Uint8Array(20);
        body[0] = 1;
        body.set(
          [
            0x15, 0x8f, 0xa9, 0x89, 0x28, 0xc9, 0x8b, 0x4d, 0x94, 0xcd, 0xef, 0x51, 0xfa, 0xa9,
            0x9d, 0x33,
          ],
          4,
        );
        return withHeader(body);
      }
      default:
        return null;
    }
  }

  private modeSense(
    ten: boolean,
    cdb: Uint8Array,
    buffer: MemoryDescriptor | null,
    transferLength: number,
  ): ScsiResult {
    const pageControl = (cdb[2] ?? 0) & 0xc0;
    const page = (cdb[2] ?? 0) & 0x3f;
    const alloc = ten ? ((cdb[7] ?? 0) << 8) | (cdb[8] ?? 0) : (cdb[4] ?? 0);
    if ((page !== 0x08 && page !== 0x3f) || pageControl === 0xc0) return this.invalidField();
    if (alloc === 0 || transferLength === 0) return GOOD(0);
    const header = ten ? 8 : 4;
    if (alloc > transferLength || alloc < header) return this.invalidField();
    const data = new Uint8Array(header + 12);
    const dsp = (this.backend.readOnly ? 0x80 : 0) | 0x10;
    if (ten) {
      data.set([0x00, 0x12, 0x00, dsp, 0, 0, 0, 0]);
    } else {
      data.set([0x0f, 0x00, dsp, 0x00]);
    }
    data.set([0x08, 0x0a, pageControl === 0x40 ? 0 : 0x04], header);
    return this.reply(buffer, transferLength, data, alloc);
  }

  private async unmap(
    cdb: Uint8Array,
    buffer: MemoryDescriptor | null,
    transferLength: number,
  ): Promise<ScsiResult> {
    if (!this.backend.unmap) return this.invalidField();
    const listLength = ((cdb[7] ?? 0) << 8) | (cdb[8] ?? 0);
    if (
      listLength < 8 ||
      listLength !== transferLength ||
      !buffer ||
      buffer.byteLength < listLength
    )
      return this.invalidField();
    const list = new Uint8Array(listLength);
    buffer.read(0, list);
    const v = new DataView(list.buffer);
    if (v.getUint16(0) !== listLength - 2) return this.invalidField();
    if (v.getUint16(2) !== listLength - 8) return this.fail(SENSE.ILLEGAL_REQUEST, 0);
    const count = Math.floor((listLength - 8) / 16);
    if (count > 4096)
      return this.fail(SENSE.ILLEGAL_REQUEST, SENSE.ASC_INVALID_FIELD_IN_PARAMETER_LIST);
    for (let i = 0; i < count; i++) {
      const lba = Number(v.getBigUint64(8 + 16 * i));
      const blocks = v.getUint32(16 + 16 * i);
      if (lba + blocks > this.backend.blockCount)
        return this.fail(SENSE.ILLEGAL_REQUEST, SENSE.ASC_LBA_OUT_OF_RANGE);
    }
    if (this.backend.readOnly)
      return this.fail(SENSE.DATA_PROTECT, SENSE.ASC_WRITE_PROTECTED, SRB_STATUS.ERROR);
    for (let i = 0; i < count; i++) {
      try {
        await this.backend.unmap(Number(v.getBigUint64(8 + 16 * i)), v.getUint32(16 + 16 * i));
      } catch {
        // Backend unmap failures are ignored (§6.8).
      }
    }
    return GOOD(0);
  }
}
