/**
 * The data path of one open channel, the same on both sides: an outgoing
 * ring, an incoming ring, and the signal to the peer. Interrupts are sent
 * only when the ring rules of spec vmbus-wire.md §1.8 say so, and counted;
 * a full ring is waited out with pending-send-size flow control.
 *
 * Draining follows the reader protocol of §1.8: mask, read everything,
 * commit (signalling the writer if its space request was met), unmask and
 * re-check, so a packet that races the unmask is never stranded.
 *
 * @module
 */

import type { IncomingPacket } from '../ring/incoming-packet.js';
import type { IncomingRing } from '../ring/incoming-ring.js';
import type { OutgoingRing } from '../ring/outgoing-ring.js';
import { RingCorruptError } from '../ring/ring-error.js';
import { VmbusError } from '../status/vmbus-error.js';
import type { PipePoller } from './pipe-poller.js';

const EMPTY = new Uint8Array(0);
/**
 * How far ahead of its tail a pipe keeps cache lines of its outgoing ring
 * claimed (OutgoingRing.claimAhead, which tops up once less than half of
 * it is left): a page, about 46 packets of 64 bytes.
 */
const CLAIM_AHEAD = 4096;

/**
 * Why a channel's data path ended.
 *
 * @example
 * ```ts
 * import { type PipeCloseReason, connectedChannels } from 'vmbus-kmcl';
 * const { guestChannel, guest, dispose } = await connectedChannels({ ringPages: 4 });
 * await guestChannel.close();
 * const reason: PipeCloseReason | null = guest.closeReason;
 * console.log(reason); // closed
 * dispose();
 * ```
 */
export type PipeCloseReason = 'closed' | 'rescinded' | 'peer-gone' | 'corrupt' | 'unloaded';

/**
 * The channel's data path is closed: the operation cannot complete.
 *
 * @example
 * ```ts
 * import { ChannelClosedError, connectedChannels } from 'vmbus-kmcl';
 * const { guest, guestChannel, dispose } = await connectedChannels({ ringPages: 4 });
 * await guestChannel.close();
 * try {
 *   guest.send(6, 0, 1, 0, new Uint8Array(8));
 * } catch (e) {
 *   if (e instanceof ChannelClosedError) console.log(e.closeReason);
 * }
 * dispose();
 * ```
 */
export class ChannelClosedError extends VmbusError {
  /** Why the channel closed. */
  readonly closeReason: PipeCloseReason;

  /**
   * @param relid - the channel
   * @param reason - why it closed
   */
  constructor(relid: number, reason: PipeCloseReason) {
    super('VMBUS_CHANNEL_CLOSED', `Channel ${relid} is closed (${reason})`);
    this.name = 'ChannelClosedError';
    this.closeReason = reason;
  }
}

/**
 * Counters of one pipe.
 *
 * @example
 * ```ts
 * import { type PipeStats, connectedChannels } from 'vmbus-kmcl';
 * const { guest, dispose } = await connectedChannels({ ringPages: 4 });
 * guest.send(6, 0, 1, 0, new Uint8Array(8));
 * const stats: PipeStats = guest.stats;
 * console.log(stats.packetsSent === 1); // true
 * dispose();
 * ```
 */
export interface PipeStats {
  packetsSent: number;
  bytesSent: number;
  packetsReceived: number;
  bytesReceived: number;
  interruptsSent: number;
  interruptsSuppressed: number;
  interruptsReceived: number;
  ringFull: number;
  /** The most bytes this side's outgoing ring held at a commit (its high-water mark). */
  ringHighWater: number;
  /** Interrupts the ring rules called for and a fault injection dropped ({@link ChannelPipe.dropInterrupts}). */
  interruptsDropped: number;
}

/**
 * Adds up the counters of several channels (a device's primary channel and
 * its sub-channels): sums, except the high-water mark, which is the largest.
 *
 * @param all - counters, null entries skipped (a channel never opened)
 * @returns the total
 *
 * @example
 * ```ts
 * import { connectedChannels, sumPipeStats } from 'vmbus-kmcl';
 * const { host, guest, dispose } = await connectedChannels({ ringPages: 4 });
 * guest.send(6, 0, 1, 0, new Uint8Array(8));
 * const total = sumPipeStats([host.stats, guest.stats, null]);
 * console.log(total.packetsSent === 1, total.ringHighWater > 0); // true true
 * dispose();
 * ```
 */
