/**
 * The host's control plane (the VMBus server, spec vmbus-wire.md §3.6): a
 * state machine per guest partition that does no I/O of its own. Messages
 * come in through {@link HostPartition.receive}; replies and channel signals
 * go out through the partition's {@link PartitionNotifier}, the way
 * openvmm's server calls a notifier, so the same code runs in one thread,
 * across workers, and in a browser.
 *
 * Devices offer channels to a partition with {@link VmbusHost.offer}. A
 * guest that sends malformed or out-of-order messages gets the defined
 * failure of the table below, a rate-limited log line, and a partition that
 * stays consistent; nothing throws out of `receive`.
 *
 * | guest message | checked | on failure |
 * | --- | --- | --- |
 * | any | parses, allowed at the version, sent by the guest | dropped, counted |
 * | INITIATE_CONTACT | version supported; monitor pages both or neither | VERSION_RESPONSE unsupported / failed |
 * | REQUESTOFFERS | connected, not sent before | dropped, counted |
 * | GPADL_HEADER/BODY | known channel, unique handle, well-formed ranges inside guest memory | GPADL_CREATED with a failure status |
 * | GPADL_TEARDOWN | known handle of that channel | dropped, counted; a ring GPADL in use is torn down when its channel closes |
 * | OPENCHANNEL | known, offered, not open; ring GPADL of one page-aligned range, downstream offset inside it | OPENCHANNEL_RESULT with a failure status |
 * | CLOSECHANNEL | known and open | dropped, counted |
 * | RELID_RELEASED | the channel was rescinded | dropped, counted |
 *
 * @module
 */

import type { GuestMemory } from '../memory/guest-memory.js';
import {
  type ChannelMessage,
  ChannelMessageError,
  encodeChannelMessage,
  parseChannelMessage,
} from '../protocol/channel-messages.js';
import { type Guid, parseGuid } from '../protocol/guid.js';
import {
  CONNECTION_STATE,
  OFFER_FLAG,
  VMBUS_FEATURE,
  VMBUS_VERSION,
  VMBUS_VERSIONS_NEWEST_FIRST,
} from '../protocol/versions.js';
import { IncomingRing } from '../ring/incoming-ring.js';
import { OutgoingRing } from '../ring/outgoing-ring.js';
import { NTSTATUS } from '../status/ntstatus.js';
import { BusLog, type LogSink } from './bus-log.js';
import { ChannelPipe, type PipeCloseReason } from './channel-pipe.js';
import { MAX_CHANNEL_ID } from './partition-link.js';
import { PipePoller } from './pipe-poller.js';

/**
 * How a partition's state machine reaches the guest.
 *
 * @example
 * ```ts
 * import { GuestMemory, type PartitionNotifier, VmbusHost } from 'vmbus-kmcl';
 * const sent: Uint8Array[] = [];
 * const notifier: PartitionNotifier = {
 *   postMessage: (bytes) => sent.push(bytes.slice()), // to the guest's message queue
 *   signalChannel: () => {}, // the guest's event flag for a channel
 * };
 * new VmbusHost().attach(new GuestMemory(64), notifier);
 * console.log(sent.length); // 0
 * ```
 */
export interface PartitionNotifier {
  /** Delivers one channel message to the guest. */
  postMessage(bytes: Uint8Array): void;
  /** Raises channel `relid`'s event in the guest. */
  signalChannel(relid: number): void;
}

/**
 * Host settings.
 *
 * @example
 * ```ts
 * import { type HostOptions, VmbusHost } from 'vmbus-kmcl';
 * const options: HostOptions = { versions: [0x50003], log: () => {} }; // a host that speaks only 5.3
 * console.log(new VmbusHost(options).versions.length === 1); // true
 * ```
 */
export interface HostOptions {
  /** Protocol versions the host accepts (default: every version of spec §3.4). */
  versions?: readonly number[];
  /** Copper feature flags the host supports (default: modify-connection, pause/resume, guest signal parameters). */
  features?: number;
  /** Where violation lines go (rate-limited); default `console.warn`. */
  log?: LogSink;
}

/**
 * What a guest asked for when it opened a channel.
 *
 * @example
 * ```ts
 * import { type OpenRequest, createLocalBus } from 'vmbus-kmcl';
 * const bus = createLocalBus();
 * let seen: OpenRequest | null = null;
 * bus.host.offer(bus.partition, {
 *   interfaceType: 'ba6163d9-04a1-4d29-b605-72e2ffb1dc7f',
 *   interfaceInstance: 'd34b0001-0000-4000-8000-000000000001',
 *   onOpen: (request) => {
 *     seen = request;
 *     return 0;
 *   },
 * });
 * await bus.guest.connect();
 * const [offer] = await bus.guest.requestOffers();
 * await bus.guest.open(offer!, { upstreamPages: 4, downstreamPages: 4 });
 * console.log(seen !== null); // true
 * bus.dispose();
 * ```
 */
export interface OpenRequest {
  /** Channel id. */
  relid: number;
  /** The guest's 120 bytes of user data. */
  userData: Uint8Array;
  /** Target VP for host-to-guest interrupts. */
  targetVp: number;
  /** Pages of the guest-to-host ring, control page included. */
  upstreamPages: number;
  /** Pages of the host-to-guest ring, control page included. */
  downstreamPages: number;
}

