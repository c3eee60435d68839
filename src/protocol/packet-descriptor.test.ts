/**
 * The worked examples of spec vmbus-wire.md §5, byte for byte, and the
 * descriptor and extension-header checks of §4.3 items 4-6.
 */

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  checkDescriptor,
  decodeDescriptor,
  encodeDescriptor,
  PACKET_TYPE_GPA_DIRECT,
  PACKET_TYPE_IN_BAND,
  packetTypeName,
} from './packet-descriptor.js';
import {
  encodeGpaDirectHeader,
  encodeTransferPageHeader,
  gpaDirectHeaderLength,
  PacketRanges,
} from './packet-ranges.js';

const hex = (s: string) =>
  Uint8Array.from(s.replace(/\s+/g, '').match(/../g) ?? [], (b) => Number.parseInt(b, 16));

describe('descriptor codec', () => {
  it('encodes example (a) of spec §5', () => {
    const view = new DataView(new ArrayBuffer(16));
    encodeDescriptor(view, 0, {
      type: 6,
      offset8: 2,
      len8: 3,
      flags: 1,
      transactionId: 0x1122334455667788n,
    });
    assert.deepEqual(
      new Uint8Array(view.buffer),
      hex('06 00 02 00 03 00 01 00 88 77 66 55 44 33 22 11'),
    );
    assert.deepEqual(decodeDescriptor(view, 0), {
      type: 6,
      offset8: 2,
      len8: 3,
      flags: 1,
      transactionId: 0x1122334455667788n,
    });
  });

  it('refuses fields that do not fit their width', () => {
    const view = new DataView(new ArrayBuffer(16));
    assert.throws(
      () =>
        encodeDescriptor(view, 0, {
          type: 0x10000,
          offset8: 2,
          len8: 2,
          flags: 0,
          transactionId: 0n,
        }),
      RangeError,
    );
    assert.throws(
      () =>
        encodeDescriptor(view, 0, { type: 6, offset8: 2, len8: 2, flags: 0, transactionId: -1n }),
      RangeError,
    );
  });

  it('checks lengths, type and flags in order', () => {
    assert.equal(checkDescriptor(6, 0, 2, 2), null);
    assert.equal(checkDescriptor(6, 0, 1, 2), 'VMBUS_PACKET_BAD_OFFSET8');
    assert.equal(checkDescriptor(6, 0, 3, 2), 'VMBUS_PACKET_BAD_LEN8');
    assert.equal(checkDescriptor(8, 0, 2, 2), 'VMBUS_PACKET_BAD_TYPE');
    assert.equal(checkDescriptor(6, 2, 2, 2), 'VMBUS_PACKET_BAD_FLAGS');
    assert.equal(
      checkDescriptor(9, 1, 2, 4),
      'VMBUS_PACKET_BAD_OFFSET8',
      'gpa-direct needs offset8 >= 3',
    );
    assert.equal(
      checkDescriptor(7, 0, 2, 4),
      'VMBUS_PACKET_BAD_OFFSET8',
      'transfer-page needs offset8 >= 3',
    );
    for (const t of [0, 1, 5, 8, 10, 12, 13, 0xffff])
      assert.equal(checkDescriptor(t, 0, 2, 2), 'VMBUS_PACKET_BAD_TYPE');
  });

  it('names every type, known or not', () => {
    assert.equal(packetTypeName(PACKET_TYPE_IN_BAND), 'in-band');
    assert.equal(packetTypeName(PACKET_TYPE_GPA_DIRECT), 'gpa-direct');
    assert.equal(packetTypeName(11), 'completion');
    assert.equal(packetTypeName(0x1234), 'unknown-0x1234');
  });
});

