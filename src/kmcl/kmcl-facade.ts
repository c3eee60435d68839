/**
 * The Windows face of the KMCL: the routines of `vmbuskernelmodeclientlibapi.h`
 * with their Windows names, argument order and NTSTATUS results, reachable
 * one by one or as `KMCL_CLIENT_INTERFACE_V1` (41 routines in the documented
 * order) and `KMCL_SERVER_INTERFACE_V1` (those followed by the 14
 * server-only routines). Reference pages: Microsoft's
 * "vmbuskernelmodeclientlibapi.h" documentation (CC BY 4.0), digested in
 * `../shared/reference/kmcl/API.md`.
 *
 * JavaScript cannot block a thread, so what blocks in Windows returns a
 * Promise here: VmbChannelDisable, VmbChannelPause, VmbChannelDeleteGpadl,
 * VmbChannelCreateGpadlFrom*, VmbChannelSendSynchronousRequest. Out
 * parameters are objects whose `value` the routine sets. Void routines that
 * are misused (freeing a packet in flight, completing twice) do nothing and
 * count the misuse in the channel's stats.
 *
 * @module
 */

import type { HostPartition } from '../bus/vmbus-host.js';
import { MemoryDescriptor } from '../memory/memory-descriptor.js';
import type { Guid } from '../protocol/guid.js';
import { NTSTATUS } from '../status/ntstatus.js';
import {
  KmclChannel,
  type KmclParent,
  type KmclVmbusHandle,
  type PnpFailureCallback,
  type ProcessingCompleteCallback,
  type ProcessPacketCallback,
  type RestorePacketCallback,
  type SavePacketCallback,
  type StateChangeCallbacks,
} from './kmcl-channel.js';
import {
  KMCL_CLIENT_INTERFACE_VERSION_V1,
  KMCL_SERVER_INTERFACE_VERSION_V1,
  VMBUS_CHANNEL_FORMAT_FLAG_FORCE_MDL_LENGTH,
  VMBUS_CHANNEL_FORMAT_FLAG_WAIT_FOR_COMPLETION,
} from './kmcl-constants.js';
import { KmclError } from './kmcl-error.js';
import type { KmclIncoming } from './kmcl-incoming.js';
import {
  type DriverCompletionRoutine,
  type ExternalData,
  KmclPacket,
  PACKET_OBJECT,
} from './kmcl-packet.js';

/**
 * `VMBCHANNEL`.
 *
 * @example
 * ```ts
 * import { createLocalBus, type VMBCHANNEL, VmbChannelAllocate } from 'vmbus-kmcl';
 * const bus = createLocalBus();
 * const channel: { value?: VMBCHANNEL } = {};
 * VmbChannelAllocate({ guest: bus.guest }, false, channel);
 * console.log(channel.value?.state); // disabled
 * bus.dispose();
 * ```
 */
export type VMBCHANNEL = KmclChannel;
/**
 * `VMBPACKETCOMPLETION`.
 *
 * @example
 * ```ts
 * import { createKmclPair, type VMBPACKETCOMPLETION, VmbChannelInitSetProcessPacketCallbacks, VmbChannelPacketComplete } from 'vmbus-kmcl';
 * const held: VMBPACKETCOMPLETION[] = [];
 * const { dispose } = await createKmclPair({
 *   configureServer: (c) => VmbChannelInitSetProcessPacketCallbacks(c, (_ch, packet) => held.push(packet)),
 * });
 * for (const packet of held) VmbChannelPacketComplete(packet, null, 0); // complete later, exactly once
 * await dispose();
 * ```
 */
export type VMBPACKETCOMPLETION = KmclIncoming;
/**
 * `VMBPACKET`: a packet from VmbPacketAllocate, or the caller memory given to VmbPacketInitialize.
 *
 * @example
 * ```ts
 * import { createKmclPair, type VMBPACKET, VmbChannelSizeofPacket, VmbPacketAllocate, VmbPacketInitialize } from 'vmbus-kmcl';
 * const { client, dispose } = await createKmclPair();
 * const owned: VMBPACKET = VmbPacketAllocate(client)!; // library memory
 * const mine: VMBPACKET = new Uint8Array(VmbChannelSizeofPacket(client)); // caller memory
 * VmbPacketInitialize(client, mine, mine.byteLength);
 * console.log(owned !== mine); // true: both are packets now
 * await dispose();
 * ```
 */
export type VMBPACKET = KmclPacket | ArrayBuffer | SharedArrayBuffer | Uint8Array;
/**
 * An MDL, or an MDL chain (the pieces in order).
 *
 * @example
 * ```ts
 * import { createKmclPair, type MDL, MemoryDescriptor } from 'vmbus-kmcl';
 * const { bus, dispose } = await createKmclPair();
 * const one = new MemoryDescriptor(bus.memory, bus.guest.pages.allocate(1), 0, 4096);
 * const chain: MDL = [one, new MemoryDescriptor(bus.memory, bus.guest.pages.allocate(1), 0, 100)];
 * const single: MDL = one;
 * console.log(Array.isArray(chain), Array.isArray(single)); // true false
 * await dispose();
 * ```
 */
export type MDL = MemoryDescriptor | readonly MemoryDescriptor[];
/**
 * An out parameter: the routine sets `value`.
 *
 * @example
 * ```ts
 * import { createKmclPair, type Out, VmbChannelGetMmioSpace } from 'vmbus-kmcl';
 * const { client, dispose } = await createKmclPair();
 * const address: Out<bigint> = {};
 * const size: Out<bigint> = {};
 * VmbChannelGetMmioSpace(client, address, size); // the routine fills `value`
 * console.log(size.value); // 0n
 * await dispose();
 * ```
 */
export interface Out<T> {
  value?: T;
}

/**
 * `EVT_VMB_PACKET_COMPLETION_ROUTINE`.
 *
 * @example
 * ```ts
 * import { createKmclPair, type EVT_VMB_PACKET_COMPLETION_ROUTINE, VmbPacketAllocate, VmbPacketSend, VmbPacketSetCompletionRoutine } from 'vmbus-kmcl';
 * const { client, dispose } = await createKmclPair();
 * let finished!: () => void;
 * const done = new Promise<void>((resolve) => {
 *   finished = resolve;
 * });
 * const onComplete: EVT_VMB_PACKET_COMPLETION_ROUTINE = (_packet, status) => {
 *   console.log('completed', status); // completed 0
 *   finished();
 * };
 * const packet = VmbPacketAllocate(client)!;
 * VmbPacketSetCompletionRoutine(packet, onComplete);
 * VmbPacketSend(packet, new Uint8Array(8), 8, null, 1);
 * await done;
 * await dispose();
 * ```
 */
export type EVT_VMB_PACKET_COMPLETION_ROUTINE = (
  packet: VMBPACKET,
  status: number,
  buffer: Uint8Array,
  bufferLength: number,
) => void;
/**
 * `EVT_VMB_CHANNEL_OPENED`.
 *
 * @example
 * ```ts
 * import { type EVT_VMB_CHANNEL_OPENED, VMB_CHANNEL_STATE_CHANGE_CALLBACKS_INIT, createKmclPair } from 'vmbus-kmcl';
 * const callback: EVT_VMB_CHANNEL_OPENED = () => 0; // return a failure status to refuse the open
 * const { dispose } = await createKmclPair({
 *   configureClient: (_c, callbacks) => {
 *     callbacks.EvtChannelOpened = callback;
 *   },
 * });
 * const fresh = VMB_CHANNEL_STATE_CHANGE_CALLBACKS_INIT();
 * fresh.EvtChannelOpened = callback; // INIT clears every callback, so set them after it
 * console.log(fresh.EvtChannelOpened === callback); // true
 * await dispose();
 * ```
 */
export type EVT_VMB_CHANNEL_OPENED = (channel: VMBCHANNEL) => number;
/**
 * `EVT_VMB_CHANNEL_CLOSED`.
 *
 * @example
 * ```ts
 * import { type EVT_VMB_CHANNEL_CLOSED, VMB_CHANNEL_STATE_CHANGE_CALLBACKS_INIT, createKmclPair } from 'vmbus-kmcl';
 * const callback: EVT_VMB_CHANNEL_CLOSED = (channel) => console.log(channel.state); // the peer closed, or the channel was disabled
 * const { dispose } = await createKmclPair({
 *   configureClient: (_c, callbacks) => {
 *     callbacks.EvtChannelClosed = callback;
 *   },
 * });
 * const fresh = VMB_CHANNEL_STATE_CHANGE_CALLBACKS_INIT();
 * fresh.EvtChannelClosed = callback; // INIT clears every callback, so set them after it
 * console.log(fresh.EvtChannelClosed === callback); // true
 * await dispose();
 * ```
 */
export type EVT_VMB_CHANNEL_CLOSED = (channel: VMBCHANNEL) => void;
/**
 * `EVT_VMB_CHANNEL_SUSPEND`.
 *
 * @example
 * ```ts
 * import { type EVT_VMB_CHANNEL_SUSPEND, VMB_CHANNEL_STATE_CHANGE_CALLBACKS_INIT, createKmclPair } from 'vmbus-kmcl';
 * const callback: EVT_VMB_CHANNEL_SUSPEND = (channel) => console.log(channel.state); // incoming packets stop
 * const { dispose } = await createKmclPair({
 *   configureClient: (_c, callbacks) => {
 *     callbacks.EvtChannelSuspend = callback;
 *   },
 * });
 * const fresh = VMB_CHANNEL_STATE_CHANGE_CALLBACKS_INIT();
 * fresh.EvtChannelSuspend = callback; // INIT clears every callback, so set them after it
 * console.log(fresh.EvtChannelSuspend === callback); // true
 * await dispose();
 * ```
 */
export type EVT_VMB_CHANNEL_SUSPEND = (channel: VMBCHANNEL) => void;
/**
 * `EVT_VMB_CHANNEL_STARTED`.
 *
 * @example
 * ```ts
 * import { type EVT_VMB_CHANNEL_STARTED, VMB_CHANNEL_STATE_CHANGE_CALLBACKS_INIT, createKmclPair } from 'vmbus-kmcl';
 * const callback: EVT_VMB_CHANNEL_STARTED = (channel) => console.log(channel.state); // incoming packets may arrive
 * const { dispose } = await createKmclPair({
 *   configureClient: (_c, callbacks) => {
 *     callbacks.EvtChannelStarted = callback;
 *   },
 * });
 * const fresh = VMB_CHANNEL_STATE_CHANGE_CALLBACKS_INIT();
 * fresh.EvtChannelStarted = callback; // INIT clears every callback, so set them after it
 * console.log(fresh.EvtChannelStarted === callback); // true
 * await dispose();
 * ```
 */
export type EVT_VMB_CHANNEL_STARTED = (channel: VMBCHANNEL) => void;
/**
 * `EVT_VMB_CHANNEL_POST_STARTED`.
 *
 * @example
 * ```ts
 * import { type EVT_VMB_CHANNEL_POST_STARTED, VMB_CHANNEL_STATE_CHANGE_CALLBACKS_INIT, createKmclPair } from 'vmbus-kmcl';
 * const callback: EVT_VMB_CHANNEL_POST_STARTED = (channel) => console.log(channel.state); // sending is allowed
 * const { dispose } = await createKmclPair({
 *   configureClient: (_c, callbacks) => {
 *     callbacks.EvtChannelPostStarted = callback;
 *   },
 * });
 * const fresh = VMB_CHANNEL_STATE_CHANGE_CALLBACKS_INIT();
 * fresh.EvtChannelPostStarted = callback; // INIT clears every callback, so set them after it
 * console.log(fresh.EvtChannelPostStarted === callback); // true
 * await dispose();
 * ```
 */
export type EVT_VMB_CHANNEL_POST_STARTED = (channel: VMBCHANNEL) => void;
/**
 * `EVT_VMB_CHANNEL_PROCESS_PACKET`.
 *
 * @example
 * ```ts
 * import { type EVT_VMB_CHANNEL_PROCESS_PACKET, VmbChannelPacketComplete, VmbChannelInitSetProcessPacketCallbacks, createKmclPair } from 'vmbus-kmcl';
 * const onPacket: EVT_VMB_CHANNEL_PROCESS_PACKET = (_channel, packet, buffer, length) => VmbChannelPacketComplete(packet, buffer, length);
 * const { dispose } = await createKmclPair({ configureServer: (c) => VmbChannelInitSetProcessPacketCallbacks(c, onPacket) });
 * await dispose();
 * ```
 */
export type EVT_VMB_CHANNEL_PROCESS_PACKET = ProcessPacketCallback;
/**
 * `EVT_VMB_CHANNEL_PROCESSING_COMPLETE`.
 *
 * @example
 * ```ts
 * import { type EVT_VMB_CHANNEL_PROCESSING_COMPLETE, VmbChannelPacketComplete, VmbChannelInitSetProcessPacketCallbacks, createKmclPair } from 'vmbus-kmcl';
 * const onBatch: EVT_VMB_CHANNEL_PROCESSING_COMPLETE = (_channel, count) => console.log('batch of', count);
 * const { dispose } = await createKmclPair({
 *   configureServer: (c) => VmbChannelInitSetProcessPacketCallbacks(c, (_ch, p) => VmbChannelPacketComplete(p, null, 0), onBatch),
 * });
 * await dispose();
 * ```
 */
export type EVT_VMB_CHANNEL_PROCESSING_COMPLETE = ProcessingCompleteCallback;
/**
 * `EVT_VMB_CHANNEL_PNP_FAILURE`.
 *
 * @example
 * ```ts
 * import { type EVT_VMB_CHANNEL_PNP_FAILURE, type VMBCHANNEL, VmbChannelAllocate, VmbClientChannelInitSetTargetPnp, createLocalBus } from 'vmbus-kmcl';
 * const bus = createLocalBus();
 * const out: { value?: VMBCHANNEL } = {};
 * VmbChannelAllocate({ guest: bus.guest }, false, out);
 * const onFailure: EVT_VMB_CHANNEL_PNP_FAILURE = (_channel, status) => console.log('open failed', status);
 * VmbClientChannelInitSetTargetPnp(out.value!, 'ba6163d9-04a1-4d29-b605-72e2ffb1dc7f', null, onFailure);
 * bus.dispose();
 * ```
 */
