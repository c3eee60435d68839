/**
 * The bus behind `vmbus ui`: the demo's host, two guest partitions in
 * workers with the SCSI controller, the echo device and a NIC each on one
 * switch, running the demo workload; a snapshot of every channel (state,
 * both rings' indices, interrupt mask, pending-send size, the packets in
 * them, counters, the KMCL state and callback history) and the controls the
 * page uses (pause, start, rescind).
 *
 * @module
 */

import type { ChannelPipe } from '../bus/channel-pipe.js';
import type { HostPartition } from '../bus/vmbus-host.js';
import { VmbusHost } from '../bus/vmbus-host.js';
import { EchoVsp } from '../devices/echo/echo-vsp.js';
import { NetVsp } from '../devices/net/net-vsp.js';
import { VirtualSwitch } from '../devices/net/virtual-switch.js';
import { MemoryBackend, ScsiDisk } from '../devices/storage/scsi-disk.js';
import { StorageVsp } from '../devices/storage/storage-vsp.js';
import type { KmclChannel } from '../kmcl/kmcl-channel.js';
import { startGuestWorker } from '../node/guest-worker.js';
import { decodeRingImage } from '../ring/ring-image.js';
import type { RingMemory } from '../ring/ring-memory.js';

const scratch = new WeakMap<RingMemory, Uint8Array>();

/** One ring as the page draws it. */
export interface RingView {
  dataSize: number;
  readIndex: number;
  writeIndex: number;
  interruptMask: number;
  pendingSendSize: number;
  usedBytes: number;
  packets: ReturnType<typeof decodeRingImage>['packets'];
  error?: { code: string; reason: string; offset: number };
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
  /** Host → guest ring and guest → host ring. */
  rings: { toGuest: RingView; toHost: RingView } | null;
  counters: ChannelPipe['stats'] | null;
}

/**
 * A ring's state and the packets between its read and write index, from a
 * private copy (the page never touches live memory).
 *
 * @param memory - the ring
 * @param maxPackets - packets to list at most
 * @returns the view
 */
export function viewRing(memory: RingMemory, maxPackets = 128): RingView {
  const data = memory.bytes;
  const c = memory.control;
  const used = (c.writeIndex - c.readIndex + memory.dataSize) % memory.dataSize;
  // Only the control page and the used span are copied, into a buffer kept
  // per ring: a sample costs little while the bus runs (most rings are empty).
  let image = scratch.get(memory);
  if (!image) {
    image = new Uint8Array(4096 + memory.dataSize);
    scratch.set(memory, image);
  }
  image.set(new Uint8Array(data.buffer, data.byteOffset - 4096, 4096));
  const read = new DataView(image.buffer).getUint32(4, true) % memory.dataSize;
  const span =
    (new DataView(image.buffer).getUint32(0, true) - read + memory.dataSize) % memory.dataSize;
  const first = Math.min(span, memory.dataSize - read);
  image.set(data.subarray(read, read + first), 4096 + read);
  if (span > first) image.set(data.subarray(0, span - first), 4096);
  const w = new DataView(image.buffer).getUint32(0, true);
  const r = new DataView(image.buffer).getUint32(4, true);
  // An empty ring with sane indices has nothing to decode; anything else is decoded (and checked).
  const decoded =
    span === 0 && w === r && r < memory.dataSize && r % 8 === 0
      ? { packets: [], error: undefined }
      : decodeRingImage(image);
  return {
    dataSize: memory.dataSize,
    readIndex: c.readIndex,
    writeIndex: c.writeIndex,
    interruptMask: c.interruptMask,
    pendingSendSize: c.pendingSendSize,
    usedBytes: used,
    packets: decoded.packets.slice(0, maxPackets),
    ...(decoded.error ? { error: decoded.error } : {}),
  };
}

/** The live bus of `vmbus ui` (a command-line internal, not a package export). */
export class LiveBus {
  private readonly host = new VmbusHost({ log: () => {} });
  private readonly guests: ReturnType<typeof startGuestWorker>[] = [];
  private readonly devices: {
    name: string;
    partition: HostPartition;
    channels: () => readonly KmclChannel[];
  }[] = [];

  /** Starts both guests and every device. */
  constructor() {
    const first = startGuestWorker(this.host, new URL('./demo-guest.js', import.meta.url), {
      memoryPages: 16384,
      data: { seconds: 3600, queueDepth: 4, subchannels: 1 },
    });
    const second = startGuestWorker(this.host, new URL('./demo-net-guest.js', import.meta.url), {
      memoryPages: 2048,
    });
    this.guests.push(first, second);
    for (const g of this.guests) g.worker.on('error', () => {});
    const storage = new StorageVsp({
      host: this.host,
      partition: first.partition,
      disks: new Map([[0, new ScsiDisk(new MemoryBackend(16 << 20))]]),
      log: () => {},
    });
    storage.start();
    const echo = new EchoVsp(this.host, first.partition);
    echo.start();
    const vswitch = new VirtualSwitch();
    const nics = [first, second].map((g, i) => {
      const vsp = new NetVsp({
        host: this.host,
        partition: g.partition,
        mac: `00:15:5d:00:00:0${i + 1}`,
        switch: vswitch,
        log: () => {},
      });
      vsp.start();
      return vsp;
    });
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
   * @returns the views
   */
  snapshot(): ChannelView[] {
    const out: ChannelView[] = [];
    for (const [p, partition] of [...this.host.partitions].entries()) {
      for (const offer of partition.offers.values()) {
        const device = this.devices.find(
          (d) => d.partition === partition && d.channels().some((c) => c.channelId === offer.relid),
        );
        const kmcl = device?.channels().find((c) => c.channelId === offer.relid) ?? null;
        const pipe = offer.channel?.pipe ?? null;
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
          rings: pipe
            ? { toGuest: viewRing(pipe.outgoing.memory), toHost: viewRing(pipe.incoming.memory) }
            : null,
          counters: pipe ? { ...pipe.stats } : null,
          gpadls: partition.gpadlCount,
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
   * `rescind` (the device withdraws the offer) or `corrupt` (a fault: the
   * host → guest ring's write index is set past its end).
   *
   * @param partition - partition index (0 or 1)
   * @param relid - channel id
   * @param action - what to do
   * @returns false when there is no such channel
   */
  async act(
    partition: number,
    relid: number,
    action: 'pause' | 'start' | 'rescind' | 'corrupt',
  ): Promise<boolean> {
    const channel = this.channel(partition, relid);
    if (!channel) return false;
    if (action === 'corrupt') {
      // Fault injection: the channel paused, a write index past the end of
      // the host → guest ring, then an interrupt. The guest's reader finds it, raises a typed
      // RingCorruptError and closes the channel.
      const pipe = channel.dataPath;
      if (!pipe) return false;
      // Paused first, so the host's own next write does not repair the index.
      if (!channel.isPaused) await channel.pause();
      pipe.outgoing.memory.control.writeIndex = pipe.outgoing.memory.dataSize + 8;
      pipe.notifyPeer();
      return true;
    }
    if (action === 'pause') await channel.pause();
    else if (action === 'start') channel.start();
    else await channel.disable();
    return true;
  }

  /** Stops the guests. */
  async close(): Promise<void> {
    for (const g of this.guests) await g.terminate();
  }
}
