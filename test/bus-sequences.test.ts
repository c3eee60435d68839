/**
 * The bus sequences of spec vmbus-wire.md §3.6 in one thread: version
 * negotiation, offers, GPADLs, open with the real ring layout, close,
 * rescind with packets in flight, unload and subchannels.
 */

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  BusError,
  ChannelClosedError,
  ChannelPipe,
  connectedChannels,
  createLocalBus,
  type HostChannel,
  MemoryDescriptor,
  PACKET_TYPE_IN_BAND,
  VMBUS_VERSION,
} from 'vmbus-kmcl';
import { ControlPage, IncomingRing, OutgoingRing } from 'vmbus-kmcl/ring';
import { until } from './wait.js';

const TYPE = 'f8615163-df3e-46c5-913f-f2d2f965ed0e';
const instance = (n: number) => `00000000-0000-0000-0000-${n.toString(16).padStart(12, '0')}`;
const quiet = () => {};

describe('version negotiation', () => {
  it('the guest proposes its newest version and the host accepts it', async () => {
    const bus = createLocalBus({ log: quiet });
    assert.equal(await bus.guest.connect(), VMBUS_VERSION.COPPER);
    assert.equal(bus.partition.version, VMBUS_VERSION.COPPER);
    bus.dispose();
  });

  it('falls back to the newest version a host that supports a subset accepts', async () => {
    const bus = createLocalBus({
      log: quiet,
      host: { versions: [VMBUS_VERSION.WIN8_1, VMBUS_VERSION.WIN8] },
    });
    assert.equal(await bus.guest.connect(), VMBUS_VERSION.WIN8_1);
    assert.equal(bus.partition.version, VMBUS_VERSION.WIN8_1);
    bus.dispose();
  });

  it('fails with a typed error when no version is common', async () => {
    const bus = createLocalBus({
      log: quiet,
      host: { versions: [VMBUS_VERSION.WIN7] },
      guest: { versions: [VMBUS_VERSION.WIN10_V5_3, VMBUS_VERSION.WIN8] },
    });
    await assert.rejects(
      bus.guest.connect(),
      (e) => e instanceof BusError && e.code === 'VMBUS_BUS_VERSION_REFUSED',
    );
    bus.dispose();
  });

  it('negotiates Copper features as the intersection', async () => {
    const bus = createLocalBus({ log: quiet, host: { features: 0x24 }, guest: { features: 0x21 } });
    await bus.guest.connect();
    assert.equal(bus.guest.features, 0x20);
    assert.equal(bus.partition.features, 0x20);
    bus.dispose();
  });
});

describe('offers', () => {
  it('delivers offers made before and after REQUESTOFFERS, then ALLOFFERS_DELIVERED', async () => {
    const bus = createLocalBus({ log: quiet });
    for (let i = 1; i <= 3; i++)
      bus.host.offer(bus.partition, {
        interfaceType: TYPE,
        interfaceInstance: instance(i),
        mmioMegabytes: i,
      });
    await bus.guest.connect();
    const offers = await bus.guest.requestOffers();
    assert.deepEqual(
      offers.map((o) => [o.relid, o.interfaceInstance, o.mmioMegabytes]),
      [1, 2, 3].map((i) => [i, instance(i), i]),
    );
    assert.equal(offers[0]?.interfaceType, TYPE);
    assert.equal(offers[0]?.connectionId, 0x2001);
    const late = bus.host.offer(bus.partition, {
      interfaceType: TYPE,
      interfaceInstance: instance(9),
    });
    await until(() => bus.guest.offers.has(late.relid), 'the late offer');
    bus.dispose();
  });
});

