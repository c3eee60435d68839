/**
 * The two ends of a guest partition that runs in another thread (a Node
 * worker, a Web Worker): guest memory and the partition link live in
 * `SharedArrayBuffer`s the starter creates and hands over; each side
 * builds its endpoint and link pump around them. Platform-neutral: the
 * Node and browser worker modules only add how the buffers travel.
 *
 * @module
 */

import { GuestMemory } from '../memory/guest-memory.js';
import { PageAllocator } from '../memory/page-allocator.js';
import type { LogSink } from './bus-log.js';
import { LinkPump } from './link-pump.js';
import { createLinkMemory, LinkEndpoint } from './partition-link.js';
import { type GuestOptions, VmbusGuest } from './vmbus-guest.js';
import type { HostPartition, VmbusHost } from './vmbus-host.js';

/** The buffers a guest thread is built around. */
export interface SharedPartition {
  /** Guest memory. */
  memory: SharedArrayBuffer;
  /** The partition link (createLinkMemory). */
  link: SharedArrayBuffer;
}

/**
 * The host's end: new guest memory and link, the partition attached to
 * `host`, its link pump started.
 *
 * @param host - the host
 * @param memoryPages - guest memory in 4 KiB pages
 * @param spin - doorbell polls before the host's pump sleeps (0 on a main thread)
 * @returns the partition, its memory and link end, the pump and its end, and the buffers to hand over
 */
export function attachRemotePartition(
  host: VmbusHost,
  memoryPages: number,
  spin: number,
): {
  partition: HostPartition;
  memory: GuestMemory;
  hostLink: LinkEndpoint;
  pump: LinkPump;
  pumped: Promise<void>;
  shared: SharedPartition;
} {
  const memory = new GuestMemory(memoryPages);
  const link = createLinkMemory();
  const hostLink = new LinkEndpoint(link, 'host');
  const partition = host.attach(memory, hostLink);
  const pump = new LinkPump(hostLink, partition, { spin });
  const pumped = pump.start();
  return { partition, memory, hostLink, pump, pumped, shared: { memory: memory.buffer, link } };
}

/**
 * The guest's end, in the guest's thread: the guest over the handed-over
 * buffers, its link pump started.
 *
 * @param shared - the buffers from {@link attachRemotePartition}
 * @param options - guest options, a log sink, and the pump's spin
 * @returns the guest, its memory, its link end and its pump
 */
export function guestOverSharedPartition(
  shared: SharedPartition,
  options: GuestOptions & { log?: LogSink; spin?: number },
): { guest: VmbusGuest; memory: GuestMemory; link: LinkEndpoint; pump: LinkPump } {
  const memory = new GuestMemory(shared.memory);
  const link = new LinkEndpoint(shared.link, 'guest');
  const guest = new VmbusGuest(memory, new PageAllocator(memory), link, options);
  const pump = new LinkPump(link, guest, { spin: options.spin ?? 0 });
  void pump.start();
  return { guest, memory, link, pump };
}