/**
 * A device's description of a channel it offers.
 *
 * @example
 * ```ts
 * import { type OfferOptions, createLocalBus } from 'vmbus-kmcl';
 * const bus = createLocalBus();
 * const options: OfferOptions = {
 *   interfaceType: 'ba6163d9-04a1-4d29-b605-72e2ffb1dc7f',
 *   interfaceInstance: 'd34b0001-0000-4000-8000-000000000001',
 *   mmioMegabytes: 4,
 *   onOpen: (request) => (request.upstreamPages >= 2 ? 0 : 0xc000000d), // accept, or refuse with a status
 * };
 * console.log(bus.host.offer(bus.partition, options).relid > 0); // true
 * bus.dispose();
 * ```
 */
export interface OfferOptions {
  /** Device class GUID. */
  interfaceType: string;
  /** Device instance GUID (subchannels share their primary's). */
  interfaceInstance: string;
  /** 0 for a primary channel, 1.. for its subchannels. */
  subchannelIndex?: number;
  /** Offer flags (spec §3.5). */
  flags?: number;
  /** MMIO space in megabytes. */
  mmioMegabytes?: number;
  /** Optional MMIO space in megabytes. */
  mmioMegabytesOptional?: number;
  /** 120 bytes for the device's own use (pipe mode, ...). */
  userDefined?: Uint8Array;
  /** Decides an open: return 0 (STATUS_SUCCESS) to accept, or a failure NTSTATUS. */
  onOpen?: (request: OpenRequest) => number | Promise<number>;
  /** The channel is open: its data path is ready. */
  onOpened?: (channel: HostChannel) => void;
  /** The channel closed (guest close, rescind, unload, or the guest went away). */
  onClosed?: (reason: PipeCloseReason) => void;
  /** The guest released the rescinded channel: its id may be reused. */
  onReleased?: () => void;
}

/**
 * An offer's life on the host.
 *
 * @example
 * ```ts
 * import { type HostOfferState, createLocalBus } from 'vmbus-kmcl';
 * const bus = createLocalBus();
 * const offer = bus.host.offer(bus.partition, { interfaceType: 'ba6163d9-04a1-4d29-b605-72e2ffb1dc7f', interfaceInstance: 'd34b0001-0000-4000-8000-000000000001' });
 * const state: HostOfferState = offer.state;
 * console.log(state); // offered
 * bus.dispose();
 * ```
 */
export type HostOfferState = 'offered' | 'opening' | 'open' | 'rescinded' | 'released';

/**
 * One open channel, host side.
 *
 * @example
 * ```ts
 * import { type HostChannel, createLocalBus } from 'vmbus-kmcl';
 * const bus = createLocalBus();
 * let opened: HostChannel | null = null;
 * bus.host.offer(bus.partition, {
 *   interfaceType: 'ba6163d9-04a1-4d29-b605-72e2ffb1dc7f',
 *   interfaceInstance: 'd34b0001-0000-4000-8000-000000000001',
 *   onOpened: (channel) => {
 *     opened = channel;
 *   },
 * });
 * await bus.guest.connect();
 * const [offer] = await bus.guest.requestOffers();
 * await bus.guest.open(offer!);
 * console.log(opened !== null); // true
 * bus.dispose();
 * ```
 */
export interface HostChannel {
  /** The offer. */
  readonly offer: HostOffer;
  /** The data path. */
  readonly pipe: ChannelPipe;
  /** The guest's open request. */
  readonly request: OpenRequest;
  /** The ring GPADL handle. */
  readonly ringGpadl: number;
}

/**
 * A channel offered to one partition.
 *
 * @example
 * ```ts
 * import { createLocalBus } from 'vmbus-kmcl';
 * const bus = createLocalBus();
 * const offer = bus.host.offer(bus.partition, {
 *   interfaceType: 'ba6163d9-04a1-4d29-b605-72e2ffb1dc7f',
 *   interfaceInstance: 'd34b0001-0000-4000-8000-000000000001',
 *   onOpened: (channel) => console.log('guest opened', channel.pipe.relid),
 * });
 * console.log(offer.relid > 0, offer.state);
 * bus.dispose();
 * ```
 */
export class HostOffer {
  /** Channel id. */
  readonly relid: number;
  /** The partition it is offered to. */
  readonly partition: HostPartition;
  /** Device class. */
  readonly interfaceType: Guid;
  /** Device instance. */
  readonly interfaceInstance: Guid;
  /** The device's settings and callbacks. */
  readonly options: OfferOptions;
  /** Current state. */
  state: HostOfferState = 'offered';
  /** The open channel, if any. */
  channel: HostChannel | null = null;
  /** Whether the offer reached the guest. */
  sent = false;

  /**
   * @internal
   * @param relid - the channel id
   * @param partition - the guest partition offered to
   * @param options - the offer's options
   */
  constructor(relid: number, partition: HostPartition, options: OfferOptions) {
    this.relid = relid;
    this.partition = partition;
    this.options = options;
    this.interfaceType = parseGuid(options.interfaceType);
    this.interfaceInstance = parseGuid(options.interfaceInstance);
  }

  /**
   * Withdraws the offer (the device went away): closes the channel if open
   * and tells the guest, which answers with RELID_RELEASED.
   */
  rescind(): void {
    this.partition.rescind(this);
  }
}

