/**
 * A guest of the NIC benchmark: connects a NetVsc; as the sender it sends
 * `n` frames of `size` bytes to the peer's MAC address as fast as send
 * slots free up; as the receiver it counts `n` frames and reports the time
 * the last one arrived.
 */

import { parentPort } from 'node:worker_threads';
import { NetVsc } from '../src/devices/net/net-vsc.js';
import { parseMac } from '../src/devices/net/nvsp-protocol.js';
import { guestFromWorkerData } from '../src/node/guest-worker.js';
import { nowNs } from './harness.js';

const port = parentPort!;
const { guest, pump } = guestFromWorkerData({
  log: () => {},
  spin: Number(process.env.NET_SPIN ?? 0),
});
await guest.connect();
await guest.requestOffers();
let want = 0;
let got = 0;
let arrived: (() => void) | null = null;
const nic = new NetVsc(guest, {
  receiveBufferBytes: 4 << 20,
  sendBufferBytes: 1 << 20,
  onFrame: () => {
    if (++got === want) arrived?.();
  },
});
await nic.connect();
port.postMessage({ ready: true });

port.on('message', async (m: { send?: number; expect?: number; size: number; peer: string }) => {
  if (m.expect !== undefined) {
    got = 0;
    want = m.expect;
    const all = new Promise<void>((r) => {
      arrived = r;
    });
    // Armed: only now may the sender start (a frame counted before the
    // count was reset would be lost, and the run would wait forever).
    port.postMessage({ armed: true });
    await all;
    port.postMessage({ t1: nowNs() });
    if (process.env.VMBUS_BENCH_TRACE)
      console.error('receiver', pump.wakeups, pump.spinHits, nic.stats);
    return;
  }
  const frame = new Uint8Array(m.size);
  frame.set(parseMac(m.peer), 0);
  frame.set(nic.mac, 6);
  frame[12] = 0x88;
  frame[13] = 0xb5;
  const t0 = nowNs();
  for (let i = 0; i < m.send!; i++) {
    while (!nic.sendFrame(frame)) await nic.whenWritable();
  }
  port.postMessage({ t0 });
  if (process.env.VMBUS_BENCH_TRACE)
    console.error('sender', pump.wakeups, pump.spinHits, nic.stats);
});
