/**
 * `vmbus-kmcl/node`: thin Node.js adapters (worker threads).
 *
 * @module
 */

export { FileBackend } from './file-backend.js';
export {
  type GuestWorker,
  type GuestWorkerOptions,
  guestFromWorkerData,
  startGuestWorker,
  type WorkerGuest,
} from './guest-worker.js';
