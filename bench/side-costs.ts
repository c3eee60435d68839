/**
 * `node dist/bench/side-costs.js`: what each side of the 64 B cases costs
 * in one thread, where no core waits for another's cache lines (as in the
 * host's fast phase, docs/performance.md). Each case runs in a fresh worker
 * so that its code is optimized for its own traffic only:
 *
 * - the one-way ring writer and reader (the ring-only baseline's loops);
 * - a bare-ring VSC: read a completion, write the next request;
 * - the KMCL VSC (the benchmark's pool, `VmbPacketSend` from the completion
 *   routine) against a bare-ring server in the same thread;
 * - the KMCL VSP (completing inline) against a bare-ring client.
 *
 * Prints the minimum and median of ten timed runs, in ns per packet (one
 * way) or per round trip, with the machine line. Node flags pass through
 * (for example V8's inlining limits).
 */

import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { createKmclPair } from '../src/kmcl/kmcl-pair.js';
import { ControlPage } from '../src/ring/control-page.js';
import { IncomingRing } from '../src/ring/incoming-ring.js';
import { OutgoingRing } from '../src/ring/outgoing-ring.js';
import { machine, median } from './harness.js';
import { roundTripPool } from './kmcl-pool.js';

const CASES = {
  'one-way writer': 'ns/packet',
  'one-way reader': 'ns/packet',
  'bare-ring VSC': 'ns/round trip',
  'KMCL VSC': 'ns/round trip',
  'KMCL VSP': 'ns/round trip',
} as const;
type Case = keyof typeof CASES;

const WINDOW = 128;
const N = 400_000;
const RUNS = 10;
const EMPTY = new Uint8Array(0);

function ring(pages: number): SharedArrayBuffer {
  const sab = new SharedArrayBuffer(4096 * (1 + pages));
  ControlPage.initialize(sab, 0);
  return sab;
}

/** One-way: batches of 2048 packets written (commit every 16), then read (commit every 64). */
function oneWay(): () => [number, number] {
  const sab = ring(256);
  const out = new OutgoingRing(sab);
  const inc = new IncomingRing(sab);
  const payload = new Uint8Array(64).fill(0x5a);
  const dst = new Uint8Array(72);
  let id = 0;
  let got = 0;
  return () => {
    let tw = 0;
    let tr = 0;
    for (let k = 0; k < N; k += 2048) {
      const a = performance.now();
      for (let j = 0; j < 2048; j++) {
        payload[0] = id & 255;
        out.writePacket(6, 0, id++, 0, payload);
        if ((j & 15) === 15) out.commitWrite();
      }
      out.commitWrite();
      const b = performance.now();
      for (let p = inc.read(); p !== null; p = inc.read()) {
        p.copyPayload(dst);
        if (p.transactionIdLow !== got || dst[0] !== (got & 255)) throw new Error('bad packet');
        if ((++got & 63) === 0) inc.commitRead();
      }
      inc.commitRead();
      const c = performance.now();
      tw += b - a;
      tr += c - b;
    }
    return [(tw / N) * 1e6, (tr / N) * 1e6];
  };
}

/** A bare-ring server: completes every request in `inc` on `out`. */
function bareServer(inc: IncomingRing, out: OutgoingRing): () => number {
  const dst = new Uint8Array(72);
  return () => {
    let n = 0;
    for (let p = inc.read(); p !== null; p = inc.read()) {
      p.copyPayload(dst);
      out.writePacket(11, 0, p.transactionIdLow, p.transactionIdHigh, EMPTY);
      n++;
    }
    out.commitWrite();
    inc.commitRead();
    return n;
  };
}

/**
 * A bare-ring client keeping WINDOW 64-byte requests in flight on `out`,
 * each answered on `inc` by `serve`. Times either its own loop (read a
 * completion, write the next request) or `serve`, in ns per round trip.
 */
function bareClient(
  out: OutgoingRing,
  inc: IncomingRing,
  serve: () => void,
  timed: 'client' | 'server',
): () => number {
  const payload = new Uint8Array(64).fill(0x5a);
  let sent = 0;
  let done = 0;
  return () => {
    const target = done + N;
    while (sent < target && sent - done < WINDOW)
      out.writePacket(6, 1, 1 + (sent++ & 127), 1, payload);
    out.commitWrite();
    let t = 0;
    while (done < target) {
      let a = performance.now();
      serve();
      if (timed === 'server') t += performance.now() - a;
      a = performance.now();
      let j = 0;
      for (let p = inc.read(); p !== null; p = inc.read()) {
        if (p.type !== 11 || p.transactionIdHigh !== 1) throw new Error('bad completion');
        done++;
        if (sent < target) out.writePacket(6, 1, 1 + (sent++ & 127), 1, payload);
        if (++j === 64) {
          out.commitWrite();
          inc.commitRead();
          j = 0;
        }
      }
      out.commitWrite();
      inc.commitRead();
      if (timed === 'client') t += performance.now() - a;
    }
    return (t / N) * 1e6;
  };
}

function bareVsc(): () => number {
  const up = ring(64);
  const down = ring(64);
  const serve = bareServer(new IncomingRing(up), new OutgoingRing(down));
  return bareClient(new OutgoingRing(up), new IncomingRing(down), serve, 'client');
}

/** A KMCL channel pair with 64-byte maximum packets. */
function pair64(): ReturnType<typeof createKmclPair> {
  return createKmclPair({
    configureClient: (c) => c.initSetMaximumPacketSize(64),
    configureServer: (s) => s.initSetMaximumPacketSize(64),
  });
}

async function kmclVsc(): Promise<() => number> {
  const pair = await pair64();
  const run = roundTripPool(pair.client, WINDOW, 64);
  const server = pair.server.dataPath!;
  const serve = bareServer(server.incoming, server.outgoing);
  const client = pair.client.dataPath!;
  return () => {
    run(N);
    let t = 0;
    for (let k = 0; k < N; ) {
      k += serve();
      const a = performance.now();
      client.poll();
      t += performance.now() - a;
    }
    return (t / N) * 1e6;
  };
}

async function kmclVsp(): Promise<() => number> {
  const pair = await pair64();
  const client = pair.client.dataPath!;
  const server = pair.server.dataPath!;
  return bareClient(client.outgoing, client.incoming, () => server.poll(), 'server');
}

/** Runs one case in this (worker) thread: two warm-up runs, then RUNS timed ones. */
async function measureCase(which: Case): Promise<number[]> {
  let once: () => number;
  if (which === 'one-way writer' || which === 'one-way reader') {
    const both = oneWay();
    once = () => both()[which === 'one-way writer' ? 0 : 1];
  } else if (which === 'bare-ring VSC') once = bareVsc();
  else if (which === 'KMCL VSC') once = await kmclVsc();
  else once = await kmclVsp();
  once();
  once();
  const xs: number[] = [];
  for (let r = 0; r < RUNS; r++) xs.push(once());
  return xs;
}

if (isMainThread) {
  console.log(`# side costs in one thread (${machine()})`);
  console.log('| case | min | median | unit |');
  console.log('| --- | ---: | ---: | --- |');
  for (const which of Object.keys(CASES) as Case[]) {
    const worker = new Worker(new URL(import.meta.url), { workerData: which });
    const xs = await new Promise<number[]>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    await worker.terminate();
    console.log(
      `| ${which} | ${Math.min(...xs).toFixed(1)} | ${median(xs).toFixed(1)} | ${CASES[which]} |`,
    );
  }
} else {
  parentPort!.postMessage(await measureCase(workerData as Case));
}
