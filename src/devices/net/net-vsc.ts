/**
 * The synthetic NIC's guest side (netvsc), built on the public KMCL API:
 * the initialization a Linux guest performs (spec nvsp.md §7), then an API
 * to send and receive Ethernet frames, with the link state, the MAC
 * address and the MTU. Frames go out through send-buffer sections (spec
 * §5.1 form B) or as GPA-direct ranges (form A); they come in as
 * transfer-page packets pointing into the receive buffer (§5.2), each
 * completed once. Host input is checked as Linux checks it (§8.2).
 *
 * @module
 */

import { BusLog, type LogSink } from '../../bus/bus-log.js';
import type { VmbusGuest } from '../../bus/vmbus-guest.js';
import { KmclChannel } from '../../kmcl/kmcl-channel.js';
import { VMBUS_CHANNEL_FORMAT_FLAG_WAIT_FOR_COMPLETION as WAIT } from '../../kmcl/kmcl-constants.js';
import type { KmclIncoming } from '../../kmcl/kmcl-incoming.js';
import type { ExternalData, KmclPacket } from '../../kmcl/kmcl-packet.js';
import { MemoryDescriptor } from '../../memory/memory-descriptor.js';
import { NTSTATUS } from '../../status/ntstatus.js';
import { VmbusError } from '../../status/vmbus-error.js';
import { openClientChannel } from '../open-client-channel.js';
import { GuestBuffer } from './guest-buffer.js';
import {
  encodeNvsp,
  encodeNvsp3,
  formatMac,
  NETVSC_RECEIVE_BUFFER_ID,
  NETVSC_SEND_BUFFER_ID,
  NIC_INTERFACE_TYPE,
  NVSP_MSG,
  NVSP_NO_SECTION,
  NVSP_STATUS,
  NVSP_VERSION,
  NVSP_VERSIONS_NEWEST_FIRST,
  OID,
  PACKET_FILTER,
  RNDIS_MSG,
  RNDIS_PACKET_HEADER,
  RNDIS_STATUS,
  readU32,
  writeRndisPacketHeader,
} from './nvsp-protocol.js';

/**
 * Options of a NIC's guest side.
 *
 * @example
 * ```ts
 * import { type NetVscOptions } from 'vmbus-kmcl';
 * const options: NetVscOptions = { receiveBufferBytes: 1 << 20, onFrame: (frame) => console.log(frame.length) };
 * console.log(options.receiveBufferBytes); // 1048576
 * ```
 */
export interface NetVscOptions {
  /** The NIC's instance GUID (default: the first NIC offered). */
  instance?: string;
  /** NVSP versions to try, newest first (default all six). */
  versions?: readonly number[];
  /** Frame size without FCS sent in SEND_NDIS_CONFIG (default 1514). */
  mtu?: number;
  /** Receive buffer bytes (default 2 MiB; Linux uses 16 MiB). */
  receiveBufferBytes?: number;
  /** Send buffer bytes (default 1 MiB; 0 sends every frame GPA-direct). */
  sendBufferBytes?: number;
  /** Ring pages each way (default 64). */
  ringPages?: number;
  /** Queues wanted (primary + vRSS subchannels, NVSP ≥ 5; default 1). */
  queues?: number;
  /** How frames go out: through send-buffer sections (default) or as GPA-direct ranges. */
  sendMode?: 'send-buffer' | 'gpa-direct';
  /** Receives each frame; the view is valid during the call only. */
  onFrame?: (frame: Uint8Array) => void;
  /** Called when the host indicates a link change. */
  onLinkChange?: (up: boolean) => void;
  /** Where checks of host input are logged (rate-limited). */
  log?: LogSink;
}

/**
 * Counters of a NIC's guest side.
 *
 * @example
 * ```ts
 * import { type NetVscStats } from 'vmbus-kmcl';
 * const stats: NetVscStats = { framesSent: 0, framesReceived: 0, bytesSent: 0, bytesReceived: 0, receivePackets: 0, receiveErrors: 0, sendFailures: 0 };
 * console.log(stats.framesSent); // 0
 * ```
 */
export interface NetVscStats {
  framesSent: number;
  framesReceived: number;
  bytesSent: number;
  bytesReceived: number;
  /** Transfer-page packets completed. */
  receivePackets: number;
  /** Ranges or packets from the host that failed a check (completed with status 2). */
  receiveErrors: number;
  /** Sends the host completed with a failure status. */
  sendFailures: number;
}

