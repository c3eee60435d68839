/**
 * The guest's control plane (the VMBus client, spec vmbus-wire.md §3.6): a
 * state machine that does no I/O of its own. Messages from the host come in
 * through {@link VmbusGuest.receive}; requests go out through a
 * {@link PartitionNotifier}. Operations that wait for the host return
 * promises that settle when its answer arrives, or reject with
 * {@link BusError} when it refuses, rescinds, or goes away.
 *
 * Sequences (spec §3.6): connect (INITIATE_CONTACT from the newest version
 * down until the host accepts), request offers (OFFERCHANNEL... then
 * ALLOFFERS_DELIVERED), open (ring pages allocated contiguously in guest
 * memory, a GPADL from a header and as many bodies as needed, OPENCHANNEL
 * with the downstream page offset, OPENCHANNEL_RESULT), close (CLOSECHANNEL,
 * GPADL teardown, pages freed), rescind (channel closed, RELID_RELEASED) and
 * unload.
 *
 * Messages from a host that break the protocol are dropped, counted and
 * logged with a rate limit; nothing throws out of `receive`.
 *
 * @module
 */

import type { GuestMemory } from '../memory/guest-memory.js';
import type { MemoryDescriptor } from '../memory/memory-descriptor.js';
import type { PageAllocator } from '../memory/page-allocator.js';
import {
  type ChannelMessage,
  ChannelMessageError,
  encodeChannelMessage,
  MAX_MESSAGE_SIZE,
  parseChannelMessage,
} from '../protocol/channel-messages.js';
import type { Guid } from '../protocol/guid.js';
import { VMBUS_VERSION, VMBUS_VERSIONS_NEWEST_FIRST } from '../protocol/versions.js';
import { ControlPage, FEATURE_PENDING_SEND_SIZE } from '../ring/control-page.js';
import { IncomingRing } from '../ring/incoming-ring.js';
import { OutgoingRing } from '../ring/outgoing-ring.js';
import { BusError } from './bus-error.js';
import { BusLog, type LogSink } from './bus-log.js';
import { ChannelPipe, type PipeCloseReason } from './channel-pipe.js';
import { PipePoller } from './pipe-poller.js';
import type { PartitionNotifier } from './vmbus-host.js';

/**
 * Guest settings.
 *
 * @example
 * ```ts
 * import { type GuestOptions, createLocalBus } from 'vmbus-kmcl';
 * const guest: GuestOptions = { versions: [0x50003, 0x40001], log: () => {} };
 * const bus = createLocalBus({ guest });
 * console.log((await bus.guest.connect()) === 0x50003); // true
 * bus.dispose();
 * ```
 */
export interface GuestOptions {
  /** Versions to propose, newest first (default: every version of spec §3.4). */
  versions?: readonly number[];
  /** Copper feature flags to request. */
  features?: number;
  /** Where violation lines go (rate-limited); default `console.warn`. */
  log?: LogSink;
}

/**
 * Ring sizes for {@link VmbusGuest.open}, in pages including each ring's control page.
 *
 * @example
 * ```ts
 * import { type OpenOptions, createLocalBus } from 'vmbus-kmcl';
 * const bus = createLocalBus();
 * bus.host.offer(bus.partition, { interfaceType: 'ba6163d9-04a1-4d29-b605-72e2ffb1dc7f', interfaceInstance: 'd34b0001-0000-4000-8000-000000000001' });
 * await bus.guest.connect();
 * const [offer] = await bus.guest.requestOffers();
 * const options: OpenOptions = { upstreamPages: 8, downstreamPages: 4 };
 * const channel = await bus.guest.open(offer!, options);
 * console.log(channel.ringPfns.length === 8 + 4); // true: each count includes the ring's control page
 * bus.dispose();
 * ```
 */
export interface OpenOptions {
  /** Pages of the guest-to-host ring (default 16: a control page and 60 KiB of data). */
  upstreamPages?: number;
  /** Pages of the host-to-guest ring (default as upstream). */
  downstreamPages?: number;
  /** 120 bytes of user data for the device. */
  userData?: Uint8Array;
  /** Target VP for host-to-guest interrupts. */
  targetVp?: number;
}