interface HostGpadl {
  handle: number;
  relid: number;
  /** u64 words of the range array as (lo, hi) pairs, as collected. */
  words: number[];
  wordsNeeded: number;
  rangeCount: number;
  ready: boolean;
  ranges: { byteCount: number; byteOffset: number; pfns: number[] }[];
  usedBy: number;
  /** Whether a device holds a mapping of it (one at a time). */
  mapped: boolean;
  teardownPending: boolean;
}

/**
 * A GPADL as a device sees it when it maps one.
 *
 * @example
 * ```ts
 * import { type MappedGpadl, createLocalBus } from 'vmbus-kmcl';
 * const bus = createLocalBus();
 * const result: MappedGpadl | string = bus.partition.mapGpadl(1, 0xe1e10);
 * console.log(typeof result === 'string'); // true: the reason it failed (no such GPADL); a success has handle, relid, ranges
 * bus.dispose();
 * ```
 */
export interface MappedGpadl {
  /** The handle. */
  handle: number;
  /** The channel it belongs to. */
  relid: number;
  /** Its ranges; PFNs inside the partition's guest memory. */
  ranges: readonly { byteCount: number; byteOffset: number; pfns: readonly number[] }[];
}

/**
 * Counters of one partition.
 *
 * @example
 * ```ts
 * import { type PartitionStats, createLocalBus } from 'vmbus-kmcl';
 * const bus = createLocalBus();
 * await bus.guest.connect();
 * const stats: PartitionStats = bus.partition.stats;
 * console.log(stats.messagesReceived >= 1); // true: the guest's InitiateContact
 * bus.dispose();
 * ```
 */
export interface PartitionStats {
  messagesReceived: number;
  messagesSent: number;
  channelsOpened: number;
  channelsClosed: number;
}

/**
 * The host's state for one guest partition: its negotiated version, the
 * offers made to it, its GPADLs and open channels.
 *
 * @example
 * ```ts
 * import { createLocalBus } from 'vmbus-kmcl';
 * const bus = createLocalBus();
 * await bus.guest.connect();
 * console.log(bus.partition.version === bus.guest.version); // true: negotiated with this guest
 * bus.dispose();
 * ```
 */
export class HostPartition {
  /** The partition's guest memory (GPADLs must lie inside it). */
  readonly memory: GuestMemory;
  /** Violations, counted by code and logged with a rate limit. */
  readonly log: BusLog;
  /** Where drained channel readers park while this partition's link pump spins. */
  readonly poller = new PipePoller();
  /** Counters. */
  readonly stats: PartitionStats = {
    messagesReceived: 0,
    messagesSent: 0,
    channelsOpened: 0,
    channelsClosed: 0,
  };
  /** Negotiated version, 0 before INITIATE_CONTACT succeeded. */
  version = 0;
  /** Negotiated Copper features. */
  features = 0;
  /** Whether the guest asked for offers. */
  offersRequested = false;
  /** Whether the partition was detached (the guest is gone). */
  detached = false;
  /** Offers by channel id. */
  readonly offers = new Map<number, HostOffer>();
  private readonly gpadls = new Map<number, HostGpadl>();
  private readonly notifier: PartitionNotifier;
  private readonly host: VmbusHost;

  /**
   * @internal
   * @param host - the host
   * @param memory - the partition's guest memory
   * @param notifier - how messages and signals reach the guest
   * @param log - where violations are logged
   */
  constructor(host: VmbusHost, memory: GuestMemory, notifier: PartitionNotifier, log: BusLog) {
    this.host = host;
    this.memory = memory;
    this.notifier = notifier;
    this.log = log;
  }

  /** GPADLs the guest has created and not torn down. */
  get gpadlCount(): number {
    return this.gpadls.size;
  }

  /**
   * The GPADLs the guest created for channel `relid` and has not torn down:
   * handle, pages and bytes described, whether the guest finished
   * describing it, whether a device has it mapped, and whether it holds the
   * channel's rings (for tools that show the bus).
   *
   * @param relid - channel id
   * @returns one entry per GPADL, in the order created
   */
  gpadlsOf(relid: number): {
    handle: number;
    pages: number;
    bytes: number;
    ready: boolean;
    mapped: boolean;
    rings: boolean;
  }[] {
    const ringGpadl = this.offers.get(relid)?.channel?.ringGpadl;
    const out = [];
    for (const g of this.gpadls.values()) {
      if (g.relid !== relid) continue;
      let pages = 0;
      let bytes = 0;
      for (const r of g.ranges) {
        pages += r.pfns.length;
        bytes += r.byteCount;
      }
      out.push({
        handle: g.handle,
        pages,
        bytes,
        ready: g.ready,
        mapped: g.mapped,
        rings: g.handle === ringGpadl,
      });
    }
    return out;
  }

  /**
   * Handles one message from the guest. Never throws: a bad message is
   * answered with the defined failure or dropped and counted.
   *
   * @param bytes - the message as received
   */
  receive(bytes: Uint8Array): void {
    if (this.detached) return;
    this.stats.messagesReceived++;
    let m: ChannelMessage;
    try {
      m = parseChannelMessage(bytes, 'host', { version: this.version, features: this.features });
    } catch (e) {
      if (e instanceof ChannelMessageError) {
        this.log.violation(e.code, e.reason);
        return;
      }
      this.log.violation('VMBUS_BUS_INTERNAL', String(e));
      return;
    }
    try {
      this.dispatch(m);
    } catch (e) {
      // A bug here must not reach the guest; count it like a violation.
      this.log.violation(
        'VMBUS_BUS_INTERNAL',
        `${m.type}: ${e instanceof Error ? e.message : String(e)}`,
      );
    }
  }

