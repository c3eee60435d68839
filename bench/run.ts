/**
 * `npm run bench`: every benchmark case beside its baseline, with the
 * machine and Node version. Options: `--json` (JSON lines), `--filter REGEX`,
 * `--seconds N` (per timed run), `--runs N` (median of N).
 */

import { parseArgs } from 'node:util';
import { type BenchOptions, machine, type Result } from './harness.js';
import { runRingBench } from './ring-bench.js';

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
const want = (name: string) => filter === undefined || filter.test(name);

const fmt = (x: number) => (x >= 100 ? Math.round(x).toLocaleString('en-US') : x.toPrecision(3));
if (!values.json) {
  process.stdout.write(
    `# vmbus-kmcl benchmarks\n${machine()}\nmedian of ${opts.runs} runs of ~${opts.seconds} s each\n\n`,
  );
  process.stdout.write(
    '| case | packets/s | MB/s | baseline | ratio | notes |\n|---|---:|---:|---|---:|---|\n',
  );
}
const report = (r: Result) => {
  if (values.json) {
    process.stdout.write(`${JSON.stringify(r)}\n`);
    return;
  }
  const notes =
    r.heapBytesPerPacket === undefined
      ? ''
      : `heap ${(r.heapBytesPerPacket as number).toFixed(3)} B/packet, ${(r.gcPerPacket as number).toExponential(1)} GC/packet`;
  process.stdout.write(
    `| ${r.case} | ${fmt(r.packetsPerSec)} | ${fmt(r.mbPerSec)} | ${r.baseline ?? ''} | ${r.ratio === undefined ? '' : `${r.ratio.toFixed(2)}x`} | ${notes} |\n`,
  );
};

await runRingBench(want, opts, report);
