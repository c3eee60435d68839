/**
 * The typed error of the bus layer: a control-plane operation the peer
 * refused or that can no longer complete.
 *
 * @module
 */

import { ntStatusName } from '../status/ntstatus.js';
import { VmbusError } from '../status/vmbus-error.js';

/**
 * Stable codes of bus failures.
 *
 * @example
 * ```ts
 * import { BusError, type BusErrorCode } from 'vmbus-kmcl';
 * const retryable = (code: BusErrorCode) => code === 'VMBUS_BUS_GPADL_FAILED';
 * console.log(retryable(new BusError('VMBUS_BUS_GPADL_FAILED', 'refused').code)); // true
 * ```
 */
export type BusErrorCode =
  | 'VMBUS_BUS_VERSION_REFUSED'
  | 'VMBUS_BUS_OPEN_FAILED'
  | 'VMBUS_BUS_GPADL_FAILED'
  | 'VMBUS_BUS_RESCINDED'
  | 'VMBUS_BUS_DISCONNECTED'
  | 'VMBUS_BUS_BAD_STATE';

/**
 * A bus operation failed; `status` carries the peer's NTSTATUS when it sent one.
 *
 * @example
 * ```ts
 * import { BusError, createLocalBus } from 'vmbus-kmcl';
 * const bus = createLocalBus({ log: () => {} });
 * await bus.guest.connect();
 * try {
 *   await bus.guest.createGpadl(99, { pfns: [1], byteOffset: 0, byteLength: 4096 }); // no channel 99
 * } catch (e) {
 *   if (e instanceof BusError) console.log(e.code);
 * }
 * bus.dispose();
 * ```
 */
export class BusError extends VmbusError {
  declare readonly code: BusErrorCode;
  /** The NTSTATUS the peer answered with, or 0. */
  readonly status: number;

  /**
   * @param code - what failed
   * @param reason - a sentence quoting the values
   * @param status - the peer's NTSTATUS, if any
   */
  constructor(code: BusErrorCode, reason: string, status = 0) {
    super(code, status === 0 ? reason : `${reason}: ${ntStatusName(status)}`);
    this.name = 'BusError';
    this.status = status;
  }
}
