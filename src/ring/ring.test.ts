/**
 * The writer and reader together: the worked examples of spec §5 in ring
 * memory, the signalling rules of §1.8, flow control, the interrupt-mask
 * protocol, and one test per hostile-input check of §4.3.
 */

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodeGpaDirectHeader } from '../protocol/packet-ranges.js';
import { ControlPage } from './control-page.js';
import { IncomingRing } from './incoming-ring.js';
import { OutgoingRing } from './outgoing-ring.js';
import { RingCorruptError } from './ring-error.js';

const hex = (s: string) =>
  Uint8Array.from(s.replace(/\s+/g, '').match(/../g) ?? [], (b) => Number.parseInt(b, 16));
const ID = 0x1122334455667788n;

function makeRing(dataPages = 1, init: Parameters<typeof ControlPage.initialize>[2] = {}) {
  const sab = new SharedArrayBuffer(4096 * (1 + dataPages));
  const control = ControlPage.initialize(sab, 0, init);
  return {
    sab,
    control,
    data: new Uint8Array(sab, 4096),
    writer: new OutgoingRing(sab),
    reader: () => new IncomingRing(sab),
  };
}

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof RingCorruptError, `not a RingCorruptError: ${e}`);
    return e.code;
  }
  assert.fail('no error');
}

describe('spec §5 worked examples in ring memory', () => {
  it('(a) in-band, 5 bytes, at W = 0', () => {
    const { data, writer } = makeRing();
    assert.ok(writer.write(6, 1, ID, hex('0102030405')));
    writer.commitWrite();
    assert.deepEqual(
      data.subarray(0, 32),
      hex('0600020003000100 8877665544332211 0102030405000000 0000000000000000'),
    );
    assert.equal(writer.writeIndex, 0x20);
  });

  it('(a) wrapped at W = 0xFF0', () => {
    const { data, writer, control } = makeRing(1, { readIndex: 0xff0, writeIndex: 0xff0 });
    assert.ok(writer.write(6, 1, ID, hex('0102030405')));
    writer.commitWrite();
    assert.deepEqual(data.subarray(0xff0, 0x1000), hex('0600020003000100 8877665544332211'));
    assert.deepEqual(data.subarray(0, 16), hex('0102030405000000 00000000f00f0000'));
    assert.equal(control.writeIndex, 0x10);
  });

  it('(b) completion with 8 bytes', () => {
    const { data, writer } = makeRing();
    writer.write(11, 0, ID, hex('a0a1a2a3a4a5a6a7'));
    writer.commitWrite();
    assert.deepEqual(
      data.subarray(0, 32),
      hex('0b00020003000000 8877665544332211 a0a1a2a3a4a5a6a7 0000000000000000'),
    );
  });

  it('(c) GPA-direct, one range of two pages, read back', () => {
    const { data, writer, reader } = makeRing();
    const ext = new Uint8Array(32);
    encodeGpaDirectHeader([{ byteCount: 0x2000, byteOffset: 0, pfns: [0x12345, 0x12346] }], ext, 0);
    writer.write(9, 1, ID, hex('deadbeef'), ext);
    writer.commitWrite();
    assert.deepEqual(
      data.subarray(0, 0x40),
      hex(
        '0900060007000100 8877665544332211 0000000001000000 0020000000000000 4523010000000000 4623010000000000 deadbeef00000000 0000000000000000',
      ),
    );
    const p = reader().read();
    assert.ok(p);
    assert.equal(p.type, 9);
    assert.equal(p.transactionIdBigInt(), ID);
    assert.equal(p.ranges.count, 1);
    assert.equal(p.ranges.pfn(0, 0), 0x12345);
    assert.deepEqual(p.payload(), hex('deadbeef00000000'));
  });
});