/**
 * The guest side of a synthetic NIC.
 *
 * @example
 * ```ts
 * import { createLocalBus, NetVsc, NetVsp, VirtualSwitch } from 'vmbus-kmcl';
 * const bus = createLocalBus({ memoryPages: 2048 });
 * const vsp = new NetVsp({ host: bus.host, partition: bus.partition, mac: '00:15:5d:00:00:01', switch: new VirtualSwitch() });
 * vsp.start();
 * await bus.guest.connect();
 * await bus.guest.requestOffers();
 * const nic = new NetVsc(bus.guest);
 * await nic.connect();
 * console.log(nic.macAddress, nic.mtu, nic.linkUp); // 00:15:5d:00:00:01 1514 true
 * await nic.close();
 * await vsp.stop();
 * bus.dispose();
 * ```
 */
export class NetVsc {
  /** Counters. */
  readonly stats: NetVscStats = {
    framesSent: 0,
    framesReceived: 0,
    bytesSent: 0,
    bytesReceived: 0,
    receivePackets: 0,
    receiveErrors: 0,
    sendFailures: 0,
  };
  /** Checks of host input that failed. */
  readonly log: BusLog;
  /** The MAC address the host gave (zeros before connect). */
  readonly mac = new Uint8Array(6);
  private readonly guest: VmbusGuest;
  private readonly options: NetVscOptions;
  private readonly queues: KmclChannel[] = [];
  private version = 0;
  private frameSize: number;
  private link = false;
  private recvMdl: MemoryDescriptor | null = null;
  private recv: GuestBuffer | null = null;
  private recvHandle = 0;
  private slotSize = 0;
  private sendMdl: MemoryDescriptor | null = null;
  private send_: GuestBuffer | null = null;
  private sendHandle = 0;
  private sectionSize = 0;
  private readonly freeSections: number[] = [];
  /** Per queue, one packet object per send section. */
  private sectionPackets: KmclPacket[][] = [];
  private controlMdl: MemoryDescriptor | null = null;
  private controlChain: Promise<unknown> = Promise.resolve();
  private nextRequest = 1;
  private readonly pending = new Map<number, (reply: Uint8Array) => void>();
  private writableWaiters: (() => void)[] = [];
  private readonly scratch: Uint8Array;
  private readonly scratchView: DataView;
  private readonly message = new Uint8Array(40);
  private readonly messageView = new DataView(this.message.buffer);
  private readonly done = new Uint8Array(8);
  private readonly doneView = new DataView(this.done.buffer);
  private indirection: Uint32Array | null = null;
  private connected = false;
  private readonly sectionExternal: ExternalData[] = [];

  /**
   * @param guest - the guest partition
   * @param options - sizes, versions and receivers
   */
  constructor(guest: VmbusGuest, options: NetVscOptions = {}) {
    this.guest = guest;
    this.options = options;
    this.frameSize = options.mtu ?? 1514;
    this.log = new BusLog(options.log);
    this.scratch = new Uint8Array(16384);
    this.scratchView = new DataView(this.scratch.buffer);
  }

  /** The MAC address as text. */
  get macAddress(): string {
    return formatMac(this.mac);
  }

  /** The largest frame (without FCS) the NIC sends and receives. */
  get mtu(): number {
    return this.frameSize;
  }

  /** Whether the host reports the link connected. */
  get linkUp(): boolean {
    return this.link;
  }

  /** The negotiated NVSP version (0 before). */
  get protocolVersion(): number {
    return this.version;
  }

  /** Open queues (primary + subchannels). */
  get queueCount(): number {
    return this.queues.length;
  }

  /** The host's send indirection table (16 queue indexes, spec §1.4), once received. */
  get sendTable(): readonly number[] | null {
    return this.indirection ? [...this.indirection] : null;
  }

  /** Send-buffer sections free now (sends that would not wait). */
  get freeSendSlots(): number {
    return this.freeSections.length;
  }

  private openQueue(index: number, instance: string | null): Promise<KmclChannel> {
    const channel = new KmclChannel({ guest: this.guest }, false);
    channel.initSetMaximumPacketSize(128);
    const pages = this.options.ringPages ?? 64;
    channel.initSetRingBufferPageCount(pages, pages);
    channel.initSetMaximumExternalData(1 << 20, 1);
    channel.initSetProcessPacketCallbacks((c, p, buffer, length) =>
      this.process(c, p, buffer, length),
    );
    return openClientChannel(
      channel,
      NIC_INTERFACE_TYPE,
      instance,
      index,
      'NET_OPEN_FAILED',
      'the NIC',
    );
  }