  /**
   * The guest signalled channel `relid`.
   *
   * @param relid - channel id
   */
  channelEvent(relid: number): void {
    const channel = this.offers.get(relid)?.channel;
    if (channel) channel.pipe.notify();
  }

  /**
   * The guest is gone (its worker ended, its link closed): every channel
   * closes with `peer-gone`, every GPADL is forgotten, and no more messages
   * are handled.
   */
  detach(): void {
    if (this.detached) return;
    for (const offer of this.offers.values()) this.closeChannel(offer, 'peer-gone');
    this.gpadls.clear();
    this.detached = true;
    this.host.partitions.delete(this);
  }

  /**
   * @internal
   * @param message - an encoded channel message (at most 240 bytes)
   */
  send(message: Uint8Array): void {
    if (this.detached) return;
    this.stats.messagesSent++;
    this.notifier.postMessage(message);
  }

  /**
   * @internal
   * @param offer - the new offer
   */
  addOffer(offer: HostOffer): void {
    this.offers.set(offer.relid, offer);
    if (this.offersRequested) this.sendOffer(offer);
  }

  /**
   * @internal
   * @returns a channel id not in use
   * @throws RangeError when every channel id up to MAX_CHANNEL_ID is in use
   */
  allocateRelid(): number {
    for (let id = 1; id <= MAX_CHANNEL_ID; id++) if (!this.offers.has(id)) return id;
    throw new RangeError(`No channel id left: ${MAX_CHANNEL_ID} channels are offered`);
  }

  /**
   * @internal
   * @param offer - the offer to withdraw
   */
  rescind(offer: HostOffer): void {
    if (offer.state === 'rescinded' || offer.state === 'released') return;
    this.closeChannel(offer, 'rescinded');
    if (offer.sent && !this.detached) {
      offer.state = 'rescinded';
      this.send(encodeChannelMessage('RescindChannelOffer', { childRelid: offer.relid }));
    } else {
      this.release(offer);
    }
  }

  private dispatch(m: ChannelMessage): void {
    switch (m.type) {
      case 'InitiateContact':
        return this.initiateContact(m);
      case 'RequestOffers':
        if (this.offersRequested) {
          this.log.violation('VMBUS_BUS_OFFERS_ALREADY_SENT', 'REQUESTOFFERS was sent twice');
          return;
        }
        this.offersRequested = true;
        for (const offer of [...this.offers.values()].sort(primaryFirst)) this.sendOffer(offer);
        this.send(encodeChannelMessage('AllOffersDelivered'));
        return;
      case 'GpadlHeader':
        return this.gpadlHeader(m);
      case 'GpadlBody':
        return this.gpadlBody(m);
      case 'GpadlTeardown':
        return this.gpadlTeardown(m);
      case 'OpenChannel':
        return void this.openChannel(m);
      case 'CloseChannel': {
        const offer = this.offers.get(m.childRelid);
        if (offer?.state !== 'open') {
          this.log.violation(
            'VMBUS_BUS_CHANNEL_NOT_OPEN',
            `CLOSECHANNEL for channel ${m.childRelid}, which is ${offer?.state ?? 'unknown'}`,
          );
          return;
        }
        return this.closeChannel(offer, 'closed');
      }
      case 'RelidReleased': {
        const offer = this.offers.get(m.childRelid);
        if (offer?.state !== 'rescinded') {
          this.log.violation(
            'VMBUS_BUS_INVALID_CHANNEL_STATE',
            `RELID_RELEASED for channel ${m.childRelid}, which is ${offer?.state ?? 'unknown'}`,
          );
          return;
        }
        return this.release(offer);
      }
      case 'Unload':
        return this.unload();
      case 'ModifyChannel': {
        const open = this.offers.get(m.childRelid)?.state === 'open';
        if (!open)
          this.log.violation(
            'VMBUS_BUS_CHANNEL_NOT_OPEN',
            `MODIFYCHANNEL for channel ${m.childRelid}`,
          );
        if (this.version >= VMBUS_VERSION.WIN10_V5_3) {
          const status = open ? NTSTATUS.STATUS_SUCCESS : NTSTATUS.STATUS_INVALID_PARAMETER;
          this.send(
            encodeChannelMessage('ModifyChannelResponse', {
              childRelid: m.childRelid,
              status: status | 0,
            }),
          );
        }
        return;
      }
      case 'Pause':
        this.send(encodeChannelMessage('PauseResponse'));
        return;
      case 'Resume':
        return;
      case 'ModifyConnection':
        this.send(
          encodeChannelMessage('ModifyConnectionResponse', {
            connectionState: CONNECTION_STATE.SUCCESSFUL,
          }),
        );
        return;
      case 'TlConnectRequest':
        this.send(
          encodeChannelMessage('TlConnectResult', {
            endpointId: m.endpointId,
            serviceId: m.serviceId,
            status: NTSTATUS.STATUS_NOT_SUPPORTED | 0,
          }),
        );
        return;
      case 'CloseReservedChannel':
        if (this.version >= VMBUS_VERSION.WIN10) {
          this.send(encodeChannelMessage('CloseReservedResponse', { channelId: m.channelId }));
        }
        return;
      case 'OpenReservedChannel':
        this.log.violation(
          'VMBUS_BUS_UNSUPPORTED',
          `OPEN_RESERVED_CHANNEL ${m.channelId}: reserved channels are not offered`,
        );
        return;
      default:
        this.log.violation('VMBUS_BUS_UNEXPECTED', `${m.type} is not handled by the host`);
    }
  }

