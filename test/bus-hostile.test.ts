/**
 * A guest (and a host) that break the control protocol: each malformed or
 * out-of-order message gets its defined failure, is counted and logged with
 * a rate limit, and the other side stays consistent. The host partition is
 * driven message by message through a recording notifier.
 */

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  BusLog,
  type ChannelMessage,
  type ChannelMessageFields,
  type ChannelMessageName,
  ControlPage,
  encodeChannelMessage,
  GuestMemory,
  PageAllocator,
  parseChannelMessage,
  RecordingNotifier,
  VMBUS_VERSION,
  VmbusGuest,
  VmbusHost,
} from 'vmbus-kmcl';

const TYPE = 'f8615163-df3e-46c5-913f-f2d2f965ed0e';
const ALL = { version: VMBUS_VERSION.COPPER, features: 0xff };

function setup(pages = 64) {
  const lines: string[] = [];
  const host = new VmbusHost({ log: (l) => lines.push(l) });
  const memory = new GuestMemory(pages);
  const rec = new RecordingNotifier();
  const partition = host.attach(memory, rec);
  const offers = [1, 2].map((i) =>
    host.offer(partition, {
      interfaceType: TYPE,
      interfaceInstance: `00000000-0000-0000-0000-00000000000${i}`,
    }),
  );
  const send = <N extends ChannelMessageName>(
    type: N,
    fields: Partial<ChannelMessageFields<N>> = {},
    size?: number,
  ) => partition.receive(encodeChannelMessage(type, fields, size));
  const replies = (): ChannelMessage[] =>
    rec.take().map((b) => parseChannelMessage(b, 'guest', ALL));
  const connect = () => {
    send('InitiateContact', { versionRequested: VMBUS_VERSION.WIN10_V5_3 }, 40);
    send('RequestOffers');
    return replies();
  };
  /** A GPADL over `pfns` (one range) from a header alone. */
  const gpadl = (
    relid: number,
    handle: number,
    pfns: number[],
    byteOffset = 0,
    byteCount = pfns.length * 4096,
  ) => {
    const words = [BigInt(byteCount) | (BigInt(byteOffset) << 32n), ...pfns.map(BigInt)];
    const data = new Uint8Array(words.length * 8);
    const dv = new DataView(data.buffer);
    for (const [i, w] of words.entries()) dv.setBigUint64(i * 8, w, true);
    send('GpadlHeader', {
      childRelid: relid,
      gpadl: handle,
      rangeBufferLength: data.length,
      rangeCount: 1,
      data,
    });
  };
  const initRing = (first: number, pages: number, off: number) => {
    ControlPage.initialize(memory.buffer, first * 4096);
    ControlPage.initialize(memory.buffer, (first + off) * 4096);
    void pages;
  };
  return { host, memory, rec, partition, offers, send, replies, connect, gpadl, initRing, lines };
}

function only<N extends ChannelMessageName>(
  messages: ChannelMessage[],
  type: N,
): Extract<ChannelMessage, { type: N }> {
  assert.equal(
    messages.length,
    1,
    `expected one reply, got ${messages.map((m) => m.type).join(', ')}`,
  );
  assert.equal(messages[0]?.type, type);
  return messages[0] as Extract<ChannelMessage, { type: N }>;
}