export type EVT_VMB_CHANNEL_PNP_FAILURE = PnpFailureCallback;
/**
 * `EVT_VMB_CHANNEL_SAVE_PACKET`.
 *
 * @example
 * ```ts
 * import { type EVT_VMB_CHANNEL_SAVE_PACKET, NTSTATUS } from 'vmbus-kmcl';
 * const save: EVT_VMB_CHANNEL_SAVE_PACKET = (_channel, _packet, _buffer, _size, needed) => {
 *   needed.value = 0; // nothing of the driver's own to keep
 *   return NTSTATUS.STATUS_SUCCESS;
 * };
 * console.log(typeof save); // function
 * ```
 */
export type EVT_VMB_CHANNEL_SAVE_PACKET = SavePacketCallback;
/**
 * `EVT_VMB_CHANNEL_RESTORE_PACKET`.
 *
 * @example
 * ```ts
 * import { type EVT_VMB_CHANNEL_RESTORE_PACKET, VmbPacketAllocate, VmbPacketRestore } from 'vmbus-kmcl';
 * const restore: EVT_VMB_CHANNEL_RESTORE_PACKET = (channel, lib, libSize) => VmbPacketRestore(VmbPacketAllocate(channel)!, lib, libSize);
 * console.log(typeof restore); // function
 * ```
 */
export type EVT_VMB_CHANNEL_RESTORE_PACKET = RestorePacketCallback;

/**
 * Packets of caller memory that cannot carry {@link PACKET_OBJECT}
 * (a buffer made non-extensible before VmbPacketInitialize).
 */
const initialized = new WeakMap<object, KmclPacket>();

/**
 * The packet object of a handle: the handle's {@link PACKET_OBJECT}
 * property (set by VmbPacketInitialize on the caller's buffer, or the
 * library-owned packet itself), else the table of non-extensible buffers.
 */
function packetOf(handle: VMBPACKET): KmclPacket | undefined {
  if (handle === null || handle === undefined) return undefined;
  const packet = (handle as { [PACKET_OBJECT]?: KmclPacket })[PACKET_OBJECT];
  return packet !== undefined ? packet : initialized.get(handle);
}

const EMPTY_BUFFER = new Uint8Array(0);

/** The NTSTATUS of an error a routine threw (other errors propagate). */
function statusOf(e: unknown): number {
  if (e instanceof KmclError) return e.status;
  if (e instanceof TypeError || e instanceof RangeError) return NTSTATUS.STATUS_INVALID_PARAMETER;
  throw e;
}

function status(run: () => void): number {
  try {
    run();
    return NTSTATUS.STATUS_SUCCESS;
  } catch (e) {
    return statusOf(e);
  }
}

async function asyncStatus(run: () => Promise<void>): Promise<number> {
  try {
    await run();
    return NTSTATUS.STATUS_SUCCESS;
  } catch (e) {
    if (e instanceof KmclError) return e.status;
    throw e;
  }
}

function quietly(channel: KmclChannel | undefined, run: () => void): void {
  try {
    run();
  } catch (e) {
    if (!(e instanceof KmclError)) throw e;
    if (channel) channel.stats.misuse++;
  }
}

function chainOf(mdl: MDL): readonly MemoryDescriptor[] {
  return mdl instanceof MemoryDescriptor ? [mdl] : mdl;
}

// --- 3B lifecycle --------------------------------------------------------

/**
 * VmbChannelAllocate: Creates a channel object in the Disabled state, ready for the Init* calls.
 *
 * Reference: [VmbChannelAllocate](https://learn.microsoft.com/windows-hardware/drivers/ddi/vmbuskernelmodeclientlibapi/nc-vmbuskernelmodeclientlibapi-fn_vmb_channel_allocate).
 *
 * @param ParentDeviceObject - where the channel lives: `{ guest }` for a client, `{ host, partition }` for a server
 * @param IsServer - true for a server (host-side, VSP) channel, false for a client (guest-side, VSC) channel
 * @param Channel - receives the new channel
 * @returns `STATUS_SUCCESS`, or `STATUS_INVALID_PARAMETER_1` when the parent does not fit the side
 * @example
 * ```ts
 * import { createLocalBus, NTSTATUS, type VMBCHANNEL, VmbChannelAllocate, VmbChannelCleanup } from 'vmbus-kmcl';
 * const bus = createLocalBus();
 * const out: { value?: VMBCHANNEL } = {};
 * if (VmbChannelAllocate({ guest: bus.guest }, false, out) === NTSTATUS.STATUS_SUCCESS) VmbChannelCleanup(out.value!);
 * bus.dispose();
 * ```
 */
export function VmbChannelAllocate(
  ParentDeviceObject: KmclParent,
  IsServer: boolean,
  Channel: Out<VMBCHANNEL>,
): number {
  return status(() => {
    Channel.value = new KmclChannel(ParentDeviceObject, IsServer);
  });
}
/**
 * VmbChannelCleanup: Destroys a channel that is disabled (or never enabled). On an enabled channel it does nothing and counts the misuse in `channel.stats.misuse`.
 *
 * Reference: [VmbChannelCleanup](https://learn.microsoft.com/windows-hardware/drivers/ddi/vmbuskernelmodeclientlibapi/nc-vmbuskernelmodeclientlibapi-fn_vmb_channel_cleanup).
 *
 * @param Channel - the channel
 * @example
 * ```ts
 * import { createLocalBus, type VMBCHANNEL, VmbChannelAllocate, VmbChannelCleanup } from 'vmbus-kmcl';
 * const bus = createLocalBus();
 * const out: { value?: VMBCHANNEL } = {};
 * VmbChannelAllocate({ guest: bus.guest }, false, out);
 * VmbChannelCleanup(out.value!);
 * bus.dispose();
 * ```
 */
export function VmbChannelCleanup(Channel: VMBCHANNEL): void {
  quietly(Channel, () => Channel.cleanup());
}
/**
 * VmbChannelEnable: Enables a configured channel: a server offers it, a client opens the offer it targets. Returns without waiting for the peer; the state callbacks report progress.
 *
 * Reference: [VmbChannelEnable](https://learn.microsoft.com/windows-hardware/drivers/ddi/vmbuskernelmodeclientlibapi/nc-vmbuskernelmodeclientlibapi-fn_vmb_channel_enable).
 *
 * @param Channel - the channel
 * @returns `STATUS_SUCCESS`; `STATUS_INVALID_DEVICE_STATE` when the channel is not disabled, has no process-packet callback or no target, or a server has no partition
 * @example
 * ```ts
 * import { createLocalBus, NTSTATUS, type VMBCHANNEL, VmbChannelAllocate, VmbChannelDisable, VmbChannelEnable, VmbChannelInitSetProcessPacketCallbacks, VmbChannelPacketComplete, VmbServerChannelInitSetTargetInterfaceId } from 'vmbus-kmcl';
 * const bus = createLocalBus();
 * const out: { value?: VMBCHANNEL } = {};
 * VmbChannelAllocate({ host: bus.host, partition: bus.partition }, true, out);
 * VmbServerChannelInitSetTargetInterfaceId(out.value!, 'c376c1c3-d276-48d2-90a9-c04748072c60', 'a0a0a0a0-0000-0000-0000-000000000002');
 * VmbChannelInitSetProcessPacketCallbacks(out.value!, (_c, packet) => VmbChannelPacketComplete(packet, null, 0));
 * console.log(VmbChannelEnable(out.value!) === NTSTATUS.STATUS_SUCCESS); // true: the offer is on the bus
 * await VmbChannelDisable(out.value!);
 * bus.dispose();
 * ```
 */
export function VmbChannelEnable(Channel: VMBCHANNEL): number {
  return status(() => Channel.enable());
}
/**
 * VmbChannelDisable: Disables a channel: pauses it, closes it (a server rescinds its offer) and resolves when that is done. A channel that is not enabled is left alone and the misuse counted.
 *
 * Reference: [VmbChannelDisable](https://learn.microsoft.com/windows-hardware/drivers/ddi/vmbuskernelmodeclientlibapi/nc-vmbuskernelmodeclientlibapi-fn_vmb_channel_disable).
 *
 * @param Channel - the channel
 * @returns a promise that resolves once the channel is closed
 * @example
 * ```ts
 * import { createKmclPair, NTSTATUS, VmbChannelDisable } from 'vmbus-kmcl';
 * const { server, client, dispose } = await createKmclPair();
 * await VmbChannelDisable(client);
 * console.log(client.state); // disabled
 * await dispose();
 * ```
 */
export function VmbChannelDisable(Channel: VMBCHANNEL): Promise<void> {
  return Channel.disable().catch(() => {
    Channel.stats.misuse++;
  });
}

// --- 3A initialization ---------------------------------------------------

/**
 * VmbChannelInitSetMaximumPacketSize: Sets the largest inline packet the channel sends (before Enable); it also sizes VmbChannelSizeofPacket.
 *
 * Reference: [VmbChannelInitSetMaximumPacketSize](https://learn.microsoft.com/windows-hardware/drivers/ddi/vmbuskernelmodeclientlibapi/nc-vmbuskernelmodeclientlibapi-fn_vmb_channel_init_set_maximum_packet_size).
 *
 * @param Channel - the channel
 * @param PacketSize - the largest inline packet this channel sends, in bytes
 * @returns `STATUS_SUCCESS`; `STATUS_INVALID_PARAMETER_2` for a size outside 1 to `KMCL_RING_MTU - 32`; `STATUS_INVALID_PARAMETER_1` after Enable (decision 4)
 * @example
 * ```ts
 * import { createKmclPair, NTSTATUS, VmbChannelInitSetMaximumPacketSize } from 'vmbus-kmcl';
 * const { server, client, dispose } = await createKmclPair();
 * console.log(VmbChannelInitSetMaximumPacketSize(client, 256) === NTSTATUS.STATUS_INVALID_PARAMETER_1); // true: Init* after Enable
 * await dispose();
 * ```
 */
export function VmbChannelInitSetMaximumPacketSize(
  Channel: VMBCHANNEL,
  PacketSize: number,
): number {
  return status(() => Channel.initSetMaximumPacketSize(PacketSize));
}
/**
 * VmbChannelInitSetMaximumExternalData: Sets the largest external data a packet may carry and the longest memory-descriptor chain (before Enable).
 *
 * Reference: [VmbChannelInitSetMaximumExternalData](https://learn.microsoft.com/windows-hardware/drivers/ddi/vmbuskernelmodeclientlibapi/nc-vmbuskernelmodeclientlibapi-fn_vmb_channel_init_set_maximum_external_data).
 *
 * @param Channel - the channel
 * @param DataSize - the largest external data of one packet, in bytes
 * @param ChainLength - the most memory descriptors in one external-data chain
 * @returns `STATUS_SUCCESS`; `STATUS_INVALID_PARAMETER_2` or `_3` for a zero size or chain length; `STATUS_INVALID_PARAMETER_1` after Enable
 * @example
 * ```ts
 * import { createLocalBus, NTSTATUS, type VMBCHANNEL, VmbChannelAllocate, VmbChannelInitSetMaximumExternalData } from 'vmbus-kmcl';
 * const bus = createLocalBus();
 * const out: { value?: VMBCHANNEL } = {};
 * VmbChannelAllocate({ guest: bus.guest }, false, out);
 * console.log(VmbChannelInitSetMaximumExternalData(out.value!, 1 << 20, 4) === NTSTATUS.STATUS_SUCCESS); // true
 * bus.dispose();
 * ```
 */
export function VmbChannelInitSetMaximumExternalData(
  Channel: VMBCHANNEL,
  DataSize: number,
  ChainLength: number,
): number {
  return status(() => Channel.initSetMaximumExternalData(DataSize, ChainLength));
}
/**
 * VmbChannelInitSetClientContextSize: Sets the size of the per-channel client context (before Enable).
 *
 * Reference: [VmbChannelInitSetClientContextSize](https://learn.microsoft.com/windows-hardware/drivers/ddi/vmbuskernelmodeclientlibapi/nc-vmbuskernelmodeclientlibapi-fn_vmb_channel_init_set_client_context_size).
 *
 * @param Channel - the channel
 * @param ContextSize - bytes of per-channel client context
 * @returns `STATUS_SUCCESS`; `STATUS_INVALID_PARAMETER_2` for a negative or non-integer size; `STATUS_INVALID_PARAMETER_1` after Enable
 * @example
 * ```ts
 * import { createLocalBus, type VMBCHANNEL, VmbChannelAllocate, VmbChannelInitSetClientContextSize } from 'vmbus-kmcl';
 * const bus = createLocalBus();
 * const out: { value?: VMBCHANNEL } = {};
 * VmbChannelAllocate({ guest: bus.guest }, false, out);
 * VmbChannelInitSetClientContextSize(out.value!, 64);
 * bus.dispose();
 * ```
 */
export function VmbChannelInitSetClientContextSize(
  Channel: VMBCHANNEL,
  ContextSize: number,
): number {
  return status(() => Channel.initSetClientContextSize(ContextSize));
}
/**
 * VmbChannelInitSetProcessPacketCallbacks: Sets the callback that receives incoming packets and, optionally, the end-of-batch callback (before Enable).
 *
 * Reference: [VmbChannelInitSetProcessPacketCallbacks](https://learn.microsoft.com/windows-hardware/drivers/ddi/vmbuskernelmodeclientlibapi/nc-vmbuskernelmodeclientlibapi-fn_vmb_channel_init_set_process_packet_callbacks).
 *
 * @param Channel - the channel
 * @param ProcessPacketCallback - EvtChannelProcessPacket, called for every incoming packet
 * @param ProcessingCompleteCallback - EvtChannelProcessingComplete, called at the end of each batch, or null
 * @returns `STATUS_SUCCESS`; `STATUS_INVALID_PARAMETER_2` when the callback is not a function; `STATUS_INVALID_PARAMETER_1` after Enable
 * @example
 * ```ts
 * import { createKmclPair, VmbChannelInitSetProcessPacketCallbacks, VmbChannelPacketComplete } from 'vmbus-kmcl';
 * const { dispose } = await createKmclPair({
 *   configureServer: (c) =>
 *     VmbChannelInitSetProcessPacketCallbacks(
 *       c,
 *       (_ch, packet, buffer, length) => VmbChannelPacketComplete(packet, buffer, length), // echo
 *       (_ch, count) => console.log(`batch of ${count}`),
 *     ),
 * });
 * await dispose();
 * ```
 */
