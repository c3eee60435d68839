/**
 * The synthetic SCSI controller's guest side (storvsc), built only on the
 * public KMCL API (spec vstor.md §4.4): the initialization a Linux guest
 * performs (BEGIN, versions newest first, QUERY_PROPERTIES, END), optional
 * sub-channels, then a block-device API (read, write, flush, capacity) with
 * many requests in flight spread over the queues. Data buffers are guest
 * pages sent as one GPA range (§5.5).
 *
 * A hostile host is checked too (§8.2): completions must be COMPLETE_IO,
 * carry a sane sense length and never claim more data than the buffer.
 *
 * @module
 */

import type { VmbusGuest } from '../../bus/vmbus-guest.js';
import { KmclChannel } from '../../kmcl/kmcl-channel.js';
import { VMBUS_CHANNEL_FORMAT_FLAG_WAIT_FOR_COMPLETION as WAIT } from '../../kmcl/kmcl-constants.js';
import { MemoryDescriptor } from '../../memory/memory-descriptor.js';
import { NTSTATUS } from '../../status/ntstatus.js';
import { VmbusError } from '../../status/vmbus-error.js';
import { openClientChannel } from '../open-client-channel.js';
import {
  encodeExecuteSrb,
  encodeVstorRequest,
  SCSI_INTERFACE_TYPE,
  SCSI_STATUS,
  SRB_STATUS,
  STORAGE_CHANNEL_SUPPORTS_MULTI_CHANNEL,
  VSTOR_OP,
  VSTOR_STATUS,
  VSTOR_VERSIONS_NEWEST_FIRST,
  vstorPacketSize,
} from './vstor-protocol.js';

/**
 * A storage request that failed: SCSI status, SRB status and sense.
 *
 * @example
 * ```ts
 * import { StorageError, createLocalBus, MemoryBackend, ScsiDisk, StorageVsc, StorageVsp } from 'vmbus-kmcl';
 * const bus = createLocalBus();
 * const vsp = new StorageVsp({ host: bus.host, partition: bus.partition, disks: new Map([[0, new ScsiDisk(new MemoryBackend(1 << 20))]]) });
 * vsp.start();
 * await bus.guest.connect();
 * await bus.guest.requestOffers();
 * const vsc = new StorageVsc(bus.guest);
 * await vsc.connect();
 * try {
 *   await vsc.read(1 << 20, 1); // past the end of the disk
 * } catch (e) {
 *   if (e instanceof StorageError) console.log(e.sense?.asc); // 33: LBA OUT OF RANGE
 * }
 * await vsc.close();
 * await vsp.stop();
 * bus.dispose();
 * ```
 */
export class StorageError extends VmbusError {
  /** The SRB status byte. */
  readonly srbStatus: number;
  /** The SAM status byte. */
  readonly scsiStatus: number;
  /** Sense key / ASC / ASCQ, when sense came back. */
  readonly sense: { key: number; asc: number; ascq: number } | null;

  /**
   * @internal
   * @param reason - what failed
   * @param srbStatus - the SRB status of the completion
   * @param scsiStatus - the SCSI status
   * @param sense - sense data, or null
   */
  constructor(reason: string, srbStatus: number, scsiStatus: number, sense: Uint8Array | null) {
    super('VSTOR_REQUEST_FAILED', reason);
    this.name = 'StorageError';
    this.srbStatus = srbStatus;
    this.scsiStatus = scsiStatus;
    this.sense = sense
      ? { key: (sense[2] ?? 0) & 0x0f, asc: sense[12] ?? 0, ascq: sense[13] ?? 0 }
      : null;
  }
}

/**
 * Options of a storage VSC.
 *
 * @example
 * ```ts
 * import { createLocalBus, StorageVsc, type StorageVscOptions } from 'vmbus-kmcl';
 * const bus = createLocalBus();
 * const options: StorageVscOptions = { subchannels: 3, ringPages: 64, onBusChanged: () => console.log('rescan') };
 * const vsc = new StorageVsc(bus.guest, options);
 * console.log(vsc.queueCount); // 0 until connect()
 * bus.dispose();
 * ```
 */
