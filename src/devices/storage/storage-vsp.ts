/**
 * The synthetic SCSI controller's host side (storvsp), built only on the
 * public KMCL API (spec vstor.md): the initialization state machine of §4.2
 * on the primary channel, EXECUTE_SRB with GPA-direct data buffers (§5),
 * REPORT LUNS and absent-LUN answers (§6.1), sub-channels on request (§1.5),
 * and the defined reaction to a hostile guest (§8.1): a failure status or
 * sense data, a rate-limited log line, and for malformed packets the
 * channel's incoming queue stops (VmbChannelPacketFail), never a crash.
 *
 * @module
 */

import { BusLog, type LogSink } from '../../bus/bus-log.js';
import { type PipeStats, sumPipeStats } from '../../bus/channel-pipe.js';
import type { HostPartition, VmbusHost } from '../../bus/vmbus-host.js';
import { KmclChannel } from '../../kmcl/kmcl-channel.js';
import {
  VMBUS_CHANNEL_PACKET_EXTERNAL_DATA_FLAG_READ_ONLY,
  VMBUS_CHANNEL_PROCESS_PACKET_FLAG_EXTERNAL_DATA,
} from '../../kmcl/kmcl-constants.js';
import type { KmclIncoming } from '../../kmcl/kmcl-incoming.js';
import type { MemoryDescriptor } from '../../memory/memory-descriptor.js';
import { NTSTATUS } from '../../status/ntstatus.js';
import { type ScsiDisk, type ScsiResult, senseData } from './scsi-disk.js';
import {
  SCSI_INTERFACE_TYPE,
  SCSI_STATUS,
  SRB_STATUS,
  STORAGE_CHANNEL_SUPPORTS_MULTI_CHANNEL,
  senseLength,
  srbLength,
  srbToNtStatus,
  VSTOR_OP,
  VSTOR_STATUS,
  VSTOR_VERSIONS_NEWEST_FIRST,
  vstorPacketSize,
} from './vstor-protocol.js';

/**
 * Options of a storage VSP.
 *
 * @example
 * ```ts
 * import { createLocalBus, MemoryBackend, ScsiDisk, StorageVsp, type StorageVspOptions } from 'vmbus-kmcl';
 * const bus = createLocalBus();
 * const options: StorageVspOptions = {
 *   host: bus.host,
 *   partition: bus.partition,
 *   disks: new Map([[0, new ScsiDisk(new MemoryBackend(1 << 20))]]),
 *   maxSubchannels: 2,
 *   versions: [0x0602, 0x0501],
 * };
 * console.log(new StorageVsp(options).luns); // [ 0 ]
 * bus.dispose();
 * ```
 */
export interface StorageVspOptions {
  /** The host. */
  host: VmbusHost;
  /** The guest partition the controller is offered to. */
  partition: HostPartition;
  /** Disks by LUN, at path 0, target 0 (copied; change them with `attachDisk`/`removeDisk`). */
  disks: ReadonlyMap<number, ScsiDisk>;
  /** Controller instance GUID. */
  instance?: string;
  /** Sub-channels a guest may ask for (default 4; 0 disables multi-queue). */
  maxSubchannels?: number;
  /** Versions accepted (default every version of spec §3). */
  versions?: readonly number[];
  /** Largest transfer advertised (default 256 KiB). */
  maxTransferBytes?: number;
  /** Violation log sink. */
  log?: LogSink;
}

type Stage = 'begin' | 'version' | 'properties' | 'end' | 'ready';

/**
 * Counters.
 *
 * @example
 * ```ts
 * import { createLocalBus, MemoryBackend, ScsiDisk, StorageVsp, type StorageVspStats } from 'vmbus-kmcl';
 * const bus = createLocalBus();
 * const vsp = new StorageVsp({ host: bus.host, partition: bus.partition, disks: new Map([[0, new ScsiDisk(new MemoryBackend(1 << 20))]]) });
 * const stats: StorageVspStats = vsp.stats;
 * console.log(stats.requests === 0); // true
 * bus.dispose();
 * ```
 */
export interface StorageVspStats {
  requests: number;
  srbs: number;
  bytesRead: number;
  bytesWritten: number;
  errors: number;
  fatal: number;
  /** ENUMERATE_BUS notifications sent (§7.1). */
  busNotifications: number;
}

