/**
 * The host side of the cross-worker KMCL round-trip benchmark, in a worker
 * of its own (so both sides may poll before sleeping, as the ring-only
 * benchmark's workers do): the host, a VSP that completes every request,
 * and the VSC started in a nested worker. Relays run commands and results.
 */

import { parentPort, workerData } from 'node:worker_threads';
import { VmbusHost } from '../src/bus/vmbus-host.js';
import { KmclChannel } from '../src/kmcl/kmcl-channel.js';
import { startGuestWorker } from '../src/node/guest-worker.js';

const { type, window, size, spin } = workerData as {
  type: string;
  window: number;
  size: number;
  spin: number;
};
const port = parentPort!;
const host = new VmbusHost({ log: () => {} });
const g = startGuestWorker(host, new URL('./kmcl-vsc.js', import.meta.url), {
  memoryPages: 1024,
  data: { type, window, size, spin },
  spin,
});
const server = new KmclChannel({ host, partition: g.partition }, true);
server.initSetTargetInterfaceId(type, '00000000-0000-0000-0000-0000000000b1');
server.initSetMaximumPacketSize(size);
server.initSetProcessPacketCallbacks((c, p) => c.completePacket(p, null, 0));
server.enable();
server.start();
// A long-running driver's pool and channel objects are in the old
// generation after its first collections; this run allocates too little to
// collect at all, so collect now (the runner exposes gc) rather than time
// every pointer store as an old-to-young one.
(globalThis as { gc?: () => void }).gc?.();
(globalThis as { gc?: () => void }).gc?.();
g.worker.on('message', (m) => port.postMessage(m));
port.on('message', (m) => g.worker.postMessage(m));
if (process.env.VMBUS_BENCH_TRACE)
  setInterval(() => console.error('vsp', server.stats, server.pipeStats), 1000).unref();
