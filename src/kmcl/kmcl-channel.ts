/**
 * The KMCL channel: one endpoint of a VMBus channel as a Windows driver
 * sees it through `vmbuskernelmodeclientlibapi.h` (digest:
 * `../shared/reference/kmcl/API.md`), built on the bus of this library.
 *
 * State model (API.md §2): allocate (Disabled) → Init* configuration →
 * Enable (server offers, client opens) → Opened → Started / PostStarted
 * with the incoming queue running → Suspend on Pause, Disable, peer close or
 * rescind → Closed. The server calls Start explicitly; a client is active
 * once enabled. Every decision the documentation leaves open is written in
 * docs/kmcl-decisions.md, and referred to here as "decision N".
 *
 * This is the idiomatic core: failures throw {@link KmclError} carrying the
 * NTSTATUS, and what blocks in Windows returns a Promise. The Windows-named
 * facade (kmcl-facade.ts) turns errors back into statuses.
 *
 * @module
 */

import { BusError } from '../bus/bus-error.js';
import type { ChannelPipe, PipeCloseReason, PipeStats } from '../bus/channel-pipe.js';
import type { GuestChannel, GuestOffer, VmbusGuest } from '../bus/vmbus-guest.js';
import type { HostChannel, HostOffer, HostPartition, VmbusHost } from '../bus/vmbus-host.js';
import type { GuestMemory } from '../memory/guest-memory.js';
import { MemoryDescriptor } from '../memory/memory-descriptor.js';
import { type Guid, parseGuid } from '../protocol/guid.js';
import {
  PACKET_FLAG_COMPLETION_REQUESTED,
  PACKET_TYPE_COMPLETION,
  PACKET_TYPE_GPA_DIRECT,
  PACKET_TYPE_TRANSFER_PAGES,
} from '../protocol/packet-descriptor.js';
import { OFFER_FLAG } from '../protocol/versions.js';
import { nextTask } from '../signal/next-task.js';
import { NTSTATUS } from '../status/ntstatus.js';
import {
  KMCL_GPADL_HANDLE_READ_ONLY,
  KMCL_RING_MTU,
  VMB_CHANNEL_STATE_CHANGE_CALLBACKS_SIZE,
  VMB_CHANNEL_STATE_CHANGE_CALLBACKS_VERSION,
  VMBUS_CHANNEL_FORMAT_FLAG_WAIT_FOR_COMPLETION,
  VMBUS_CHANNEL_FORMAT_FLAGS,
  VMBUS_CHANNEL_GPADL_FLAG_READ_ONLY,
  VMBUS_CHANNEL_GPADL_FLAGS,
  VMBUS_CHANNEL_INIT_FLAGS,
  VMBUS_CHANNEL_PACKET_EXTERNAL_DATA_FLAG_READ_ONLY,
  VMBUS_CHANNEL_PROCESS_PACKET_FLAG_EXTERNAL_DATA,
  VMBUS_SERVER_CHANNEL_INIT_FLAG_ENUMERATE_DEVICE_INTERFACE,
  VMBUS_SERVER_CHANNEL_INIT_FLAG_LOOPBACK_OFFER,
  VMBUS_SERVER_CHANNEL_INIT_FLAG_OFFER_AS_PIPE,
  VMBUS_SERVER_CHANNEL_INIT_FLAG_TLNPI_PROVIDER_OFFER,
  VMBUS_SERVER_CHANNEL_INIT_FLAGS,
} from './kmcl-constants.js';
import { KmclError } from './kmcl-error.js';
import { KmclIncoming } from './kmcl-incoming.js';
import { type ExternalData, KmclPacket, PACKET_HEADER_SIZE, PACKET_STATE } from './kmcl-packet.js';

/**
 * Where a channel lives: the "parent device object" of VmbChannelAllocate.
 *
 * @example
 * ```ts
 * import { createLocalBus, KmclChannel, type KmclParent } from 'vmbus-kmcl';
 * const bus = createLocalBus();
 * const guestSide: KmclParent = { guest: bus.guest };
 * const hostSide: KmclParent = { host: bus.host, partition: bus.partition };
 * console.log(new KmclChannel(guestSide, false).isServer, new KmclChannel(hostSide, true).isServer); // false true
 * bus.dispose();
 * ```
 */
export interface KmclParent {
  /** For client channels: the guest partition's bus. */
  guest?: VmbusGuest;
  /** For server channels: the host. */
  host?: VmbusHost;
  /** For server channels: the partition offered to unless VmbServerChannelInitSetVmbusHandle picks another. */
  partition?: HostPartition;
}

/**
 * A kernel handle to one guest VM's VMBus (VmbConvertVmbusHandleToKernelHandle).
 *
 * @example
 * ```ts
 * import { createLocalBus, type KmclVmbusHandle, KmclChannel } from 'vmbus-kmcl';
 * const bus = createLocalBus();
 * const handle: KmclVmbusHandle = { partition: bus.partition };
 * const channel = new KmclChannel({ host: bus.host }, true);
 * channel.initSetVmbusHandle(handle); // bind the server channel to this guest
 * bus.dispose();
 * ```
 */
export interface KmclVmbusHandle {
  readonly partition: HostPartition;
}

/**
 * `EVT_VMB_CHANNEL_PROCESS_PACKET`.
 *
 * @example
 * ```ts
 * import { createKmclPair, type ProcessPacketCallback } from 'vmbus-kmcl';
 * const echo: ProcessPacketCallback = (channel, packet, buffer, length) => channel.completePacket(packet, buffer, length);
 * const { dispose } = await createKmclPair({ configureServer: (c) => c.initSetProcessPacketCallbacks(echo) });
 * await dispose();
 * ```
 */
export type ProcessPacketCallback = (
  channel: KmclChannel,
  packet: KmclIncoming,
  buffer: Uint8Array,
  bufferLength: number,
  flags: number,
) => void;
/**
 * `EVT_VMB_CHANNEL_PROCESSING_COMPLETE`.
 *
 * @example
 * ```ts
 * import { createKmclPair, type ProcessingCompleteCallback } from 'vmbus-kmcl';
 * const batches: number[] = [];
 * const onBatch: ProcessingCompleteCallback = (_channel, count) => batches.push(count);
 * const { client, dispose } = await createKmclPair({
 *   configureServer: (c) => c.initSetProcessPacketCallbacks((ch, p) => ch.completePacket(p, null, 0), onBatch),
 * });
 * await client.sendSynchronousRequest(new Uint8Array(8), 8, null, 1, null, null, null);
 * console.log(batches.length > 0); // true
 * await dispose();
 * ```
 */
export type ProcessingCompleteCallback = (channel: KmclChannel, packetsProcessed: number) => void;
/**
 * `EVT_VMB_CHANNEL_PNP_FAILURE`.
 *
 * @example
 * ```ts
 * import { createLocalBus, KmclChannel, type PnpFailureCallback } from 'vmbus-kmcl';
 * const bus = createLocalBus();
 * const onFailure: PnpFailureCallback = (_channel, status) => console.log('open failed with', status.toString(16));
 * const channel = new KmclChannel({ guest: bus.guest }, false);
 * channel.initSetTargetPnp('ba6163d9-04a1-4d29-b605-72e2ffb1dc7f', null, onFailure);
 * bus.dispose();
 * ```
 */
export type PnpFailureCallback = (channel: KmclChannel, failureStatus: number) => void;
/**
 * `EVT_VMB_CHANNEL_SAVE_PACKET`: two-call protocol, see VmbChannelSaveContinue.
 *
 * @example
 * ```ts
 * import { NTSTATUS, type SavePacketCallback } from 'vmbus-kmcl';
 * // Two calls: first with size 0 to learn the size, then with a buffer that large.
 * const save: SavePacketCallback = (_channel, packet, buffer, size, needed) => {
 *   if (size < 4) {
 *     needed.value = 4;
 *     return NTSTATUS.STATUS_BUFFER_TOO_SMALL;
 *   }
 *   new DataView(buffer.buffer, buffer.byteOffset).setUint32(0, Number(packet.pointer), true);
 *   return NTSTATUS.STATUS_SUCCESS;
 * };
 * console.log(typeof save); // function
 * ```
 */
export type SavePacketCallback = (
  channel: KmclChannel,
  packet: KmclPacket,
  saveBuffer: Uint8Array,
  saveBufferSize: number,
  bytesNeeded: { value: number },
) => number;
/**
 * `EVT_VMB_CHANNEL_RESTORE_PACKET`.
 *
 * @example
 * ```ts
 * import { NTSTATUS, type RestorePacketCallback } from 'vmbus-kmcl';
 * const restore: RestorePacketCallback = (channel, lib, libSize, saved) => {
 *   const packet = channel.allocatePacket();
 *   packet.pointer = new DataView(saved.buffer, saved.byteOffset).getUint32(0, true);
 *   packet.completionRoutine = (p) => p.channel.freePacket(p);
 *   channel.restorePacketObject(packet, lib, libSize);
 *   return NTSTATUS.STATUS_SUCCESS;
 * };
 * console.log(typeof restore); // function
 * ```
 */
export type RestorePacketCallback = (
  channel: KmclChannel,
  libBuffer: Uint8Array,
  libBufferSize: number,
  saveBuffer: Uint8Array,
  saveBufferSize: number,
) => number;

/**
 * `VMB_CHANNEL_STATE_CHANGE_CALLBACKS`.
 *
 * @example
 * ```ts
 * import { type StateChangeCallbacks, VMB_CHANNEL_STATE_CHANGE_CALLBACKS_INIT } from 'vmbus-kmcl';
 * const callbacks: StateChangeCallbacks = VMB_CHANNEL_STATE_CHANGE_CALLBACKS_INIT();
 * callbacks.EvtChannelOpened = () => 0; // STATUS_SUCCESS: accept the open
 * callbacks.EvtChannelPostStarted = (channel) => console.log(channel.state);
 * console.log(callbacks.Size); // 48
 * ```
 */
export interface StateChangeCallbacks {
  Version: number;
  Size: number;
  EvtChannelOpened?: ((channel: KmclChannel) => number) | null;
  EvtChannelClosed?: ((channel: KmclChannel) => void) | null;
  EvtChannelSuspend?: ((channel: KmclChannel) => void) | null;
  EvtChannelStarted?: ((channel: KmclChannel) => void) | null;
  EvtChannelPostStarted?: ((channel: KmclChannel) => void) | null;
}

/**
 * `VMB_CHANNEL_STATE_CHANGE_CALLBACKS_INIT`: a callbacks structure with the
 * right Version and Size and no callbacks.
 *
 * @param callbacks - an object to reset, or none for a new one
 * @returns the structure
 *
 * @example
 * ```ts
 * import { VMB_CHANNEL_STATE_CHANGE_CALLBACKS_INIT } from 'vmbus-kmcl';
 * const callbacks = VMB_CHANNEL_STATE_CHANGE_CALLBACKS_INIT(); // Version and Size set, every callback cleared
 * callbacks.EvtChannelOpened = () => 0;
 * console.log(callbacks.Version, callbacks.Size); // 1 48
 * ```
 */
export function VMB_CHANNEL_STATE_CHANGE_CALLBACKS_INIT(
  callbacks: Partial<StateChangeCallbacks> = {},
): StateChangeCallbacks {
  const c = callbacks as StateChangeCallbacks;
  c.Version = VMB_CHANNEL_STATE_CHANGE_CALLBACKS_VERSION;
  c.Size = VMB_CHANNEL_STATE_CHANGE_CALLBACKS_SIZE;
  c.EvtChannelOpened = null;
  c.EvtChannelClosed = null;
  c.EvtChannelSuspend = null;
  c.EvtChannelStarted = null;
  c.EvtChannelPostStarted = null;
  return c;
}

/**
 * Lifecycle states (API.md §2).
 *
 * @example
 * ```ts
 * import { createKmclPair, type KmclState } from 'vmbus-kmcl';
 * const { client, dispose } = await createKmclPair();
 * const state: KmclState = client.state;
 * console.log(state); // opened
 * await dispose();
 * ```
 */
export type KmclState = 'disabled' | 'enabled' | 'opened' | 'closed';

/**
 * Channel counters.
 *
 * @example
 * ```ts
 * import { createKmclPair, type KmclStats } from 'vmbus-kmcl';
 * const { client, server, dispose } = await createKmclPair();
 * await client.sendSynchronousRequest(new Uint8Array(8), 8, null, 1, null, null, null);
 * const stats: KmclStats = server.stats;
 * console.log(stats.packetsReceived === 1 && stats.completionsSent === 1); // true
 * await dispose();
 * ```
 */