/**
 * An offer's life in the guest.
 *
 * @example
 * ```ts
 * import { type GuestOfferState, connectedChannels } from 'vmbus-kmcl';
 * const { guestChannel, dispose } = await connectedChannels({ ringPages: 4 });
 * const state: GuestOfferState = guestChannel.offer.state;
 * console.log(state); // open
 * dispose();
 * ```
 */
export type GuestOfferState = 'offered' | 'opening' | 'open' | 'closing' | 'rescinded';

/**
 * A channel the host offered.
 *
 * @example
 * ```ts
 * import { createLocalBus } from 'vmbus-kmcl';
 * const bus = createLocalBus();
 * bus.host.offer(bus.partition, { interfaceType: 'ba6163d9-04a1-4d29-b605-72e2ffb1dc7f', interfaceInstance: 'd34b0001-0000-4000-8000-000000000001' });
 * await bus.guest.connect();
 * const [offer] = await bus.guest.requestOffers();
 * console.log(String(offer?.interfaceType)); // ba6163d9-04a1-4d29-b605-72e2ffb1dc7f
 * bus.dispose();
 * ```
 */
export class GuestOffer {
  /** Channel id. */
  readonly relid: number;
  /** Device class. */
  readonly interfaceType: Guid;
  /** Device instance. */
  readonly interfaceInstance: Guid;
  /** 0 for a primary channel. */
  readonly subchannelIndex: number;
  /** Offer flags. */
  readonly flags: number;
  /** MMIO megabytes. */
  readonly mmioMegabytes: number;
  /** Optional MMIO megabytes. */
  readonly mmioMegabytesOptional: number;
  /** The device's 120 bytes. */
  readonly userDefined: Uint8Array;
  /** Connection id to signal. */
  readonly connectionId: number;
  /** Current state. */
  state: GuestOfferState = 'offered';
  /** The open channel, if any. */
  channel: GuestChannel | null = null;
  /** Called when the host rescinds the offer. */
  onRescind: (() => void) | null = null;

  /**
   * @internal
   * @param m - the parsed OfferChannel message
   */
  constructor(m: Extract<ChannelMessage, { type: 'OfferChannel' }>) {
    this.relid = m.childRelid;
    this.interfaceType = m.interfaceType;
    this.interfaceInstance = m.interfaceInstance;
    this.subchannelIndex = m.subchannelIndex;
    this.flags = m.flags;
    this.mmioMegabytes = m.mmioMegabytes;
    this.mmioMegabytesOptional = m.mmioMegabytesOptional;
    this.userDefined = m.userDefined;
    this.connectionId = m.connectionId;
  }
}

/**
 * An open channel, guest side.
 *
 * @example
 * ```ts
 * import { connectedChannels } from 'vmbus-kmcl';
 * const { guestChannel, dispose } = await connectedChannels({ ringPages: 4 });
 * console.log(guestChannel.offer.relid > 0, guestChannel.ringPfns.length); // true 8
 * await guestChannel.close();
 * dispose();
 * ```
 */
export class GuestChannel {
  /** The offer. */
  readonly offer: GuestOffer;
  /** The data path. */
  readonly pipe: ChannelPipe;
  /** Ring pages (upstream first), contiguous. */
  readonly ringPfns: readonly number[];
  /** The ring GPADL handle. */
  readonly ringGpadl: number;
  private readonly guest: VmbusGuest;

  /**
   * @internal
   * @param guest - the guest that opened it
   * @param offer - the offer it opened
   * @param pipe - the channel's rings
   * @param ringPfns - the ring pages
   * @param ringGpadl - the GPADL handle of the ring pages
   */
  constructor(
    guest: VmbusGuest,
    offer: GuestOffer,
    pipe: ChannelPipe,
    ringPfns: number[],
    ringGpadl: number,
  ) {
    this.guest = guest;
    this.offer = offer;
    this.pipe = pipe;
    this.ringPfns = ringPfns;
    this.ringGpadl = ringGpadl;
  }

  /**
   * Closes the channel: CLOSECHANNEL, then the ring GPADL's teardown, then
   * the ring pages are freed.
   *
   * @returns a promise that settles once the pages are free
   */
  close(): Promise<void> {
    return this.guest.close(this);
  }
}

