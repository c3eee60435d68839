/**
 * The worker side of the cross-worker ring benchmarks: a writer or a reader
 * of the real ring or of the naive baseline. Each side polls a bounded
 * number of times, then sleeps on an event word (the same spin-then-sleep
 * policy as the anchors' hand-written JS ring, so the comparison is fair);
 * the real ring signals only when spec §1.8 says so.
 */

import { parentPort, workerData } from 'node:worker_threads';
import { IncomingRing } from '../src/ring/incoming-ring.js';
import { OutgoingRing } from '../src/ring/outgoing-ring.js';
import { EventWord } from '../src/signal/event-word.js';
import { nowNs } from './harness.js';
import { NaiveRing } from './naive-ring.js';

interface Setup {
  role: 'writer' | 'reader';
  impl: 'ring' | 'naive';
  ring: SharedArrayBuffer;
  bells: SharedArrayBuffer;
  size: number;
  batch: number;
  spin: number;
}

const setup = workerData as Setup;
const bells = new Int32Array(setup.bells);
const toReader = new EventWord(bells, 0);
const toWriter = new EventWord(bells, 1);
const port = parentPort!;
const outgoing =
  setup.impl === 'ring' && setup.role === 'writer' ? new OutgoingRing(setup.ring) : null;
const incoming =
  setup.impl === 'ring' && setup.role === 'reader' ? new IncomingRing(setup.ring) : null;
const naive = setup.impl === 'naive' ? new NaiveRing(setup.ring) : null;

function ringWriter(ring: OutgoingRing, n: number): void {
  const payload = new Uint8Array(setup.size).fill(0x5a);
  const { batch, spin } = setup;
  // Commit after `batch` packets or 1/16 of the ring, whichever comes first,
  // so large packets stream instead of filling the ring before it is shown.
  const batchBytes = ring.dataSize >>> 4;
  let pending = 0;
  for (let i = 0; i < n; i++) {
    payload[0] = i & 255;
    if (!ring.writePacket(6, 0, i, 0, payload)) {
      if (ring.commitWrite()) toReader.signal();
      pending = 0;
      let polls = 0;
      while (!ring.writePacket(6, 0, i, 0, payload)) {
        if (++polls < spin) continue;
        const seen = toWriter.value;
        if (ring.requestSpace(ring.bytesNeeded)) continue;
        toWriter.waitSync(seen);
      }
    }
    if (++pending === batch || ring.uncommittedBytes >= batchBytes) {
      if (ring.commitWrite()) toReader.signal();
      pending = 0;
    }
  }
  if (ring.commitWrite()) toReader.signal();
}

function ringReader(ring: IncomingRing, n: number): number {
  const dst = new Uint8Array(setup.size + 8);
  const { spin } = setup;
  const batchBytes = ring.dataSize >>> 4;
  let bad = 0;
  let got = 0;
  let since = 0;
  ring.maskInterrupts();
  while (got < n) {
    const p = ring.read();
    if (p !== null) {
      p.copyPayload(dst);
      if (p.transactionIdLow !== got || dst[0] !== (got & 255)) bad++;
      got++;
      since += p.payloadLength;
      if (since >= batchBytes || (got & 63) === 0) {
        since = 0;
        if (ring.commitRead()) toWriter.signal();
      }
      continue;
    }
    if (ring.commitRead()) toWriter.signal();
    let polls = 0;
    while (ring.available() === 0) {
      if (++polls < spin) continue;
      const seen = toReader.value;
      if (ring.unmaskInterrupts()) {
        ring.maskInterrupts();
        break;
      }
      toReader.waitSync(seen);
      ring.maskInterrupts();
      polls = 0;
    }
  }
  if (ring.commitRead()) toWriter.signal();
  return bad;
}

function naiveWriter(ring: NaiveRing, n: number): void {
  const payload = new Uint8Array(setup.size).fill(0x5a);
  for (let i = 0; i < n; i++) {
    payload[0] = i & 255;
    while (!ring.write(payload, i)); // naive: polls, never sleeps
  }
}

function naiveReader(ring: NaiveRing, n: number): number {
  const dst = new Uint8Array(setup.size + 8);
  let bad = 0;
  for (let i = 0; i < n; i++) {
    let id = ring.read(dst);
    while (id < 0) id = ring.read(dst);
    if (id !== i >>> 0 || dst[0] !== (i & 255)) bad++;
  }
  return bad;
}

port.on('message', ({ n }: { n: number }) => {
  const t0 = nowNs();
  let bad = 0;
  if (outgoing) ringWriter(outgoing, n);
  else if (incoming) bad = ringReader(incoming, n);
  else if (naive && setup.role === 'writer') naiveWriter(naive, n);
  else if (naive) bad = naiveReader(naive, n);
  port.postMessage({ t0, t1: nowNs(), bad });
});
