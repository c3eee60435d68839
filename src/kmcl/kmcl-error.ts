/**
 * The typed error of the idiomatic KMCL API: the NTSTATUS the Windows
 * routine would have returned. The Windows-named facade turns it back
 * into the status.
 *
 * @module
 */

import { ntStatusName } from '../status/ntstatus.js';
import { VmbusError } from '../status/vmbus-error.js';

/** A KMCL call failed with `status`. *
 * @example
 * ```ts
 * import { KmclError, NTSTATUS } from 'vmbus-kmcl';
 * try {
 *   throw new KmclError(NTSTATUS.STATUS_INVALID_PARAMETER_3, 'ByteCount too small');
 * } catch (e) {
 *   if (e instanceof KmclError) console.log(e.code, e.status === NTSTATUS.STATUS_INVALID_PARAMETER_3); // KMCL_STATUS_INVALID_PARAMETER_3 true
 * }
 * ```
 */
export class KmclError extends VmbusError {
  /** The NTSTATUS (unsigned). */
  readonly status: number;

  /**
   * @param status - the failure status
   * @param reason - what was wrong, quoting the values
   */
  constructor(status: number, reason: string) {
    super(`KMCL_${ntStatusName(status)}`, reason);
    this.name = 'KmclError';
    this.status = status >>> 0;
  }
}
