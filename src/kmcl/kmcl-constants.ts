/**
 * KMCL flags and constants by name (`../shared/reference/kmcl/API.md` §5).
 * Only the process-packet flag's value is documented by Microsoft; the
 * others are the values of the public WDK header copies the digest cites.
 *
 * @module
 */

/** Send flag: the transaction ends when the peer sends a completion. */
export const VMBUS_CHANNEL_FORMAT_FLAG_WAIT_FOR_COMPLETION = 0x1;
/** Send flag: trust MdlLength over the MDL's byte count (first MDL only, up to its page end). */
export const VMBUS_CHANNEL_FORMAT_FLAG_FORCE_MDL_LENGTH = 0x2;
/** Send flag: the inline buffer is pageable (KMCL copies it; here every buffer is copied anyway). */
export const VMBUS_CHANNEL_FORMAT_FLAG_PAGED_BUFFER = 0x4;
/** Mask of the send flags. */
export const VMBUS_CHANNEL_FORMAT_FLAGS = 0x7;
/** GPADL flag: read-only GPADL or mapping (advisory). */
export const VMBUS_CHANNEL_GPADL_FLAG_READ_ONLY = 0x1;
/** The spelling the create-GPADL pages use for the same flag. */
export const VMBUS_CHANNEL_GPADL_READ_ONLY = VMBUS_CHANNEL_GPADL_FLAG_READ_ONLY;
/** Mask of the GPADL flags. */
export const VMBUS_CHANNEL_GPADL_FLAGS = 0x1;
/** Channel init flag: pipe mode. */
export const VMBUS_CHANNEL_INIT_FLAG_IS_PIPE = 0x1;
/** Mask of the channel init flags. */
export const VMBUS_CHANNEL_INIT_FLAGS = 0x1;
/** Server init flag: loopback offer. */
export const VMBUS_SERVER_CHANNEL_INIT_FLAG_LOOPBACK_OFFER = 0x1;
/** Server init flag: the guest exposes a device interface for the channel. */
export const VMBUS_SERVER_CHANNEL_INIT_FLAG_ENUMERATE_DEVICE_INTERFACE = 0x2;
/** Server init flag: offer in pipe mode. */
export const VMBUS_SERVER_CHANNEL_INIT_FLAG_OFFER_AS_PIPE = 0x4;
/** Server init flag: after save/restore, offer a new channel. */
export const VMBUS_SERVER_CHANNEL_INIT_FLAG_FORCE_NEW_CHANNEL = 0x8;
/** Server init flag: the channel provides a socket interface. */
export const VMBUS_SERVER_CHANNEL_INIT_FLAG_TLNPI_PROVIDER_OFFER = 0x10;
/** Mask of the server init flags. */
export const VMBUS_SERVER_CHANNEL_INIT_FLAGS = 0x1f;
/** Process-packet flag: the packet carries external data (documented value). */
export const VMBUS_CHANNEL_PROCESS_PACKET_FLAG_EXTERNAL_DATA = 0x1;
/** Mask of the process-packet flags. */
export const VMBUS_CHANNEL_PROCESS_PACKET_FLAGS = 0x1;
/** Get-external-data flag: map read-only. */
export const VMBUS_CHANNEL_PACKET_EXTERNAL_DATA_FLAG_READ_ONLY = 0x1;
/** Mask of the get-external-data flags. */
export const VMBUS_CHANNEL_PACKET_EXTERNAL_DATA_FLAGS = 0x1;
/** Bytes of offer user data a server may set. */
export const VMBUS_SERVER_CHANNEL_INIT_MAXIMUM_OFFER_DATA = 120;
/** Interface GUID a client driver queries. */
export const KMCL_CLIENT_INTERFACE_TYPE = '4aecb860-e161-42bb-a5ca-77f3a9645905';
/** Client interface version 1. */
export const KMCL_CLIENT_INTERFACE_VERSION_V1 = 1;
/** Interface GUID a server driver queries. */
export const KMCL_SERVER_INTERFACE_TYPE = '83b21474-c5b9-4f65-b5e7-720c692bd371';
/** Server interface version 1. */
export const KMCL_SERVER_INTERFACE_VERSION_V1 = 1;
/** `VMB_CHANNEL_STATE_CHANGE_CALLBACKS.Version`. */
export const VMB_CHANNEL_STATE_CHANGE_CALLBACKS_VERSION = 1;
/** `sizeof(VMB_CHANNEL_STATE_CHANGE_CALLBACKS)` on x64: two ULONGs and five pointers. */
export const VMB_CHANNEL_STATE_CHANGE_CALLBACKS_SIZE = 48;
/** Largest packet on any KMCL ring (524,280 bytes: what `len8` can describe). */
export const KMCL_RING_MTU = 524_280;
/** The KMCL bit in a GPADL handle that marks it read-only (a decision of this library: docs/kmcl-decisions.md). */
export const KMCL_GPADL_HANDLE_READ_ONLY = 0x8000_0000;