describe('signalling (spec §1.8)', () => {
  it('signals only when the ring goes from empty to non-empty', () => {
    const { writer, reader } = makeRing();
    const r = reader();
    writer.write(6, 0, 1, new Uint8Array(8));
    assert.equal(writer.commitWrite(), true);
    writer.write(6, 0, 2, new Uint8Array(8));
    assert.equal(writer.commitWrite(), false, 'the reader had not caught up');
    while (r.read() !== null);
    r.commitRead();
    writer.write(6, 0, 3, new Uint8Array(8));
    assert.equal(writer.commitWrite(), true);
  });

  it('decides a batch on the index from before it', () => {
    const { writer } = makeRing();
    writer.write(6, 0, 1, new Uint8Array(8));
    writer.write(6, 0, 2, new Uint8Array(8));
    assert.equal(writer.uncommittedBytes, 64);
    assert.equal(writer.commitWrite(), true);
    assert.equal(writer.commitWrite(), false, 'nothing new to commit');
  });

  it('never signals while the reader masks interrupts', () => {
    const { writer, reader } = makeRing();
    const r = reader();
    r.maskInterrupts();
    writer.write(6, 0, 1, new Uint8Array(8));
    assert.equal(writer.commitWrite(), false);
    assert.equal(r.unmaskInterrupts(), true, 'data raced in while masked: drain again');
    assert.ok(r.read());
    r.commitRead();
    assert.equal(r.unmaskInterrupts(), false);
  });

  it('an aborted write leaves nothing for the reader', () => {
    const { writer, reader } = makeRing();
    writer.write(6, 0, 1, new Uint8Array(8));
    writer.abortWrite();
    assert.equal(writer.commitWrite(), false);
    assert.equal(reader().read(), null);
  });
});

