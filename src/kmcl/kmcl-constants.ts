/**
 * KMCL flags and constants by name (`../shared/reference/kmcl/API.md` §5).
 * Only the process-packet flag's value is documented by Microsoft; the
 * others are the values of the public WDK header copies the digest cites.
 *
 * @module
 */

/**
 * Send flag: the transaction ends when the peer sends a completion.
 *
 * @example
 * ```ts
 * import { createKmclPair, VMBUS_CHANNEL_FORMAT_FLAG_WAIT_FOR_COMPLETION } from 'vmbus-kmcl';
 * const { client, dispose } = await createKmclPair();
 * const reply = new Uint8Array(8);
 * const size = { value: 8 };
 * // Ask the peer for a completion and wait for it.
 * await client.sendSynchronousRequest(new Uint8Array(4), 4, null, VMBUS_CHANNEL_FORMAT_FLAG_WAIT_FOR_COMPLETION, reply, size, null);
 * await dispose();
 * ```
 */
export const VMBUS_CHANNEL_FORMAT_FLAG_WAIT_FOR_COMPLETION = 0x1;
/**
 * Send flag: trust MdlLength over the MDL's byte count (first MDL only, up to its page end).
 *
 * @example
 * ```ts
 * import { VMBUS_CHANNEL_FORMAT_FLAG_FORCE_MDL_LENGTH, VMBUS_CHANNEL_FORMAT_FLAG_WAIT_FOR_COMPLETION } from 'vmbus-kmcl';
 * // With VmbPacketSendWithExternalMdl: send exactly MdlLength bytes of the first MDL.
 * const flags = VMBUS_CHANNEL_FORMAT_FLAG_WAIT_FOR_COMPLETION | VMBUS_CHANNEL_FORMAT_FLAG_FORCE_MDL_LENGTH;
 * console.log(flags === 3); // true
 * ```
 */
export const VMBUS_CHANNEL_FORMAT_FLAG_FORCE_MDL_LENGTH = 0x2;
/**
 * Send flag: the inline buffer is pageable (KMCL copies it; here every buffer is copied anyway).
 *
 * @example
 * ```ts
 * import { VMBUS_CHANNEL_FORMAT_FLAG_PAGED_BUFFER, VMBUS_CHANNEL_FORMAT_FLAGS } from 'vmbus-kmcl';
 * console.log((VMBUS_CHANNEL_FORMAT_FLAGS & VMBUS_CHANNEL_FORMAT_FLAG_PAGED_BUFFER) !== 0); // true: accepted, no effect here
 * ```
 */
export const VMBUS_CHANNEL_FORMAT_FLAG_PAGED_BUFFER = 0x4;
/**
 * Mask of the send flags.
 *
 * @example
 * ```ts
 * import { NTSTATUS, VMBUS_CHANNEL_FORMAT_FLAGS, VmbPacketAllocate, VmbPacketSend, createKmclPair } from 'vmbus-kmcl';
 * const { client, dispose } = await createKmclPair();
 * const packet = VmbPacketAllocate(client)!;
 * const unknown = ~VMBUS_CHANNEL_FORMAT_FLAGS & 0x100;
 * console.log(VmbPacketSend(packet, new Uint8Array(1), 1, null, unknown) === NTSTATUS.STATUS_INVALID_PARAMETER_5); // true
 * await dispose();
 * ```
 */
export const VMBUS_CHANNEL_FORMAT_FLAGS = 0x7;
/**
 * GPADL flag: read-only GPADL or mapping (advisory).
 *
 * @example
 * ```ts
 * import { MemoryDescriptor, NTSTATUS, VMBUS_CHANNEL_GPADL_FLAG_READ_ONLY, VmbChannelCreateGpadlFromMdl, createKmclPair } from 'vmbus-kmcl';
 * const { bus, client, dispose } = await createKmclPair();
 * const mdl = new MemoryDescriptor(bus.memory, bus.guest.pages.allocate(1), 0, 4096);
 * const handle: { value?: number } = {};
 * const status = await VmbChannelCreateGpadlFromMdl(client, VMBUS_CHANNEL_GPADL_FLAG_READ_ONLY, mdl, 0, 0, handle);
 * console.log(status === NTSTATUS.STATUS_SUCCESS); // true: the host may only read it
 * await dispose();
 * ```
 */
