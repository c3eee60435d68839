/**
 * The typed error of the idiomatic KMCL API: the NTSTATUS the Windows
 * routine would have returned. The Windows-named facade turns it back
 * into the status.
 *
 * @module
 */

import { ntStatusName } from '../status/ntstatus.js';
import { VmbusError } from '../status/vmbus-error.js';

/** A KMCL call failed with `status`. */
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