describe('host against a hostile guest', () => {
  it('drops messages before INITIATE_CONTACT and a second REQUESTOFFERS', () => {
    const t = setup();
    t.send('RequestOffers');
    assert.equal(t.rec.messages.length, 0);
    assert.equal(t.partition.log.counts.get('VMBUS_MESSAGE_NOT_ALLOWED'), 1);
    const first = t.connect();
    assert.deepEqual(
      first.map((m) => m.type),
      ['VersionResponse', 'OfferChannel', 'OfferChannel', 'AllOffersDelivered'],
    );
    t.send('RequestOffers');
    assert.equal(t.rec.messages.length, 0);
    assert.equal(t.partition.log.counts.get('VMBUS_BUS_OFFERS_ALREADY_SENT'), 1);
  });

  it('answers an open of an unknown channel with a failure status', () => {
    const t = setup();
    t.connect();
    t.send('OpenChannel', { childRelid: 99, openId: 5 }, 148);
    const r = only(t.replies(), 'OpenChannelResult');
    assert.equal(r.childRelid, 99);
    assert.equal(r.openId, 5);
    assert.notEqual(r.status, 0);
    assert.equal(t.partition.log.counts.get('VMBUS_BUS_UNKNOWN_CHANNEL'), 1);
  });

  it('refuses GPADLs for unknown channels, outside guest memory, or with a duplicate handle', () => {
    const t = setup(64);
    t.connect();
    t.gpadl(77, 1, [4]);
    assert.notEqual(only(t.replies(), 'GpadlCreated').status, 0);
    t.gpadl(1, 2, [63, 64]);
    assert.notEqual(only(t.replies(), 'GpadlCreated').status, 0);
    t.gpadl(1, 3, [4], 4096, 10);
    assert.notEqual(only(t.replies(), 'GpadlCreated').status, 0, 'byte offset beyond the page');
    t.gpadl(1, 4, [4, 5]);
    assert.equal(only(t.replies(), 'GpadlCreated').status, 0);
    t.gpadl(1, 4, [6]);
    assert.notEqual(only(t.replies(), 'GpadlCreated').status, 0, 'duplicate handle');
    assert.equal(t.partition.gpadlCount, 1, 'the first GPADL 4 is intact');
    t.send('GpadlBody', { gpadl: 1234, data: new Uint8Array(8) });
    assert.equal(t.rec.messages.length, 0);
    assert.equal(t.partition.log.counts.get('VMBUS_BUS_UNKNOWN_GPADL'), 1);
  });

  it('refuses ring GPADLs whose downstream offset is not inside them, or that are scattered', () => {
    const t = setup(64);
    t.connect();
    const tryOpen = (handle: number, off: number) => {
      t.send(
        'OpenChannel',
        {
          childRelid: 1,
          openId: 1,
          ringBufferGpadlHandle: handle,
          downstreamRingBufferPageOffset: off,
        },
        148,
      );
      return only(t.replies(), 'OpenChannelResult').status;
    };
    t.gpadl(1, 10, [10, 11, 12, 13]);
    t.replies();
    t.initRing(10, 4, 2);
    assert.notEqual(tryOpen(10, 0), 0);
    assert.notEqual(tryOpen(10, 4), 0);
    assert.notEqual(tryOpen(10, 9), 0);
    assert.notEqual(tryOpen(11, 2), 0, 'unknown GPADL');
    t.gpadl(1, 12, [20, 21, 30, 31]);
    t.replies();
    assert.notEqual(tryOpen(12, 2), 0, 'scattered pages');
    assert.equal(t.offers[0]?.state, 'offered');
    assert.equal(tryOpen(10, 2), 0, 'a good open still works');
    assert.equal(t.offers[0]?.state, 'open');
  });

  it('refuses a second open and defers the teardown of a ring GPADL in use until close', async () => {
    const t = setup(64);
    t.connect();
    t.gpadl(1, 10, [10, 11, 12, 13]);
    t.initRing(10, 4, 2);
    t.replies();
    t.send(
      'OpenChannel',
      { childRelid: 1, openId: 1, ringBufferGpadlHandle: 10, downstreamRingBufferPageOffset: 2 },
      148,
    );
    await new Promise((r) => setTimeout(r, 0));
    assert.equal(only(t.replies(), 'OpenChannelResult').status, 0);
    t.send(
      'OpenChannel',
      { childRelid: 1, openId: 2, ringBufferGpadlHandle: 10, downstreamRingBufferPageOffset: 2 },
      148,
    );
    await new Promise((r) => setTimeout(r, 0));
    assert.notEqual(only(t.replies(), 'OpenChannelResult').status, 0);
    assert.equal(t.offers[0]?.state, 'open', 'the first open is intact');
    t.send('GpadlTeardown', { childRelid: 1, gpadl: 10 });
    assert.equal(t.rec.messages.length, 0, 'no TORNDOWN while the ring is in use');
    assert.equal(t.partition.log.counts.get('VMBUS_BUS_GPADL_IN_USE'), 1);
    assert.equal(t.offers[0]?.channel?.pipe.isOpen, true);
    t.send('CloseChannel', { childRelid: 1 });
    assert.equal(only(t.replies(), 'GpadlTorndown').gpadl, 10);
    assert.equal(t.partition.gpadlCount, 0);
  });

  it('drops teardowns of unknown GPADLs, closes of channels not open, releases of channels not rescinded', () => {
    const t = setup();
    t.connect();
    t.send('GpadlTeardown', { childRelid: 1, gpadl: 0x999 });
    t.send('CloseChannel', { childRelid: 1 });
    t.send('CloseChannel', { childRelid: 55 });
    t.send('RelidReleased', { childRelid: 1 });
    assert.equal(t.rec.messages.length, 0);
    const c = t.partition.log.counts;
    assert.deepEqual(
      [
        c.get('VMBUS_BUS_UNKNOWN_GPADL'),
        c.get('VMBUS_BUS_CHANNEL_NOT_OPEN'),
        c.get('VMBUS_BUS_INVALID_CHANNEL_STATE'),
      ],
      [1, 2, 1],
    );
    assert.equal(t.offers[0]?.state, 'offered');
  });

  it('logs violations with a rate limit but counts them all', () => {
    const t = setup();
    for (let i = 0; i < 100; i++) t.partition.receive(new Uint8Array([99, 0, 0, 0, 0, 0, 0, 0]));
    assert.equal(t.partition.log.counts.get('VMBUS_MESSAGE_UNKNOWN_TYPE'), 100);
    assert.ok(t.lines.length <= 5, `${t.lines.length} lines`);
    const log = new BusLog(
      () => {},
      2,
      1000,
      () => 0,
    );
    for (let i = 0; i < 10; i++) log.violation('X', 'x');
    assert.equal(log.total, 10);
  });

  it('random and mutated messages never throw out of receive, and the state stays consistent', () => {
    const kinds = [
      'InitiateContact',
      'RequestOffers',
      'GpadlHeader',
      'GpadlBody',
      'GpadlTeardown',
      'OpenChannel',
      'CloseChannel',
      'RelidReleased',
      'Unload',
      'ModifyChannel',
      'Pause',
    ] as const;
    const message = fc.oneof(
      fc.uint8Array({ maxLength: 240 }),
      fc
        .record({
          kind: fc.constantFrom(...kinds),
          noise: fc.uint8Array({ minLength: 0, maxLength: 64 }),
          at: fc.nat(),
        })
        .map(({ kind, noise, at }) => {
          const base = encodeChannelMessage(kind as ChannelMessageName);
          const out = new Uint8Array(Math.min(240, base.length + (noise.length % 16)));
          out.set(base.subarray(0, out.length));
          for (const [i, b] of noise.entries())
            if (i % 3 === 0) out[8 + ((at + i) % Math.max(1, out.length - 8))] = b;
          if (kind === 'InitiateContact')
            new DataView(out.buffer).setUint32(8, VMBUS_VERSION.WIN10_V5_3, true);
          return out;
        }),
    );
    fc.assert(
      fc.property(fc.array(message, { maxLength: 40 }), (messages) => {
        const t = setup(64);
        for (const m of messages) t.partition.receive(m);
        for (const offer of t.partition.offers.values()) {
          assert.equal(offer.state === 'open', offer.channel !== null);
        }
        assert.ok(t.partition.gpadlCount >= 0);
      }),
      { numRuns: 300 },
    );
  });
});