export interface KmclStats {
  packetsSent: number;
  completionsReceived: number;
  packetsReceived: number;
  completionsSent: number;
  batches: number;
  /** Completions for no outstanding transaction (spec §4.3 item 11), dropped. */
  unmatchedCompletions: number;
  /** Calls the facade refused silently (void routines used wrongly). */
  misuse: number;
}

/**
 * Defaults (decision 2).
 *
 * @example
 * ```ts
 * import { KMCL_DEFAULTS, createKmclPair } from 'vmbus-kmcl';
 * const { client, dispose } = await createKmclPair();
 * console.log(client.maximumPacketSize === KMCL_DEFAULTS.maximumPacketSize); // true
 * await dispose();
 * ```
 */
export const KMCL_DEFAULTS = {
  maximumPacketSize: 4096,
  maximumExternalData: 1 << 20,
  maximumExternalChain: 1,
  ringPages: 16,
} as const;

const SEND_SLOT_LIMIT = 0xffff;
// The per-packet path (send, the pump, completions) writes its numbers as
// literals, each named in a comment: in V8 11's optimized code every read
// of a module binding, imported or not, is a load and a check for the TDZ
// hole (docs/performance.md, "Literals on the per-packet path").
/** The fewest packets a pump writes before publishing them (one index store, at most one interrupt). */
const PUBLISH_MIN = 16;
/** The most packets a pump writes before publishing them. */
const PUBLISH_MAX = 128;
const FIRST_MMIO = 0xf000_0000n;

let serials = 0;

/**
 * One KMCL channel endpoint.
 *
 * @example
 * ```ts
 * import { createKmclPair } from 'vmbus-kmcl';
 * const { client, dispose } = await createKmclPair();
 * const packet = client.allocatePacket();
 * const done = new Promise<number>((resolve) => {
 *   packet.completionRoutine = (_p, status) => resolve(status);
 * });
 * client.send(packet, new Uint8Array(8), 8, null, 1); // WAIT_FOR_COMPLETION
 * console.log(await done); // 0: completed by the server
 * await dispose();
 * ```
 */
export class KmclChannel {
  /** Whether this is the server (host, VSP) end. */
  readonly isServer: boolean;
  /** A number unique to this channel in this thread (stored in packet headers). */
  readonly serial = ++serials;
  /** Counters. */
  readonly stats: KmclStats = {
    packetsSent: 0,
    completionsReceived: 0,
    packetsReceived: 0,
    completionsSent: 0,
    batches: 0,
    unmatchedCompletions: 0,
    misuse: 0,
  };
  /** Every state-change and lifecycle event, in order (for tests and the web view). */
  readonly history: string[] = [];
  /** The driver's pointer (VmbChannelSetPointer). */
  pointer: unknown = null;
  /** `'dispatch'` or `'passive'` while a process-packet callback runs. */
  currentIrql: 'dispatch' | 'passive' = 'passive';
  /** Debug knob: the first GetExternalData of each packet answers STATUS_PENDING (exercises the retry path). */
  simulatePagedOutExternalData = false;

  // Configuration.
  maximumPacketSize: number = KMCL_DEFAULTS.maximumPacketSize;
  maximumExternalData: number = KMCL_DEFAULTS.maximumExternalData;
  maximumExternalChain: number = KMCL_DEFAULTS.maximumExternalChain;
  clientContextSize = 0;
  friendlyName = '';
  flags = 0;
  incomingPageCount: number = KMCL_DEFAULTS.ringPages;
  outgoingPageCount: number = KMCL_DEFAULTS.ringPages;
  targetInterfaceType: Guid | null = null;
  targetInterfaceInstance: Guid | null = null;
  targetSubchannelIndex = 0;
  serverFlags = 0;
  targetVtl = 0;
  mmioMegabytes = 0;
  mmioMegabytesOptional = 0;
  interruptLatency = 0;
  transactionQuota = 0xffff_ffff;
  incomingAtPassive = false;
  private processPacket: ProcessPacketCallback | null = null;
  private processingComplete: ProcessingCompleteCallback | null = null;
  private pnpFailure: PnpFailureCallback | null = null;
  private callbacks: StateChangeCallbacks = VMB_CHANNEL_STATE_CHANGE_CALLBACKS_INIT();
  private savePacket: SavePacketCallback | null = null;
  private restorePacket: RestorePacketCallback | null = null;

  // Lifecycle.
  private lifecycle: KmclState = 'disabled';
  private active = false;
  private startRequested = false;
  private pausedWhileDisabled = false;
  private started = false;
  private inStateCallback = 0;
  private failed = false;
  private cleanedUp = false;
  private readonly parent: KmclParent;
  private partition: HostPartition | null;
  private hostOffer: HostOffer | null = null;
  private guestChannel: GuestChannel | null = null;
  private guestOffer: GuestOffer | null = null;
  private stopWatching: (() => void) | null = null;
  private pipe: ChannelPipe | null = null;
  private lastPipe: ChannelPipe | null = null;
  private relid = 0;

  // Outgoing transactions.
  /**
   * The packet last given each transaction slot. A slot is in use while
   * that packet's `slot` names it (see {@link KmclChannel.inSlot}); a
   * finished transaction leaves its packet here, so a packet sent again
   * from its completion routine, which gets the same slot back from the
   * free list, costs no pointer store (a store of a young object into an
   * old table runs V8's write barrier on every packet). A packet is kept
   * alive here until its slot is given to another, at most the table's
   * size: the most transactions ever in flight at once.
   */
  private readonly slots: (KmclPacket | null)[] = [];
  private readonly freeSlots: number[] = [];
  private generation = 1;
  private readonly sendQueue: KmclPacket[] = [];
  private readonly pendingCompletions: { idLow: number; idHigh: number; data: Uint8Array }[] = [];
  private waitingForSpace = false;
  private readonly lookaside: KmclPacket[] = [];
  private readonly completionScratch = new Uint8Array(KMCL_RING_MTU);
  private extScratch = new Uint8Array(64);
  private extView = new DataView(this.extScratch.buffer);

  // Incoming packets.
  /**
   * Every token this channel made, by its `index`. Free tokens are known by
   * index ({@link KmclChannel.freeTokens}, {@link KmclChannel.spareToken}),
   * so taking and releasing one stores only small integers, never a
   * pointer (no write barrier on the per-packet path).
   */
  private readonly tokens: KmclIncoming[] = [];
  /** Indexes of free tokens in {@link KmclChannel.tokens}. */
  private readonly freeTokens: number[] = [];
  /**
   * The index of the last token released, or -1, kept out of the free
   * list: a packet completed inside its callback hands its token straight
   * to the next packet, a field load and store instead of a pop and a push
   * (the VSP's round trip measured about 3 ns lower in one thread, up to
   * 7, alternating builds).
   */
  private spareToken = -1;
  private outstanding = 0;
  private readonly redeliver: KmclIncoming[] = [];
  private pumping = false;
  /** An empty payload, held here so the per-packet path reads a field, not a module binding. */
  private readonly empty = EMPTY;
  /** Packets written during a pump and not yet published (see {@link KmclChannel.emit}). */
  private unpublished = 0;
  /** How many unpublished packets a pump publishes at once now (see {@link KmclChannel.batchSize}). */
  private publishAt = PUBLISH_MIN;
  private pumpScheduled = false;
  private quotaBlocked = false;
  private suspendWaiters: (() => void)[] = [];

  // GPADLs.
  private readonly gpadls = new Set<number>();
  private readonly mapped = new Set<number>();

  // Save / restore.
  private saveSession: Uint8Array[] | null = null;
  private saveIndex = 0;

  /**
   * `VmbChannelAllocate`: a channel in the Disabled state with default settings.
   *
   * @param parent - the bus side the channel lives on
   * @param isServer - true for a server (host) endpoint
   * @throws KmclError STATUS_INVALID_PARAMETER_1 when the parent lacks the bus for that side
   */
  constructor(parent: KmclParent, isServer: boolean) {
    if (isServer ? !parent.host : !parent.guest) {
      throw new KmclError(
        NTSTATUS.STATUS_INVALID_PARAMETER_1,
        `The parent has no ${isServer ? 'host' : 'guest'} bus`,
      );
    }
    this.parent = parent;
    this.isServer = isServer;
    this.partition = parent.partition ?? null;
    this.history.push('allocated');
  }

  /** Lifecycle state. */
  get state(): KmclState {
    return this.lifecycle;
  }

  /** Whether the channel is open and started: the incoming queue runs. */
  get isStarted(): boolean {
    return this.started;
  }

  /** Whether the channel is paused (not active). */
  get isPaused(): boolean {
    return !this.active;
  }

  /** Incoming packets handed to the driver and not yet completed. */
  get outstandingIncoming(): number {
    return this.outstanding;
  }

  /** Outgoing packets queued for ring space or for Opened. */
  get queuedPackets(): number {
    return this.sendQueue.length;
  }

  /** The channel id on the bus, once enabled (server) or opened (client); 0 before. */
  get channelId(): number {
    return this.relid;
  }

  /**
   * Ring-level counters of the channel's current data path, or of the last
   * one after it closed (packets and bytes each way, interrupts sent and
   * suppressed, the outgoing ring's high-water mark); null before the first
   * open.
   *
   * @returns the counters, or null
   */
  get pipeStats(): PipeStats | null {
    return (this.pipe ?? this.lastPipe)?.stats ?? null;
  }

  /** The data path, while open. */
  get dataPath(): ChannelPipe | null {
    return this.pipe;
  }

  /** The memory of the guest partition the channel's packets and GPADLs refer to. */
  get guestMemory(): GuestMemory {
    const memory = this.isServer ? this.partition?.memory : this.parent.guest?.memory;
    if (!memory)
      throw new KmclError(
        NTSTATUS.STATUS_INVALID_DEVICE_STATE,
        'The channel is bound to no guest partition yet',
      );
    return memory;
  }

  // ------------------------------------------------------------------
  // Initialization (API.md §3A): only while Disabled (decision 5).

  private configuring(): void {
    if (this.lifecycle !== 'disabled' || this.cleanedUp) {
      throw new KmclError(
        NTSTATUS.STATUS_INVALID_PARAMETER_1,
        `Init routines are for a disabled channel; this one is ${this.lifecycle}`,
      );
    }
  }

  private serverOnly(): void {
    if (!this.isServer)
      throw new KmclError(
        NTSTATUS.STATUS_INVALID_PARAMETER_1,
        'A server-only routine was called on a client channel',
      );
  }

  private clientOnly(): void {
    if (this.isServer)
      throw new KmclError(
        NTSTATUS.STATUS_INVALID_PARAMETER_1,
        'A client-only routine was called on a server channel',
      );
  }

  /**
   * VmbChannelInitSetMaximumPacketSize. @param size - largest inline payload, 1..524,248
   * @throws KmclError STATUS_INVALID_PARAMETER_2 for a size outside 1 to KMCL_RING_MTU - 32; STATUS_INVALID_PARAMETER_1 after Enable or Cleanup
   */
  initSetMaximumPacketSize(size: number): void {
    this.configuring();
    if (!Number.isInteger(size) || size <= 0 || size > KMCL_RING_MTU - 32) {
      throw new KmclError(
        NTSTATUS.STATUS_INVALID_PARAMETER_2,
        `Maximum packet size ${size} is not in 1..${KMCL_RING_MTU - 32}`,
      );
    }
    this.maximumPacketSize = size;
  }

  /**
   * VmbChannelInitSetMaximumExternalData. @param dataSize - bytes @param chainLength - MDLs per packet
   * @throws KmclError STATUS_INVALID_PARAMETER_2 or _3 for a zero size or chain length; STATUS_INVALID_PARAMETER_1 after Enable or Cleanup
   */
  initSetMaximumExternalData(dataSize: number, chainLength: number): void {
    this.configuring();
    if (!Number.isInteger(dataSize) || dataSize <= 0) {
      throw new KmclError(
        NTSTATUS.STATUS_INVALID_PARAMETER_2,
        `External data size ${dataSize} is not positive`,
      );
    }
    if (!Number.isInteger(chainLength) || chainLength <= 0) {
      throw new KmclError(
        NTSTATUS.STATUS_INVALID_PARAMETER_3,
        `MDL chain length ${chainLength} is not positive`,
      );
    }
    this.maximumExternalData = dataSize;
    this.maximumExternalChain = chainLength;
  }

  /**
   * VmbChannelInitSetClientContextSize. @param size - bytes of per-packet context
   * @throws KmclError STATUS_INVALID_PARAMETER_2 for a bad size; STATUS_INVALID_PARAMETER_1 after Enable or Cleanup
   */
  initSetClientContextSize(size: number): void {
    this.configuring();
    if (!Number.isInteger(size) || size < 0 || size > 0xffff) {
      throw new KmclError(
        NTSTATUS.STATUS_INVALID_PARAMETER_2,
        `Client context size ${size} is not in 0..65535`,
      );
    }
    this.clientContextSize = size;
  }