interface Pending<T> {
  resolve(value: T): void;
  reject(error: Error): void;
}

function pending<T>(): { promise: Promise<T>; handle: Pending<T> } {
  let handle!: Pending<T>;
  const promise = new Promise<T>((resolve, reject) => {
    handle = { resolve, reject };
  });
  return { promise, handle };
}

const FIRST_GPADL = 0xe1e10;

/**
 * The guest side of the bus for one partition.
 *
 * @example
 * ```ts
 * import { connectedChannels } from 'vmbus-kmcl';
 * const { guest, host, dispose } = await connectedChannels({ ringPages: 4 });
 * guest.send(6, 0, 1, 0, new Uint8Array([1, 2, 3]));
 * dispose();
 * ```
 */
export class VmbusGuest {
  /** Guest memory. */
  readonly memory: GuestMemory;
  /** Where ring pages come from. */
  readonly pages: PageAllocator;
  /** Violations by the host, counted and logged. */
  readonly log: BusLog;
  /** Where drained channel readers park while this side's link pump spins. */
  readonly poller = new PipePoller();
  /** Offers by channel id. */
  readonly offers = new Map<number, GuestOffer>();
  /** Negotiated version (0 before connecting). */
  version = 0;
  /** Negotiated Copper features. */
  features = 0;
  /** Called for every offer as it arrives. */
  onOffer: ((offer: GuestOffer) => void) | null = null;
  private readonly offerWatchers = new Set<(offer: GuestOffer) => void>();
  /** Called when an offer is rescinded (after its channel closed). */
  onRescind: ((offer: GuestOffer) => void) | null = null;

  private readonly notifier: PartitionNotifier;
  private readonly versions: readonly number[];
  private readonly wantedFeatures: number;
  private connecting: Pending<number> | null = null;
  private proposed = 0;
  private offersWaiter: Pending<GuestOffer[]> | null = null;
  private unloadWaiter: Pending<void> | null = null;
  private readonly gpadlCreates = new Map<number, Pending<number> & { relid: number }>();
  private readonly gpadlTeardowns = new Map<number, Pending<void> & { relid: number }>();
  private readonly opens = new Map<number, Pending<number> & { openId: number }>();
  private nextGpadl = FIRST_GPADL;
  private gone = false;

  /**
   * @param memory - guest memory
   * @param pages - the guest's page allocator
   * @param notifier - delivers messages and channel signals to the host
   * @param options - versions, features, log sink
   */
  constructor(
    memory: GuestMemory,
    pages: PageAllocator,
    notifier: PartitionNotifier,
    options: GuestOptions = {},
  ) {
    this.memory = memory;
    this.pages = pages;
    this.notifier = notifier;
    this.versions = options.versions ?? VMBUS_VERSIONS_NEWEST_FIRST;
    this.wantedFeatures = options.features ?? 0;
    this.log = new BusLog(options.log);
  }

  /**
   * Negotiates a version: proposes the newest and falls back until the host
   * accepts one.
   *
   * @returns the version agreed
   * @throws BusError (rejection) when the host accepts none
   */
  connect(): Promise<number> {
    if (this.gone) return Promise.reject(this.goneError());
    const { promise, handle } = pending<number>();
    this.connecting = handle;
    this.proposed = 0;
    this.propose();
    return promise;
  }

  private propose(): void {
    const version = this.versions[this.proposed];
    if (version === undefined) {
      const c = this.connecting;
      this.connecting = null;
      c?.reject(
        new BusError(
          'VMBUS_BUS_VERSION_REFUSED',
          `The host accepted none of ${this.versions.length} versions`,
        ),
      );
      return;
    }
    const copper = version >= VMBUS_VERSION.COPPER;
    const target = copper
      ? (BigInt(this.wantedFeatures) << 32n) | 2n
      : version >= VMBUS_VERSION.WIN10_V5
        ? 2n
        : 0n;
    this.send(
      encodeChannelMessage(
        'InitiateContact',
        { versionRequested: version, targetMessageVp: 0, interruptPageOrTarget: target },
        40,
      ),
    );
  }

