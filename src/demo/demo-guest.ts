/**
 * The workload of the demo's first guest partition, the same in a Node
 * worker (`vmbus demo`, `vmbus ui --bus node`) and a browser worker
 * (`vmbus ui`): it connects to the bus, opens the SCSI controller (with
 * sub-channels), the echo device and its synthetic NIC, then runs a
 * verified workload until told to stop: random writes of patterned blocks
 * and reads that check them, echoes of random sizes, and pings and a bulk
 * stream to the second guest's NIC. It reports progress four times a
 * second and a summary at the end. A `{ rate }` message limits the
 * operations per second (Infinity: as fast as the bus goes).
 *
 * @module
 */

import type { VmbusGuest } from '../bus/vmbus-guest.js';
import { EchoVsc } from '../devices/echo/echo-vsc.js';
import { NetVsc } from '../devices/net/net-vsc.js';
import { StorageVsc } from '../devices/storage/storage-vsc.js';
import { arpOperation, DEMO_ETHER_TYPE, DEMO_FRAME, fillArpRequest, fillBulk } from './demo-net.js';
import { Throttle } from './throttle.js';
import { xorshift } from './xorshift.js';

/** How a demo workload talks to whoever started its worker. */
export interface WorkloadPort {
  /** Sends a message to the starter. */
  postMessage(message: unknown): void;
  /** Receives the starter's messages. */
  onMessage(handler: (message: unknown) => void): void;
}

/** What the demo's first guest is given. */
export interface DemoGuestContext {
  /** The guest partition, its pump running. */
  guest: VmbusGuest;
  /** Seconds to run, storage queue depth, storage sub-channels. */
  data: { seconds: number; queueDepth: number; subchannels: number };
  /** The starter. */
  port: WorkloadPort;
  /** The pump's wake-ups so far (for the summary). */
  wakeups: () => number;
}

/**
 * Runs the first guest's workload until its time is up or it is told to stop.
 *
 * @param context - the guest, settings and the port to the starter
 */
