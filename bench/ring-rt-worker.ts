/**
 * The worker side of the ring-only round-trip benchmark: the same traffic
 * as the KMCL round trip (a client keeps `window` 64-byte requests in
 * flight, the server answers each with an empty completion packet) on two
 * bare rings, with no channel or KMCL code: the floor a round trip costs
 * on this machine. Both sides poll, then sleep on an event word, and mask
 * their ring while they poll (spec §1.8), like the ring-only workers.
 */

import { parentPort, workerData } from 'node:worker_threads';
import { IncomingRing } from '../src/ring/incoming-ring.js';
import { OutgoingRing } from '../src/ring/outgoing-ring.js';
import { EventWord } from '../src/signal/event-word.js';
import { nowNs } from './harness.js';

interface Setup {
  role: 'client' | 'server';
  /** Client → server ring, server → client ring. */
  up: SharedArrayBuffer;
  down: SharedArrayBuffer;
  bells: SharedArrayBuffer;
  size: number;
  window: number;
  spin: number;
}

const setup = workerData as Setup;
const bells = new Int32Array(setup.bells);
/** Index 0 wakes the server, 1 the client. */
const mine = new EventWord(bells, setup.role === 'server' ? 0 : 1);
const peer = new EventWord(bells, setup.role === 'server' ? 1 : 0);
const out = new OutgoingRing(setup.role === 'client' ? setup.up : setup.down);
const inc = new IncomingRing(setup.role === 'client' ? setup.down : setup.up);
const BATCH = 16;
const EMPTY = new Uint8Array(0);

/** Publishes, keeping lines claimed ahead as a channel's pipe does (docs/performance.md). */
function publish(): void {
  const signal = out.commitWrite();
  out.claimAhead(4096);
  if (signal) peer.signal();
}

/** Waits (polling, then sleeping) until the incoming ring has packets. */
function waitForPackets(): void {
  if (inc.commitRead()) peer.signal();
  let polls = 0;
  while (inc.available() === 0) {
    if (++polls < setup.spin) continue;
    const seen = mine.value;
    if (inc.unmaskInterrupts()) {
      inc.maskInterrupts();
      break;
    }
    mine.waitSync(seen);
    inc.maskInterrupts();
    polls = 0;
  }
}

function client(n: number): number {
  const payload = new Uint8Array(setup.size).fill(0x5a);
  let sent = 0;
  let done = 0;
  let bad = 0;
  inc.maskInterrupts();
  while (done < n) {
    let pending = 0;
    while (sent < n && sent - done < setup.window) {
      if (!out.writePacket(6, 1, sent, 0, payload)) break;
      sent++;
      if (++pending === BATCH) {
        publish();
        pending = 0;
      }
    }
    publish();
    waitForPackets();
    let k = 0;
    for (let p = inc.read(); p !== null; p = inc.read()) {
      if (p.transactionIdLow !== done) bad++;
      done++;
      if (++k === BATCH) {
        k = 0;
        if (inc.commitRead()) peer.signal();
      }
    }
  }
  if (inc.commitRead()) peer.signal();
  return bad;
}

function server(n: number): number {
  const dst = new Uint8Array(setup.size + 8);
  let got = 0;
  inc.maskInterrupts();
  while (got < n) {
    waitForPackets();
    let k = 0;
    for (let p = inc.read(); p !== null; p = inc.read()) {
      p.copyPayload(dst);
      const id = p.transactionIdLow;
      got++;
      while (!out.writePacket(11, 0, id, 0, EMPTY)) publish();
      if (++k === BATCH) {
        k = 0;
        publish();
        if (inc.commitRead()) peer.signal();
      }
    }
    publish();
  }
  return 0;
}

parentPort!.on('message', ({ n }: { n: number }) => {
  const t0 = nowNs();
  const bad = setup.role === 'client' ? client(n) : server(n);
  parentPort!.postMessage({ t0, t1: nowNs(), bad });
});