export const VMBUS_CHANNEL_GPADL_FLAG_READ_ONLY = 0x1;
/**
 * The spelling the create-GPADL pages use for the same flag.
 *
 * @example
 * ```ts
 * import { VMBUS_CHANNEL_GPADL_FLAG_READ_ONLY, VMBUS_CHANNEL_GPADL_READ_ONLY } from 'vmbus-kmcl';
 * console.log(VMBUS_CHANNEL_GPADL_READ_ONLY === VMBUS_CHANNEL_GPADL_FLAG_READ_ONLY); // true: the same bit, by its other name
 * ```
 */
export const VMBUS_CHANNEL_GPADL_READ_ONLY = VMBUS_CHANNEL_GPADL_FLAG_READ_ONLY;
/**
 * Mask of the GPADL flags.
 *
 * @example
 * ```ts
 * import { VMBUS_CHANNEL_GPADL_FLAGS } from 'vmbus-kmcl';
 * const flags = 1;
 * console.log((flags & ~VMBUS_CHANNEL_GPADL_FLAGS) === 0); // true: only known bits
 * ```
 */
export const VMBUS_CHANNEL_GPADL_FLAGS = 0x1;
/**
 * Channel init flag: pipe mode.
 *
 * @example
 * ```ts
 * import { VMBUS_CHANNEL_INIT_FLAG_IS_PIPE, createKmclPair } from 'vmbus-kmcl';
 * const { dispose } = await createKmclPair({ configureClient: (c) => c.initSetFlags(VMBUS_CHANNEL_INIT_FLAG_IS_PIPE) });
 * await dispose();
 * ```
 */
export const VMBUS_CHANNEL_INIT_FLAG_IS_PIPE = 0x1;
/**
 * Mask of the channel init flags.
 *
 * @example
 * ```ts
 * import { VMBUS_CHANNEL_INIT_FLAG_IS_PIPE, VMBUS_CHANNEL_INIT_FLAGS } from 'vmbus-kmcl';
 * console.log(VMBUS_CHANNEL_INIT_FLAGS === VMBUS_CHANNEL_INIT_FLAG_IS_PIPE); // true: the only init flag
 * ```
 */
export const VMBUS_CHANNEL_INIT_FLAGS = 0x1;
/**
 * Server init flag: loopback offer.
 *
 * @example
 * ```ts
 * import { VMBUS_SERVER_CHANNEL_INIT_FLAG_LOOPBACK_OFFER, createKmclPair } from 'vmbus-kmcl';
 * const { dispose } = await createKmclPair({ configureServer: (c) => c.initSetServerFlags(VMBUS_SERVER_CHANNEL_INIT_FLAG_LOOPBACK_OFFER) }); // offer to the host itself
 * console.log(VMBUS_SERVER_CHANNEL_INIT_FLAG_LOOPBACK_OFFER === 1); // true
 * await dispose();
 * ```
 */
export const VMBUS_SERVER_CHANNEL_INIT_FLAG_LOOPBACK_OFFER = 0x1;
/**
 * Server init flag: the guest exposes a device interface for the channel.
 *
 * @example
 * ```ts
 * import { VMBUS_SERVER_CHANNEL_INIT_FLAG_ENUMERATE_DEVICE_INTERFACE, createKmclPair } from 'vmbus-kmcl';
 * const { dispose } = await createKmclPair({ configureServer: (c) => c.initSetServerFlags(VMBUS_SERVER_CHANNEL_INIT_FLAG_ENUMERATE_DEVICE_INTERFACE) }); // the guest enumerates a device interface
 * console.log(VMBUS_SERVER_CHANNEL_INIT_FLAG_ENUMERATE_DEVICE_INTERFACE === 2); // true
 * await dispose();
 * ```
 */