  /**
   * VmbChannelInitSetProcessPacketCallbacks.
   * @param process - called for each incoming packet
   * @param complete - called at the end of each batch, or null
   * @throws KmclError STATUS_INVALID_PARAMETER_2 when the callback is not a function; STATUS_INVALID_PARAMETER_1 after Enable or Cleanup
   */
  initSetProcessPacketCallbacks(
    process: ProcessPacketCallback,
    complete: ProcessingCompleteCallback | null = null,
  ): void {
    this.configuring();
    if (typeof process !== 'function')
      throw new KmclError(
        NTSTATUS.STATUS_INVALID_PARAMETER_2,
        'The process-packet callback is required',
      );
    this.processPacket = process;
    this.processingComplete = complete;
  }

  /**
   * VmbChannelInitSetStateChangeCallbacks.
   * @param callbacks - from VMB_CHANNEL_STATE_CHANGE_CALLBACKS_INIT
   * @throws KmclError STATUS_INVALID_PARAMETER_2 for a wrong Version or Size; STATUS_INVALID_PARAMETER_1 after Enable or Cleanup
   */
  initSetStateChangeCallbacks(callbacks: StateChangeCallbacks): void {
    this.configuring();
    if (
      !callbacks ||
      callbacks.Version !== VMB_CHANNEL_STATE_CHANGE_CALLBACKS_VERSION ||
      callbacks.Size !== VMB_CHANNEL_STATE_CHANGE_CALLBACKS_SIZE
    ) {
      throw new KmclError(
        NTSTATUS.STATUS_INVALID_PARAMETER_2,
        'The callbacks structure has the wrong Version or Size; use VMB_CHANNEL_STATE_CHANGE_CALLBACKS_INIT',
      );
    }
    this.callbacks = { ...callbacks };
  }

  /**
   * VmbChannelInitSetFriendlyName. @param name - at most 255 characters
   * @throws KmclError STATUS_INVALID_PARAMETER_2 for a name over 255 characters; STATUS_INVALID_PARAMETER_1 after Enable or Cleanup
   */
  initSetFriendlyName(name: string): void {
    this.configuring();
    if (typeof name !== 'string' || name.length > 255) {
      throw new KmclError(
        NTSTATUS.STATUS_INVALID_PARAMETER_2,
        'The friendly name must be a string of at most 255 characters',
      );
    }
    this.friendlyName = name;
  }

  /**
   * VmbChannelInitSetFlags. @param flags - VMBUS_CHANNEL_INIT_FLAG_*
   * @throws KmclError STATUS_INVALID_PARAMETER_2 for unknown bits; STATUS_INVALID_PARAMETER_1 after Enable or Cleanup
   */
  initSetFlags(flags: number): void {
    this.configuring();
    if ((flags & ~VMBUS_CHANNEL_INIT_FLAGS) !== 0) {
      throw new KmclError(
        NTSTATUS.STATUS_INVALID_PARAMETER_2,
        `Unknown channel flags 0x${flags.toString(16)}`,
      );
    }
    this.flags = flags;
  }

  /**
   * VmbClientChannelInitSetRingBufferPageCount. Counts include each ring's control page (decision 3).
   * @param incoming - pages of the ring the client reads
   * @param outgoing - pages of the ring the client writes
   * @throws KmclError STATUS_INVALID_PARAMETER_2 or _3 for a count outside 2 to 8190; STATUS_INVALID_PARAMETER_1 on a server; STATUS_INVALID_PARAMETER_1 after Enable or Cleanup
   */
  initSetRingBufferPageCount(incoming: number, outgoing: number): void {
    this.clientOnly();
    this.configuring();
    if (!Number.isInteger(incoming) || incoming < 2 || incoming > 8190) {
      throw new KmclError(
        NTSTATUS.STATUS_INVALID_PARAMETER_2,
        `Incoming page count ${incoming} is not in 2..8190`,
      );
    }
    if (!Number.isInteger(outgoing) || outgoing < 2 || outgoing > 8190) {
      throw new KmclError(
        NTSTATUS.STATUS_INVALID_PARAMETER_3,
        `Outgoing page count ${outgoing} is not in 2..8190`,
      );
    }
    this.incomingPageCount = incoming;
    this.outgoingPageCount = outgoing;
  }

  /**
   * VmbClientChannelInitSetTargetPnp. Instance null: any instance of the type.
   * @param interfaceType - the device class
   * @param interfaceInstance - the instance, or null for any
   * @param failure - called if opening fails, or null
   * @param subchannelIndex - which channel of the device (0: the primary)
   * @throws KmclError STATUS_INVALID_PARAMETER_2 when a GUID is malformed; STATUS_INVALID_PARAMETER_1 on a server; STATUS_INVALID_PARAMETER_1 after Enable or Cleanup
   */
  initSetTargetPnp(
    interfaceType: string,
    interfaceInstance: string | null,
    failure: PnpFailureCallback | null = null,
    subchannelIndex = 0,
  ): void {
    this.clientOnly();
    this.configuring();
    try {
      this.targetInterfaceType = parseGuid(interfaceType);
      this.targetInterfaceInstance =
        interfaceInstance === null ? null : parseGuid(interfaceInstance);
    } catch {
      throw new KmclError(
        NTSTATUS.STATUS_INVALID_PARAMETER_2,
        'The interface type or instance is not a GUID',
      );
    }
    this.targetSubchannelIndex = subchannelIndex;
    this.pnpFailure = failure;
  }

  /**
   * VmbServerChannelInitSetFlags. @param flags - VMBUS_SERVER_CHANNEL_INIT_FLAG_*
   * @throws KmclError STATUS_INVALID_PARAMETER_2 for unknown bits; STATUS_INVALID_PARAMETER_1 on a client; STATUS_INVALID_PARAMETER_1 after Enable or Cleanup
   */
  initSetServerFlags(flags: number): void {
    this.serverOnly();
    this.configuring();
    if ((flags & ~VMBUS_SERVER_CHANNEL_INIT_FLAGS) !== 0) {
      throw new KmclError(
        NTSTATUS.STATUS_INVALID_PARAMETER_2,
        `Unknown server flags 0x${flags.toString(16)}`,
      );
    }
    this.serverFlags = flags;
  }

  /**
   * VmbServerChannelInitSetTargetInterfaceId.
   * @param interfaceType - the device class
   * @param interfaceInstance - the device instance
   * @throws KmclError STATUS_INVALID_PARAMETER_2 when a GUID is malformed; STATUS_INVALID_PARAMETER_1 on a client; STATUS_INVALID_PARAMETER_1 after Enable or Cleanup
   */
  initSetTargetInterfaceId(interfaceType: string, interfaceInstance: string): void {
    this.serverOnly();
    this.configuring();
    try {
      this.targetInterfaceType = parseGuid(interfaceType);
      this.targetInterfaceInstance = parseGuid(interfaceInstance);
    } catch {
      throw new KmclError(
        NTSTATUS.STATUS_INVALID_PARAMETER_2,
        'The interface type or instance is not a GUID',
      );
    }
  }

  /**
   * VmbServerChannelInitSetTargetVtl. @param vtl - 0..2 (decision 4)
   * @throws KmclError STATUS_INVALID_PARAMETER_2 above VTL 2; STATUS_INVALID_PARAMETER_1 on a client; STATUS_INVALID_PARAMETER_1 after Enable or Cleanup
   */
  initSetTargetVtl(vtl: number): void {
    this.serverOnly();
    this.configuring();
    if (!Number.isInteger(vtl) || vtl < 0 || vtl > 2)
      throw new KmclError(NTSTATUS.STATUS_INVALID_PARAMETER_2, `VTL ${vtl} is not 0, 1 or 2`);
    this.targetVtl = vtl;
  }

  /**
   * VmbServerChannelInitSetMmioMegabytes.
   * @param megabytes - MMIO space the guest must reserve, in MiB
   * @param optional - additional space it may reserve, in MiB
   * @throws KmclError STATUS_INVALID_PARAMETER for no space at all; STATUS_INVALID_PARAMETER_1 on a client; STATUS_INVALID_PARAMETER_1 after Enable or Cleanup
   */
  initSetMmioMegabytes(megabytes: number, optional: number): void {
    this.serverOnly();
    this.configuring();
    if (megabytes === 0 && optional === 0)
      throw new KmclError(NTSTATUS.STATUS_INVALID_PARAMETER, 'Both MMIO sizes are 0');
    if (!(megabytes >= 0 && megabytes <= 0xffff && optional >= 0 && optional <= 0xffff)) {
      throw new KmclError(NTSTATUS.STATUS_INVALID_PARAMETER, 'MMIO sizes are u16 megabytes');
    }
    this.mmioMegabytes = megabytes;
    this.mmioMegabytesOptional = optional;
  }

  /**
   * VmbServerChannelInitSetVmbusHandle: picks the guest VM (partition).
   * @param handle - from VmbConvertVmbusHandleToKernelHandle
   * @throws KmclError STATUS_INVALID_PARAMETER_2 for a handle that is not a partition; STATUS_INVALID_PARAMETER_1 on a client; STATUS_INVALID_PARAMETER_1 after Enable or Cleanup
   */
  initSetVmbusHandle(handle: KmclVmbusHandle): void {
    this.serverOnly();
    this.configuring();
    if (!handle?.partition)
      throw new KmclError(NTSTATUS.STATUS_INVALID_PARAMETER_2, 'Not a kernel VMBus handle');
    this.partition = handle.partition;
  }

  /**
   * VmbServerChannelInitSetSaveRestorePacketCallbacks.
   * @param save - saves the driver's part of a packet in flight
   * @param restore - rebuilds a packet from a save
   */
  initSetSaveRestorePacketCallbacks(
    save: SavePacketCallback,
    restore: RestorePacketCallback,
  ): void {
    this.serverOnly();
    this.configuring();
    this.savePacket = save;
    this.restorePacket = restore;
  }

  // ------------------------------------------------------------------
  // Lifecycle (API.md §3B).

  private async stateCallback<T>(name: string, run: () => T): Promise<T> {
    this.history.push(name);
    this.inStateCallback++;
    try {
      return run();
    } finally {
      this.inStateCallback--;
    }
  }

  /**
   * VmbChannelEnable: the server offers the channel; the client opens the
   * matching offer (waiting for one if none is there). Returns at once.
   *
   * @throws KmclError STATUS_INVALID_DEVICE_STATE when not disabled or not configured
   */
  enable(): void {
    if (this.lifecycle !== 'disabled' || this.cleanedUp) {
      throw new KmclError(
        NTSTATUS.STATUS_INVALID_DEVICE_STATE,
        `Enable needs a disabled channel; this one is ${this.lifecycle}`,
      );
    }
    if (!this.processPacket)
      throw new KmclError(
        NTSTATUS.STATUS_INVALID_DEVICE_STATE,
        'Set the process-packet callback before Enable',
      );
    if (!this.targetInterfaceType)
      throw new KmclError(
        NTSTATUS.STATUS_INVALID_DEVICE_STATE,
        'Set the target interface before Enable',
      );
    this.failed = false;
    this.lifecycle = 'enabled';
    this.history.push('enabled');
    if (this.isServer) this.enableServer();
    else this.enableClient();
  }

  private enableServer(): void {
    const host = this.parent.host!;
    const partition = this.partition;
    if (!partition)
      throw new KmclError(
        NTSTATUS.STATUS_INVALID_DEVICE_STATE,
        'No partition: set a VMBus handle or give the parent one',
      );
    this.active = this.startRequested && !this.pausedWhileDisabled;
    let flags = 0;
    if (this.serverFlags & VMBUS_SERVER_CHANNEL_INIT_FLAG_LOOPBACK_OFFER)
      flags |= OFFER_FLAG.LOOPBACK_OFFER;
    if (this.serverFlags & VMBUS_SERVER_CHANNEL_INIT_FLAG_ENUMERATE_DEVICE_INTERFACE)
      flags |= OFFER_FLAG.ENUMERATE_DEVICE_INTERFACE;
    if (this.serverFlags & VMBUS_SERVER_CHANNEL_INIT_FLAG_OFFER_AS_PIPE)
      flags |= OFFER_FLAG.NAMED_PIPE_MODE;
    if (this.serverFlags & VMBUS_SERVER_CHANNEL_INIT_FLAG_TLNPI_PROVIDER_OFFER)
      flags |= OFFER_FLAG.TLNPI_PROVIDER;
    if (this.targetVtl !== 0) {
      // Decision 4: our partitions run at VTL 0, so a channel for another VTL is never offered.
      this.history.push('not offered: target VTL has no partition');
      return;
    }
    this.hostOffer = host.offer(partition, {
      interfaceType: this.targetInterfaceType!,
      interfaceInstance: this.targetInterfaceInstance ?? '00000000-0000-0000-0000-000000000000',
      subchannelIndex: this.targetSubchannelIndex,
      flags,
      mmioMegabytes: this.mmioMegabytes,
      mmioMegabytesOptional: this.mmioMegabytesOptional,
      onOpen: async () => {
        const status = await this.stateCallback(
          'EvtChannelOpened',
          () => this.callbacks.EvtChannelOpened?.(this) ?? NTSTATUS.STATUS_SUCCESS,
        );
        if (status !== NTSTATUS.STATUS_SUCCESS) this.history.push(`open refused ${status >>> 0}`);
        return status >>> 0;
      },
      onOpened: (channel: HostChannel) => this.attach(channel.pipe),
      onClosed: (reason) => void this.peerClosed(reason),
    });
    this.relid = this.hostOffer.relid;
  }