describe('GPADLs', () => {
  it('creates a GPADL from a header and as many bodies as needed, and tears it down', async () => {
    const bus = createLocalBus({ log: quiet });
    const offer = bus.host.offer(bus.partition, {
      interfaceType: TYPE,
      interfaceInstance: instance(1),
    });
    await bus.guest.connect();
    await bus.guest.requestOffers();
    const pfns = bus.guest.pages.allocate(100);
    const before = bus.guestLink.messagesSent;
    const handle = await bus.guest.createGpadl(
      offer.relid,
      new MemoryDescriptor(bus.memory, pfns, 0, 100 * 4096),
    );
    // 101 words: 27 in the header, 28 in each of 3 bodies.
    assert.equal(bus.guestLink.messagesSent - before, 4);
    assert.equal(bus.partition.gpadlCount, 1);
    await bus.guest.teardownGpadl(offer.relid, handle);
    assert.equal(bus.partition.gpadlCount, 0);
    bus.guest.pages.free(pfns);
    bus.dispose();
  });

  it('refuses a GPADL naming pages outside guest memory', async () => {
    const bus = createLocalBus({ log: quiet, memoryPages: 64 });
    const offer = bus.host.offer(bus.partition, {
      interfaceType: TYPE,
      interfaceInstance: instance(1),
    });
    await bus.guest.connect();
    await bus.guest.requestOffers();
    await assert.rejects(
      bus.guest.createGpadl(offer.relid, { pfns: [3, 64], byteOffset: 0, byteLength: 8192 }),
      (e) => e instanceof BusError && e.code === 'VMBUS_BUS_GPADL_FAILED',
    );
    assert.equal(bus.partition.gpadlCount, 0);
    assert.equal(bus.partition.log.counts.get('VMBUS_BUS_INVALID_GPA_RANGE'), 1);
    bus.dispose();
  });
});