export const VMBUS_SERVER_CHANNEL_INIT_FLAG_ENUMERATE_DEVICE_INTERFACE = 0x2;
/**
 * Server init flag: offer in pipe mode.
 *
 * @example
 * ```ts
 * import { VMBUS_SERVER_CHANNEL_INIT_FLAG_OFFER_AS_PIPE, createKmclPair } from 'vmbus-kmcl';
 * const { dispose } = await createKmclPair({ configureServer: (c) => c.initSetServerFlags(VMBUS_SERVER_CHANNEL_INIT_FLAG_OFFER_AS_PIPE) }); // offer in pipe mode
 * console.log(VMBUS_SERVER_CHANNEL_INIT_FLAG_OFFER_AS_PIPE === 4); // true
 * await dispose();
 * ```
 */
export const VMBUS_SERVER_CHANNEL_INIT_FLAG_OFFER_AS_PIPE = 0x4;
/**
 * Server init flag: after save/restore, offer a new channel.
 *
 * @example
 * ```ts
 * import { VMBUS_SERVER_CHANNEL_INIT_FLAG_FORCE_NEW_CHANNEL, createKmclPair } from 'vmbus-kmcl';
 * const { dispose } = await createKmclPair({ configureServer: (c) => c.initSetServerFlags(VMBUS_SERVER_CHANNEL_INIT_FLAG_FORCE_NEW_CHANNEL) }); // always a new channel
 * console.log(VMBUS_SERVER_CHANNEL_INIT_FLAG_FORCE_NEW_CHANNEL === 8); // true
 * await dispose();
 * ```
 */
export const VMBUS_SERVER_CHANNEL_INIT_FLAG_FORCE_NEW_CHANNEL = 0x8;
/**
 * Server init flag: the channel provides a socket interface.
 *
 * @example
 * ```ts
 * import { VMBUS_SERVER_CHANNEL_INIT_FLAG_TLNPI_PROVIDER_OFFER, createKmclPair } from 'vmbus-kmcl';
 * const { dispose } = await createKmclPair({ configureServer: (c) => c.initSetServerFlags(VMBUS_SERVER_CHANNEL_INIT_FLAG_TLNPI_PROVIDER_OFFER) }); // a TLNPI provider offer
 * console.log(VMBUS_SERVER_CHANNEL_INIT_FLAG_TLNPI_PROVIDER_OFFER === 16); // true
 * await dispose();
 * ```
 */
export const VMBUS_SERVER_CHANNEL_INIT_FLAG_TLNPI_PROVIDER_OFFER = 0x10;
/**
 * Mask of the server init flags.
 *
 * @example
 * ```ts
 * import { VMBUS_SERVER_CHANNEL_INIT_FLAGS } from 'vmbus-kmcl';
 * console.log((0x20 & VMBUS_SERVER_CHANNEL_INIT_FLAGS) === 0); // true: 0x20 is refused with STATUS_INVALID_PARAMETER_2
 * ```
 */
export const VMBUS_SERVER_CHANNEL_INIT_FLAGS = 0x1f;
/**
 * Process-packet flag: the packet carries external data (documented value).
 *
 * @example
 * ```ts
 * import { VMBUS_CHANNEL_PROCESS_PACKET_FLAG_EXTERNAL_DATA, createKmclPair } from 'vmbus-kmcl';
 * const { dispose } = await createKmclPair({
 *   configureServer: (c) =>
 *     c.initSetProcessPacketCallbacks((ch, packet, _buffer, _length, flags) => {
 *       if (flags & VMBUS_CHANNEL_PROCESS_PACKET_FLAG_EXTERNAL_DATA) ch.getExternalData(packet, 0);
 *       ch.completePacket(packet, null, 0);
 *     }),
 * });
 * await dispose();
 * ```
 */
