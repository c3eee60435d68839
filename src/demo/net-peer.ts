/**
 * The workload of the demo's second guest partition (Node or browser
 * worker): a NIC that answers the first guest's ARP-style request and its
 * pings, and checks the sequence-numbered bulk stream; on `{ report: true }`
 * it closes its NIC and reports what it received.
 *
 * @module
 */

import type { VmbusGuest } from '../bus/vmbus-guest.js';
import { NetVsc } from '../devices/net/net-vsc.js';
import type { WorkloadPort } from './demo-guest.js';
import { arpOperation, DEMO_ETHER_TYPE, DEMO_FRAME, fillArpReply } from './demo-net.js';

/**
 * Runs the second guest's NIC until told to report.
 *
 * @param context - the guest (its pump running) and the port to the starter
 */
export async function runNetPeer(context: {
  guest: VmbusGuest;
  port: WorkloadPort;
}): Promise<void> {
  const { guest, port } = context;
  let received = 0;
  let errors = 0;
  let expected = 0;
  const reply = new Uint8Array(64);

  try {
    await guest.connect();
    await guest.requestOffers();
    const nic: NetVsc = new NetVsc(guest, {
      receiveBufferBytes: 2 << 20,
      onFrame: (f) => {
        if (arpOperation(f) === 1) {
          // ARP-style request: answer who asked.
          fillArpReply(reply, f, nic.mac);
          nic.sendFrame(reply.subarray(0, 60));
          return;
        }
        if (((f[12]! << 8) | f[13]!) !== DEMO_ETHER_TYPE) return;
        if (f[14] === DEMO_FRAME.PING) {
          reply.set(f.subarray(6, 12), 0);
          reply.set(nic.mac, 6);
          reply.set(f.subarray(12, 60), 12);
          reply[14] = DEMO_FRAME.PONG;
          nic.sendFrame(reply.subarray(0, 60));
        } else if (f[14] === DEMO_FRAME.BULK) {
          const seq = ((f[15]! << 24) | (f[16]! << 16) | (f[17]! << 8) | f[18]!) >>> 0;
          let bad = seq !== expected;
          for (let j = 19; j < f.length && !bad; j++) if (f[j] !== ((seq + j) & 0xff)) bad = true;
          if (bad) errors++;
          expected = seq + 1;
          received++;
        }
      },
    });
    await nic.connect();
    port.postMessage({ kind: 'ready', mac: nic.macAddress, version: nic.protocolVersion });
    port.onMessage(async (m) => {
      if (!(m as { report?: boolean }).report) return;
      await nic.close();
      port.postMessage({ kind: 'report', received, errors });
    });
  } catch (e) {
    port.postMessage({ kind: 'error', message: e instanceof Error ? e.message : String(e) });
  }
}
