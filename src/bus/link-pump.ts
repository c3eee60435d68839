/**
 * The I/O loop of one link endpoint: waits on the endpoint's doorbell with
 * `Atomics.waitAsync` (so it never blocks or busy-waits a main thread),
 * hands every message and channel event to the side's state machine, and
 * detaches it when the link closes or its message ring is corrupt.
 *
 * @module
 */

import { yieldTask } from '../signal/next-task.js';
import type { LinkEndpoint } from './partition-link.js';
import type { PipePoller } from './pipe-poller.js';

/**
 * The state machine a pump feeds: a {@link HostPartition} or a {@link VmbusGuest}.
 *
 * @example
 * ```ts
 * import { type LinkTarget, createLocalBus } from 'vmbus-kmcl';
 * const bus = createLocalBus();
 * const target: LinkTarget = bus.guest; // the guest (or a host partition) is what a pump delivers to
 * console.log(typeof target.receive); // function
 * bus.dispose();
 * ```
 */
export interface LinkTarget {
  /** One message from the peer. */
  receive(bytes: Uint8Array): void;
  /** The peer signalled channel `relid`. */
  channelEvent(relid: number): void;
  /** The peer is gone. */
  detach(): void;
  /** Where drained channel readers park while the pump spins (optional). */
  readonly poller?: PipePoller;
  /** Where violations are counted. */
  readonly log: { violation(code: string, message: string): void };
}

/** Iterations with work between yields to the event loop. */
const YIELD_EVERY = 64;
/** What a spin found: nothing, a doorbell change, packets on a parked ring. */
const SPUN_NOTHING = 0;
const SPUN_BELL = 1;
const SPUN_PARKED = 2;

/**
 * Runs an endpoint until the link closes or {@link LinkPump.stop} is called.
 *
 * @example
 * ```ts
 * import { createLinkMemory, LinkEndpoint, LinkPump, RecordingNotifier, GuestMemory, PageAllocator, VmbusGuest } from 'vmbus-kmcl';
 * const link = createLinkMemory();
 * const end = new LinkEndpoint(link, 'guest');
 * const memory = new GuestMemory(16);
 * const guest = new VmbusGuest(memory, new PageAllocator(memory), end);
 * const pump = new LinkPump(end, guest); // feeds the guest everything the host sends
 * void pump.start();
 * pump.stop();
 * void RecordingNotifier;
 * ```
 */
export class LinkPump {
  /** Wake-ups from a sleep. */
  wakeups = 0;
  /** Doorbells caught while polling, without sleeping. */
  spinHits = 0;
  private stopped = false;
  private running: Promise<void> | null = null;
  private readonly endpoint: LinkEndpoint;
  private readonly target: LinkTarget;
  /** Doorbell polls before sleeping: 0 on a main thread (never busy-wait); a worker may spin. */
  private readonly spin: number;

  /**
   * @param endpoint - the link end to serve
   * @param target - the state machine to feed
   * @param options - `spin`: doorbell polls before sleeping (for workers; keep 0 on a main thread)
   */
  constructor(endpoint: LinkEndpoint, target: LinkTarget, options: { spin?: number } = {}) {
    this.endpoint = endpoint;
    this.target = target;
    this.spin = options.spin ?? 0;
  }

  /**
   * Starts the loop (once).
   *
   * @returns a promise that settles when the loop ends
   */
  start(): Promise<void> {
    this.running ??= this.loop();
    return this.running;
  }

  /** Ends the loop at its next turn. */
  stop(): void {
    this.stopped = true;
    this.endpoint.doorbell.signal();
  }

  /**
   * Polls the doorbell and the parked channel rings up to `spin` times:
   * SPUN_BELL when the doorbell moved, SPUN_PARKED when a parked ring had
   * packets (they were read), SPUN_NOTHING when neither happened.
   */
  private spinFor(seen: number, poller: PipePoller | undefined): number {
    const bell = this.endpoint.doorbell;
    if (!poller) {
      for (let i = 0; i < this.spin; i++) if (bell.value !== seen) return SPUN_BELL;
      return SPUN_NOTHING;
    }
    for (let i = 0; i < this.spin; i++) {
      if (bell.value !== seen) return SPUN_BELL;
      if (poller.parked > 0 && poller.poll()) return SPUN_PARKED;
    }
    return SPUN_NOTHING;
  }

  private async loop(): Promise<void> {
    // A pending Atomics.waitAsync does not keep a Node event loop alive: a
    // long timer does, for as long as the link is served.
    const keepAlive = setInterval(() => {}, 0x7fffffff);
    try {
      await this.serve();
    } finally {
      clearInterval(keepAlive);
    }
  }

  private async serve(): Promise<void> {
    const { endpoint, target } = this;
    const handlers = {
      message: (bytes: Uint8Array) => target.receive(bytes),
      channel: (relid: number) => target.channelEvent(relid),
      corrupt: (e: Error & { code?: string }) => {
        target.log.violation(
          e.code ?? 'VMBUS_RING_CORRUPT',
          `The peer's message ring is damaged: ${e.message}`,
        );
        endpoint.close();
      },
    };
    // A spinning pump polls the rings its channel readers park (PipePoller).
    const poller = this.spin > 0 ? target.poller : undefined;
    let busy = 0;
    while (!this.stopped) {
      const seen = endpoint.doorbell.value;
      if (poller) poller.active = true;
      const found = endpoint.poll(handlers);
      if (endpoint.closed) {
        if (poller) poller.active = false;
        target.detach();
        return;
      }
      if (found) {
        if (++busy % YIELD_EVERY === 0) await yieldTask();
        continue;
      }
      if (this.spin > 0) {
        let spun = this.spinFor(seen, poller);
        // While only parked rings have packets the doorbell stays where it
        // was: the peer rings it after every message and event flag it
        // writes, so endpoint.poll would find nothing, and the pump spins
        // on (a busy channel's passes skip the message ring and the flag
        // words). A doorbell change goes back to endpoint.poll.
        while (spun !== SPUN_NOTHING) {
          this.spinHits++;
          if (++busy % YIELD_EVERY === 0) await yieldTask();
          if (spun === SPUN_BELL || this.stopped) break;
          spun = this.spinFor(seen, poller);
        }
        if (spun !== SPUN_NOTHING) continue;
      }
      if (poller) {
        // About to sleep: every parked ring is unmasked and re-checked.
        poller.active = false;
        if (poller.quiesce()) continue;
      }
      const wait = endpoint.doorbell.waitAsync(seen);
      if (typeof wait !== 'string') {
        await wait;
        this.wakeups++;
      }
    }
    if (poller) {
      poller.active = false;
      poller.quiesce();
    }
  }
}