export function VmbChannelInitSetProcessPacketCallbacks(
  Channel: VMBCHANNEL,
  ProcessPacketCallback: EVT_VMB_CHANNEL_PROCESS_PACKET,
  ProcessingCompleteCallback: EVT_VMB_CHANNEL_PROCESSING_COMPLETE | null = null,
): number {
  return status(() =>
    Channel.initSetProcessPacketCallbacks(ProcessPacketCallback, ProcessingCompleteCallback),
  );
}
/**
 * VmbChannelInitSetStateChangeCallbacks: Sets the state callbacks (Opened, Closed, Suspend, Started, PostStarted) before Enable.
 *
 * Reference: [VmbChannelInitSetStateChangeCallbacks](https://learn.microsoft.com/windows-hardware/drivers/ddi/vmbuskernelmodeclientlibapi/nc-vmbuskernelmodeclientlibapi-fn_vmb_channel_init_set_state_change_callbacks).
 *
 * @param Channel - the channel
 * @param StateChangeCallbacks - the state callbacks; start from `VMB_CHANNEL_STATE_CHANGE_CALLBACKS_INIT()`
 * @returns `STATUS_SUCCESS`; `STATUS_INVALID_PARAMETER_2` for a wrong Version or Size; `STATUS_INVALID_PARAMETER_1` after Enable
 * @example
 * ```ts
 * import { createLocalBus, VMB_CHANNEL_STATE_CHANGE_CALLBACKS_INIT, type VMBCHANNEL, VmbChannelAllocate, VmbChannelInitSetStateChangeCallbacks } from 'vmbus-kmcl';
 * const bus = createLocalBus();
 * const out: { value?: VMBCHANNEL } = {};
 * VmbChannelAllocate({ guest: bus.guest }, false, out);
 * const callbacks = VMB_CHANNEL_STATE_CHANGE_CALLBACKS_INIT();
 * callbacks.EvtChannelPostStarted = () => console.log('ready for traffic');
 * VmbChannelInitSetStateChangeCallbacks(out.value!, callbacks);
 * bus.dispose();
 * ```
 */
export function VmbChannelInitSetStateChangeCallbacks(
  Channel: VMBCHANNEL,
  StateChangeCallbacks: StateChangeCallbacks,
): number {
  return status(() => Channel.initSetStateChangeCallbacks(StateChangeCallbacks));
}
/**
 * VmbChannelInitSetFriendlyName: Names the channel for logs and tools (before Enable).
 *
 * Reference: [VmbChannelInitSetFriendlyName](https://learn.microsoft.com/windows-hardware/drivers/ddi/vmbuskernelmodeclientlibapi/nc-vmbuskernelmodeclientlibapi-fn_vmb_channel_init_set_friendly_name).
 *
 * @param Channel - the channel
 * @param Name - a name shown in logs and tools (at most 255 characters)
 * @returns `STATUS_SUCCESS`; `STATUS_INVALID_PARAMETER_2` for a name over 255 characters; `STATUS_INVALID_PARAMETER_1` after Enable
 * @example
 * ```ts
 * import { createLocalBus, type VMBCHANNEL, VmbChannelAllocate, VmbChannelInitSetFriendlyName } from 'vmbus-kmcl';
 * const bus = createLocalBus();
 * const out: { value?: VMBCHANNEL } = {};
 * VmbChannelAllocate({ guest: bus.guest }, false, out);
 * VmbChannelInitSetFriendlyName(out.value!, 'my device');
 * bus.dispose();
 * ```
 */
export function VmbChannelInitSetFriendlyName(Channel: VMBCHANNEL, Name: string): number {
  return status(() => Channel.initSetFriendlyName(Name));
}
/**
 * VmbChannelInitSetFlags: Sets VMBUS_CHANNEL_INIT_FLAG_* bits (before Enable).
 *
 * Reference: [VmbChannelInitSetFlags](https://learn.microsoft.com/windows-hardware/drivers/ddi/vmbuskernelmodeclientlibapi/nc-vmbuskernelmodeclientlibapi-fn_vmb_channel_init_set_flags).
 *
 * @param Channel - the channel
 * @param Flags - VMBUS_CHANNEL_INIT_FLAG_* bits
 * @returns `STATUS_SUCCESS`; `STATUS_INVALID_PARAMETER_2` for unknown bits; `STATUS_INVALID_PARAMETER_1` after Enable
 * @example
 * ```ts
 * import { createLocalBus, NTSTATUS, type VMBCHANNEL, VMBUS_CHANNEL_INIT_FLAG_IS_PIPE, VmbChannelAllocate, VmbChannelInitSetFlags } from 'vmbus-kmcl';
 * const bus = createLocalBus();
 * const out: { value?: VMBCHANNEL } = {};
 * VmbChannelAllocate({ guest: bus.guest }, false, out);
 * console.log(VmbChannelInitSetFlags(out.value!, VMBUS_CHANNEL_INIT_FLAG_IS_PIPE) === NTSTATUS.STATUS_SUCCESS); // true
 * bus.dispose();
 * ```
 */
export function VmbChannelInitSetFlags(Channel: VMBCHANNEL, Flags: number): number {
  return status(() => Channel.initSetFlags(Flags));
}
/**
 * VmbClientChannelInitSetRingBufferPageCount: Sets the client's ring sizes in pages (client only, before Enable).
 *
 * Reference: [VmbClientChannelInitSetRingBufferPageCount](https://learn.microsoft.com/windows-hardware/drivers/ddi/vmbuskernelmodeclientlibapi/nc-vmbuskernelmodeclientlibapi-fn_vmb_client_channel_init_set_ring_buffer_page_count).
 *
 * @param Channel - the channel
 * @param IncomingPageCount - pages of the ring the client reads
 * @param OutgoingPageCount - pages of the ring the client writes
 * @returns `STATUS_SUCCESS`; `STATUS_INVALID_PARAMETER_2`/`_3` for a count outside 2 to 8190; `STATUS_INVALID_PARAMETER_1` on a server or after Enable
 * @example
 * ```ts
 * import { createLocalBus, type VMBCHANNEL, VmbChannelAllocate, VmbClientChannelInitSetRingBufferPageCount } from 'vmbus-kmcl';
 * const bus = createLocalBus();
 * const out: { value?: VMBCHANNEL } = {};
 * VmbChannelAllocate({ guest: bus.guest }, false, out);
 * VmbClientChannelInitSetRingBufferPageCount(out.value!, 34, 34); // 128 KiB of data each way
 * bus.dispose();
 * ```
 */
export function VmbClientChannelInitSetRingBufferPageCount(
  Channel: VMBCHANNEL,
  IncomingPageCount: number,
  OutgoingPageCount: number,
): number {
  return status(() => Channel.initSetRingBufferPageCount(IncomingPageCount, OutgoingPageCount));
}
/**
 * VmbClientChannelInitSetTargetPnp: Chooses the offer a client opens: a device class and an instance, or any instance of the class (client only, before Enable).
 *
 * Reference: [VmbClientChannelInitSetTargetPnp](https://learn.microsoft.com/windows-hardware/drivers/ddi/vmbuskernelmodeclientlibapi/nc-vmbuskernelmodeclientlibapi-fn_vmb_client_channel_init_set_target_pnp).
 *
 * @param Channel - the channel
 * @param InterfaceType - the device class GUID
 * @param InterfaceInstance - the instance GUID to bind, or null for any instance of the class
 * @param PnpFailureCallback - called if the open fails, or null
 * @returns `STATUS_SUCCESS`; `STATUS_INVALID_PARAMETER_2` when the type or instance is not a GUID; `STATUS_INVALID_PARAMETER_1` on a server or after Enable
 * @example
 * ```ts
 * import { createLocalBus, type VMBCHANNEL, VmbChannelAllocate, VmbClientChannelInitSetTargetPnp } from 'vmbus-kmcl';
 * const bus = createLocalBus();
 * const out: { value?: VMBCHANNEL } = {};
 * VmbChannelAllocate({ guest: bus.guest }, false, out);
 * VmbClientChannelInitSetTargetPnp(out.value!, 'ba6163d9-04a1-4d29-b605-72e2ffb1dc7f', null, (_c, status) => console.log('open failed', status));
 * bus.dispose();
 * ```
 */
export function VmbClientChannelInitSetTargetPnp(
  Channel: VMBCHANNEL,
  InterfaceType: Guid | string,
  InterfaceInstance: Guid | string | null = null,
  PnpFailureCallback: EVT_VMB_CHANNEL_PNP_FAILURE | null = null,
): number {
  return status(() =>
    Channel.initSetTargetPnp(InterfaceType, InterfaceInstance, PnpFailureCallback),
  );
}
/**
 * VmbServerChannelInitSetFlags: Sets VMBUS_SERVER_CHANNEL_INIT_FLAG_* bits (server only, before Enable).
 *
 * Reference: [VmbServerChannelInitSetFlags](https://learn.microsoft.com/windows-hardware/drivers/ddi/vmbuskernelmodeclientlibapi/nc-vmbuskernelmodeclientlibapi-fn_vmb_server_channel_init_set_flags).
 *
 * @param Channel - the channel
 * @param Flags - VMBUS_SERVER_CHANNEL_INIT_FLAG_* bits
 * @returns `STATUS_SUCCESS`; `STATUS_INVALID_PARAMETER_2` for unknown bits; `STATUS_INVALID_PARAMETER_1` on a client or after Enable
 * @example
 * ```ts
 * import { createLocalBus, type VMBCHANNEL, VMBUS_SERVER_CHANNEL_INIT_FLAG_FORCE_NEW_CHANNEL, VmbChannelAllocate, VmbServerChannelInitSetFlags } from 'vmbus-kmcl';
 * const bus = createLocalBus();
 * const out: { value?: VMBCHANNEL } = {};
 * VmbChannelAllocate({ host: bus.host, partition: bus.partition }, true, out);
 * VmbServerChannelInitSetFlags(out.value!, VMBUS_SERVER_CHANNEL_INIT_FLAG_FORCE_NEW_CHANNEL);
 * bus.dispose();
 * ```
 */
export function VmbServerChannelInitSetFlags(Channel: VMBCHANNEL, Flags: number): number {
  return status(() => Channel.initSetServerFlags(Flags));
}
/**
 * VmbServerChannelInitSetTargetInterfaceId: Sets the device class and instance a server offers (server only, before Enable).
 *
 * Reference: [VmbServerChannelInitSetTargetInterfaceId](https://learn.microsoft.com/windows-hardware/drivers/ddi/vmbuskernelmodeclientlibapi/nc-vmbuskernelmodeclientlibapi-fn_vmb_server_channel_init_set_target_interface_id).
 *
 * @param Channel - the channel
 * @param InterfaceType - the device class GUID
 * @param InterfaceInstance - the device instance GUID
 * @returns `STATUS_SUCCESS`; `STATUS_INVALID_PARAMETER_2` when the type or instance is not a GUID; `STATUS_INVALID_PARAMETER_1` on a client or after Enable
 * @example
 * ```ts
 * import { createLocalBus, type VMBCHANNEL, VmbChannelAllocate, VmbServerChannelInitSetTargetInterfaceId } from 'vmbus-kmcl';
 * const bus = createLocalBus();
 * const out: { value?: VMBCHANNEL } = {};
 * VmbChannelAllocate({ host: bus.host, partition: bus.partition }, true, out);
 * VmbServerChannelInitSetTargetInterfaceId(out.value!, 'ba6163d9-04a1-4d29-b605-72e2ffb1dc7f', 'd34b0001-0000-4000-8000-000000000009');
 * bus.dispose();
 * ```
 */
export function VmbServerChannelInitSetTargetInterfaceId(
  Channel: VMBCHANNEL,
  InterfaceType: Guid | string,
  InterfaceInstance: Guid | string,
): number {
  return status(() => Channel.initSetTargetInterfaceId(InterfaceType, InterfaceInstance));
}
/**
 * VmbServerChannelInitSetTargetVtl: Sets the virtual trust level the offer is made to (server only, before Enable).
 *
 * Reference: [VmbServerChannelInitSetTargetVtl](https://learn.microsoft.com/windows-hardware/drivers/ddi/vmbuskernelmodeclientlibapi/nc-vmbuskernelmodeclientlibapi-fn_vmb_server_channel_init_set_target_vtl).
 *
 * @param Channel - the channel
 * @param TargetVtl - the virtual trust level the offer targets (0-2)
 * @returns `STATUS_SUCCESS`; `STATUS_INVALID_PARAMETER_2` above VTL 2; `STATUS_INVALID_PARAMETER_1` on a client or after Enable
 * @example
 * ```ts
 * import { createLocalBus, type VMBCHANNEL, VmbChannelAllocate, VmbServerChannelInitSetTargetVtl } from 'vmbus-kmcl';
 * const bus = createLocalBus();
 * const out: { value?: VMBCHANNEL } = {};
 * VmbChannelAllocate({ host: bus.host, partition: bus.partition }, true, out);
 * VmbServerChannelInitSetTargetVtl(out.value!, 0);
 * bus.dispose();
 * ```
 */
export function VmbServerChannelInitSetTargetVtl(Channel: VMBCHANNEL, TargetVtl: number): number {
  return status(() => Channel.initSetTargetVtl(TargetVtl));
}
/**
 * VmbServerChannelInitSetMmioMegabytes: Asks the guest to reserve MMIO space for the device (server only, before Enable); the client reads it with VmbChannelGetMmioSpace.
 *
 * Reference: [VmbServerChannelInitSetMmioMegabytes](https://learn.microsoft.com/windows-hardware/drivers/ddi/vmbuskernelmodeclientlibapi/nc-vmbuskernelmodeclientlibapi-fn_vmb_server_channel_init_set_mmio_megabytes).
 *
 * @param Channel - the channel
 * @param MmioMegabytes - MMIO space the guest must reserve, in MiB
 * @param MmioMegabytesOptional - additional MMIO space the guest may reserve, in MiB
 * @returns `STATUS_SUCCESS`; `STATUS_INVALID_PARAMETER` for no space at all; `STATUS_INVALID_PARAMETER_1` on a client or after Enable
 * @example
 * ```ts
 * import { createKmclPair, VmbChannelGetMmioSpace, VmbServerChannelInitSetMmioMegabytes } from 'vmbus-kmcl';
 * const { client, dispose } = await createKmclPair({ configureServer: (c) => VmbServerChannelInitSetMmioMegabytes(c, 16, 4) });
 * const address: { value?: bigint } = {};
 * const size: { value?: bigint } = {};
 * VmbChannelGetMmioSpace(client, address, size);
 * console.log(size.value); // 20971520n
 * await dispose();
 * ```
 */
