/**
 * The benchmark harness: calibration, repeated timed runs, medians, the
 * machine line, and the results table or JSON lines. Every case is measured
 * beside its baseline in the same run, and reported as a ratio to it.
 */

import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { Worker } from 'node:worker_threads';

/** One measured run: `n` packets in `seconds`. */
export interface Run {
  n: number;
  seconds: number;
}

/** A result line. */
export interface Result {
  case: string;
  packetsPerSec: number;
  mbPerSec: number;
  baseline?: string;
  ratio?: number;
  [extra: string]: unknown;
}

/** Options every case receives. */
export interface BenchOptions {
  /** Target seconds per timed run. */
  seconds: number;
  /** Timed runs per case (the median is reported). */
  runs: number;
}

/** Monotonic nanoseconds, shared by every thread of the process. */
export function nowNs(): number {
  return Number(process.hrtime.bigint());
}

/**
 * Calibrates a count so one run lasts about `opts.seconds`, then does
 * `opts.runs` timed runs (calibration doubles as warm-up).
 *
 * @param runOnce - runs `n` packets and returns the seconds taken
 * @param n0 - first calibration count
 * @param opts - options
 * @returns the timed runs
 */
export async function measure(
  runOnce: (n: number) => Promise<number> | number,
  n0: number,
  opts: BenchOptions,
): Promise<Run[]> {
  let n = n0;
  const calibrate = Math.min(0.2, opts.seconds / 2);
  let s = await runOnce(n);
  while (s < calibrate) {
    n = Math.ceil(n * Math.min(8, Math.max(2, (calibrate * 1.3) / Math.max(s, 1e-6))));
    s = await runOnce(n);
  }
  const N = Math.max(1, Math.round((n * opts.seconds) / s));
  const out: Run[] = [];
  for (let r = 0; r < opts.runs; r++) out.push({ n: N, seconds: await runOnce(N) });
  return out;
}

/**
 * Two cases measured in alternating runs (A, B, A, B, ...), each run about
 * `opts.seconds` long, for a ratio that holds on a host whose speed drifts:
 * on a shared virtual machine a neighbour can slow both cores by half for
 * seconds at a time, which would skew a ratio of two cases measured one
 * after the other. Each pair's ratio is taken from runs seconds apart.
 *
 * @param a - runs `n` operations of the case, returns seconds
 * @param b - runs `n` operations of the baseline, returns seconds
 * @param n0 - a first guess of operations per run for both
 * @param opts - options (`runs` pairs)
 * @returns the runs of each, and each pair's ratio a/b of operations per second
 */
export async function measurePaired(
  a: (n: number) => Promise<number>,
  b: (n: number) => Promise<number>,
  n0: number,
  opts: BenchOptions,
): Promise<{ a: Run[]; b: Run[]; ratios: number[] }> {
  const size = async (run: (n: number) => Promise<number>) => {
    let n = n0;
    let s = await run(n);
    while (s < opts.seconds / 4) {
      n = Math.ceil(n * Math.min(8, Math.max(2, opts.seconds / 3 / Math.max(s, 1e-6))));
      s = await run(n);
    }
    return Math.max(1, Math.round((n * opts.seconds) / s));
  };
  const na = await size(a);
  const nb = await size(b);
  const out = { a: [] as Run[], b: [] as Run[], ratios: [] as number[] };
  for (let r = 0; r < opts.runs; r++) {
    const ra = { n: na, seconds: await a(na) };
    const rb = { n: nb, seconds: await b(nb) };
    out.a.push(ra);
    out.b.push(rb);
    out.ratios.push(ra.n / ra.seconds / (rb.n / rb.seconds));
  }
  return out;
}

/**
 * The median of numbers.
 *
 * @param xs - numbers (not empty)
 * @returns the middle one after sorting (the upper middle for an even count)
 */
export function median(xs: number[]): number {
  const sorted = [...xs].sort((x, y) => x - y);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

/**
 * Median packets/s and MB/s of runs.
 *
 * @param name - case name
 * @param runs - timed runs
 * @param payloadBytes - payload bytes per packet
 * @returns the result line
 */
export function summarize(name: string, runs: Run[], payloadBytes: number): Result {
  const rate = median(runs.map((r) => r.n / r.seconds));
  return { case: name, packetsPerSec: rate, mbPerSec: (rate * payloadBytes) / 1e6 };
}

/**
 * CPU time the hypervisor gave to other guests ("steal") and all CPU time,
 * in clock ticks since boot, from /proc/stat; null where it does not exist.
 *
 * @returns the two counters, or null off Linux
 */
export function stealTicks(): { steal: number; total: number } | null {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? '';
    const fields = line.trim().split(/\s+/).slice(1).map(Number);
    if (fields.length < 8 || fields.some((x) => !Number.isFinite(x))) return null;
    return { steal: fields[7]!, total: fields.reduce((a, b) => a + b, 0) };
  } catch {
    return null;
  }
}

/**
 * The machine line: Node version, CPU model and count.
 *
 * @returns a one-line description
 */
export function machine(): string {
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  return `node ${process.version} (V8 ${process.versions.v8}), ${cpus().length} x ${cpu}, ${process.platform}/${process.arch}`;
}

/**
 * A pair of worker threads that run `n` packets on command and report their
 * start and end times.
 */
export class WorkerPair {
  private readonly workers: Worker[];

  /**
   * @param file - the worker module
   * @param data - workerData for each worker; the first one is started last
   */
  constructor(file: URL, data: [unknown, unknown]) {
    this.workers = data.map((workerData) => new Worker(file, { workerData }));
  }

  /**
   * Runs `n` packets through both workers.
   *
   * @param n - packets
   * @returns seconds from the earliest start to the latest end
   */
  async run(n: number): Promise<number> {
    const replies = this.workers.map(
      (w) =>
        new Promise<{ t0: number; t1: number; bad?: number }>((resolve, reject) => {
          const timer = setTimeout(
            () => fail(new Error('benchmark run timed out after 120 s')),
            120_000,
          );
          const done = (m: { t0: number; t1: number; bad?: number }) => {
            clearTimeout(timer);
            w.off('error', fail);
            resolve(m);
          };
          const fail = (e: Error) => {
            clearTimeout(timer);
            w.off('message', done);
            reject(e);
          };
          w.once('message', done);
          w.once('error', fail);
        }),
    );
    for (const w of this.workers) w.postMessage({ n });
    const done = await Promise.all(replies);
    for (const d of done)
      if (d.bad) throw new Error(`${d.bad} packets arrived damaged or out of order`);
    return (Math.max(...done.map((d) => d.t1)) - Math.min(...done.map((d) => d.t0))) / 1e9;
  }

  /** Ends both workers. */
  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