  /**
   * Asks for the offers and waits for ALLOFFERS_DELIVERED.
   *
   * @returns every offer received so far
   */
  requestOffers(): Promise<GuestOffer[]> {
    if (this.gone) return Promise.reject(this.goneError());
    const { promise, handle } = pending<GuestOffer[]>();
    this.offersWaiter = handle;
    this.send(encodeChannelMessage('RequestOffers'));
    return promise;
  }

  /**
   * Calls `watch` for every offer that arrives from now on.
   *
   * @param watch - receives each new offer
   * @returns a function that stops watching
   */
  watchOffers(watch: (offer: GuestOffer) => void): () => void {
    this.offerWatchers.add(watch);
    return () => this.offerWatchers.delete(watch);
  }

  /**
   * The subchannels offered for the same device instance as `primary`.
   *
   * @param primary - a primary channel's offer
   * @returns its subchannels, by index
   */
  subchannelsOf(primary: GuestOffer): GuestOffer[] {
    return [...this.offers.values()]
      .filter((o) => o.interfaceInstance === primary.interfaceInstance && o.subchannelIndex > 0)
      .sort((a, b) => a.subchannelIndex - b.subchannelIndex);
  }

  /**
   * Creates a GPADL for a buffer: a GPADL_HEADER with as many PFNs as fit,
   * then GPADL_BODY messages for the rest; waits for GPADL_CREATED.
   *
   * @param relid - the channel the GPADL belongs to
   * @param buffer - the buffer's pages
   * @param handleFlags - bits or-ed into the handle (the KMCL marks read-only GPADLs with bit 31)
   * @returns the GPADL handle
   * @throws BusError (rejection) when the host refuses it
   */
  createGpadl(
    relid: number,
    buffer: Pick<MemoryDescriptor, 'pfns' | 'byteOffset' | 'byteLength'>,
    handleFlags = 0,
  ): Promise<number> {
    if (this.gone) return Promise.reject(this.goneError());
    const handle = (this.nextGpadl++ | handleFlags) >>> 0;
    const words: bigint[] = [
      BigInt(buffer.byteLength) | (BigInt(buffer.byteOffset) << 32n),
      ...buffer.pfns.map(BigInt),
    ];
    const rangeBufferLength = words.length * 8;
    if (rangeBufferLength > 0xffff) {
      return Promise.reject(
        new RangeError(
          `A GPADL of ${buffer.pfns.length} pages exceeds the 8190 pages one range can hold`,
        ),
      );
    }
    const { promise, handle: waiter } = pending<number>();
    this.gpadlCreates.set(handle, { ...waiter, relid });
    const headerWords = (MAX_MESSAGE_SIZE - 20) >> 3;
    const bodyWords = (MAX_MESSAGE_SIZE - 16) >> 3;
    this.send(
      encodeChannelMessage('GpadlHeader', {
        childRelid: relid,
        gpadl: handle,
        rangeBufferLength,
        rangeCount: 1,
        data: packWords(words.slice(0, headerWords)),
      }),
    );
    for (let at = headerWords, n = 0; at < words.length; at += bodyWords, n++) {
      this.send(
        encodeChannelMessage('GpadlBody', {
          messageNumber: n,
          gpadl: handle,
          data: packWords(words.slice(at, at + bodyWords)),
        }),
      );
    }
    return promise;
  }

  /**
   * Tears a GPADL down and waits for GPADL_TORNDOWN.
   *
   * @param relid - its channel
   * @param handle - the GPADL
   * @returns a promise that settles when the host let go of the pages
   */
  teardownGpadl(relid: number, handle: number): Promise<void> {
    if (this.gone) return Promise.reject(this.goneError());
    const { promise, handle: waiter } = pending<void>();
    this.gpadlTeardowns.set(handle, { ...waiter, relid });
    this.send(encodeChannelMessage('GpadlTeardown', { childRelid: relid, gpadl: handle }));
    return promise;
  }

