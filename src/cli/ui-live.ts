/**
 * The bus behind `vmbus ui --bus node`: the demo bus of src/demo with its
 * guests in Node workers, the host in this thread.
 *
 * @module
 */

import { VmbusHost } from '../bus/vmbus-host.js';
import { DemoBus, type GuestSpawner } from '../demo/demo-bus.js';
import { startGuestWorker } from '../node/guest-worker.js';

/**
 * Starts the demo bus with its two guests in Node workers.
 *
 * @returns the bus
 */
export function startNodeDemoBus(): DemoBus {
  const host = new VmbusHost({ log: () => {} });
  const spawn: GuestSpawner = (which, memoryPages, data) => {
    const module = which === 'demo-guest' ? './demo-guest.js' : './demo-net-guest.js';
    const g = startGuestWorker(host, new URL(module, import.meta.url), { memoryPages, data });
    g.worker.on('error', () => {});
    return {
      partition: g.partition,
      memory: g.memory.buffer,
      post: (m) => g.worker.postMessage(m),
      terminate: () => g.terminate(),
    };
  };
  return new DemoBus(host, spawn);
}
