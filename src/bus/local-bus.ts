/**
 * Host-free test helpers (public API): a host and a guest partition wired
 * together in one thread, and an open channel pair on top of it.
 *
 * @module
 */

import { GuestMemory } from '../memory/guest-memory.js';
import { PageAllocator } from '../memory/page-allocator.js';
import type { LogSink } from './bus-log.js';
import type { ChannelPipe } from './channel-pipe.js';
import { LinkPump } from './link-pump.js';
import { createLinkMemory, LinkEndpoint } from './partition-link.js';
import { type GuestChannel, type GuestOptions, VmbusGuest } from './vmbus-guest.js';
import { type HostChannel, type HostOptions, type HostPartition, VmbusHost } from './vmbus-host.js';

/**
 * A host and one guest partition in this thread.
 *
 * @example
 * ```ts
 * import { type LocalBus, createLocalBus } from 'vmbus-kmcl';
 * const bus: LocalBus = createLocalBus();
 * console.log(bus.partition.memory === bus.memory); // true: the host sees the guest's memory
 * bus.dispose();
 * ```
 */
export interface LocalBus {
  /** The host. */
  host: VmbusHost;
  /** The host's state for the partition. */
  partition: HostPartition;
  /** The guest. */
  guest: VmbusGuest;
  /** The partition's memory. */
  memory: GuestMemory;
  /** The host's link end. */
  hostLink: LinkEndpoint;
  /** The guest's link end. */
  guestLink: LinkEndpoint;
  /** Stops both pumps and closes the link. */
  dispose(): void;
}

/**
 * Options of {@link createLocalBus}.
 *
 * @example
 * ```ts
 * import { type LocalBusOptions, VMBUS_VERSION, createLocalBus } from 'vmbus-kmcl';
 * const options: LocalBusOptions = { memoryPages: 2048, guest: { versions: [VMBUS_VERSION.WIN10] }, log: () => {} };
 * const bus = createLocalBus(options);
 * console.log((await bus.guest.connect()) === VMBUS_VERSION.WIN10); // true
 * bus.dispose();
 * ```
 */
export interface LocalBusOptions {
  /** Guest memory in pages (default 2048: 8 MiB). */
  memoryPages?: number;
  /** Host settings. */
  host?: HostOptions;
  /** Guest settings. */
  guest?: GuestOptions;
  /** An existing host to attach the partition to. */
  existingHost?: VmbusHost;
  /** Log sink for both sides. */
  log?: LogSink;
  /**
   * Doorbell polls before each pump sleeps (default 0). Above 0 the pumps
   * also poll the rings drained channel readers park (`PipePoller`):
   * for tests and benchmarks of the polling path; it burns this thread's CPU.
   */
  spin?: number;
}

/**
 * Wires a host and a guest partition together in this thread, with the
 * same link memory and pumps as across workers.
 *
 * @param options - sizes and settings
 * @returns the bus; call `guest.connect()` next
 *
 * @example
 * ```ts
 * import { createLocalBus } from 'vmbus-kmcl';
 * const bus = createLocalBus({ memoryPages: 1024 }); // 4 MiB of guest memory
 * console.log(await bus.guest.connect() > 0); // true: the negotiated version
 * await bus.guest.requestOffers();
 * bus.dispose();
 * ```
 */
export function createLocalBus(options: LocalBusOptions = {}): LocalBus {
  const log = options.log;
  const host = options.existingHost ?? new VmbusHost({ ...(log ? { log } : {}), ...options.host });
  const memory = new GuestMemory(options.memoryPages ?? 2048);
  const link = createLinkMemory();
  const hostLink = new LinkEndpoint(link, 'host');
  const guestLink = new LinkEndpoint(link, 'guest');
  const partition = host.attach(memory, hostLink);
  const guest = new VmbusGuest(memory, new PageAllocator(memory), guestLink, {
    ...(log ? { log } : {}),
    ...options.guest,
  });
  const spin = options.spin ?? 0;
  const hostPump = new LinkPump(hostLink, partition, { spin });
  const guestPump = new LinkPump(guestLink, guest, { spin });
  void hostPump.start();
  void guestPump.start();
  return {
    host,
    partition,
    guest,
    memory,
    hostLink,
    guestLink,
    dispose() {
      hostPump.stop();
      guestPump.stop();
      partition.detach();
      guest.detach();
    },
  };
}

