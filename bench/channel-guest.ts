/**
 * The guest side of the cross-worker channel benchmark: opens the first
 * offer, then for each run sends `n` 64-byte packets, publishing each one
 * as a driver's send would (the ring rules decide whether to interrupt),
 * and waits for space with pending-send-size flow control when full.
 */

import { parentPort } from 'node:worker_threads';
import { guestFromWorkerData } from '../src/node/guest-worker.js';
import { nowNs } from './harness.js';

const port = parentPort!;
const { guest, data } = guestFromWorkerData({ log: () => {} });
const { size, ringPages } = data as { size: number; ringPages: number };
await guest.connect();
const [offer] = await guest.requestOffers();
const channel = await guest.open(offer!, { upstreamPages: ringPages, downstreamPages: ringPages });
const pipe = channel.pipe;
const payload = new Uint8Array(size).fill(0x5a);

port.on('message', async ({ n }: { n: number }) => {
  const t0 = nowNs();
  for (let i = 0; i < n; ) {
    if (pipe.send(6, 0, i, 0, payload)) {
      i++;
      continue;
    }
    await pipe.waitForSpace(pipe.outgoing.bytesNeeded);
  }
  port.postMessage({
    t0,
    interruptsSent: pipe.stats.interruptsSent,
    suppressed: pipe.stats.interruptsSuppressed,
  });
});
port.postMessage({ ready: true });