export function sumPipeStats(all: readonly (PipeStats | null)[]): PipeStats {
  const total = zeroStats();
  for (const s of all) {
    if (!s) continue;
    for (const key of Object.keys(total) as (keyof PipeStats)[]) {
      total[key] = key === 'ringHighWater' ? Math.max(total[key], s[key]) : total[key] + s[key];
    }
  }
  return total;
}

function zeroStats(): PipeStats {
  return {
    packetsSent: 0,
    bytesSent: 0,
    packetsReceived: 0,
    bytesReceived: 0,
    interruptsSent: 0,
    interruptsSuppressed: 0,
    interruptsReceived: 0,
    ringFull: 0,
    ringHighWater: 0,
    interruptsDropped: 0,
  };
}

/**
 * One open channel's rings and signal.
 *
 * @example
 * ```ts
 * import { connectedChannels } from 'vmbus-kmcl';
 * const { host, guest, dispose } = await connectedChannels({ ringPages: 4 });
 * host.onPacket = (p) => console.log('host got', p.transactionId);
 * await guest.sendAsync(6, 0, 42, 0, new Uint8Array(16)); // waits for ring space if full
 * console.log(guest.stats.interruptsSent + guest.stats.interruptsSuppressed); // 1
 * dispose();
 * ```
 */
export class ChannelPipe {
  /** The channel id. */
  readonly relid: number;
  /** Ring this side writes. */
  readonly outgoing: OutgoingRing;
  /** Ring this side reads. */
  readonly incoming: IncomingRing;
  /** The counters kept here (the packet and byte counts are the rings'). */
  private readonly counters = zeroStats();
  /** The rings' packet and byte counts when the pipe started. */
  private readonly base: {
    sent: number;
    sentBytes: number;
    received: number;
    receivedBytes: number;
  };
  /**
   * Called when the peer signalled and packets may be waiting. The default
   * drains into {@link ChannelPipe.onPacket}.
   */
  onSignal: (() => void) | null = null;
  /** Called for each packet by the default drain; the view is valid during the call. */
  onPacket: ((packet: IncomingPacket) => void) | null = null;
  /** Called once when the pipe closes. */
  onClose: ((reason: PipeCloseReason, error?: Error) => void) | null = null;
  /**
   * Called once, after {@link ChannelPipe.onClose}, when the pipe closes
   * because a ring was found damaged: for the bus endpoint that owns the
   * channel (a guest closes it on the bus).
   */
  onDamaged: (() => void) | null = null;

  /** Whether the pipe is parked in its endpoint's {@link PipePoller}. */
  parked = false;
  private readonly signalPeer: () => void;
  private toDrop = 0;
  private readonly poller: PipePoller | null;
  private open = true;
  private reason: PipeCloseReason = 'closed';
  private spaceWaiters: { bytes: number; resolve: () => void; reject: (e: Error) => void }[] = [];
  private draining = false;

  /**
   * @param relid - channel id
   * @param outgoing - the ring this side writes
   * @param incoming - the ring this side reads
   * @param signalPeer - raises the peer's channel event
   * @param poller - the endpoint's poller, where a drained reader may park
   */
  constructor(
    relid: number,
    outgoing: OutgoingRing,
    incoming: IncomingRing,
    signalPeer: () => void,
    poller: PipePoller | null = null,
  ) {
    this.relid = relid;
    this.outgoing = outgoing;
    this.incoming = incoming;
    this.signalPeer = signalPeer;
    this.poller = poller;
    this.base = {
      sent: outgoing.packetsWritten,
      sentBytes: outgoing.payloadBytesWritten,
      received: incoming.packetsRead,
      receivedBytes: incoming.payloadBytesRead,
    };
  }

  /**
   * The counters, as a snapshot: the packet and payload byte counts come
   * from the rings' own counters (each packet is counted once, by its
   * ring), counted from the pipe's start; the rest are the pipe's.
   */
  get stats(): PipeStats {
    const { outgoing, incoming, base } = this;
    return {
      ...this.counters,
      packetsSent: outgoing.packetsWritten - base.sent,
      bytesSent: outgoing.payloadBytesWritten - base.sentBytes,
      packetsReceived: incoming.packetsRead - base.received,
      bytesReceived: incoming.payloadBytesRead - base.receivedBytes,
    };
  }

