/**
 * The VSP (host device) of the end-to-end KMCL test, in its own worker with
 * the host: written only against the Windows-named facade. It answers each
 * request with its sequence number and a function of its value, or, for
 * requests with external data, the sum of the bytes it reads from the
 * guest's pages. It starts the VSC in a worker of its own.
 */

import { parentPort, workerData } from 'node:worker_threads';
import {
  type KmclChannel,
  type MemoryDescriptor,
  NTSTATUS,
  VMBUS_CHANNEL_PACKET_EXTERNAL_DATA_FLAG_READ_ONLY,
  VMBUS_CHANNEL_PROCESS_PACKET_FLAG_EXTERNAL_DATA,
  VmbChannelAllocate,
  VmbChannelEnable,
  VmbChannelInitSetProcessPacketCallbacks,
  VmbChannelPacketComplete,
  VmbChannelPacketGetExternalData,
  VmbChannelStart,
  VmbServerChannelInitSetTargetInterfaceId,
  VmbusHost,
} from 'vmbus-kmcl';
import { startGuestWorker } from 'vmbus-kmcl/node';

const { total, window, spin } = workerData as { total: number; window: number; spin?: number };
const port = parentPort!;
const TYPE = '5b7c1c1e-7d4e-4f5e-9d3e-1a2b3c4d5e6f';
const host = new VmbusHost({ log: () => {} });
const guest = startGuestWorker(host, new URL('./kmcl-vsc-worker.js', import.meta.url), {
  memoryPages: 1024,
  data: { total, window, type: TYPE, spin: spin ?? 0 },
  spin: spin ?? 0,
});

const out: { value?: KmclChannel } = {};
VmbChannelAllocate({ host, partition: guest.partition }, true, out);
const channel = out.value!;
VmbServerChannelInitSetTargetInterfaceId(channel, TYPE, '00000000-0000-0000-0000-00000000e2e0');
const reply = new Uint8Array(8);
const replyView = new DataView(reply.buffer);
const page = new Uint8Array(4096);
const mdl: { value?: MemoryDescriptor[] } = {};
let externalSeen = 0;
VmbChannelInitSetProcessPacketCallbacks(channel, (_c, packet, buffer, length, flags) => {
  const view = new DataView(buffer.buffer, buffer.byteOffset, length);
  const seq = view.getUint32(0, true);
  replyView.setUint32(0, seq, true);
  if ((flags & VMBUS_CHANNEL_PROCESS_PACKET_FLAG_EXTERNAL_DATA) !== 0) {
    const s = VmbChannelPacketGetExternalData(
      packet,
      VMBUS_CHANNEL_PACKET_EXTERNAL_DATA_FLAG_READ_ONLY,
      mdl,
    );
    let sum = 0;
    if (s === NTSTATUS.STATUS_SUCCESS) {
      mdl.value![0]!.read(0, page);
      for (let i = 0; i < page.length; i++) sum += page[i]!;
    }
    externalSeen++;
    replyView.setUint32(4, sum, true);
  } else {
    replyView.setUint32(4, (view.getUint32(8, true) * 3) >>> 0, true);
  }
  VmbChannelPacketComplete(packet, reply, 8);
});
VmbChannelEnable(channel);
VmbChannelStart(channel);

guest.worker.on('message', async (m) => {
  port.postMessage({
    ...m,
    externalSeen,
    received: channel.stats.packetsReceived,
    hostPolls: guest.partition.poller.polls,
  });
  await guest.terminate();
  process.exit(0);
});
