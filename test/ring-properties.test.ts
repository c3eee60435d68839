/**
 * Property tests of the ring with fast-check: random packet sequences
 * round-trip through writer and reader for any ring size and start
 * position; random images and random mutations of valid ones never give
 * anything but packets or the typed error, never reach outside the ring's
 * region, and always finish.
 */

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  encodeGpaDirectHeader,
  encodeTransferPageHeader,
  type GpaRange,
  gpaDirectHeaderLength,
  type TransferPageRange,
} from 'vmbus-kmcl/protocol';
import {
  ControlPage,
  decodeRingImage,
  encodeRingImage,
  IncomingRing,
  OutgoingRing,
  RingCorruptError,
} from 'vmbus-kmcl/ring';

const RUNS = Number(process.env.VMBUS_PROPERTY_RUNS ?? 200);

interface Pkt {
  type: number;
  flags: number;
  id: bigint;
  payload: Uint8Array;
  gpa?: GpaRange[];
  tp?: TransferPageRange[];
}

const u64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });
const gpaRange = fc
  .record({
    byteOffset: fc.integer({ min: 0, max: 4095 }),
    byteCount: fc.integer({ min: 1, max: 20000 }),
  })
  .chain(({ byteOffset, byteCount }) =>
    fc
      .array(u64, {
        minLength: Math.ceil((byteOffset + byteCount) / 4096),
        maxLength: Math.ceil((byteOffset + byteCount) / 4096),
      })
      .map((pfns): GpaRange => ({ byteOffset, byteCount, pfns })),
  );
const tpRange = fc
  .record({
    byteCount: fc.integer({ min: 1, max: 0xffff }),
    byteOffset: fc.integer({ min: 0, max: 0xffff }),
  })
  .map((r): TransferPageRange => ({ byteCount: r.byteCount, byteOffset: r.byteOffset }));
const packet: fc.Arbitrary<Pkt> = fc.oneof(
  fc.record({
    type: fc.constantFrom(6, 11),
    flags: fc.constantFrom(0, 1),
    id: u64,
    payload: fc.uint8Array({ maxLength: 3000 }),
  }),
  fc.record({
    type: fc.constant(9),
    flags: fc.constant(1),
    id: u64,
    payload: fc.uint8Array({ maxLength: 600 }),
    gpa: fc.array(gpaRange, { minLength: 1, maxLength: 3 }),
  }),
  fc.record({
    type: fc.constant(7),
    flags: fc.constantFrom(0, 1),
    id: u64,
    payload: fc.uint8Array({ maxLength: 600 }),
    tp: fc.array(tpRange, { minLength: 1, maxLength: 6 }),
  }),
);

function extOf(p: Pkt): Uint8Array {
  if (p.gpa) {
    const ext = new Uint8Array(gpaDirectHeaderLength(p.gpa));
    encodeGpaDirectHeader(p.gpa, ext, 0);
    return ext;
  }
  if (p.tp) {
    const ext = new Uint8Array(8 + 8 * p.tp.length);
    encodeTransferPageHeader(0xcafe, p.tp, ext, 0);
    return ext;
  }
  return new Uint8Array(0);
}