export async function runDemoGuest(context: DemoGuestContext): Promise<void> {
  const { guest, port, wakeups } = context;
  const { seconds, queueDepth, subchannels } = context.data;
  const throttle = new Throttle();

  interface DeviceStats {
    ops: number;
    bytes: number;
    errors: number;
    verifyFailures: number;
    latenciesUs: number[];
  }

  const storage: DeviceStats = { ops: 0, bytes: 0, errors: 0, verifyFailures: 0, latenciesUs: [] };
  const echo: DeviceStats = { ops: 0, bytes: 0, errors: 0, verifyFailures: 0, latenciesUs: [] };
  const network: DeviceStats & { pings: number } = {
    ops: 0,
    bytes: 0,
    errors: 0,
    verifyFailures: 0,
    latenciesUs: [],
    pings: 0,
  };
  let pongWaiter: (() => void) | null = null;
  let peerFound: ((mac: Uint8Array) => void) | null = null;
  let stop = false;
  port.onMessage((m) => {
    const message = m as { stop?: boolean; rate?: number };
    if (message.stop) stop = true;
    if (message.rate !== undefined) throttle.setLimit(message.rate);
  });

  const rand = xorshift(0x9e3779b9);

  function pattern(lba: number, generation: number, length: number): Uint8Array {
    const out = new Uint8Array(length);
    for (let i = 0; i < length; i++) out[i] = (lba * 31 + generation * 7 + i) & 255;
    return out;
  }

  const sample = (s: DeviceStats, t0: number) => {
    const us = (performance.now() - t0) * 1000;
    if (s.latenciesUs.length < 200_000) s.latenciesUs.push(us);
    else s.latenciesUs[rand() % s.latenciesUs.length] = us;
  };

  /** Regions with a request in flight: one request per region at a time keeps every check exact. */
  const busy = new Set<number>();

  async function storageWorker(
    vsc: StorageVsc,
    regions: number,
    written: Map<number, number>,
  ): Promise<void> {
    while (!stop) {
      await throttle.take();
      if (stop) break;
      let region = rand() % regions;
      while (busy.has(region)) region = (region + 1) % regions;
      busy.add(region);
      const lba = region * 128;
      const t0 = performance.now();
      try {
        const generation = written.get(region);
        if (generation !== undefined && rand() % 2 === 0) {
          const back = await vsc.read(lba, 64);
          const want = pattern(lba, generation, 64 * 512);
          let same = true;
          for (let i = 0; i < want.length; i++) if (back[i] !== want[i]) same = false;
          if (!same) storage.verifyFailures++;
          storage.bytes += back.length;
        } else {
          const next = (generation ?? 0) + 1;
          // A write covers the whole 64-block region so a later read can check all of it.
          await vsc.write(lba, pattern(lba, next, 64 * 512));
          written.set(region, next);
          storage.bytes += 64 * 512;
        }
        storage.ops++;
        sample(storage, t0);
      } catch {
        storage.errors++;
      } finally {
        busy.delete(region);
      }
    }
  }

  async function echoWorker(vsc: EchoVsc): Promise<void> {
    while (!stop) {
      await throttle.take();
      if (stop) break;
      const size = rand() % 2048;
      const bytes = pattern(size, echo.ops, size);
      const t0 = performance.now();
      try {
        const back = await vsc.echo(bytes);
        if (back.length !== bytes.length || back.some((b, i) => b !== bytes[i]))
          echo.verifyFailures++;
        echo.ops++;
        echo.bytes += size;
        sample(echo, t0);
      } catch {
        echo.errors++;
      }
    }
  }

  /** Finds the second guest's NIC with an ARP-style who-has, repeated until it answers. */
  async function findPeer(nic: NetVsc): Promise<Uint8Array> {
    const found = new Promise<Uint8Array>((r) => {
      peerFound = r;
    });
    const request = new Uint8Array(60);
    fillArpRequest(request, nic.mac);
    for (let tries = 0; tries < 100; tries++) {
      nic.sendFrame(request);
      const mac = await Promise.race([
        found,
        new Promise<null>((r) => setTimeout(() => r(null), 100)),
      ]);
      if (mac) return mac;
    }
    throw new Error('the second guest never answered the ARP request');
  }

  /** One ping (timed, answered by the peer), then 128 bulk frames of 1500 bytes, until stopped. */
  async function networkWorker(nic: NetVsc, peer: Uint8Array): Promise<number> {
    const ping = new Uint8Array(60);
    ping.set(peer, 0);
    ping.set(nic.mac, 6);
    ping[12] = DEMO_ETHER_TYPE >> 8;
    ping[13] = DEMO_ETHER_TYPE & 0xff;
    ping[14] = DEMO_FRAME.PING;
    const frame = new Uint8Array(1500);
    let seq = 0;
    while (!stop) {
      const t0 = performance.now();
      const pong = new Promise<boolean>((r) => {
        pongWaiter = () => r(true);
        setTimeout(() => r(false), 1000);
      });
      while (!nic.sendFrame(ping)) await nic.whenWritable();
      if (await pong) {
        network.pings++;
        sample(network, t0);
      } else network.errors++;
      await throttle.take();
      for (let i = 0; i < 128 && !stop; i++) {
        fillBulk(frame, peer, nic.mac, seq);
        while (!nic.sendFrame(frame)) await nic.whenWritable();
        seq++;
        network.ops++;
        network.bytes += frame.length;
      }
    }
    return seq;
  }

  function summary(s: DeviceStats) {
    const sorted = [...s.latenciesUs].sort((a, b) => a - b);
    const at = (p: number) =>
      sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0;
    return {
      ops: s.ops,
      bytes: s.bytes,
      errors: s.errors,
      verifyFailures: s.verifyFailures,
      p50us: at(0.5),
      p99us: at(0.99),
      maxUs: sorted.at(-1) ?? 0,
    };
  }

  try {
    await guest.connect();
    await guest.requestOffers();
    const vsc = new StorageVsc(guest, { subchannels });
    await vsc.connect();
    const echoVsc = new EchoVsc(guest);
    await echoVsc.connect();
    const nic: NetVsc = new NetVsc(guest, {
      receiveBufferBytes: 2 << 20,
      onFrame: (f) => {
        if (arpOperation(f) === 2) peerFound?.(f.slice(22, 28));
        else if (((f[12]! << 8) | f[13]!) === DEMO_ETHER_TYPE && f[14] === DEMO_FRAME.PONG)
          pongWaiter?.();
      },
    });
    await nic.connect();
    const peer = await findPeer(nic);
    port.postMessage({
      kind: 'ready',
      version: vsc.version,
      netVersion: nic.protocolVersion,
      queues: vsc.queueCount,
      blocks: vsc.blockCount,
    });
    const regions = Math.max(1, Math.min(4096, Math.floor(vsc.blockCount / 128)));
    const written = new Map<number, number>();
    const started = performance.now();
    const progress = setInterval(
      () =>
        port.postMessage({
          kind: 'progress',
          storage: { ops: storage.ops, bytes: storage.bytes },
          echo: { ops: echo.ops, bytes: echo.bytes },
          network: { ops: network.ops, bytes: network.bytes },
        }),
      250,
    );
    const timer = setTimeout(() => {
      stop = true;
    }, seconds * 1000);
    const [bulkSent] = await Promise.all([
      networkWorker(nic, peer),
      ...Array.from({ length: queueDepth }, () => storageWorker(vsc, regions, written)),
      echoWorker(echoVsc),
      echoWorker(echoVsc),
    ]);
    clearTimeout(timer);
    clearInterval(progress);
    // Verify every region written, once, at the end.
    for (const [region, generation] of written) {
      const back = await vsc.read(region * 128, 64);
      const want = pattern(region * 128, generation, 64 * 512);
      for (let i = 0; i < want.length; i++) {
        if (back[i] !== want[i]) {
          storage.verifyFailures++;
          break;
        }
      }
    }
    const elapsed = (performance.now() - started) / 1000;
    await echoVsc.close();
    await vsc.close();
    await nic.close();
    port.postMessage({
      kind: 'summary',
      elapsed,
      regionsVerified: written.size,
      storage: summary(storage),
      echo: summary(echo),
      network: { ...summary(network), pings: network.pings, bulkSent },
      wakeups: wakeups(),
    });
  } catch (e) {
    port.postMessage({ kind: 'error', message: e instanceof Error ? e.message : String(e) });
  }
}