  private initiateContact(m: Extract<ChannelMessage, { type: 'InitiateContact' }>): void {
    const requested = m.versionRequested;
    const copper = requested >= VMBUS_VERSION.COPPER;
    const size = copper ? 40 : 16;
    if (!this.host.versions.includes(requested)) {
      this.send(
        encodeChannelMessage(
          'VersionResponse',
          { versionSupported: 0, selectedVersionOrConnectionId: 0 },
          size,
        ),
      );
      return;
    }
    if ((m.parentToChildMonitorPage === 0n) !== (m.childToParentMonitorPage === 0n)) {
      this.log.violation(
        'VMBUS_BUS_BAD_MONITOR_PAGES',
        'INITIATE_CONTACT gives one monitor page without the other',
      );
      this.send(
        encodeChannelMessage(
          'VersionResponse',
          { versionSupported: 1, connectionState: CONNECTION_STATE.FAILED_UNKNOWN_FAILURE },
          size,
        ),
      );
      return;
    }
    if (this.version !== 0) this.unload(false);
    this.version = requested;
    this.features = copper ? Number(m.interruptPageOrTarget >> 32n) & this.host.features : 0;
    const fields = {
      versionSupported: 1,
      connectionState: CONNECTION_STATE.SUCCESSFUL,
      // Before 5.0 the version is echoed; from 5.0 this is the message connection id.
      selectedVersionOrConnectionId: requested >= VMBUS_VERSION.WIN10_V5 ? 1 : requested,
      supportedFeatures: copper ? this.host.features : 0,
    };
    this.send(encodeChannelMessage('VersionResponse', fields, size));
  }

  private sendOffer(offer: HostOffer): void {
    if (offer.state === 'rescinded' || offer.state === 'released') return;
    const o = offer.options;
    let flags = o.flags ?? 0;
    if ((this.features & VMBUS_FEATURE.CONFIDENTIAL_CHANNELS) === 0) {
      flags &= ~(OFFER_FLAG.CONFIDENTIAL_RING_BUFFER | OFFER_FLAG.CONFIDENTIAL_EXTERNAL_MEMORY);
    }
    const fields = {
      interfaceType: offer.interfaceType,
      interfaceInstance: offer.interfaceInstance,
      flags,
      mmioMegabytes: o.mmioMegabytes ?? 0,
      userDefined: o.userDefined ?? new Uint8Array(120),
      subchannelIndex: o.subchannelIndex ?? 0,
      mmioMegabytesOptional: o.mmioMegabytesOptional ?? 0,
      childRelid: offer.relid,
      monitorId: 0xff,
      monitorAllocated: 0,
    };
    if (this.version >= VMBUS_VERSION.WIN7) {
      this.send(
        encodeChannelMessage('OfferChannel', {
          ...fields,
          isDedicatedInterrupt: 1,
          connectionId: offer.relid | (2 << 12),
        }),
      );
    } else {
      this.send(encodeChannelMessage('OfferChannel', fields, 190));
    }
    offer.sent = true;
  }

  private gpadlFail(
    relid: number,
    handle: number,
    code: string,
    reason: string,
    status: number,
  ): void {
    this.log.violation(code, reason);
    this.send(encodeChannelMessage('GpadlCreated', { childRelid: relid, gpadl: handle, status }));
  }

  private gpadlHeader(m: Extract<ChannelMessage, { type: 'GpadlHeader' }>): void {
    const { childRelid: relid, gpadl: handle } = m;
    const offer = this.offers.get(relid);
    if (!offer || offer.state === 'rescinded' || offer.state === 'released') {
      return this.gpadlFail(
        relid,
        handle,
        'VMBUS_BUS_UNKNOWN_CHANNEL',
        `GPADL_HEADER for channel ${relid}, which is not offered`,
        NTSTATUS.STATUS_INVALID_PARAMETER,
      );
    }
    if (this.gpadls.has(handle)) {
      // Leave the existing GPADL alone; refuse the duplicate.
      this.log.violation(
        'VMBUS_BUS_DUPLICATE_GPADL',
        `GPADL handle 0x${handle.toString(16)} is already in use`,
      );
      this.send(
        encodeChannelMessage('GpadlCreated', {
          childRelid: relid,
          gpadl: handle,
          status: NTSTATUS.STATUS_INVALID_PARAMETER,
        }),
      );
      return;
    }
    if (m.rangeCount === 0 || m.rangeBufferLength === 0 || m.rangeBufferLength % 8 !== 0) {
      return this.gpadlFail(
        relid,
        handle,
        'VMBUS_BUS_INVALID_GPA_RANGE',
        `GPADL 0x${handle.toString(16)} has ${m.rangeCount} ranges in ${m.rangeBufferLength} bytes`,
        NTSTATUS.STATUS_INVALID_PARAMETER,
      );
    }
    const gpadl: HostGpadl = {
      handle,
      relid,
      words: [],
      wordsNeeded: m.rangeBufferLength / 8,
      rangeCount: m.rangeCount,
      ready: false,
      ranges: [],
      usedBy: 0,
      mapped: false,
      teardownPending: false,
    };
    this.gpadls.set(handle, gpadl);
    this.appendWords(gpadl, m.data);
  }

