/**
 * The synthetic NIC's host side (netvsp), built on the public KMCL API
 * (spec nvsp.md): NVSP initialization and version negotiation (§3), the
 * guest's receive and send buffers as GPADLs (§4), RNDIS control (§6:
 * initialize, query and set of the listed OIDs, keepalive, halt, link
 * indications), frames from the guest through the send buffer or GPA-direct
 * ranges (§5.1) to a {@link VirtualSwitch}, and frames to the guest as
 * transfer-page packets into its receive buffer whose slots are reused only
 * after the guest completes them (§5.2); vRSS subchannels (§1.4).
 *
 * Everything the guest writes is hostile (§8.1): a violation is answered
 * with a failure status or a dropped frame and a rate-limited log line; the
 * channel keeps running and nothing is read outside guest memory.
 *
 * @module
 */

import { BusLog, type LogSink } from '../../bus/bus-log.js';
import { type PipeStats, sumPipeStats } from '../../bus/channel-pipe.js';
import type { HostPartition, VmbusHost } from '../../bus/vmbus-host.js';
import { KmclChannel } from '../../kmcl/kmcl-channel.js';
import { VMBUS_CHANNEL_PROCESS_PACKET_FLAG_EXTERNAL_DATA } from '../../kmcl/kmcl-constants.js';
import type { KmclIncoming } from '../../kmcl/kmcl-incoming.js';
import type { KmclPacket } from '../../kmcl/kmcl-packet.js';
import { NTSTATUS } from '../../status/ntstatus.js';
import { GuestBuffer } from './guest-buffer.js';
import {
  encodeNvsp,
  encodeNvsp3,
  formatMac,
  NIC_INTERFACE_TYPE,
  NVSP_MSG,
  NVSP_NO_SECTION,
  NVSP_STATUS,
  NVSP_VERSION,
  NVSP_VERSIONS_NEWEST_FIRST,
  nvspMessageSize,
  OID,
  parseMac,
  RECEIVE_CONTROL_SLOTS,
  RNDIS_MSG,
  RNDIS_PACKET_HEADER,
  RNDIS_STATUS,
  readU32,
  receiveSlotSize,
  SEND_SECTION_SIZE,
  writeRndisPacketHeader,
} from './nvsp-protocol.js';
import type { FrameTicket, SwitchPort, VirtualSwitch } from './virtual-switch.js';

/**
 * Options of a NIC's host side.
 *
 * @example
 * ```ts
 * import { createLocalBus, NetVsp, type NetVspOptions, VirtualSwitch } from 'vmbus-kmcl';
 * const bus = createLocalBus();
 * const options: NetVspOptions = { host: bus.host, partition: bus.partition, mac: '00:15:5d:00:00:01', switch: new VirtualSwitch() };
 * console.log(new NetVsp(options).macAddress); // 00:15:5d:00:00:01
 * bus.dispose();
 * ```
 */
export interface NetVspOptions {
  /** The host. */
  host: VmbusHost;
  /** The guest partition the NIC is offered to. */
  partition: HostPartition;
  /** The NIC's MAC address (answered to OID_802_3_PERMANENT_ADDRESS). */
  mac: string | Uint8Array;
  /** The switch the NIC plugs into (frames go nowhere without one). */
  switch?: VirtualSwitch;
  /** Instance GUID. */
  instance?: string;
  /** NVSP versions accepted (default all six of spec §3.1). */
  versions?: readonly number[];
  /** Queues (primary + subchannels) a guest may use at NVSP ≥ 5 (default 1: no vRSS). */
  maxQueues?: number;
  /** Link speed in 100 bit/s units (default 10 Gbit/s). */
  linkSpeed?: number;
  /** Frames the host holds for the guest while its receive slots are in use (default 512). */
  queueFrames?: number;
  /** Violation log sink. */
  log?: LogSink;
}

/**
 * Counters of a NIC's host side.
 *
 * @example
 * ```ts
 * import { createLocalBus, NetVsp, type NetVspStats } from 'vmbus-kmcl';
 * const bus = createLocalBus();
 * const stats: NetVspStats = new NetVsp({ host: bus.host, partition: bus.partition, mac: '00:15:5d:00:00:01' }).stats;
 * console.log(stats.framesFromGuest); // 0
 * bus.dispose();
 * ```
 */
export interface NetVspStats {
  /** Frames the guest sent. */
  framesFromGuest: number;
  /** Frames written into the guest's receive buffer. */
  framesToGuest: number;
  /** Payload bytes each way. */
  bytesFromGuest: number;
  bytesToGuest: number;
  /** Transfer-page packets sent (each carries one or more frames). */
  receivePackets: number;
  /** RNDIS control messages handled. */
  controlMessages: number;
  /** Frames dropped: malformed, above the MTU, packet filter 0, guest's buffer gone. */
  framesDropped: number;
  /** SEND_RNDIS_PKT completed with a failure status. */
  failedSends: number;
}

interface TxRecord extends FrameTicket {
  token: KmclIncoming | null;
  channel: KmclChannel | null;
  pending: number;
  status: number;
}

interface RxRecord {
  slots: Int32Array;
  count: number;
  control: boolean;
  external: TransferPages;
}

interface TransferPages {
  kind: 'transfer-pages';
  setId: number;
  count: number;
  byteCount: Uint32Array;
  byteOffset: Uint32Array;
}

const MAX_RANGES = 64;
const MAX_STREAM = 64 * 1024;
const MIN_MTU = 1514;
const MAX_MTU = 9216;
const NDIS_OFFLOAD_SIZE = 156;

/**
 * The host side of a synthetic NIC.
 *
 * @example
 * ```ts
 * import { createLocalBus, NetVsp, VirtualSwitch } from 'vmbus-kmcl';
 * const bus = createLocalBus();
 * const vsp = new NetVsp({ host: bus.host, partition: bus.partition, mac: '00:15:5d:00:00:01', switch: new VirtualSwitch() });
 * vsp.start(); // offers the NIC; a NetVsc in the guest can now connect
 * await vsp.stop();
 * bus.dispose();
 * ```
 */
