/**
 * The demo's second guest partition in a Node worker: the NIC workload of
 * src/demo/net-peer.ts.
 *
 * @module
 */

import { parentPort } from 'node:worker_threads';
import { runNetPeer } from '../demo/net-peer.js';
import { guestFromWorkerData } from '../node/guest-worker.js';
import { nodeWorkloadPort } from './worker-port.js';

const { guest } = guestFromWorkerData({ log: () => {} });
await runNetPeer({ guest, port: nodeWorkloadPort(parentPort!) });