describe('GPA-direct header', () => {
  it('encodes example (c) of spec §5: one range of two pages', () => {
    const ranges = [{ byteCount: 0x2000, byteOffset: 0, pfns: [0x12345, 0x12346] }];
    assert.equal(gpaDirectHeaderLength(ranges), 32);
    const dst = new Uint8Array(32);
    assert.equal(encodeGpaDirectHeader(ranges, dst, 0), 32);
    assert.deepEqual(
      dst,
      hex('00000000 01000000 00200000 00000000 4523010000000000 4623010000000000'),
    );
    const parsed = new PacketRanges();
    assert.equal(parsed.parseGpaDirect(new Uint32Array(dst.buffer), 32), null);
    assert.equal(parsed.count, 1);
    assert.equal(parsed.pfn(0, 1), 0x12346);
    assert.deepEqual(parsed.toGpaRanges(), [
      { byteCount: 0x2000, byteOffset: 0, pfns: [0x12345n, 0x12346n] },
    ]);
  });

  it('refuses to encode malformed ranges', () => {
    const dst = new Uint8Array(64);
    assert.throws(() => encodeGpaDirectHeader([], dst, 0), RangeError);
    assert.throws(
      () => encodeGpaDirectHeader([{ byteCount: 0, byteOffset: 0, pfns: [] }], dst, 0),
      RangeError,
    );
    assert.throws(
      () => encodeGpaDirectHeader([{ byteCount: 1, byteOffset: 4096, pfns: [1] }], dst, 0),
      RangeError,
    );
    assert.throws(
      () => encodeGpaDirectHeader([{ byteCount: 4097, byteOffset: 0, pfns: [1] }], dst, 0),
      RangeError,
    );
  });

  const parse = (words: number[], length = words.length * 4) => {
    const r = new PacketRanges();
    return { code: r.parseGpaDirect(Uint32Array.from(words), length), r };
  };

  it('rejects each hostile header', () => {
    assert.equal(parse([0, 0]).code, 'VMBUS_PACKET_NO_RANGES');
    assert.equal(parse([0, 1]).code, 'VMBUS_PACKET_RANGES_TRUNCATED');
    assert.equal(parse([0, 1, 0, 0, 5, 0]).code, 'VMBUS_PACKET_RANGE_EMPTY');
    assert.equal(parse([0, 1, 10, 4096, 5, 0]).code, 'VMBUS_PACKET_RANGE_OFFSET');
    assert.equal(parse([0, 1, 0xffffffff, 4095, 5, 0]).code, 'VMBUS_PACKET_RANGE_OVERFLOW');
    assert.equal(parse([0, 1, 8192, 0, 5, 0]).code, 'VMBUS_PACKET_RANGE_PFNS_MISSING');
    // A huge range count with little room stops at the first range that does not fit.
    const { code, r } = parse([0, 0xffffffff, 8, 0, 1, 0]);
    assert.equal(code, 'VMBUS_PACKET_RANGES_TRUNCATED');
    assert.equal(r.failedRange, 1);
    assert.equal(r.count, 0);
    assert.match(r.describe(code!, 'gpa-direct', 24), /range 1 does not fit/);
  });
});

describe('transfer-page header', () => {
  it('round-trips', () => {
    const dst = new Uint8Array(24);
    encodeTransferPageHeader(
      0xcafe,
      [
        { byteCount: 100, byteOffset: 0 },
        { byteCount: 50, byteOffset: 4096 },
      ],
      dst,
      0,
      1,
    );
    const r = new PacketRanges();
    assert.equal(r.parseTransferPages(new Uint32Array(dst.buffer), 24), null);
    assert.equal(r.transferPageSetId, 0xcafe);
    assert.equal(r.senderOwnsSet, 1);
    assert.deepEqual(r.toTransferPageRanges(), [
      { byteCount: 100, byteOffset: 0 },
      { byteCount: 50, byteOffset: 4096 },
    ]);
  });

  it('rejects each hostile header', () => {
    const r = new PacketRanges();
    assert.equal(r.parseTransferPages(Uint32Array.from([0xcafe, 0]), 8), 'VMBUS_PACKET_NO_RANGES');
    assert.equal(
      r.parseTransferPages(Uint32Array.from([0xcafe, 2, 1, 0]), 16),
      'VMBUS_PACKET_RANGES_TRUNCATED',
    );
    assert.equal(
      r.parseTransferPages(Uint32Array.from([0xcafe, 1, 0, 0]), 16),
      'VMBUS_PACKET_RANGE_EMPTY',
    );
    assert.equal(
      r.parseTransferPages(Uint32Array.from([0xcafe, 1, 2, 0xffffffff]), 16),
      'VMBUS_PACKET_RANGE_OVERFLOW',
    );
  });
});