  private gpadlBody(m: Extract<ChannelMessage, { type: 'GpadlBody' }>): void {
    const gpadl = this.gpadls.get(m.gpadl);
    if (!gpadl || gpadl.ready) {
      this.log.violation(
        gpadl ? 'VMBUS_BUS_GPADL_ALREADY_COMPLETE' : 'VMBUS_BUS_UNKNOWN_GPADL',
        `GPADL_BODY for GPADL 0x${m.gpadl.toString(16)}, which is ${gpadl ? 'complete' : 'unknown'}`,
      );
      return;
    }
    this.appendWords(gpadl, m.data);
  }

  private appendWords(gpadl: HostGpadl, data: Uint8Array): void {
    const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    for (let at = 0; at + 8 <= data.length && gpadl.words.length < gpadl.wordsNeeded * 2; at += 8) {
      gpadl.words.push(view.getUint32(at, true), view.getUint32(at + 4, true));
    }
    if (gpadl.words.length < gpadl.wordsNeeded * 2) return;
    const problem = this.parseRanges(gpadl);
    if (problem !== null) {
      this.gpadls.delete(gpadl.handle);
      return this.gpadlFail(
        gpadl.relid,
        gpadl.handle,
        'VMBUS_BUS_INVALID_GPA_RANGE',
        problem,
        NTSTATUS.STATUS_INVALID_PARAMETER,
      );
    }
    gpadl.ready = true;
    this.send(
      encodeChannelMessage('GpadlCreated', {
        childRelid: gpadl.relid,
        gpadl: gpadl.handle,
        status: 0,
      }),
    );
  }

  /** Parses the collected words as ranges; returns a reason when they are bad. */
  private parseRanges(gpadl: HostGpadl): string | null {
    const w = gpadl.words;
    const name = `GPADL 0x${gpadl.handle.toString(16)}`;
    let i = 0;
    for (let r = 0; r < gpadl.rangeCount; r++) {
      if (i + 2 > w.length)
        return `${name}: range ${r} of ${gpadl.rangeCount} lies past the range buffer`;
      const byteCount = w[i]!;
      const byteOffset = w[i + 1]!;
      i += 2;
      if (byteCount === 0) return `${name}: range ${r} is empty`;
      if (byteOffset >= 4096)
        return `${name}: range ${r} starts at offset ${byteOffset}, beyond its first page`;
      const count = Math.ceil((byteOffset + byteCount) / 4096);
      if (i + 2 * count > w.length)
        return `${name}: range ${r} needs ${count} PFNs, more than the range buffer holds`;
      const pfns: number[] = [];
      for (let k = 0; k < count; k++, i += 2) {
        const pfn = w[i + 1]! * 0x1_0000_0000 + w[i]!;
        if (!this.memory.isValidPfn(pfn)) {
          return `${name}: PFN 0x${pfn.toString(16)} lies outside guest memory of ${this.memory.pageCount} pages`;
        }
        pfns.push(pfn);
      }
      gpadl.ranges.push({ byteCount, byteOffset, pfns });
    }
    if (i !== w.length)
      return `${name}: ${(w.length - i) / 2} words of the range buffer are not part of any range`;
    return null;
  }

  private gpadlTeardown(m: Extract<ChannelMessage, { type: 'GpadlTeardown' }>): void {
    const gpadl = this.gpadls.get(m.gpadl);
    if (!gpadl || gpadl.relid !== m.childRelid) {
      this.log.violation(
        gpadl ? 'VMBUS_BUS_WRONG_GPADL_CHANNEL' : 'VMBUS_BUS_UNKNOWN_GPADL',
        `GPADL_TEARDOWN of GPADL 0x${m.gpadl.toString(16)} for channel ${m.childRelid}`,
      );
      return;
    }
    if (gpadl.usedBy !== 0) {
      // The ring still lives in these pages: tear down once the channel closes.
      this.log.violation(
        'VMBUS_BUS_GPADL_IN_USE',
        `GPADL 0x${m.gpadl.toString(16)} is the ring of open channel ${gpadl.usedBy}`,
      );
      gpadl.teardownPending = true;
      return;
    }
    if (gpadl.mapped) {
      // A device still maps it: the teardown completes when it unmaps.
      gpadl.teardownPending = true;
      return;
    }
    this.gpadls.delete(gpadl.handle);
    this.send(encodeChannelMessage('GpadlTorndown', { gpadl: gpadl.handle }));
  }

  private openFail(
    m: Extract<ChannelMessage, { type: 'OpenChannel' }>,
    code: string,
    reason: string,
    status: number,
  ): void {
    this.log.violation(code, reason);
    this.send(
      encodeChannelMessage('OpenChannelResult', {
        childRelid: m.childRelid,
        openId: m.openId,
        status,
      }),
    );
  }