export function VmbServerChannelInitSetMmioMegabytes(
  Channel: VMBCHANNEL,
  MmioMegabytes: number,
  MmioMegabytesOptional: number,
): number {
  return status(() => Channel.initSetMmioMegabytes(MmioMegabytes, MmioMegabytesOptional));
}
/**
 * VmbServerChannelInitSetVmbusHandle: Binds a server channel to one guest partition (server only, before Enable).
 *
 * Reference: [VmbServerChannelInitSetVmbusHandle](https://learn.microsoft.com/windows-hardware/drivers/ddi/vmbuskernelmodeclientlibapi/nc-vmbuskernelmodeclientlibapi-fn_vmb_server_channel_init_set_vmbus_handle).
 *
 * @param Channel - the channel
 * @param VmbusHandle - a guest partition handle from VmbConvertVmbusHandleToKernelHandle
 * @returns `STATUS_SUCCESS`; `STATUS_INVALID_PARAMETER_2` for a handle that is not a partition; `STATUS_INVALID_PARAMETER_1` on a client or after Enable
 * @example
 * ```ts
 * import { createLocalBus, type KmclVmbusHandle, type VMBCHANNEL, VmbChannelAllocate, VmbConvertVmbusHandleToKernelHandle, VmbServerChannelInitSetVmbusHandle } from 'vmbus-kmcl';
 * const bus = createLocalBus();
 * const out: { value?: VMBCHANNEL } = {};
 * VmbChannelAllocate({ host: bus.host, partition: bus.partition }, true, out);
 * const handle: { value?: KmclVmbusHandle } = {};
 * VmbConvertVmbusHandleToKernelHandle(bus.partition, handle);
 * VmbServerChannelInitSetVmbusHandle(out.value!, handle.value!);
 * bus.dispose();
 * ```
 */
export function VmbServerChannelInitSetVmbusHandle(
  Channel: VMBCHANNEL,
  VmbusHandle: KmclVmbusHandle,
): number {
  return status(() => Channel.initSetVmbusHandle(VmbusHandle));
}
/**
 * VmbServerChannelInitSetSaveRestorePacketCallbacks: Sets the callbacks that save and restore the driver's part of each packet in flight (server only, before Enable).
 *
 * Reference: [VmbServerChannelInitSetSaveRestorePacketCallbacks](https://learn.microsoft.com/windows-hardware/drivers/ddi/vmbuskernelmodeclientlibapi/nc-vmbuskernelmodeclientlibapi-fn_vmb_server_channel_init_set_save_restore_packet_callbacks).
 *
 * @param Channel - the channel
 * @param SavePacketCallback - EvtVmbChannelSavePacket, called for each packet in flight during a save
 * @param RestorePacketCallback - EvtVmbChannelRestorePacket, called for each saved packet during a restore
 * @returns `STATUS_SUCCESS`; `STATUS_INVALID_PARAMETER_1` on a client or after Enable
 * @example
 * ```ts
 * import { createKmclPair, NTSTATUS, VmbPacketAllocate, VmbPacketRestore, VmbServerChannelInitSetSaveRestorePacketCallbacks } from 'vmbus-kmcl';
 * const { dispose } = await createKmclPair({
 *   configureServer: (c) =>
 *     VmbServerChannelInitSetSaveRestorePacketCallbacks(
 *       c,
 *       (_ch, _packet, _buffer, size, needed) => {
 *         needed.value = 0; // nothing of the driver's own to save
 *         return size === 0 ? NTSTATUS.STATUS_SUCCESS : NTSTATUS.STATUS_SUCCESS;
 *       },
 *       (ch, lib, libSize) => VmbPacketRestore(VmbPacketAllocate(ch)!, lib, libSize),
 *     ),
 * });
 * await dispose();
 * ```
 */
export function VmbServerChannelInitSetSaveRestorePacketCallbacks(
  Channel: VMBCHANNEL,
  SavePacketCallback: EVT_VMB_CHANNEL_SAVE_PACKET,
  RestorePacketCallback: EVT_VMB_CHANNEL_RESTORE_PACKET,
): number {
  return status(() =>
    Channel.initSetSaveRestorePacketCallbacks(SavePacketCallback, RestorePacketCallback),
  );
}

// --- 3C outgoing packets -------------------------------------------------

/** VmbChannelSizeofPacket: bytes a buffer needs for VmbPacketInitialize. *
 * @example
 * ```ts
 * import { createKmclPair, VmbChannelSizeofPacket } from 'vmbus-kmcl';
 * const { client, dispose } = await createKmclPair();
 * console.log(VmbChannelSizeofPacket(client) > client.maximumPacketSize + 8); // true
 * await dispose();
 * ```
 * @param Channel - the channel
 * @returns bytes a caller buffer needs; stable for the channel's life
 */
export function VmbChannelSizeofPacket(Channel: VMBCHANNEL): number {
  return Channel.sizeofPacket();
}
/**
 * VmbPacketAllocate: Allocates a library-owned packet object; its default completion routine frees it.
 *
 * Reference: [VmbPacketAllocate](https://learn.microsoft.com/windows-hardware/drivers/ddi/vmbuskernelmodeclientlibapi/nc-vmbuskernelmodeclientlibapi-fn_vmb_packet_allocate).
 *
 * @param Channel - the channel
 * @returns the packet, or null when the channel is cleaned up
 * @example
 * ```ts
 * import { createKmclPair, NTSTATUS, VmbPacketAllocate, VmbPacketSend } from 'vmbus-kmcl';
 * const { server, client, dispose } = await createKmclPair();
 * const packet = VmbPacketAllocate(client)!;
 * console.log(VmbPacketSend(packet, new Uint8Array([1]), 1, null, 0) === NTSTATUS.STATUS_SUCCESS); // true; freed once sent
 * await dispose();
 * ```
 */
export function VmbPacketAllocate(Channel: VMBCHANNEL): VMBPACKET | null {
  try {
    return Channel.allocatePacket();
  } catch {
    return null;
  }
}
/**
 * VmbPacketInitialize: makes `VmbPacket` (caller memory) a packet object of
 * `Channel`; afterwards the same memory object is the packet's handle.
 *
 * @returns STATUS_SUCCESS, or STATUS_INVALID_PARAMETER_3 when ByteCount is
 *   below VmbChannelSizeofPacket or beyond the memory (nothing changes)
 *
 * @example
 * ```ts
 * import { createKmclPair, NTSTATUS, VmbChannelSizeofPacket, VmbPacketInitialize, VmbPacketSend, VmbPacketSetCompletionRoutine } from 'vmbus-kmcl';
 * const { client, dispose } = await createKmclPair();
 * const size = VmbChannelSizeofPacket(client);
 * const pool = new SharedArrayBuffer(size * 4); // four packets, no allocation per send
 * const packet = new Uint8Array(pool, 0, size);
 * console.log(VmbPacketInitialize(client, packet, size - 1) === NTSTATUS.STATUS_INVALID_PARAMETER_3); // true
 * VmbPacketInitialize(client, packet, size);
 * const done = new Promise<number>((resolve) => VmbPacketSetCompletionRoutine(packet, (_p, status) => resolve(status)));
 * VmbPacketSend(packet, new Uint8Array([1, 2, 3]), 3, null, 1); // WAIT_FOR_COMPLETION
 * console.log(await done); // 0
 * await dispose();
 * ```
 * @param Channel - the channel the packet will be sent on
 * @param VmbPacket - caller memory: an ArrayBuffer, SharedArrayBuffer or Uint8Array view
 * @param ByteCount - bytes of that memory to use; at least VmbChannelSizeofPacket
 */
export function VmbPacketInitialize(
  Channel: VMBCHANNEL,
  VmbPacket: ArrayBuffer | SharedArrayBuffer | Uint8Array,
  ByteCount: number,
): number {
  if (VmbPacket instanceof KmclPacket) return NTSTATUS.STATUS_INVALID_PARAMETER_2;
  const existing = packetOf(VmbPacket);
  if (existing?.inFlight) return NTSTATUS.STATUS_INVALID_DEVICE_STATE;
  return status(() => {
    const packet = Channel.initializePacket(VmbPacket, ByteCount);
    packet.handle = VmbPacket;
    // The newest packet of a memory is the one its handle finds.
    if (Object.isExtensible(VmbPacket))
      Object.defineProperty(VmbPacket, PACKET_OBJECT, {
        value: packet,
        writable: true,
        configurable: true,
        enumerable: false,
      });
    else initialized.set(VmbPacket, packet);
  });
}
/**
 * VmbPacketFree: Returns a packet from VmbPacketAllocate. A packet in flight is not freed (the misuse is counted).
 *
 * Reference: [VmbPacketFree](https://learn.microsoft.com/windows-hardware/drivers/ddi/vmbuskernelmodeclientlibapi/nc-vmbuskernelmodeclientlibapi-fn_vmb_packet_free).
 *
 * @param VmbPacket - a packet from VmbPacketAllocate
 * @example
 * ```ts
 * import { createKmclPair, NTSTATUS, VmbPacketAllocate, VmbPacketFree } from 'vmbus-kmcl';
 * const { server, client, dispose } = await createKmclPair();
 * const packet = VmbPacketAllocate(client)!;
 * VmbPacketFree(packet);
 * await dispose();
 * ```
 */
export function VmbPacketFree(VmbPacket: VMBPACKET): void {
  const packet = packetOf(VmbPacket);
  quietly(packet?.channel, () => packet?.channel.freePacket(packet));
}
/**
 * VmbPacketSetCompletionRoutine: Sets the routine called when the packet's transaction ends; a packet from VmbPacketInitialize cannot be sent before one is set.
 *
 * Reference: [VmbPacketSetCompletionRoutine](https://learn.microsoft.com/windows-hardware/drivers/ddi/vmbuskernelmodeclientlibapi/nc-vmbuskernelmodeclientlibapi-fn_vmb_packet_set_completion_routine).
 *
 * @param PacketObject - a packet from VmbPacketAllocate or VmbPacketInitialize
 * @param CompletionRoutine - called once when the packet's transaction ends, with the status and the peer's completion bytes
 * @example
 * ```ts
 * import { createKmclPair, NTSTATUS, VmbPacketAllocate, VmbPacketSend, VmbPacketSetCompletionRoutine, VMBUS_CHANNEL_FORMAT_FLAG_WAIT_FOR_COMPLETION as WAIT } from 'vmbus-kmcl';
 * const { server, client, dispose } = await createKmclPair();
 * const packet = VmbPacketAllocate(client)!;
 * const done = new Promise<void>((resolve) =>
 *   VmbPacketSetCompletionRoutine(packet, (_p, status, bytes, length) => {
 *     console.log(status, bytes.subarray(0, length)); // 0 Uint8Array(0) []
 *     resolve();
 *   }),
 * );
 * VmbPacketSend(packet, new Uint8Array([1, 2]), 2, null, WAIT);
 * await done;
 * await dispose();
 * ```
 */
export function VmbPacketSetCompletionRoutine(
  PacketObject: VMBPACKET,
  CompletionRoutine: EVT_VMB_PACKET_COMPLETION_ROUTINE,
): void {
  const packet = packetOf(PacketObject);
  if (!packet) return;
  packet.driverRoutine = CompletionRoutine as DriverCompletionRoutine;
  packet.completionRoutine = callDriverRoutine;
}

/**
 * The completion routine of every packet whose routine was set through
 * VmbPacketSetCompletionRoutine: one function for all of them (no closure
 * per packet), calling the driver's routine with the packet's handle.
 */
function callDriverRoutine(packet: KmclPacket, status: number, buffer: Uint8Array, length: number) {
  packet.driverRoutine!(packet.handle, status, buffer, length);
}
/**
 * VmbPacketSetPointer: Stores a value of the driver's with a packet object.
 *
 * Reference: [VmbPacketSetPointer](https://learn.microsoft.com/windows-hardware/drivers/ddi/vmbuskernelmodeclientlibapi/nc-vmbuskernelmodeclientlibapi-fn_vmb_packet_set_pointer).
 *
 * @param PacketObject - a packet from VmbPacketAllocate or VmbPacketInitialize
 * @param Pointer - any value to keep with the object
 * @example
 * ```ts
 * import { createKmclPair, NTSTATUS, VmbPacketAllocate, VmbPacketGetPointer, VmbPacketSetPointer } from 'vmbus-kmcl';
 * const { server, client, dispose } = await createKmclPair();
 * const packet = VmbPacketAllocate(client)!;
 * VmbPacketSetPointer(packet, { request: 7 });
 * console.log(VmbPacketGetPointer(packet)); // { request: 7 }
 * await dispose();
 * ```
 */
export function VmbPacketSetPointer(PacketObject: VMBPACKET, Pointer: unknown): void {
  const packet = packetOf(PacketObject);
  if (packet) packet.pointer = Pointer;
}
/**
 * VmbPacketGetPointer: Reads the value stored with VmbPacketSetPointer.
 *
 * Reference: [VmbPacketGetPointer](https://learn.microsoft.com/windows-hardware/drivers/ddi/vmbuskernelmodeclientlibapi/nc-vmbuskernelmodeclientlibapi-fn_vmb_packet_get_pointer).
 *
 * @param PacketObject - a packet from VmbPacketAllocate or VmbPacketInitialize
 * @returns the stored value, or null
 * @example
 * ```ts
 * import { createKmclPair, NTSTATUS, VmbPacketAllocate, VmbPacketGetPointer } from 'vmbus-kmcl';
 * const { server, client, dispose } = await createKmclPair();
 * console.log(VmbPacketGetPointer(VmbPacketAllocate(client)!)); // null
 * await dispose();
 * ```
 */
export function VmbPacketGetPointer(PacketObject: VMBPACKET): unknown {
  return packetOf(PacketObject)?.pointer ?? null;
}
/**
 * VmbPacketGetChannel: Finds the channel a packet object belongs to.
 *
 * Reference: [VmbPacketGetChannel](https://learn.microsoft.com/windows-hardware/drivers/ddi/vmbuskernelmodeclientlibapi/nc-vmbuskernelmodeclientlibapi-fn_vmb_packet_get_channel).
 *
 * @param PacketObject - a packet from VmbPacketAllocate or VmbPacketInitialize
 * @returns the channel, or null for a buffer that is not a packet
 * @example
 * ```ts
 * import { createKmclPair, NTSTATUS, VmbPacketAllocate, VmbPacketGetChannel } from 'vmbus-kmcl';
 * const { server, client, dispose } = await createKmclPair();
 * console.log(VmbPacketGetChannel(VmbPacketAllocate(client)!) === client); // true
 * await dispose();
 * ```
 */