/**
 * The host side of a synthetic SCSI controller.
 *
 * @example
 * ```ts
 * import { MemoryBackend, ScsiDisk, StorageVsp, createLocalBus } from 'vmbus-kmcl';
 * const bus = createLocalBus();
 * const vsp = new StorageVsp({ host: bus.host, partition: bus.partition, disks: new Map([[0, new ScsiDisk(new MemoryBackend(1 << 20))]]) });
 * vsp.start();
 * await vsp.stop();
 * bus.dispose();
 * ```
 */
export class StorageVsp {
  /** Counters. */
  readonly stats: StorageVspStats = {
    requests: 0,
    srbs: 0,
    bytesRead: 0,
    bytesWritten: 0,
    errors: 0,
    fatal: 0,
    busNotifications: 0,
  };
  /** Violations by the guest. */
  readonly log: BusLog;
  /** Controller instance. */
  readonly instance: string;
  private readonly options: StorageVspOptions;
  private readonly versions: readonly number[];
  private readonly maxSubchannels: number;
  private readonly channels: KmclChannel[] = [];
  private stage: Stage = 'begin';
  private version = 0;
  private subchannels = 0;
  private readonly disks: Map<number, ScsiDisk>;
  private busChangePending = false;

  /** @param options - host, partition, disks and limits */
  constructor(options: StorageVspOptions) {
    this.options = options;
    this.instance = options.instance ?? 'd34b0001-0000-4000-8000-000000000001';
    this.versions = options.versions ?? VSTOR_VERSIONS_NEWEST_FIRST;
    this.maxSubchannels = options.maxSubchannels ?? 4;
    this.log = new BusLog(options.log);
    this.disks = new Map(options.disks);
  }

  /**
   * Ring-level counters of the controller's channels (primary and
   * sub-channels) on the host side, added up.
   *
   * @returns packets and bytes each way, interrupts, the ring high-water mark
   */
  get channelStats(): PipeStats {
    return sumPipeStats(this.channels.map((c) => c.pipeStats));
  }

  /** The LUNs served, in ascending order. */
  get luns(): number[] {
    return [...this.disks.keys()].sort((a, b) => a - b);
  }

  /**
   * Hot-adds (or replaces) the disk at a LUN and tells the guest to rescan
   * with ENUMERATE_BUS (spec vstor.md §7.1).
   *
   * @param lun - LUN at path 0, target 0 (0-255)
   * @param disk - the disk
   * @throws RangeError for a LUN outside 0-255
   */
  attachDisk(lun: number, disk: ScsiDisk): void {
    if (!Number.isInteger(lun) || lun < 0 || lun > 255)
      throw new RangeError(`LUN ${lun} is outside 0-255`);
    this.disks.set(lun, disk);
    this.busChanged();
  }

  /**
   * Hot-removes the disk at a LUN; later requests to it fail with
   * INVALID_LUN, and the guest is told to rescan (spec vstor.md §7.1, §7.2).
   *
   * @param lun - LUN
   * @returns whether a disk was there
   */
  removeDisk(lun: number): boolean {
    const had = this.disks.delete(lun);
    if (had) this.busChanged();
    return had;
  }

  /**
   * ENUMERATE_BUS on the primary channel (§7.1): only once the protocol is
   * ready and at version 4.2 or newer; before END_INITIALIZATION one
   * notification waits (several coalesce) and goes out when it completes.
   */
  private busChanged(): void {
    if (this.stage !== 'ready') {
      this.busChangePending = true;
      return;
    }
    this.sendEnumerateBus();
  }

  private sendEnumerateBus(): void {
    this.busChangePending = false;
    const primary = this.channels[0];
    if (!primary || this.version < 0x0402) return;
    const size = vstorPacketSize(this.version);
    const message = new Uint8Array(size);
    new DataView(message.buffer).setUint32(0, VSTOR_OP.ENUMERATE_BUS, true);
    const packet = primary.allocatePacket();
    try {
      primary.send(packet, message, size, null, 0);
      this.stats.busNotifications++;
    } catch (e) {
      primary.freePacket(packet);
      this.log.violation('VSTOR_ENUMERATE_BUS_FAILED', `ENUMERATE_BUS was not sent: ${e}`);
    }
  }

  /** The negotiated protocol version (0 before). */
  get protocolVersion(): number {
    return this.version;
  }