describe('open and close', () => {
  it('a guest whose reader finds the host ring damaged closes the channel on the bus', async () => {
    const bus = createLocalBus({ log: quiet });
    let host: HostChannel | undefined;
    let closed = '';
    bus.host.offer(bus.partition, {
      interfaceType: TYPE,
      interfaceInstance: instance(1),
      onOpened: (c) => {
        host = c;
      },
      onClosed: (reason) => {
        closed = reason;
      },
    });
    await bus.guest.connect();
    const [offer] = await bus.guest.requestOffers();
    const channel = await bus.guest.open(offer!);
    assert.ok(host);
    assert.equal(bus.partition.gpadlCount, 1);
    let guestSaw = '';
    channel.pipe.onClose = (reason) => {
      guestSaw = reason;
    };
    channel.pipe.onPacket = () => {};
    // The host → guest write index past the end of the ring, then an interrupt.
    host.pipe.outgoing.memory.control.writeIndex = host.pipe.outgoing.memory.dataSize + 8;
    host.pipe.notifyPeer();
    await until(() => guestSaw === 'corrupt', 'the guest to find the damage');
    await until(() => offer!.state === 'offered', 'the guest to close the channel');
    await until(() => closed === 'closed', 'the host to see it closed');
    assert.equal(host.pipe.isOpen, false);
    assert.equal(bus.partition.gpadlCount, 0, 'the ring GPADL is gone');
    assert.equal(bus.guest.pages.allocatedPages, 0, 'the ring pages are free');
    // The offer can be opened again.
    const again = await bus.guest.open(offer!);
    await again.close();
    bus.dispose();
  });

  it('lays the rings out as spec §1.1 says and carries packets both ways', async () => {
    const bus = createLocalBus({ log: quiet });
    let host: HostChannel | undefined;
    let request:
      | { upstreamPages: number; downstreamPages: number; userData: Uint8Array }
      | undefined;
    bus.host.offer(bus.partition, {
      interfaceType: TYPE,
      interfaceInstance: instance(1),
      onOpen: (r) => {
        request = r;
        return 0;
      },
      onOpened: (c) => {
        host = c;
      },
    });
    await bus.guest.connect();
    const [offer] = await bus.guest.requestOffers();
    const userData = new Uint8Array(120).fill(7);
    const channel = await bus.guest.open(offer!, {
      upstreamPages: 3,
      downstreamPages: 5,
      userData,
    });
    assert.ok(host);
    assert.deepEqual([request?.upstreamPages, request?.downstreamPages], [3, 5]);
    assert.deepEqual(request?.userData, userData);
    assert.equal(channel.ringPfns.length, 8);

    // The guest writes; the bytes sit in the upstream ring's data area, the
    // first page after the ring GPADL's first (control) page.
    assert.ok(channel.pipe.send(PACKET_TYPE_IN_BAND, 1, 0x42, 0, new Uint8Array([1, 2, 3, 4, 5])));
    const gpa = (channel.ringPfns[0]! + 1) * 4096;
    assert.deepEqual(
      bus.memory.bytes.subarray(gpa, gpa + 24),
      Uint8Array.from([6, 0, 2, 0, 3, 0, 1, 0, 0x42, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5, 0, 0, 0]),
    );
    // A reader built over those guest pages, as a real host maps them, sees the packet.
    const raw = new IncomingRing(bus.memory.buffer, channel.ringPfns[0]! * 4096, 3 * 4096);
    assert.equal(raw.read()?.transactionId, 0x42);

    const got: number[] = [];
    host.pipe.onPacket = (p) => got.push(p.transactionId);
    const back: number[] = [];
    channel.pipe.onPacket = (p) => back.push(p.transactionId);
    await until(() => got.length === 1, 'the packet at the host');
    host.pipe.send(11, 0, 0x42, 0, new Uint8Array(8));
    await until(() => back.length === 1, 'the completion at the guest');
    assert.deepEqual([got, back], [[0x42], [0x42]]);

    let closed = '';
    host.offer.options.onClosed = (reason) => {
      closed = reason;
    };
    await channel.close();
    assert.equal(closed, 'closed');
    assert.equal(host.pipe.isOpen, false);
    assert.equal(bus.partition.gpadlCount, 0);
    assert.equal(bus.guest.pages.allocatedPages, 0);
    assert.equal(offer!.state, 'offered');
    // It can be opened again.
    const again = await bus.guest.open(offer!);
    await again.close();
    bus.dispose();
  });

  it('a refused open frees its pages and GPADL', async () => {
    const bus = createLocalBus({ log: quiet });
    bus.host.offer(bus.partition, {
      interfaceType: TYPE,
      interfaceInstance: instance(1),
      onOpen: async () => 0xc000009a,
    });
    await bus.guest.connect();
    const [offer] = await bus.guest.requestOffers();
    await assert.rejects(
      bus.guest.open(offer!),
      (e) => e instanceof BusError && e.code === 'VMBUS_BUS_OPEN_FAILED' && e.status === 0xc000009a,
    );
    assert.equal(bus.partition.gpadlCount, 0);
    assert.equal(bus.guest.pages.allocatedPages, 0);
    bus.dispose();
  });
});

describe('rescind', () => {
  it('closes both ends with packets in flight; pending sends fail; the relid is released', async () => {
    const bus = createLocalBus({ log: quiet });
    let host: HostChannel | undefined;
    let released = false;
    const hostOffer = bus.host.offer(bus.partition, {
      interfaceType: TYPE,
      interfaceInstance: instance(1),
      onOpened: (c) => {
        host = c;
      },
      onReleased: () => {
        released = true;
      },
    });
    await bus.guest.connect();
    const [offer] = await bus.guest.requestOffers();
    const channel = await bus.guest.open(offer!, { upstreamPages: 2, downstreamPages: 2 });
    // Nobody reads at the host: fill the guest's ring so a send must wait.
    const payload = new Uint8Array(1000);
    while (channel.pipe.send(6, 0, 1, 0, payload));
    const pending = channel.pipe.sendAsync(6, 0, 2, 0, payload);
    let rescinded = false;
    offer!.onRescind = () => {
      rescinded = true;
    };
    hostOffer.rescind();
    await assert.rejects(
      pending,
      (e) => e instanceof ChannelClosedError && e.closeReason === 'rescinded',
    );
    await until(() => released, 'RELID_RELEASED at the host');
    assert.equal(rescinded, true);
    assert.equal(host?.pipe.isOpen, false);
    assert.equal(channel.pipe.isOpen, false);
    assert.throws(() => channel.pipe.send(6, 0, 3, 0, payload), ChannelClosedError);
    assert.equal(bus.partition.gpadlCount, 0);
    assert.equal(bus.guest.pages.allocatedPages, 0);
    assert.equal(bus.partition.offers.size, 0);
    // The id is free again.
    assert.equal(
      bus.host.offer(bus.partition, { interfaceType: TYPE, interfaceInstance: instance(2) }).relid,
      hostOffer.relid,
    );
    bus.dispose();
  });
});