  private enableClient(): void {
    const guest = this.parent.guest!;
    this.active = !this.pausedWhileDisabled;
    const match = (o: GuestOffer) =>
      o.state === 'offered' &&
      o.interfaceType === this.targetInterfaceType &&
      (this.targetInterfaceInstance === null ||
        o.interfaceInstance === this.targetInterfaceInstance) &&
      o.subchannelIndex === this.targetSubchannelIndex;
    const found = [...guest.offers.values()].find(match);
    if (found) {
      void this.openOffer(found);
      return;
    }
    this.history.push('waiting for an offer');
    this.stopWatching = guest.watchOffers((offer) => {
      if (this.lifecycle === 'enabled' && !this.guestOffer && match(offer)) {
        this.stopWatching?.();
        this.stopWatching = null;
        void this.openOffer(offer);
      }
    });
  }

  private async openOffer(offer: GuestOffer): Promise<void> {
    const guest = this.parent.guest!;
    this.guestOffer = offer;
    this.relid = offer.relid;
    let channel: GuestChannel;
    try {
      channel = await guest.open(offer, {
        upstreamPages: this.outgoingPageCount,
        downstreamPages: this.incomingPageCount,
      });
    } catch (e) {
      this.guestOffer = null;
      this.lifecycle = 'disabled';
      const status =
        e instanceof BusError && e.status !== 0 ? e.status : NTSTATUS.STATUS_DEVICE_NOT_CONNECTED;
      this.history.push(`EvtChannelPnpFailure ${status >>> 0}`);
      this.pnpFailure?.(this, status);
      return;
    }
    if (this.lifecycle !== 'enabled') {
      // Disabled while opening.
      await channel.close();
      return;
    }
    this.guestChannel = channel;
    const status = await this.stateCallback(
      'EvtChannelOpened',
      () => this.callbacks.EvtChannelOpened?.(this) ?? NTSTATUS.STATUS_SUCCESS,
    );
    if (status !== NTSTATUS.STATUS_SUCCESS) {
      // Decision 6: a failed Opened rolls back to no traffic; Closed is not called.
      this.history.push(`open refused ${status >>> 0}`);
      this.guestChannel = null;
      this.guestOffer = null;
      this.lifecycle = 'disabled';
      await channel.close();
      return;
    }
    this.attach(channel.pipe);
  }

  private attach(pipe: ChannelPipe): void {
    this.pipe = pipe;
    this.lastPipe = pipe;
    this.lifecycle = 'opened';
    this.failed = false;
    this.history.push('opened');
    pipe.onSignal = () => this.onSignal();
    pipe.onClose = (reason) => {
      // The client learns of a rescind or a vanished host from its pipe.
      if (!this.isServer) void this.peerClosed(reason);
    };
    if (this.active) void this.startSequence();
  }

  private async startSequence(): Promise<void> {
    if (this.started || this.lifecycle !== 'opened' || !this.active) return;
    await this.stateCallback('EvtChannelStarted', () => this.callbacks.EvtChannelStarted?.(this));
    if (this.lifecycle !== 'opened' || !this.active) return;
    this.started = true;
    this.history.push('queue running');
    this.flushSends();
    this.schedulePump();
    await this.stateCallback('EvtChannelPostStarted', () =>
      this.callbacks.EvtChannelPostStarted?.(this),
    );
  }

  private async suspendSequence(): Promise<void> {
    if (!this.started) return;
    this.started = false;
    await this.stateCallback('EvtChannelSuspend', () => this.callbacks.EvtChannelSuspend?.(this));
    await this.waitForOutstanding();
  }

  private waitForOutstanding(): Promise<void> {
    if (this.outstanding === 0) return Promise.resolve();
    return new Promise((resolve) => this.suspendWaiters.push(resolve));
  }

  private async peerClosed(reason: PipeCloseReason): Promise<void> {
    if (this.lifecycle !== 'opened') return;
    this.history.push(`peer closed (${reason})`);
    // A client whose ring was found damaged: the guest bus closes the
    // channel on the bus too (CLOSECHANNEL, the ring GPADL torn down), so
    // the host sees it closed and nothing leaks (VmbusGuest).
    await this.closeSequence(this.isServer && reason === 'closed' ? 'closed' : 'disabled');
  }

  private async closeSequence(end: KmclState): Promise<void> {
    this.lifecycle = end === 'disabled' && !this.isServer ? 'disabled' : end;
    await this.suspendSequence();
    this.pipe = null;
    this.guestChannel = null;
    this.guestOffer = null;
    this.cancelInFlight(NTSTATUS.STATUS_CANCELLED);
    this.pendingCompletions.length = 0;
    await this.stateCallback('EvtChannelClosed', () => this.callbacks.EvtChannelClosed?.(this));
    this.lifecycle = end;
  }

  /**
   * VmbChannelDisable: client closes, server rescinds; resolves once the
   * channel is paused and closed (outstanding incoming packets completed).
   * @throws KmclError STATUS_INVALID_DEVICE_STATE (rejected promise) when the channel is not enabled
   */
  async disable(): Promise<void> {
    if (this.inStateCallback > 0)
      throw new KmclError(
        NTSTATUS.STATUS_INVALID_DEVICE_STATE,
        'Disable is not allowed inside a state-change callback',
      );
    if (this.lifecycle === 'disabled') return;
    this.stopWatching?.();
    this.stopWatching = null;
    const wasOpen = this.lifecycle === 'opened';
    this.history.push('disabling');
    if (wasOpen) {
      this.lifecycle = 'closed';
      await this.suspendSequence();
    }
    if (this.isServer) {
      const offer = this.hostOffer;
      this.hostOffer = null;
      if (offer) offer.rescind();
    } else if (this.guestChannel) {
      const channel = this.guestChannel;
      this.guestChannel = null;
      await channel.close().catch(() => undefined);
    }
    if (wasOpen) {
      this.pipe = null;
      this.cancelInFlight(NTSTATUS.STATUS_CANCELLED);
      this.pendingCompletions.length = 0;
      await this.stateCallback('EvtChannelClosed', () => this.callbacks.EvtChannelClosed?.(this));
    }
    this.guestOffer = null;
    this.lifecycle = 'disabled';
    this.active = false;
    this.history.push('disabled');
  }

  /**
   * VmbChannelCleanup: destroys a disabled channel; queued packets complete
   * with STATUS_CANCELLED (decision 7).
   *
   * @throws KmclError STATUS_INVALID_DEVICE_STATE when the channel is not disabled
   */
  cleanup(): void {
    if (this.lifecycle !== 'disabled') {
      throw new KmclError(
        NTSTATUS.STATUS_INVALID_DEVICE_STATE,
        `Cleanup needs a disabled channel; this one is ${this.lifecycle}`,
      );
    }
    const queued = this.sendQueue.splice(0);
    for (const p of queued) this.finishPacket(p, NTSTATUS.STATUS_CANCELLED, 0);
    this.cleanedUp = true;
    this.history.push('cleaned up');
  }

  /**
   * VmbChannelStart: leaves Paused (the server must call it; a client is active once enabled).
   * @throws KmclError STATUS_INVALID_DEVICE_STATE when not enabled, or from inside a state callback
   */
  start(): void {
    if (this.inStateCallback > 0)
      throw new KmclError(
        NTSTATUS.STATUS_INVALID_DEVICE_STATE,
        'Start is not allowed inside a state-change callback',
      );
    if (this.lifecycle === 'disabled') {
      this.startRequested = true;
      this.pausedWhileDisabled = false;
      return;
    }
    this.active = true;
    this.failed = false;
    void this.startSequence();
  }

  /**
   * VmbChannelPause: no new I/O; resolves when Suspend has run and no
   * incoming packet is outstanding. On a disabled channel, records that it
   * should come up paused.
   * @throws KmclError STATUS_INVALID_DEVICE_STATE (rejected promise) when not started, or from inside a state callback
   */
  async pause(): Promise<void> {
    if (this.inStateCallback > 0)
      throw new KmclError(
        NTSTATUS.STATUS_INVALID_DEVICE_STATE,
        'Pause is not allowed inside a state-change callback',
      );
    if (this.lifecycle === 'disabled') {
      this.pausedWhileDisabled = true;
      this.startRequested = false;
      return;
    }
    this.active = false;
    await this.suspendSequence();
  }

  // ------------------------------------------------------------------
  // Outgoing packets (API.md §3C).

  /**
   * VmbChannelSizeofPacket: bytes a caller buffer needs for a packet object (decision 1).
   * @returns bytes a caller buffer needs for initializePacket
   */
  sizeofPacket(): number {
    return PACKET_HEADER_SIZE + ((this.maximumPacketSize + 7) & ~7);
  }

  /**
   * VmbPacketAllocate: a library-owned packet whose default completion routine frees it.
   * @returns a library-owned packet whose default completion routine frees it
   */
  allocatePacket(): KmclPacket {
    const reused = this.lookaside.pop();
    if (reused) {
      reused.freed = false;
      reused.completionRoutine = freeOnCompletion;
      reused.pointer = null;
      return reused;
    }
    const packet = new KmclPacket(this, new Uint8Array(this.sizeofPacket()), true);
    packet.completionRoutine = freeOnCompletion;
    return packet;
  }

  /**
   * VmbPacketInitialize: a packet object in caller memory.
   *
   * @param memory - caller memory
   * @param byteCount - bytes of it to use
   * @returns the packet
   * @throws KmclError STATUS_INVALID_PARAMETER_3 when byteCount is below sizeofPacket() or beyond the memory
   */
  initializePacket(
    memory: ArrayBuffer | SharedArrayBuffer | Uint8Array,
    byteCount: number,
  ): KmclPacket {
    const bytes = memory instanceof Uint8Array ? memory : new Uint8Array(memory);
    if (
      !Number.isInteger(byteCount) ||
      byteCount < this.sizeofPacket() ||
      byteCount > bytes.byteLength
    ) {
      throw new KmclError(
        NTSTATUS.STATUS_INVALID_PARAMETER_3,
        `ByteCount ${byteCount} is below VmbChannelSizeofPacket (${this.sizeofPacket()}) or beyond the ${bytes.byteLength}-byte buffer`,
      );
    }
    if (bytes.byteOffset % 4 !== 0)
      throw new KmclError(NTSTATUS.STATUS_INVALID_PARAMETER_2, 'Packet memory must be 4-aligned');
    return new KmclPacket(this, bytes.subarray(0, byteCount), false);
  }

  /**
   * VmbPacketFree: returns a library-owned packet. @throws KmclError when in flight or not library-owned
   * @param packet - a library-owned packet that is not in flight
   */
  freePacket(packet: KmclPacket): void {
    if (!packet.libraryOwned || packet.freed)
      throw new KmclError(
        NTSTATUS.STATUS_INVALID_PARAMETER_1,
        'Not a live packet from VmbPacketAllocate',
      );
    if (packet.inFlight)
      throw new KmclError(NTSTATUS.STATUS_INVALID_DEVICE_STATE, 'The packet is in flight');
    packet.freed = true;
    this.lookaside.push(packet);
  }