  /** Sends one NVSP request and waits for its completion; returns the reply bytes. */
  private async request(type: number, ...fields: number[]): Promise<DataView> {
    const primary = this.queues[0]!;
    const message = encodeNvsp(new Uint8Array(40), type, ...fields);
    const reply = new Uint8Array(64);
    const length = { value: 64 };
    const status = await primary.sendSynchronousRequest(
      message,
      40,
      null,
      WAIT,
      reply,
      length,
      -50_000_000n,
    );
    if (status !== NTSTATUS.STATUS_SUCCESS)
      throw new VmbusError(
        'NET_INIT_FAILED',
        `NVSP type ${type} got no completion (0x${(status >>> 0).toString(16)})`,
      );
    return new DataView(reply.buffer, 0, length.value);
  }

  /** Sends an NVSP message that wants no completion. */
  private post(channel: KmclChannel, type: number, ...fields: number[]): void {
    const packet = channel.allocatePacket();
    channel.send(packet, encodeNvsp(new Uint8Array(40), type, ...fields), 40, null, 0);
  }

  /**
   * Opens the NIC and runs the Linux initialization (spec nvsp.md §7):
   * version negotiation, NDIS config and version, the receive and send
   * buffers, RNDIS INITIALIZE, the queries and sets, the subchannels, and
   * the packet filter that starts receiving.
   *
   * @returns the negotiated NVSP version
   * @throws VmbusError when the host refuses every version or answers outside the spec (§8.2)
   */
  async connect(): Promise<number> {
    const primary = await this.openQueue(0, this.options.instance ?? null);
    this.queues.push(primary);
    const instance = primary.getInterfaceInstance();
    const fail = (code: string, reason: string): never => {
      throw new VmbusError(code, reason);
    };
    // §3.2: newest first; a completion of type 2 with status 1 picks the version.
    for (const candidate of this.options.versions ?? NVSP_VERSIONS_NEWEST_FIRST) {
      const v = await this.request(NVSP_MSG.INIT, candidate, candidate);
      if (
        v.byteLength >= 16 &&
        v.getUint32(0, true) === NVSP_MSG.INIT_COMPLETE &&
        v.getUint32(12, true) === NVSP_STATUS.SUCCESS
      ) {
        this.version = candidate;
        break;
      }
    }
    if (this.version === 0) fail('NET_INIT_FAILED', 'The host accepted no NVSP version');
    if (this.version >= NVSP_VERSION.V2)
      this.post(primary, NVSP_MSG.SEND_NDIS_CONFIG, this.frameSize, 0, 0x08, 0);
    this.post(primary, NVSP_MSG.SEND_NDIS_VERSION, 6, this.version <= NVSP_VERSION.V4 ? 1 : 30);

    // §4.1: the receive buffer.
    const recvBytes = Math.ceil((this.options.receiveBufferBytes ?? 2 << 20) / 4096) * 4096;
    this.recvMdl = new MemoryDescriptor(
      this.guest.memory,
      this.guest.pages.allocate(recvBytes / 4096),
      0,
      recvBytes,
    );
    this.recv = GuestBuffer.fromDescriptors([this.recvMdl]);
    this.recvHandle = await primary.createGpadl(0, this.recvMdl);
    const r = await this.request(NVSP_MSG.SEND_RECV_BUF, this.recvHandle, NETVSC_RECEIVE_BUFFER_ID);
    if (
      r.byteLength < 28 ||
      r.getUint32(0, true) !== NVSP_MSG.SEND_RECV_BUF_COMPLETE ||
      r.getUint32(4, true) !== NVSP_STATUS.SUCCESS
    )
      fail('NET_INIT_FAILED', 'The host refused the receive buffer');
    const slot = r.getUint32(16, true);
    const slots = r.getUint32(20, true);
    if (
      r.getUint32(8, true) !== 1 ||
      r.getUint32(12, true) !== 0 ||
      slot < 68 ||
      slot * slots > recvBytes
    )
      fail(
        'NET_BAD_REPLY',
        `Receive buffer layout ${r.getUint32(8, true)} sections, slot ${slot} x ${slots} does not fit ${recvBytes} bytes`,
      );
    this.slotSize = slot;

    // §4.2: the send buffer (optional).
    const sendBytes = Math.ceil((this.options.sendBufferBytes ?? 1 << 20) / 4096) * 4096;
    if (sendBytes > 0) {
      this.sendMdl = new MemoryDescriptor(
        this.guest.memory,
        this.guest.pages.allocate(sendBytes / 4096),
        0,
        sendBytes,
      );
      this.send_ = GuestBuffer.fromDescriptors([this.sendMdl]);
      this.sendHandle = await primary.createGpadl(0, this.sendMdl);
      const s = await this.request(NVSP_MSG.SEND_SEND_BUF, this.sendHandle, NETVSC_SEND_BUFFER_ID);
      if (
        s.byteLength < 12 ||
        s.getUint32(0, true) !== NVSP_MSG.SEND_SEND_BUF_COMPLETE ||
        s.getUint32(4, true) !== NVSP_STATUS.SUCCESS
      )
        fail('NET_INIT_FAILED', 'The host refused the send buffer');
      this.sectionSize = s.getUint32(8, true);
      if (this.sectionSize < 68 || this.sectionSize < RNDIS_PACKET_HEADER + this.frameSize)
        fail('NET_BAD_REPLY', `Send section size ${this.sectionSize} is too small`);
    }

    // §7 steps 8-16: RNDIS.
    this.controlMdl = new MemoryDescriptor(
      this.guest.memory,
      this.guest.pages.allocate(1),
      0,
      4096,
    );
    const init = await this.control(RNDIS_MSG.INITIALIZE, 24, (v) => {
      v.setUint32(12, 1, true);
      v.setUint32(16, 0, true);
      v.setUint32(20, 0x4000, true);
    });
    if (
      init.byteLength < 48 ||
      init.getUint32(0, true) !== RNDIS_MSG.INITIALIZE_CMPLT ||
      init.getUint32(12, true) !== 0
    )
      fail('NET_INIT_FAILED', 'RNDIS INITIALIZE failed');
    const frame = await this.query(OID.GEN_MAXIMUM_FRAME_SIZE);
    if (frame && frame.byteLength >= 4 && frame.getUint32(0, true) + 14 < this.frameSize)
      this.frameSize = frame.getUint32(0, true) + 14;
    const mac = await this.query(OID.PERMANENT_ADDRESS);
    if (mac?.byteLength !== 6)
      throw new VmbusError('NET_BAD_REPLY', 'OID_802_3_PERMANENT_ADDRESS did not answer 6 bytes');
    for (let i = 0; i < 6; i++) this.mac[i] = mac.getUint8(i);
    const caps = await this.query(OID.TCP_OFFLOAD_HARDWARE_CAPABILITIES);
    if (
      !caps ||
      caps.byteLength < 112 ||
      caps.getUint8(0) !== 0xa7 ||
      caps.getUint8(1) < 1 ||
      caps.getUint16(2, true) < 112 ||
      caps.getUint16(2, true) > caps.byteLength
    )
      fail('NET_BAD_REPLY', 'OID_TCP_OFFLOAD_HARDWARE_CAPABILITIES is malformed');
    const offload = new Uint8Array(28);
    offload[0] = 0x80;
    offload[1] = 3;
    offload[2] = this.version <= NVSP_VERSION.V4 ? 22 : 28;
    offload[4] = 1; // IPv4 checksum: TX and RX off
    if (
      (await this.set(OID.TCP_OFFLOAD_PARAMETERS, offload.subarray(0, offload[2]))) !==
      RNDIS_STATUS.SUCCESS
    )
      fail('NET_INIT_FAILED', 'SET OID_TCP_OFFLOAD_PARAMETERS failed');
    const media = await this.query(OID.GEN_MEDIA_CONNECT_STATUS);
    this.link = media !== null && media.byteLength >= 4 && media.getUint32(0, true) === 0;
    let queues = 1;
    if (this.version >= NVSP_VERSION.V5) {
      await this.query(OID.GEN_LINK_SPEED);
      const wanted = this.options.queues ?? 1;
      if (wanted > 1) {
        const rss = await this.query(OID.GEN_RECEIVE_SCALE_CAPABILITIES);
        if (rss && rss.byteLength >= 16 && rss.getUint8(0) === 0x88)
          queues = Math.min(wanted, rss.getUint32(12, true), 64);
      }
    }
    if (queues > 1) {
      const sub = await this.request(NVSP_MSG.SUBCHANNEL, 1, queues - 1);
      const granted = sub.byteLength >= 12 ? sub.getUint32(8, true) : 0;
      if (
        sub.getUint32(0, true) === NVSP_MSG.SUBCHANNEL &&
        sub.getUint32(4, true) === NVSP_STATUS.SUCCESS &&
        granted <= queues - 1 &&
        granted > 0
      ) {
        const subs = await Promise.all(
          Array.from({ length: granted }, (_, i) => this.openQueue(i + 1, instance)),
        );
        this.queues.push(...subs);
      }
    }
    if (this.send_) this.setUpSections(Math.floor(this.send_.byteLength / this.sectionSize));
    this.connected = true;
    // §7 step 21: interface up.
    await this.set(
      OID.GEN_CURRENT_PACKET_FILTER,
      u32(PACKET_FILTER.DIRECTED | PACKET_FILTER.ALL_MULTICAST | PACKET_FILTER.BROADCAST),
    );
    return this.version;
  }