  private async openChannel(m: Extract<ChannelMessage, { type: 'OpenChannel' }>): Promise<void> {
    const relid = m.childRelid;
    const offer = this.offers.get(relid);
    if (!offer) {
      return this.openFail(
        m,
        'VMBUS_BUS_UNKNOWN_CHANNEL',
        `OPENCHANNEL for channel ${relid}, which is not offered`,
        NTSTATUS.STATUS_INVALID_PARAMETER,
      );
    }
    if (offer.state !== 'offered') {
      return this.openFail(
        m,
        'VMBUS_BUS_CHANNEL_ALREADY_OPEN',
        `OPENCHANNEL for channel ${relid}, which is ${offer.state}`,
        NTSTATUS.STATUS_INVALID_DEVICE_STATE,
      );
    }
    const gpadl = this.gpadls.get(m.ringBufferGpadlHandle);
    const bad = this.checkRingGpadl(gpadl, relid, m.downstreamRingBufferPageOffset);
    if (bad !== null || !gpadl) {
      return this.openFail(
        m,
        'VMBUS_BUS_INVALID_RING_GPADL',
        `OPENCHANNEL for channel ${relid}: ${bad}`,
        NTSTATUS.STATUS_INVALID_PARAMETER,
      );
    }
    const range = gpadl.ranges[0]!;
    const first = range.pfns[0]!;
    const total = range.pfns.length;
    const off = m.downstreamRingBufferPageOffset;
    const request: OpenRequest = {
      relid,
      userData: m.userData,
      targetVp: m.targetVp,
      upstreamPages: off,
      downstreamPages: total - off,
    };
    offer.state = 'opening';
    gpadl.usedBy = relid;
    let status: number = NTSTATUS.STATUS_SUCCESS;
    try {
      status = offer.options.onOpen ? await offer.options.onOpen(request) : NTSTATUS.STATUS_SUCCESS;
    } catch (e) {
      this.log.violation(
        'VMBUS_BUS_DEVICE_ERROR',
        `The device failed to open channel ${relid}: ${e instanceof Error ? e.message : String(e)}`,
      );
      status = NTSTATUS.STATUS_UNSUCCESSFUL;
    }
    if (offer.state !== 'opening' || this.detached) {
      // Rescinded, unloaded or detached while the device decided.
      gpadl.usedBy = 0;
      return;
    }
    let pipe: ChannelPipe | undefined;
    if (status === NTSTATUS.STATUS_SUCCESS) {
      try {
        const buffer = this.memory.buffer;
        const incoming = new IncomingRing(buffer, first * 4096, off * 4096);
        const outgoing = new OutgoingRing(buffer, (first + off) * 4096, (total - off) * 4096);
        pipe = new ChannelPipe(
          relid,
          outgoing,
          incoming,
          () => this.notifier.signalChannel(relid),
          this.poller,
        );
      } catch (e) {
        this.log.violation(
          'VMBUS_BUS_INVALID_RING_GPADL',
          `Channel ${relid}: the ring control pages are corrupt: ${e instanceof Error ? e.message : String(e)}`,
        );
        status = NTSTATUS.STATUS_INVALID_PARAMETER;
      }
    }
    if (!pipe || status !== NTSTATUS.STATUS_SUCCESS) {
      offer.state = 'offered';
      gpadl.usedBy = 0;
      this.send(
        encodeChannelMessage('OpenChannelResult', {
          childRelid: relid,
          openId: m.openId,
          status: status >>> 0,
        }),
      );
      return;
    }
    const channel: HostChannel = { offer, pipe, request, ringGpadl: gpadl.handle };
    offer.channel = channel;
    offer.state = 'open';
    this.stats.channelsOpened++;
    this.send(
      encodeChannelMessage('OpenChannelResult', { childRelid: relid, openId: m.openId, status: 0 }),
    );
    offer.options.onOpened?.(channel);
  }

  private checkRingGpadl(gpadl: HostGpadl | undefined, relid: number, off: number): string | null {
    if (!gpadl) return 'the ring GPADL is unknown';
    if (gpadl.relid !== relid) return `the ring GPADL belongs to channel ${gpadl.relid}`;
    if (!gpadl.ready) return 'the ring GPADL is not complete';
    if (gpadl.usedBy !== 0) return `the ring GPADL is in use by channel ${gpadl.usedBy}`;
    if (gpadl.teardownPending) return 'the ring GPADL is being torn down';
    if (gpadl.ranges.length !== 1) return `the ring GPADL has ${gpadl.ranges.length} ranges, not 1`;
    const range = gpadl.ranges[0]!;
    if (range.byteOffset !== 0 || range.byteCount % 4096 !== 0)
      return 'the ring GPADL is not page-aligned';
    const total = range.pfns.length;
    if (!(off > 0 && off < total))
      return `downstream page offset ${off} is not inside the ${total}-page ring GPADL`;
    if (off < 2 || total - off < 2)
      return `a ring needs a control page and a data page (offset ${off} of ${total})`;
    for (let i = 1; i < total; i++) {
      if (range.pfns[i] !== range.pfns[0]! + i)
        return 'the ring pages are not contiguous in guest memory (this host maps only contiguous rings)';
    }
    return null;
  }