export function VmbPacketGetChannel(PacketObject: VMBPACKET): VMBCHANNEL | null {
  return packetOf(PacketObject)?.channel ?? null;
}

function sendWith(
  PacketObject: VMBPACKET,
  Buffer: Uint8Array | null,
  BufferLength: number,
  external: ExternalData | null,
  Flags: number,
): number {
  const packet = packetOf(PacketObject);
  if (!packet) return NTSTATUS.STATUS_INVALID_PARAMETER_1;
  // The per-packet path: no closure, unlike status().
  try {
    packet.channel.send(packet, Buffer ?? EMPTY_BUFFER, BufferLength, external, Flags);
    return NTSTATUS.STATUS_SUCCESS;
  } catch (e) {
    return statusOf(e);
  }
}

/**
 * VmbPacketSend: Sends an inline buffer and optional external data. With WAIT_FOR_COMPLETION the completion routine runs when the peer completes the packet; without, once the packet is in the ring. Packets sent before Opened or while the ring is full wait in order.
 *
 * Reference: [VmbPacketSend](https://learn.microsoft.com/windows-hardware/drivers/ddi/vmbuskernelmodeclientlibapi/nc-vmbuskernelmodeclientlibapi-fn_vmb_packet_send).
 *
 * @param PacketObject - a packet from VmbPacketAllocate or VmbPacketInitialize
 * @param Buffer - the inline bytes
 * @param BufferLength - bytes of `Buffer` to send (at most the maximum packet size)
 * @param ExternalDataMdl - external data (the whole chain), or null
 * @param Flags - VMBUS_CHANNEL_FORMAT_FLAG_* bits (WAIT_FOR_COMPLETION asks the peer for a completion)
 * @returns `STATUS_SUCCESS`; `STATUS_INVALID_PARAMETER_1` for a packet without a completion routine or not of this channel; `STATUS_INVALID_PARAMETER_3` for a length over the buffer or the maximum packet size; `STATUS_INVALID_PARAMETER_5` for unknown flags; `STATUS_INVALID_PARAMETER_4` for an MDL chain longer than the channel allows, `_6` for external data larger than it allows; `STATUS_INVALID_DEVICE_STATE` while the packet is in flight or after Cleanup
 * @example
 * ```ts
 * import { createKmclPair, NTSTATUS, VmbPacketAllocate, VmbPacketSend, VmbPacketSetCompletionRoutine, VMBUS_CHANNEL_FORMAT_FLAG_WAIT_FOR_COMPLETION as WAIT } from 'vmbus-kmcl';
 * const { server, client, dispose } = await createKmclPair();
 * const packet = VmbPacketAllocate(client)!;
 * const done = new Promise<number>((resolve) => VmbPacketSetCompletionRoutine(packet, (_p, status) => resolve(status)));
 * VmbPacketSend(packet, new TextEncoder().encode('hello'), 5, null, WAIT);
 * console.log(await done); // 0 (STATUS_SUCCESS) once the server completed it
 * await dispose();
 * ```
 */
export function VmbPacketSend(
  PacketObject: VMBPACKET,
  Buffer: Uint8Array | null,
  BufferLength: number,
  ExternalDataMdl: MDL | null,
  Flags: number,
): number {
  if (ExternalDataMdl)
    return sendWithMdl(PacketObject, Buffer, BufferLength, ExternalDataMdl, Flags);
  // The per-packet path, written out rather than through sendWith (its
  // twin): the fewer bytecodes between a completion routine and the ring,
  // the more of the send path V8 inlines. Through sendWith, and with
  // writePacket going through emit, the cross-worker VSC measured 7-9 ns
  // per round trip slower (alternating runs).
  const packet = packetOf(PacketObject);
  if (packet === undefined) return NTSTATUS.STATUS_INVALID_PARAMETER_1;
  try {
    packet.channel.send(packet, Buffer ?? EMPTY_BUFFER, BufferLength, null, Flags);
    return 0; // STATUS_SUCCESS, a literal on the per-packet path (see KmclChannel)
  } catch (e) {
    return statusOf(e);
  }
}

/** VmbPacketSend with an MDL chain (kept out of VmbPacketSend, which stays small). */
function sendWithMdl(
  PacketObject: VMBPACKET,
  Buffer: Uint8Array | null,
  BufferLength: number,
  ExternalDataMdl: MDL,
  Flags: number,
): number {
  const external: ExternalData = {
    kind: 'mdl',
    chain: chainOf(ExternalDataMdl),
    offset: 0,
    length: 0,
    forceLength: false,
  };
  return sendWith(PacketObject, Buffer, BufferLength, external, Flags);
}
/**
 * VmbPacketSendWithExternalMdl: Sends an inline buffer with a byte range of a memory-descriptor chain as GPA-direct external data; WAIT_FOR_COMPLETION is required.
 *
 * Reference: [VmbPacketSendWithExternalMdl](https://learn.microsoft.com/windows-hardware/drivers/ddi/vmbuskernelmodeclientlibapi/nc-vmbuskernelmodeclientlibapi-fn_vmb_packet_send_with_external_mdl).
 *
 * @param PacketObject - a packet from VmbPacketAllocate or VmbPacketInitialize
 * @param Buffer - the inline bytes
 * @param BufferLength - bytes of `Buffer` to send (at most the maximum packet size)
 * @param ExternalDataMdl - memory descriptors of guest memory sent as GPA-direct external data
 * @param MdlOffset - byte offset into the chain where the external data starts
 * @param MdlLength - bytes of external data
 * @param Flags - VMBUS_CHANNEL_FORMAT_FLAG_* bits (WAIT_FOR_COMPLETION asks the peer for a completion)
 * @returns as VmbPacketSend; `STATUS_INVALID_PARAMETER_7` without WAIT_FOR_COMPLETION; `STATUS_INVALID_PARAMETER_4` for a chain longer than the channel allows; `STATUS_INVALID_PARAMETER_6` for a range outside the chain or over the maximum external data
 * @example
 * ```ts
 * import { createKmclPair, MemoryDescriptor, VmbChannelInitSetMaximumExternalData, VmbPacketAllocate, VmbPacketSendWithExternalMdl, VmbPacketSetCompletionRoutine, VMBUS_CHANNEL_FORMAT_FLAG_WAIT_FOR_COMPLETION as WAIT } from 'vmbus-kmcl';
 * const { bus, client, dispose } = await createKmclPair({ configureClient: (c) => VmbChannelInitSetMaximumExternalData(c, 1 << 20, 1) });
 * const mdl = new MemoryDescriptor(bus.memory, bus.guest.pages.allocate(2), 0, 8192);
 * const packet = VmbPacketAllocate(client)!;
 * const done = new Promise<number>((resolve) => VmbPacketSetCompletionRoutine(packet, (_p, status) => resolve(status)));
 * VmbPacketSendWithExternalMdl(packet, new Uint8Array(8), 8, mdl, 512, 4096, WAIT);
 * console.log(await done); // 0: the server completed it
 * await dispose();
 * ```
 */
export function VmbPacketSendWithExternalMdl(
  PacketObject: VMBPACKET,
  Buffer: Uint8Array | null,
  BufferLength: number,
  ExternalDataMdl: MDL,
  MdlOffset: number,
  MdlLength: number,
  Flags: number,
): number {
  if ((Flags & VMBUS_CHANNEL_FORMAT_FLAG_WAIT_FOR_COMPLETION) === 0)
    return NTSTATUS.STATUS_INVALID_PARAMETER_7;
  const forceLength = (Flags & VMBUS_CHANNEL_FORMAT_FLAG_FORCE_MDL_LENGTH) !== 0;
  const chain = chainOf(ExternalDataMdl);
  return sendWith(
    PacketObject,
    Buffer,
    BufferLength,
    {
      kind: 'mdl',
      chain: forceLength ? chain.slice(0, 1) : chain,
      offset: MdlOffset,
      length: MdlLength,
      forceLength,
    },
    Flags,
  );
}
/**
 * VmbPacketSendWithExternalPfns: Sends an inline buffer with whole guest pages, named by page frame number, as external data; WAIT_FOR_COMPLETION is required. Takes the six-parameter form (see docs/kmcl-decisions.md, errata 1).
 *
 * Reference: [VmbPacketSendWithExternalPfns](https://learn.microsoft.com/windows-hardware/drivers/ddi/vmbuskernelmodeclientlibapi/nc-vmbuskernelmodeclientlibapi-fn_vmb_packet_send_with_external_pfns).
 *
 * @param PacketObject - a packet from VmbPacketAllocate or VmbPacketInitialize
 * @param Buffer - the inline bytes
 * @param BufferLength - bytes of `Buffer` to send (at most the maximum packet size)
 * @param ExternalDataPfns - guest page frame numbers sent as external data, whole pages
 * @param PfnLength - how many entries of `ExternalDataPfns` to send
 * @param Flags - VMBUS_CHANNEL_FORMAT_FLAG_* bits (WAIT_FOR_COMPLETION asks the peer for a completion)
 * @returns as VmbPacketSend; `STATUS_INVALID_PARAMETER_6` without WAIT_FOR_COMPLETION; `STATUS_INVALID_PARAMETER_5` for a count outside 1 to the array length or more pages than the maximum external data
 * @example
 * ```ts
 * import { createKmclPair, VmbChannelInitSetMaximumExternalData, VmbPacketAllocate, VmbPacketSendWithExternalPfns, VmbPacketSetCompletionRoutine, VMBUS_CHANNEL_FORMAT_FLAG_WAIT_FOR_COMPLETION as WAIT } from 'vmbus-kmcl';
 * const { bus, client, dispose } = await createKmclPair({ configureClient: (c) => VmbChannelInitSetMaximumExternalData(c, 1 << 20, 1) });
 * const pfns = bus.guest.pages.allocate(2);
 * const packet = VmbPacketAllocate(client)!;
 * const done = new Promise<number>((resolve) => VmbPacketSetCompletionRoutine(packet, (_p, status) => resolve(status)));
 * VmbPacketSendWithExternalPfns(packet, new Uint8Array(8), 8, pfns, pfns.length, WAIT);
 * console.log(await done); // 0: the server completed it
 * await dispose();
 * ```
 */
export function VmbPacketSendWithExternalPfns(
  PacketObject: VMBPACKET,
  Buffer: Uint8Array | null,
  BufferLength: number,
  ExternalDataPfns: readonly number[],
  PfnLength: number,
  Flags: number,
): number {
  if ((Flags & VMBUS_CHANNEL_FORMAT_FLAG_WAIT_FOR_COMPLETION) === 0)
    return NTSTATUS.STATUS_INVALID_PARAMETER_6;
  return sendWith(
    PacketObject,
    Buffer,
    BufferLength,
    { kind: 'pfns', pfns: ExternalDataPfns, count: PfnLength },
    Flags,
  );
}
/**
 * VmbChannelSendSynchronousRequest: Sends one packet and waits for its completion, copying the peer's completion bytes out.
 *
 * Reference: [VmbChannelSendSynchronousRequest](https://learn.microsoft.com/windows-hardware/drivers/ddi/vmbuskernelmodeclientlibapi/nc-vmbuskernelmodeclientlibapi-fn_vmb_channel_send_synchronous_request).
 *
 * @param Channel - the channel
 * @param Buffer - the inline bytes
 * @param BufferSize - bytes of `Buffer` to send (at most the maximum packet size)
 * @param ExternalDataMdl - external data, or null
 * @param Flags - VMBUS_CHANNEL_FORMAT_FLAG_* bits (WAIT_FOR_COMPLETION asks the peer for a completion)
 * @param CompletionBuffer - receives the peer's completion bytes, or null
 * @param CompletionBufferSize - in: the size of `CompletionBuffer`; out: the bytes the peer completed with
 * @param Timeout - in 100 ns units: negative relative, positive absolute, 0 for no wait, null to wait for ever
 * @returns a promise of `STATUS_SUCCESS`; `STATUS_BUFFER_OVERFLOW` when the completion was larger than the buffer (the buffer holds the first part); `STATUS_CANCELLED` on timeout; `STATUS_DEVICE_REMOVED` when the channel is disabled or closes first; `STATUS_INVALID_BUFFER_SIZE` for a completion size that is not a multiple of 8; `STATUS_INVALID_DEVICE_REQUEST` when a server would wait; `STATUS_INVALID_DEVICE_STATE` from inside EvtChannelStarted (decision 11); `STATUS_INVALID_PARAMETER_*` as VmbPacketSend
 * @example
 * ```ts
 * import { createKmclPair, NTSTATUS, VmbChannelSendSynchronousRequest, VMBUS_CHANNEL_FORMAT_FLAG_WAIT_FOR_COMPLETION as WAIT } from 'vmbus-kmcl';
 * const { server, client, dispose } = await createKmclPair();
 * const reply = new Uint8Array(16);
 * const size = { value: reply.length };
 * const status = await VmbChannelSendSynchronousRequest(client, new Uint8Array([9]), 1, null, WAIT, reply, size, -10_000_000n); // 1 s
 * console.log(status === NTSTATUS.STATUS_SUCCESS, size.value); // true 0
 * await dispose();
 * ```
 */
export function VmbChannelSendSynchronousRequest(
  Channel: VMBCHANNEL,
  Buffer: Uint8Array | null,
  BufferSize: number,
  ExternalDataMdl: MDL | null,
  Flags: number,
  CompletionBuffer: Uint8Array | null,
  CompletionBufferSize: { value: number } | null,
  Timeout: bigint | null,
): Promise<number> {
  const external: ExternalData | null = ExternalDataMdl
    ? { kind: 'mdl', chain: chainOf(ExternalDataMdl), offset: 0, length: 0, forceLength: false }
    : null;
  return Channel.sendSynchronousRequest(
    Buffer ?? new Uint8Array(0),
    BufferSize,
    external,
    Flags,
    CompletionBuffer,
    CompletionBufferSize,
    Timeout,
  );
}

// --- 3D incoming packets -------------------------------------------------

