/**
 * Guest partitions in browser Web Workers, the browser's counterpart of
 * `vmbus-kmcl/node`: the starter creates guest memory and the link in
 * `SharedArrayBuffer`s (the page must be cross-origin isolated: COOP
 * `same-origin` and COEP `require-corp`), attaches the partition to its
 * host and sends both to a module worker in its first message; the worker
 * rebuilds the guest around them. Later messages each way belong to the
 * guest's own code.
 *
 * @module
 */

import type { LogSink } from '../bus/bus-log.js';
import type { LinkPump } from '../bus/link-pump.js';
import { attachRemotePartition, guestOverSharedPartition } from '../bus/remote-partition.js';
import type { GuestOptions, VmbusGuest } from '../bus/vmbus-guest.js';
import type { HostPartition, VmbusHost } from '../bus/vmbus-host.js';
import type { GuestMemory } from '../memory/guest-memory.js';

/**
 * The part of a Web Worker (or a worker's global scope) this module uses.
 *
 * @example
 * ```ts
 * import type { WebWorkerLike } from 'vmbus-kmcl/web';
 * const scope: WebWorkerLike = { postMessage: (m) => console.log(m), addEventListener: () => {} };
 * scope.postMessage('hello'); // hello
 * ```
 */
export interface WebWorkerLike {
  postMessage(message: unknown): void;
  addEventListener(type: 'message', listener: (event: { data: unknown }) => void): void;
}

/**
 * A Web Worker the starter can end.
 *
 * @example
 * ```ts
 * import type { WebWorker } from 'vmbus-kmcl/web';
 * const worker: WebWorker = { postMessage: () => {}, addEventListener: () => {}, terminate: () => console.log('ended') };
 * worker.terminate(); // ended
 * ```
 */
export interface WebWorker extends WebWorkerLike {
  terminate(): void;
}

/**
 * The host's view of a guest partition started by {@link startWebGuestWorker}.
 *
 * @example
 * ```ts
 * import type { WebGuestWorker } from 'vmbus-kmcl/web';
 * const describe = (g: WebGuestWorker) => `${g.memory.pageCount} pages`;
 * console.log(typeof describe); // function
 * ```
 */
export interface WebGuestWorker {
  /** The host's state machine for the partition. */
  partition: HostPartition;
  /** The partition's memory (shared with the worker). */
  memory: GuestMemory;
  /** The worker. */
  worker: WebWorker;
  /** Sends the guest's code a message. */
  post(message: unknown): void;
  /** Receives the guest's code's messages. */
  onMessage(handler: (message: unknown) => void): void;
  /** Stops the host's pump, closes the link and ends the worker. */
  terminate(): void;
}

interface InitMessage {
  vmbus: { memory: SharedArrayBuffer; link: SharedArrayBuffer };
  data: unknown;
}

/**
 * Starts a guest partition in a module Web Worker and attaches it to `host`.
 *
 * @param host - the host
 * @param module - the worker's module URL; it calls {@link guestFromWebWorker}
 * @param options - guest memory in pages (default 4096: 16 MiB), data for the guest's code
 * @returns the host's view of the partition
 * @throws TypeError where there are no Web Workers (as in Node: use `vmbus-kmcl/node`)
 * @example
 * ```ts
 * import { VmbusHost } from 'vmbus-kmcl';
 * import { startWebGuestWorker } from 'vmbus-kmcl/web';
 * try {
 *   const guest = startWebGuestWorker(new VmbusHost(), new URL('./guest.js', import.meta.url));
 *   guest.terminate();
 * } catch (e) {
 *   console.log(e instanceof TypeError); // true outside a browser
 * }
 * ```
 */
export function startWebGuestWorker(
  host: VmbusHost,
  module: URL | string,
  options: { memoryPages?: number; data?: unknown } = {},
): WebGuestWorker {
  const WorkerClass = (
    globalThis as { Worker?: new (url: URL | string, options: { type: 'module' }) => WebWorker }
  ).Worker;
  // Node 20 has no global Worker; a Node worker_threads Worker is not a Web Worker.
  if (
    typeof WorkerClass !== 'function' ||
    typeof (globalThis as { process?: unknown }).process === 'object'
  )
    throw new TypeError('There are no Web Workers here: use vmbus-kmcl/node in Node');
  // The host's pump shares the page's thread: it never spins.
  const { partition, memory, hostLink, shared } = attachRemotePartition(
    host,
    options.memoryPages ?? 4096,
    0,
  );
  const worker = new WorkerClass(module, { type: 'module' });
  const init: InitMessage = { vmbus: shared, data: options.data };
  worker.postMessage(init);
  return {
    partition,
    memory,
    worker,
    post: (m) => worker.postMessage(m),
    onMessage: (h) => worker.addEventListener('message', (e) => h(e.data)),
    terminate() {
      worker.terminate();
      hostLink.close();
    },
  };
}

/**
 * The guest side inside a Web Worker.
 *
 * @example
 * ```ts
 * import type { WebWorkerGuest } from 'vmbus-kmcl/web';
 * const ready = (g: WebWorkerGuest) => g.postMessage({ kind: 'ready', pages: g.memory.pageCount });
 * console.log(typeof ready); // function
 * ```
 */
export interface WebWorkerGuest {
  /** The guest's control plane, its pump running. */
  guest: VmbusGuest;
  /** Guest memory. */
  memory: GuestMemory;
  /** The data passed to {@link startWebGuestWorker}. */
  data: unknown;
  /** The guest's link pump (its counters). */
  pump: LinkPump;
  /** Sends the starter a message. */
  postMessage(message: unknown): void;
  /** Receives the starter's messages after the first. */
  onMessage(handler: (message: unknown) => void): void;
}

/**
 * Builds the guest partition inside a Web Worker started by
 * {@link startWebGuestWorker}, from the starter's first message.
 *
 * @param scope - the worker's global scope (`self`)
 * @param options - guest versions, features, log sink
 * @returns the guest, once the first message arrived
 * @throws TypeError (rejection) when the first message is not the starter's
 * @example
 * ```ts
 * import { guestFromWebWorker, type WebWorkerLike } from 'vmbus-kmcl/web';
 * // In a module worker started by startWebGuestWorker: guestFromWebWorker(self as WebWorkerLike)
 * const scope: WebWorkerLike = { postMessage: () => {}, addEventListener: () => {} };
 * const pending = guestFromWebWorker(scope); // settles when the starter's message arrives
 * console.log(pending instanceof Promise); // true
 * ```
 */
export function guestFromWebWorker(
  scope: WebWorkerLike,
  options: GuestOptions & { log?: LogSink } = {},
): Promise<WebWorkerGuest> {
  return new Promise((resolve, reject) => {
    const handlers: ((m: unknown) => void)[] = [];
    let started = false;
    scope.addEventListener('message', (event) => {
      if (started) {
        for (const h of handlers) h(event.data);
        return;
      }
      started = true;
      const init = event.data as Partial<InitMessage> | null;
      if (
        !(init?.vmbus?.memory instanceof SharedArrayBuffer) ||
        !(init.vmbus.link instanceof SharedArrayBuffer)
      ) {
        reject(new TypeError('This worker was not started by startWebGuestWorker'));
        return;
      }
      const { guest, memory, pump } = guestOverSharedPartition(
        { memory: init.vmbus.memory, link: init.vmbus.link },
        options,
      );
      resolve({
        guest,
        memory,
        data: init.data,
        pump,
        postMessage: (m) => scope.postMessage(m),
        onMessage: (h) => void handlers.push(h),
      });
    });
  });
}