  /** Whether initialization completed. */
  get ready(): boolean {
    return this.stage === 'ready';
  }

  /**
   * The device's KMCL channels (primary first), for tools that watch or
   * steer them (`vmbus ui` pauses and starts them).
   *
   * @returns the channels
   */
  get kmclChannels(): readonly KmclChannel[] {
    return this.channels;
  }

  /** Offers the primary channel. */
  start(): void {
    this.addChannel(0);
  }

  /** Disables every channel of the controller. */
  async stop(): Promise<void> {
    await Promise.all(this.channels.map((c) => c.disable()));
  }

  private addChannel(index: number): KmclChannel {
    const channel = new KmclChannel(
      { host: this.options.host, partition: this.options.partition },
      true,
    );
    channel.initSetTargetInterfaceId(SCSI_INTERFACE_TYPE, this.instance);
    channel.initSetMaximumPacketSize(64);
    channel.initSetFriendlyName(index === 0 ? 'SCSI' : `SCSI queue ${index}`);
    channel.initSetProcessPacketCallbacks(
      (c, p, buf, len, flags) => void this.process(c, index === 0, p, buf, len, flags),
    );
    channel.initSetStateChangeCallbacks({
      Version: 1,
      Size: 48,
      EvtChannelClosed: () => {
        // The guest re-runs initialization after reopening the primary (§4.2).
        if (index === 0) {
          this.stage = 'begin';
          this.version = 0;
        }
      },
    });
    channel.targetSubchannelIndex = index;
    channel.enable();
    channel.start();
    this.channels.push(channel);
    return channel;
  }

  private fatal(packet: KmclIncoming, code: string, reason: string): void {
    this.stats.fatal++;
    this.log.violation(code, reason);
    packet.channel.failPacket(packet);
  }

  private async process(
    channel: KmclChannel,
    primary: boolean,
    packet: KmclIncoming,
    buf: Uint8Array,
    len: number,
    flags: number,
  ): Promise<void> {
    this.stats.requests++;
    if (len < 12)
      return this.fatal(
        packet,
        'VSTOR_SHORT_PACKET',
        `A VSTOR packet of ${len} bytes has no header`,
      );
    if (!packet.completionRequested)
      return this.fatal(
        packet,
        'VSTOR_NOT_TRANSACTIONAL',
        'A VSTOR request did not ask for a completion',
      );
    const view = new DataView(buf.buffer, buf.byteOffset, len);
    const op = view.getUint32(0, true);
    const size = Math.min(64, Math.max(16, len));
    const reply = new Uint8Array(64);
    const out = new DataView(reply.buffer);
    out.setUint32(0, VSTOR_OP.COMPLETE_IO, true);
    const answer = (status: number) => {
      out.setUint32(8, status >>> 0, true);
      channel.completePacket(packet, reply, size);
    };
    switch (op) {
      case VSTOR_OP.BEGIN_INITIALIZATION:
        if (!primary || this.stage !== 'begin') return answer(VSTOR_STATUS.INVALID_DEVICE_STATE);
        this.stage = 'version';
        return answer(VSTOR_STATUS.SUCCESS);
      case VSTOR_OP.QUERY_PROTOCOL_VERSION: {
        if (len < 16)
          return this.fatal(
            packet,
            'VSTOR_SHORT_PACKET',
            'QUERY_PROTOCOL_VERSION is shorter than 16 bytes',
          );
        const proposed = view.getUint16(12, true);
        out.setUint16(12, proposed, true);
        if (!primary || this.stage !== 'version') return answer(VSTOR_STATUS.INVALID_DEVICE_STATE);
        if (!this.versions.includes(proposed)) return answer(VSTOR_STATUS.REVISION_MISMATCH);
        this.version = proposed;
        this.stage = 'properties';
        return answer(VSTOR_STATUS.SUCCESS);
      }
      case VSTOR_OP.QUERY_PROPERTIES: {
        if (!primary || this.stage !== 'properties')
          return answer(VSTOR_STATUS.INVALID_DEVICE_STATE);
        const multi = this.version >= 0x0501 && this.maxSubchannels > 0;
        out.setUint16(16, multi ? this.maxSubchannels : 0, true);
        out.setUint32(20, multi ? STORAGE_CHANNEL_SUPPORTS_MULTI_CHANNEL : 0, true);
        out.setUint32(24, this.options.maxTransferBytes ?? 0x40000, true);
        this.stage = 'end';
        return answer(VSTOR_STATUS.SUCCESS);
      }
      case VSTOR_OP.END_INITIALIZATION:
        if (!primary || this.stage !== 'end') return answer(VSTOR_STATUS.INVALID_DEVICE_STATE);
        this.stage = 'ready';
        answer(VSTOR_STATUS.SUCCESS);
        if (this.busChangePending) this.sendEnumerateBus();
        return;
      case VSTOR_OP.CREATE_SUB_CHANNELS: {
        if (len < 14)
          return this.fatal(
            packet,
            'VSTOR_SHORT_PACKET',
            'CREATE_SUB_CHANNELS is shorter than 14 bytes',
          );
        const count = view.getUint16(12, true);
        if (!primary || (this.stage !== 'end' && this.stage !== 'ready') || this.version < 0x0501) {
          return answer(VSTOR_STATUS.INVALID_DEVICE_STATE);
        }
        if (this.subchannels + count > this.maxSubchannels)
          return answer(VSTOR_STATUS.INVALID_PARAMETER);
        answer(VSTOR_STATUS.SUCCESS);
        for (let i = 0; i < count; i++) this.addChannel(++this.subchannels);
        return;
      }
      case VSTOR_OP.RESET_LUN:
      case VSTOR_OP.RESET_ADAPTER:
      case VSTOR_OP.RESET_BUS:
        return answer(
          this.stage === 'ready' ? VSTOR_STATUS.SUCCESS : VSTOR_STATUS.INVALID_DEVICE_STATE,
        );
      case VSTOR_OP.EXECUTE_SRB:
        if (this.stage !== 'ready') return answer(VSTOR_STATUS.INVALID_DEVICE_STATE);
        return this.executeSrb(channel, packet, buf, len, flags, reply, size);
      default:
        return this.fatal(
          packet,
          'VSTOR_UNRECOGNIZED_OPERATION',
          `Operation ${op} is not a request a guest may send`,
        );
    }
  }

