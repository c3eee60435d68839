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
import { type ExternalData, KmclPacket } from './kmcl-packet.js';

/** `VMBCHANNEL`. */
export type VMBCHANNEL = KmclChannel;
/** `VMBPACKETCOMPLETION`. */
export type VMBPACKETCOMPLETION = KmclIncoming;
/** `VMBPACKET`: a packet from VmbPacketAllocate, or the caller memory given to VmbPacketInitialize. */
export type VMBPACKET = KmclPacket | ArrayBuffer | SharedArrayBuffer | Uint8Array;
/** An MDL, or an MDL chain (the pieces in order). */
export type MDL = MemoryDescriptor | readonly MemoryDescriptor[];
/** An out parameter: the routine sets `value`. */
export interface Out<T> {
  value?: T;
}

/** `EVT_VMB_PACKET_COMPLETION_ROUTINE`. */
export type EVT_VMB_PACKET_COMPLETION_ROUTINE = (
  packet: VMBPACKET,
  status: number,
  buffer: Uint8Array,
  bufferLength: number,
) => void;
/** `EVT_VMB_CHANNEL_OPENED`. */
export type EVT_VMB_CHANNEL_OPENED = (channel: VMBCHANNEL) => number;
/** `EVT_VMB_CHANNEL_CLOSED`. */
export type EVT_VMB_CHANNEL_CLOSED = (channel: VMBCHANNEL) => void;
/** `EVT_VMB_CHANNEL_SUSPEND`. */
export type EVT_VMB_CHANNEL_SUSPEND = (channel: VMBCHANNEL) => void;
/** `EVT_VMB_CHANNEL_STARTED`. */
export type EVT_VMB_CHANNEL_STARTED = (channel: VMBCHANNEL) => void;
/** `EVT_VMB_CHANNEL_POST_STARTED`. */
export type EVT_VMB_CHANNEL_POST_STARTED = (channel: VMBCHANNEL) => void;
/** `EVT_VMB_CHANNEL_PROCESS_PACKET`. */
export type EVT_VMB_CHANNEL_PROCESS_PACKET = ProcessPacketCallback;
/** `EVT_VMB_CHANNEL_PROCESSING_COMPLETE`. */
export type EVT_VMB_CHANNEL_PROCESSING_COMPLETE = ProcessingCompleteCallback;
/** `EVT_VMB_CHANNEL_PNP_FAILURE`. */
export type EVT_VMB_CHANNEL_PNP_FAILURE = PnpFailureCallback;
/** `EVT_VMB_CHANNEL_SAVE_PACKET`. */
export type EVT_VMB_CHANNEL_SAVE_PACKET = SavePacketCallback;
/** `EVT_VMB_CHANNEL_RESTORE_PACKET`. */
export type EVT_VMB_CHANNEL_RESTORE_PACKET = RestorePacketCallback;

const initialized = new WeakMap<object, KmclPacket>();

function packetOf(handle: VMBPACKET): KmclPacket | undefined {
  return handle instanceof KmclPacket ? handle : initialized.get(handle);
}