export class NetVsp implements SwitchPort {
  /** Counters. */
  readonly stats: NetVspStats = {
    framesFromGuest: 0,
    framesToGuest: 0,
    bytesFromGuest: 0,
    bytesToGuest: 0,
    receivePackets: 0,
    controlMessages: 0,
    framesDropped: 0,
    failedSends: 0,
  };
  /** Violations by the guest. */
  readonly log: BusLog;
  /** The NIC's instance GUID. */
  readonly instance: string;
  /** The NIC's address. */
  readonly mac: Uint8Array;
  /** For the switch's statistics. */
  readonly name: string;
  private readonly options: NetVspOptions;
  private readonly versions: readonly number[];
  private readonly maxQueues: number;
  private readonly channels: KmclChannel[] = [];
  private version = 0;
  private ndisVersion = 0;
  private mtu = MIN_MTU;
  private configured = false;
  private recv: GuestBuffer | null = null;
  private recvHandle = 0;
  private recvId = 0;
  private slotSize = 0;
  private slotCount = 0;
  private readonly freeData: number[] = [];
  private readonly freeControl: number[] = [];
  private send: GuestBuffer | null = null;
  private sendHandle = 0;
  private rndis: 'uninitialized' | 'initialized' | 'halted' = 'uninitialized';
  private filter = 0;
  private link = true;
  private subchannelsGranted = 0;
  private indirectionSent = false;
  // Host-side queue of frames for the guest: a fixed pool of frame buffers.
  private readonly queueBytes: Uint8Array;
  private readonly queueLength: Int32Array;
  private readonly queueTicket: (FrameTicket | null)[];
  private readonly queueCapacity: number;
  private queueHead = 0;
  private queueCount = 0;
  private readonly controlQueue: Uint8Array[] = [];
  private drainScheduled = false;
  private readonly txPool: TxRecord[] = [];
  private readonly rxPool: RxRecord[] = [];
  private readonly stream = new Uint8Array(MAX_STREAM);
  private readonly streamView = new DataView(this.stream.buffer);
  private readonly reply = new Uint8Array(40);
  private readonly replyView = new DataView(this.reply.buffer);
  private readonly rxMessage = new Uint8Array(40);
  private readonly rxView = new DataView(this.rxMessage.buffer);
  private readonly header = new Uint8Array(RNDIS_PACKET_HEADER);
  private readonly headerView = new DataView(this.header.buffer);
  private nextChannel = 0;
  private readonly drainNow = () => {
    this.drainScheduled = false;
    this.drain();
  };

  /** @param options - host, partition, MAC address, switch and limits */
  constructor(options: NetVspOptions) {
    this.options = options;
    this.mac =
      typeof options.mac === 'string' ? parseMac(options.mac) : Uint8Array.from(options.mac);
    if (this.mac.length !== 6) throw new RangeError('A MAC address has 6 bytes');
    this.name = formatMac(this.mac);
    this.instance = options.instance ?? `d34b0002-0000-4000-8000-${this.name.replaceAll(':', '')}`;
    this.versions = options.versions ?? NVSP_VERSIONS_NEWEST_FIRST;
    this.maxQueues = Math.max(1, Math.min(64, options.maxQueues ?? 1));
    this.log = new BusLog(options.log);
    this.queueCapacity = Math.max(1, options.queueFrames ?? 512);
    this.queueBytes = new Uint8Array(this.queueCapacity * MAX_MTU);
    this.queueLength = new Int32Array(this.queueCapacity);
    this.queueTicket = new Array(this.queueCapacity).fill(null);
  }

  /** The MAC address as text. */
  get macAddress(): string {
    return this.name;
  }

  /** The negotiated NVSP version (0 before). */
  get protocolVersion(): number {
    return this.version;
  }

  /** The guest's RNDIS packet filter (0 until the guest sets one). */
  get packetFilter(): number {
    return this.rndis === 'initialized' && this.recv ? this.filter : 0;
  }

  /** Whether RNDIS is initialized and the receive buffer is in place. */
  get ready(): boolean {
    return this.rndis === 'initialized' && this.recv !== null;
  }

  /** Frames waiting in the host for receive slots. */
  get queuedFrames(): number {
    return this.queueCount;
  }

  /** Receive slots the guest has not completed yet. */
  get slotsInUse(): number {
    return this.slotCount === 0
      ? 0
      : this.slotCount - this.freeData.length - this.freeControl.length;
  }

  /** Open queues (primary + subchannels). */
  get openQueues(): number {
    return this.channels.filter((c) => c.state === 'opened').length;
  }

  /**
   * Ring-level counters of the NIC's channels on the host side, added up.
   *
   * @returns packets and bytes each way, interrupts, the ring high-water mark
   */
  get channelStats(): PipeStats {
    return sumPipeStats(this.channels.map((c) => c.pipeStats));
  }

