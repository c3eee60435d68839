/**
 * The host's virtual switch: connects the synthetic NICs of one or more
 * guest partitions. It learns which port each source MAC address is behind,
 * forwards unicast frames to the learned port (or floods them while the
 * address is unknown), floods broadcast and multicast frames, honours each
 * port's RNDIS packet filter (spec nvsp.md §6.5, §11 "Switch"), and counts
 * what it drops.
 *
 * @module
 */

import { PACKET_FILTER } from './nvsp-protocol.js';

/**
 * What a switch port (a NIC's host side) offers the switch.
 *
 * @example
 * ```ts
 * import { type SwitchPort } from 'vmbus-kmcl';
 * const port: SwitchPort = {
 *   name: 'nic0',
 *   mac: Uint8Array.from([0, 0x15, 0x5d, 0, 0, 1]),
 *   packetFilter: 0x0d,
 *   accept: (frame) => frame.length > 0,
 * };
 * console.log(port.accept(new Uint8Array(60), null)); // true
 * ```
 */
export interface SwitchPort {
  /** For logs and statistics. */
  readonly name: string;
  /** The NIC's own address (frames to it pass the DIRECTED filter). */
  readonly mac: Uint8Array;
  /** The guest's RNDIS packet filter; 0 drops everything. */
  readonly packetFilter: number;
  /**
   * Takes a copy of a frame for its guest; false when it cannot (its queue
   * is full or the frame exceeds its MTU). `ticket` is handed back to the
   * source through {@link FrameTicket.release} once the frame has left the port.
   */
  accept(frame: Uint8Array, ticket: FrameTicket | null): boolean;
}

/**
 * A source's handle on one forwarded frame: the destination port releases
 * it when the frame has been delivered to its guest or dropped, so the
 * source can complete the guest's send only then (spec nvsp.md §5.1:
 * completion after the backend has taken the frames).
 *
 * @example
 * ```ts
 * import { type FrameTicket } from 'vmbus-kmcl';
 * let left = 1;
 * const ticket: FrameTicket = { hold: () => left++, release: () => left-- };
 * ticket.release();
 * console.log(left); // 0
 * ```
 */
export interface FrameTicket {
  /** One more port holds the frame. */
  hold(): void;
  /** One port is done with the frame. */
  release(): void;
}

/**
 * Switch counters.
 *
 * @example
 * ```ts
 * import { VirtualSwitch, type SwitchStats } from 'vmbus-kmcl';
 * const stats: SwitchStats = new VirtualSwitch().stats;
 * console.log(stats.forwarded); // 0
 * ```
 */
export interface SwitchStats {
  /** Frames handed to a port (a flooded frame counts once per port). */
  forwarded: number;
  /** Frames flooded (broadcast, multicast, unknown unicast). */
  flooded: number;
  /** Frames shorter than an Ethernet header. */
  droppedRunt: number;
  /** Copies a port's packet filter refused. */
  droppedFiltered: number;
  /** Copies a port could not take (queue full, frame above its MTU). */
  droppedPortFull: number;
  /** Frames with no other port to go to (or addressed back to their own port). */
  droppedNoRoute: number;
  /** Addresses learned (or moved to another port). */
  learned: number;
}

/**
 * A learning Ethernet switch between NIC ports.
 *
 * @example
 * ```ts
 * import { VirtualSwitch, type SwitchPort } from 'vmbus-kmcl';
 * const got: string[] = [];
 * const port = (name: string, last: number): SwitchPort => ({
 *   name,
 *   mac: Uint8Array.from([0, 0x15, 0x5d, 0, 0, last]),
 *   packetFilter: 0x0d,
 *   accept: () => (got.push(name), true),
 * });
 * const sw = new VirtualSwitch();
 * const a = port('a', 1);
 * sw.attach(a);
 * sw.attach(port('b', 2));
 * const frame = new Uint8Array(60).fill(0xff, 0, 6); // broadcast
 * frame.set(a.mac, 6);
 * sw.forward(a, frame, null);
 * console.log(got, sw.stats.flooded); // [ 'b' ] 1
 * ```
 */
