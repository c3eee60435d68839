/**
 * A writer worker and a reader on the main thread share one ring in a
 * SharedArrayBuffer: 1,000,000 packets of 1 B to 16 KiB, each with a
 * sequence number and checksum, none lost, duplicated, reordered or
 * corrupted. The reader sleeps with Atomics.waitAsync, the writer with
 * Atomics.wait; neither busy-waits.
 */

import assert from 'node:assert/strict';
import { it } from 'node:test';
import { Worker } from 'node:worker_threads';
import { EventWord } from 'vmbus-kmcl';
import { ControlPage, IncomingRing } from 'vmbus-kmcl/ring';
import { checksum, MAX_SIZE, makePool, poolOffset, streamSize, xorshift } from './ring-stream.js';

const COUNT = Number(process.env.VMBUS_RING_WORKER_PACKETS ?? 1_000_000);

it(`${COUNT} packets from a writer worker to a main-thread reader`, {
  timeout: 300_000,
}, async () => {
  const seed = 0xc0ffee;
  const sab = new SharedArrayBuffer(4096 + 64 * 4096);
  ControlPage.initialize(sab, 0);
  const bells = new SharedArrayBuffer(8);
  const words = new Int32Array(bells);
  const toReader = new EventWord(words, 0);
  const toWriter = new EventWord(words, 1);
  const ring = new IncomingRing(sab);
  const pool = makePool(seed);
  const sizes = xorshift(seed ^ 0x5a5a5a5a);
  const buf = new Uint8Array(MAX_SIZE + 8);

  const worker = new Worker(new URL('./ring-writer-worker.js', import.meta.url), {
    workerData: { ring: sab, bells, count: COUNT, seed, batch: 8 },
  });
  const writerDone = new Promise<{ sleeps: number; full: number; signals: number }>(
    (resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    },
  );

  let expected = 0;
  let wakeups = 0;
  let emptyPasses = 0;
  while (expected < COUNT) {
    ring.maskInterrupts();
    let got = 0;
    for (let p = ring.read(); p !== null; p = ring.read()) {
      const size = streamSize(sizes);
      if (p.type !== 6 || p.payloadLength !== ((size + 7) & ~7)) {
        assert.fail(
          `packet ${expected} has type ${p.type} and length ${p.payloadLength}, not 6 and ${size}`,
        );
      }
      const seq = p.transactionIdLow;
      if (seq !== expected) assert.fail(`packet ${seq} arrived where ${expected} was due`);
      p.copyPayload(buf);
      const sum = checksum(buf, 0, size);
      if (sum !== p.transactionIdHigh) assert.fail(`packet ${seq} is corrupt`);
      const off = poolOffset(seq);
      if (buf[0] !== pool[off] || buf[size - 1] !== pool[off + size - 1])
        assert.fail(`packet ${seq} has the wrong bytes`);
      for (let i = size; i < p.payloadLength; i++)
        if (buf[i] !== 0) assert.fail('padding is not zero');
      expected++;
      got++;
      if (got % 64 === 0 && ring.commitRead()) toWriter.signal();
    }
    if (ring.commitRead()) toWriter.signal();
    if (got === 0) emptyPasses++;
    const seen = toReader.value;
    if (ring.unmaskInterrupts()) continue;
    if (expected === COUNT) break;
    const r = toReader.waitAsync(seen, 10_000);
    if (typeof r !== 'string') {
      assert.notEqual(await r, 'timed-out', `reader waited 10 s at packet ${expected}`);
      wakeups++;
    }
  }
  const writer = await writerDone;
  await worker.terminate();
  assert.equal(expected, COUNT);
  assert.equal(ring.read(), null, 'a packet beyond the last one');
  // Never a busy wait: a pass that found nothing follows a wake-up (or a
  // not-equal return that counted as one), never another empty pass.
  assert.ok(
    emptyPasses <= wakeups + toReader.signals + 1,
    `empty passes ${emptyPasses}, wakeups ${wakeups}`,
  );
  assert.ok(writer.full > 0, 'the ring never filled: flow control was not exercised');
  assert.ok(writer.sleeps > 0 || wakeups > 0, 'nobody ever slept');
});
