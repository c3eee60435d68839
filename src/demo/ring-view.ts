/**
 * One ring as `vmbus ui` draws it, sampled from live memory that other
 * threads keep writing: the control page and the used span are copied
 * into a private buffer first, and the copy is decoded and checked there
 * (spec vmbus-wire.md §1.6, §4.3). A copy the writer may have overwritten
 * while it was taken (it wrote more than the free space of the sample) is
 * taken again, so a busy ring is not reported as damaged.
 *
 * @module
 */

import { IncomingRing } from '../ring/incoming-ring.js';
import { RingCorruptError } from '../ring/ring-error.js';
import { type DecodedPacket, decodeRingImage } from '../ring/ring-image.js';
import type { RingMemory } from '../ring/ring-memory.js';

/** A packet as the drawing needs it (an outline has no transaction id or payload). */
export type PacketView = Pick<DecodedPacket, 'offset' | 'type' | 'flags' | 'offset8' | 'len8'> &
  Partial<DecodedPacket>;

/** One ring as the page draws it. */
export interface RingView {
  dataSize: number;
  readIndex: number;
  writeIndex: number;
  interruptMask: number;
  pendingSendSize: number;
  usedBytes: number;
  packets: PacketView[];
  error?: { code: string; reason: string; offset: number };
}

/**
 * The packets of a private ring image, descriptors only (no payload is
 * formatted): what a drawing at display rate needs.
 */
function outline(image: Uint8Array, maxPackets: number): Pick<RingView, 'packets' | 'error'> {
  const ring = new IncomingRing(image.buffer as SharedArrayBuffer | ArrayBuffer);
  const packets: PacketView[] = [];
  try {
    for (let p = ring.read(); p !== null && packets.length < maxPackets; p = ring.read())
      packets.push({
        offset: p.offset,
        type: p.type,
        flags: p.flags,
        offset8: p.offset8,
        len8: p.len8,
      });
    return { packets };
  } catch (e) {
    if (!(e instanceof RingCorruptError)) throw e;
    return { packets, error: { code: e.code, reason: e.reason, offset: e.offset } };
  }
}

const scratch = new WeakMap<RingMemory, Uint8Array>();

/**
 * A ring's state and the packets between its read and write index.
 *
 * @param memory - the ring
 * @param maxPackets - packets to list at most
 * @param detail - `full`: each packet with its transaction id, ranges and
 *   payload in hex; `outline`: descriptors only, much cheaper (for drawing)
 * @returns the view
 */
export function viewRing(
  memory: RingMemory,
  maxPackets = 128,
  detail: 'full' | 'outline' = 'full',
): RingView {
  const size = memory.dataSize;
  const data = memory.bytes;
  const control = new Uint8Array(data.buffer, data.byteOffset - 4096, 4096);
  let image = scratch.get(memory);
  if (!image) {
    image = new Uint8Array(4096 + size);
    scratch.set(memory, image);
  }
  const view = new DataView(image.buffer);
  let w = 0;
  let r = 0;
  for (let attempt = 0; ; attempt++) {
    image.set(control);
    w = view.getUint32(0, true);
    r = view.getUint32(4, true);
    const read = r % size;
    const span = (w - read + size) % size;
    const first = Math.min(span, size - read);
    image.set(data.subarray(read, read + first), 4096 + read);
    if (span > first) image.set(data.subarray(0, span - first), 4096);
    // The writer may reuse only space the reader freed: if the reader has
    // not moved on, nothing copied can have changed.
    const rNow = memory.control.readIndex;
    if (rNow === r || attempt === 3) break;
    const wNow = memory.control.writeIndex;
    const written = (wNow - w + size) % size;
    if (written < size - span) break;
  }
  const sane = w < size && w % 8 === 0 && r < size && r % 8 === 0;
  const decoded =
    sane && w === r
      ? { packets: [], error: undefined }
      : detail === 'outline'
        ? outline(image, maxPackets)
        : decodeRingImage(image);
  return {
    dataSize: size,
    readIndex: r,
    writeIndex: w,
    interruptMask: view.getUint32(8, true),
    pendingSendSize: view.getUint32(12, true),
    usedBytes: (w - r + size) % size,
    packets: decoded.packets.slice(0, maxPackets),
    ...(decoded.error ? { error: decoded.error } : {}),
  };
}
