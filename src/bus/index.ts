/**
 * The simulated VMBus: host and guest control planes, the partition link,
 * channel data paths, and host-free test helpers.
 *
 * @module
 */

export { BusError, type BusErrorCode } from './bus-error.js';
export { BusLog, type LogSink } from './bus-log.js';
export {
  ChannelClosedError,
  ChannelPipe,
  type PipeCloseReason,
  type PipeStats,
  sumPipeStats,
} from './channel-pipe.js';
export { LinkPump, type LinkTarget } from './link-pump.js';
export {
  type ConnectedChannels,
  connectedChannels,
  createLocalBus,
  type LocalBus,
  type LocalBusOptions,
  RecordingNotifier,
} from './local-bus.js';
export {
  createLinkMemory,
  LINK_MEMORY_SIZE,
  LinkEndpoint,
  type LinkHandlers,
  type LinkSide,
  MAX_CHANNEL_ID,
} from './partition-link.js';
export { PipePoller } from './pipe-poller.js';
export {
  GuestChannel,
  GuestOffer,
  type GuestOfferState,
  type GuestOptions,
  type OpenOptions,
  VmbusGuest,
} from './vmbus-guest.js';
export {
  type HostChannel,
  HostOffer,
  type HostOfferState,
  type HostOptions,
  HostPartition,
  type MappedGpadl,
  type OfferOptions,
  type OpenRequest,
  type PartitionNotifier,
  type PartitionStats,
  VmbusHost,
} from './vmbus-host.js';