  private async executeSrb(
    channel: KmclChannel,
    packet: KmclIncoming,
    buf: Uint8Array,
    len: number,
    flags: number,
    reply: Uint8Array,
    size: number,
  ): Promise<void> {
    this.stats.srbs++;
    // Missing SRB bytes read as zero (§8.1).
    const srb = new Uint8Array(0x34);
    srb.set(buf.subarray(12, Math.min(len, 12 + 0x34)));
    const s = new DataView(srb.buffer);
    const path = srb[5]!;
    const target = srb[6]!;
    const lun = srb[7]!;
    const dataIn = srb[10]!;
    const transferLength = s.getUint32(12, true);
    const cdb = srb.subarray(16, 32);
    let mdl: MemoryDescriptor | null = null;
    if (transferLength > 0) {
      if ((flags & VMBUS_CHANNEL_PROCESS_PACKET_FLAG_EXTERNAL_DATA) === 0) {
        return this.fatal(
          packet,
          'VSTOR_INVALID_DATA_TRANSFER_LENGTH',
          `data_transfer_length ${transferLength} without a data buffer`,
        );
      }
      let got: { status: number; mdl: MemoryDescriptor[] };
      try {
        got = channel.getExternalData(
          packet,
          dataIn === 1 ? 0 : VMBUS_CHANNEL_PACKET_EXTERNAL_DATA_FLAG_READ_ONLY,
        );
      } catch {
        return this.completeSrb(channel, packet, reply, size, this.invalidRequest(), cdb);
      }
      if (got.status === NTSTATUS.STATUS_PENDING) return;
      if (got.mdl.length !== 1 || (got.mdl[0]?.byteLength ?? 0) < transferLength) {
        return this.fatal(
          packet,
          'VSTOR_INVALID_DATA_TRANSFER_LENGTH',
          `${got.mdl.length} ranges for ${transferLength} bytes`,
        );
      }
      mdl = got.mdl[0]!;
    }
    let result: ScsiResult;
    const disk = path === 0 && target === 0 ? this.disks.get(lun) : undefined;
    if (cdb[0] === 0xa0) {
      result = this.reportLuns(path, target, mdl, transferLength);
    } else if (disk) {
      result = await disk.execute(cdb, dataIn, mdl, transferLength);
      if (
        result.srbStatus === SRB_STATUS.SUCCESS &&
        (cdb[0] === 0x28 || cdb[0] === 0x88 || cdb[0] === 0x08 || cdb[0] === 0xa8)
      ) {
        this.stats.bytesRead += result.transferred;
      } else if (
        result.srbStatus === SRB_STATUS.SUCCESS &&
        (cdb[0] === 0x2a || cdb[0] === 0x8a || cdb[0] === 0x0a || cdb[0] === 0xaa)
      ) {
        this.stats.bytesWritten += result.transferred;
      }
    } else if (cdb[0] === 0x12) {
      result = this.inquiryNoLun(lun, cdb, dataIn, mdl, transferLength);
    } else {
      result = {
        srbStatus: SRB_STATUS.INVALID_LUN,
        scsiStatus: SCSI_STATUS.CHECK_CONDITION,
        sense: null,
        transferred: 0,
      };
    }
    if (result.srbStatus !== SRB_STATUS.SUCCESS) this.stats.errors++;
    this.completeSrb(channel, packet, reply, size, result, cdb);
  }

