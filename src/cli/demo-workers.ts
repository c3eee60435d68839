/**
 * The demo bus of src/demo with its guests in Node workers and the host in
 * this thread: behind `vmbus demo` and `vmbus ui --bus node`.
 *
 * @module
 */

import { VmbusHost } from '../bus/vmbus-host.js';
import { DemoBus, type GuestSpawner } from '../demo/demo-bus.js';
import { type GuestWorker, startGuestWorker } from '../node/guest-worker.js';

/**
 * The demo's guests as Node workers of this command.
 *
 * @param host - the host
 * @param started - receives each guest's worker, in the order started
 * @returns the spawner
 */
export function nodeSpawner(host: VmbusHost, started: GuestWorker[] = []): GuestSpawner {
  return (which, memoryPages, data) => {
    const module = which === 'demo-guest' ? './demo-guest.js' : './demo-net-guest.js';
    const g = startGuestWorker(host, new URL(module, import.meta.url), { memoryPages, data });
    g.worker.on('error', () => {});
    started.push(g);
    return {
      partition: g.partition,
      memory: g.memory.buffer,
      post: (m) => g.worker.postMessage(m),
      terminate: () => g.terminate(),
    };
  };
}

/**
 * Starts the demo bus with its two guests in Node workers.
 *
 * @returns the bus
 */
export function startNodeDemoBus(): DemoBus {
  const host = new VmbusHost({ log: () => {} });
  return new DemoBus(host, nodeSpawner(host));
}
