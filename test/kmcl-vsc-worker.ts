/**
 * The VSC (guest driver) of the end-to-end KMCL test, written only against
 * the Windows-named facade: a pool of packets initialised in its own memory,
 * each re-sent from its completion routine, one request in 16 carrying
 * external data in guest pages. It checks every completion's status and
 * bytes and reports the counts.
 */

import { parentPort } from 'node:worker_threads';
import {
  type KmclChannel,
  MemoryDescriptor,
  NTSTATUS,
  VMB_CHANNEL_STATE_CHANGE_CALLBACKS_INIT,
  type VMBPACKET,
  VMBUS_CHANNEL_FORMAT_FLAG_WAIT_FOR_COMPLETION,
  VmbChannelAllocate,
  VmbChannelEnable,
  VmbChannelInitSetMaximumPacketSize,
  VmbChannelInitSetProcessPacketCallbacks,
  VmbChannelInitSetStateChangeCallbacks,
  VmbChannelPacketComplete,
  VmbChannelSizeofPacket,
  VmbClientChannelInitSetRingBufferPageCount,
  VmbClientChannelInitSetTargetPnp,
  VmbPacketInitialize,
  VmbPacketSend,
  VmbPacketSendWithExternalMdl,
  VmbPacketSetCompletionRoutine,
} from 'vmbus-kmcl';
import { guestFromWorkerData } from 'vmbus-kmcl/node';

const { workerData } = await import('node:worker_threads');
const spin = (workerData as { data?: { spin?: number } }).data?.spin ?? 0;
const { guest, memory, data } = guestFromWorkerData({ log: () => {}, spin });
const { total, window, type } = data as { total: number; window: number; type: string };
const port = parentPort!;

await guest.connect();
await guest.requestOffers();
const out: { value?: KmclChannel } = {};
VmbChannelAllocate({ guest }, false, out);
const channel = out.value!;
VmbChannelInitSetMaximumPacketSize(channel, 64);
VmbClientChannelInitSetRingBufferPageCount(channel, 32, 32);
VmbClientChannelInitSetTargetPnp(channel, type, null);
VmbChannelInitSetProcessPacketCallbacks(channel, (_c, p) => VmbChannelPacketComplete(p, null, 0));
const callbacks = VMB_CHANNEL_STATE_CHANGE_CALLBACKS_INIT();
callbacks.EvtChannelPostStarted = () => run();
VmbChannelInitSetStateChangeCallbacks(channel, callbacks);

// External data: one guest page per pool slot, filled with a known pattern.
const pages = guest.pages.allocate(window);
const mdls = pages.map((pfn, i) => {
  const mdl = new MemoryDescriptor(memory, [pfn], 0, 4096);
  memory.bytes.fill(i & 255, pfn * 4096, pfn * 4096 + 4096);
  return mdl;
});

let sent = 0;
let completed = 0;
let bad = 0;
let external = 0;
const request = new Uint8Array(16);
const requestView = new DataView(request.buffer);

function sendNext(packet: VMBPACKET, slot: number): void {
  if (sent === total) return;
  const seq = sent++;
  requestView.setUint32(0, seq, true);
  requestView.setUint32(4, slot, true);
  requestView.setUint32(8, seq * 7, true);
  const status =
    seq % 16 === 0
      ? VmbPacketSendWithExternalMdl(
          packet,
          request,
          16,
          mdls[slot]!,
          0,
          0,
          VMBUS_CHANNEL_FORMAT_FLAG_WAIT_FOR_COMPLETION,
        )
      : VmbPacketSend(packet, request, 16, null, VMBUS_CHANNEL_FORMAT_FLAG_WAIT_FOR_COMPLETION);
  if (status !== NTSTATUS.STATUS_SUCCESS) bad++;
}

function run(): void {
  const size = VmbChannelSizeofPacket(channel);
  const pool = new SharedArrayBuffer(size * window);
  for (let slot = 0; slot < window; slot++) {
    const packet = new Uint8Array(pool, slot * size, size);
    VmbPacketInitialize(channel, packet, size);
    VmbPacketSetCompletionRoutine(packet, (p, status, buffer, length) => {
      const view = new DataView(buffer.buffer, buffer.byteOffset, length);
      const seq = view.getUint32(0, true);
      const answer = view.getUint32(4, true);
      const want = seq % 16 === 0 ? (slot & 255) * 4096 : seq * 21;
      if (status !== NTSTATUS.STATUS_SUCCESS || length !== 8 || answer !== want >>> 0) bad++;
      if (seq % 16 === 0) external++;
      if (++completed === total)
        port.postMessage({ completed, bad, external, guestPolls: guest.poller.polls });
      else sendNext(p, slot);
    });
    sendNext(packet, slot);
  }
}

VmbChannelEnable(channel);
