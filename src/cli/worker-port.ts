/**
 * A Node worker's parent port as the demo workloads' {@link WorkloadPort}.
 *
 * @module
 */

import type { MessagePort } from 'node:worker_threads';
import type { WorkloadPort } from '../demo/demo-guest.js';

/**
 * Adapts `port`.
 *
 * @param port - the worker's parent port
 * @returns the workload port
 */
export function nodeWorkloadPort(port: MessagePort): WorkloadPort {
  return {
    postMessage: (m) => port.postMessage(m),
    onMessage: (h) => void port.on('message', h),
  };
}