  /**
   * Ring-level counters per queue (primary first), host side.
   *
   * @returns one entry per channel; null for one that never opened
   */
  get queueStats(): (PipeStats | null)[] {
    return this.channels.map((c) => c.pipeStats);
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

  /** Offers the NIC (its primary channel) and plugs it into the switch. */
  start(): void {
    this.addChannel(0);
    this.options.switch?.attach(this);
  }

  /** Unplugs the NIC and disables its channels. */
  async stop(): Promise<void> {
    this.options.switch?.detach(this);
    await Promise.all(this.channels.map((c) => c.disable()));
    this.dropQueue();
  }

  /**
   * Sets the link state; the guest gets MEDIA_CONNECT or MEDIA_DISCONNECT
   * (spec nvsp.md §6.3 INDICATE_STATUS) once RNDIS is initialized.
   *
   * @param up - connected
   */
  setLink(up: boolean): void {
    if (up === this.link) return;
    this.link = up;
    if (this.rndis !== 'initialized') return;
    const m = new Uint8Array(20);
    const v = new DataView(m.buffer);
    v.setUint32(0, RNDIS_MSG.INDICATE_STATUS, true);
    v.setUint32(4, 20, true);
    v.setUint32(8, up ? RNDIS_STATUS.MEDIA_CONNECT : RNDIS_STATUS.MEDIA_DISCONNECT, true);
    this.queueControl(m);
  }

  // ------------------------------------------------------------------
  // Channels.

  private addChannel(index: number): KmclChannel {
    const channel = new KmclChannel(
      { host: this.options.host, partition: this.options.partition },
      true,
    );
    channel.initSetTargetInterfaceId(NIC_INTERFACE_TYPE, this.instance);
    channel.initSetMaximumPacketSize(128);
    channel.initSetFriendlyName(index === 0 ? 'Network Adapter' : `Network Adapter queue ${index}`);
    channel.initSetProcessPacketCallbacks((c, p, buf, len, flags) =>
      this.process(c, index === 0, p, buf, len, flags),
    );
    channel.initSetStateChangeCallbacks({
      Version: 1,
      Size: 48,
      EvtChannelPostStarted: () => {
        if (index > 0) this.maybeSendIndirectionTable();
      },
      EvtChannelClosed: () => {
        if (index === 0) this.reset();
      },
    });
    channel.targetSubchannelIndex = index;
    channel.enable();
    channel.start();
    this.channels.push(channel);
    return channel;
  }

  /** The guest closed the primary: it will start over with INIT (spec §7 teardown). */
  private reset(): void {
    this.version = 0;
    this.ndisVersion = 0;
    this.mtu = MIN_MTU;
    this.configured = false;
    this.rndis = 'uninitialized';
    this.filter = 0;
    this.releaseReceiveBuffer();
    this.releaseSendBuffer();
    this.dropQueue();
    this.controlQueue.length = 0;
    this.indirectionSent = false;
  }

  private releaseReceiveBuffer(): void {
    if (this.recv) unmapQuietly(this.channels[0], this.recvHandle);
    this.recv = null;
    this.slotCount = 0;
    this.freeData.length = 0;
    this.freeControl.length = 0;
  }

  private releaseSendBuffer(): void {
    if (this.send) unmapQuietly(this.channels[0], this.sendHandle);
    this.send = null;
  }

  private violation(code: string, reason: string): void {
    this.log.violation(code, `NIC ${this.name}: ${reason}`);
  }

  // ------------------------------------------------------------------
  // NVSP (spec §2-§4).

  private process(
    channel: KmclChannel,
    primary: boolean,
    token: KmclIncoming,
    buf: Uint8Array,
    len: number,
    flags: number,
  ): void {
    if (len < 4) {
      this.violation('NVSP_SHORT_MESSAGE', `a ${len}-byte NVSP message has no type`);
      return this.finish(channel, token, 0, NVSP_STATUS.FAILURE);
    }
    const view = new DataView(buf.buffer, buf.byteOffset, len);
    const type = view.getUint32(0, true);
    const need = MIN_LENGTH[type];
    if (need !== undefined && len < need) {
      this.violation('NVSP_SHORT_MESSAGE', `NVSP type ${type} needs ${need} bytes, got ${len}`);
      return this.finish(channel, token, replyTypeOf(type), NVSP_STATUS.FAILURE);
    }
    if (type !== NVSP_MSG.INIT && this.version === 0) {
      this.violation('NVSP_BEFORE_INIT', `NVSP type ${type} before a version was negotiated`);
      return this.finish(channel, token, replyTypeOf(type), NVSP_STATUS.FAILURE);
    }
    if (!primary && type !== NVSP_MSG.SEND_RNDIS_PKT) {
      this.violation('NVSP_ON_SUBCHANNEL', `NVSP type ${type} on a subchannel`);
      return this.finish(channel, token, replyTypeOf(type), NVSP_STATUS.FAILURE);
    }
    switch (type) {
      case NVSP_MSG.INIT:
        return this.onInit(channel, token, view);
      case NVSP_MSG.SEND_NDIS_VERSION:
        if (this.ndisVersion !== 0) this.violation('NVSP_ORDER', 'a second SEND_NDIS_VERSION');
        else
          this.ndisVersion = (view.getUint32(4, true) << 16) | (view.getUint32(8, true) & 0xffff);
        return this.finish(channel, token, 0, 0);
      case NVSP_MSG.SEND_NDIS_CONFIG: {
        if (this.version < NVSP_VERSION.V2) break;
        if (this.configured) {
          this.violation('NVSP_ORDER', 'a second SEND_NDIS_CONFIG');
          return this.finish(channel, token, 0, 0);
        }
        const mtu = view.getUint32(4, true);
        // spec §3.4: accepted in [1514, 9216], else silently 1514.
        this.mtu = mtu >= MIN_MTU && mtu <= MAX_MTU ? mtu : MIN_MTU;
        this.configured = true;
        return this.finish(channel, token, 0, 0);
      }
      case NVSP_MSG.SEND_RECV_BUF:
        return this.onReceiveBuffer(channel, token, view);
      case NVSP_MSG.SEND_SEND_BUF:
        return this.onSendBuffer(channel, token, view);
      case NVSP_MSG.REVOKE_RECV_BUF:
        // spec §4.4: stop using it at once; the GPADL teardown follows.
        this.releaseReceiveBuffer();
        this.dropQueue();
        return this.finish(channel, token, 0, 0);
      case NVSP_MSG.REVOKE_SEND_BUF:
        this.releaseSendBuffer();
        return this.finish(channel, token, 0, 0);
      case NVSP_MSG.SEND_RNDIS_PKT:
        return this.onRndisPacket(channel, primary, token, view, flags);
      case NVSP_MSG.SWITCH_DATA_PATH:
        if (this.version < NVSP_VERSION.V4) break;
        return this.finish(channel, token, 0, 0);
      case NVSP_MSG.SUBCHANNEL:
        if (this.version < NVSP_VERSION.V5) break;
        return this.onSubchannels(channel, token, view);
      case NVSP_MSG.OID_QUERY_EX:
        if (this.version < NVSP_VERSION.V5) break;
        return this.finish(
          channel,
          token,
          NVSP_MSG.OID_QUERY_EX_COMPLETE,
          RNDIS_STATUS.NOT_SUPPORTED,
        );
    }
    this.violation(
      'NVSP_UNKNOWN_TYPE',
      `NVSP type ${type} is not allowed at version 0x${this.version.toString(16)}`,
    );
    return this.finish(channel, token, 0, 0);
  }

  /**
   * Completes a guest packet: with an NVSP `{replyType, status, ...more}`
   * message, or empty when `replyType` is 0 (spec §2.1); nothing goes back
   * when the guest did not ask for a completion.
   */
  private finish(
    channel: KmclChannel,
    token: KmclIncoming,
    replyType: number,
    status: number,
    ...more: number[]
  ): void {
    if (token.state === 'completed' || token.state === 'free') return;
    if (replyType === 0) return channel.completePacket(token, null, 0);
    encodeNvsp(this.reply, replyType, status, ...more);
    channel.completePacket(token, this.reply, nvspMessageSize(this.version));
  }

  private onInit(channel: KmclChannel, token: KmclIncoming, view: DataView): void {
    const requested = view.getUint32(4, true);
    let status: number = NVSP_STATUS.NONE;
    if (this.version !== 0) {
      this.violation('NVSP_ORDER', 'INIT after a version was negotiated');
      status = NVSP_STATUS.FAILURE;
    } else if (this.versions.includes(requested)) {
      this.version = requested;
      status = NVSP_STATUS.SUCCESS;
    }
    // INIT_COMPLETE goes at the legacy 28-byte size, padded to 32 (spec §2.1, §9 A2).
    encodeNvsp(
      this.reply,
      NVSP_MSG.INIT_COMPLETE,
      this.version === NVSP_VERSION.V1 ? 2 : 0xffff_ffff,
      34,
      status,
    );
    if (token.completionRequested) channel.completePacket(token, this.reply, 32);
    else channel.completePacket(token, null, 0);
  }

  private onReceiveBuffer(channel: KmclChannel, token: KmclIncoming, view: DataView): void {
    const fail = (code: string, reason: string) => {
      this.violation(code, reason);
      this.finish(channel, token, NVSP_MSG.SEND_RECV_BUF_COMPLETE, NVSP_STATUS.FAILURE, 0);
    };
    if (this.version >= NVSP_VERSION.V2 && !this.configured)
      return fail('NVSP_ORDER', 'SEND_RECV_BUF before SEND_NDIS_CONFIG');
    if (this.recv) return fail('NVSP_ORDER', 'a second SEND_RECV_BUF');
    const handle = view.getUint32(4, true);
    const id = view.getUint16(8, true);
    const buffer = mapBuffer(channel, handle);
    if (typeof buffer === 'string')
      return fail('NVSP_BAD_GPADL', `receive buffer GPADL 0x${handle.toString(16)}: ${buffer}`);
    const slot = receiveSlotSize(this.mtu);
    const count = Math.floor(buffer.byteLength / slot);
    if (count <= RECEIVE_CONTROL_SLOTS) {
      channel.unmapGpadl(handle);
      return fail(
        'NVSP_BAD_GPADL',
        `a ${buffer.byteLength}-byte receive buffer holds no data slot of ${slot} bytes`,
      );
    }
    this.recv = buffer;
    this.recvHandle = handle;
    this.recvId = id;
    this.slotSize = slot;
    this.slotCount = count;
    this.freeControl.length = 0;
    for (let i = RECEIVE_CONTROL_SLOTS - 1; i >= 0; i--) this.freeControl.push(i);
    this.freeData.length = 0;
    for (let i = count - 1; i >= RECEIVE_CONTROL_SLOTS; i--) this.freeData.push(i);
    this.finish(
      channel,
      token,
      NVSP_MSG.SEND_RECV_BUF_COMPLETE,
      NVSP_STATUS.SUCCESS,
      1,
      0,
      slot,
      count,
      slot * count,
    );
  }

  private onSendBuffer(channel: KmclChannel, token: KmclIncoming, view: DataView): void {
    const fail = (code: string, reason: string) => {
      this.violation(code, reason);
      this.finish(channel, token, NVSP_MSG.SEND_SEND_BUF_COMPLETE, NVSP_STATUS.FAILURE, 0);
    };
    if (this.send) return fail('NVSP_ORDER', 'a second SEND_SEND_BUF');
    const handle = view.getUint32(4, true);
    const buffer = mapBuffer(channel, handle);
    if (typeof buffer === 'string')
      return fail('NVSP_BAD_GPADL', `send buffer GPADL 0x${handle.toString(16)}: ${buffer}`);
    this.send = buffer;
    this.sendHandle = handle;
    this.finish(
      channel,
      token,
      NVSP_MSG.SEND_SEND_BUF_COMPLETE,
      NVSP_STATUS.SUCCESS,
      SEND_SECTION_SIZE,
    );
  }

  private onSubchannels(channel: KmclChannel, token: KmclIncoming, view: DataView): void {
    const op = view.getUint32(4, true);
    const wanted = view.getUint32(8, true);
    // spec §1.4 grant rule: op 1, count below the queues configured, room in the receive buffer.
    const roomy = this.recv !== null && this.slotCount - RECEIVE_CONTROL_SLOTS >= wanted + 1;
    if (
      op !== 1 ||
      wanted < 1 ||
      wanted + 1 > this.maxQueues ||
      this.subchannelsGranted > 0 ||
      !roomy
    ) {
      return this.finish(channel, token, NVSP_MSG.SUBCHANNEL, NVSP_STATUS.FAILURE, 0);
    }
    this.subchannelsGranted = wanted;
    this.finish(channel, token, NVSP_MSG.SUBCHANNEL, NVSP_STATUS.SUCCESS, wanted);
    for (let i = 1; i <= wanted; i++) this.addChannel(i);
  }

  /** After every granted subchannel is open: SEND_INDIRECTION_TABLE (spec §1.4, §2.4). */
  private maybeSendIndirectionTable(): void {
    const open = this.channels.filter((c) => c.state === 'opened').length;
    if (this.indirectionSent || open < this.subchannelsGranted + 1) return;
    this.indirectionSent = true;
    const m = new Uint8Array(12 + 64);
    const v = new DataView(m.buffer);
    v.setUint32(0, NVSP_MSG.SEND_INDIRECTION_TABLE, true);
    v.setUint32(4, 16, true);
    v.setUint32(8, 12, true);
    for (let i = 0; i < 16; i++) v.setUint32(12 + 4 * i, i % open, true);
    const primary = this.channels[0]!;
    const packet = primary.allocatePacket();
    try {
      primary.send(packet, m, m.length, null, 0);
    } catch (e) {
      primary.freePacket(packet);
      this.violation('NVSP_TABLE_NOT_SENT', `the indirection table was not sent: ${e}`);
    }
  }

  // ------------------------------------------------------------------
  // Guest → host: SEND_RNDIS_PKT (spec §5.1, §8.1 items 6-18).

  private onRndisPacket(
    channel: KmclChannel,
    primary: boolean,
    token: KmclIncoming,
    view: DataView,
    flags: number,
  ): void {
    const fail = (code: string, reason: string) => {
      this.violation(code, reason);
      this.stats.failedSends++;
      this.finish(channel, token, NVSP_MSG.SEND_RNDIS_PKT_COMPLETE, NVSP_STATUS.FAILURE);
    };
    if (!token.completionRequested) {
      // spec §8.1 item 9: no transaction id to answer; the packet is dropped.
      this.violation('NVSP_NO_TRANSACTION', 'SEND_RNDIS_PKT without a completion request');
      this.stats.framesDropped++;
      return channel.completePacket(token, null, 0);
    }
    const index = view.getUint32(8, true);
    const size = view.getUint32(12, true);
    let length = 0;
    if (index !== NVSP_NO_SECTION) {
      const send = this.send;
      if (!send) return fail('NVSP_BAD_SECTION', `section ${index} without a send buffer`);
      // Stricter than openvmm: a message stays inside its section (spec §8.1 recommendation).
      if (
        size > SEND_SECTION_SIZE ||
        !send.contains(index * SEND_SECTION_SIZE, size) ||
        index >= send.byteLength / SEND_SECTION_SIZE
      )
        return fail(
          'NVSP_BAD_SECTION',
          `section ${index} (${size} bytes) lies outside the ${send.byteLength}-byte send buffer`,
        );
      send.read(index * SEND_SECTION_SIZE, this.stream, 0, size);
      length = size;
    }
    if ((flags & VMBUS_CHANNEL_PROCESS_PACKET_FLAG_EXTERNAL_DATA) !== 0) {
      let mdls: ReturnType<KmclChannel['getExternalData']>;
      try {
        mdls = channel.getExternalData(token, 0x1);
      } catch (e) {
        return fail('NVSP_BAD_RANGES', `GPA ranges refused: ${(e as Error).message}`);
      }
      if (mdls.status !== NTSTATUS.STATUS_SUCCESS)
        return fail(
          'NVSP_BAD_RANGES',
          `GPA ranges unavailable (0x${(mdls.status >>> 0).toString(16)})`,
        );
      for (const d of mdls.mdl) {
        if (length + d.byteLength > MAX_STREAM)
          return fail('NVSP_TOO_LONG', `an RNDIS stream above ${MAX_STREAM} bytes`);
        d.read(0, this.stream.subarray(length, length + d.byteLength));
        length += d.byteLength;
      }
    }
    if (length < 8) return fail('RNDIS_TOO_SMALL', `an RNDIS stream of ${length} bytes`);
    const first = this.streamView.getUint32(0, true);
    if (first === RNDIS_MSG.PACKET) return this.onFrames(channel, token, length);
    if (!primary)
      return fail('RNDIS_CONTROL_ON_SUBCHANNEL', 'an RNDIS control message on a subchannel');
    // Control: the NVSP completion first, the reply later in a receive slot (spec §6.4).
    const reply = this.control(length);
    this.finish(channel, token, NVSP_MSG.SEND_RNDIS_PKT_COMPLETE, NVSP_STATUS.SUCCESS);
    if (reply) this.queueControl(reply);
  }

  private onFrames(channel: KmclChannel, token: KmclIncoming, length: number): void {
    const v = this.streamView;
    const tx = this.txRecord(channel, token);
    // On any error the send completes with status 2 once no port holds its frames (spec §8.1 item 16).
    const bad = (code: string, reason: string) => {
      this.violation(code, reason);
      this.stats.failedSends++;
      tx.status = NVSP_STATUS.FAILURE;
      this.releaseTx(tx);
    };
    let at = 0;
    while (at < length) {
      if (length - at < RNDIS_PACKET_HEADER) {
        return bad('RNDIS_TOO_SMALL', `a PACKET_MSG header cut at ${length - at} bytes`);
      }
      const type = v.getUint32(at, true);
      const msgLen = v.getUint32(at + 4, true);
      if (type !== RNDIS_MSG.PACKET) {
        return bad('RNDIS_NOT_PACKET', `message type 0x${type.toString(16)} after a PACKET_MSG`);
      }
      // Bounded by the message's own msg_len (stricter than openvmm, spec §8.1).
      if (msgLen < RNDIS_PACKET_HEADER || msgLen > length - at) {
        return bad('RNDIS_BAD_LENGTH', `msg_len ${msgLen} at ${at} of a ${length}-byte stream`);
      }
      const dataOffset = v.getUint32(at + 8, true);
      const dataLen = v.getUint32(at + 12, true);
      const oob =
        v.getUint32(at + 16, true) | v.getUint32(at + 20, true) | v.getUint32(at + 24, true);
      const ppiOffset = v.getUint32(at + 28, true);
      const ppiLen = v.getUint32(at + 32, true);
      const body = msgLen - 8;
      if (oob !== 0 || v.getUint32(at + 36, true) !== 0) {
        return bad('RNDIS_UNSUPPORTED', 'out-of-band data or a VC handle in a PACKET_MSG');
      }
      if (dataLen === 0 || dataOffset < 36 || dataOffset > body || dataLen > body - dataOffset) {
        return bad('RNDIS_BAD_DATA', `data ${dataOffset}+${dataLen} outside a ${body}-byte body`);
      }
      if (ppiLen !== 0 && (ppiOffset < 36 || ppiOffset > body || ppiLen > body - ppiOffset)) {
        return bad(
          'RNDIS_BAD_PPI',
          `per-packet info ${ppiOffset}+${ppiLen} outside a ${body}-byte body`,
        );
      }
      // Each PPI record: a size that fits what is left, a payload inside the record (§8.1 item 14).
      let left = ppiLen;
      let rec = at + 8 + ppiOffset;
      while (left > 0) {
        const size = left >= 12 ? v.getUint32(rec, true) : 0;
        const payload = left >= 12 ? v.getUint32(rec + 8, true) : 0;
        if (size < 12 || size > left || payload < 12 || payload > size) {
          return bad(
            'RNDIS_BAD_PPI',
            `a per-packet info record of ${size} bytes (payload at ${payload}) with ${left} left`,
          );
        }
        rec += size;
        left -= size;
      }
      const start = at + 8 + dataOffset;
      this.stats.framesFromGuest++;
      this.stats.bytesFromGuest += dataLen;
      if (dataLen > this.mtu || dataLen < 14) {
        // A frame above the MTU (or a runt) is dropped; the rest go on.
        this.stats.framesDropped++;
        this.violation('NET_FRAME_SIZE', `a ${dataLen}-byte frame (MTU ${this.mtu})`);
      } else if (this.filter === 0 || this.rndis !== 'initialized') {
        this.stats.framesDropped++;
      } else {
        this.options.switch?.forward(this, this.stream.subarray(start, start + dataLen), tx);
      }
      at += msgLen;
    }
    this.releaseTx(tx);
  }

  private txRecord(channel: KmclChannel, token: KmclIncoming): TxRecord {
    let tx = this.txPool.pop();
    if (!tx) {
      const record: TxRecord = {
        token: null,
        channel: null,
        pending: 0,
        status: NVSP_STATUS.SUCCESS,
        hold: () => {
          record.pending++;
        },
        release: () => this.releaseTx(record),
      };
      tx = record;
    }
    tx.token = token;
    tx.channel = channel;
    tx.pending = 1;
    tx.status = NVSP_STATUS.SUCCESS;
    return tx;
  }

  /** One holder less; at none, the guest's send completes (spec §5.1). */
  private releaseTx(tx: TxRecord): void {
    if (--tx.pending > 0) return;
    const { channel, token } = tx;
    tx.token = null;
    tx.channel = null;
    this.txPool.push(tx);
    if (!channel || !token || token.state === 'completed' || token.state === 'free') return;
    encodeNvsp3(this.reply, NVSP_MSG.SEND_RNDIS_PKT_COMPLETE, tx.status, 0, 0, this.replyView);
    try {
      channel.completePacket(token, this.reply, nvspMessageSize(this.version));
    } catch {
      // the channel closed meanwhile; the token went with it
    }
  }

  // ------------------------------------------------------------------
  // RNDIS control (spec §6.3-§6.6).

  /** Handles one control message in `stream[0, length)`; returns the reply, if any. */
  private control(length: number): Uint8Array | null {
    const v = this.streamView;
    const type = v.getUint32(0, true);
    const msgLen = v.getUint32(4, true);
    this.stats.controlMessages++;
    if (msgLen < 12 || msgLen > length) {
      this.violation('RNDIS_BAD_LENGTH', `control msg_len ${msgLen} in a ${length}-byte stream`);
      return null;
    }
    const requestId = v.getUint32(8, true);
    switch (type) {
      case RNDIS_MSG.INITIALIZE: {
        if (msgLen < 24) break;
        if (this.rndis === 'initialized') {
          this.violation('RNDIS_STATE', 'a second INITIALIZE_MSG');
          return null;
        }
        this.rndis = 'initialized';
        const r = new Uint8Array(52);
        const w = new DataView(r.buffer);
        w.setUint32(0, RNDIS_MSG.INITIALIZE_CMPLT, true);
        w.setUint32(4, 52, true);
        w.setUint32(8, requestId, true);
        w.setUint32(12, RNDIS_STATUS.SUCCESS, true);
        w.setUint32(16, 1, true);
        w.setUint32(20, 0, true);
        w.setUint32(24, 1, true);
        w.setUint32(28, 0, true);
        w.setUint32(32, 8, true);
        w.setUint32(36, 0xefff_ffff, true);
        w.setUint32(40, 3, true);
        return r;
      }
      case RNDIS_MSG.HALT:
        // No reply (spec §6.3); data stops until the guest initializes again.
        this.rndis = 'halted';
        this.filter = 0;
        return null;
      case RNDIS_MSG.KEEPALIVE: {
        const r = new Uint8Array(16);
        const w = new DataView(r.buffer);
        w.setUint32(0, RNDIS_MSG.KEEPALIVE_CMPLT, true);
        w.setUint32(4, 16, true);
        w.setUint32(8, requestId, true);
        w.setUint32(12, RNDIS_STATUS.SUCCESS, true);
        return r;
      }
      case RNDIS_MSG.QUERY:
        if (msgLen < 28) break;
        return this.query(requestId, v.getUint32(12, true));
      case RNDIS_MSG.SET: {
        if (msgLen < 28) break;
        const oid = v.getUint32(12, true);
        const inLen = v.getUint32(16, true);
        const inOffset = v.getUint32(20, true);
        // The value must lie inside the message (offsets from byte 8).
        const inside = inOffset <= msgLen - 8 && inLen <= msgLen - 8 - inOffset;
        return this.set(requestId, oid, inside ? 8 + inOffset : -1, inside ? inLen : 0);
      }
    }
    this.violation(
      'RNDIS_UNKNOWN',
      `control message type 0x${type.toString(16)} (${msgLen} bytes) is not accepted from a guest`,
    );
    return null;
  }

  private query(requestId: number, oid: number): Uint8Array {
    let value: Uint8Array | null = null;
    const u32 = (x: number) => {
      const b = new Uint8Array(4);
      new DataView(b.buffer).setUint32(0, x >>> 0, true);
      return b;
    };
    switch (oid) {
      case OID.GEN_MAXIMUM_FRAME_SIZE:
        value = u32(this.mtu - 14);
        break;
      case OID.GEN_MAXIMUM_TOTAL_SIZE:
        value = u32(this.mtu);
        break;
      case OID.GEN_LINK_SPEED:
        value = u32(this.options.linkSpeed ?? 100_000_000);
        break;
      case OID.GEN_MEDIA_CONNECT_STATUS:
        value = u32(this.link ? 0 : 1);
        break;
      case OID.GEN_HARDWARE_STATUS:
      case OID.GEN_MEDIA_SUPPORTED:
      case OID.GEN_MEDIA_IN_USE:
      case OID.MAXIMUM_LIST_SIZE:
        value = u32(0);
        break;
      case OID.GEN_CURRENT_PACKET_FILTER:
        value = u32(this.filter);
        break;
      case OID.GEN_VENDOR_ID:
        value = u32(0x155d);
        break;
      case OID.GEN_VENDOR_DESCRIPTION:
        value = new TextEncoder().encode('vmbus-kmcl');
        break;
      case OID.PERMANENT_ADDRESS:
      case OID.CURRENT_ADDRESS:
        value = Uint8Array.from(this.mac);
        break;
      case OID.TCP_OFFLOAD_HARDWARE_CAPABILITIES: {
        // Declining offloads: the header, rev 3 / 156 bytes, everything else 0 (spec §6.6).
        value = new Uint8Array(NDIS_OFFLOAD_SIZE);
        value[0] = 0xa7;
        value[1] = 3;
        new DataView(value.buffer).setUint16(2, NDIS_OFFLOAD_SIZE, true);
        break;
      }
      case OID.GEN_RECEIVE_SCALE_CAPABILITIES: {
        if (this.version < NVSP_VERSION.V5) break;
        value = new Uint8Array(18);
        const w = new DataView(value.buffer);
        value[0] = 0x88;
        value[1] = 2;
        w.setUint16(2, 18, true);
        w.setUint32(4, 0x301, true);
        w.setUint32(8, 1, true);
        w.setUint32(12, this.maxQueues, true);
        w.setUint16(16, 128, true);
        break;
      }
    }
    const n = value?.length ?? 0;
    const r = new Uint8Array(24 + n);
    const w = new DataView(r.buffer);
    w.setUint32(0, RNDIS_MSG.QUERY_CMPLT, true);
    w.setUint32(4, 24 + n, true);
    w.setUint32(8, requestId, true);
    w.setUint32(12, value ? RNDIS_STATUS.SUCCESS : RNDIS_STATUS.NOT_SUPPORTED, true);
    w.setUint32(16, n, true);
    w.setUint32(20, 16, true);
    if (value) r.set(value, 24);
    return r;
  }

  private set(requestId: number, oid: number, at: number, length: number): Uint8Array {
    const v = this.streamView;
    let status: number = RNDIS_STATUS.SUCCESS;
    if (at < 0) {
      this.violation('RNDIS_BAD_SET', `SET 0x${oid.toString(16)} with a value outside the message`);
      status = RNDIS_STATUS.INVALID_DATA;
    } else {
      switch (oid) {
        case OID.GEN_CURRENT_PACKET_FILTER:
          if (length < 4) status = RNDIS_STATUS.INVALID_DATA;
          else this.filter = v.getUint32(at, true);
          break;
        case OID.TCP_OFFLOAD_PARAMETERS:
          // spec §6.6: type 0x80, revision >= 1, declared size >= 20 and within what was sent.
          if (
            length < 20 ||
            this.stream[at] !== 0x80 ||
            this.stream[at + 1]! < 1 ||
            v.getUint16(at + 2, true) < 20 ||
            v.getUint16(at + 2, true) > length
          )
            status = RNDIS_STATUS.INVALID_DATA;
          break;
        case OID.GEN_RECEIVE_SCALE_PARAMETERS:
          status = this.maxQueues > 1 ? RNDIS_STATUS.SUCCESS : RNDIS_STATUS.NOT_SUPPORTED;
          break;
        case OID.GEN_RNDIS_CONFIG_PARAMETER:
        case OID.GEN_NETWORK_LAYER_ADDRESSES:
          break;
        default:
          status = RNDIS_STATUS.NOT_SUPPORTED;
      }
    }
    const r = new Uint8Array(16);
    const w = new DataView(r.buffer);
    w.setUint32(0, RNDIS_MSG.SET_CMPLT, true);
    w.setUint32(4, 16, true);
    w.setUint32(8, requestId, true);
    w.setUint32(12, status, true);
    return r;
  }

  // ------------------------------------------------------------------
  // Host → guest: transfer-page packets into the receive buffer (spec §5.2).

  /**
   * The switch hands the NIC a frame for its guest: copied into the host
   * queue; false when the queue is full, the frame exceeds the MTU or the
   * guest cannot receive.
   *
   * @param frame - the frame
   * @param ticket - held until the frame has been written for the guest
   * @returns whether the NIC took it
   */
  accept(frame: Uint8Array, ticket: FrameTicket | null): boolean {
    if (!this.recv || frame.length > this.mtu || this.queueCount === this.queueCapacity)
      return false;
    const at = (this.queueHead + this.queueCount) % this.queueCapacity;
    this.queueBytes.set(frame, at * MAX_MTU);
    this.queueLength[at] = frame.length;
    this.queueTicket[at] = ticket;
    ticket?.hold();
    this.queueCount++;
    this.scheduleDrain();
    return true;
  }

  private scheduleDrain(): void {
    if (this.drainScheduled) return;
    this.drainScheduled = true;
    queueMicrotask(this.drainNow);
  }

  private queueControl(message: Uint8Array): void {
    if (this.controlQueue.length >= 64) {
      this.violation(
        'RNDIS_CONTROL_BACKLOG',
        'more than 64 control replies wait for receive slots',
      );
      return;
    }
    this.controlQueue.push(message);
    this.scheduleDrain();
  }

  private rxRecord(): RxRecord {
    return (
      this.rxPool.pop() ?? {
        slots: new Int32Array(MAX_RANGES),
        count: 0,
        control: false,
        external: {
          kind: 'transfer-pages',
          setId: 0,
          count: 0,
          byteCount: new Uint32Array(MAX_RANGES),
          byteOffset: new Uint32Array(MAX_RANGES),
        },
      }
    );
  }

  /** Moves queued control replies and frames into free receive slots. */
  private drain(): void {
    const recv = this.recv;
    const primary = this.channels[0];
    if (!recv || !primary || primary.state !== 'opened') return;
    while (this.controlQueue.length > 0 && this.freeControl.length > 0) {
      const message = this.controlQueue.shift()!;
      const rx = this.rxRecord();
      const slot = this.freeControl.pop()!;
      const n = Math.min(message.length, this.slotSize);
      recv.write(slot * this.slotSize, message, 0, n);
      rx.slots[0] = slot;
      rx.count = 1;
      rx.control = true;
      rx.external.byteCount[0] = n;
      rx.external.byteOffset[0] = slot * this.slotSize;
      this.sendReceive(primary, rx, 1);
    }
    while (this.queueCount > 0 && this.freeData.length > 0) {
      const rx = this.rxRecord();
      rx.count = 0;
      rx.control = false;
      while (this.queueCount > 0 && this.freeData.length > 0 && rx.count < MAX_RANGES) {
        const q = this.queueHead;
        const length = this.queueLength[q]!;
        const slot = this.freeData.pop()!;
        const offset = slot * this.slotSize;
        writeRndisPacketHeader(
          this.header,
          0,
          length,
          RNDIS_PACKET_HEADER + length,
          this.headerView,
        );
        recv.write(offset, this.header, 0, RNDIS_PACKET_HEADER);
        recv.write(offset + RNDIS_PACKET_HEADER, this.queueBytes, q * MAX_MTU, length);
        rx.slots[rx.count] = slot;
        rx.external.byteCount[rx.count] = RNDIS_PACKET_HEADER + length;
        rx.external.byteOffset[rx.count] = offset;
        rx.count++;
        this.stats.framesToGuest++;
        this.stats.bytesToGuest += length;
        const ticket = this.queueTicket[q];
        this.queueTicket[q] = null;
        this.queueHead = (q + 1) % this.queueCapacity;
        this.queueCount--;
        ticket?.release();
      }
      // Spread receives over the open queues (vRSS, spec §1.4).
      const channel = this.pickChannel();
      this.sendReceive(channel, rx, 0);
    }
  }

  private pickChannel(): KmclChannel {
    const n = this.subchannelsGranted + 1;
    for (let tries = 0; tries < n; tries++) {
      const c = this.channels[this.nextChannel++ % n];
      if (c && c.state === 'opened') return c;
    }
    return this.channels[0]!;
  }

  private sendReceive(channel: KmclChannel, rx: RxRecord, channelType: number): void {
    rx.external.setId = this.recvId;
    rx.external.count = rx.count;
    encodeNvsp3(
      this.rxMessage,
      NVSP_MSG.SEND_RNDIS_PKT,
      channelType,
      NVSP_NO_SECTION,
      0,
      this.rxView,
    );
    const packet = channel.allocatePacket();
    packet.pointer = rx;
    packet.completionRoutine = this.receiveCompleted;
    try {
      channel.send(packet, this.rxMessage, nvspMessageSize(this.version), rx.external, 0);
      this.stats.receivePackets++;
    } catch (e) {
      this.violation('NET_RECEIVE_NOT_SENT', `a receive packet was not sent: ${e}`);
      this.returnSlots(rx);
      channel.freePacket(packet);
    }
  }

  /** The guest completed a transfer-page packet: its slots are free again (spec §5.2). */
  private readonly receiveCompleted = (
    packet: KmclPacket,
    status: number,
    buffer: Uint8Array,
    length: number,
  ): void => {
    const rx = packet.pointer as RxRecord;
    packet.pointer = null;
    packet.channel.freePacket(packet);
    if (status === NTSTATUS.STATUS_SUCCESS) {
      const type = length >= 8 ? readU32(buffer, 0) : -1;
      if (type !== NVSP_MSG.SEND_RNDIS_PKT_COMPLETE)
        this.violation(
          'NVSP_BAD_RECEIVE_COMPLETION',
          `a receive completion of ${length} bytes with type ${type}`,
        );
    }
    this.returnSlots(rx);
    if (this.queueCount > 0 || this.controlQueue.length > 0) this.scheduleDrain();
  };

  private returnSlots(rx: RxRecord): void {
    // Slots of a buffer that was revoked or replaced meanwhile are forgotten.
    if (this.recv && rx.external.setId === this.recvId) {
      for (let i = 0; i < rx.count; i++) {
        const slot = rx.slots[i]!;
        if (slot < this.slotCount) (rx.control ? this.freeControl : this.freeData).push(slot);
      }
    }
    rx.count = 0;
    this.rxPool.push(rx);
  }

  private dropQueue(): void {
    while (this.queueCount > 0) {
      const q = this.queueHead;
      const ticket = this.queueTicket[q];
      this.queueTicket[q] = null;
      this.queueHead = (q + 1) % this.queueCapacity;
      this.queueCount--;
      this.stats.framesDropped++;
      ticket?.release();
    }
  }
}

/** Maps a buffer's GPADL as one whole-page range; on failure unmaps it and returns why. */
function mapBuffer(channel: KmclChannel, handle: number): GuestBuffer | string {
  try {
    return GuestBuffer.fromDescriptors(channel.mapGpadl(0, handle));
  } catch (e) {
    unmapQuietly(channel, handle);
    return (e as Error).message;
  }
}

/** Unmaps a GPADL that may already be gone (with its channel, or never mapped). */
function unmapQuietly(channel: KmclChannel | undefined, handle: number): void {
  try {
    channel?.unmapGpadl(handle);
  } catch {
    // not mapped
  }
}

/** Minimum message bytes per NVSP type (spec §2.4, openvmm's header + body). */
const MIN_LENGTH: Record<number, number> = {
  [NVSP_MSG.INIT]: 12,
  [NVSP_MSG.SEND_NDIS_VERSION]: 12,
  [NVSP_MSG.SEND_RECV_BUF]: 10,
  [NVSP_MSG.REVOKE_RECV_BUF]: 6,
  [NVSP_MSG.SEND_SEND_BUF]: 10,
  [NVSP_MSG.REVOKE_SEND_BUF]: 6,
  [NVSP_MSG.SEND_RNDIS_PKT]: 16,
  [NVSP_MSG.SEND_NDIS_CONFIG]: 20,
  [NVSP_MSG.SWITCH_DATA_PATH]: 8,
  [NVSP_MSG.OID_QUERY_EX]: 12,
  [NVSP_MSG.SUBCHANNEL]: 12,
};

/** The completion message type that answers a request type (0 for an empty completion). */
function replyTypeOf(type: number): number {
  switch (type) {
    case NVSP_MSG.INIT:
      return NVSP_MSG.INIT_COMPLETE;
    case NVSP_MSG.SEND_RECV_BUF:
      return NVSP_MSG.SEND_RECV_BUF_COMPLETE;
    case NVSP_MSG.SEND_SEND_BUF:
      return NVSP_MSG.SEND_SEND_BUF_COMPLETE;
    case NVSP_MSG.SEND_RNDIS_PKT:
      return NVSP_MSG.SEND_RNDIS_PKT_COMPLETE;
    case NVSP_MSG.SUBCHANNEL:
      return NVSP_MSG.SUBCHANNEL;
    default:
      return 0;
  }
}