export interface StorageVscOptions {
  /** Controller instance to bind (default: any). */
  instance?: string | null;
  /** Sub-channels to ask for (default 0; bounded by the host's maximum). */
  subchannels?: number;
  /** Pages of each ring (default 34: 128 KiB of data like Linux). */
  ringPages?: number;
  /** Versions to propose, newest first. */
  versions?: readonly number[];
  /**
   * Called when the host reports a bus change (ENUMERATE_BUS or
   * REMOVE_DEVICE, spec vstor.md §7.1-§7.2); a driver rescans, for
   * example with `reportLuns`.
   */
  onBusChanged?: () => void;
}

/**
 * The outcome of one SCSI command.
 *
 * @example
 * ```ts
 * import { createLocalBus, MemoryBackend, ScsiDisk, type ScsiOutcome, StorageVsc, StorageVsp } from 'vmbus-kmcl';
 * const bus = createLocalBus();
 * new StorageVsp({ host: bus.host, partition: bus.partition, disks: new Map([[0, new ScsiDisk(new MemoryBackend(1 << 20))]]) }).start();
 * await bus.guest.connect();
 * await bus.guest.requestOffers();
 * const vsc = new StorageVsc(bus.guest);
 * await vsc.connect();
 * const inquiry: ScsiOutcome = await vsc.scsi(Uint8Array.from([0x12, 0, 0, 0, 36, 0]), 1, 36);
 * console.log(inquiry.transferred === 36); // true
 * await vsc.close();
 * bus.dispose();
 * ```
 */
export interface ScsiOutcome {
  srbStatus: number;
  scsiStatus: number;
  transferred: number;
  sense: Uint8Array | null;
  /** The data read (for data-in commands). */
  data: Uint8Array;
}

/**
 * The guest side of a synthetic SCSI controller.
 *
 * @example
 * ```ts
 * import { createLocalBus, MemoryBackend, ScsiDisk, StorageVsc, StorageVsp } from 'vmbus-kmcl';
 * const bus = createLocalBus();
 * new StorageVsp({ host: bus.host, partition: bus.partition, disks: new Map([[0, new ScsiDisk(new MemoryBackend(1 << 20))]]) }).start();
 * await bus.guest.connect();
 * await bus.guest.requestOffers();
 * const vsc = new StorageVsc(bus.guest, { subchannels: 1 });
 * await vsc.connect();
 * await vsc.write(0, new Uint8Array(512).fill(7));
 * console.log((await vsc.read(0, 1))[0]); // 7
 * await vsc.close();
 * bus.dispose();
 * ```
 */
export class StorageVsc {
  /** The negotiated protocol version. */
  version = 0;
  /** Largest transfer the host accepts. */
  maxTransferBytes = 0;
  /** Sub-channels the host allows. */
  maxSubchannels = 0;
  /** Bytes per block of LUN 0 (after `connect`). */
  blockSize = 512;
  /** Blocks of LUN 0 (after `connect`). */
  blockCount = 0;
  /** Requests completed. */
  completed = 0;
  /** Bus-change notifications received from the host (§7.1). */
  busChanges = 0;
  /** Unsolicited host packets that were not a bus change, ignored. */
  ignoredHostPackets = 0;
  private readonly guest: VmbusGuest;
  private readonly options: StorageVscOptions;
  private readonly queues: KmclChannel[] = [];
  private next = 0;
  private instance: string | null;

  /**
   * @param guest - the guest's bus (connected, offers requested)
   * @param options - controller, queues, ring size, versions
   */
  constructor(guest: VmbusGuest, options: StorageVscOptions = {}) {
    this.guest = guest;
    this.options = options;
    this.instance = options.instance ?? null;
  }

  /** The open queues (primary first). */
  get queueCount(): number {
    return this.queues.length;
  }

