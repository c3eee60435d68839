/**
 * Checked packet streams over channel pipes, for the bus tests: packet
 * `seq` on channel `relid` has a size and bytes that are functions of both,
 * so the receiver detects loss, duplication, reordering and corruption.
 */

import type { ChannelPipe } from 'vmbus-kmcl';

/** Payload size of packet `seq` on channel `relid`: 1..160 bytes. */
export function sizeOf(relid: number, seq: number): number {
  return 1 + ((seq * 7 + relid * 13) % 160);
}

function byteOf(relid: number, seq: number, i: number): number {
  return (seq + i * 31 + relid) & 255;
}

/**
 * Sends `count` checked packets, batching commits and waiting for space.
 *
 * @param pipe - the sending end
 * @param count - packets
 * @returns when all are in the ring
 */
export async function sendStream(pipe: ChannelPipe, count: number): Promise<void> {
  const buf = new Uint8Array(160);
  for (let seq = 0; seq < count; ) {
    const size = sizeOf(pipe.relid, seq);
    for (let i = 0; i < size; i++) buf[i] = byteOf(pipe.relid, seq, i);
    if (!pipe.write(6, 0, seq, size, buf.subarray(0, size))) {
      pipe.flush();
      await pipe.waitForSpace(pipe.outgoing.bytesNeeded);
      continue;
    }
    seq++;
    if ((seq & 31) === 0) pipe.flush();
    if ((seq & 1023) === 0) await new Promise((r) => setTimeout(r, 0));
  }
  pipe.flush();
}

/**
 * Checks `count` packets arriving on `pipe`.
 *
 * @param pipe - the receiving end
 * @param count - packets expected
 * @returns a promise of the count received, rejecting on the first bad packet
 */
export function receiveStream(pipe: ChannelPipe, count: number): Promise<number> {
  return new Promise((resolve, reject) => {
    let next = 0;
    const buf = new Uint8Array(168);
    if (count === 0) resolve(0);
    pipe.onClose = (reason) =>
      reject(new Error(`channel ${pipe.relid} closed (${reason}) after ${next} packets`));
    pipe.onPacket = (p) => {
      const seq = p.transactionIdLow;
      const size = sizeOf(pipe.relid, next);
      if (seq !== next || p.transactionIdHigh !== size || p.payloadLength !== ((size + 7) & ~7)) {
        reject(
          new Error(
            `channel ${pipe.relid}: packet ${seq} (size ${p.transactionIdHigh}) where ${next} (size ${size}) was due`,
          ),
        );
        pipe.onPacket = null;
        return;
      }
      p.copyPayload(buf);
      for (let i = 0; i < size; i++) {
        if (buf[i] !== byteOf(pipe.relid, seq, i)) {
          reject(new Error(`channel ${pipe.relid}: packet ${seq} corrupt at byte ${i}`));
          pipe.onPacket = null;
          return;
        }
      }
      if (++next === count) {
        pipe.onClose = null;
        resolve(next);
      }
    };
  });
}
