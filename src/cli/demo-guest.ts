/**
 * The demo's first guest partition in a Node worker: the workload of
 * src/demo/demo-guest.ts on a guest built from the worker's data.
 *
 * @module
 */

import { parentPort } from 'node:worker_threads';
import { runDemoGuest } from '../demo/demo-guest.js';
import { guestFromWorkerData } from '../node/guest-worker.js';
import { nodeWorkloadPort } from './worker-port.js';

const { guest, data, pump } = guestFromWorkerData({ log: () => {} });
await runDemoGuest({
  guest,
  data: data as { seconds: number; queueDepth: number; subchannels: number },
  port: nodeWorkloadPort(parentPort!),
  wakeups: () => pump.wakeups,
});