/**
 * VmbChannelPacketComplete: Finishes an incoming packet, exactly once: sends the completion bytes when the sender asked for a completion, and releases the packet's ring space. May be called inline or later. A second call is counted as misuse and ignored.
 *
 * Reference: [VmbChannelPacketComplete](https://learn.microsoft.com/windows-hardware/drivers/ddi/vmbuskernelmodeclientlibapi/nc-vmbuskernelmodeclientlibapi-fn_vmb_channel_packet_complete).
 *
 * @param PacketCompletionContext - the incoming packet, as passed to EvtChannelProcessPacket
 * @param PacketCompletionBuffer - completion bytes for the sender, or null
 * @param BufSize - bytes of `PacketCompletionBuffer` to send
 * @example
 * ```ts
 * import { createKmclPair, VmbChannelInitSetProcessPacketCallbacks, VmbChannelPacketComplete } from 'vmbus-kmcl';
 * const { dispose } = await createKmclPair({
 *   configureServer: (c) =>
 *     VmbChannelInitSetProcessPacketCallbacks(c, (_ch, packet) => {
 *       setTimeout(() => VmbChannelPacketComplete(packet, new Uint8Array([0, 0, 0, 0]), 4), 1); // later is fine
 *     }),
 * });
 * await dispose();
 * ```
 */
export function VmbChannelPacketComplete(
  PacketCompletionContext: VMBPACKETCOMPLETION,
  PacketCompletionBuffer: Uint8Array | null,
  BufSize: number,
): void {
  quietly(PacketCompletionContext.channel, () =>
    PacketCompletionContext.channel.completePacket(
      PacketCompletionContext,
      PacketCompletionBuffer,
      BufSize,
    ),
  );
}
/**
 * VmbChannelPacketDeferToPassive: Asks for the packet to be delivered again from a task (the passive-level retry); only inline from the process-packet callback.
 *
 * Reference: [VmbChannelPacketDeferToPassive](https://learn.microsoft.com/windows-hardware/drivers/ddi/vmbuskernelmodeclientlibapi/nc-vmbuskernelmodeclientlibapi-fn_vmb_channel_packet_defer_to_passive).
 *
 * @param PacketCompletionContext - the incoming packet, as passed to EvtChannelProcessPacket
 * @example
 * ```ts
 * import { createKmclPair, VmbChannelInitSetProcessPacketCallbacks, VmbChannelPacketComplete, VmbChannelPacketDeferToPassive } from 'vmbus-kmcl';
 * let first = true;
 * const { dispose } = await createKmclPair({
 *   configureServer: (c) =>
 *     VmbChannelInitSetProcessPacketCallbacks(c, (_ch, packet) => {
 *       if (first) {
 *         first = false;
 *         VmbChannelPacketDeferToPassive(packet); // delivered again shortly
 *       } else VmbChannelPacketComplete(packet, null, 0);
 *     }),
 * });
 * await dispose();
 * ```
 */
export function VmbChannelPacketDeferToPassive(PacketCompletionContext: VMBPACKETCOMPLETION): void {
  quietly(PacketCompletionContext.channel, () =>
    PacketCompletionContext.channel.deferToPassive(PacketCompletionContext),
  );
}
/**
 * VmbChannelPacketFail: Rejects a malformed incoming packet: it is completed with no data and the channel's incoming queue stops; nothing more is delivered until the channel is reopened.
 *
 * Reference: [VmbChannelPacketFail](https://learn.microsoft.com/windows-hardware/drivers/ddi/vmbuskernelmodeclientlibapi/nc-vmbuskernelmodeclientlibapi-fn_vmb_channel_packet_fail).
 *
 * @param PacketCompletionContext - the incoming packet, as passed to EvtChannelProcessPacket
 * @example
 * ```ts
 * import { createKmclPair, VmbChannelInitSetProcessPacketCallbacks, VmbChannelPacketComplete, VmbChannelPacketFail } from 'vmbus-kmcl';
 * const { dispose } = await createKmclPair({
 *   configureServer: (c) =>
 *     VmbChannelInitSetProcessPacketCallbacks(c, (_ch, packet, _buffer, length) => {
 *       if (length < 4) VmbChannelPacketFail(packet); // a hostile peer
 *       else VmbChannelPacketComplete(packet, null, 0);
 *     }),
 * });
 * await dispose();
 * ```
 */
export function VmbChannelPacketFail(PacketCompletionContext: VMBPACKETCOMPLETION): void {
  quietly(PacketCompletionContext.channel, () =>
    PacketCompletionContext.channel.failPacket(PacketCompletionContext),
  );
}
/**
 * VmbChannelPacketGetExternalData: Maps an incoming packet's external data (GPA-direct ranges) as memory descriptors the receiver can read, and write unless mapped read-only.
 *
 * Reference: [VmbChannelPacketGetExternalData](https://learn.microsoft.com/windows-hardware/drivers/ddi/vmbuskernelmodeclientlibapi/nc-vmbuskernelmodeclientlibapi-fn_vmb_channel_packet_get_external_data).
 *
 * @param PacketCompletionContext - the incoming packet, as passed to EvtChannelProcessPacket
 * @param Flags - VMBUS_CHANNEL_PACKET_EXTERNAL_DATA_FLAG_READ_ONLY to map for reading only, else 0
 * @param Mdl - receives the memory descriptors of the external data
 * @returns `STATUS_SUCCESS` with the descriptors in `Mdl`; `STATUS_PENDING` when the mapping is not available yet (return from the callback; the packet is delivered again); `STATUS_INVALID_PARAMETER_1` for a packet that is not outstanding; `STATUS_INVALID_PARAMETER_2` for unknown flags; `STATUS_INVALID_DEVICE_REQUEST` for a packet without external data; `STATUS_INVALID_PARAMETER` for ranges outside guest memory. A read-only sender's data comes back as read-only descriptors
 * @example
 * ```ts
 * import { createKmclPair, type MemoryDescriptor, NTSTATUS, VMBUS_CHANNEL_PROCESS_PACKET_FLAG_EXTERNAL_DATA, VmbChannelInitSetProcessPacketCallbacks, VmbChannelPacketComplete, VmbChannelPacketGetExternalData } from 'vmbus-kmcl';
 * const { dispose } = await createKmclPair({
 *   configureServer: (c) =>
 *     VmbChannelInitSetProcessPacketCallbacks(c, (_ch, packet, _buffer, _length, flags) => {
 *       if (flags & VMBUS_CHANNEL_PROCESS_PACKET_FLAG_EXTERNAL_DATA) {
 *         const mdl: { value?: MemoryDescriptor[] } = {};
 *         const status = VmbChannelPacketGetExternalData(packet, 0, mdl);
 *         if (status === NTSTATUS.STATUS_PENDING) return; // called again later
 *         mdl.value?.[0]?.write(0, new Uint8Array([42])); // answer into the sender's buffer
 *       }
 *       VmbChannelPacketComplete(packet, null, 0);
 *     }),
 * });
 * await dispose();
 * ```
 */
export function VmbChannelPacketGetExternalData(
  PacketCompletionContext: VMBPACKETCOMPLETION,
  Flags: number,
  Mdl: Out<MemoryDescriptor[]>,
): number {
  let result = NTSTATUS.STATUS_UNSUCCESSFUL as number;
  const s = status(() => {
    const r = PacketCompletionContext.channel.getExternalData(PacketCompletionContext, Flags);
    Mdl.value = r.mdl;
    result = r.status;
  });
  return s === NTSTATUS.STATUS_SUCCESS ? result : s;
}
/**
 * VmbChannelSetIncomingProcessingAtPassive: Chooses whether incoming packets are processed inline with the interrupt or from a task (the passive-level worker).
 *
 * Reference: [VmbChannelSetIncomingProcessingAtPassive](https://learn.microsoft.com/windows-hardware/drivers/ddi/vmbuskernelmodeclientlibapi/nc-vmbuskernelmodeclientlibapi-fn_vmb_channel_set_incoming_processing_at_passive).
 *
 * @param Channel - the channel
 * @param RequirePassive - true to run the process-packet callback from a task rather than inline
 * @example
 * ```ts
 * import { createKmclPair, NTSTATUS, VmbChannelSetIncomingProcessingAtPassive } from 'vmbus-kmcl';
 * const { server, client, dispose } = await createKmclPair();
 * VmbChannelSetIncomingProcessingAtPassive(server, true);
 * await dispose();
 * ```
 */
export function VmbChannelSetIncomingProcessingAtPassive(
  Channel: VMBCHANNEL,
  RequirePassive: boolean,
): void {
  Channel.setIncomingProcessingAtPassive(RequirePassive);
}
/**
 * VmbChannelSetTransactionQuota: Limits how many incoming packets may be outstanding (delivered, not yet completed); delivery stops at the quota and restarts as packets complete. 0 is refused and counted as misuse.
 *
 * Reference: [VmbChannelSetTransactionQuota](https://learn.microsoft.com/windows-hardware/drivers/ddi/vmbuskernelmodeclientlibapi/nc-vmbuskernelmodeclientlibapi-fn_vmb_channel_set_transaction_quota).
 *
 * @param Channel - the channel
 * @param Quota - the most incoming packets outstanding (not yet completed) at a time; 0 is refused
 * @example
 * ```ts
 * import { createKmclPair, NTSTATUS, VmbChannelSetTransactionQuota } from 'vmbus-kmcl';
 * const { server, client, dispose } = await createKmclPair();
 * VmbChannelSetTransactionQuota(server, 8);
 * await dispose();
 * ```
 */
export function VmbChannelSetTransactionQuota(Channel: VMBCHANNEL, Quota: number): void {
  quietly(Channel, () => Channel.setTransactionQuota(Quota));
}
/**
 * VmbChannelPause: Pauses a channel: stops delivering incoming packets and resolves when no delivered packet is outstanding. The Suspend callback runs.
 *
 * Reference: [VmbChannelPause](https://learn.microsoft.com/windows-hardware/drivers/ddi/vmbuskernelmodeclientlibapi/nc-vmbuskernelmodeclientlibapi-fn_vmb_channel_pause).
 *
 * @param Channel - the channel
 * @returns a promise that resolves once paused
 * @example
 * ```ts
 * import { createKmclPair, NTSTATUS, VmbChannelPause, VmbChannelStart } from 'vmbus-kmcl';
 * const { server, client, dispose } = await createKmclPair();
 * await VmbChannelPause(server);
 * VmbChannelStart(server); // traffic resumes
 * await dispose();
 * ```
 */
export function VmbChannelPause(Channel: VMBCHANNEL): Promise<void> {
  return Channel.pause().catch(() => {
    Channel.stats.misuse++;
  });
}
/**
 * VmbChannelStart: Starts (or restarts after Pause) delivery of incoming packets on an opened channel; a server calls it after Enable. Not allowed from inside a state callback (misuse, counted).
 *
 * Reference: [VmbChannelStart](https://learn.microsoft.com/windows-hardware/drivers/ddi/vmbuskernelmodeclientlibapi/nc-vmbuskernelmodeclientlibapi-fn_vmb_channel_start).
 *
 * @param Channel - the channel
 * @example
 * ```ts
 * import { createKmclPair, NTSTATUS, VmbChannelPause, VmbChannelStart } from 'vmbus-kmcl';
 * const { server, client, dispose } = await createKmclPair();
 * await VmbChannelPause(client);
 * VmbChannelStart(client);
 * await dispose();
 * ```
 */
export function VmbChannelStart(Channel: VMBCHANNEL): void {
  quietly(Channel, () => Channel.start());
}

// --- 3E GPADL and MMIO ---------------------------------------------------

/**
 * VmbChannelCreateGpadlFromBuffer: Describes a buffer of guest memory to the host as a GPADL and resolves once the host accepted it (client).
 *
 * Reference: [VmbChannelCreateGpadlFromBuffer](https://learn.microsoft.com/windows-hardware/drivers/ddi/vmbuskernelmodeclientlibapi/nc-vmbuskernelmodeclientlibapi-fn_vmb_channel_create_gpadl_from_buffer).
 *
 * @param Channel - the channel
 * @param Flags - VMBUS_CHANNEL_GPADL_FLAG_READ_ONLY or 0
 * @param Buffer - a view of guest memory
 * @param ByteCount - bytes of `Buffer` the GPADL covers
 * @param GpadlHandle - receives the handle
 * @returns a promise of `STATUS_SUCCESS` with the handle in `GpadlHandle`; `STATUS_INVALID_PARAMETER_2` for unknown flags; `STATUS_INVALID_PARAMETER_3` for a buffer outside guest memory; `STATUS_INVALID_PARAMETER_4` for a bad byte count; `STATUS_INVALID_DEVICE_STATE` when the channel is not open; the host's status (or `STATUS_INSUFFICIENT_RESOURCES`) when it refuses
 * @example
 * ```ts
 * import { createKmclPair, NTSTATUS, VmbChannelCreateGpadlFromBuffer, VmbChannelDeleteGpadl } from 'vmbus-kmcl';
 * const { bus, client, dispose } = await createKmclPair();
 * const first = bus.guest.pages.allocate(2)[0]!;
 * const buffer = bus.memory.bytes.subarray(first * 4096, first * 4096 + 4096);
 * const handle: { value?: number } = {};
 * if ((await VmbChannelCreateGpadlFromBuffer(client, 0, buffer, 4096, handle)) === NTSTATUS.STATUS_SUCCESS)
 *   await VmbChannelDeleteGpadl(client, handle.value!);
 * await dispose();
 * ```
 */
export function VmbChannelCreateGpadlFromBuffer(
  Channel: VMBCHANNEL,
  Flags: number,
  Buffer: Uint8Array,
  ByteCount: number,
  GpadlHandle: Out<number>,
): Promise<number> {
  return asyncStatus(async () => {
    const memory = Channel.guestMemory;
    if (Buffer.buffer !== memory.buffer)
      throw new KmclError(
        NTSTATUS.STATUS_INVALID_PARAMETER_3,
        'The buffer is not a view of guest memory',
      );
    if (!(ByteCount > 0 && ByteCount <= Buffer.byteLength))
      throw new KmclError(
        NTSTATUS.STATUS_INVALID_PARAMETER_4,
        `ByteCount ${ByteCount} is not in 1..${Buffer.byteLength}`,
      );
    GpadlHandle.value = await Channel.createGpadl(
      Flags,
      MemoryDescriptor.contiguous(memory, Buffer.byteOffset, ByteCount),
    );
  });
}
/**
 * VmbChannelCreateGpadlFromMdl: Describes a byte range of a memory descriptor to the host as a GPADL (client).
 *
 * Reference: [VmbChannelCreateGpadlFromMdl](https://learn.microsoft.com/windows-hardware/drivers/ddi/vmbuskernelmodeclientlibapi/nc-vmbuskernelmodeclientlibapi-fn_vmb_channel_create_gpadl_from_mdl).
 *
 * @param Channel - the channel
 * @param Flags - VMBUS_CHANNEL_GPADL_FLAG_READ_ONLY or 0
 * @param Mdl - the memory descriptor of guest memory
 * @param StartOffsetWithinMdl - byte offset in the memory descriptor where the GPADL starts
 * @param DataLengthWithinMdl - bytes the GPADL covers; 0 for the rest of the descriptor
 * @param GpadlHandle - receives the handle
 * @returns a promise of `STATUS_SUCCESS` with the handle in `GpadlHandle`; `STATUS_INVALID_PARAMETER_2` for unknown flags; `STATUS_INVALID_PARAMETER_4` for a range outside the descriptor; `STATUS_INVALID_DEVICE_STATE` when the channel is not open; the host's status when it refuses
 * @example
 * ```ts
 * import { createKmclPair, MemoryDescriptor, VMBUS_CHANNEL_GPADL_FLAG_READ_ONLY, VmbChannelCreateGpadlFromMdl } from 'vmbus-kmcl';
 * const { bus, client, dispose } = await createKmclPair();
 * const mdl = new MemoryDescriptor(bus.memory, bus.guest.pages.allocate(4), 0, 4 * 4096);
 * const handle: { value?: number } = {};
 * await VmbChannelCreateGpadlFromMdl(client, VMBUS_CHANNEL_GPADL_FLAG_READ_ONLY, mdl, 0, 0, handle); // the whole descriptor, read-only for the host
 * await dispose();
 * ```
 */
