/**
 * The demo's bus as `vmbus ui` runs it, the same in Node and in a browser
 * worker: the host with the SCSI controller, the echo device and a NIC per
 * guest on one switch, two guest partitions started by a platform's
 * spawner; a snapshot of every channel (offer state, KMCL state and
 * callback history, counters, and both rings: decoded here or only
 * located, for a page that reads guest memory itself) and the controls the
 * page uses.
 *
 * @module
 */

import type { PipeStats } from '../bus/channel-pipe.js';
import type { HostPartition, VmbusHost } from '../bus/vmbus-host.js';
import { EchoVsp } from '../devices/echo/echo-vsp.js';
import { NetVsp } from '../devices/net/net-vsp.js';
import { VirtualSwitch } from '../devices/net/virtual-switch.js';
import { type BlockBackend, MemoryBackend, ScsiDisk } from '../devices/storage/scsi-disk.js';
import { StorageVsp } from '../devices/storage/storage-vsp.js';
import type { KmclChannel } from '../kmcl/kmcl-channel.js';
import type { RingMemory } from '../ring/ring-memory.js';
import { type RingView, viewRing } from './ring-view.js';

/** A guest partition a platform started in a worker. */
export interface SpawnedGuest {
  /** The host's side of it. */
  partition: HostPartition;
  /** Its guest memory (rings live there). */
  memory: SharedArrayBuffer;
  /** Sends its workload a message. */
  post(message: unknown): void;
  /** Ends it. */
  terminate(): Promise<unknown>;
}

/** Starts the workload `which` in a worker with `memoryPages` of guest memory. */
export type GuestSpawner = (
  which: 'demo-guest' | 'net-peer',
  memoryPages: number,
  data: unknown,
) => SpawnedGuest;

/** Where a ring lies in a partition's guest memory (for a page that reads it itself). */
export interface RingLocation {
  /** Index of the partition (its memory). */
  memory: number;
  /** Byte offset of the control page. */
  offset: number;
  /** Bytes of the ring, control page included. */
  length: number;
}

/** One channel as the page shows it. */
export interface ChannelView {
  partition: string;
  relid: number;
  device: string;
  subchannel: number;
  state: string;
  kmcl: {
    state: string;
    started: boolean;
    paused: boolean;
    /** Incoming packets delivered and not completed yet. */
    outstanding: number;
    history: string[];
  } | null;
  /** GPADLs the partition holds (all its channels). */
  gpadls: number;
  /** This channel's GPADLs: the rings' and any a device maps (a NIC's buffers). */
  channelGpadls: ReturnType<HostPartition['gpadlsOf']>;
  /** Host → guest ring and guest → host ring, decoded. */
  rings: { toGuest: RingView; toHost: RingView } | null;
  /** The same rings, located only (a snapshot taken with `locate`). */
  ringLocations?: { toGuest: RingLocation; toHost: RingLocation } | null;
  counters: PipeStats | null;
  /** Interrupts to the guest still to drop (fault injection). */
  dropping: number;
  /** The typed error of the last ring fault injected here, kept after the guest closed the channel. */
  fault?: { code: string; reason: string; offset: number };
}

/** What the page can ask of a channel. */
export type ChannelAction =
  | 'pause'
  | 'start'
  | 'rescind'
  | 'corrupt'
  | 'drop-interrupt'
  | 'interrupt';

/** The controls, by name, for a server route or a worker message. */
export const CHANNEL_ACTIONS: readonly ChannelAction[] = [
  'pause',
  'start',
  'rescind',
  'corrupt',
  'drop-interrupt',
  'interrupt',
];

/** What the demo's bus is built with. */
export interface DemoBusOptions {
  /** The SCSI disk's backing store (default: a 16 MiB memory disk). */
  backend?: BlockBackend;
  /** The first guest's workload: seconds to run, queue depth, storage sub-channels. */
  workload?: { seconds: number; queueDepth: number; subchannels: number };
}

/** The demo's bus with its devices and two guests. */
export class DemoBus {
  /** The guests, first the one with every device's client. */
  readonly guests: SpawnedGuest[] = [];
  /** The SCSI controller. */
  readonly storage: StorageVsp;
  /** The echo device. */
  readonly echo: EchoVsp;
  /** Each guest's NIC (host side), on one switch. */
  readonly nics: NetVsp[];
  /** The switch. */
  readonly vswitch = new VirtualSwitch();
  /** Operations per second the first guest's workload may run (Infinity: no limit). */
  rate = Number.POSITIVE_INFINITY;
  private readonly host: VmbusHost;
  private readonly faults = new Map<string, { code: string; reason: string; offset: number }>();
  private readonly devices: {
    name: string;
    partition: HostPartition;
    channels: () => readonly KmclChannel[];
  }[] = [];

  /**
   * Starts both guests and every device.
   *
   * @param host - the host
   * @param spawn - the platform's way to start a guest worker
   * @param options - the disk and the workload (defaults: a 16 MiB memory disk, a day of work)
   */
  constructor(host: VmbusHost, spawn: GuestSpawner, options: DemoBusOptions = {}) {
    this.host = host;
    const first = spawn(
      'demo-guest',
      16384,
      options.workload ?? { seconds: 3600 * 24, queueDepth: 4, subchannels: 1 },
    );
    const second = spawn('net-peer', 2048, {});
    this.guests.push(first, second);
    const storage = new StorageVsp({
      host,
      partition: first.partition,
      disks: new Map([[0, new ScsiDisk(options.backend ?? new MemoryBackend(16 << 20))]]),
      log: () => {},
    });
    storage.start();
    const echo = new EchoVsp(host, first.partition);
    echo.start();
    const nics = [first, second].map((g, i) => {
      const vsp = new NetVsp({
        host,
        partition: g.partition,
        mac: `00:15:5d:00:00:0${i + 1}`,
        switch: this.vswitch,
        log: () => {},
      });
      vsp.start();
      return vsp;
    });
    this.storage = storage;
    this.echo = echo;
    this.nics = nics;
    this.devices.push(
      { name: 'storage', partition: first.partition, channels: () => storage.kmclChannels },
      { name: 'echo', partition: first.partition, channels: () => echo.kmclChannels },
      { name: 'network', partition: first.partition, channels: () => nics[0]!.kmclChannels },
      { name: 'network', partition: second.partition, channels: () => nics[1]!.kmclChannels },
    );
  }