  /**
   * VmbPacketSend and its external-data forms: sends an inline buffer and
   * optional external data. With WAIT_FOR_COMPLETION the transaction ends
   * at the peer's completion; without, when the packet is in the ring.
   * Before Opened, or while the ring is full, the packet is queued and sent
   * in order (decision 7).
   *
   * @param packet - an idle packet with a completion routine
   * @param buffer - inline bytes
   * @param length - bytes of `buffer` to send (at most the maximum packet size)
   * @param external - external data, or null
   * @param flags - VMBUS_CHANNEL_FORMAT_FLAG_*
   * @throws KmclError for a packet that is not ready, a buffer too large, bad flags or external data
   */
  send(
    packet: KmclPacket,
    buffer: Uint8Array,
    length: number,
    external: ExternalData | null,
    flags: number,
  ): void {
    // One test for the per-packet path; the reason is found only for a refusal.
    if (
      packet.channel !== this ||
      packet.freed ||
      packet.completionRoutine === null ||
      packet.state !== 0 /* in flight */ ||
      this.cleanedUp ||
      (flags & ~7) /* VMBUS_CHANNEL_FORMAT_FLAGS */ !== 0 ||
      !Number.isInteger(length) ||
      length < 0 ||
      length > buffer.length ||
      length > this.maximumPacketSize
    )
      throw this.sendRefusal(packet, buffer, length, flags);
    if (external !== null) this.checkExternal(external);
    if (packet.external !== external) packet.external = external;
    if (packet.sendFlags !== flags) packet.sendFlags = flags;
    if ((flags & 1) /* WAIT_FOR_COMPLETION */ !== 0 || external !== null) this.assignSlot(packet);
    else packet.slot = 0;
    const payload = length === buffer.length ? buffer : buffer.subarray(0, length);
    if (this.started && this.sendQueue.length === 0 && this.writePacket(packet, payload)) return;
    this.enqueue(packet, payload);
  }

  /** Queues a packet that cannot go on the ring now (decision 7), with a copy of its payload. */
  private enqueue(packet: KmclPacket, payload: Uint8Array): void {
    packet.holdPayload(payload);
    packet.state = PACKET_STATE.QUEUED;
    this.sendQueue.push(packet);
    if (this.started) this.waitForRingSpace();
  }

  /** Why `send` refuses a packet (kept off the per-packet path). */
  private sendRefusal(
    packet: KmclPacket,
    buffer: Uint8Array,
    length: number,
    flags: number,
  ): KmclError {
    if (packet.channel !== this || packet.freed)
      return new KmclError(
        NTSTATUS.STATUS_INVALID_PARAMETER_1,
        'Not a live packet of this channel',
      );
    if (packet.completionRoutine === null)
      return new KmclError(
        NTSTATUS.STATUS_INVALID_PARAMETER_1,
        'The packet has no completion routine: call VmbPacketSetCompletionRoutine first',
      );
    if (packet.inFlight)
      return new KmclError(NTSTATUS.STATUS_INVALID_DEVICE_STATE, 'The packet is still in flight');
    if (this.cleanedUp)
      return new KmclError(NTSTATUS.STATUS_INVALID_DEVICE_STATE, 'The channel was cleaned up');
    if ((flags & ~VMBUS_CHANNEL_FORMAT_FLAGS) !== 0)
      return new KmclError(
        NTSTATUS.STATUS_INVALID_PARAMETER_5,
        `Unknown send flags 0x${flags.toString(16)}`,
      );
    return new KmclError(
      NTSTATUS.STATUS_INVALID_PARAMETER_3,
      `Buffer length ${length} exceeds the buffer of ${buffer.length} bytes or the maximum packet size ${this.maximumPacketSize}`,
    );
  }

  private checkExternal(external: ExternalData): void {
    if (external.kind === 'transfer-pages') {
      const { setId, count } = external;
      if (!Number.isInteger(setId) || setId < 0 || setId > 0xffff)
        throw new KmclError(
          NTSTATUS.STATUS_INVALID_PARAMETER_4,
          `Transfer page set id ${setId} does not fit in 16 bits`,
        );
      if (
        !Number.isInteger(count) ||
        count < 1 ||
        count > external.byteCount.length ||
        count > external.byteOffset.length ||
        16 + 8 + 8 * count > 0x7f8
      )
        throw new KmclError(
          NTSTATUS.STATUS_INVALID_PARAMETER_4,
          `Transfer page range count ${count} is not in 1..${Math.min(external.byteCount.length, 253)}`,
        );
      for (let i = 0; i < count; i++) {
        const n = external.byteCount[i]!;
        const at = external.byteOffset[i]!;
        if (!(n > 0 && n <= 0xffff_ffff && at >= 0 && at + n <= 0x1_0000_0000))
          throw new KmclError(
            NTSTATUS.STATUS_INVALID_PARAMETER_4,
            `Transfer page range ${i} (${at}+${n}) does not fit in 32 bits or is empty`,
          );
      }
      return;
    }
    if (external.kind === 'mdl') {
      if (external.chain.length === 0 || external.chain.length > this.maximumExternalChain) {
        throw new KmclError(
          NTSTATUS.STATUS_INVALID_PARAMETER_4,
          `An MDL chain of ${external.chain.length} exceeds the channel's ${this.maximumExternalChain}`,
        );
      }
      const total = external.chain.reduce((n, d) => n + d.byteLength, 0);
      if (external.offset + external.length > total && !external.forceLength) {
        throw new KmclError(
          NTSTATUS.STATUS_INVALID_PARAMETER_6,
          `MDL span ${external.offset}+${external.length} exceeds the chain's ${total} bytes`,
        );
      }
      if (external.length > this.maximumExternalData) {
        throw new KmclError(
          NTSTATUS.STATUS_INVALID_PARAMETER_6,
          `External data of ${external.length} bytes exceeds the channel's ${this.maximumExternalData}`,
        );
      }
    } else {
      if (external.count <= 0 || external.count > external.pfns.length) {
        throw new KmclError(
          NTSTATUS.STATUS_INVALID_PARAMETER_5,
          `PFN count ${external.count} is not in 1..${external.pfns.length}`,
        );
      }
      if (external.count * 4096 > this.maximumExternalData) {
        throw new KmclError(
          NTSTATUS.STATUS_INVALID_PARAMETER_5,
          `External data of ${external.count} pages exceeds the channel's ${this.maximumExternalData} bytes`,
        );
      }
    }
  }

  private assignSlot(packet: KmclPacket): void {
    const slot = this.freeSlots.pop() ?? this.newSlot();
    if (this.slots[slot] !== packet) this.slots[slot] = packet;
    packet.slot = slot + 1;
    packet.generation = this.generation = (this.generation + 1) >>> 0 || 1;
  }

  /** The packet whose transaction holds slot `index` (0-based), or null for a free slot. */
  private inSlot(index: number): KmclPacket | null {
    const packet = this.slots[index];
    return packet?.slot === index + 1 ? packet : null;
  }

  /** A transaction slot when none is free: the table grows (kept off the per-packet path). */
  private newSlot(): number {
    if (this.slots.length >= SEND_SLOT_LIMIT)
      throw new KmclError(
        NTSTATUS.STATUS_INSUFFICIENT_RESOURCES,
        'Too many transactions in flight',
      );
    this.slots.push(null);
    return this.slots.length - 1;
  }

  /** Encodes the GPA-direct header of a packet's external data into the scratch buffer. */
  private externalHeader(external: ExternalData): Uint8Array {
    if (external.kind === 'transfer-pages') {
      // Written field by field into the reused scratch: nothing allocated per packet.
      const size = 8 + 8 * external.count;
      if (this.extScratch.length < size) {
        this.extScratch = new Uint8Array(size);
        this.extView = new DataView(this.extScratch.buffer);
      }
      const view = this.extView;
      view.setUint32(0, external.setId, true);
      view.setUint32(4, external.count, true);
      for (let i = 0; i < external.count; i++) {
        view.setUint32(8 + 8 * i, external.byteCount[i]!, true);
        view.setUint32(12 + 8 * i, external.byteOffset[i]!, true);
      }
      return this.extScratch.subarray(0, size);
    }
    const ranges: { byteCount: number; byteOffset: number; pfns: readonly number[] }[] = [];
    if (external.kind === 'pfns') {
      ranges.push({
        byteCount: external.count * 4096,
        byteOffset: 0,
        pfns: external.pfns.slice(0, external.count),
      });
    } else {
      let skip = external.offset;
      let left =
        external.length === 0
          ? external.chain.reduce((n, d) => n + d.byteLength, 0) - external.offset
          : external.length;
      for (const d of external.chain) {
        if (left <= 0) break;
        if (skip >= d.byteLength && !external.forceLength) {
          skip -= d.byteLength;
          continue;
        }
        const start = d.byteOffset + skip;
        const available = external.forceLength ? 4096 * d.pfns.length - start : d.byteLength - skip;
        const n = Math.min(left, available);
        const first = Math.floor(start / 4096);
        const last = Math.floor((start + n - 1) / 4096);
        ranges.push({
          byteCount: n,
          byteOffset: start % 4096,
          pfns: d.pfns.slice(first, last + 1),
        });
        left -= n;
        skip = 0;
        if (external.forceLength) break;
      }
    }
    let size = 8;
    for (const r of ranges) size += 8 + 8 * r.pfns.length;
    if (this.extScratch.length < size) this.extScratch = new Uint8Array(size);
    const view = new DataView(this.extScratch.buffer);
    view.setUint32(0, 0, true);
    view.setUint32(4, ranges.length, true);
    let p = 8;
    for (const r of ranges) {
      view.setUint32(p, r.byteCount, true);
      view.setUint32(p + 4, r.byteOffset, true);
      p += 8;
      for (const pfn of r.pfns) {
        view.setUint32(p, pfn >>> 0, true);
        view.setUint32(p + 4, Math.floor(pfn / 0x1_0000_0000), true);
        p += 8;
      }
    }
    return this.extScratch.subarray(0, size);
  }

  /**
   * Tries to put one packet on the ring; completes it (without
   * WAIT_FOR_COMPLETION) or leaves it awaiting its completion. A packet
   * holds a transaction slot exactly when it waits for a completion (send).
   */
  private writePacket(packet: KmclPacket, payload: Uint8Array): boolean {
    const pipe = this.pipe;
    if (pipe === null) return false;
    if (packet.external !== null) return this.writeExternal(pipe, packet, packet.external, payload);
    const slot = packet.slot;
    const flags = slot !== 0 ? 1 /* PACKET_FLAG_COMPLETION_REQUESTED */ : 0;
    // emit's steps written out (one call level fewer on the per-packet
    // path; see VmbPacketSend in the facade for what that measured).
    if (
      !pipe.write(6 /* PACKET_TYPE_IN_BAND */, flags, slot, packet.generation, payload, this.empty)
    ) {
      this.publish(pipe);
      return false;
    }
    this.written(pipe);
    this.stats.packetsSent++;
    if (slot !== 0) packet.state = 2 /* PACKET_STATE.AWAITING_COMPLETION */;
    else this.finishPacket(packet, 0 /* STATUS_SUCCESS */, 0);
    return true;
  }

  /**
   * `writePacket` for a packet with external data (GPA-direct or transfer
   * pages), which always waits for its completion: a method of its own, so
   * `writePacket` stays small enough for V8 to inline into the per-packet
   * path.
   */
  private writeExternal(
    pipe: ChannelPipe,
    packet: KmclPacket,
    external: ExternalData,
    payload: Uint8Array,
  ): boolean {
    const written = this.emit(
      pipe,
      external.kind === 'transfer-pages' ? PACKET_TYPE_TRANSFER_PAGES : PACKET_TYPE_GPA_DIRECT,
      PACKET_FLAG_COMPLETION_REQUESTED,
      packet.slot,
      packet.generation,
      payload,
      this.externalHeader(external),
    );
    if (!written) return false;
    this.stats.packetsSent++;
    packet.state = PACKET_STATE.AWAITING_COMPLETION;
    return true;
  }

  private flushSends(): void {
    if (!this.started || !this.pipe) return;
    while (this.pendingCompletions.length > 0) {
      const c = this.pendingCompletions[0]!;
      if (!this.emit(this.pipe, PACKET_TYPE_COMPLETION, 0, c.idLow, c.idHigh, c.data, EMPTY))
        return this.waitForRingSpace();
      this.pendingCompletions.shift();
      this.stats.completionsSent++;
    }
    while (this.sendQueue.length > 0) {
      const packet = this.sendQueue[0]!;
      const payload = packet.queuedPayload ?? new Uint8Array(0);
      packet.state = PACKET_STATE.IDLE;
      if (!this.writePacket(packet, payload)) {
        packet.state = PACKET_STATE.QUEUED;
        return this.waitForRingSpace();
      }
      this.sendQueue.shift();
      packet.queuedPayload = null;
    }
  }

  /**
   * Writes one packet. Inside a pump (a process-packet callback completing,
   * a completion routine sending again) packets are published in batches
   * ({@link KmclChannel.batchSize}) and at the end of the pump's pass: one
   * index store and at most one interrupt for the lot (spec §1.8), while
   * the peer can already work on the first ones; elsewhere a packet is
   * published at once. A full ring publishes what is pending first, so the peer can
   * drain it and the caller may wait for space.
   */
  private emit(
    pipe: ChannelPipe,
    type: number,
    flags: number,
    idLow: number,
    idHigh: number,
    payload: Uint8Array,
    ext: Uint8Array,
  ): boolean {
    if (!pipe.write(type, flags, idLow, idHigh, payload, ext)) {
      this.publish(pipe);
      return false;
    }
    this.written(pipe);
    return true;
  }