  private openQueue(index: number): Promise<KmclChannel> {
    const channel = new KmclChannel({ guest: this.guest }, false);
    channel.initSetMaximumPacketSize(64);
    const pages = this.options.ringPages ?? 34;
    channel.initSetRingBufferPageCount(pages, pages);
    channel.initSetMaximumExternalData(16 << 20, 1);
    channel.initSetProcessPacketCallbacks((c, p, buffer, length) => {
      // Unsolicited host packets (§7): at least the 4-byte operation.
      const op =
        length >= 4
          ? new DataView(buffer.buffer, buffer.byteOffset, length).getUint32(0, true)
          : -1;
      if (op === VSTOR_OP.ENUMERATE_BUS || op === VSTOR_OP.REMOVE_DEVICE) {
        this.busChanges++;
        this.options.onBusChanged?.();
      } else this.ignoredHostPackets++;
      c.completePacket(p, null, 0);
    });
    return openClientChannel(
      channel,
      SCSI_INTERFACE_TYPE,
      this.instance,
      index,
      'VSTOR_OPEN_FAILED',
      'the controller',
    );
  }

  private async request(
    channel: KmclChannel,
    operation: number,
    argument = 0,
    size = vstorPacketSize(this.version),
  ): Promise<DataView> {
    const packet = new Uint8Array(64);
    encodeVstorRequest(packet, operation, size === 48 ? 0x0402 : 0x0602, argument);
    const reply = new Uint8Array(64);
    const length = { value: 64 };
    const status = await channel.sendSynchronousRequest(
      packet,
      size,
      null,
      WAIT,
      reply,
      length,
      -50_000_000n,
    );
    if (status !== NTSTATUS.STATUS_SUCCESS)
      throw new VmbusError(
        'VSTOR_INIT_FAILED',
        `Operation ${operation} got no completion (0x${(status >>> 0).toString(16)})`,
      );
    const view = new DataView(reply.buffer);
    if (length.value < 12 || view.getUint32(0, true) !== VSTOR_OP.COMPLETE_IO) {
      throw new VmbusError(
        'VSTOR_BAD_COMPLETION',
        `Operation ${operation} was answered with operation ${view.getUint32(0, true)}`,
      );
    }
    return view;
  }

  /**
   * Opens the controller, runs the initialization, opens the sub-channels
   * and reads the capacity of LUN 0.
   *
   * @returns the negotiated version
   * @throws VmbusError when the host refuses every version or answers wrongly
   */
  async connect(): Promise<number> {
    const primary = await this.openQueue(0);
    this.queues.push(primary);
    this.instance = primary.getInterfaceInstance();
    const check = (v: DataView, what: string) => {
      const s = v.getUint32(8, true);
      if (s !== VSTOR_STATUS.SUCCESS)
        throw new VmbusError('VSTOR_INIT_FAILED', `${what} failed with 0x${s.toString(16)}`);
    };
    check(
      await this.request(primary, VSTOR_OP.BEGIN_INITIALIZATION, 0, 64),
      'BEGIN_INITIALIZATION',
    );
    for (const candidate of this.options.versions ?? VSTOR_VERSIONS_NEWEST_FIRST) {
      const v = await this.request(primary, VSTOR_OP.QUERY_PROTOCOL_VERSION, candidate, 64);
      if (v.getUint32(8, true) === VSTOR_STATUS.SUCCESS) {
        this.version = candidate;
        break;
      }
    }
    if (this.version === 0)
      throw new VmbusError('VSTOR_INIT_FAILED', 'The host accepted no protocol version');
    const props = await this.request(primary, VSTOR_OP.QUERY_PROPERTIES);
    check(props, 'QUERY_PROPERTIES');
    this.maxSubchannels =
      (props.getUint32(20, true) & STORAGE_CHANNEL_SUPPORTS_MULTI_CHANNEL) !== 0
        ? props.getUint16(16, true)
        : 0;
    this.maxTransferBytes = Math.floor(props.getUint32(24, true) / 4096) * 4096;
    check(await this.request(primary, VSTOR_OP.END_INITIALIZATION), 'END_INITIALIZATION');
    const wanted = Math.min(this.options.subchannels ?? 0, this.maxSubchannels);
    if (wanted > 0) {
      check(
        await this.request(primary, VSTOR_OP.CREATE_SUB_CHANNELS, wanted),
        'CREATE_SUB_CHANNELS',
      );
      const subs = await Promise.all(
        Array.from({ length: wanted }, (_, i) => this.openQueue(i + 1)),
      );
      this.queues.push(...subs);
    }
    const cap = await this.scsi(
      Uint8Array.from([0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0]),
      1,
      32,
    );
    if (cap.srbStatus === SRB_STATUS.SUCCESS && cap.transferred >= 12) {
      const v = new DataView(cap.data.buffer);
      this.blockCount = Number(v.getBigUint64(0)) + 1;
      this.blockSize = v.getUint32(8);
    }
    return this.version;
  }