/**
 * An open channel, both ends, in one thread.
 *
 * @example
 * ```ts
 * import { type ConnectedChannels, connectedChannels } from 'vmbus-kmcl';
 * const pair: ConnectedChannels = await connectedChannels({ ringPages: 4 });
 * console.log(pair.host.relid === pair.guest.relid); // true: both ends of one channel
 * pair.dispose();
 * ```
 */
export interface ConnectedChannels {
  /** The host end's data path. */
  host: ChannelPipe;
  /** The guest end's data path. */
  guest: ChannelPipe;
  /** The host's channel. */
  hostChannel: HostChannel;
  /** The guest's channel. */
  guestChannel: GuestChannel;
  /** The bus underneath. */
  bus: LocalBus;
  /** Closes everything. */
  dispose(): void;
}

/**
 * An open host/guest channel pair in one thread: a local bus, one offer,
 * version negotiation, the offer delivered and opened.
 *
 * @param options - `ringPages` per ring (control page included, default 16) and bus options
 * @returns both ends
 * @example
 * ```ts
 * import { connectedChannels } from 'vmbus-kmcl';
 * const { host, guest, dispose } = await connectedChannels({ ringPages: 4 });
 * host.onPacket = (p) => console.log('host got', p.payloadLength);
 * guest.send(6, 0, 1, 0, new Uint8Array(8));
 * dispose();
 * ```
 * @throws Error when the host offered nothing or did not open its end (a bug, not a peer fault)
 */
export async function connectedChannels(
  options: LocalBusOptions & { ringPages?: number } = {},
): Promise<ConnectedChannels> {
  const bus = createLocalBus(options);
  let hostChannel: HostChannel | undefined;
  bus.host.offer(bus.partition, {
    interfaceType: '8a3b1a1a-8b45-4bd7-9b1e-1c0e3bd2a6e1',
    interfaceInstance: '00000000-0000-0000-0000-000000000001',
    onOpened: (c) => {
      hostChannel = c;
    },
  });
  await bus.guest.connect();
  const [offer] = await bus.guest.requestOffers();
  if (!offer) throw new Error('The host offered nothing');
  const pages = options.ringPages ?? 16;
  const guestChannel = await bus.guest.open(offer, {
    upstreamPages: pages,
    downstreamPages: pages,
  });
  if (!hostChannel) throw new Error('The host did not open its end');
  return {
    host: hostChannel.pipe,
    guest: guestChannel.pipe,
    hostChannel,
    guestChannel,
    bus,
    dispose: () => bus.dispose(),
  };
}

/**
 * A notifier that records what a state machine sends instead of sending it:
 * for driving a {@link HostPartition} or {@link VmbusGuest} message by
 * message in tests.
 *
 * @example
 * ```ts
 * import { RecordingNotifier, VmbusHost, GuestMemory } from 'vmbus-kmcl';
 * const notifier = new RecordingNotifier();
 * const host = new VmbusHost();
 * host.attach(new GuestMemory(64), notifier); // the host's outgoing messages land in notifier.messages
 * console.log(notifier.take().length); // 0: nothing sent before the guest speaks
 * ```
 */
export class RecordingNotifier {
  /** Every message posted, in order. */
  readonly messages: Uint8Array[] = [];
  /** Every channel signalled, in order. */
  readonly signals: number[] = [];

  /** @param bytes - a message */
  postMessage(bytes: Uint8Array): void {
    this.messages.push(bytes);
  }

  /** @param relid - a channel */
  signalChannel(relid: number): void {
    this.signals.push(relid);
  }

  /**
   * Removes and returns the recorded messages.
   *
   * @returns the messages since the last call
   */
  take(): Uint8Array[] {
    return this.messages.splice(0);
  }
}
