/**
 * `vmbus-kmcl/ring`: the Hyper-V VMBus ring buffer (spec vmbus-wire.md §1):
 * control page, writer, reader, validation of peer data, and ring images.
 *
 * @module
 */

export {
  CONTROL_PAGE_SIZE,
  ControlPage,
  type ControlPageInit,
  FEATURE_PENDING_SEND_SIZE,
} from './control-page.js';
export { IncomingPacket } from './incoming-packet.js';
export { IncomingRing } from './incoming-ring.js';
export { OutgoingRing } from './outgoing-ring.js';
export { RingCorruptError, type RingErrorCode } from './ring-error.js';
export {
  type DecodedPacket,
  type DecodedRing,
  decodeRingImage,
  encodeRingImage,
  type RingSpec,
  type RingSpecPacket,
  toHex,
  type WriteOutcome,
} from './ring-image.js';
export { RingMemory } from './ring-memory.js';
export { parseRingSpec, RingSpecError } from './ring-spec.js';