  /**
   * Sends one SCSI command on the next queue and waits for it.
   *
   * @param cdb - the CDB
   * @param dataIn - 1 read, 0 write, 2 none
   * @param length - data buffer bytes (for writes, `data` is copied in)
   * @param data - bytes to write
   * @param lun - LUN at path 0, target 0
   * @returns the outcome
   * @throws VmbusError when the controller is not connected (VSTOR_NOT_CONNECTED), the request is cancelled, or a completion is malformed (VSTOR_BAD_COMPLETION)
   */
  async scsi(
    cdb: Uint8Array,
    dataIn: number,
    length: number,
    data?: Uint8Array,
    lun = 0,
  ): Promise<ScsiOutcome> {
    const channel = this.queues[this.next++ % this.queues.length];
    if (!channel) throw new VmbusError('VSTOR_NOT_CONNECTED', 'The controller is not connected');
    // Writes fill the buffer and reads are overwritten by the device: no need to zero it.
    const pages = length > 0 ? this.guest.pages.allocate(Math.ceil(length / 4096), false) : [];
    try {
      const mdl = length > 0 ? new MemoryDescriptor(this.guest.memory, pages, 0, length) : null;
      if (mdl && data) mdl.write(0, data.subarray(0, length));
      const packet = new Uint8Array(64);
      const size = encodeExecuteSrb(
        packet,
        { lun, cdb, dataIn, dataTransferLength: length },
        this.version,
      );
      const reply = await new Promise<{ status: number; bytes: Uint8Array }>((resolve, reject) => {
        const p = channel.allocatePacket();
        p.completionRoutine = (pk, status, buffer, n) => {
          resolve({ status, bytes: buffer.slice(0, n) });
          channel.freePacket(pk);
        };
        try {
          if (mdl)
            channel.send(
              p,
              packet,
              size,
              { kind: 'mdl', chain: [mdl], offset: 0, length, forceLength: false },
              WAIT,
            );
          else channel.send(p, packet, size, null, WAIT);
        } catch (e) {
          channel.freePacket(p);
          reject(e);
        }
      });
      if (reply.status !== NTSTATUS.STATUS_SUCCESS)
        throw new VmbusError(
          'VSTOR_REQUEST_CANCELLED',
          `The request ended with 0x${(reply.status >>> 0).toString(16)}`,
        );
      const v = new DataView(reply.bytes.buffer);
      if (reply.bytes.length < 48 || v.getUint32(0, true) !== VSTOR_OP.COMPLETE_IO) {
        throw new VmbusError(
          'VSTOR_BAD_COMPLETION',
          `A completion of ${reply.bytes.length} bytes with operation ${reply.bytes.length >= 4 ? v.getUint32(0, true) : -1}`,
        );
      }
      const srbStatus = reply.bytes[14]!;
      const scsiStatus = reply.bytes[15]!;
      const senseLength = Math.min(reply.bytes[21]!, 0x14);
      const transferred = Math.min(v.getUint32(24, true), length);
      const sense =
        scsiStatus === SCSI_STATUS.CHECK_CONDITION && (srbStatus & SRB_STATUS.AUTOSENSE_VALID) !== 0
          ? reply.bytes.slice(28, 28 + senseLength)
          : null;
      const out = new Uint8Array(dataIn === 1 ? transferred : 0);
      if (mdl && dataIn === 1 && transferred > 0) mdl.read(0, out);
      this.completed++;
      return { srbStatus, scsiStatus, transferred, sense, data: out };
    } finally {
      if (pages.length > 0) this.guest.pages.free(pages);
    }
  }

