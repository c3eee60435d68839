/**
 * KMCL round-trip benchmarks: VmbPacketSend with WAIT_FOR_COMPLETION →
 * EvtChannelProcessPacket → VmbChannelPacketComplete → completion routine,
 * 64-byte payloads, a window of packets in caller memory re-sent from their
 * completion routines. In one thread (with heap growth and collections per
 * round trip) and with the VSC in a worker, beside the ring-only figure.
 */

import { PerformanceObserver } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { createKmclPair } from '../src/kmcl/kmcl-pair.js';
import { ControlPage } from '../src/ring/control-page.js';
import {
  type BenchOptions,
  measure,
  measurePaired,
  median,
  nowNs,
  type Result,
  summarize,
  WorkerPair,
} from './harness.js';
import { roundTripPool } from './kmcl-pool.js';
import { oneWayWorkers } from './ring-bench.js';

const SIZE = 64;
/**
 * Packets in flight (VMBUS_BENCH_WINDOW, default 128): a deep pipeline, as a
 * storage or network driver keeps, so the figure is the KMCL's cost per
 * round trip rather than the latency of a hand-off between the workers
 * (the one-way ring-only case it is set beside keeps its whole ring in
 * flight). docs/performance.md gives the figures at 32 as well.
 */
const WINDOW = Number(process.env.VMBUS_BENCH_WINDOW ?? 128);
const TYPE = '6d1e4a3b-2c1d-4e5f-8a9b-0c1d2e3f4a5b';

async function sameThread(opts: BenchOptions): Promise<Result> {
  const pair = await createKmclPair({
    configureClient: (c) => {
      c.initSetMaximumPacketSize(SIZE);
      c.initSetRingBufferPageCount(64, 64);
    },
  });
  const roundTrips = roundTripPool(pair.client, WINDOW, SIZE);
  const run = async (n: number) => {
    const t0 = nowNs();
    await roundTrips(n);
    return (nowNs() - t0) / 1e9;
  };
  const runs = await measure(run, 10_000, opts);
  // Allocation: collections and retained heap over 200,000 round trips.
  const gc = (globalThis as { gc?: () => void }).gc;
  await run(50_000);
  gc?.();
  let collections = 0;
  const obs = new PerformanceObserver((list) => {
    collections += list.getEntries().length;
  });
  obs.observe({ entryTypes: ['gc'] });
  const before = process.memoryUsage().heapUsed;
  const n = 200_000;
  await run(n);
  await new Promise((r) => setTimeout(r, 10));
  obs.disconnect();
  gc?.();
  const after = process.memoryUsage().heapUsed;
  await pair.dispose();
  const r = summarize('kmcl/round-trip/same-thread/64B', runs, SIZE);
  return {
    ...r,
    heapBytesPerPacket: Math.max(0, after - before) / n,
    gcPerPacket: collections / n,
  };
}

/** The same round trips on two bare rings (no channel, no KMCL): the floor on this machine. */
async function ringRoundTrip(opts: BenchOptions): Promise<Result> {
  const ring = () => {
    const sab = new SharedArrayBuffer(4096 + 64 * 4096);
    ControlPage.initialize(sab, 0);
    return sab;
  };
  const common = {
    up: ring(),
    down: ring(),
    bells: new SharedArrayBuffer(8),
    size: SIZE,
    window: WINDOW,
    spin: 10_000,
  };
  const pair = new WorkerPair(new URL('./ring-rt-worker.js', import.meta.url), [
    { ...common, role: 'server' },
    { ...common, role: 'client' },
  ]);
  try {
    return summarize(
      'ring/round-trip/workers/64B',
      await measure((n) => pair.run(n), 10_000, opts),
      SIZE,
    );
  } finally {
    await pair.close();
  }
}

/**
 * The cross-worker round trip, in runs that alternate with runs of the
 * ring-only one-way case (ring/workers/64B) so that the ratio compares the
 * two under the same host conditions (measurePaired).
 */
async function workers(opts: BenchOptions): Promise<Result> {
  // Host and VSP in one worker, the VSC in another: both poll before sleeping.
  const worker = new Worker(new URL('./kmcl-vsp.js', import.meta.url), {
    workerData: { type: TYPE, window: WINDOW, size: SIZE, spin: 10_000 },
  });
  const ring = oneWayWorkers('ring', SIZE);
  try {
    await new Promise((r) => worker.once('message', r));
    const roundTrips = async (n: number) => {
      const reply = new Promise<{ t0: number; t1: number }>((resolve) =>
        worker.once('message', resolve),
      );
      worker.postMessage({ n });
      const { t0, t1 } = await reply;
      return (t1 - t0) / 1e9;
    };
    // Warm-up: the first few million round trips run while V8 is still
    // compiling and re-optimising both sides' paths (steady state only after
    // about 2-4 million, measured).
    for (let i = 0; i < Number(process.env.VMBUS_BENCH_WARMUP ?? 8); i++) await roundTrips(500_000);
    await ring.run(2_000_000);
    const paired = await measurePaired(roundTrips, (n) => ring.run(n), 200_000, opts);
    const r = summarize('kmcl/round-trip/workers/64B', paired.a, SIZE);
    const lo = Math.min(...paired.ratios);
    const hi = Math.max(...paired.ratios);
    return {
      ...r,
      baseline: 'ring/workers/64B (alternating runs)',
      ratio: median(paired.ratios),
      ringPacketsPerSec: summarize('ring/workers/64B', paired.b, SIZE).packetsPerSec,
      pairRatios: paired.ratios,
      note: `${WINDOW} in flight; ring-only ${Math.round(summarize('', paired.b, SIZE).packetsPerSec).toLocaleString('en-US')}/s; run pairs ${lo.toFixed(2)}x-${hi.toFixed(2)}x`,
    };
  } finally {
    await worker.terminate();
    await ring.close();
  }
}

/**
 * Runs the KMCL cases that `want` accepts.
 *
 * @param want - filter
 * @param opts - options
 * @param report - receives each result
 */
export async function runKmclBench(
  want: (name: string) => boolean,
  opts: BenchOptions,
  report: (r: Result) => void,
): Promise<void> {
  if (want('kmcl/round-trip/same-thread/64B')) report(await sameThread(opts));
  if (want('ring/round-trip/workers/64B')) report(await ringRoundTrip(opts));
  if (want('kmcl/round-trip/workers/64B')) report(await workers(opts));
}
