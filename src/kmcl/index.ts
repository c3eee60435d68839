/**
 * `vmbus-kmcl/kmcl`: the VMBus Kernel Mode Client Library. `KmclChannel`
 * and `KmclPacket` are the idiomatic API; the `Vmb*` functions and the
 * `KMCL_*_INTERFACE_V1` tables are the faithful Windows facade.
 *
 * @module
 */

export * from './kmcl-channel.js';
export * from './kmcl-constants.js';
export { KmclError } from './kmcl-error.js';
export * from './kmcl-facade.js';
export { type IncomingState, KmclIncoming } from './kmcl-incoming.js';
export {
  type DriverCompletionRoutine,
  type ExternalData,
  KmclPacket,
  PACKET_HEADER_SIZE,
  PACKET_STATE,
  type PacketCompletionRoutine,
} from './kmcl-packet.js';
export {
  createKmclPair,
  type KmclPair,
  type KmclPairOptions,
  PAIR_INTERFACE_INSTANCE,
  PAIR_INTERFACE_TYPE,
} from './kmcl-pair.js';