  /**
   * Maps a GPADL of channel `relid` for a device (one mapping at a time).
   *
   * @param relid - the channel the GPADL must belong to
   * @param handle - the GPADL handle
   * @returns the GPADL, or a reason it cannot be mapped
   */
  mapGpadl(relid: number, handle: number): MappedGpadl | string {
    const gpadl = this.gpadls.get(handle);
    if (!gpadl || gpadl.relid !== relid || !gpadl.ready)
      return `GPADL 0x${handle.toString(16)} is not a complete GPADL of channel ${relid}`;
    if (gpadl.mapped) return `GPADL 0x${handle.toString(16)} is already mapped`;
    if (gpadl.teardownPending) return `GPADL 0x${handle.toString(16)} is being torn down`;
    gpadl.mapped = true;
    return { handle, relid, ranges: gpadl.ranges };
  }

  /**
   * Ends a device's mapping; a teardown the guest asked for meanwhile completes now.
   *
   * @param handle - the GPADL handle
   * @returns false when it was not mapped
   */
  unmapGpadl(handle: number): boolean {
    const gpadl = this.gpadls.get(handle);
    if (!gpadl?.mapped) return false;
    gpadl.mapped = false;
    if (gpadl.teardownPending && gpadl.usedBy === 0) {
      this.gpadls.delete(handle);
      this.send(encodeChannelMessage('GpadlTorndown', { gpadl: handle }));
    }
    return true;
  }

  private closeChannel(offer: HostOffer, reason: PipeCloseReason): void {
    const channel = offer.channel;
    if (offer.state === 'opening') offer.state = 'offered';
    if (!channel) return;
    offer.channel = null;
    offer.state = 'offered';
    channel.pipe.close(reason);
    this.stats.channelsClosed++;
    const gpadl = this.gpadls.get(channel.ringGpadl);
    if (gpadl) {
      gpadl.usedBy = 0;
      if (gpadl.teardownPending && !gpadl.mapped) {
        this.gpadls.delete(gpadl.handle);
        this.send(encodeChannelMessage('GpadlTorndown', { gpadl: gpadl.handle }));
      }
    }
    offer.options.onClosed?.(reason);
  }

  private release(offer: HostOffer): void {
    offer.state = 'released';
    this.offers.delete(offer.relid);
    for (const [handle, gpadl] of this.gpadls)
      if (gpadl.relid === offer.relid) this.gpadls.delete(handle);
    offer.options.onReleased?.();
  }

  private unload(reply = true): void {
    for (const offer of this.offers.values()) {
      this.closeChannel(offer, 'unloaded');
      offer.sent = false;
      if (offer.state === 'rescinded') this.release(offer);
    }
    this.gpadls.clear();
    this.offersRequested = false;
    if (reply && this.version >= VMBUS_VERSION.WIN7)
      this.send(encodeChannelMessage('UnloadResponse'));
    if (reply) {
      this.version = 0;
      this.features = 0;
    }
  }
}

function primaryFirst(a: HostOffer, b: HostOffer): number {
  return (a.options.subchannelIndex ?? 0) - (b.options.subchannelIndex ?? 0) || a.relid - b.relid;
}

/**
 * The host: serves one or more guest partitions, each with its own memory,
 * and lets devices offer channels to them.
 *
 * @example
 * ```ts
 * import { VmbusHost } from 'vmbus-kmcl';
 * const host = new VmbusHost();
 * // const partition = host.attach(memory, notifier);
 * // host.offer(partition, { interfaceType: '...', interfaceInstance: '...' });
 * console.log(host.partitions.size); // 0
 * ```
 */
export class VmbusHost {
  /** Versions accepted. */
  readonly versions: readonly number[];
  /** Copper features supported. */
  readonly features: number;
  /** Attached partitions. */
  readonly partitions = new Set<HostPartition>();
  private readonly logSink: LogSink | undefined;

  /** @param options - versions, features and log sink */
  constructor(options: HostOptions = {}) {
    this.versions = options.versions ?? VMBUS_VERSIONS_NEWEST_FIRST;
    this.features =
      options.features ??
      VMBUS_FEATURE.GUEST_SPECIFIED_SIGNAL_PARAMETERS |
        VMBUS_FEATURE.MODIFY_CONNECTION |
        VMBUS_FEATURE.PAUSE_RESUME;
    this.logSink = options.log;
  }

  /**
   * Attaches a guest partition: its memory and the way to reach it.
   *
   * @param memory - the partition's guest memory
   * @param notifier - delivers messages and channel signals to the guest
   * @returns the partition's state machine; feed it with `receive` and `channelEvent`
   */
  attach(memory: GuestMemory, notifier: PartitionNotifier): HostPartition {
    const partition = new HostPartition(this, memory, notifier, new BusLog(this.logSink));
    this.partitions.add(partition);
    return partition;
  }

  /**
   * Offers a channel to a partition (sent at once if the guest already asked
   * for offers, otherwise when it does).
   *
   * @param partition - the partition the channel is bound to
   * @param options - the device's description and callbacks
   * @returns the offer
   * @throws RangeError when the partition has no channel id left
   */
  offer(partition: HostPartition, options: OfferOptions): HostOffer {
    const offer = new HostOffer(partition.allocateRelid(), partition, options);
    partition.addOffer(offer);
    return offer;
  }
}