describe('ring properties', () => {
  it('random packet sequences round-trip for any ring size and start', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 4 }),
        fc.nat(),
        fc.array(packet, { maxLength: 40 }),
        fc.array(fc.boolean(), { minLength: 40, maxLength: 40 }),
        (pages, start, packets, commitEach) => {
          const dsize = pages * 4096;
          const startIndex = (start % (dsize / 8)) * 8;
          const sab = new SharedArrayBuffer(4096 + dsize);
          ControlPage.initialize(sab, 0, { readIndex: startIndex, writeIndex: startIndex });
          new Uint8Array(sab, 4096).fill(0xa5); // stale bytes of an earlier use: padding must be written
          const writer = new OutgoingRing(sab);
          const reader = new IncomingRing(sab);
          const queue: Pkt[] = [];
          const check = () => {
            for (let got = reader.read(); got !== null; got = reader.read()) {
              const want = queue.shift();
              assert.ok(want, 'a packet nobody wrote');
              assert.equal(got.type, want.type);
              assert.equal(got.flags, want.flags);
              assert.equal(got.transactionIdBigInt(), want.id);
              const bytes = got.payload();
              assert.deepEqual(bytes.subarray(0, want.payload.length), want.payload);
              assert.ok(
                bytes.subarray(want.payload.length).every((b) => b === 0),
                'padding',
              );
              assert.equal(bytes.length - want.payload.length < 8, true);
              if (want.gpa)
                assert.deepEqual(
                  got.ranges.toGpaRanges(),
                  want.gpa.map((r) => ({ ...r, pfns: r.pfns.map(BigInt) })),
                );
              if (want.tp) assert.deepEqual(got.ranges.toTransferPageRanges(), want.tp);
            }
            reader.commitRead();
          };
          packets.forEach((p, i) => {
            const ext = extOf(p);
            if (OutgoingRing.packetLength(ext.length, p.payload.length) > writer.maxPacketLength) {
              assert.throws(() => writer.write(p.type, p.flags, p.id, p.payload, ext), RangeError);
              return;
            }
            if (!writer.write(p.type, p.flags, p.id, p.payload, ext)) {
              writer.commitWrite();
              check();
              assert.equal(queue.length, 0);
              assert.ok(writer.write(p.type, p.flags, p.id, p.payload, ext), 'fits an empty ring');
            }
            queue.push(p);
            if (commitEach[i]) writer.commitWrite();
          });
          writer.commitWrite();
          check();
          assert.equal(queue.length, 0, 'packets lost');
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('claiming lines ahead changes no byte the reader has yet to read', () => {
    const step = fc.oneof(
      fc.record({ write: fc.uint8Array({ maxLength: 700 }) }),
      fc.record({ claim: fc.integer({ min: 0, max: 20000 }) }),
      fc.record({ read: fc.integer({ min: 0, max: 8 }) }),
    );
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 3 }),
        fc.nat(),
        fc.array(step, { maxLength: 60 }),
        (pages, start, steps) => {
          const dsize = pages * 4096;
          const startIndex = (start % (dsize / 8)) * 8;
          const sab = new SharedArrayBuffer(4096 + dsize);
          ControlPage.initialize(sab, 0, { readIndex: startIndex, writeIndex: startIndex });
          const data = new Uint8Array(sab, 4096);
          data.fill(0xa5);
          const writer = new OutgoingRing(sab);
          const reader = new IncomingRing(sab);
          const queue: Uint8Array[] = [];
          let id = 0;
          for (const s of steps) {
            if ('write' in s) {
              if (writer.write(6, 0, id, s.write)) {
                queue.push(s.write);
                id++;
              }
              writer.commitWrite();
            } else if ('claim' in s) {
              // Bytes from the committed read index to the tail are the
              // reader's (read or not); none may change.
              const r = reader.readIndex;
              const used = (writer.writeIndex - r + dsize) % dsize;
              const held = Array.from({ length: used }, (_, i) => data[(r + i) % dsize]);
              const lines = writer.claimAhead(s.claim);
              assert.ok(lines >= 0 && lines <= Math.ceil(s.claim / 64));
              assert.deepEqual(
                Array.from({ length: used }, (_, i) => data[(r + i) % dsize]),
                held,
              );
              assert.ok(writer.claimedAhead <= dsize - 8, 'within the free space');
            } else {
              for (let i = 0; i < s.read; i++) {
                const got = reader.read();
                if (got === null) break;
                const want = queue.shift()!;
                assert.deepEqual(got.payload().subarray(0, want.length), want);
              }
              reader.commitRead();
            }
          }
          for (let got = reader.read(); got !== null; got = reader.read()) {
            assert.deepEqual(got.payload().subarray(0, queue[0]!.length), queue.shift());
          }
          assert.equal(queue.length, 0, 'packets lost');
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('random images decode to packets or the typed error, inside the region, always finishing', () => {
    const control = fc.record({
      w: fc.oneof(
        fc.nat({ max: 4095 }).map((x) => x * 8),
        fc.nat(),
      ),
      r: fc.oneof(
        fc.nat({ max: 4095 }).map((x) => x * 8),
        fc.nat(),
      ),
    });
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 3 }),
        control,
        fc.uint8Array({ minLength: 64, maxLength: 12288 }),
        (pages, c, noise) => {
          const dsize = pages * 4096;
          const image = new Uint8Array(4096 + dsize);
          image.set(noise.subarray(0, Math.min(noise.length, dsize)), 4096);
          const dv = new DataView(image.buffer);
          dv.setUint32(0, c.w % (dsize * 2), true);
          dv.setUint32(4, c.r % (dsize * 2), true);
          checkDecodes(image);
        },
      ),
      { numRuns: RUNS * 2 },
    );
  });

  it('random mutations of valid images decode to packets or the typed error', () => {
    fc.assert(
      fc.property(
        fc.array(packet, { minLength: 1, maxLength: 12 }),
        fc.array(fc.record({ at: fc.nat(), value: fc.nat({ max: 255 }) }), {
          minLength: 1,
          maxLength: 8,
        }),
        (packets, mutations) => {
          const { image } = encodeRingImage({
            dataSize: 8192,
            readIndex: 0,
            writeIndex: 0,
            interruptMask: 0,
            pendingSendSize: 0,
            featureBits: 1,
            packets: packets.map((p) => ({
              type: p.type,
              flags: p.flags,
              transactionId: p.id,
              payload: p.payload,
              ...(p.gpa ? { ranges: p.gpa } : p.tp ? { ranges: p.tp } : {}),
            })),
          });
          const used = new DataView(image.buffer).getUint32(0, true) + 4096;
          for (const m of mutations) {
            // Half the mutations hit the control words, half the used data.
            const at = m.at % 2 === 0 ? m.at % 8 : 4096 + (m.at % Math.max(1, used - 4096));
            image[at] = m.value;
          }
          checkDecodes(image);
        },
      ),
      { numRuns: RUNS * 2 },
    );
  });
});

/** Decodes an image in the middle of a larger buffer surrounded by canaries. */
function checkDecodes(image: Uint8Array): void {
  const pad = 4096;
  const outer = new Uint8Array(image.length + 2 * pad).fill(0xee);
  outer.set(image, pad);
  const dsize = image.length - 4096;
  const reader = new IncomingRing(outer.buffer, pad, image.length);
  let count = 0;
  try {
    for (let p = reader.read(); p !== null; p = reader.read()) {
      count++;
      assert.ok(count <= dsize / 24, 'more packets than can fit: the reader loops');
      assert.ok(p.payloadOffset < dsize && p.payloadLength <= dsize);
      const view = p.payload();
      if (view.buffer === outer.buffer) {
        assert.ok(
          view.byteOffset >= pad + 4096 && view.byteOffset + view.length <= pad + image.length,
          'outside the region',
        );
      }
    }
  } catch (e) {
    assert.ok(e instanceof RingCorruptError, `unexpected ${e}`);
    assert.match(e.code, /^VMBUS_(RING|PACKET)_/);
  }
  const decoded = decodeRingImage(image);
  assert.equal(decoded.packets.length, count);
}
