/**
 * A guest for the cross-worker NIC test: connects a NetVsc, answers ARP
 * requests, then sends `count` frames of pseudo-random sizes to the peer
 * while checking every frame it receives (order, size, bytes).
 */

import { parentPort, workerData } from 'node:worker_threads';
import { NetVsc } from 'vmbus-kmcl';
import { guestFromWorkerData } from 'vmbus-kmcl/node';
import {
  arpOperation,
  ETHER_TYPE_ARP,
  fillArpReply,
  fillArpRequest,
} from '../src/demo/demo-net.js';

const port = parentPort!;
const { data } = workerData as { data: { seed: number; peerSeed: number; versions?: number[] } };
const { guest } = guestFromWorkerData({ log: () => {} });
await guest.connect();
await guest.requestOffers();

/** Frame size for sequence number `seq` of a sender seeded `seed`: 60..1514. */
export function sizeOf(seed: number, seq: number): number {
  let x = (seed * 0x9e3779b1 + seq * 0x85ebca6b) >>> 0;
  x = Math.imul(x ^ (x >>> 16), 0x7feb352d) >>> 0;
  x = Math.imul(x ^ (x >>> 15), 0x846ca68b) >>> 0;
  return 60 + (((x ^ (x >>> 16)) >>> 0) % (1514 - 60 + 1));
}

const ETHER_TEST = 0x88b5;
let peer: Uint8Array | null = null;
let arpReplied: (() => void) | null = null;
let expected = 0;
let errors = 0;
let received = 0;
let want = 0;
let allReceived: (() => void) | null = null;
const reply = new Uint8Array(60);

const nic = new NetVsc(guest, {
  ...(data.versions ? { versions: data.versions } : {}),
  receiveBufferBytes: 1 << 20,
  onFrame: (f) => {
    const type = (f[12]! << 8) | f[13]!;
    if (type === ETHER_TYPE_ARP) {
      const op = arpOperation(f);
      if (op === 1) {
        // Request: answer the sender, unicast.
        fillArpReply(reply, f, nic.mac);
        peer = f.slice(6, 12);
        nic.sendFrame(reply);
      } else if (op === 2) {
        peer = f.slice(22, 28);
        arpReplied?.();
      }
      return;
    }
    if (type !== ETHER_TEST) {
      errors++;
      return;
    }
    const seq = (f[14]! << 24) | (f[15]! << 16) | (f[16]! << 8) | f[17]!;
    if (seq !== expected || f.length !== sizeOf(data.peerSeed, seq)) errors++;
    else {
      for (let j = 18; j < f.length; j++) {
        if (f[j] !== ((seq + j) & 0xff)) {
          errors++;
          break;
        }
      }
    }
    expected = seq + 1;
    received++;
    if (received === want) allReceived?.();
  },
});
const version = await nic.connect();
port.postMessage({ ready: true, mac: nic.macAddress, version });

port.on('message', async (m: { cmd: string; count: number; ask: boolean }) => {
  if (m.cmd === 'close') {
    await nic.close();
    port.postMessage({ closed: true, pages: guest.pages.allocatedPages });
    return;
  }
  want = m.count;
  const gotAll = new Promise<void>((r) => {
    allReceived = r;
    if (received === want) r();
  });
  if (m.ask) {
    // ARP-style request, broadcast; the peer's reply teaches both the switch and us.
    const request = new Uint8Array(60);
    fillArpRequest(request, nic.mac);
    const answered = new Promise<void>((r) => {
      arpReplied = r;
    });
    nic.sendFrame(request);
    await answered;
    port.postMessage({ arp: true });
  } else {
    while (peer === null) await new Promise((r) => setTimeout(r, 1));
  }
  const frame = new Uint8Array(1514);
  frame.set(peer!, 0);
  frame.set(nic.mac, 6);
  frame[12] = ETHER_TEST >> 8;
  frame[13] = ETHER_TEST & 0xff;
  for (let seq = 0; seq < m.count; seq++) {
    const size = sizeOf(data.seed, seq);
    frame[14] = seq >>> 24;
    frame[15] = (seq >>> 16) & 0xff;
    frame[16] = (seq >>> 8) & 0xff;
    frame[17] = seq & 0xff;
    for (let j = 18; j < size; j++) frame[j] = (seq + j) & 0xff;
    while (!nic.sendFrame(frame.subarray(0, size))) await nic.whenWritable();
  }
  await gotAll;
  port.postMessage({ done: true, sent: nic.stats.framesSent, received, errors, stats: nic.stats });
});