export function VmbChannelCreateGpadlFromMdl(
  Channel: VMBCHANNEL,
  Flags: number,
  Mdl: MemoryDescriptor,
  StartOffsetWithinMdl: number,
  DataLengthWithinMdl: number,
  GpadlHandle: Out<number>,
): Promise<number> {
  return asyncStatus(async () => {
    const length =
      DataLengthWithinMdl === 0 ? Mdl.byteLength - StartOffsetWithinMdl : DataLengthWithinMdl;
    if (
      !(StartOffsetWithinMdl >= 0 && length > 0 && StartOffsetWithinMdl + length <= Mdl.byteLength)
    ) {
      throw new KmclError(
        NTSTATUS.STATUS_INVALID_PARAMETER_4,
        `Span ${StartOffsetWithinMdl}+${length} is outside the ${Mdl.byteLength}-byte MDL`,
      );
    }
    const start = Mdl.byteOffset + StartOffsetWithinMdl;
    const first = Math.floor(start / 4096);
    const last = Math.floor((start + length - 1) / 4096);
    const sub = new MemoryDescriptor(
      Mdl.memory,
      Mdl.pfns.slice(first, last + 1),
      start % 4096,
      length,
    );
    GpadlHandle.value = await Channel.createGpadl(Flags, sub);
  });
}
/**
 * VmbChannelDeleteGpadl: Tears a GPADL down; resolves once the host released it (it waits while the server has it mapped). An unknown handle is counted as misuse.
 *
 * Reference: [VmbChannelDeleteGpadl](https://learn.microsoft.com/windows-hardware/drivers/ddi/vmbuskernelmodeclientlibapi/nc-vmbuskernelmodeclientlibapi-fn_vmb_channel_delete_gpadl).
 *
 * @param Channel - the channel
 * @param GpadlHandle - the GPADL handle
 * @returns a promise that resolves when the GPADL is gone
 * @example
 * ```ts
 * import { createKmclPair, VmbChannelCreateGpadlFromBuffer, VmbChannelDeleteGpadl } from 'vmbus-kmcl';
 * const { bus, client, dispose } = await createKmclPair();
 * const first = bus.guest.pages.allocate(1)[0]!;
 * const handle: { value?: number } = {};
 * await VmbChannelCreateGpadlFromBuffer(client, 0, bus.memory.bytes.subarray(first * 4096, first * 4096 + 4096), 4096, handle);
 * await VmbChannelDeleteGpadl(client, handle.value!);
 * await dispose();
 * ```
 */
export function VmbChannelDeleteGpadl(Channel: VMBCHANNEL, GpadlHandle: number): Promise<void> {
  return Channel.deleteGpadl(GpadlHandle).catch(() => {
    Channel.stats.misuse++;
  });
}
/**
 * VmbChannelMapGpadl: Maps a GPADL the guest created, so the server can read (and, unless it is read-only, write) its pages. One mapping per GPADL at a time.
 *
 * Reference: [VmbChannelMapGpadl](https://learn.microsoft.com/windows-hardware/drivers/ddi/vmbuskernelmodeclientlibapi/nc-vmbuskernelmodeclientlibapi-fn_vmb_channel_map_gpadl).
 *
 * @param Channel - the channel
 * @param Flags - VMBUS_CHANNEL_GPADL_FLAG_READ_ONLY for a read-only GPADL, else 0
 * @param GpadlHandle - the GPADL handle
 * @param Mdl - receives the GPADL's pages as memory descriptors
 * @returns `STATUS_SUCCESS` with the pages in `Mdl`; `STATUS_NOT_FOUND` for an unknown handle; `STATUS_INVALID_DEVICE_STATE` when already mapped or the channel is not open; `STATUS_INVALID_DEVICE_REQUEST` when a read-only GPADL is mapped without the read-only flag; `STATUS_INVALID_PARAMETER_2` for unknown flags; `STATUS_INVALID_PARAMETER_1` on a client
 * @example
 * ```ts
 * import { createKmclPair, type MemoryDescriptor, VmbChannelCreateGpadlFromBuffer, VmbChannelMapGpadl, VmbChannelUnmapGpadl } from 'vmbus-kmcl';
 * const { bus, server, client, dispose } = await createKmclPair();
 * const first = bus.guest.pages.allocate(1)[0]!;
 * const handle: { value?: number } = {};
 * await VmbChannelCreateGpadlFromBuffer(client, 0, bus.memory.bytes.subarray(first * 4096, first * 4096 + 4096), 4096, handle);
 * const mdl: { value?: MemoryDescriptor[] } = {};
 * VmbChannelMapGpadl(server, 0, handle.value!, mdl);
 * mdl.value![0]!.write(0, new Uint8Array([1, 2, 3])); // the host writes into the guest's buffer
 * VmbChannelUnmapGpadl(server, handle.value!);
 * await dispose();
 * ```
 */
export function VmbChannelMapGpadl(
  Channel: VMBCHANNEL,
  Flags: number,
  GpadlHandle: number,
  Mdl: Out<MemoryDescriptor[]>,
): number {
  return status(() => {
    Mdl.value = Channel.mapGpadl(Flags, GpadlHandle);
  });
}
/**
 * VmbChannelUnmapGpadl: Ends the server's mapping of a GPADL (a pending delete then proceeds). An unmapped handle is counted as misuse.
 *
 * Reference: [VmbChannelUnmapGpadl](https://learn.microsoft.com/windows-hardware/drivers/ddi/vmbuskernelmodeclientlibapi/nc-vmbuskernelmodeclientlibapi-fn_vmb_channel_unmap_gpadl).
 *
 * @param Channel - the channel
 * @param GpadlHandle - the GPADL handle
 * @example
 * ```ts
 * import { createKmclPair, type MemoryDescriptor, VmbChannelCreateGpadlFromBuffer, VmbChannelMapGpadl, VmbChannelUnmapGpadl } from 'vmbus-kmcl';
 * const { bus, server, client, dispose } = await createKmclPair();
 * const first = bus.guest.pages.allocate(1)[0]!;
 * const handle: { value?: number } = {};
 * await VmbChannelCreateGpadlFromBuffer(client, 0, bus.memory.bytes.subarray(first * 4096, first * 4096 + 4096), 4096, handle);
 * const mdl: { value?: MemoryDescriptor[] } = {};
 * VmbChannelMapGpadl(server, 0, handle.value!, mdl);
 * VmbChannelUnmapGpadl(server, handle.value!);
 * await dispose();
 * ```
 */
export function VmbChannelUnmapGpadl(Channel: VMBCHANNEL, GpadlHandle: number): void {
  quietly(Channel, () => Channel.unmapGpadl(GpadlHandle));
}
/**
 * VmbChannelGetMmioSpace: Reads the MMIO space the host asked the guest to reserve for the device (client); zeros before Opened or when the offer asked for none.
 *
 * Reference: [VmbChannelGetMmioSpace](https://learn.microsoft.com/windows-hardware/drivers/ddi/vmbuskernelmodeclientlibapi/nc-vmbuskernelmodeclientlibapi-fn_vmb_channel_get_mmio_space).
 *
 * @param Channel - the channel
 * @param MmioAddress - receives the guest physical address of the MMIO space
 * @param MmioSize - receives the size of the MMIO space in bytes
 * @example
 * ```ts
 * import { createKmclPair, NTSTATUS, VmbChannelGetMmioSpace } from 'vmbus-kmcl';
 * const { server, client, dispose } = await createKmclPair();
 * const address: { value?: bigint } = {};
 * const size: { value?: bigint } = {};
 * VmbChannelGetMmioSpace(client, address, size);
 * console.log(size.value); // 0n: this offer asked for none
 * await dispose();
 * ```
 */
export function VmbChannelGetMmioSpace(
  Channel: VMBCHANNEL,
  MmioAddress: Out<bigint>,
  MmioSize: Out<bigint>,
): void {
  const m = Channel.getMmioSpace();
  MmioAddress.value = m.address;
  MmioSize.value = m.size;
}

// --- 3F save / restore ---------------------------------------------------

/**
 * VmbChannelSaveBegin: Starts saving a server channel's packets in flight (for a host restart).
 *
 * Reference: [VmbChannelSaveBegin](https://learn.microsoft.com/windows-hardware/drivers/ddi/vmbuskernelmodeclientlibapi/nc-vmbuskernelmodeclientlibapi-fn_vmb_channel_save_begin).
 *
 * @param Channel - the channel
 * @returns `STATUS_SUCCESS`; `STATUS_INVALID_DEVICE_STATE` when a save is already running; a failure status of the save-packet callback; `STATUS_INVALID_PARAMETER_1` on a client
 * @example
 * ```ts
 * import { createKmclPair, NTSTATUS, VmbChannelSaveBegin, VmbChannelSaveContinue, VmbChannelSaveEnd } from 'vmbus-kmcl';
 * const { server, client, dispose } = await createKmclPair();
 * VmbChannelSaveBegin(server);
 * const chunk = new Uint8Array(4096);
 * const filled: { value?: number } = {};
 * const required: { value?: number } = {};
 * console.log(VmbChannelSaveContinue(server, chunk, chunk.length, filled, required) === NTSTATUS.STATUS_SUCCESS); // true: nothing in flight
 * VmbChannelSaveEnd(server);
 * await dispose();
 * ```
 */
export function VmbChannelSaveBegin(Channel: VMBCHANNEL): number {
  return status(() => Channel.saveBegin());
}
/**
 * VmbChannelSaveContinue: Fills a buffer with the next records of the save; call until it returns `STATUS_SUCCESS`.
 *
 * Reference: [VmbChannelSaveContinue](https://learn.microsoft.com/windows-hardware/drivers/ddi/vmbuskernelmodeclientlibapi/nc-vmbuskernelmodeclientlibapi-fn_vmb_channel_save_continue).
 *
 * @param Channel - the channel
 * @param SaveBuffer - receives the saved state
 * @param SaveBufferSize - bytes of `SaveBuffer` usable
 * @param BytesFilled - receives the bytes written to `SaveBuffer`
 * @param BytesRequired - receives the bytes still needed for the next record
 * @returns `STATUS_SUCCESS` when everything is saved; `STATUS_BUFFER_OVERFLOW` when the buffer was filled and more remains (call again with a fresh buffer); `STATUS_BUFFER_TOO_SMALL` when the next record does not fit at all (`BytesRequired` says how much is needed); `STATUS_INVALID_PARAMETER_3` for a size larger than the buffer; `STATUS_INVALID_DEVICE_STATE` without SaveBegin
 * @example
 * ```ts
 * import { createKmclPair, NTSTATUS, VmbChannelSaveBegin, VmbChannelSaveContinue, VmbChannelSaveEnd } from 'vmbus-kmcl';
 * const { server, client, dispose } = await createKmclPair();
 * VmbChannelSaveBegin(server);
 * const chunks: Uint8Array[] = [];
 * const filled: { value?: number } = {};
 * const required: { value?: number } = {};
 * for (;;) {
 *   const chunk = new Uint8Array(4096);
 *   const status = VmbChannelSaveContinue(server, chunk, chunk.length, filled, required);
 *   chunks.push(chunk.subarray(0, filled.value));
 *   if (status !== NTSTATUS.STATUS_BUFFER_OVERFLOW) break;
 * }
 * VmbChannelSaveEnd(server);
 * await dispose();
 * ```
 */
export function VmbChannelSaveContinue(
  Channel: VMBCHANNEL,
  SaveBuffer: Uint8Array,
  SaveBufferSize: number,
  BytesFilled: Out<number>,
  BytesRequired: Out<number>,
): number {
  let result = NTSTATUS.STATUS_UNSUCCESSFUL as number;
  const s = status(() => {
    const r = Channel.saveContinue(SaveBuffer, SaveBufferSize);
    BytesFilled.value = r.filled;
    BytesRequired.value = r.required;
    result = r.status;
  });
  return s === NTSTATUS.STATUS_SUCCESS ? result : s;
}
/**
 * VmbChannelSaveEnd: Ends a save started with VmbChannelSaveBegin.
 *
 * Reference: [VmbChannelSaveEnd](https://learn.microsoft.com/windows-hardware/drivers/ddi/vmbuskernelmodeclientlibapi/nc-vmbuskernelmodeclientlibapi-fn_vmb_channel_save_end).
 *
 * @param Channel - the channel
 * @example
 * ```ts
 * import { createKmclPair, NTSTATUS, VmbChannelSaveBegin, VmbChannelSaveEnd } from 'vmbus-kmcl';
 * const { server, client, dispose } = await createKmclPair();
 * VmbChannelSaveBegin(server);
 * VmbChannelSaveEnd(server);
 * await dispose();
 * ```
 */
