/**
 * The Node platform adapter for running a guest partition in a
 * `worker_threads` worker: the host side starts the worker and attaches the
 * partition; the worker side rebuilds guest memory and its link end from
 * the shared buffers and runs the guest's control plane.
 *
 * The host notices the worker's end (exit, crash, `terminate()`): the link
 * closes, every channel of the partition closes with `peer-gone`, waiters
 * wake, and the partition is detached.
 *
 * @module
 */

import { Worker, workerData } from 'node:worker_threads';
import type { LogSink } from '../bus/bus-log.js';
import type { LinkPump } from '../bus/link-pump.js';
import { attachRemotePartition, guestOverSharedPartition } from '../bus/remote-partition.js';
import type { GuestOptions, VmbusGuest } from '../bus/vmbus-guest.js';
import type { HostPartition, VmbusHost } from '../bus/vmbus-host.js';
import type { GuestMemory } from '../memory/guest-memory.js';

/**
 * What the host side gets back from {@link startGuestWorker}.
 *
 * @example
 * ```ts
 * import { VmbusHost } from 'vmbus-kmcl';
 * import { type GuestWorker, startGuestWorker } from 'vmbus-kmcl/node';
 * const host = new VmbusHost({ log: () => {} });
 * // A worker module that exits at once: `data:` URLs are modules too.
 * const worker: GuestWorker = startGuestWorker(host, new URL('data:text/javascript,'));
 * console.log(await worker.exited); // 0
 * ```
 */
export interface GuestWorker {
  /** The host's state for the partition. */
  partition: HostPartition;
  /** The partition's memory (shared with the worker). */
  memory: GuestMemory;
  /** The worker. */
  worker: Worker;
  /** Settles with the worker's exit code once it ended and the partition was detached. */
  exited: Promise<number>;
  /** Ends the worker (as a crash would) and waits for the partition to detach. */
  terminate(): Promise<number>;
}

/**
 * Options of {@link startGuestWorker}.
 *
 * @example
 * ```ts
 * import { VmbusHost } from 'vmbus-kmcl';
 * import { type GuestWorkerOptions, startGuestWorker } from 'vmbus-kmcl/node';
 * const options: GuestWorkerOptions = { memoryPages: 1024, data: { queues: 2 } }; // 4 MiB, and data for the worker
 * const worker = startGuestWorker(new VmbusHost({ log: () => {} }), new URL('data:text/javascript,'), options);
 * console.log(worker.memory.pageCount, await worker.exited); // 1024 0
 * ```
 */
export interface GuestWorkerOptions {
  /** Guest memory in pages (default 4096: 16 MiB). */
  memoryPages?: number;
  /** Data for the guest's own code, available as `guestFromWorkerData().data`. */
  data?: unknown;
  /** Doorbell polls before the host's pump sleeps: leave 0 on a main thread; a host in a worker may spin. */
  spin?: number;
}

interface VmbusWorkerData {
  vmbus: { memory: SharedArrayBuffer; link: SharedArrayBuffer };
  data: unknown;
}

/**
 * Starts a guest partition in a worker and attaches it to `host`.
 *
 * @param host - the host
 * @param module - the worker's module; it calls {@link guestFromWorkerData}
 * @param options - memory size and data for the guest
 * @returns the host's view of the partition
 * @example
 * ```ts
 * import { VmbusHost } from 'vmbus-kmcl';
 * import { startGuestWorker } from 'vmbus-kmcl/node';
 * const host = new VmbusHost();
 * const guest = startGuestWorker(host, new URL('./my-guest.js', import.meta.url));
 * // host.offer(guest.partition, { ... });
 * await guest.terminate();
 * ```
 */
export function startGuestWorker(
  host: VmbusHost,
  module: URL | string,
  options: GuestWorkerOptions = {},
): GuestWorker {
  const { partition, memory, hostLink, pumped, shared } = attachRemotePartition(
    host,
    options.memoryPages ?? 4096,
    options.spin ?? 0,
  );
  const data: VmbusWorkerData = { vmbus: shared, data: options.data };
  const worker = new Worker(module, { workerData: data });
  const exited = new Promise<number>((resolve) => {
    let code = 1;
    worker.once('error', () => {
      code = 1;
    });
    worker.once('exit', (c) => {
      code = c;
      // The guest is gone: close the link so the pump detaches the partition.
      hostLink.close();
      void pumped.then(() => resolve(code));
    });
  });
  return {
    partition,
    memory,
    worker,
    exited,
    async terminate() {
      await worker.terminate();
      return exited;
    },
  };
}

/**
 * The guest side inside the worker.
 *
 * @example
 * ```ts
 * import { type WorkerGuest, guestFromWorkerData } from 'vmbus-kmcl/node';
 * // In a worker module started by startGuestWorker:
 * let inside: WorkerGuest | null = null;
 * try {
 *   inside = guestFromWorkerData();
 * } catch {
 *   // not in such a worker
 * }
 * console.log(inside === null); // true here
 * ```
 */
export interface WorkerGuest {
  /** The guest's control plane, its pump running. */
  guest: VmbusGuest;
  /** Guest memory. */
  memory: GuestMemory;
  /** The data passed to {@link startGuestWorker}. */
  data: unknown;
  /** Stops the pump and closes the link (the host sees the guest leave). */
  shutdown(): void;
  /** The guest's link pump (its counters). */
  pump: LinkPump;
}

/**
 * Builds the guest partition from `workerData` inside a worker started by
 * {@link startGuestWorker}.
 *
 * @param options - guest versions, features, log sink, and `spin`: doorbell
 *   polls before the pump sleeps (a worker may spin; it trades CPU for latency)
 * @returns the guest, its pump running
 * @throws TypeError when the worker was not started by startGuestWorker
 * @example
 * ```ts
 * // guest.ts, the worker's module, started with startGuestWorker(host, new URL('./guest.js', import.meta.url))
 * import { StorageVsc } from 'vmbus-kmcl';
 * import { guestFromWorkerData } from 'vmbus-kmcl/node';
 * try {
 *   const { guest, shutdown } = guestFromWorkerData();
 *   await guest.connect();
 *   await guest.requestOffers();
 *   const vsc = new StorageVsc(guest);
 *   await vsc.connect();
 *   await vsc.close();
 *   shutdown();
 * } catch (e) {
 *   console.log(e instanceof TypeError); // true when run outside such a worker
 * }
 * ```
 */
export function guestFromWorkerData(
  options: GuestOptions & { log?: LogSink; spin?: number } = {},
): WorkerGuest {
  const wd = workerData as Partial<VmbusWorkerData> | null;
  if (!wd?.vmbus) throw new TypeError('This worker was not started by startGuestWorker');
  const { guest, memory, link, pump } = guestOverSharedPartition(wd.vmbus, options);
  return {
    guest,
    memory,
    pump,
    data: wd.data,
    shutdown() {
      link.close();
      pump.stop();
    },
  };
}