  /** A packet was written: publish it now, or with its batch inside a pump (see `emit`). */
  private written(pipe: ChannelPipe): void {
    if (this.pumping && ++this.unpublished < this.publishAt) return;
    this.unpublished = 0;
    pipe.flush();
    this.publishAt = this.batchSize(pipe);
  }

  /**
   * How many packets a pump writes before it publishes them: half the
   * transactions this channel has in flight, or the packets known to wait
   * in its incoming ring if more, within {@link PUBLISH_MIN} and
   * {@link PUBLISH_MAX}. Each publication costs both sides a hand-off (a
   * full barrier, the peer's first read of lines this side wrote), so a
   * deep pipeline goes in larger batches; half the window keeps two
   * batches in flight, so neither side waits for the other's whole window.
   * The end of a pass publishes whatever is left.
   */
  private batchSize(pipe: ChannelPipe): number {
    const n = Math.max((this.slots.length - this.freeSlots.length) >> 1, pipe.incoming.backlog);
    return Math.min(Math.max(n, PUBLISH_MIN), PUBLISH_MAX);
  }

  /** Publishes packets written during a pump. */
  private publish(pipe: ChannelPipe): void {
    if (this.unpublished === 0) return;
    this.unpublished = 0;
    if (pipe.isOpen) pipe.flush();
  }

  private waitForRingSpace(): void {
    const pipe = this.pipe;
    if (!pipe || this.waitingForSpace) return;
    this.waitingForSpace = true;
    pipe.waitForSpace(pipe.outgoing.bytesNeeded || 64).then(
      () => {
        this.waitingForSpace = false;
        this.flushSends();
      },
      () => {
        this.waitingForSpace = false;
      },
    );
  }

  /** Gives a packet's transaction slot back to the free list (the packet stays in the table; see `slots`). */
  private releaseSlot(packet: KmclPacket): void {
    if (packet.slot === 0) return;
    this.freeSlots.push(packet.slot - 1);
    packet.slot = 0;
  }

  private finishPacket(packet: KmclPacket, status: number, length: number): void {
    this.releaseSlot(packet);
    packet.state = 0 /* PACKET_STATE.IDLE */;
    // Stored only when set (most packets carry neither): across workers a
    // store here can wait behind ring stores still on their way to the
    // peer's core (docs/performance.md; a small gain, within the noise).
    if (packet.external !== null) packet.external = null;
    if (packet.queuedPayload !== null) packet.queuedPayload = null;
    const routine = packet.completionRoutine;
    routine?.(packet, status, this.completionScratch, length);
  }

  private cancelInFlight(status: number): void {
    for (let i = 0; i < this.slots.length; i++) {
      const packet = this.inSlot(i);
      if (packet && packet.state === PACKET_STATE.AWAITING_COMPLETION) {
        this.finishPacket(packet, status, 0);
      }
    }
    // A synchronous request still queued will never be answered by this channel.
    for (let i = this.sendQueue.length - 1; i >= 0; i--) {
      const packet = this.sendQueue[i]!;
      if (packet.synchronous) {
        this.sendQueue.splice(i, 1);
        this.finishPacket(packet, status, 0);
      }
    }
  }

  // ------------------------------------------------------------------
  // Incoming packets (API.md §3D).

  private onSignal(): void {
    if (this.incomingAtPassive) this.schedulePump();
    else this.pump('dispatch');
  }

  private schedulePump(): void {
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    nextTask(() => {
      this.pumpScheduled = false;
      this.pump('passive');
    });
  }

  private canDeliver(): boolean {
    return this.started && !this.failed && this.outstanding < this.transactionQuota;
  }

  /** Reads the incoming ring and hands packets to the driver while the queue may run. */
  private pump(irql: 'dispatch' | 'passive'): void {
    const pipe = this.pipe;
    if (!pipe || this.pumping || !pipe.isOpen) return;
    this.pumping = true;
    this.currentIrql = irql;
    this.publishAt = this.batchSize(pipe);
    let batch = 0;
    try {
      // Deferred packets come back only at passive level.
      while (irql === 'passive' && this.redeliver.length > 0 && this.canDeliver()) {
        batch += this.deliver(this.redeliver.shift()!);
      }
      const ring = pipe.incoming;
      let sinceCommit = 0;
      for (;;) {
        ring.maskInterrupts();
        // Completions are always taken; data packets only while the queue runs.
        for (
          let p = this.canDeliver() ? ring.read() : null;
          p !== null;
          p = this.canDeliver() ? ring.read() : null
        ) {
          // Every packet is copied out before it is handled, so its ring
          // space can go back while a long pass goes on (spec §1.6 step 6).
          // Give ring space back every 64 packets, or every 16 once an
          // eighth of the ring waits (a long pass keeps the ring from filling).
          if (
            (++sinceCommit & 15) === 0 &&
            (sinceCommit === 64 || ring.uncommittedBytes >= ring.dataSize >>> 3)
          ) {
            sinceCommit = 0;
            if (ring.commitRead()) pipe.notifyPeer();
          }
          if (p.type === 11 /* PACKET_TYPE_COMPLETION */) {
            this.takeCompletion(p.transactionIdLow, p.transactionIdHigh, p);
            continue;
          }
          if (
            p.type !== 6 /* IN_BAND */ &&
            p.type !== 9 /* GPA_DIRECT */ &&
            p.type !== 7 /* TRANSFER_PAGES */
          )
            continue;
          const token = this.token();
          token.length = p.payloadLength;
          token.reserve(token.length);
          p.copyPayload(token.buffer, 0, token.length);
          token.completionRequested = p.completionRequested;
          token.idLow = p.transactionIdLow;
          token.idHigh = p.transactionIdHigh;
          token.flags = 0;
          token.rangeCount = 0;
          token.transferPageSetId = -1;
          token.pendingRetries = 0;
          if (p.type === PACKET_TYPE_TRANSFER_PAGES) {
            const r = p.ranges;
            token.transferPageSetId = r.transferPageSetId;
            token.rangeCount = r.count;
            for (let i = 0; i < r.count; i++) {
              token.rangeByteCount[i] = r.byteCount[i]!;
              token.rangeByteOffset[i] = r.byteOffset[i]!;
            }
          } else if (p.type === PACKET_TYPE_GPA_DIRECT) {
            token.flags = VMBUS_CHANNEL_PROCESS_PACKET_FLAG_EXTERNAL_DATA;
            const r = p.ranges;
            token.rangeCount = r.count;
            for (let i = 0; i < r.count; i++) {
              token.rangeByteCount[i] = r.byteCount[i]!;
              token.rangeByteOffset[i] = r.byteOffset[i]!;
              let pfns = token.rangePfns[i];
              if (pfns === undefined) {
                pfns = [];
                token.rangePfns[i] = pfns;
              }
              pfns.length = r.pfnCount[i]!;
              for (let j = 0; j < pfns.length; j++) pfns[j] = r.pfn(i, j);
            }
          }
          this.stats.packetsReceived++;
          batch += this.deliver(token);
        }
        this.publish(pipe);
        if (ring.commitRead()) pipe.notifyPeer();
        if (this.started && this.outstanding >= this.transactionQuota) this.quotaBlocked = true;
        // Drained: park the pipe with the mask set while the link pump spins
        // (it polls the ring), or unmask and re-check (spec §1.8).
        if (!this.canDeliver() || pipe.park() || !ring.unmaskInterrupts()) break;
      }
    } catch (e) {
      // A corrupt ring: the pipe closes, which closes the channel.
      pipe.close('corrupt', e instanceof Error ? e : undefined);
    } finally {
      this.pumping = false;
      this.publish(pipe);
    }
    if (batch > 0) {
      this.stats.batches++;
      this.processingComplete?.(this, batch);
    }
  }

  private token(): KmclIncoming {
    const spare = this.spareToken;
    if (spare >= 0) {
      this.spareToken = -1;
      return this.tokens[spare]!;
    }
    const free = this.freeTokens.pop();
    return free !== undefined ? this.tokens[free]! : this.newToken();
  }

  /** A token when none is free (kept off the per-packet path). */
  private newToken(): KmclIncoming {
    const token = new KmclIncoming(
      this,
      Math.min(this.maximumPacketSize + 8, 4096),
      this.clientContextSize,
      this.tokens.length,
    );
    this.tokens.push(token);
    return token;
  }

  /** Hands one token to the process-packet callback; returns 1 if it counts for the batch. */
  private deliver(token: KmclIncoming): number {
    token.state = 'delivering';
    token.deferRequested = false;
    this.outstanding++;
    this.processPacket!(this, token, token.buffer, token.length, token.flags);
    if (token.deferRequested) {
      token.state = 'deferred';
      this.redeliver.push(token);
      this.schedulePump();
      return 0;
    }
    if (token.state === 'delivering') token.state = 'outstanding';
    return 1;
  }

  private takeCompletion(
    idLow: number,
    idHigh: number,
    p: { payloadLength: number; copyPayload(d: Uint8Array, o?: number, m?: number): number },
  ): void {
    const packet = idLow >= 1 ? this.inSlot(idLow - 1) : null;
    if (
      !packet ||
      packet.generation !== idHigh ||
      packet.state !== 2 // PACKET_STATE.AWAITING_COMPLETION
    ) {
      this.stats.unmatchedCompletions++;
      return;
    }
    const n =
      p.payloadLength === 0
        ? 0
        : p.copyPayload(this.completionScratch, 0, this.completionScratch.length);
    this.stats.completionsReceived++;
    this.finishPacket(packet, 0 /* STATUS_SUCCESS */, n);
  }

  /**
   * VmbChannelPacketComplete: finishes an incoming packet exactly once; if
   * the sender asked, a completion carrying `buffer[0, length)` goes back.
   *
   * @throws KmclError STATUS_INVALID_DEVICE_STATE when completed twice
   * @param token - the incoming packet
   * @param buffer - completion bytes, or null
   * @param length - bytes of `buffer` to send
   */
  completePacket(token: KmclIncoming, buffer: Uint8Array | null, length: number): void {
    if (
      token.channel !== this ||
      (token.state !== 'outstanding' && token.state !== 'delivering') ||
      (length > 0 && (!buffer || length > buffer.length))
    )
      throw this.completionRefusal(token, length);
    token.state = 'completed';
    if (token.completionRequested && this.pipe?.isOpen) {
      const data =
        length === 0 || !buffer
          ? this.empty
          : length === buffer.length
            ? buffer
            : buffer.subarray(0, length);
      if (
        this.pendingCompletions.length === 0 &&
        this.emit(this.pipe, 11 /* COMPLETION */, 0, token.idLow, token.idHigh, data, this.empty)
      )
        this.stats.completionsSent++;
      else this.holdCompletion(token, data);
    }
    this.release(token);
  }

  /** Keeps a completion the ring has no room for, to send in order when it has. */
  private holdCompletion(token: KmclIncoming, data: Uint8Array): void {
    this.pendingCompletions.push({ idLow: token.idLow, idHigh: token.idHigh, data: data.slice() });
    this.waitForRingSpace();
  }

  /** Why `completePacket` refuses (kept off the per-packet path). */
  private completionRefusal(token: KmclIncoming, length: number): KmclError {
    if (token.channel !== this || (token.state !== 'outstanding' && token.state !== 'delivering'))
      return new KmclError(
        NTSTATUS.STATUS_INVALID_DEVICE_STATE,
        'The packet was already completed or is not outstanding',
      );
    return new KmclError(
      NTSTATUS.STATUS_INVALID_PARAMETER_3,
      `Completion length ${length} exceeds the buffer`,
    );
  }

  private release(token: KmclIncoming): void {
    token.state = 'free';
    if (this.spareToken < 0) this.spareToken = token.index;
    else this.freeTokens.push(token.index);
    this.outstanding--;
    if (this.outstanding === 0 && this.suspendWaiters.length > 0) {
      for (const w of this.suspendWaiters.splice(0)) w();
    }
    // Only a completion restarts a quota-blocked queue (API.md §3D).
    if (this.quotaBlocked && this.started) {
      this.quotaBlocked = false;
      this.schedulePump();
    }
  }

  /**
   * VmbChannelPacketDeferToPassive: only inline from the process-packet callback.
   * @param token - the incoming packet being delivered
   * @throws KmclError STATUS_INVALID_DEVICE_STATE outside the process-packet callback of this packet
   */
  deferToPassive(token: KmclIncoming): void {
    if (token.state !== 'delivering')
      throw new KmclError(
        NTSTATUS.STATUS_INVALID_DEVICE_STATE,
        'DeferToPassive is only valid inside the process-packet callback',
      );
    token.deferRequested = true;
    this.outstanding--;
  }

