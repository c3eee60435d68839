/**
 * A guest partition of `vmbus ui` in a browser module worker: the demo's
 * first guest (SCSI controller, echo device, NIC and their workload) or
 * its second (a NIC that answers), as the starter's first message says.
 */

import { runDemoGuest } from '../src/demo/demo-guest.js';
import { runNetPeer } from '../src/demo/net-peer.js';
import { guestFromWebWorker, type WebWorkerLike } from '../src/web/web-guest-worker.js';

const scope = self as unknown as WebWorkerLike;
const g = await guestFromWebWorker(scope, { log: () => {} });
const { which, data } = g.data as {
  which: 'demo-guest' | 'net-peer';
  data: { seconds: number; queueDepth: number; subchannels: number };
};
const port = { postMessage: g.postMessage, onMessage: g.onMessage };
if (which === 'demo-guest')
  await runDemoGuest({ guest: g.guest, data, port, wakeups: () => g.pump.wakeups });
else await runNetPeer({ guest: g.guest, port });