  /**
   * Opens a channel: allocates contiguous ring pages (upstream ring first,
   * spec §1.1), initialises both control pages, creates the ring GPADL and
   * sends OPENCHANNEL with the downstream page offset.
   *
   * @param offer - an offered channel
   * @param options - ring sizes and user data
   * @returns the open channel
   * @throws BusError (rejection) when the host refuses, or the offer is not in the offered state
   */
  async open(offer: GuestOffer, options: OpenOptions = {}): Promise<GuestChannel> {
    if (offer.state !== 'offered') {
      throw new BusError(
        'VMBUS_BUS_BAD_STATE',
        `Channel ${offer.relid} is ${offer.state}, not offered`,
      );
    }
    const up = options.upstreamPages ?? 16;
    const down = options.downstreamPages ?? up;
    if (!Number.isInteger(up) || !Number.isInteger(down) || up < 2 || down < 2) {
      throw new RangeError(`Rings need at least 2 pages each, not ${up} and ${down}`);
    }
    offer.state = 'opening';
    let pfns: number[];
    try {
      pfns = this.pages.allocate(up + down);
    } catch (e) {
      offer.state = 'offered';
      throw e;
    }
    const buffer = this.memory.buffer;
    const base = pfns[0]! * 4096;
    ControlPage.initialize(buffer, base, { featureBits: FEATURE_PENDING_SEND_SIZE });
    ControlPage.initialize(buffer, base + up * 4096, { featureBits: FEATURE_PENDING_SEND_SIZE });
    let gpadl = 0;
    try {
      gpadl = await this.createGpadl(offer.relid, {
        pfns,
        byteOffset: 0,
        byteLength: pfns.length * 4096,
      });
      if (offer.state !== 'opening')
        throw new BusError(
          'VMBUS_BUS_RESCINDED',
          `Channel ${offer.relid} was rescinded while opening`,
        );
      const { promise, handle } = pending<number>();
      const openId = offer.relid;
      this.opens.set(offer.relid, { ...handle, openId });
      this.send(
        encodeChannelMessage(
          'OpenChannel',
          {
            childRelid: offer.relid,
            openId,
            ringBufferGpadlHandle: gpadl,
            targetVp: options.targetVp ?? 0,
            downstreamRingBufferPageOffset: up,
            userData: options.userData ?? new Uint8Array(120),
          },
          148,
        ),
      );
      const status = await promise;
      if (status !== 0)
        throw new BusError(
          'VMBUS_BUS_OPEN_FAILED',
          `The host refused to open channel ${offer.relid}`,
          status,
        );
    } catch (e) {
      if (offer.state === 'opening') {
        offer.state = 'offered';
        if (gpadl !== 0 && !this.gone)
          await this.teardownGpadl(offer.relid, gpadl).catch(() => undefined);
      }
      this.pages.free(pfns);
      throw e;
    }
    const outgoing = new OutgoingRing(buffer, base, up * 4096);
    const incoming = new IncomingRing(buffer, base + up * 4096, down * 4096);
    const pipe = new ChannelPipe(
      offer.relid,
      outgoing,
      incoming,
      () => this.notifier.signalChannel(offer.relid),
      this.poller,
    );
    const channel = new GuestChannel(this, offer, pipe, pfns, gpadl);
    offer.channel = channel;
    offer.state = 'open';
    // A reader that finds the host's ring damaged closes the pipe; the bus
    // then closes the channel too (CLOSECHANNEL, the ring GPADL torn down),
    // so the host sees it closed and nothing leaks, whoever reads the pipe.
    pipe.onDamaged = () => {
      this.close(channel).catch(() => undefined);
    };
    return channel;
  }

  /**
   * Closes an open channel (see {@link GuestChannel.close}).
   *
   * @param channel - the channel
   * @returns a promise that settles once its pages are free
   */
  async close(channel: GuestChannel): Promise<void> {
    const offer = channel.offer;
    if (offer.channel !== channel || offer.state !== 'open') return;
    offer.state = 'closing';
    channel.pipe.close('closed');
    this.send(encodeChannelMessage('CloseChannel', { childRelid: offer.relid }));
    try {
      await this.teardownGpadl(offer.relid, channel.ringGpadl);
    } finally {
      this.freeChannel(channel);
      if (offer.state === 'closing') offer.state = 'offered';
    }
  }