  private invalidRequest(): ScsiResult {
    return {
      srbStatus: SRB_STATUS.INVALID_REQUEST | SRB_STATUS.AUTOSENSE_VALID,
      scsiStatus: SCSI_STATUS.CHECK_CONDITION,
      sense: senseData(5, 0x24),
      transferred: 0,
    };
  }

  private completeSrb(
    channel: KmclChannel,
    packet: KmclIncoming,
    reply: Uint8Array,
    size: number,
    result: ScsiResult,
    cdb: Uint8Array,
  ): void {
    const out = new DataView(reply.buffer);
    const failedQuirk =
      result.srbStatus !== SRB_STATUS.SUCCESS && (cdb[0] === 0x12 || cdb[0] === 0x1a);
    out.setUint32(8, srbToNtStatus(result.srbStatus) >>> 0, true);
    out.setUint16(12, srbLength(this.version), true);
    reply[14] = result.srbStatus;
    reply[15] = result.scsiStatus;
    reply[20] = 16;
    reply[21] = senseLength(this.version);
    out.setUint32(24, failedQuirk ? 0 : result.transferred, true);
    if (result.sense) reply.set(result.sense.subarray(0, senseLength(this.version)), 28);
    try {
      channel.completePacket(packet, reply, size);
    } catch {
      // The channel closed while the command ran: nothing to answer.
    }
  }

  private reportLuns(
    path: number,
    target: number,
    mdl: MemoryDescriptor | null,
    transferLength: number,
  ): ScsiResult {
    const luns = path === 0 && target === 0 ? [...this.disks.keys()].sort((a, b) => a - b) : [];
    const data = new Uint8Array(8 + 8 * luns.length);
    new DataView(data.buffer).setUint32(0, 8 * luns.length);
    for (const [i, lun] of luns.entries()) data[8 + 8 * i + 1] = lun;
    const n = transferLength < 8 ? 0 : Math.min(transferLength, data.length, mdl?.byteLength ?? 0);
    if (n > 0 && mdl) mdl.write(0, data.subarray(0, n));
    return {
      srbStatus: SRB_STATUS.SUCCESS,
      scsiStatus: SCSI_STATUS.GOOD,
      sense: null,
      transferred: n,
    };
  }

  private inquiryNoLun(
    lun: number,
    cdb: Uint8Array,
    dataIn: number,
    mdl: MemoryDescriptor | null,
    transferLength: number,
  ): ScsiResult {
    const alloc = ((cdb[3] ?? 0) << 8) | (cdb[4] ?? 0);
    if (dataIn !== 1 || transferLength < alloc || alloc < 5 || ((cdb[1] ?? 0) & 1) !== 0)
      return this.invalidRequest();
    const data = new Uint8Array(36);
    data[0] = 0x7f;
    if (lun === 0) {
      const any = this.disks.values().next().value;
      if (any) data.set(any.standardInquiry().subarray(1, 36), 1);
    }
    const n = Math.min(alloc, data.length, mdl?.byteLength ?? 0);
    if (n > 0 && mdl) mdl.write(0, data.subarray(0, n));
    return {
      srbStatus: SRB_STATUS.SUCCESS,
      scsiStatus: SCSI_STATUS.GOOD,
      sense: null,
      transferred: n,
    };
  }
}