export const VMBUS_CHANNEL_PROCESS_PACKET_FLAG_EXTERNAL_DATA = 0x1;
/**
 * Mask of the process-packet flags.
 *
 * @example
 * ```ts
 * import { VMBUS_CHANNEL_PROCESS_PACKET_FLAG_EXTERNAL_DATA, VMBUS_CHANNEL_PROCESS_PACKET_FLAGS } from 'vmbus-kmcl';
 * console.log(VMBUS_CHANNEL_PROCESS_PACKET_FLAGS === VMBUS_CHANNEL_PROCESS_PACKET_FLAG_EXTERNAL_DATA); // true
 * ```
 */
export const VMBUS_CHANNEL_PROCESS_PACKET_FLAGS = 0x1;
/**
 * Get-external-data flag: map read-only.
 *
 * @example
 * ```ts
 * import { VMBUS_CHANNEL_PACKET_EXTERNAL_DATA_FLAG_READ_ONLY, createKmclPair } from 'vmbus-kmcl';
 * const { dispose } = await createKmclPair({
 *   configureServer: (c) =>
 *     c.initSetProcessPacketCallbacks((ch, packet, _buffer, _length, flags) => {
 *       if (flags) ch.getExternalData(packet, VMBUS_CHANNEL_PACKET_EXTERNAL_DATA_FLAG_READ_ONLY); // only reads it
 *       ch.completePacket(packet, null, 0);
 *     }),
 * });
 * await dispose();
 * ```
 */
export const VMBUS_CHANNEL_PACKET_EXTERNAL_DATA_FLAG_READ_ONLY = 0x1;
/**
 * Mask of the get-external-data flags.
 *
 * @example
 * ```ts
 * import { VMBUS_CHANNEL_PACKET_EXTERNAL_DATA_FLAG_READ_ONLY, VMBUS_CHANNEL_PACKET_EXTERNAL_DATA_FLAGS } from 'vmbus-kmcl';
 * console.log(VMBUS_CHANNEL_PACKET_EXTERNAL_DATA_FLAGS === VMBUS_CHANNEL_PACKET_EXTERNAL_DATA_FLAG_READ_ONLY); // true
 * ```
 */
export const VMBUS_CHANNEL_PACKET_EXTERNAL_DATA_FLAGS = 0x1;
/**
 * Bytes of offer user data a server may set.
 *
 * @example
 * ```ts
 * import { VMBUS_SERVER_CHANNEL_INIT_MAXIMUM_OFFER_DATA } from 'vmbus-kmcl';
 * const userDefined = new Uint8Array(VMBUS_SERVER_CHANNEL_INIT_MAXIMUM_OFFER_DATA); // the most an offer carries
 * console.log(userDefined.length === 120); // true
 * ```
 */
export const VMBUS_SERVER_CHANNEL_INIT_MAXIMUM_OFFER_DATA = 120;
/**
 * Interface GUID a client driver queries.
 *
 * @example
 * ```ts
 * import { KMCL_CLIENT_INTERFACE_TYPE, KMCL_CLIENT_INTERFACE_V1 } from 'vmbus-kmcl';
 * // A driver queries the interface by type and version, then calls through the table.
 * console.log(KMCL_CLIENT_INTERFACE_TYPE.length === 36, typeof KMCL_CLIENT_INTERFACE_V1.VmbChannelAllocate); // true function
 * ```
 */
export const KMCL_CLIENT_INTERFACE_TYPE = '4aecb860-e161-42bb-a5ca-77f3a9645905';
/**
 * Client interface version 1.
 *
 * @example
 * ```ts
 * import { KMCL_CLIENT_INTERFACE_V1, KMCL_CLIENT_INTERFACE_VERSION_V1 } from 'vmbus-kmcl';
 * console.log(KMCL_CLIENT_INTERFACE_V1.Version === KMCL_CLIENT_INTERFACE_VERSION_V1); // true
 * ```
 */