  private ok(outcome: ScsiOutcome, what: string): ScsiOutcome {
    if (outcome.srbStatus !== SRB_STATUS.SUCCESS) {
      throw new StorageError(
        `${what} failed: srb 0x${outcome.srbStatus.toString(16)}, scsi 0x${outcome.scsiStatus.toString(16)}`,
        outcome.srbStatus,
        outcome.scsiStatus,
        outcome.sense,
      );
    }
    return outcome;
  }

  /**
   * Reads blocks (READ(16)).
   *
   * @param lba - first block
   * @param blocks - block count
   * @param lun - LUN
   * @returns the bytes
   * @throws StorageError with the sense data when the disk refuses
   */
  async read(lba: number, blocks: number, lun = 0): Promise<Uint8Array> {
    const cdb = rw16(0x88, lba, blocks);
    return this.ok(await this.scsi(cdb, 1, blocks * this.blockSize, undefined, lun), 'READ(16)')
      .data;
  }

  /**
   * Writes blocks (WRITE(16)).
   *
   * @param lba - first block
   * @param data - whole blocks
   * @param lun - LUN
   * @throws StorageError with the sense data when the disk refuses
   */
  async write(lba: number, data: Uint8Array, lun = 0): Promise<void> {
    const blocks = data.length / this.blockSize;
    if (!Number.isInteger(blocks) || blocks === 0)
      throw new RangeError(`${data.length} bytes are not whole blocks of ${this.blockSize}`);
    this.ok(await this.scsi(rw16(0x8a, lba, blocks), 0, data.length, data, lun), 'WRITE(16)');
  }

  /**
   * Flushes the disk's cache (SYNCHRONIZE CACHE(10)).
   *
   * @param lun - LUN
   */
  async flush(lun = 0): Promise<void> {
    this.ok(
      await this.scsi(Uint8Array.from([0x35, 0, 0, 0, 0, 0, 0, 0, 0, 0]), 2, 0, undefined, lun),
      'SYNCHRONIZE CACHE',
    );
  }

  /**
   * Capacity of a LUN (READ CAPACITY(16)).
   *
   * @param lun - LUN
   * @returns blocks and block size
   */
  async capacity(lun = 0): Promise<{ blocks: number; blockSize: number }> {
    const out = this.ok(
      await this.scsi(
        Uint8Array.from([0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0]),
        1,
        32,
        undefined,
        lun,
      ),
      'READ CAPACITY(16)',
    );
    const v = new DataView(out.data.buffer);
    return { blocks: Number(v.getBigUint64(0)) + 1, blockSize: v.getUint32(8) };
  }

  /**
   * The LUNs the controller reports at path 0, target 0 (REPORT LUNS).
   *
   * @returns LUN numbers in the order the host lists them
   * @throws StorageError if the command fails
   */
  async reportLuns(): Promise<number[]> {
    const length = 8 + 8 * 256;
    const cdb = new Uint8Array(16);
    cdb[0] = 0xa0;
    new DataView(cdb.buffer).setUint32(6, length);
    const out = this.ok(await this.scsi(cdb, 1, length), 'REPORT LUNS');
    const v = new DataView(out.data.buffer, out.data.byteOffset, out.data.length);
    if (out.data.length < 8) return [];
    const count = Math.min(v.getUint32(0) / 8, (out.data.length - 8) / 8) | 0;
    const luns: number[] = [];
    for (let i = 0; i < count; i++) luns.push(v.getUint16(8 + 8 * i) & 0x3fff);
    return luns;
  }

  /** Closes every queue. */
  async close(): Promise<void> {
    await Promise.all(this.queues.map((q) => q.disable()));
    this.queues.length = 0;
  }
}

function rw16(op: number, lba: number, blocks: number): Uint8Array {
  const cdb = new Uint8Array(16);
  const v = new DataView(cdb.buffer);
  cdb[0] = op;
  v.setBigUint64(2, BigInt(lba));
  v.setUint32(10, blocks);
  return cdb;
}