describe('guest against a hostile host', () => {
  it('random messages never throw out of receive', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 240 }), { maxLength: 30 }),
        fc.nat({ max: 30 }),
        (messages, type) => {
          const memory = new GuestMemory(16);
          const guest = new VmbusGuest(memory, new PageAllocator(memory), new RecordingNotifier(), {
            log: () => {},
          });
          for (const m of messages) {
            if (m.length >= 4) new DataView(m.buffer, m.byteOffset).setUint32(0, type, true);
            guest.receive(m);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('drops offers with a duplicate or impossible channel id, and results nobody waits for', () => {
    const memory = new GuestMemory(16);
    const guest = new VmbusGuest(memory, new PageAllocator(memory), new RecordingNotifier(), {
      log: () => {},
    });
    const offer = (relid: number) =>
      encodeChannelMessage('OfferChannel', { childRelid: relid, interfaceType: TYPE as never });
    guest.version = VMBUS_VERSION.WIN10_V5_3;
    guest.receive(offer(3));
    guest.receive(offer(3));
    guest.receive(offer(0));
    guest.receive(offer(5000));
    guest.receive(encodeChannelMessage('OpenChannelResult', { childRelid: 3, openId: 3 }));
    guest.receive(encodeChannelMessage('GpadlTorndown', { gpadl: 1 }));
    assert.equal(guest.offers.size, 1);
    assert.equal(guest.log.total, 5);
  });
});
