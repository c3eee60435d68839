/**
 * `vmbus-kmcl/protocol`: wire codecs (spec vmbus-wire.md §2): the packet
 * descriptor, packet types and flags, and the extension headers of
 * GPA-direct and transfer-page packets.
 *
 * @module
 */

export {
  CHANNEL_MESSAGES,
  type ChannelMessage,
  ChannelMessageError,
  type ChannelMessageErrorCode,
  type ChannelMessageFields,
  type ChannelMessageName,
  encodeChannelMessage,
  type FieldKind,
  MAX_MESSAGE_SIZE,
  MESSAGE_HEADER_SIZE,
  MESSAGE_NAMES,
  type MessageContext,
  type MessageSender,
  parseChannelMessage,
} from './channel-messages.js';
export { type Guid, NIL_GUID, parseGuid, readGuid, writeGuid } from './guid.js';
export {
  checkDescriptor,
  DESCRIPTOR_SIZE,
  type DescriptorViolation,
  decodeDescriptor,
  describeDescriptorViolation,
  encodeDescriptor,
  isKnownPacketType,
  MAX_LEN8,
  minimumOffset8,
  PACKET_FLAG_COMPLETION_REQUESTED,
  PACKET_FLAGS_KNOWN,
  PACKET_TYPE_COMPLETION,
  PACKET_TYPE_GPA_DIRECT,
  PACKET_TYPE_IN_BAND,
  PACKET_TYPE_TRANSFER_PAGES,
  type PacketDescriptor,
  packetTypeName,
  TRAILER_SIZE,
} from './packet-descriptor.js';
export {
  encodeGpaDirectHeader,
  encodeTransferPageHeader,
  GPA_RANGE_MAX_PFN_COUNT,
  type GpaRange,
  gpaDirectHeaderLength,
  gpaRangePfnCount,
  PAGE_SIZE,
  PacketRanges,
  type RangeViolation,
  type TransferPageRange,
  transferPageHeaderLength,
} from './packet-ranges.js';
export {
  CONNECTION_STATE,
  OFFER_FLAG,
  OPEN_FLAG,
  VMBUS_FEATURE,
  VMBUS_VERSION,
  VMBUS_VERSIONS_NEWEST_FIRST,
  versionName,
} from './versions.js';
