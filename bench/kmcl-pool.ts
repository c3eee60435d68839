/**
 * The VSC side of the KMCL round-trip benchmarks, shared by the same-thread
 * case and the cross-worker one: a pool of packets in caller memory
 * (VmbPacketInitialize, carved from one buffer), `window` of them in
 * flight, each sent again from the pool's one completion routine, as a
 * driver has one routine (not a closure per packet).
 */

import { VMBUS_CHANNEL_FORMAT_FLAG_WAIT_FOR_COMPLETION } from '../src/kmcl/kmcl-constants.js';
import {
  type VMBCHANNEL,
  type VMBPACKET,
  VmbChannelSizeofPacket,
  VmbPacketInitialize,
  VmbPacketSend,
  VmbPacketSetCompletionRoutine,
} from '../src/kmcl/kmcl-facade.js';

/**
 * Builds the pool on an opened client channel.
 *
 * @param channel - the VSC's channel, started
 * @param window - packets in flight
 * @param size - payload bytes per request
 * @returns `run(n)`: `n` round trips, resolving when the last completes
 */
export function roundTripPool(
  channel: VMBCHANNEL,
  window: number,
  size: number,
): (n: number) => Promise<void> {
  const payload = new Uint8Array(size);
  const packetSize = VmbChannelSizeofPacket(channel);
  const pool = new SharedArrayBuffer(packetSize * window);
  let remaining = 0;
  let inFlight = 0;
  let finish: (() => void) | null = null;
  const send = (p: VMBPACKET) => {
    remaining--;
    inFlight++;
    VmbPacketSend(p, payload, size, null, VMBUS_CHANNEL_FORMAT_FLAG_WAIT_FOR_COMPLETION);
  };
  const completed = (p: VMBPACKET) => {
    inFlight--;
    if (remaining > 0) send(p);
    else if (inFlight === 0) finish?.();
  };
  const packets: VMBPACKET[] = [];
  for (let i = 0; i < window; i++) {
    const packet = new Uint8Array(pool, i * packetSize, packetSize);
    VmbPacketInitialize(channel, packet, packetSize);
    VmbPacketSetCompletionRoutine(packet, completed);
    packets.push(packet);
  }
  return (n) => {
    remaining = n;
    const done = new Promise<void>((r) => {
      finish = r;
    });
    for (const p of packets) {
      if (remaining === 0) break;
      send(p);
    }
    return done;
  };
}