describe('space and flow control', () => {
  it('fits dsize - 16 bytes in an empty ring and never more', () => {
    const { writer } = makeRing();
    assert.equal(writer.maxPacketLength, 4080);
    assert.ok(writer.write(6, 0, 0, new Uint8Array(4080 - 16)));
    assert.throws(() => makeRing().writer.write(6, 0, 0, new Uint8Array(4080 - 15)), RangeError);
  });

  it('refuses a write with bytesNeeded when full, and the reader signals once space crosses the request', () => {
    const { writer, reader } = makeRing();
    const r = reader();
    const payload = new Uint8Array(1000); // 1024 bytes with descriptor, padding and trailer
    let n = 0;
    while (writer.write(6, 0, n, payload)) n++;
    assert.equal(n, 3);
    assert.equal(writer.bytesNeeded, 1024);
    assert.equal(writer.fullCount, 1);
    writer.commitWrite();
    assert.equal(writer.requestSpace(writer.bytesNeeded), false, 'still no room');
    assert.ok(r.read());
    assert.equal(r.commitRead(), true, 'free space crossed the request');
    assert.ok(writer.write(6, 0, n, payload), 'room now');
    assert.equal(r.memory.control.pendingSendSize, 0, 'the writer cleared its request');
    assert.ok(r.read());
    assert.equal(r.commitRead(), false, 'no request pending');
  });

  it('requestSpace says so when the reader already freed the space', () => {
    const { writer, reader } = makeRing();
    const r = reader();
    while (writer.write(6, 0, 0, new Uint8Array(1000)));
    writer.commitWrite();
    r.read();
    r.commitRead();
    assert.equal(writer.requestSpace(writer.bytesNeeded), true);
  });

  it('uncommitted reads keep their space', () => {
    const { writer, reader } = makeRing();
    const r = reader();
    while (writer.write(6, 0, 0, new Uint8Array(1000)));
    writer.commitWrite();
    assert.ok(r.read());
    assert.equal(writer.write(6, 0, 0, new Uint8Array(1000)), false);
    r.commitRead();
    assert.ok(writer.write(6, 0, 0, new Uint8Array(1000)));
  });

  it('reports the backlog of its last snapshot and the bytes read but not committed, without loading', () => {
    const { writer, reader, control } = makeRing();
    const r = reader();
    for (let i = 0; i < 3; i++) writer.write(6, 0, i, new Uint8Array(40)); // 16 + 40 + 8 = 64 bytes each
    writer.commitWrite();
    assert.equal(r.backlog, 0, 'no snapshot yet');
    assert.ok(r.read());
    assert.equal(r.backlog, 2, 'two more packets of the last one read');
    assert.equal(r.uncommittedBytes, 64);
    writer.write(6, 0, 3, new Uint8Array(40));
    writer.commitWrite();
    assert.equal(r.backlog, 2, 'the getter reads no shared memory');
    assert.equal(control.readIndex, 0);
    r.commitRead();
    assert.equal(r.uncommittedBytes, 0);
  });

  it('counts framed bytes and the high-water mark across commits, aborts and reloads', () => {
    const { writer, reader } = makeRing();
    const r = reader();
    writer.write(6, 0, 0, new Uint8Array(40)); // 64 bytes framed
    writer.write(6, 0, 1, new Uint8Array(40));
    assert.equal(writer.bytesWritten, 128, 'uncommitted packets count');
    assert.equal(writer.highWater, 128);
    writer.commitWrite();
    writer.write(6, 0, 2, new Uint8Array(40));
    writer.abortWrite();
    assert.equal(writer.bytesWritten, 192, 'an aborted packet was still written');
    assert.equal(writer.highWater, 192, 'the mark keeps the aborted write');
    assert.ok(r.read());
    assert.equal(r.bytesRead, 64, 'uncommitted reads count');
    assert.ok(r.read());
    r.commitRead();
    assert.equal(r.bytesRead, 128);
    // The writer reloads the read index (now 128) at its next commit: the
    // mark stays at its peak while the bytes in use fall.
    writer.write(6, 0, 3, new Uint8Array(40));
    writer.commitWrite();
    assert.equal(writer.usedBytes, 64);
    assert.equal(writer.highWater, 192);
    assert.equal(writer.bytesWritten, 256);
  });

  it('claims cache lines of free space only, once each', () => {
    const { writer, reader, data } = makeRing();
    data.fill(0xaa);
    writer.write(6, 0, 1, new Uint8Array(64).fill(7)); // 88 bytes framed
    // Free space: 4096 - 88 - 8 = 4000 bytes after the tail (88), so lines
    // 128 to 4032 (the first whole line after the tail to the last whose
    // first word is free): 62 lines.
    assert.equal(writer.claimAhead(8192), 62);
    for (let line = 128; line <= 4032; line += 64) {
      assert.deepEqual([...data.subarray(line, line + 4)], [0, 0, 0, 0], `line ${line}`);
      assert.ok(data.subarray(line + 4, line + 64).every((b) => b === 0xaa));
    }
    assert.ok(
      data.subarray(88, 128).every((b) => b === 0xaa),
      'the tail line is not touched',
    );
    assert.ok(
      data.subarray(4088).every((b) => b === 0xaa),
      'the 8 bytes a writer never fills',
    );
    assert.equal(writer.claimAhead(8192), 0, 'lines already claimed are not claimed again');
    assert.equal(writer.claimedAhead, 4000, 'the free space');
    writer.commitWrite();
    const packet = reader().read();
    assert.deepEqual([...packet!.payload()], new Array(64).fill(7), 'the written packet is intact');
  });

  it('claims again only once less than half of the distance asked is left', () => {
    const { writer } = makeRing(2);
    assert.equal(writer.claimAhead(1024), 16, 'lines 0 to 960');
    for (let i = 0; i < 4; i++) writer.write(6, 0, i, new Uint8Array(64)); // 352 bytes
    assert.equal(writer.claimedAhead, 672);
    assert.equal(writer.claimAhead(1024), 0, '672 of 1024 still claimed');
    for (let i = 0; i < 2; i++) writer.write(6, 0, i, new Uint8Array(64)); // 528 bytes
    assert.equal(writer.claimedAhead, 496);
    // Less than half left: the lines from 1024 to 1536 (528 + 1024 - 4).
    assert.equal(writer.claimAhead(1024), 9);
    assert.equal(writer.claimedAhead, 1024);
  });

  it('claims no further than the read index allows, across the wrap', () => {
    const { writer, reader, data, control } = makeRing();
    const r = reader();
    for (let i = 0; i < 40; i++) writer.write(6, 0, i, new Uint8Array(64)); // 3520 bytes
    writer.commitWrite();
    for (let i = 0; i < 20; i++) r.read();
    r.commitRead(); // read index 1760
    writer.write(6, 0, 40, new Uint8Array(64)); // the commit reloads the read index
    writer.commitWrite();
    assert.equal(control.readIndex, 1760);
    data.subarray(0, 1760).fill(0xaa);
    const before = data.slice(1760);
    // Tail 3608; free 4096 - 1848 - 8 = 2240 bytes: to 5848, that is 1752
    // after the wrap. Lines from 3648 to the end (7), then 0 to 1728 (28).
    assert.equal(writer.claimAhead(1 << 20), 35);
    assert.deepEqual(data.slice(1760), before, 'nothing the reader has not read changed');
    assert.deepEqual([...data.subarray(1728, 1732)], [0, 0, 0, 0]);
    assert.ok(data.subarray(1732, 1760).every((b) => b === 0xaa));
    assert.equal(writer.claimAhead(64), 0, 'inside what is claimed');
    // Writing over claimed lines moves the mark; the reader sees every packet.
    for (let i = 41; i < 60; i++) assert.ok(writer.write(6, 0, i, new Uint8Array(64).fill(i)));
    writer.commitWrite();
    for (let i = 20; i < 41; i++) assert.equal(r.read()?.transactionId, i);
    for (let i = 41; i < 60; i++) {
      const p = r.read();
      assert.equal(p?.transactionId, i);
      assert.ok(p!.payload().every((b) => b === i));
    }
    assert.equal(r.read(), null);
  });

  it('wraps in a ring of three data pages (not a power of two)', () => {
    const { writer, reader } = makeRing(3);
    const r = reader();
    const buf = new Uint8Array(5000);
    for (let i = 0; i < 200; i++) {
      const payload = Uint8Array.from({ length: 1 + ((i * 997) % 4000) }, (_, k) => (i + k) & 255);
      assert.ok(writer.write(6, 0, i, payload));
      writer.commitWrite();
      const p = r.read();
      assert.ok(p);
      assert.equal(p.transactionId, i);
      const n = p.copyPayload(buf);
      assert.deepEqual(buf.subarray(0, payload.length), payload);
      assert.deepEqual(p.payload().subarray(0, payload.length), payload);
      assert.ok(buf.subarray(payload.length, n).every((b) => b === 0));
      r.commitRead();
    }
  });

  it('rejects a region that is not a ring', () => {
    assert.throws(() => new OutgoingRing(new ArrayBuffer(4096)), RangeError);
    assert.throws(() => new OutgoingRing(new ArrayBuffer(4096 + 1000)), RangeError);
    assert.throws(() => new IncomingRing(new ArrayBuffer(3 * 4096), 4), RangeError);
  });
});