export function VmbChannelSaveEnd(Channel: VMBCHANNEL): void {
  quietly(Channel, () => Channel.saveEnd());
}
/**
 * VmbChannelRestoreFromBuffer: Restores the packets in flight from one chunk of a save, calling the restore-packet callback for each; feed the chunks in order.
 *
 * Reference: [VmbChannelRestoreFromBuffer](https://learn.microsoft.com/windows-hardware/drivers/ddi/vmbuskernelmodeclientlibapi/nc-vmbuskernelmodeclientlibapi-fn_vmb_channel_restore_from_buffer).
 *
 * @param Channel - the channel
 * @param Buffer - one chunk filled by VmbChannelSaveContinue
 * @param BufferSize - bytes of the chunk
 * @returns `STATUS_SUCCESS` after the last chunk; `STATUS_MORE_PROCESSING_REQUIRED` while chunks remain (an error-severity status by design); `STATUS_INVALID_PARAMETER` for bytes that are not a saved chunk
 * @example
 * ```ts
 * import { createKmclPair, NTSTATUS, VmbChannelRestoreFromBuffer } from 'vmbus-kmcl';
 * const { server, client, dispose } = await createKmclPair();
 * console.log(VmbChannelRestoreFromBuffer(server, new Uint8Array(8), 8) === NTSTATUS.STATUS_INVALID_PARAMETER); // true: not a saved chunk
 * await dispose();
 * ```
 */
export function VmbChannelRestoreFromBuffer(
  Channel: VMBCHANNEL,
  Buffer: Uint8Array,
  BufferSize: number,
): number {
  let result = NTSTATUS.STATUS_UNSUCCESSFUL as number;
  const s = status(() => {
    result = Channel.restoreFromBuffer(Buffer, BufferSize);
  });
  return s === NTSTATUS.STATUS_SUCCESS ? result : s;
}
/**
 * VmbPacketRestore: Rebuilds a packet in flight inside a new packet object, from the library buffer handed to EvtVmbChannelRestorePacket.
 *
 * Reference: [VmbPacketRestore](https://learn.microsoft.com/windows-hardware/drivers/ddi/vmbuskernelmodeclientlibapi/nc-vmbuskernelmodeclientlibapi-fn_vmb_packet_restore).
 *
 * @param PacketObject - a packet from VmbPacketAllocate or VmbPacketInitialize
 * @param Buffer - the library buffer passed to EvtVmbChannelRestorePacket
 * @param BufferSize - its size
 * @returns `STATUS_SUCCESS`; `STATUS_INVALID_PARAMETER_1` for a buffer that is not a packet; `STATUS_INVALID_PARAMETER_2` for library bytes that are not a saved packet; `STATUS_INVALID_DEVICE_STATE` when its transaction slot is already in use
 * @example
 * ```ts
 * import { createKmclPair, NTSTATUS, VmbPacketAllocate, VmbPacketRestore, VmbPacketSetCompletionRoutine, VmbServerChannelInitSetSaveRestorePacketCallbacks } from 'vmbus-kmcl';
 * const { dispose } = await createKmclPair({
 *   configureServer: (c) =>
 *     VmbServerChannelInitSetSaveRestorePacketCallbacks(
 *       c,
 *       () => NTSTATUS.STATUS_SUCCESS,
 *       (ch, lib, libSize) => {
 *         const packet = VmbPacketAllocate(ch)!;
 *         VmbPacketSetCompletionRoutine(packet, (_p, status) => console.log('restored packet completed', status));
 *         return VmbPacketRestore(packet, lib, libSize);
 *       },
 *     ),
 * });
 * await dispose();
 * ```
 */
export function VmbPacketRestore(
  PacketObject: VMBPACKET,
  Buffer: Uint8Array,
  BufferSize: number,
): number {
  const packet = packetOf(PacketObject);
  if (!packet) return NTSTATUS.STATUS_INVALID_PARAMETER_1;
  return status(() => packet.channel.restorePacketObject(packet, Buffer, BufferSize));
}

// --- 3G miscellaneous ----------------------------------------------------

/**
 * VmbChannelSetPointer: Stores a value of the driver's with a channel.
 *
 * Reference: [VmbChannelSetPointer](https://learn.microsoft.com/windows-hardware/drivers/ddi/vmbuskernelmodeclientlibapi/nc-vmbuskernelmodeclientlibapi-fn_vmb_channel_set_pointer).
 *
 * @param Channel - the channel
 * @param Pointer - any value to keep with the object
 * @example
 * ```ts
 * import { createKmclPair, NTSTATUS, VmbChannelGetPointer, VmbChannelSetPointer } from 'vmbus-kmcl';
 * const { server, client, dispose } = await createKmclPair();
 * VmbChannelSetPointer(client, { device: 'disk0' });
 * console.log(VmbChannelGetPointer(client)); // { device: 'disk0' }
 * await dispose();
 * ```
 */
export function VmbChannelSetPointer(Channel: VMBCHANNEL, Pointer: unknown): void {
  Channel.pointer = Pointer;
}
/**
 * VmbChannelGetPointer: Reads the value stored with VmbChannelSetPointer (see docs/kmcl-decisions.md, errata 2).
 *
 * Reference: [VmbChannelGetPointer](https://learn.microsoft.com/windows-hardware/drivers/ddi/vmbuskernelmodeclientlibapi/nc-vmbuskernelmodeclientlibapi-fn_vmb_channel_get_pointer).
 *
 * @param Channel - the channel
 * @returns the stored value, or null
 * @example
 * ```ts
 * import { createKmclPair, NTSTATUS, VmbChannelGetPointer } from 'vmbus-kmcl';
 * const { server, client, dispose } = await createKmclPair();
 * console.log(VmbChannelGetPointer(server)); // null
 * await dispose();
 * ```
 */
export function VmbChannelGetPointer(Channel: VMBCHANNEL): unknown {
  return Channel.pointer;
}
/**
 * VmbChannelGetInterfaceInstance: Reads the device instance GUID of the channel's offer.
 *
 * Reference: [VmbChannelGetInterfaceInstance](https://learn.microsoft.com/windows-hardware/drivers/ddi/vmbuskernelmodeclientlibapi/nc-vmbuskernelmodeclientlibapi-fn_vmb_channel_get_interface_instance).
 *
 * @param Channel - the channel
 * @param InterfaceInstance - receives the instance GUID
 * @example
 * ```ts
 * import { createKmclPair, type Guid, VmbChannelGetInterfaceInstance } from 'vmbus-kmcl';
 * const { client, dispose } = await createKmclPair();
 * const instance: { value?: Guid } = {};
 * VmbChannelGetInterfaceInstance(client, instance);
 * console.log(String(instance.value)); // a0a0a0a0-0000-0000-0000-000000000001
 * await dispose();
 * ```
 */
export function VmbChannelGetInterfaceInstance(
  Channel: VMBCHANNEL,
  InterfaceInstance: Out<Guid>,
): void {
  InterfaceInstance.value = Channel.getInterfaceInstance();
}
/**
 * VmbChannelSetInterruptLatency: Sets how long the host may delay interrupts to the guest (client, while open).
 *
 * Reference: [VmbChannelSetInterruptLatency](https://learn.microsoft.com/windows-hardware/drivers/ddi/vmbuskernelmodeclientlibapi/nc-vmbuskernelmodeclientlibapi-fn_vmb_channel_set_interrupt_latency).
 *
 * @param Channel - the channel
 * @param Latency - the new interrupt latency, in 100 ns units
 * @param OriginalLatency - receives the previous latency
 * @returns `STATUS_SUCCESS` with the previous value in `OriginalLatency`; `STATUS_INVALID_PARAMETER_2` for a value that is not a u16; `STATUS_INVALID_PARAMETER_1` on a server; `STATUS_INVALID_DEVICE_STATE` when not open
 * @example
 * ```ts
 * import { createKmclPair, NTSTATUS, VmbChannelSetInterruptLatency } from 'vmbus-kmcl';
 * const { server, client, dispose } = await createKmclPair();
 * const previous: { value?: number } = {};
 * VmbChannelSetInterruptLatency(client, 500, previous);
 * await dispose();
 * ```
 */
export function VmbChannelSetInterruptLatency(
  Channel: VMBCHANNEL,
  Latency: number,
  OriginalLatency: Out<number>,
): number {
  return status(() => {
    OriginalLatency.value = Channel.setInterruptLatency(Latency);
  });
}
/**
 * VmbConvertVmbusHandleToKernelHandle: Turns a guest partition, as the host knows it, into the handle VmbServerChannelInitSetVmbusHandle takes.
 *
 * Reference: [VmbConvertVmbusHandleToKernelHandle](https://learn.microsoft.com/windows-hardware/drivers/ddi/vmbuskernelmodeclientlibapi/nc-vmbuskernelmodeclientlibapi-fn_vmb_convert_vmbus_handle_to_kernel_handle).
 *
 * @param VmbusHandle - the guest partition, as the host knows it
 * @param KernelHandle - receives the handle for VmbServerChannelInitSetVmbusHandle
 * @returns `STATUS_SUCCESS`; `STATUS_INVALID_HANDLE` for something that is not a partition
 * @example
 * ```ts
 * import { createLocalBus, type KmclVmbusHandle, NTSTATUS, VmbConvertVmbusHandleToKernelHandle } from 'vmbus-kmcl';
 * const bus = createLocalBus();
 * const handle: { value?: KmclVmbusHandle } = {};
 * console.log(VmbConvertVmbusHandleToKernelHandle(bus.partition, handle) === NTSTATUS.STATUS_SUCCESS); // true
 * bus.dispose();
 * ```
 */
export function VmbConvertVmbusHandleToKernelHandle(
  VmbusHandle: HostPartition,
  KernelHandle: Out<KmclVmbusHandle>,
): number {
  if (!VmbusHandle || typeof VmbusHandle.receive !== 'function')
    return NTSTATUS.STATUS_INVALID_HANDLE;
  KernelHandle.value = { partition: VmbusHandle };
  return NTSTATUS.STATUS_SUCCESS;
}

/** The WDM `INTERFACE` header of the KMCL tables. */
interface InterfaceHeader {
  Size: number;
  Version: number;
  Context: unknown;
  InterfaceReference: () => void;
  InterfaceDereference: () => void;
}

const client = {
  VmbChannelAllocate,
  VmbChannelCleanup,
  VmbChannelCreateGpadlFromBuffer,
  VmbChannelCreateGpadlFromMdl,
  VmbChannelDeleteGpadl,
  VmbChannelDisable,
  VmbChannelEnable,
  VmbChannelGetInterfaceInstance,
  VmbChannelGetMmioSpace,
  VmbChannelGetPointer,
  VmbChannelInitSetClientContextSize,
  VmbChannelInitSetFlags,
  VmbChannelInitSetFriendlyName,
  VmbChannelInitSetMaximumExternalData,
  VmbChannelInitSetMaximumPacketSize,
  VmbChannelInitSetProcessPacketCallbacks,
  VmbChannelInitSetStateChangeCallbacks,
  VmbChannelPacketComplete,
  VmbChannelPacketDeferToPassive,
  VmbChannelPacketFail,
  VmbChannelPacketGetExternalData,
  VmbChannelPause,
  VmbChannelSendSynchronousRequest,
  VmbChannelSetIncomingProcessingAtPassive,
  VmbChannelSetInterruptLatency,
  VmbChannelSetPointer,
  VmbChannelSetTransactionQuota,
  VmbChannelSizeofPacket,
  VmbChannelStart,
  VmbClientChannelInitSetRingBufferPageCount,
  VmbClientChannelInitSetTargetPnp,
  VmbPacketAllocate,
  VmbPacketFree,
  VmbPacketGetChannel,
  VmbPacketGetPointer,
  VmbPacketInitialize,
  VmbPacketSend,
  VmbPacketSendWithExternalMdl,
  VmbPacketSendWithExternalPfns,
  VmbPacketSetCompletionRoutine,
  VmbPacketSetPointer,
} as const;

const serverOnly = {
  VmbChannelMapGpadl,
  VmbChannelRestoreFromBuffer,
  VmbChannelSaveBegin,
  VmbChannelSaveContinue,
  VmbChannelSaveEnd,
  VmbChannelUnmapGpadl,
  VmbConvertVmbusHandleToKernelHandle,
  VmbPacketRestore,
  VmbServerChannelInitSetFlags,
  VmbServerChannelInitSetMmioMegabytes,
  VmbServerChannelInitSetSaveRestorePacketCallbacks,
  VmbServerChannelInitSetTargetInterfaceId,
  VmbServerChannelInitSetTargetVtl,
  VmbServerChannelInitSetVmbusHandle,
} as const;

const noop = () => {};

/**
 * `KMCL_CLIENT_INTERFACE_V1`: the INTERFACE header, then the 41 client routines in the documented order.
 *
 * @example
 * ```ts
 * import { KMCL_CLIENT_INTERFACE_V1 as kmcl, createLocalBus, type VMBCHANNEL } from 'vmbus-kmcl';
 * const bus = createLocalBus();
 * const out: { value?: VMBCHANNEL } = {};
 * console.log(kmcl.VmbChannelAllocate({ guest: bus.guest }, false, out) === 0); // true: called through the table
 * kmcl.VmbChannelCleanup(out.value!);
 * bus.dispose();
 * ```
 */
export const KMCL_CLIENT_INTERFACE_V1: Readonly<InterfaceHeader & typeof client> = Object.freeze({
  Size: 8 * (3 + 41) + 4,
  Version: KMCL_CLIENT_INTERFACE_VERSION_V1,
  Context: null,
  InterfaceReference: noop,
  InterfaceDereference: noop,
  ...client,
});

/**
 * `KMCL_SERVER_ONLY_METHODS`: the 14 server-only routines in the documented order.
 *
 * @example
 * ```ts
 * import { KMCL_SERVER_ONLY_METHODS } from 'vmbus-kmcl';
 * console.log(Object.keys(KMCL_SERVER_ONLY_METHODS).length === 14); // true
 * ```
 */
export const KMCL_SERVER_ONLY_METHODS: Readonly<typeof serverOnly> = Object.freeze({
  ...serverOnly,
});

/**
 * `KMCL_SERVER_INTERFACE_V1`: the client table followed by the server-only routines (55 in all).
 *
 * @example
 * ```ts
 * import { KMCL_CLIENT_INTERFACE_V1, KMCL_SERVER_INTERFACE_V1 } from 'vmbus-kmcl';
 * console.log(KMCL_SERVER_INTERFACE_V1.Size > KMCL_CLIENT_INTERFACE_V1.Size); // true: the client table plus the server-only routines
 * ```
 */
export const KMCL_SERVER_INTERFACE_V1: Readonly<
  InterfaceHeader & typeof client & typeof serverOnly
> = Object.freeze({
  Size: 8 * (3 + 55) + 4,
  Version: KMCL_SERVER_INTERFACE_VERSION_V1,
  Context: null,
  InterfaceReference: noop,
  InterfaceDereference: noop,
  ...client,
  ...serverOnly,
});
