/**
 * The guest side of the cross-worker KMCL round-trip benchmark: a VSC with
 * a pool of packets in its own memory (VmbPacketInitialize), each re-sent
 * from its completion routine, running `n` round trips per command.
 */

import { parentPort } from 'node:worker_threads';
import { KmclChannel } from '../src/kmcl/kmcl-channel.js';
import { guestFromWorkerData } from '../src/node/guest-worker.js';
import { nowNs } from './harness.js';
import { roundTripPool } from './kmcl-pool.js';

const port = parentPort!;
const { data } = (await import('node:worker_threads')).workerData as { data: { spin?: number } };
const { guest, pump } = guestFromWorkerData({ log: () => {}, spin: data?.spin ?? 0 });
const { type, window, size } = data as unknown as { type: string; window: number; size: number };
await guest.connect();
await guest.requestOffers();
const channel = new KmclChannel({ guest }, false);
channel.initSetMaximumPacketSize(size);
channel.initSetRingBufferPageCount(64, 64);
channel.initSetTargetPnp(type, null);
channel.initSetProcessPacketCallbacks((c, p) => c.completePacket(p, null, 0));
let started!: () => void;
const ready = new Promise<void>((r) => {
  started = r;
});
channel.initSetStateChangeCallbacks({
  Version: 1,
  Size: 48,
  EvtChannelPostStarted: () => started(),
});
channel.enable();
await ready;

const roundTrips = roundTripPool(channel, window, size);
port.on('message', async ({ n }: { n: number }) => {
  const t0 = nowNs();
  await roundTrips(n);
  port.postMessage({ t0, t1: nowNs(), wakeups: pump.wakeups, spinHits: pump.spinHits });
  if (process.env.VMBUS_BENCH_TRACE) console.error('vsc pipe', channel.pipeStats);
  if (process.env.VMBUS_BENCH_TRACE)
    console.error('vsc', n, pump.wakeups, pump.spinHits, channel.stats);
});
// A long-running driver's pool and channel objects are in the old
// generation after its first collections; this run allocates too little to
// collect at all, so collect now (the runner exposes gc) rather than time
// every pointer store as an old-to-young one.
(globalThis as { gc?: () => void }).gc?.();
(globalThis as { gc?: () => void }).gc?.();
port.postMessage({ ready: true });
