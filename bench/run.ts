/**
 * `npm run bench`: every benchmark case beside its baseline, with the
 * machine and Node version. Options: `--json` (JSON lines), `--filter REGEX`,
 * `--seconds N` (per timed run), `--runs N` (median of N).
 */

import { parseArgs } from 'node:util';
import { runBusBench } from './bus-bench.js';
import { type BenchOptions, machine, type Result, stealTicks } from './harness.js';
import { runKmclBench } from './kmcl-bench.js';
import { runNetBench } from './net-bench.js';
import { runRingBench } from './ring-bench.js';
import { runStorageBench } from './storage-bench.js';

const { values } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    filter: { type: 'string' },
    seconds: { type: 'string', default: '1' },
    runs: { type: 'string', default: '5' },
  },
});

let filter: RegExp | undefined;
try {
  filter = values.filter === undefined ? undefined : new RegExp(values.filter);
} catch {
  process.stderr.write(
    `bench: --filter ${JSON.stringify(values.filter)} is not a regular expression\n`,
  );
  process.exit(2);
}
const opts: BenchOptions = { seconds: Number(values.seconds), runs: Number(values.runs) };
if (!(opts.seconds > 0) || !(Number.isInteger(opts.runs) && opts.runs > 0)) {
  process.stderr.write('bench: --seconds must be positive and --runs a positive integer\n');
  process.exit(2);
}
const announced = new Set<string>();
const progress = process.stderr.isTTY === true && !values.json;
const want = (name: string) => {
  const yes = filter === undefined || filter.test(name);
  if (yes && progress && !announced.has(name)) {
    announced.add(name);
    process.stderr.write(`\r  running ${name} ...`.padEnd(72));
  }
  return yes;
};

const fmt = (x: number) => (x >= 100 ? Math.round(x).toLocaleString('en-US') : x.toPrecision(3));
if (!values.json) {
  process.stdout.write(
    `# vmbus-kmcl benchmarks\n${machine()}\nmedian of ${opts.runs} runs of ~${opts.seconds} s each\n\n`,
  );
  process.stdout.write(
    '| case | ops/s | MB/s | baseline | ratio | notes |\n|---|---:|---:|---|---:|---|\n',
  );
}
let ringWorkers64: Result | undefined;
const report = (r: Result) => {
  if (progress) process.stderr.write(`\r${' '.repeat(72)}\r`);
  if (r.case === 'ring/workers/64B') ringWorkers64 = r;
  if (values.json) {
    process.stdout.write(`${JSON.stringify(r)}\n`);
    return;
  }
  const notes: string[] = [];
  if (r.heapBytesPerPacket !== undefined) {
    notes.push(
      `heap ${(r.heapBytesPerPacket as number).toFixed(3)} B/packet, ${(r.gcPerPacket as number).toExponential(1)} GC/packet`,
    );
  }
  if (typeof r.note === 'string') notes.push(r.note);
  if (r.interruptsPerPacket !== undefined)
    notes.push(`${(r.interruptsPerPacket as number).toFixed(4)} interrupts/packet`);
  process.stdout.write(
    `| ${r.case} | ${fmt(r.packetsPerSec)} | ${fmt(r.mbPerSec)} | ${r.baseline ?? ''} | ${r.ratio === undefined ? '' : `${r.ratio.toFixed(2)}x`} | ${notes.join('; ')} |\n`,
  );
};

const stealBefore = stealTicks();
await runRingBench(want, opts, report);
// The interrupt-path case is compared with the ring-only figure of this run.
if (
  (want('bus/channel/workers/64B') || want('net/guest-to-guest/64B')) &&
  ringWorkers64 === undefined
) {
  await runRingBench((n) => n === 'ring/workers/64B', opts, report);
}
await runBusBench(want, opts, report, ringWorkers64);
await runKmclBench(want, opts, report);
await runNetBench(want, opts, report, ringWorkers64);
await runStorageBench(want, opts, report);
const stealAfter = stealTicks();
if (stealBefore && stealAfter && !values.json) {
  // On a shared virtual machine, time taken by other guests makes the
  // cross-thread cases (which need both cores at once) noisy: say how much.
  const share =
    (stealAfter.steal - stealBefore.steal) / Math.max(1, stealAfter.total - stealBefore.total);
  process.stdout.write(`\nCPU steal during this run: ${(share * 100).toFixed(1)}%\n`);
}
process.exit(0);