  private setUpSections(count: number): void {
    // The seed function at work: per queue, one packet object per section
    // in memory the driver owns, re-sent for every frame without allocating.
    this.freeSections.length = 0;
    this.sectionPackets = [];
    for (let i = count - 1; i >= 0; i--) this.freeSections.push(i);
    for (const queue of this.queues) {
      const size = queue.sizeofPacket();
      const pool = new ArrayBuffer(size * count);
      const packets: KmclPacket[] = [];
      for (let i = 0; i < count; i++) {
        const packet = queue.initializePacket(new Uint8Array(pool, i * size, size), size);
        packet.pointer = i;
        packet.completionRoutine = this.sendCompleted;
        packets.push(packet);
      }
      this.sectionPackets.push(packets);
    }
    for (let i = 0; i < count; i++) {
      this.sectionExternal.push({
        kind: 'mdl',
        chain: [this.sendMdl!],
        offset: i * this.sectionSize,
        length: 0,
        forceLength: false,
      });
    }
  }

  private readonly sendCompleted = (
    packet: KmclPacket,
    status: number,
    buffer: Uint8Array,
    length: number,
  ): void => {
    this.freeSections.push(packet.pointer as number);
    if (
      status !== NTSTATUS.STATUS_SUCCESS ||
      length < 8 ||
      readU32(buffer, 0) !== NVSP_MSG.SEND_RNDIS_PKT_COMPLETE ||
      readU32(buffer, 4) !== NVSP_STATUS.SUCCESS
    )
      this.stats.sendFailures++;
    if (this.writableWaiters.length > 0) {
      const waiters = this.writableWaiters;
      this.writableWaiters = [];
      for (const w of waiters) w();
    }
  };