export const KMCL_CLIENT_INTERFACE_VERSION_V1 = 1;
/**
 * Interface GUID a server driver queries.
 *
 * @example
 * ```ts
 * import { KMCL_CLIENT_INTERFACE_TYPE, KMCL_SERVER_INTERFACE_TYPE } from 'vmbus-kmcl';
 * console.log(new Set<string>([KMCL_SERVER_INTERFACE_TYPE, KMCL_CLIENT_INTERFACE_TYPE]).size === 2); // true: two interfaces
 * ```
 */
export const KMCL_SERVER_INTERFACE_TYPE = '83b21474-c5b9-4f65-b5e7-720c692bd371';
/**
 * Server interface version 1.
 *
 * @example
 * ```ts
 * import { KMCL_SERVER_INTERFACE_V1, KMCL_SERVER_INTERFACE_VERSION_V1 } from 'vmbus-kmcl';
 * console.log(KMCL_SERVER_INTERFACE_V1.Version === KMCL_SERVER_INTERFACE_VERSION_V1); // true
 * ```
 */
export const KMCL_SERVER_INTERFACE_VERSION_V1 = 1;
/**
 * `VMB_CHANNEL_STATE_CHANGE_CALLBACKS.Version`.
 *
 * @example
 * ```ts
 * import { VMB_CHANNEL_STATE_CHANGE_CALLBACKS_INIT, VMB_CHANNEL_STATE_CHANGE_CALLBACKS_VERSION } from 'vmbus-kmcl';
 * console.log(VMB_CHANNEL_STATE_CHANGE_CALLBACKS_INIT().Version === VMB_CHANNEL_STATE_CHANGE_CALLBACKS_VERSION); // true
 * ```
 */
export const VMB_CHANNEL_STATE_CHANGE_CALLBACKS_VERSION = 1;
/**
 * `sizeof(VMB_CHANNEL_STATE_CHANGE_CALLBACKS)` on x64: two ULONGs and five pointers.
 *
 * @example
 * ```ts
 * import { VMB_CHANNEL_STATE_CHANGE_CALLBACKS_INIT, VMB_CHANNEL_STATE_CHANGE_CALLBACKS_SIZE } from 'vmbus-kmcl';
 * console.log(VMB_CHANNEL_STATE_CHANGE_CALLBACKS_INIT().Size === VMB_CHANNEL_STATE_CHANGE_CALLBACKS_SIZE); // true
 * ```
 */
export const VMB_CHANNEL_STATE_CHANGE_CALLBACKS_SIZE = 48;
/**
 * Largest packet on any KMCL ring (524,280 bytes: what `len8` can describe).
 *
 * @example
 * ```ts
 * import { KMCL_RING_MTU, NTSTATUS, VmbChannelInitSetMaximumPacketSize, createLocalBus, KmclChannel } from 'vmbus-kmcl';
 * const bus = createLocalBus();
 * const channel = new KmclChannel({ guest: bus.guest }, false);
 * console.log(VmbChannelInitSetMaximumPacketSize(channel, KMCL_RING_MTU) === NTSTATUS.STATUS_INVALID_PARAMETER_2); // true: too large
 * bus.dispose();
 * ```
 */
export const KMCL_RING_MTU = 524_280;
/**
 * The KMCL bit in a GPADL handle that marks it read-only (a decision of this library: docs/kmcl-decisions.md).
 *
 * @example
 * ```ts
 * import { KMCL_GPADL_HANDLE_READ_ONLY, MemoryDescriptor, VMBUS_CHANNEL_GPADL_FLAG_READ_ONLY, createKmclPair } from 'vmbus-kmcl';
 * const { bus, client, dispose } = await createKmclPair();
 * const mdl = new MemoryDescriptor(bus.memory, bus.guest.pages.allocate(1), 0, 4096);
 * const handle = await client.createGpadl(VMBUS_CHANNEL_GPADL_FLAG_READ_ONLY, mdl);
 * console.log((handle & KMCL_GPADL_HANDLE_READ_ONLY) !== 0); // true: the handle says it is read-only
 * await dispose();
 * ```
 */
export const KMCL_GPADL_HANDLE_READ_ONLY = 0x8000_0000;
