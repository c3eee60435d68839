/**
 * Bus benchmarks: channel open and close per second (one thread, the full
 * control-plane exchange each time), and packets/s over an open channel
 * with the guest in a worker and the host's reader on the main thread,
 * sleeping in `Atomics.waitAsync` until the writer's interrupt wakes it
 * (spec vmbus-wire.md §1.8 decides when it does).
 */

import type { Worker } from 'node:worker_threads';
import { createLocalBus } from '../src/bus/local-bus.js';
import type { HostChannel } from '../src/bus/vmbus-host.js';
import { VmbusHost } from '../src/bus/vmbus-host.js';
import { startGuestWorker } from '../src/node/guest-worker.js';
import { type BenchOptions, measure, nowNs, type Result, summarize } from './harness.js';

const TYPE = 'f8615163-df3e-46c5-913f-f2d2f965ed0e';
const INSTANCE = '00000000-0000-0000-0000-000000000001';

async function openClose(opts: BenchOptions): Promise<Result> {
  const bus = createLocalBus({ log: () => {} });
  bus.host.offer(bus.partition, { interfaceType: TYPE, interfaceInstance: INSTANCE });
  await bus.guest.connect();
  const [offer] = await bus.guest.requestOffers();
  const runs = await measure(
    async (n) => {
      const t0 = nowNs();
      for (let i = 0; i < n; i++) {
        const channel = await bus.guest.open(offer!, { upstreamPages: 4 });
        await channel.close();
      }
      return (nowNs() - t0) / 1e9;
    },
    50,
    opts,
  );
  bus.dispose();
  return summarize('bus/channel/open-close', runs, 0);
}

async function interruptPath(size: number, opts: BenchOptions): Promise<Result> {
  const host = new VmbusHost({ log: () => {} });
  const g = startGuestWorker(host, new URL('./channel-guest.js', import.meta.url), {
    memoryPages: 1024,
    data: { size, ringPages: 64 },
  });
  const worker: Worker = g.worker;
  const ready = new Promise((resolve) => worker.once('message', resolve));
  const channel = await new Promise<HostChannel>((resolve) => {
    host.offer(g.partition, {
      interfaceType: TYPE,
      interfaceInstance: INSTANCE,
      onOpened: resolve,
    });
  });
  await ready;
  const pipe = channel.pipe;
  let received = 0;
  let target = 0;
  let done: ((t1: number) => void) | null = null;
  pipe.onPacket = () => {
    if (++received === target) done?.(nowNs());
  };
  let interrupts = 0;
  let lastCumulative = 0;
  let sent = 0;
  const runs = await measure(
    async (n) => {
      received = 0;
      target = n;
      const finished = new Promise<number>((resolve) => {
        done = resolve;
      });
      const reply = new Promise<{ t0: number; interruptsSent: number; suppressed: number }>(
        (resolve) => worker.once('message', resolve),
      );
      worker.postMessage({ n });
      const [{ t0, interruptsSent }, t1] = await Promise.all([reply, finished]);
      interrupts = interruptsSent - lastCumulative;
      lastCumulative = interruptsSent;
      sent = n;
      return (t1 - t0) / 1e9;
    },
    20_000,
    opts,
  );
  const wakeups = pipe.stats.interruptsReceived;
  await g.terminate();
  const r = summarize(`bus/channel/workers/${size === 64 ? '64B' : `${size}B`}`, runs, size);
  return { ...r, interruptsPerPacket: interrupts / Math.max(1, sent), hostWakeups: wakeups };
}

/** Case names this file provides. */
export const busCases = ['bus/channel/open-close', 'bus/channel/workers/64B'];

/**
 * Runs the bus cases that `want` accepts.
 *
 * @param want - filter on case names
 * @param opts - options
 * @param report - receives each result
 * @param ringOnly - the ring-only cross-worker 64 B result of the same run, if measured
 */
export async function runBusBench(
  want: (name: string) => boolean,
  opts: BenchOptions,
  report: (r: Result) => void,
  ringOnly?: Result,
): Promise<void> {
  if (want('bus/channel/open-close')) report(await openClose(opts));
  if (want('bus/channel/workers/64B')) {
    const r = await interruptPath(64, opts);
    if (ringOnly) {
      r.baseline = ringOnly.case;
      r.ratio = r.packetsPerSec / ringOnly.packetsPerSec;
    }
    report(r);
  }
}
