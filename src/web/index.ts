/**
 * `vmbus-kmcl/web`: guest partitions in browser Web Workers over
 * `SharedArrayBuffer` (the browser's counterpart of `vmbus-kmcl/node`).
 *
 * @module
 */

export {
  guestFromWebWorker,
  startWebGuestWorker,
  type WebGuestWorker,
  type WebWorker,
  type WebWorkerGuest,
  type WebWorkerLike,
} from './web-guest-worker.js';
