/**
 * Polling instead of interrupts while a link pump spins (the idea of
 * Linux's NAPI and of Hyper-V's own polling mode): a reader that has
 * drained its ring may leave the ring's interrupt mask set and park its
 * pipe here; the pump then checks the parked rings' write indices between
 * doorbell polls, so the writer publishes without signalling (spec
 * vmbus-wire.md §1.8: a masked reader gets no interrupt). Before the pump
 * sleeps it unmasks every parked ring and re-checks it (the reader's
 * mask, unmask, re-check protocol), so no packet is stranded.
 *
 * @module
 */

import type { ChannelPipe } from './channel-pipe.js';

/**
 * The parked pipes of one link endpoint.
 *
 * @example
 * ```ts
 * import { PipePoller } from 'vmbus-kmcl';
 * const poller = new PipePoller();
 * console.log(poller.active, poller.parked); // false 0
 * ```
 */
export class PipePoller {
  /** Whether a pump is spinning on this endpoint (pipes may park only then). */
  active = false;
  /** Parked pipes found with packets (each one a saved interrupt). */
  polls = 0;
  private list: ChannelPipe[] = [];
  private spare: ChannelPipe[] = [];

  /** Pipes parked now. */
  get parked(): number {
    return this.list.length;
  }

  /**
   * Parks `pipe` with its interrupts masked, if a pump is spinning.
   *
   * @param pipe - a pipe whose reader has just drained its ring
   * @returns true when parked (the reader leaves the mask set), false when
   *   the reader must unmask as usual
   */
  park(pipe: ChannelPipe): boolean {
    if (!this.active) return false;
    if (!pipe.parked) {
      pipe.parked = true;
      this.list.push(pipe);
    }
    return true;
  }

  /**
   * Checks each parked pipe's write index and lets the ones with packets
   * read them (their readers may park them again).
   *
   * @returns true when a parked pipe had packets
   */
  poll(): boolean {
    const list = this.list;
    let found = false;
    for (let i = 0; i < list.length; i++) {
      const pipe = list[i]!;
      if (!pipe.isOpen) {
        pipe.parked = false;
        list[i] = list[list.length - 1]!;
        list.pop();
        i--;
        continue;
      }
      if (pipe.incoming.peerWrote()) {
        this.polls++;
        found = true;
        pipe.poll();
      }
    }
    return found;
  }

  /**
   * Unparks every pipe before the pump sleeps: unmasks each ring and
   * re-checks it; a ring that received packets meanwhile is read at once.
   * Call with {@link PipePoller.active} false so the readers do not park again.
   *
   * @returns true when a ring had packets (the pump should not sleep yet)
   */
  quiesce(): boolean {
    const list = this.list;
    this.list = this.spare;
    this.spare = list;
    let found = false;
    for (const pipe of list) {
      pipe.parked = false;
      if (pipe.isOpen && pipe.unmaskAndCheck()) {
        found = true;
        pipe.poll();
      }
    }
    list.length = 0;
    return found;
  }
}