describe('unload', () => {
  it('closes every channel on both sides and forgets the offers', async () => {
    const bus = createLocalBus({ log: quiet });
    const reasons: string[] = [];
    for (let i = 1; i <= 3; i++) {
      bus.host.offer(bus.partition, {
        interfaceType: TYPE,
        interfaceInstance: instance(i),
        onClosed: (r) => reasons.push(r),
      });
    }
    await bus.guest.connect();
    const offers = await bus.guest.requestOffers();
    const channels = await Promise.all(offers.map((o) => bus.guest.open(o, { upstreamPages: 2 })));
    await bus.guest.unload();
    assert.deepEqual(reasons, ['unloaded', 'unloaded', 'unloaded']);
    assert.ok(channels.every((c) => !c.pipe.isOpen && c.pipe.closeReason === 'unloaded'));
    assert.equal(bus.guest.offers.size, 0);
    assert.equal(bus.guest.pages.allocatedPages, 0);
    assert.equal(bus.partition.gpadlCount, 0);
    assert.equal(bus.partition.version, 0);
    // A new connection sees the offers again.
    await bus.guest.connect();
    assert.equal((await bus.guest.requestOffers()).length, 3);
    bus.dispose();
  });
});

describe('subchannels', () => {
  it('offers more channels for one instance; the guest opens them all', async () => {
    const bus = createLocalBus({ log: quiet });
    const hosts: HostChannel[] = [];
    for (let i = 0; i < 4; i++) {
      bus.host.offer(bus.partition, {
        interfaceType: TYPE,
        interfaceInstance: instance(7),
        subchannelIndex: i,
        onOpened: (c) => hosts.push(c),
      });
    }
    await bus.guest.connect();
    const offers = await bus.guest.requestOffers();
    const primary = offers.find((o) => o.subchannelIndex === 0)!;
    const subs = bus.guest.subchannelsOf(primary);
    assert.deepEqual(
      subs.map((s) => s.subchannelIndex),
      [1, 2, 3],
    );
    const channels = await Promise.all(
      [primary, ...subs].map((o) => bus.guest.open(o, { upstreamPages: 2 })),
    );
    const seen = new Set<number>();
    for (const h of hosts) h.pipe.onPacket = (p) => seen.add(p.transactionId);
    for (const [i, c] of channels.entries()) c.pipe.send(6, 0, 100 + i, 0, new Uint8Array(8));
    await until(() => seen.size === 4, 'a packet on every subchannel');
    bus.dispose();
  });
});

describe('several partitions', () => {
  it('one host serves two guest partitions, each with its own memory and offers', async () => {
    const a = createLocalBus({ log: quiet, memoryPages: 256 });
    const b = createLocalBus({ log: quiet, memoryPages: 512, existingHost: a.host });
    assert.equal(a.host.partitions.size, 2);
    a.host.offer(a.partition, { interfaceType: TYPE, interfaceInstance: instance(1) });
    a.host.offer(b.partition, { interfaceType: TYPE, interfaceInstance: instance(2) });
    a.host.offer(b.partition, { interfaceType: TYPE, interfaceInstance: instance(3) });
    await Promise.all([a.guest.connect(), b.guest.connect()]);
    const [offersA, offersB] = await Promise.all([
      a.guest.requestOffers(),
      b.guest.requestOffers(),
    ]);
    assert.deepEqual(
      offersA.map((o) => o.interfaceInstance),
      [instance(1)],
    );
    assert.deepEqual(
      offersB.map((o) => o.interfaceInstance),
      [instance(2), instance(3)],
    );
    const [ca, cb] = await Promise.all([a.guest.open(offersA[0]!), b.guest.open(offersB[1]!)]);
    assert.equal(a.partition.gpadlCount, 1);
    assert.equal(b.partition.gpadlCount, 1);
    assert.notEqual(ca.pipe.outgoing.memory.bytes.buffer, cb.pipe.outgoing.memory.bytes.buffer);
    a.dispose();
    assert.equal(a.host.partitions.size, 1, 'disposing one partition leaves the other');
    await cb.close();
    b.dispose();
  });
});