function status(run: () => void): number {
  try {
    run();
    return NTSTATUS.STATUS_SUCCESS;
  } catch (e) {
    if (e instanceof KmclError) return e.status;
    if (e instanceof TypeError || e instanceof RangeError) return NTSTATUS.STATUS_INVALID_PARAMETER;
    throw e;
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

/** VmbChannelAllocate: a channel in the Disabled state. */
export function VmbChannelAllocate(
  ParentDeviceObject: KmclParent,
  IsServer: boolean,
  Channel: Out<VMBCHANNEL>,
): number {
  return status(() => {
    Channel.value = new KmclChannel(ParentDeviceObject, IsServer);
  });
}
/** VmbChannelCleanup: destroys a disabled channel (misuse on an enabled one is counted and ignored). */
export function VmbChannelCleanup(Channel: VMBCHANNEL): void {
  quietly(Channel, () => Channel.cleanup());
}
/** VmbChannelEnable: offers (server) or opens (client); returns without waiting for the peer. */
export function VmbChannelEnable(Channel: VMBCHANNEL): number {
  return status(() => Channel.enable());
}
/** VmbChannelDisable: resolves once the channel is paused and closed. */
export function VmbChannelDisable(Channel: VMBCHANNEL): Promise<void> {
  return Channel.disable().catch(() => {
    Channel.stats.misuse++;
  });
}

// --- 3A initialization ---------------------------------------------------

/** VmbChannelInitSetMaximumPacketSize. */
export function VmbChannelInitSetMaximumPacketSize(
  Channel: VMBCHANNEL,
  PacketSize: number,
): number {
  return status(() => Channel.initSetMaximumPacketSize(PacketSize));
}
/** VmbChannelInitSetMaximumExternalData. */
export function VmbChannelInitSetMaximumExternalData(
  Channel: VMBCHANNEL,
  DataSize: number,
  ChainLength: number,
): number {
  return status(() => Channel.initSetMaximumExternalData(DataSize, ChainLength));
}
/** VmbChannelInitSetClientContextSize. */
export function VmbChannelInitSetClientContextSize(
  Channel: VMBCHANNEL,
  ContextSize: number,
): number {
  return status(() => Channel.initSetClientContextSize(ContextSize));
}
/** VmbChannelInitSetProcessPacketCallbacks. */
export function VmbChannelInitSetProcessPacketCallbacks(
  Channel: VMBCHANNEL,
  ProcessPacketCallback: EVT_VMB_CHANNEL_PROCESS_PACKET,
  ProcessingCompleteCallback: EVT_VMB_CHANNEL_PROCESSING_COMPLETE | null = null,
): number {
  return status(() =>
    Channel.initSetProcessPacketCallbacks(ProcessPacketCallback, ProcessingCompleteCallback),
  );
}
/** VmbChannelInitSetStateChangeCallbacks. */
export function VmbChannelInitSetStateChangeCallbacks(
  Channel: VMBCHANNEL,
  StateChangeCallbacks: StateChangeCallbacks,
): number {
  return status(() => Channel.initSetStateChangeCallbacks(StateChangeCallbacks));
}
/** VmbChannelInitSetFriendlyName. */
export function VmbChannelInitSetFriendlyName(Channel: VMBCHANNEL, Name: string): number {
  return status(() => Channel.initSetFriendlyName(Name));
}
/** VmbChannelInitSetFlags. */
export function VmbChannelInitSetFlags(Channel: VMBCHANNEL, Flags: number): number {
  return status(() => Channel.initSetFlags(Flags));
}
/** VmbClientChannelInitSetRingBufferPageCount. */
export function VmbClientChannelInitSetRingBufferPageCount(
  Channel: VMBCHANNEL,
  IncomingPageCount: number,
  OutgoingPageCount: number,
): number {
  return status(() => Channel.initSetRingBufferPageCount(IncomingPageCount, OutgoingPageCount));
}
/** VmbClientChannelInitSetTargetPnp: instance null means any instance. */
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
/** VmbServerChannelInitSetFlags. */
export function VmbServerChannelInitSetFlags(Channel: VMBCHANNEL, Flags: number): number {
  return status(() => Channel.initSetServerFlags(Flags));
}
/** VmbServerChannelInitSetTargetInterfaceId. */
export function VmbServerChannelInitSetTargetInterfaceId(
  Channel: VMBCHANNEL,
  InterfaceType: Guid | string,
  InterfaceInstance: Guid | string,
): number {
  return status(() => Channel.initSetTargetInterfaceId(InterfaceType, InterfaceInstance));
}
/** VmbServerChannelInitSetTargetVtl. */
export function VmbServerChannelInitSetTargetVtl(Channel: VMBCHANNEL, TargetVtl: number): number {
  return status(() => Channel.initSetTargetVtl(TargetVtl));
}
/** VmbServerChannelInitSetMmioMegabytes. */
export function VmbServerChannelInitSetMmioMegabytes(
  Channel: VMBCHANNEL,
  MmioMegabytes: number,
  MmioMegabytesOptional: number,
): number {
  return status(() => Channel.initSetMmioMegabytes(MmioMegabytes, MmioMegabytesOptional));
}
/** VmbServerChannelInitSetVmbusHandle. */
export function VmbServerChannelInitSetVmbusHandle(
  Channel: VMBCHANNEL,
  VmbusHandle: KmclVmbusHandle,
): number {
  return status(() => Channel.initSetVmbusHandle(VmbusHandle));
}
/** VmbServerChannelInitSetSaveRestorePacketCallbacks. */
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
 */
export function VmbChannelSizeofPacket(Channel: VMBCHANNEL): number {
  return Channel.sizeofPacket();
}
/** VmbPacketAllocate: a library-owned packet (default completion routine frees it), or null. */
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
 * VmbPacketSetCompletionRoutine(packet, (_p, status) => console.log('completed', status));
 * VmbPacketSend(packet, new Uint8Array([1, 2, 3]), 3, null, 1);
 * await dispose();
 * ```
 */
export function VmbPacketInitialize(
  Channel: VMBCHANNEL,
  VmbPacket: ArrayBuffer | SharedArrayBuffer | Uint8Array,
  ByteCount: number,
): number {
  if (VmbPacket instanceof KmclPacket) return NTSTATUS.STATUS_INVALID_PARAMETER_2;
  const existing = initialized.get(VmbPacket);
  if (existing?.inFlight) return NTSTATUS.STATUS_INVALID_DEVICE_STATE;
  return status(() => {
    const packet = Channel.initializePacket(VmbPacket, ByteCount);
    packet.handle = VmbPacket;
    initialized.set(VmbPacket, packet);
  });
}
/** VmbPacketFree: returns a packet from VmbPacketAllocate (refused while in flight). */
export function VmbPacketFree(VmbPacket: VMBPACKET): void {
  const packet = packetOf(VmbPacket);
  quietly(packet?.channel, () => packet?.channel.freePacket(packet));
}
/** VmbPacketSetCompletionRoutine. */
export function VmbPacketSetCompletionRoutine(
  PacketObject: VMBPACKET,
  CompletionRoutine: EVT_VMB_PACKET_COMPLETION_ROUTINE,
): void {
  const packet = packetOf(PacketObject);
  if (!packet) return;
  packet.completionRoutine = (p, s, b, n) => CompletionRoutine(p.handle as VMBPACKET, s, b, n);
}
/** VmbPacketSetPointer. */
export function VmbPacketSetPointer(PacketObject: VMBPACKET, Pointer: unknown): void {
  const packet = packetOf(PacketObject);
  if (packet) packet.pointer = Pointer;
}
/** VmbPacketGetPointer. */
export function VmbPacketGetPointer(PacketObject: VMBPACKET): unknown {
  return packetOf(PacketObject)?.pointer ?? null;
}
/** VmbPacketGetChannel. */
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
  return status(() =>
    packet.channel.send(packet, Buffer ?? new Uint8Array(0), BufferLength, external, Flags),
  );
}

/** VmbPacketSend: an inline buffer and optional external data (the whole MDL chain). */
export function VmbPacketSend(
  PacketObject: VMBPACKET,
  Buffer: Uint8Array | null,
  BufferLength: number,
  ExternalDataMdl: MDL | null,
  Flags: number,
): number {
  const external: ExternalData | null = ExternalDataMdl
    ? { kind: 'mdl', chain: chainOf(ExternalDataMdl), offset: 0, length: 0, forceLength: false }
    : null;
  return sendWith(PacketObject, Buffer, BufferLength, external, Flags);
}
/** VmbPacketSendWithExternalMdl: a sub-range of the MDL chain; WAIT_FOR_COMPLETION is required. */
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
 * VmbPacketSendWithExternalPfns: external data as whole pages; WAIT_FOR_COMPLETION
 * is required. Takes the 6-parameter prototype (decision: errata 1).
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
 * VmbChannelSendSynchronousRequest: sends one packet and waits for its
 * completion. Timeout in 100 ns units (negative relative, positive
 * absolute), 0 for no wait, null for ever.
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

/** VmbChannelPacketComplete: exactly once per packet; sends the completion if one was asked for. */
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
/** VmbChannelPacketDeferToPassive: only inline from the process-packet callback. */
export function VmbChannelPacketDeferToPassive(PacketCompletionContext: VMBPACKETCOMPLETION): void {
  quietly(PacketCompletionContext.channel, () =>
    PacketCompletionContext.channel.deferToPassive(PacketCompletionContext),
  );
}
/** VmbChannelPacketFail: stops the incoming queue. */
export function VmbChannelPacketFail(PacketCompletionContext: VMBPACKETCOMPLETION): void {
  quietly(PacketCompletionContext.channel, () =>
    PacketCompletionContext.channel.failPacket(PacketCompletionContext),
  );
}
/** VmbChannelPacketGetExternalData: STATUS_SUCCESS with the MDL chain, or STATUS_PENDING (return; it is called again). */
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
/** VmbChannelSetIncomingProcessingAtPassive. */
export function VmbChannelSetIncomingProcessingAtPassive(
  Channel: VMBCHANNEL,
  RequirePassive: boolean,
): void {
  Channel.setIncomingProcessingAtPassive(RequirePassive);
}
/** VmbChannelSetTransactionQuota (0 is ignored and counted as misuse). */
export function VmbChannelSetTransactionQuota(Channel: VMBCHANNEL, Quota: number): void {
  quietly(Channel, () => Channel.setTransactionQuota(Quota));
}
/** VmbChannelPause: resolves when paused with no incoming packet outstanding. */
export function VmbChannelPause(Channel: VMBCHANNEL): Promise<void> {
  return Channel.pause().catch(() => {
    Channel.stats.misuse++;
  });
}
/** VmbChannelStart. */
export function VmbChannelStart(Channel: VMBCHANNEL): void {
  quietly(Channel, () => Channel.start());
}

// --- 3E GPADL and MMIO ---------------------------------------------------

/** VmbChannelCreateGpadlFromBuffer: `Buffer` is a view of guest memory. */
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
/** VmbChannelCreateGpadlFromMdl: DataLengthWithinMdl 0 means to the end of the chain (one MDL here). */
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
/** VmbChannelDeleteGpadl: resolves once the host let go (waits while it is mapped). */
export function VmbChannelDeleteGpadl(Channel: VMBCHANNEL, GpadlHandle: number): Promise<void> {
  return Channel.deleteGpadl(GpadlHandle).catch(() => {
    Channel.stats.misuse++;
  });
}
/** VmbChannelMapGpadl (server): the GPADL's pages as an MDL chain. */
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
/** VmbChannelUnmapGpadl (server). */
export function VmbChannelUnmapGpadl(Channel: VMBCHANNEL, GpadlHandle: number): void {
  quietly(Channel, () => Channel.unmapGpadl(GpadlHandle));
}
/** VmbChannelGetMmioSpace: zeros before Opened or without MMIO. */
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

/** VmbChannelSaveBegin. */
export function VmbChannelSaveBegin(Channel: VMBCHANNEL): number {
  return status(() => Channel.saveBegin());
}
/** VmbChannelSaveContinue: SUCCESS, BUFFER_OVERFLOW (partial, more remains) or BUFFER_TOO_SMALL (no progress). */
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
/** VmbChannelSaveEnd. */
export function VmbChannelSaveEnd(Channel: VMBCHANNEL): void {
  quietly(Channel, () => Channel.saveEnd());
}
/** VmbChannelRestoreFromBuffer: SUCCESS, or MORE_PROCESSING_REQUIRED while chunks remain. */
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
/** VmbPacketRestore: re-creates an in-flight packet from the library buffer of EvtVmbChannelRestorePacket. */
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

/** VmbChannelSetPointer. */
export function VmbChannelSetPointer(Channel: VMBCHANNEL, Pointer: unknown): void {
  Channel.pointer = Pointer;
}
/** VmbChannelGetPointer (returns what VmbChannelSetPointer stored: errata 2). */
export function VmbChannelGetPointer(Channel: VMBCHANNEL): unknown {
  return Channel.pointer;
}
/** VmbChannelGetInterfaceInstance. */
export function VmbChannelGetInterfaceInstance(
  Channel: VMBCHANNEL,
  InterfaceInstance: Out<Guid>,
): void {
  InterfaceInstance.value = Channel.getInterfaceInstance();
}
/** VmbChannelSetInterruptLatency (client, while open). */
export function VmbChannelSetInterruptLatency(
  Channel: VMBCHANNEL,
  Latency: number,
  OriginalLatency: Out<number>,
): number {
  return status(() => {
    OriginalLatency.value = Channel.setInterruptLatency(Latency);
  });
}
/** VmbConvertVmbusHandleToKernelHandle: a guest VM's partition to a handle for VmbServerChannelInitSetVmbusHandle. */
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

/** `KMCL_CLIENT_INTERFACE_V1`: the INTERFACE header, then the 41 client routines in the documented order. */
export const KMCL_CLIENT_INTERFACE_V1: Readonly<InterfaceHeader & typeof client> = Object.freeze({
  Size: 8 * (3 + 41) + 4,
  Version: KMCL_CLIENT_INTERFACE_VERSION_V1,
  Context: null,
  InterfaceReference: noop,
  InterfaceDereference: noop,
  ...client,
});

/** `KMCL_SERVER_ONLY_METHODS`: the 14 server-only routines in the documented order. */
export const KMCL_SERVER_ONLY_METHODS: Readonly<typeof serverOnly> = Object.freeze({
  ...serverOnly,
});

/** `KMCL_SERVER_INTERFACE_V1`: the client table followed by the server-only routines (55 in all). */
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