  /**
   * Sends one Ethernet frame (no FCS). The frame is copied: the caller may
   * reuse its buffer at once.
   *
   * @param frame - destination MAC, source MAC, type, payload: 14 to {@link NetVsc.mtu} bytes
   * @returns false when every send slot is in flight (wait with {@link NetVsc.whenWritable})
   * @throws RangeError for a frame shorter than 14 bytes or above the MTU
   * @throws VmbusError NET_NOT_CONNECTED before connect
   */
  sendFrame(frame: Uint8Array): boolean {
    if (!this.connected || !this.send_)
      throw new VmbusError('NET_NOT_CONNECTED', 'The NIC is not connected');
    if (frame.length < 14 || frame.length > this.frameSize)
      throw new RangeError(`A frame of ${frame.length} bytes is outside 14..${this.frameSize}`);
    const section = this.freeSections.pop();
    if (section === undefined) return false;
    const at = section * this.sectionSize;
    const total = RNDIS_PACKET_HEADER + frame.length;
    writeRndisPacketHeader(this.scratch, 0, frame.length, total, this.scratchView);
    this.send_.write(at, this.scratch, 0, RNDIS_PACKET_HEADER);
    this.send_.write(at + RNDIS_PACKET_HEADER, frame, 0, frame.length);
    const q = this.txQueue(frame);
    const channel = this.queues[q]!;
    const packet = this.sectionPackets[q]![section]!;
    const gpa = this.options.sendMode === 'gpa-direct';
    encodeNvsp3(
      this.message,
      NVSP_MSG.SEND_RNDIS_PKT,
      0,
      gpa ? NVSP_NO_SECTION : section,
      gpa ? 0 : total,
      this.messageView,
    );
    let external: ExternalData | null = null;
    if (gpa) {
      external = this.sectionExternal[section]!;
      (external as { length: number }).length = total;
    }
    channel.send(packet, this.message, 40, external, WAIT);
    this.stats.framesSent++;
    this.stats.bytesSent += frame.length;
    return true;
  }