describe('hostile peers (spec §4.3)', () => {
  function crafted(
    write: (w: OutgoingRing) => void,
    after?: (c: ControlPage, data: Uint8Array) => void,
  ) {
    const { writer, reader, control, data } = makeRing();
    write(writer);
    writer.commitWrite();
    after?.(control, data);
    return reader();
  }

  it('item 1: write index out of range or unaligned', () => {
    assert.equal(
      code(() =>
        crafted(
          () => {},
          (c) => (c.writeIndex = 4096),
        ).read(),
      ),
      'VMBUS_RING_BAD_WRITE_INDEX',
    );
    assert.equal(
      code(() =>
        crafted(
          () => {},
          (c) => (c.writeIndex = 12),
        ).read(),
      ),
      'VMBUS_RING_BAD_WRITE_INDEX',
    );
  });

  it('item 1: read index out of range, for the reader and the writer', () => {
    assert.equal(
      code(() =>
        crafted(
          () => {},
          (c) => (c.readIndex = 4100),
        ).read(),
      ),
      'VMBUS_RING_BAD_READ_INDEX',
    );
    const { writer, control } = makeRing();
    control.readIndex = 7;
    assert.equal(
      code(() => {
        while (writer.write(6, 0, 0, new Uint8Array(100)));
      }),
      'VMBUS_RING_BAD_READ_INDEX',
    );
    control.readIndex = 0;
    assert.equal(
      writer.write(6, 0, 0, new Uint8Array(100)),
      false,
      'the writer recovers once the index is sane',
    );
  });

  it('item 3: fewer than 24 bytes available', () => {
    assert.equal(
      code(() =>
        crafted(
          () => {},
          (c) => (c.writeIndex = 16),
        ).read(),
      ),
      'VMBUS_RING_SHORT_DATA',
    );
  });

  it('item 4: offset8, len8, packet and trailer past the write index', () => {
    const poke = (off: number, v: number) => (_c: ControlPage, d: Uint8Array) =>
      new DataView(d.buffer, 4096).setUint16(off, v, true);
    const one = (w: OutgoingRing) => w.write(6, 0, 0, new Uint8Array(8));
    assert.equal(
      code(() => crafted(one, poke(2, 1)).read()),
      'VMBUS_PACKET_BAD_OFFSET8',
    );
    assert.equal(
      code(() => crafted(one, poke(4, 1)).read()),
      'VMBUS_PACKET_BAD_LEN8',
    );
    assert.equal(
      code(() => crafted(one, poke(4, 5)).read()),
      'VMBUS_RING_PACKET_PAST_WRITE_INDEX',
    );
    assert.equal(
      code(() => crafted(one, (c) => (c.writeIndex = 24)).read()),
      'VMBUS_RING_TRAILER_PAST_WRITE_INDEX',
    );
  });

  it('item 5: unknown type or flags', () => {
    assert.equal(
      code(() => crafted((w) => w.write(8, 0, 0, new Uint8Array(8))).read()),
      'VMBUS_PACKET_BAD_TYPE',
    );
    assert.equal(
      code(() => crafted((w) => w.write(6, 0x8000, 0, new Uint8Array(8))).read()),
      'VMBUS_PACKET_BAD_FLAGS',
    );
  });

  it('item 6: extension headers that do not fit or hold bad ranges', () => {
    const ext = (words: number[]) => new Uint8Array(Uint32Array.from(words).buffer);
    const read9 = (e: Uint8Array) =>
      code(() => crafted((w) => w.write(9, 1, 0, new Uint8Array(8), e)).read());
    assert.equal(read9(ext([0, 0])), 'VMBUS_PACKET_NO_RANGES');
    assert.equal(read9(ext([0, 2, 4096, 0, 1, 0])), 'VMBUS_PACKET_RANGES_TRUNCATED');
    assert.equal(read9(ext([0, 1, 0, 0, 1, 0])), 'VMBUS_PACKET_RANGE_EMPTY');
    assert.equal(read9(ext([0, 1, 1, 5000, 1, 0])), 'VMBUS_PACKET_RANGE_OFFSET');
    assert.equal(read9(ext([0, 1, 0xffffffff, 4000, 1, 0])), 'VMBUS_PACKET_RANGE_OVERFLOW');
    assert.equal(read9(ext([0, 1, 4097, 0, 1, 0])), 'VMBUS_PACKET_RANGE_PFNS_MISSING');
    const read7 = (e: Uint8Array) =>
      code(() => crafted((w) => w.write(7, 0, 0, new Uint8Array(8), e)).read());
    assert.equal(read7(ext([0xcafe, 0])), 'VMBUS_PACKET_NO_RANGES');
    assert.equal(read7(ext([0xcafe, 3, 1, 0])), 'VMBUS_PACKET_RANGES_TRUNCATED');
  });

  it('item 7: ranges come from a private copy the peer cannot change', () => {
    const { writer, reader, data } = makeRing();
    const ext = new Uint8Array(24);
    encodeGpaDirectHeader([{ byteCount: 10, byteOffset: 0, pfns: [77] }], ext, 0);
    writer.write(9, 1, 0, new Uint8Array(8), ext);
    writer.commitWrite();
    const p = reader().read();
    assert.ok(p);
    data.fill(0xff, 16, 40); // the peer rewrites the header after validation
    assert.equal(p.ranges.byteCount[0], 10);
    assert.equal(p.ranges.pfn(0, 0), 77);
  });

  it('item 9: an interrupt mask set by someone else', () => {
    const { reader, control } = makeRing();
    const r = reader();
    control.interruptMask = 1;
    assert.equal(
      code(() => r.maskInterrupts()),
      'VMBUS_RING_MASK_CHANGED',
    );
  });

  it('a damaged ring stays damaged: the error repeats and the read index holds', () => {
    const r = crafted(
      (w) => {
        w.write(6, 0, 1, new Uint8Array(8));
        w.write(6, 0, 2, new Uint8Array(8));
      },
      (_c, d) => new DataView(d.buffer, 4096).setUint16(32 + 2, 0, true),
    );
    assert.ok(r.read());
    assert.equal(
      code(() => r.read()),
      'VMBUS_PACKET_BAD_OFFSET8',
    );
    r.commitRead();
    assert.equal(r.readIndex, 32);
    assert.equal(
      code(() => r.read()),
      'VMBUS_PACKET_BAD_OFFSET8',
    );
    assert.equal(r.error?.offset, 32);
  });
});