  /**
   * For a reader that has drained its ring: keeps the interrupt mask set
   * and parks the pipe in the endpoint's poller while its pump spins.
   *
   * @returns true when parked (leave the mask set); false: unmask as usual
   */
  park(): boolean {
    return this.poller?.park(this) ?? false;
  }

  /**
   * Unmasks the incoming ring and re-checks it (spec §1.8); a corrupt
   * write index closes the pipe.
   *
   * @returns true when packets arrived meanwhile (read them)
   */
  unmaskAndCheck(): boolean {
    try {
      return this.incoming.unmaskInterrupts();
    } catch (e) {
      if (!(e instanceof RingCorruptError)) throw e;
      this.close('corrupt', e);
      return false;
    }
  }

  /** The poller found packets: the reader reads them (no interrupt counted). */
  poll(): void {
    if (!this.open) return;
    if (this.onSignal) this.onSignal();
    else if (this.onPacket) this.drain(this.onPacket);
  }

  /** Whether the pipe still carries packets. */
  get isOpen(): boolean {
    return this.open;
  }

  /** Why the pipe closed (meaningful once closed). */
  get closeReason(): PipeCloseReason {
    return this.reason;
  }

  /**
   * Writes one packet without publishing it (see {@link ChannelPipe.flush}).
   *
   * @param type - packet type
   * @param flags - descriptor flags
   * @param idLow - low half of the transaction id
   * @param idHigh - high half of the transaction id
   * @param payload - payload
   * @param ext - extension header (GPA-direct, transfer-page)
   * @returns false when the ring is full
   * @throws ChannelClosedError when the pipe is closed
   */
  write(
    type: number,
    flags: number,
    idLow: number,
    idHigh: number,
    payload: Uint8Array,
    ext?: Uint8Array,
  ): boolean {
    // `ext?` with `??` rather than a default value keeps the parameters
    // simple, which keeps this function small enough to inline.
    if (!this.open) throw this.closedError();
    if (!this.outgoing.writePacket(type, flags, idLow, idHigh, payload, ext ?? EMPTY)) {
      this.counters.ringFull++;
      return false;
    }
    return true;
  }

  /**
   * The error a write to a closed pipe throws (built off the per-packet
   * path, so `write` stays small enough for V8 to inline into its callers).
   */
  private closedError(): ChannelClosedError {
    return new ChannelClosedError(this.relid, this.reason);
  }

  /**
   * Fault injection (for tools that test a peer): the next `count`
   * interrupts this side would raise are dropped, as if lost on the way;
   * a peer that waits for them stalls until another interrupt comes (for
   * example {@link ChannelPipe.notifyPeer}). Counted in `interruptsDropped`.
   *
   * @param count - interrupts to drop (0 cancels what is left)
   */
  dropInterrupts(count: number): void {
    this.toDrop = Math.max(0, Math.floor(count));
  }

  /** Interrupts still to drop (see {@link ChannelPipe.dropInterrupts}). */
  get interruptsToDrop(): number {
    return this.toDrop;
  }

  private raise(): void {
    if (this.toDrop > 0) {
      this.toDrop--;
      this.counters.interruptsDropped++;
      return;
    }
    this.counters.interruptsSent++;
    this.signalPeer();
  }

  /**
   * Signals the peer now (counted): for a reader whose commit said the
   * writer waits for space.
   */
  notifyPeer(): void {
    this.raise();
  }

  /**
   * Publishes written packets and signals the peer if the ring rules say so.
   */
  flush(): void {
    const out = this.outgoing;
    if (out.uncommittedBytes === 0) return;
    const used = out.usedBytes;
    if (used > this.counters.ringHighWater) this.counters.ringHighWater = used;
    const signal = out.commitWrite();
    // Keep the next lines of the ring claimed for this side's stores (docs/performance.md).
    out.claimAhead(CLAIM_AHEAD);
    if (signal) {
      this.raise();
    } else {
      this.counters.interruptsSuppressed++;
    }
  }