  /**
   * Resolves when a send slot is free.
   *
   * @returns a promise that settles when {@link NetVsc.sendFrame} can take a frame
   */
  whenWritable(): Promise<void> {
    if (this.freeSections.length > 0) return Promise.resolve();
    return new Promise((resolve) => this.writableWaiters.push(resolve));
  }

  /** The queue for a frame: the host's send table by a hash of the addresses (spec §1.4). */
  private txQueue(frame: Uint8Array): number {
    const n = this.queues.length;
    if (n === 1) return 0;
    let h = 0;
    for (let i = 0; i < 12; i++) h = (h * 31 + frame[i]!) | 0;
    const bucket = (h >>> 0) % 16;
    const q = this.indirection ? this.indirection[bucket]! : bucket;
    return q % n;
  }

  // ------------------------------------------------------------------
  // RNDIS control (spec §6.3, §6.4).

  private control(type: number, length: number, fill: (view: DataView) => void): Promise<DataView> {
    const run = async () => {
      const id = this.nextRequest++;
      const message = new Uint8Array(length);
      const v = new DataView(message.buffer);
      v.setUint32(0, type, true);
      v.setUint32(4, length, true);
      v.setUint32(8, id, true);
      fill(v);
      this.controlMdl!.write(0, message);
      const reply = new Promise<Uint8Array>((resolve) => this.pending.set(id, resolve));
      const ack = await this.request2(length);
      if (ack !== NVSP_STATUS.SUCCESS) {
        this.pending.delete(id);
        throw new VmbusError(
          'NET_CONTROL_FAILED',
          `RNDIS message 0x${type.toString(16)} was refused (NVSP status ${ack})`,
        );
      }
      const bytes = await withTimeout(reply, 5000, () => this.pending.delete(id));
      return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    };
    const next = this.controlChain.then(run, run);
    this.controlChain = next.catch(() => undefined);
    return next;
  }

  /** SEND_RNDIS_PKT of the control page, GPA-direct (spec §5.1 form A); returns the NVSP status. */
  private async request2(length: number): Promise<number> {
    const primary = this.queues[0]!;
    const message = encodeNvsp(new Uint8Array(40), NVSP_MSG.SEND_RNDIS_PKT, 1, NVSP_NO_SECTION, 0);
    const reply = new Uint8Array(64);
    const size = { value: 64 };
    const external: ExternalData = {
      kind: 'mdl',
      chain: [this.controlMdl!],
      offset: 0,
      length,
      forceLength: false,
    };
    const status = await primary.sendSynchronousRequest(
      message,
      40,
      external,
      WAIT,
      reply,
      size,
      -50_000_000n,
    );
    if (status !== NTSTATUS.STATUS_SUCCESS || size.value < 8) return NVSP_STATUS.FAILURE;
    const v = new DataView(reply.buffer);
    return v.getUint32(0, true) === NVSP_MSG.SEND_RNDIS_PKT_COMPLETE
      ? v.getUint32(4, true)
      : NVSP_STATUS.FAILURE;
  }

  /**
   * Queries an OID; resolves with its value, or null when the host declined.
   *
   * @param oid - the OID
   * @returns the value bytes, or null
   */
  async query(oid: number): Promise<DataView | null> {
    const v = await this.control(RNDIS_MSG.QUERY, 28, (w) => {
      w.setUint32(12, oid, true);
      w.setUint32(16, 0, true);
      w.setUint32(20, 20, true);
    });
    // §6.3 QUERY_CMPLT checks: offset >= 16, result inside the message.
    if (v.byteLength < 24 || v.getUint32(0, true) !== RNDIS_MSG.QUERY_CMPLT) return null;
    if (v.getUint32(12, true) !== RNDIS_STATUS.SUCCESS) return null;
    const n = v.getUint32(16, true);
    const off = v.getUint32(20, true);
    if (off < 16 || 8 + off > v.byteLength || n > v.byteLength - 8 - off) {
      this.log.violation(
        'NET_BAD_QUERY_REPLY',
        `QUERY_CMPLT for 0x${oid.toString(16)} points outside itself`,
      );
      return null;
    }
    return new DataView(v.buffer, v.byteOffset + 8 + off, n);
  }

