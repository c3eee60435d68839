/**
 * The writer side of the cross-worker ring test: writes the packet stream of
 * ring-stream.ts into a shared ring, sleeping with Atomics.wait when the
 * ring is full (pending-send-size flow control, spec §1.8).
 */

import { parentPort, workerData } from 'node:worker_threads';
import { EventWord } from 'vmbus-kmcl';
import { OutgoingRing } from 'vmbus-kmcl/ring';
import { checksum, makePool, poolOffset, streamSize, xorshift } from './ring-stream.js';

interface Setup {
  ring: SharedArrayBuffer;
  bells: SharedArrayBuffer;
  count: number;
  seed: number;
  batch: number;
}

const { ring: sab, bells, count, seed, batch } = workerData as Setup;
const words = new Int32Array(bells);
const toReader = new EventWord(words, 0);
const toWriter = new EventWord(words, 1);
const ring = new OutgoingRing(sab);
const pool = makePool(seed);
const sizes = xorshift(seed ^ 0x5a5a5a5a);

let sleeps = 0;
let pending = 0;
for (let seq = 0; seq < count; seq++) {
  const size = streamSize(sizes);
  const off = poolOffset(seq);
  const payload = pool.subarray(off, off + size);
  const sum = checksum(pool, off, off + size);
  while (!ring.writePacket(6, 0, seq, sum, payload)) {
    if (ring.commitWrite()) toReader.signal();
    pending = 0;
    const seen = toWriter.value;
    if (ring.requestSpace(ring.bytesNeeded)) continue;
    if (toWriter.waitSync(seen, 10_000) === 'timed-out') throw new Error(`writer stuck at ${seq}`);
    sleeps++;
  }
  if (++pending === batch) {
    if (ring.commitWrite()) toReader.signal();
    pending = 0;
  }
}
if (ring.commitWrite()) toReader.signal();
parentPort?.postMessage({ sleeps, full: ring.fullCount, signals: toReader.signals });