  /**
   * VmbChannelPacketFail: the packet is unrecoverably bad; the incoming
   * queue stops until the next Start after a Pause, or a reopen (decision
   * 13). No completion is sent for it.
   * @param token - the malformed incoming packet
   * @throws KmclError STATUS_INVALID_DEVICE_STATE for a packet that is not outstanding
   */
  failPacket(token: KmclIncoming): void {
    if (token.state !== 'delivering' && token.state !== 'outstanding') {
      throw new KmclError(NTSTATUS.STATUS_INVALID_DEVICE_STATE, 'The packet is not outstanding');
    }
    this.failed = true;
    this.history.push('queue stopped by PacketFail');
    this.release(token);
  }

  /**
   * VmbChannelPacketGetExternalData: the packet's external buffers as an
   * MDL chain in guest memory, valid until the packet is completed.
   *
   * @returns STATUS_SUCCESS with the chain, or STATUS_PENDING (return from the callback; it is called again)
   * @param token - an outstanding incoming packet with external data
   * @param flags - VMBUS_CHANNEL_PACKET_EXTERNAL_DATA_FLAG_READ_ONLY or 0
   * @throws KmclError STATUS_INVALID_PARAMETER_1 for a packet not outstanding, _2 for unknown flags; STATUS_INVALID_DEVICE_REQUEST without external data; STATUS_INVALID_PARAMETER for ranges outside guest memory
   */
  getExternalData(token: KmclIncoming, flags: number): { status: number; mdl: MemoryDescriptor[] } {
    if (token.state !== 'delivering' && token.state !== 'outstanding') {
      throw new KmclError(NTSTATUS.STATUS_INVALID_PARAMETER_1, 'The packet is not outstanding');
    }
    if ((flags & ~VMBUS_CHANNEL_PACKET_EXTERNAL_DATA_FLAG_READ_ONLY) !== 0) {
      throw new KmclError(
        NTSTATUS.STATUS_INVALID_PARAMETER_2,
        `Unknown flags 0x${flags.toString(16)}`,
      );
    }
    if (token.rangeCount === 0 || token.transferPageSetId >= 0)
      throw new KmclError(
        NTSTATUS.STATUS_INVALID_DEVICE_REQUEST,
        'The packet carries no external data (transfer-page ranges point into a buffer the receiver owns)',
      );
    if (
      this.simulatePagedOutExternalData &&
      token.pendingRetries === 0 &&
      token.state === 'delivering'
    ) {
      token.pendingRetries++;
      this.deferToPassive(token);
      return { status: NTSTATUS.STATUS_PENDING, mdl: [] };
    }
    const readOnly = (flags & VMBUS_CHANNEL_PACKET_EXTERNAL_DATA_FLAG_READ_ONLY) !== 0;
    const memory = this.guestMemory;
    const mdl: MemoryDescriptor[] = [];
    try {
      for (let i = 0; i < token.rangeCount; i++) {
        mdl.push(
          new MemoryDescriptor(
            memory,
            token.rangePfns[i]!.slice(),
            token.rangeByteOffset[i]!,
            token.rangeByteCount[i]!,
            readOnly,
          ),
        );
      }
    } catch (e) {
      // PFNs the peer named outside guest memory: a failure, never an access.
      throw new KmclError(
        NTSTATUS.STATUS_INVALID_PARAMETER,
        `The external data lies outside guest memory: ${e instanceof Error ? e.message : String(e)}`,
      );
    }
    return { status: NTSTATUS.STATUS_SUCCESS, mdl };
  }

  /**
   * VmbChannelSetTransactionQuota. @param quota - > 0
   * @throws KmclError STATUS_INVALID_PARAMETER_2 for 0 or a non-integer
   */
  setTransactionQuota(quota: number): void {
    if (!Number.isInteger(quota) || quota <= 0)
      throw new KmclError(NTSTATUS.STATUS_INVALID_PARAMETER_2, `Quota ${quota} is not positive`);
    this.transactionQuota = quota;
  }

  /**
   * VmbChannelSetIncomingProcessingAtPassive.
   * @param requirePassive - true to deliver from a task rather than inline
   */
  setIncomingProcessingAtPassive(requirePassive: boolean): void {
    this.incomingAtPassive = requirePassive;
  }

  // ------------------------------------------------------------------
  // Synchronous requests.