  /**
   * Writes and publishes one packet.
   *
   * @param type - packet type
   * @param flags - descriptor flags
   * @param idLow - low half of the transaction id
   * @param idHigh - high half of the transaction id
   * @param payload - payload
   * @param ext - extension header
   * @returns false when the ring is full (nothing was written)
   * @throws ChannelClosedError when the pipe is closed
   */
  send(
    type: number,
    flags: number,
    idLow: number,
    idHigh: number,
    payload: Uint8Array,
    ext: Uint8Array = EMPTY,
  ): boolean {
    if (!this.write(type, flags, idLow, idHigh, payload, ext)) return false;
    this.flush();
    return true;
  }

  /**
   * Sends one packet, waiting for space while the ring is full.
   *
   * @param type - packet type
   * @param flags - descriptor flags
   * @param idLow - low half of the transaction id
   * @param idHigh - high half of the transaction id
   * @param payload - payload
   * @param ext - extension header
   * @returns a promise that settles once the packet is in the ring
   * @throws ChannelClosedError (rejection) when the pipe closes first
   */
  async sendAsync(
    type: number,
    flags: number,
    idLow: number,
    idHigh: number,
    payload: Uint8Array,
    ext: Uint8Array = EMPTY,
  ): Promise<void> {
    while (!this.send(type, flags, idLow, idHigh, payload, ext)) {
      this.flush();
      await this.waitForSpace(this.outgoing.bytesNeeded);
    }
  }

  /**
   * Waits until `bytes` are free in the outgoing ring: asks the reader to
   * signal (pending send size) and re-checks first.
   *
   * @param bytes - bytes needed, with trailer
   * @returns a promise that settles when the space is free
   * @throws ChannelClosedError (rejection) when the pipe closes first
   */
  waitForSpace(bytes: number): Promise<void> {
    if (!this.open) return Promise.reject(new ChannelClosedError(this.relid, this.reason));
    if (this.outgoing.requestSpace(bytes)) return Promise.resolve();
    return new Promise((resolve, reject) => this.spaceWaiters.push({ bytes, resolve, reject }));
  }

  /**
   * Reads every waiting packet into `handler`, following the mask, commit,
   * unmask, re-check protocol; signals the writer when its space request
   * was met.
   *
   * @param handler - receives each packet; the view is valid during the call
   * @returns packets handled
   */
  drain(handler: (packet: IncomingPacket) => void): number {
    if (!this.open || this.draining) return 0;
    this.draining = true;
    let count = 0;
    try {
      const ring = this.incoming;
      for (;;) {
        ring.maskInterrupts();
        for (let p = ring.read(); p !== null && this.open; p = ring.read()) {
          count++;
          handler(p);
        }
        if (ring.commitRead()) {
          this.raise();
        }
        if (!this.open || this.park() || !ring.unmaskInterrupts()) break;
      }
    } catch (e) {
      if (!(e instanceof RingCorruptError)) throw e;
      this.close('corrupt', e);
    } finally {
      this.draining = false;
    }
    return count;
  }

  /**
   * The peer raised this channel's event: wake writers waiting for space,
   * then let the reader drain.
   */
  notify(): void {
    if (!this.open) return;
    this.counters.interruptsReceived++;
    if (this.spaceWaiters.length > 0) {
      const waiters = this.spaceWaiters;
      this.spaceWaiters = [];
      for (const w of waiters) {
        if (this.outgoing.requestSpace(w.bytes)) w.resolve();
        else this.spaceWaiters.push(w);
      }
    }
    this.poll();
  }

  /**
   * Ends the data path: no more packets either way; space waiters reject
   * with {@link ChannelClosedError}.
   *
   * @param reason - why
   * @param error - the damage, for `corrupt`
   */
  close(reason: PipeCloseReason, error?: Error): void {
    if (!this.open) return;
    this.open = false;
    this.reason = reason;
    const waiters = this.spaceWaiters;
    this.spaceWaiters = [];
    for (const w of waiters) w.reject(new ChannelClosedError(this.relid, reason));
    this.onClose?.(reason, error);
    if (reason === 'corrupt') this.onDamaged?.();
  }
}