export class VirtualSwitch {
  /** Counters. */
  readonly stats: SwitchStats = {
    forwarded: 0,
    flooded: 0,
    droppedRunt: 0,
    droppedFiltered: 0,
    droppedPortFull: 0,
    droppedNoRoute: 0,
    learned: 0,
  };
  private readonly ports: SwitchPort[] = [];
  /** Learned addresses: the 48-bit MAC as a number → port. */
  private readonly table = new Map<number, SwitchPort>();

  /** The attached ports. */
  get portCount(): number {
    return this.ports.length;
  }

  /**
   * Connects a port.
   *
   * @param port - the port
   */
  attach(port: SwitchPort): void {
    if (!this.ports.includes(port)) this.ports.push(port);
  }

  /**
   * Disconnects a port and forgets the addresses learned behind it.
   *
   * @param port - the port
   */
  detach(port: SwitchPort): void {
    const i = this.ports.indexOf(port);
    if (i >= 0) this.ports.splice(i, 1);
    for (const [mac, p] of this.table) if (p === port) this.table.delete(mac);
  }

  /**
   * Forwards one frame from `from`.
   *
   * @param from - the source port
   * @param frame - the frame (destination MAC at 0, source at 6); copied by the ports that take it
   * @param ticket - held by every port that takes the frame, or null
   * @returns the number of ports that took it
   */
  forward(from: SwitchPort, frame: Uint8Array, ticket: FrameTicket | null): number {
    if (frame.length < 14) {
      this.stats.droppedRunt++;
      return 0;
    }
    const src = macKey(frame, 6);
    if ((frame[6]! & 1) === 0 && this.table.get(src) !== from) {
      this.table.set(src, from);
      this.stats.learned++;
    }
    const group = (frame[0]! & 1) !== 0;
    if (!group) {
      const to = this.table.get(macKey(frame, 0));
      if (to !== undefined && to !== from) return this.offer(to, frame, ticket, false) ? 1 : 0;
      if (to === from) {
        this.stats.droppedNoRoute++;
        return 0;
      }
    }
    if (this.ports.length === (this.ports.includes(from) ? 1 : 0)) {
      // No other port to offer it to (each refusal by a port is counted there).
      this.stats.droppedNoRoute++;
      return 0;
    }
    this.stats.flooded++;
    let taken = 0;
    for (const port of this.ports) {
      if (port !== from && this.offer(port, frame, ticket, group)) taken++;
    }
    return taken;
  }

  private offer(
    port: SwitchPort,
    frame: Uint8Array,
    ticket: FrameTicket | null,
    group: boolean,
  ): boolean {
    if (!passesFilter(port, frame, group)) {
      this.stats.droppedFiltered++;
      return false;
    }
    if (!port.accept(frame, ticket)) {
      this.stats.droppedPortFull++;
      return false;
    }
    this.stats.forwarded++;
    return true;
  }
}

function macKey(frame: Uint8Array, at: number): number {
  return (
    ((frame[at]! << 8) | frame[at + 1]!) * 0x1_0000_0000 +
    ((frame[at + 2]! << 24) >>> 0) +
    ((frame[at + 3]! << 16) | (frame[at + 4]! << 8) | frame[at + 5]!)
  );
}

function passesFilter(port: SwitchPort, frame: Uint8Array, group: boolean): boolean {
  const f = port.packetFilter;
  if ((f & PACKET_FILTER.PROMISCUOUS) !== 0) return true;
  if (!group) {
    if ((f & PACKET_FILTER.DIRECTED) === 0) return false;
    for (let i = 0; i < 6; i++) if (frame[i] !== port.mac[i]) return false;
    return true;
  }
  let broadcast = true;
  for (let i = 0; i < 6; i++) if (frame[i] !== 0xff) broadcast = false;
  if (broadcast) return (f & PACKET_FILTER.BROADCAST) !== 0;
  return (f & (PACKET_FILTER.MULTICAST | PACKET_FILTER.ALL_MULTICAST)) !== 0;
}