  /**
   * Sets an OID.
   *
   * @param oid - the OID
   * @param value - its value
   * @returns the RNDIS status of SET_CMPLT
   */
  async set(oid: number, value: Uint8Array): Promise<number> {
    const v = await this.control(RNDIS_MSG.SET, 28 + value.length, (w) => {
      w.setUint32(12, oid, true);
      w.setUint32(16, value.length, true);
      w.setUint32(20, 20, true);
      new Uint8Array(w.buffer).set(value, 28);
    });
    if (v.byteLength < 16 || v.getUint32(0, true) !== RNDIS_MSG.SET_CMPLT)
      return RNDIS_STATUS.FAILURE;
    return v.getUint32(12, true);
  }

  // ------------------------------------------------------------------
  // Host → guest (spec §5.2, §5.3, checks of §8.2).

  private process(
    channel: KmclChannel,
    token: KmclIncoming,
    buffer: Uint8Array,
    length: number,
  ): void {
    if (token.transferPageSetId < 0) {
      // In-band notifications: the send table is the one Linux acts on (§5.3).
      if (length >= 12 && readU32(buffer, 0) === NVSP_MSG.SEND_INDIRECTION_TABLE) {
        const v = new DataView(buffer.buffer, buffer.byteOffset, length);
        const count = v.getUint32(4, true);
        const offset = v.getUint32(8, true);
        if (count === 16 && offset <= length - 64) {
          this.indirection = new Uint32Array(16);
          for (let i = 0; i < 16; i++) this.indirection[i] = v.getUint32(offset + 4 * i, true);
        } else
          this.log.violation('NET_BAD_SEND_TABLE', `a send table of ${count} entries at ${offset}`);
      }
      return channel.completePacket(token, null, 0);
    }
    let status: number = NVSP_STATUS.SUCCESS;
    const recv = this.recv;
    const type = length >= 4 ? readU32(buffer, 0) : -1;
    if (
      !recv ||
      type !== NVSP_MSG.SEND_RNDIS_PKT ||
      token.transferPageSetId !== NETVSC_RECEIVE_BUFFER_ID
    ) {
      this.log.violation(
        'NET_BAD_RECEIVE',
        `a transfer-page packet with NVSP type ${type} for set 0x${token.transferPageSetId.toString(16)}`,
      );
      this.stats.receiveErrors++;
      return this.completeReceive(channel, token, NVSP_STATUS.FAILURE);
    }
    for (let i = 0; i < token.rangeCount; i++) {
      const offset = token.rangeByteOffset[i]!;
      const count = token.rangeByteCount[i]!;
      if (count > this.slotSize || !recv.contains(offset, count)) {
        this.log.violation(
          'NET_BAD_RANGE',
          `range ${offset}+${count} outside the receive buffer or its ${this.slotSize}-byte slot`,
        );
        this.stats.receiveErrors++;
        status = NVSP_STATUS.FAILURE;
        continue;
      }
      // A private copy: the host could rewrite the slot while it is parsed.
      recv.read(offset, this.scratch, 0, count);
      if (!this.rndisMessage(count)) {
        this.stats.receiveErrors++;
        status = NVSP_STATUS.FAILURE;
      }
    }
    this.completeReceive(channel, token, status);
  }

  private completeReceive(channel: KmclChannel, token: KmclIncoming, status: number): void {
    this.doneView.setUint32(0, NVSP_MSG.SEND_RNDIS_PKT_COMPLETE, true);
    this.doneView.setUint32(4, status, true);
    this.stats.receivePackets++;
    channel.completePacket(token, this.done, 8);
  }

