/**
 * The typed error of the ring layer: shared ring memory that breaks the
 * rules of spec vmbus-wire.md §1.4-1.6 and §4.3 (items 1-9).
 *
 * @module
 */

import { VmbusError } from '../status/vmbus-error.js';

/**
 * Stable codes of every ring check. Ring-level codes are `VMBUS_RING_*`;
 * checks of a packet's descriptor or extension header are `VMBUS_PACKET_*`
 * (they come from the protocol layer).
 *
 * @example
 * ```ts
 * import { ControlPage, IncomingRing, RingCorruptError, type RingErrorCode } from 'vmbus-kmcl/ring';
 * const sab = new SharedArrayBuffer(8192);
 * ControlPage.initialize(sab, 0, { writeIndex: 5000 }); // past the data area
 * let code: RingErrorCode | null = null;
 * try {
 *   new IncomingRing(sab).read();
 * } catch (e) {
 *   if (e instanceof RingCorruptError) code = e.code;
 * }
 * console.log(code); // VMBUS_RING_BAD_WRITE_INDEX
 * ```
 */
export type RingErrorCode =
  | 'VMBUS_RING_BAD_READ_INDEX'
  | 'VMBUS_RING_BAD_WRITE_INDEX'
  | 'VMBUS_RING_SHORT_DATA'
  | 'VMBUS_RING_PACKET_PAST_WRITE_INDEX'
  | 'VMBUS_RING_TRAILER_PAST_WRITE_INDEX'
  | 'VMBUS_RING_MASK_CHANGED'
  | 'VMBUS_PACKET_BAD_TYPE'
  | 'VMBUS_PACKET_BAD_FLAGS'
  | 'VMBUS_PACKET_BAD_OFFSET8'
  | 'VMBUS_PACKET_BAD_LEN8'
  | 'VMBUS_PACKET_NO_RANGES'
  | 'VMBUS_PACKET_RANGES_TRUNCATED'
  | 'VMBUS_PACKET_RANGE_EMPTY'
  | 'VMBUS_PACKET_RANGE_OFFSET'
  | 'VMBUS_PACKET_RANGE_OVERFLOW'
  | 'VMBUS_PACKET_RANGE_PFNS_MISSING';

/**
 * Shared ring memory is corrupt or hostile. The ring that threw keeps its
 * committed index at the last good packet and throws again on the next call
 * until it is rebuilt: a defined state, never a half-read packet.
 *
 * @example
 * ```ts
 * import { RingCorruptError } from 'vmbus-kmcl/ring';
 * try {
 *   // ring.read() ...
 * } catch (e) {
 *   if (e instanceof RingCorruptError) console.log(e.code, e.reason, e.offset);
 * }
 * ```
 */
export class RingCorruptError extends VmbusError {
  /** Data-area offset where the reader stood when it found the damage. */
  readonly offset: number;
  declare readonly code: RingErrorCode;

  /**
   * @param code - the failed check
   * @param reason - a sentence quoting the values
   * @param offset - data-area offset of the damage
   */
  constructor(code: RingErrorCode, reason: string, offset: number) {
    super(code, reason);
    this.name = 'RingCorruptError';
    this.offset = offset;
  }
}