describe('pipe counters', () => {
  it('count packets and payload bytes from the rings, as numbers a copy keeps', async () => {
    const { host, guest, dispose } = await connectedChannels({ ringPages: 4 });
    try {
      const got: number[] = [];
      host.onPacket = (p) => got.push(p.payloadLength);
      for (const n of [5, 8, 64]) assert.ok(guest.send(6, 0, n, 0, new Uint8Array(n)));
      await until(() => got.length === 3, 'the three packets');
      // The reader sees payloads padded to 8 bytes (spec §1.5), and counts them so.
      assert.deepEqual(got, [8, 8, 64]);
      assert.equal(guest.stats.packetsSent, 3);
      assert.equal(guest.stats.bytesSent, 77);
      assert.equal(host.stats.packetsReceived, 3);
      assert.equal(host.stats.bytesReceived, 80);
      assert.equal(guest.outgoing.payloadBytesWritten, 77);
      assert.equal(host.incoming.payloadBytesRead, 80);
      // Spread, JSON and structured clone see the counts as plain numbers.
      for (const copy of [
        { ...guest.stats },
        JSON.parse(JSON.stringify(guest.stats)),
        structuredClone(guest.stats),
      ]) {
        assert.equal(copy.packetsSent, 3);
        assert.equal(copy.bytesSent, 77);
        assert.equal(typeof Object.getOwnPropertyDescriptor(copy, 'packetsSent')?.value, 'number');
      }
      // A refused write is not counted.
      const full = guest.stats.ringFull;
      while (guest.send(6, 0, 0, 0, new Uint8Array(1000)));
      assert.equal(guest.stats.ringFull, full + 1);
      assert.equal(guest.stats.packetsSent, guest.outgoing.packetsWritten);
    } finally {
      dispose();
    }
  });

  it('start at zero for a pipe over rings that already carried packets, and leave extension headers out', () => {
    const sab = new SharedArrayBuffer(2 * 8192);
    ControlPage.initialize(sab, 0);
    ControlPage.initialize(sab, 8192);
    const out = new OutgoingRing(sab, 0, 8192);
    const inc = new IncomingRing(sab, 0, 8192);
    out.writePacket(6, 0, 1, 0, new Uint8Array(24));
    out.commitWrite();
    assert.equal(inc.read()?.payloadLength, 24);
    const pipe = new ChannelPipe(9, out, inc, () => {});
    assert.deepEqual(
      [
        pipe.stats.packetsSent,
        pipe.stats.bytesSent,
        pipe.stats.packetsReceived,
        pipe.stats.bytesReceived,
      ],
      [0, 0, 0, 0],
    );
    // 16 bytes of extension header before 8 of payload.
    assert.ok(pipe.send(6, 0, 2, 0, new Uint8Array(8), new Uint8Array(16)));
    assert.equal(out.payloadBytesWritten, 32);
    assert.deepEqual([pipe.stats.packetsSent, pipe.stats.bytesSent], [1, 8]);
    const p = inc.read();
    assert.equal(p?.payloadLength, 8);
    assert.equal(inc.payloadBytesRead, 32);
    assert.deepEqual([pipe.stats.packetsReceived, pipe.stats.bytesReceived], [1, 8]);
  });
});