  /** One RNDIS message in `scratch[0, count)`; false when it fails a check. */
  private rndisMessage(count: number): boolean {
    const v = this.scratchView;
    if (count < 8) return false;
    const type = v.getUint32(0, true);
    const msgLen = v.getUint32(4, true);
    if (msgLen < 8 || msgLen > count) {
      this.log.violation('NET_BAD_RNDIS', `msg_len ${msgLen} in a ${count}-byte range`);
      return false;
    }
    switch (type) {
      case RNDIS_MSG.PACKET: {
        if (msgLen < RNDIS_PACKET_HEADER) return false;
        const dataOffset = v.getUint32(8, true);
        const dataLen = v.getUint32(12, true);
        const ppiOffset = v.getUint32(28, true);
        const ppiLen = v.getUint32(32, true);
        const body = msgLen - 8;
        if (
          dataOffset > body ||
          dataLen > body - dataOffset ||
          dataLen < 14 ||
          dataLen > this.frameSize
        ) {
          this.log.violation(
            'NET_BAD_RNDIS',
            `frame ${dataOffset}+${dataLen} outside a ${body}-byte body`,
          );
          return false;
        }
        if (
          ppiLen !== 0 &&
          (ppiOffset < 36 || ppiLen < 12 || ppiOffset > body || ppiLen > body - ppiOffset)
        ) {
          this.log.violation(
            'NET_BAD_RNDIS',
            `per-packet info ${ppiOffset}+${ppiLen} outside the message`,
          );
          return false;
        }
        this.stats.framesReceived++;
        this.stats.bytesReceived += dataLen;
        this.options.onFrame?.(this.scratch.subarray(8 + dataOffset, 8 + dataOffset + dataLen));
        return true;
      }
      case RNDIS_MSG.INITIALIZE_CMPLT:
      case RNDIS_MSG.QUERY_CMPLT:
      case RNDIS_MSG.SET_CMPLT:
      case RNDIS_MSG.KEEPALIVE_CMPLT: {
        if (msgLen < 16) return false;
        const resolve = this.pending.get(v.getUint32(8, true));
        if (!resolve) {
          this.log.violation(
            'NET_UNKNOWN_REQUEST',
            `a reply to request ${v.getUint32(8, true)} nobody sent`,
          );
          return true;
        }
        this.pending.delete(v.getUint32(8, true));
        resolve(this.scratch.slice(0, msgLen));
        return true;
      }
      case RNDIS_MSG.INDICATE_STATUS: {
        if (msgLen < 20) return false;
        const s = v.getUint32(8, true);
        if (s === RNDIS_STATUS.MEDIA_CONNECT || s === RNDIS_STATUS.MEDIA_DISCONNECT) {
          const up = s === RNDIS_STATUS.MEDIA_CONNECT;
          if (up !== this.link) {
            this.link = up;
            this.options.onLinkChange?.(up);
          }
        }
        return true;
      }
    }
    this.log.violation('NET_BAD_RNDIS', `RNDIS type 0x${type.toString(16)} from the host`);
    return false;
  }

  /**
   * Linux's teardown (spec §7): packet filter 0, RNDIS HALT, wait for the
   * sends in flight, revoke both buffers, close the channels, tear down the
   * GPADLs and return the pages.
   */
  async close(): Promise<void> {
    const primary = this.queues[0];
    if (!primary) return;
    if (this.connected) {
      this.connected = false;
      await this.set(OID.GEN_CURRENT_PACKET_FILTER, u32(0)).catch(() => undefined);
      const halt = new Uint8Array(12);
      const hv = new DataView(halt.buffer);
      hv.setUint32(0, RNDIS_MSG.HALT, true);
      hv.setUint32(4, 12, true);
      hv.setUint32(8, this.nextRequest++, true);
      this.controlMdl!.write(0, halt);
      await this.request2(12).catch(() => undefined);
      const total = this.sectionPackets[0]?.length ?? 0;
      while (this.freeSections.length < total)
        await this.whenWritable().then(() => new Promise((r) => setTimeout(r, 1)));
      this.post(primary, NVSP_MSG.REVOKE_RECV_BUF, NETVSC_RECEIVE_BUFFER_ID);
      if (this.send_) this.post(primary, NVSP_MSG.REVOKE_SEND_BUF, NETVSC_SEND_BUFFER_ID);
    }
    for (const q of this.queues.slice(1).reverse()) await q.disable().catch(() => undefined);
    // GPADLs go after the close (Linux), but our KMCL deletes them through the open channel first.
    if (this.recvMdl) await primary.deleteGpadl(this.recvHandle).catch(() => undefined);
    if (this.sendMdl) await primary.deleteGpadl(this.sendHandle).catch(() => undefined);
    await primary.disable().catch(() => undefined);
    for (const mdl of [this.recvMdl, this.sendMdl, this.controlMdl])
      if (mdl) this.guest.pages.free(mdl.pfns);
    this.recvMdl = this.sendMdl = this.controlMdl = null;
    this.recv = this.send_ = null;
    this.queues.length = 0;
  }
}

function u32(x: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, x >>> 0, true);
  return b;
}

function withTimeout<T>(p: Promise<T>, ms: number, onTimeout: () => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => {
      onTimeout();
      reject(new VmbusError('NET_CONTROL_TIMEOUT', `No RNDIS reply within ${ms} ms`));
    }, ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e) => {
        clearTimeout(t);
        reject(e);
      },
    );
  });
}