  /**
   * Unloads the bus: UNLOAD, then every channel closes and every offer is
   * forgotten once the host answers.
   *
   * @returns a promise that settles on UNLOAD_RESPONSE
   */
  unload(): Promise<void> {
    if (this.gone) return Promise.reject(this.goneError());
    const { promise, handle } = pending<void>();
    this.unloadWaiter = handle;
    this.send(encodeChannelMessage('Unload'));
    return promise;
  }

  /**
   * Handles one message from the host. Never throws.
   *
   * @param bytes - the message as received
   */
  receive(bytes: Uint8Array): void {
    if (this.gone) return;
    let m: ChannelMessage;
    try {
      m = parseChannelMessage(bytes, 'guest', { version: this.version, features: this.features });
    } catch (e) {
      if (e instanceof ChannelMessageError) this.log.violation(e.code, e.reason);
      else this.log.violation('VMBUS_BUS_INTERNAL', String(e));
      return;
    }
    try {
      this.dispatch(m);
    } catch (e) {
      this.log.violation(
        'VMBUS_BUS_INTERNAL',
        `${m.type}: ${e instanceof Error ? e.message : String(e)}`,
      );
    }
  }

  /**
   * The host signalled channel `relid`.
   *
   * @param relid - channel id
   */
  channelEvent(relid: number): void {
    this.offers.get(relid)?.channel?.pipe.notify();
  }

  /**
   * The host is gone (the link closed): every channel closes with
   * `peer-gone` and every pending operation rejects.
   */
  detach(): void {
    if (this.gone) return;
    this.gone = true;
    const error = this.goneError();
    for (const offer of this.offers.values()) {
      if (offer.channel) this.closeLocal(offer, 'peer-gone');
    }
    this.connecting?.reject(error);
    this.offersWaiter?.reject(error);
    this.unloadWaiter?.reject(error);
    for (const p of [
      ...this.gpadlCreates.values(),
      ...this.gpadlTeardowns.values(),
      ...this.opens.values(),
    ])
      p.reject(error);
    this.gpadlCreates.clear();
    this.gpadlTeardowns.clear();
    this.opens.clear();
  }

  private goneError(): BusError {
    return new BusError('VMBUS_BUS_DISCONNECTED', 'The host is gone');
  }

  private send(bytes: Uint8Array): void {
    if (!this.gone) this.notifier.postMessage(bytes);
  }