  /**
   * Every channel of every partition, now.
   *
   * @param rings - `decode` the rings here, or only `locate` them (the
   *   caller reads guest memory itself and spares this thread the work)
   * @returns the views
   */
  snapshot(rings: 'decode' | 'locate' = 'decode'): ChannelView[] {
    const out: ChannelView[] = [];
    for (const [p, partition] of [...this.host.partitions].entries()) {
      const memory = this.guests.findIndex((g) => g.partition === partition);
      for (const offer of partition.offers.values()) {
        const device = this.devices.find(
          (d) => d.partition === partition && d.channels().some((c) => c.channelId === offer.relid),
        );
        const kmcl = device?.channels().find((c) => c.channelId === offer.relid) ?? null;
        const pipe = offer.channel?.pipe ?? null;
        const locate = (m: RingMemory): RingLocation => ({
          memory,
          offset: m.bytes.byteOffset - 4096,
          length: m.dataSize + 4096,
        });
        out.push({
          partition: `guest ${p + 1}`,
          relid: offer.relid,
          device: device?.name ?? offer.interfaceType,
          subchannel: offer.options.subchannelIndex ?? 0,
          state: offer.state,
          kmcl: kmcl
            ? {
                state: kmcl.state,
                started: kmcl.isStarted,
                paused: kmcl.isPaused,
                outstanding: kmcl.outstandingIncoming,
                history: kmcl.history.slice(-12),
              }
            : null,
          rings:
            pipe && rings === 'decode'
              ? { toGuest: viewRing(pipe.outgoing.memory), toHost: viewRing(pipe.incoming.memory) }
              : null,
          ...(rings === 'locate'
            ? {
                ringLocations: pipe
                  ? {
                      toGuest: locate(pipe.outgoing.memory),
                      toHost: locate(pipe.incoming.memory),
                    }
                  : null,
              }
            : {}),
          counters: pipe ? { ...pipe.stats } : null,
          gpadls: partition.gpadlCount,
          channelGpadls: partition.gpadlsOf(offer.relid),
          dropping: pipe?.interruptsToDrop ?? 0,
          ...(this.faults.has(`${p}/${offer.relid}`)
            ? { fault: this.faults.get(`${p}/${offer.relid}`)! }
            : {}),
        });
      }
    }
    return out;
  }

  private channel(partition: number, relid: number): KmclChannel | null {
    const p = [...this.host.partitions][partition];
    for (const d of this.devices)
      if (d.partition === p) for (const c of d.channels()) if (c.channelId === relid) return c;
    return null;
  }

  /**
   * Acts on a channel: `pause` (VmbChannelPause), `start` (VmbChannelStart),
   * `rescind` (the device withdraws the offer), `corrupt` (the host → guest
   * ring's write index set past its end, then an interrupt),
   * `drop-interrupt` (the host's next interrupt to the guest on this
   * channel is lost) or `interrupt` (one interrupt now, which also ends a
   * drop: a stalled guest reads its ring again).
   *
   * @param partition - partition index (0 or 1)
   * @param relid - channel id
   * @param action - what to do
   * @returns false when there is no such channel (or no open data path for a ring fault)
   */
  async act(partition: number, relid: number, action: ChannelAction): Promise<boolean> {
    const channel = this.channel(partition, relid);
    if (!channel) return false;
    const pipe = channel.dataPath;
    if (action === 'corrupt') {
      if (!pipe) return false;
      // Paused first, so the host's own next write does not repair the index.
      if (!channel.isPaused) await channel.pause();
      pipe.outgoing.memory.control.writeIndex = pipe.outgoing.memory.dataSize + 8;
      // The typed error a reader of this ring meets, kept for the page:
      // the guest closes the damaged channel at once.
      const error = viewRing(pipe.outgoing.memory).error;
      if (error) this.faults.set(`${partition}/${relid}`, error);
      pipe.notifyPeer();
      return true;
    }
    if (action === 'drop-interrupt' || action === 'interrupt') {
      if (!pipe) return false;
      if (action === 'drop-interrupt') pipe.dropInterrupts(pipe.interruptsToDrop + 1);
      else {
        pipe.dropInterrupts(0);
        pipe.notifyPeer();
      }
      return true;
    }
    if (action === 'pause') await channel.pause();
    else if (action === 'start') channel.start();
    else await channel.disable();
    return true;
  }

  /**
   * Limits the first guest's workload (storage, echo and network loops together).
   *
   * @param opsPerSecond - operations per second; Infinity for no limit, 0 to hold it
   */
  setRate(opsPerSecond: number): void {
    this.rate = opsPerSecond;
    this.guests[0]?.post({ rate: opsPerSecond });
  }

  /** Stops the guests. */
  async close(): Promise<void> {
    for (const g of this.guests) await g.terminate();
  }
}
