/**
 * Ring benchmarks (spec vmbus-wire.md §1): packets/s and MB/s for 64 B and
 * 64 KiB payloads, in one thread and across two workers, each beside the
 * naive byte-at-a-time ring of naive-ring.ts. Also reports heap growth and
 * garbage collections per packet on the same-thread path, which should
 * allocate nothing.
 */

import { PerformanceObserver } from 'node:perf_hooks';
import { ControlPage } from '../src/ring/control-page.js';
import { IncomingRing } from '../src/ring/incoming-ring.js';
import { OutgoingRing } from '../src/ring/outgoing-ring.js';
import {
  type BenchOptions,
  measure,
  nowNs,
  type Result,
  summarize,
  WorkerPair,
} from './harness.js';
import { NaiveRing } from './naive-ring.js';

/** Data area of the benchmark rings: 1 MiB, as in the anchors. */
const RING_BYTES = 1 << 20;
const SPIN = 10_000;
const BATCH = 16;

const SIZES: [string, number, number][] = [
  ['64B', 64, 200_000],
  ['64KiB', 65536, 2_000],
];

function freshRing(): SharedArrayBuffer {
  const sab = new SharedArrayBuffer(4096 + RING_BYTES);
  ControlPage.initialize(sab, 0);
  return sab;
}

/** One thread: write a batch, read it back, repeat. */
function sameThread(size: number): (n: number) => number {
  const sab = freshRing();
  const out = new OutgoingRing(sab);
  const inc = new IncomingRing(sab);
  const payload = new Uint8Array(size).fill(0x5a);
  const dst = new Uint8Array(size + 8);
  return (n) => {
    const t0 = nowNs();
    let i = 0;
    while (i < n) {
      let k = 0;
      while (k < BATCH && i + k < n && out.writePacket(6, 0, i + k, 0, payload)) k++;
      out.commitWrite();
      for (let p = inc.read(); p !== null; p = inc.read()) {
        p.copyPayload(dst);
        if (p.transactionIdLow !== i)
          throw new Error(`packet ${p.transactionIdLow} where ${i} was due`);
        i++;
      }
      inc.commitRead();
    }
    return (nowNs() - t0) / 1e9;
  };
}

function naiveSameThread(size: number): (n: number) => number {
  const ring = new NaiveRing(freshRing());
  const payload = new Uint8Array(size).fill(0x5a);
  const dst = new Uint8Array(size + 8);
  return (n) => {
    const t0 = nowNs();
    let i = 0;
    while (i < n) {
      let k = 0;
      while (k < BATCH && i + k < n && ring.write(payload, i + k)) k++;
      for (let id = ring.read(dst); id >= 0; id = ring.read(dst)) {
        if (id !== i >>> 0) throw new Error(`naive packet ${id} where ${i} was due`);
        i++;
      }
    }
    return (nowNs() - t0) / 1e9;
  };
}

/**
 * Heap growth (retained after a full collection, when the bench runs with
 * --expose-gc) and garbage collections per packet over `n` packets of the
 * same-thread path, after warm-up. Zero collections over a million packets
 * means the path allocates (next to) nothing.
 *
 * @param size - payload bytes
 * @param n - packets
 * @returns heap growth and GCs per packet
 */
export async function allocationPerPacket(
  size: number,
  n: number,
): Promise<{ heapBytesPerPacket: number; gcPerPacket: number }> {
  const run = sameThread(size);
  run(n); // warm up
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  let collections = 0;
  const obs = new PerformanceObserver((list) => {
    collections += list.getEntries().length;
  });
  obs.observe({ entryTypes: ['gc'] });
  const before = process.memoryUsage().heapUsed;
  run(n);
  await new Promise((r) => setTimeout(r, 10));
  obs.disconnect();
  gc?.();
  const after = process.memoryUsage().heapUsed;
  return { heapBytesPerPacket: Math.max(0, after - before) / n, gcPerPacket: collections / n };
}

/**
 * The two workers of a cross-worker one-way case: a writer and a reader of
 * one ring (this library's, or the naive one), `size`-byte payloads.
 *
 * @param impl - which ring
 * @param size - payload bytes
 * @returns the pair, idle until run
 */
export function oneWayWorkers(impl: 'ring' | 'naive', size: number): WorkerPair {
  const ring = impl === 'ring' ? freshRing() : new SharedArrayBuffer(4096 + RING_BYTES);
  const bells = new SharedArrayBuffer(8);
  const common = { impl, ring, bells, size, batch: BATCH, spin: SPIN };
  return new WorkerPair(new URL('./ring-worker.js', import.meta.url), [
    { ...common, role: 'reader' },
    { ...common, role: 'writer' },
  ]);
}

async function workers(impl: 'ring' | 'naive', size: number, n0: number, opts: BenchOptions) {
  const pair = oneWayWorkers(impl, size);
  try {
    return await measure((n) => pair.run(n), n0, opts);
  } finally {
    await pair.close();
  }
}

/** Case names this file provides, for --filter before running. */
export const ringCases = SIZES.flatMap(([label]) => [
  `ring/same-thread/${label}`,
  `ring/workers/${label}`,
]);

/**
 * Runs the ring cases that `want` accepts.
 *
 * @param want - filter on case names
 * @param opts - options
 * @param report - receives each result as it is measured
 */
export async function runRingBench(
  want: (name: string) => boolean,
  opts: BenchOptions,
  report: (r: Result) => void,
): Promise<void> {
  for (const [label, size, n0] of SIZES) {
    const st = `ring/same-thread/${label}`;
    if (want(st)) {
      const base = summarize(
        `${st}/naive`,
        await measure(naiveSameThread(size), n0 / 4, opts),
        size,
      );
      const real = summarize(st, await measure(sameThread(size), n0, opts), size);
      const alloc = await allocationPerPacket(size, size > 1024 ? 20_000 : 1_000_000);
      report({ ...base });
      report({
        ...real,
        baseline: base.case,
        ratio: real.packetsPerSec / base.packetsPerSec,
        ...alloc,
      });
    }
    const wk = `ring/workers/${label}`;
    if (want(wk)) {
      const base = summarize(`${wk}/naive`, await workers('naive', size, n0 / 4, opts), size);
      const real = summarize(wk, await workers('ring', size, n0, opts), size);
      report({ ...base });
      report({ ...real, baseline: base.case, ratio: real.packetsPerSec / base.packetsPerSec });
    }
  }
}