  private dispatch(m: ChannelMessage): void {
    switch (m.type) {
      case 'VersionResponse': {
        const c = this.connecting;
        if (!c)
          return this.log.violation(
            'VMBUS_BUS_UNEXPECTED',
            'VERSION_RESPONSE without INITIATE_CONTACT',
          );
        const version = this.versions[this.proposed]!;
        if (m.versionSupported === 0) {
          this.proposed++;
          return this.propose();
        }
        this.connecting = null;
        if (m.connectionState !== 0) {
          return c.reject(
            new BusError(
              'VMBUS_BUS_VERSION_REFUSED',
              `The host failed the connection (state ${m.connectionState})`,
            ),
          );
        }
        this.version = version;
        this.features =
          version >= VMBUS_VERSION.COPPER ? this.wantedFeatures & m.supportedFeatures : 0;
        return c.resolve(version);
      }
      case 'OfferChannel': {
        const existing = this.offers.get(m.childRelid);
        if (existing) {
          return this.log.violation(
            'VMBUS_BUS_DUPLICATE_OFFER',
            `OFFERCHANNEL for channel ${m.childRelid}, which is already offered`,
          );
        }
        if (m.childRelid === 0 || m.childRelid > 2047) {
          return this.log.violation(
            'VMBUS_BUS_UNKNOWN_CHANNEL',
            `OFFERCHANNEL with channel id ${m.childRelid}`,
          );
        }
        const offer = new GuestOffer(m);
        this.offers.set(offer.relid, offer);
        this.onOffer?.(offer);
        for (const watch of [...this.offerWatchers]) watch(offer);
        return;
      }
      case 'AllOffersDelivered': {
        const w = this.offersWaiter;
        this.offersWaiter = null;
        w?.resolve([...this.offers.values()]);
        return;
      }
      case 'OpenChannelResult': {
        const p = this.opens.get(m.childRelid);
        if (!p || p.openId !== m.openId) {
          return this.log.violation(
            'VMBUS_BUS_UNEXPECTED',
            `OPENCHANNEL_RESULT for channel ${m.childRelid} with no open pending`,
          );
        }
        this.opens.delete(m.childRelid);
        return p.resolve(m.status);
      }
      case 'GpadlCreated': {
        const p = this.gpadlCreates.get(m.gpadl);
        if (!p || p.relid !== m.childRelid) {
          return this.log.violation(
            'VMBUS_BUS_UNKNOWN_GPADL',
            `GPADL_CREATED for GPADL 0x${m.gpadl.toString(16)} with none pending`,
          );
        }
        this.gpadlCreates.delete(m.gpadl);
        if (m.status !== 0) {
          return p.reject(
            new BusError(
              'VMBUS_BUS_GPADL_FAILED',
              `The host refused GPADL 0x${m.gpadl.toString(16)}`,
              m.status,
            ),
          );
        }
        return p.resolve(m.gpadl);
      }
      case 'GpadlTorndown': {
        const p = this.gpadlTeardowns.get(m.gpadl);
        if (!p)
          return this.log.violation(
            'VMBUS_BUS_UNKNOWN_GPADL',
            `GPADL_TORNDOWN for GPADL 0x${m.gpadl.toString(16)} with none pending`,
          );
        this.gpadlTeardowns.delete(m.gpadl);
        return p.resolve();
      }
      case 'RescindChannelOffer':
        return this.rescinded(m.childRelid);
      case 'UnloadResponse': {
        for (const offer of this.offers.values())
          if (offer.channel) this.closeLocal(offer, 'unloaded');
        this.offers.clear();
        this.version = 0;
        this.features = 0;
        const w = this.unloadWaiter;
        this.unloadWaiter = null;
        w?.resolve();
        return;
      }
      case 'ModifyChannelResponse':
      case 'PauseResponse':
      case 'ModifyConnectionResponse':
      case 'TlConnectResult':
      case 'CloseReservedResponse':
        return;
      default:
        this.log.violation('VMBUS_BUS_UNEXPECTED', `${m.type} is not handled by the guest`);
    }
  }

  private rescinded(relid: number): void {
    const offer = this.offers.get(relid);
    if (!offer)
      return this.log.violation(
        'VMBUS_BUS_UNKNOWN_CHANNEL',
        `RESCIND_CHANNELOFFER for channel ${relid}, which is not offered`,
      );
    if (offer.state === 'rescinded')
      return this.log.violation(
        'VMBUS_BUS_INVALID_CHANNEL_STATE',
        `Channel ${relid} was rescinded twice`,
      );
    offer.state = 'rescinded';
    const error = new BusError('VMBUS_BUS_RESCINDED', `Channel ${relid} was rescinded`);
    const open = this.opens.get(relid);
    if (open) {
      this.opens.delete(relid);
      open.reject(error);
    }
    for (const [handle, p] of this.gpadlCreates) {
      if (p.relid === relid) {
        this.gpadlCreates.delete(handle);
        p.reject(error);
      }
    }
    for (const [handle, p] of this.gpadlTeardowns) {
      if (p.relid === relid) {
        this.gpadlTeardowns.delete(handle);
        p.resolve();
      }
    }
    if (offer.channel) this.closeLocal(offer, 'rescinded');
    // Like Linux, no GPADL teardown after a rescind: the host forgets the
    // channel's GPADLs when it sees RELID_RELEASED.
    this.offers.delete(relid);
    this.send(encodeChannelMessage('RelidReleased', { childRelid: relid }));
    offer.onRescind?.();
    this.onRescind?.(offer);
  }

  private closeLocal(offer: GuestOffer, reason: PipeCloseReason): void {
    const channel = offer.channel;
    if (!channel) return;
    channel.pipe.close(reason);
    this.freeChannel(channel);
  }

  private freeChannel(channel: GuestChannel): void {
    if (channel.offer.channel !== channel) return;
    channel.offer.channel = null;
    this.pages.free(channel.ringPfns);
  }
}

function packWords(words: bigint[]): Uint8Array {
  const out = new Uint8Array(words.length * 8);
  const view = new DataView(out.buffer);
  for (const [i, w] of words.entries()) view.setBigUint64(i * 8, w, true);
  return out;
}