  /**
   * VmbChannelSendSynchronousRequest (decision 11 for the statuses the docs leave open).
   *
   * @param buffer - inline bytes
   * @param length - bytes to send
   * @param external - external data, or null
   * @param flags - VMBUS_CHANNEL_FORMAT_FLAG_*
   * @param completionBuffer - receives the completion, or null
   * @param completionSize - in: room (a multiple of 8); out: bytes written
   * @param timeout - 100 ns units: negative relative, positive absolute (since 1601), 0 no wait, null for ever
   * @returns the status
   */
  async sendSynchronousRequest(
    buffer: Uint8Array,
    length: number,
    external: ExternalData | null,
    flags: number,
    completionBuffer: Uint8Array | null,
    completionSize: { value: number } | null,
    timeout: bigint | null,
  ): Promise<number> {
    const wait = (flags & VMBUS_CHANNEL_FORMAT_FLAG_WAIT_FOR_COMPLETION) !== 0;
    if (this.isServer && (timeout !== 0n || wait)) return NTSTATUS.STATUS_INVALID_DEVICE_REQUEST;
    if (completionSize && completionSize.value % 8 !== 0)
      return NTSTATUS.STATUS_INVALID_BUFFER_SIZE;
    if (this.inStateCallback > 0 && this.history[this.history.length - 1] === 'EvtChannelStarted') {
      // Decision 11: the docs say it never returns from EvtChannelStarted; we refuse instead of hanging.
      return NTSTATUS.STATUS_INVALID_DEVICE_STATE;
    }
    if (this.lifecycle === 'disabled' || this.cleanedUp) return NTSTATUS.STATUS_DEVICE_REMOVED;
    if (timeout === 0n && (!this.started || this.sendQueue.length > 0))
      return NTSTATUS.STATUS_BUFFER_OVERFLOW;
    const packet = this.allocatePacket();
    packet.synchronous = true;
    let done!: (r: { status: number; length: number }) => void;
    const finished = new Promise<{ status: number; length: number }>((resolve) => {
      done = resolve;
    });
    packet.completionRoutine = (p, status, data, n) => {
      if (completionBuffer && status === NTSTATUS.STATUS_SUCCESS && n > 0) {
        completionBuffer.set(
          data.subarray(
            0,
            Math.min(n, completionBuffer.length, completionSize?.value ?? completionBuffer.length),
          ),
        );
      }
      done({ status, length: n });
      p.synchronous = false;
      this.freePacket(p);
    };
    try {
      if (timeout === 0n) {
        packet.sendFlags = 0;
        this.send(packet, buffer, length, external, flags);
        if (packet.state === PACKET_STATE.QUEUED) {
          // It did not fit: take it back, not queued.
          this.sendQueue.splice(this.sendQueue.indexOf(packet), 1);
          this.finishPacket(packet, NTSTATUS.STATUS_BUFFER_OVERFLOW, 0);
          return NTSTATUS.STATUS_BUFFER_OVERFLOW;
        }
        if (!wait) return NTSTATUS.STATUS_SUCCESS;
      } else {
        this.send(packet, buffer, length, external, flags);
      }
    } catch (e) {
      if (e instanceof KmclError) return e.status;
      throw e;
    }
    const ms = timeoutMs(timeout);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      if (ms !== null) timer = setTimeout(() => resolve('timeout'), ms);
    });
    const result = await Promise.race([finished, timedOut]);
    if (timer) clearTimeout(timer);
    if (result === 'timeout') {
      // Cancel: a late completion is dropped as unmatched.
      this.releaseSlot(packet);
      const q = this.sendQueue.indexOf(packet);
      if (q >= 0) this.sendQueue.splice(q, 1);
      packet.state = PACKET_STATE.IDLE;
      return NTSTATUS.STATUS_CANCELLED;
    }
    if (result.status === NTSTATUS.STATUS_CANCELLED) return NTSTATUS.STATUS_DEVICE_REMOVED;
    if (completionSize) {
      const room = completionBuffer ? Math.min(completionSize.value, completionBuffer.length) : 0;
      completionSize.value = Math.min(result.length, room);
      if (result.length > room && wait) return NTSTATUS.STATUS_BUFFER_OVERFLOW;
    }
    return result.status;
  }

  // ------------------------------------------------------------------
  // GPADLs and MMIO (API.md §3E).

  /**
   * VmbChannelCreateGpadlFromBuffer / FromMdl (client): describes guest
   * memory to the host; resolves with the handle once the host acknowledged it.
   * @param flags - VMBUS_CHANNEL_GPADL_FLAG_READ_ONLY or 0
   * @param mdl - guest memory to describe
   * @returns the GPADL handle (bit 31 set when read-only)
   * @throws KmclError (rejected promise) STATUS_INVALID_PARAMETER_2 for unknown flags, _3 for memory that is not guest memory, _4 for an empty buffer; STATUS_INVALID_DEVICE_STATE when not open; the host's status when it refuses
   */
  async createGpadl(flags: number, mdl: MemoryDescriptor): Promise<number> {
    this.clientOnly();
    if ((flags & ~VMBUS_CHANNEL_GPADL_FLAGS) !== 0)
      throw new KmclError(
        NTSTATUS.STATUS_INVALID_PARAMETER_2,
        `Unknown GPADL flags 0x${flags.toString(16)}`,
      );
    if (this.lifecycle !== 'opened' || !this.parent.guest)
      throw new KmclError(NTSTATUS.STATUS_INVALID_DEVICE_STATE, 'GPADLs need an opened channel');
    if (mdl.memory !== this.parent.guest.memory)
      throw new KmclError(NTSTATUS.STATUS_INVALID_PARAMETER_3, 'The buffer is not in guest memory');
    if (mdl.byteLength === 0)
      throw new KmclError(NTSTATUS.STATUS_INVALID_PARAMETER_4, 'The buffer is empty');
    const readOnly = (flags & VMBUS_CHANNEL_GPADL_FLAG_READ_ONLY) !== 0;
    try {
      const handle = await this.parent.guest.createGpadl(
        this.relid,
        mdl,
        readOnly ? KMCL_GPADL_HANDLE_READ_ONLY : 0,
      );
      this.gpadls.add(handle);
      return handle;
    } catch (e) {
      throw new KmclError(
        e instanceof BusError && e.status !== 0 ? e.status : NTSTATUS.STATUS_INSUFFICIENT_RESOURCES,
        `The host refused the GPADL: ${e instanceof Error ? e.message : String(e)}`,
      );
    }
  }

  /**
   * VmbChannelDeleteGpadl (client): resolves once the host let go of it (waits while mapped).
   * @param handle - a handle from createGpadl
   * @throws KmclError STATUS_NOT_FOUND (rejected promise) for an unknown handle
   */
  async deleteGpadl(handle: number): Promise<void> {
    this.clientOnly();
    if (!this.gpadls.has(handle))
      throw new KmclError(
        NTSTATUS.STATUS_NOT_FOUND,
        `GPADL 0x${handle.toString(16)} is not one of this channel's`,
      );
    this.gpadls.delete(handle);
    await this.parent.guest?.teardownGpadl(this.relid, handle).catch(() => undefined);
  }

  /**
   * VmbChannelMapGpadl (server): one mapping per GPADL at a time.
   * @param flags - VMBUS_CHANNEL_GPADL_FLAG_READ_ONLY for a read-only GPADL, else 0
   * @param handle - the GPADL handle
   * @returns the GPADL's pages as memory descriptors
   * @throws KmclError STATUS_NOT_FOUND for an unknown handle; STATUS_INVALID_DEVICE_STATE when already mapped or not open; STATUS_INVALID_DEVICE_REQUEST for a read-only GPADL without the read-only flag; STATUS_INVALID_PARAMETER_2 for unknown flags; STATUS_INVALID_PARAMETER_1 on a client
   */
  mapGpadl(flags: number, handle: number): MemoryDescriptor[] {
    this.serverOnly();
    if ((flags & ~VMBUS_CHANNEL_GPADL_FLAGS) !== 0)
      throw new KmclError(
        NTSTATUS.STATUS_INVALID_PARAMETER_2,
        `Unknown flags 0x${flags.toString(16)}`,
      );
    const partition = this.partition;
    if (!partition || this.lifecycle !== 'opened')
      throw new KmclError(NTSTATUS.STATUS_INVALID_DEVICE_STATE, 'Mapping needs an opened channel');
    const readOnly = (flags & VMBUS_CHANNEL_GPADL_FLAG_READ_ONLY) !== 0;
    if (!readOnly && (handle & KMCL_GPADL_HANDLE_READ_ONLY) !== 0) {
      throw new KmclError(
        NTSTATUS.STATUS_INVALID_DEVICE_REQUEST,
        'The GPADL was created read-only: map it with VMBUS_CHANNEL_GPADL_FLAG_READ_ONLY',
      );
    }
    const mapped = partition.mapGpadl(this.relid, handle);
    if (typeof mapped === 'string') {
      throw new KmclError(
        mapped.includes('already mapped')
          ? NTSTATUS.STATUS_INVALID_DEVICE_STATE
          : NTSTATUS.STATUS_NOT_FOUND,
        mapped,
      );
    }
    this.mapped.add(handle);
    return mapped.ranges.map(
      (r) => new MemoryDescriptor(partition.memory, r.pfns, r.byteOffset, r.byteCount, readOnly),
    );
  }

  /**
   * VmbChannelUnmapGpadl (server).
   * @param handle - a mapped GPADL handle
   * @throws KmclError STATUS_NOT_FOUND for a handle that is not mapped
   */
  unmapGpadl(handle: number): void {
    this.serverOnly();
    if (!this.mapped.delete(handle))
      throw new KmclError(
        NTSTATUS.STATUS_NOT_FOUND,
        `GPADL 0x${handle.toString(16)} is not mapped`,
      );
    this.partition?.unmapGpadl(handle);
  }

  /**
   * VmbChannelGetMmioSpace: zeros before Opened or without MMIO (decision 18).
   * @returns the address and size of the MMIO space (zeros when none)
   */
  getMmioSpace(): { address: bigint; size: bigint } {
    if (this.lifecycle !== 'opened') return { address: 0n, size: 0n };
    const mb = this.isServer
      ? this.mmioMegabytes + this.mmioMegabytesOptional
      : (this.guestOffer?.mmioMegabytes ?? 0) + (this.guestOffer?.mmioMegabytesOptional ?? 0);
    if (mb === 0) return { address: 0n, size: 0n };
    return { address: FIRST_MMIO + BigInt(this.relid) * 0x1000_0000n, size: BigInt(mb) << 20n };
  }

  /**
   * VmbChannelGetInterfaceInstance.
   * @returns the instance GUID of the channel's offer
   */
  getInterfaceInstance(): Guid {
    if (!this.isServer && this.guestOffer) return this.guestOffer.interfaceInstance;
    return this.targetInterfaceInstance ?? parseGuid('00000000-0000-0000-0000-000000000000');
  }

  /**
   * VmbChannelSetInterruptLatency (client, while open): returns the old value.
   * @param latency - the new latency, in 100 ns units (a u16)
   * @returns the previous latency
   * @throws KmclError STATUS_INVALID_DEVICE_STATE when not open; STATUS_INVALID_PARAMETER_2 for a value that is not a u16; STATUS_INVALID_PARAMETER_1 on a server
   */
  setInterruptLatency(latency: number): number {
    this.clientOnly();
    if (this.lifecycle !== 'opened')
      throw new KmclError(
        NTSTATUS.STATUS_INVALID_DEVICE_STATE,
        'Interrupt latency is set while the channel is open',
      );
    if (!Number.isInteger(latency) || latency < 0 || latency > 0xffff)
      throw new KmclError(NTSTATUS.STATUS_INVALID_PARAMETER_2, `Latency ${latency} is not a u16`);
    const old = this.interruptLatency;
    this.interruptLatency = latency;
    return old;
  }

  // ------------------------------------------------------------------
  // Save / restore (API.md §3F), server only. The blob is this library's
  // own format (decision 19): a header, then one record per packet awaiting
  // its completion: slot, generation, the library's state, the VSP's bytes.

  /**
   * VmbChannelSaveBegin.
   * @throws KmclError STATUS_INVALID_DEVICE_STATE when a save is running; the save-packet callback's failure status; STATUS_INVALID_PARAMETER_1 on a client
   */
  saveBegin(): void {
    this.serverOnly();
    if (this.saveSession)
      throw new KmclError(NTSTATUS.STATUS_INVALID_DEVICE_STATE, 'A save is already in progress');
    const chunks: Uint8Array[] = [];
    for (let i = 0; i < this.slots.length; i++) {
      const packet = this.inSlot(i);
      if (!packet || packet.state !== PACKET_STATE.AWAITING_COMPLETION) continue;
      let vsp = EMPTY;
      if (this.savePacket) {
        const needed = { value: 0 };
        const first = this.savePacket(this, packet, EMPTY, 0, needed);
        if (first !== NTSTATUS.STATUS_SUCCESS && needed.value > 0) {
          vsp = new Uint8Array(needed.value);
          const second = this.savePacket(this, packet, vsp, vsp.length, needed);
          if (second !== NTSTATUS.STATUS_SUCCESS)
            throw new KmclError(second, 'EvtVmbChannelSavePacket failed');
        }
      }
      const chunk = new Uint8Array(16 + vsp.length);
      const dv = new DataView(chunk.buffer);
      dv.setUint32(0, packet.slot, true);
      dv.setUint32(4, packet.generation, true);
      dv.setUint32(8, packet.sendFlags, true);
      dv.setUint32(12, vsp.length, true);
      chunk.set(vsp, 16);
      chunks.push(chunk);
    }
    this.saveSession = chunks;
    this.saveIndex = 0;
  }

  /**
   * VmbChannelSaveContinue: writes whole records while they fit.
   *
   * @returns SUCCESS (all saved), BUFFER_OVERFLOW (some written, more remain) or BUFFER_TOO_SMALL (none fits)
   * @param buffer - receives the next records
   * @param size - bytes of `buffer` usable
   * @throws KmclError STATUS_INVALID_DEVICE_STATE without saveBegin; STATUS_INVALID_PARAMETER_3 for a size over the buffer
   */
  saveContinue(
    buffer: Uint8Array,
    size: number,
  ): { status: number; filled: number; required: number } {
    this.serverOnly();
    const chunks = this.saveSession;
    if (!chunks) throw new KmclError(NTSTATUS.STATUS_INVALID_DEVICE_STATE, 'No save in progress');
    if (size > buffer.length)
      throw new KmclError(
        NTSTATUS.STATUS_INVALID_PARAMETER_3,
        `Size ${size} exceeds the ${buffer.length}-byte buffer`,
      );
    // Chunk: u32 magic, u32 1 when more chunks follow, then records of u32 length + bytes.
    const first = chunks[this.saveIndex];
    const need = 8 + (first ? 4 + first.length : 0);
    if (size < need) return { status: NTSTATUS.STATUS_BUFFER_TOO_SMALL, filled: 0, required: need };
    const head = new DataView(buffer.buffer, buffer.byteOffset, size);
    head.setUint32(0, SAVE_MAGIC, true);
    let filled = 8;
    while (this.saveIndex < chunks.length) {
      const chunk = chunks[this.saveIndex]!;
      const framed = 4 + chunk.length;
      if (filled + framed > size) break;
      head.setUint32(filled, chunk.length, true);
      buffer.set(chunk, filled + 4);
      filled += framed;
      this.saveIndex++;
    }
    const more = this.saveIndex < chunks.length;
    head.setUint32(4, more ? 1 : 0, true);
    if (more)
      return {
        status: NTSTATUS.STATUS_BUFFER_OVERFLOW,
        filled,
        required: 12 + chunks[this.saveIndex]!.length,
      };
    return { status: NTSTATUS.STATUS_SUCCESS, filled, required: 0 };
  }

  /** VmbChannelSaveEnd. */
  saveEnd(): void {
    this.serverOnly();
    this.saveSession = null;
  }

  /**
   * VmbChannelRestoreFromBuffer: restores whole records; calls
   * EvtVmbChannelRestorePacket for each.
   *
   * @param buffer - one chunk as SaveContinue filled it
   * @param size - its bytes
   * @returns SUCCESS, MORE_PROCESSING_REQUIRED (more chunks follow), or a failure
   */
  restoreFromBuffer(buffer: Uint8Array, size: number): number {
    this.serverOnly();
    if (size < 8 || size > buffer.length) return NTSTATUS.STATUS_INVALID_PARAMETER;
    const head = new DataView(buffer.buffer, buffer.byteOffset, 8);
    if (head.getUint32(0, true) !== SAVE_MAGIC) return NTSTATUS.STATUS_INVALID_PARAMETER;
    const more = head.getUint32(4, true) === 1;
    let at = 8;
    while (at + 4 <= size) {
      const length = new DataView(buffer.buffer, buffer.byteOffset + at, 4).getUint32(0, true);
      if (length < 16 || at + 4 + length > size) return NTSTATUS.STATUS_INVALID_PARAMETER;
      const record = buffer.subarray(at + 4, at + 4 + length);
      const vspLength = new DataView(record.buffer, record.byteOffset + 12, 4).getUint32(0, true);
      if (16 + vspLength !== length) return NTSTATUS.STATUS_INVALID_PARAMETER;
      const status =
        this.restorePacket?.(this, record.subarray(0, 16), 16, record.subarray(16), vspLength) ??
        NTSTATUS.STATUS_SUCCESS;
      if (status !== NTSTATUS.STATUS_SUCCESS) return status;
      at += 4 + length;
    }
    if (at !== size) return NTSTATUS.STATUS_INVALID_PARAMETER;
    return more ? NTSTATUS.STATUS_MORE_PROCESSING_REQUIRED : NTSTATUS.STATUS_SUCCESS;
  }

  /**
   * VmbPacketRestore: puts a fresh packet back in flight with its saved transaction.
   * @param packet - a fresh packet object
   * @param libBuffer - the library buffer of the restore callback
   * @param size - its size
   * @throws KmclError STATUS_INVALID_PARAMETER_2 for bytes that are not a saved packet; STATUS_INVALID_DEVICE_STATE when its slot is in use
   */
  restorePacketObject(packet: KmclPacket, libBuffer: Uint8Array, size: number): void {
    this.serverOnly();
    if (size < 16 || packet.inFlight)
      throw new KmclError(NTSTATUS.STATUS_INVALID_PARAMETER_2, 'Not a saved packet record');
    const dv = new DataView(libBuffer.buffer, libBuffer.byteOffset, 16);
    const slot = dv.getUint32(0, true);
    const generation = dv.getUint32(4, true);
    if (slot === 0 || slot > SEND_SLOT_LIMIT)
      throw new KmclError(
        NTSTATUS.STATUS_INVALID_PARAMETER_2,
        `Saved slot ${slot} is out of range`,
      );
    while (this.slots.length < slot) this.slots.push(null);
    const existing = this.inSlot(slot - 1);
    if (existing && existing !== packet)
      throw new KmclError(NTSTATUS.STATUS_INVALID_DEVICE_STATE, `Slot ${slot} is in use`);
    const free = this.freeSlots.indexOf(slot - 1);
    if (free >= 0) this.freeSlots.splice(free, 1);
    this.slots[slot - 1] = packet;
    packet.slot = slot;
    packet.generation = generation;
    packet.sendFlags = dv.getUint32(8, true);
    packet.state = PACKET_STATE.AWAITING_COMPLETION;
  }

  /**
   * Forgets every packet awaiting a completion without completing it: what
   * a host loses across a save and restore (for tests of save/restore).
   *
   * @returns how many were forgotten
   */
  forgetInFlight(): number {
    let n = 0;
    for (let i = 0; i < this.slots.length; i++) {
      const packet = this.inSlot(i);
      if (packet && packet.state === PACKET_STATE.AWAITING_COMPLETION) {
        packet.state = PACKET_STATE.IDLE;
        this.releaseSlot(packet);
        n++;
      }
    }
    return n;
  }
}

const EMPTY = new Uint8Array(0);
const SAVE_MAGIC = 0x56534d4b;

function freeOnCompletion(packet: KmclPacket): void {
  if (!packet.freed) packet.channel.freePacket(packet);
}

/**
 * Windows timeout (100 ns units: negative relative, positive absolute since
 * 1601-01-01 UTC, 0 no wait) to milliseconds; null waits for ever.
 *
 * @param timeout - the LARGE_INTEGER value
 * @returns milliseconds, or null
 *
 * @example
 * ```ts
 * import { timeoutMs } from 'vmbus-kmcl';
 * console.log(timeoutMs(-10_000_000n), timeoutMs(0n), timeoutMs(null)); // 1000 0 null
 * ```
 */
export function timeoutMs(timeout: bigint | null): number | null {
  if (timeout === null) return null;
  if (timeout <= 0n) return Number(-timeout) / 10_000;
  const unixEpochIn1601 = 116_444_736_000_000_000n;
  const now = BigInt(Date.now()) * 10_000n + unixEpochIn1601;
  return Math.max(0, Number(timeout - now) / 10_000);
}
