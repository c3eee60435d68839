/**
 * The synthetic NIC (issue 7): the worked examples of spec nvsp.md §9 byte
 * for byte, driven by a raw guest that speaks NVSP packet by packet; the
 * initialization at every protocol version; link indications; vRSS
 * subchannels; and the hostile-guest cases of §8.1 (a failure status or a
 * dropped frame and a log line, never a crash, the channel still working).
 */

import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import {
  createLocalBus,
  encodeGpaDirectHeader,
  encodeNvsp,
  NETVSC_RECEIVE_BUFFER_ID,
  NetVsc,
  NetVsp,
  NVSP_MSG,
  NVSP_NO_SECTION,
  NVSP_VERSION,
  NVSP_VERSIONS_NEWEST_FIRST,
  OID,
  parseMac,
  type SwitchPort,
  VirtualSwitch,
  writeRndisPacketHeader,
} from 'vmbus-kmcl';

const hex = (s: string) =>
  Uint8Array.from(
    s
      .trim()
      .split(/\s+/)
      .map((b) => Number.parseInt(b, 16)),
  );

// spec nvsp.md §9 A1 bytes 0x10..0x37: the INIT message (40 bytes).
const A1_NVSP = hex(`01 00 00 00 01 00 06 00 01 00 06 00 00 00 00 00
  00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00`);
// §9 A2 bytes 0x10..0x2f: INIT_COMPLETE, 28 bytes padded to 32.
const A2_NVSP = hex(`02 00 00 00 ff ff ff ff 22 00 00 00 01 00 00 00
  00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00`);
// §9 B1: the RNDIS stream, 44-byte header + 60-byte ARP frame.
const B1 = hex(`01 00 00 00 68 00 00 00 24 00 00 00 3c 00 00 00 00 00 00 00 00 00 00 00
  00 00 00 00 24 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
  ff ff ff ff ff ff 00 15 5d 00 00 01 08 06 00 01 08 00 06 04 00 01 00 15
  5d 00 00 01 0a 00 00 01 00 00 00 00 00 00 0a 00 00 02 00 00 00 00 00 00
  00 00 00 00 00 00 00 00 00 00 00 00`);
const FRAME = B1.subarray(44);
// §9 B2 bytes 0x10..0x37: the GPA-direct header with two ranges.
const B2_RANGES = hex(`00 00 00 00 02 00 00 00 2c 00 00 00 40 00 00 00 45 23 01 00 00 00 00 00
  3c 00 00 00 02 01 00 00 46 23 01 00 00 00 00 00`);
// §9 C1 bytes 0x10..0x1f and the NVSP message at 0x20..0x47.
const C1_HEADER = hex('fe ca 00 00 01 00 00 00 68 00 00 00 e0 70 00 00');
const C1_NVSP = hex(`6b 00 00 00 00 00 00 00 ff ff ff ff 00 00 00 00
  00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00`);
const D1 = hex('02 00 00 00 18 00 00 00 02 00 00 00 01 00 00 00 00 00 00 00 00 40 00 00');
const D2 = hex(`02 00 00 80 34 00 00 00 02 00 00 00 00 00 00 00 01 00 00 00 00 00 00 00
  01 00 00 00 00 00 00 00 08 00 00 00 ff ff ff ef 03 00 00 00 00 00 00 00 00 00 00 00`);
const D3 = hex(
  '04 00 00 00 1c 00 00 00 03 00 00 00 01 01 01 01 00 00 00 00 14 00 00 00 00 00 00 00',
);
const D4 = hex(
  '04 00 00 80 1e 00 00 00 03 00 00 00 00 00 00 00 06 00 00 00 10 00 00 00 00 15 5d 00 00 01',
);
const D5 = hex('07 00 00 00 14 00 00 00 0b 00 01 40 00 00 00 00 00 00 00 00');
const D7 = hex('10 00 00 00 08 00 00 00 0c 00 00 00 78 56 34 12');
const D6 = hex(
  '05 00 00 00 20 00 00 00 04 00 00 00 0e 01 01 00 04 00 00 00 14 00 00 00 00 00 00 00 0d 00 00 00',
);

/** Every bus a test made: disposed at the end even when a test failed, so the run never hangs. */
const buses: { dispose(): void }[] = [];
after(() => {
  for (const b of buses) {
    try {
      b.dispose();
    } catch {
      // already disposed
    }
  }
});

type Packet = {
  type: number;
  flags: number;
  offset8: number;
  len8: number;
  id: number;
  idHigh: number;
  payload: Uint8Array;
  setId: number;
  ranges: { byteCount: number; byteOffset: number }[];
};

/** A guest that speaks NVSP by hand over a bus-level channel. */
async function rawGuest(vspOptions: Partial<ConstructorParameters<typeof NetVsp>[0]> = {}) {
  const bus = createLocalBus({ memoryPages: 2048 });
  buses.push(bus);
  const sw = new VirtualSwitch();
  const lines: string[] = [];
  const vsp = new NetVsp({
    host: bus.host,
    partition: bus.partition,
    mac: '00:15:5d:00:00:01',
    switch: sw,
    log: (l) => lines.push(l),
    ...vspOptions,
  });
  vsp.start();
  await bus.guest.connect();
  const [offer] = await bus.guest.requestOffers();
  const channel = await bus.guest.open(offer!, { upstreamPages: 16 });
  const relid = offer!.relid;
  const got: Packet[] = [];
  channel.pipe.onPacket = (p) => {
    const ranges: Packet['ranges'] = [];
    for (let i = 0; i < p.ranges.count; i++)
      ranges.push({ byteCount: p.ranges.byteCount[i]!, byteOffset: p.ranges.byteOffset[i]! });
    got.push({
      type: p.type,
      flags: p.flags,
      offset8: p.offset8,
      len8: p.len8,
      id: p.transactionIdLow,
      idHigh: p.transactionIdHigh,
      payload: p.payload().slice(),
      setId: p.type === 7 ? p.ranges.transferPageSetId : -1,
      ranges,
    });
  };
  let nextId = 1;
  const send = (payload: Uint8Array, type = 6, flags = 1, ext?: Uint8Array) => {
    const id = nextId++;
    assert.ok(channel.pipe.send(type, flags, id, 0, payload, ext));
    return id;
  };
  const take = async (what: (p: Packet) => boolean = () => true): Promise<Packet> => {
    for (let i = 0; i < 2000; i++) {
      const k = got.findIndex(what);
      if (k >= 0) return got.splice(k, 1)[0]!;
      await new Promise((r) => setImmediate(r));
    }
    throw new Error('no packet from the host');
  };
  const nothing = async () => {
    for (let i = 0; i < 50; i++) await new Promise((r) => setImmediate(r));
    return got.length;
  };
  const nvsp = (type: number, ...fields: number[]) =>
    encodeNvsp(new Uint8Array(40), type, ...fields);
  const gpadl = async (pages: number) => {
    const pfns = bus.guest.pages.allocate(pages);
    const handle = await bus.guest.createGpadl(relid, {
      pfns,
      byteOffset: 0,
      byteLength: pages * 4096,
    });
    return { pfns, handle, gpa: pfns[0]! * 4096 };
  };
  const controlPage = bus.guest.pages.allocate(1)[0]!;
  /** An RNDIS control message sent GPA-direct from one page (spec §5.1 form A). */
  const rndis = (message: Uint8Array) => {
    bus.memory.bytes.set(message, controlPage * 4096);
    const ext = new Uint8Array(24);
    encodeGpaDirectHeader(
      [{ byteCount: message.length, byteOffset: 0, pfns: [controlPage] }],
      ext,
      0,
    );
    return send(nvsp(NVSP_MSG.SEND_RNDIS_PKT, 1, NVSP_NO_SECTION, 0), 9, 1, ext);
  };
  const view = (p: Packet) => new DataView(p.payload.buffer);
  const complete = (p: Packet, status = 1) => {
    const done = new Uint8Array(8);
    new DataView(done.buffer).setUint32(0, NVSP_MSG.SEND_RNDIS_PKT_COMPLETE, true);
    new DataView(done.buffer).setUint32(4, status, true);
    assert.ok(channel.pipe.send(0xb, 0, p.id, p.idHigh, done));
  };
  return { bus, sw, vsp, lines, channel, send, take, nothing, nvsp, gpadl, rndis, view, complete };
}

type Raw = Awaited<ReturnType<typeof rawGuest>>;

/** INIT at 6.1, NDIS config and version, a 64-page receive and 16-page send buffer. */
async function initialize(g: Raw) {
  const id = g.send(g.nvsp(NVSP_MSG.INIT, NVSP_VERSION.V61, NVSP_VERSION.V61));
  const init = await g.take();
  g.send(g.nvsp(NVSP_MSG.SEND_NDIS_CONFIG, 1514, 0, 0x08, 0), 6, 0);
  g.send(g.nvsp(NVSP_MSG.SEND_NDIS_VERSION, 6, 30), 6, 0);
  const recv = await g.gpadl(64);
  g.send(g.nvsp(NVSP_MSG.SEND_RECV_BUF, recv.handle, NETVSC_RECEIVE_BUFFER_ID));
  const recvDone = await g.take();
  const send = await g.gpadl(16);
  g.send(g.nvsp(NVSP_MSG.SEND_SEND_BUF, send.handle, 0));
  const sendDone = await g.take();
  return { id, init, recv, recvDone, send, sendDone };
}

describe('synthetic NIC: worked examples of spec nvsp.md §9', () => {
  it('A: INIT for 6.1 and the INIT_COMPLETE answer, byte for byte', async () => {
    const g = await rawGuest();
    const message = g.nvsp(NVSP_MSG.INIT, NVSP_VERSION.V61, NVSP_VERSION.V61);
    assert.deepEqual(message, A1_NVSP);
    const id = g.send(message);
    const reply = await g.take();
    // A2: completion, offset8 2, len8 6, flags 0, the id echoed, a 32-byte message.
    assert.deepEqual(
      [reply.type, reply.offset8, reply.len8, reply.flags, reply.id],
      [0xb, 2, 6, 0, id],
    );
    assert.deepEqual(reply.payload, A2_NVSP);
    assert.equal(g.vsp.protocolVersion, NVSP_VERSION.V61);
    g.bus.dispose();
  });

  it('B, C, D: RNDIS control, a frame each way, the buffers and completions', async () => {
    const g = await rawGuest();
    const { recv, recvDone, send, sendDone } = await initialize(g);
    // SEND_RECV_BUF_COMPLETE: one section of 1806-byte slots (§4.1), 40 bytes at 6.1.
    const r = g.view(recvDone);
    assert.equal(recvDone.payload.length, 40);
    assert.deepEqual(
      [0, 4, 8, 12, 16, 20, 24].map((o) => r.getUint32(o, true)),
      [102, 1, 1, 0, 1806, 145, 1806 * 145],
    );
    assert.deepEqual(
      [
        g.view(sendDone).getUint32(0, true),
        g.view(sendDone).getUint32(4, true),
        g.view(sendDone).getUint32(8, true),
      ],
      [105, 1, 6144],
    );
    // D1 → D2: INITIALIZE_MSG, then its completion lands in control slot 0.
    g.rndis(D1);
    const ack = await g.take((p) => p.type === 0xb);
    assert.deepEqual([g.view(ack).getUint32(0, true), g.view(ack).getUint32(4, true)], [108, 1]);
    const initCmplt = await g.take((p) => p.type === 7);
    assert.equal(initCmplt.setId, 0xcafe);
    assert.equal(g.view(initCmplt).getUint32(4, true), 1, 'channel type 1: control');
    assert.deepEqual(initCmplt.ranges, [{ byteCount: 52, byteOffset: 0 }]);
    assert.deepEqual(g.bus.memory.bytes.slice(recv.gpa, recv.gpa + 52), D2);
    g.complete(initCmplt);
    // D3 → D4: the permanent address.
    g.rndis(D3);
    await g.take((p) => p.type === 0xb);
    const mac = await g.take((p) => p.type === 7);
    const at = recv.gpa + mac.ranges[0]!.byteOffset;
    assert.deepEqual(g.bus.memory.bytes.slice(at, at + 30), D4);
    g.complete(mac);
    // D6: packet filter 0x0D → SET_CMPLT status 0.
    g.rndis(D6);
    await g.take((p) => p.type === 0xb);
    const setDone = await g.take((p) => p.type === 7);
    const sat = recv.gpa + setDone.ranges[0]!.byteOffset;
    const sv = new DataView(g.bus.memory.bytes.buffer, sat, 16);
    assert.deepEqual(
      [sv.getUint32(0, true), sv.getUint32(8, true), sv.getUint32(12, true)],
      [0x80000005, 4, 0],
    );
    g.complete(setDone);
    assert.equal(g.vsp.packetFilter, 0x0d);

    // B1/B2: the frame leaves GPA-direct in two ranges; B3 completes it.
    const stream = new Uint8Array(104);
    writeRndisPacketHeader(stream, 0, 60, 104);
    stream.set(FRAME, 44);
    assert.deepEqual(stream, B1);
    const spec = new Uint8Array(40);
    encodeGpaDirectHeader(
      [
        { byteCount: 44, byteOffset: 0x40, pfns: [0x12345] },
        { byteCount: 60, byteOffset: 0x102, pfns: [0x12346] },
      ],
      spec,
      0,
    );
    assert.deepEqual(spec, B2_RANGES);
    const [p1, p2] = [g.bus.guest.pages.allocate(1)[0]!, g.bus.guest.pages.allocate(1)[0]!];
    g.bus.memory.bytes.set(B1.subarray(0, 44), p1 * 4096 + 0x40);
    g.bus.memory.bytes.set(FRAME, p2 * 4096 + 0x102);
    const other: SwitchPort & { frames: Uint8Array[] } = {
      name: 'other',
      mac: parseMac('00:15:5d:00:00:02'),
      packetFilter: 0x0d,
      frames: [],
      accept(frame) {
        this.frames.push(frame.slice());
        return true;
      },
    };
    g.sw.attach(other);
    const ext = new Uint8Array(40);
    encodeGpaDirectHeader(
      [
        { byteCount: 44, byteOffset: 0x40, pfns: [p1] },
        { byteCount: 60, byteOffset: 0x102, pfns: [p2] },
      ],
      ext,
      0,
    );
    const txId = g.send(g.nvsp(NVSP_MSG.SEND_RNDIS_PKT, 0, NVSP_NO_SECTION, 0), 9, 1, ext);
    const b3 = await g.take((p) => p.type === 0xb);
    assert.deepEqual([b3.offset8, b3.len8, b3.flags, b3.id], [2, 7, 0, txId]);
    assert.deepEqual(b3.payload, encodeNvsp(new Uint8Array(40), 108, 1));
    assert.deepEqual(other.frames, [FRAME]);

    // C1: the same frame comes back to the guest in data slot 16 (offset 0x70E0).
    g.sw.forward(other, FRAME, null);
    const c1 = await g.take((p) => p.type === 7);
    assert.deepEqual([c1.offset8, c1.len8, c1.flags], [4, 9, 1]);
    const hdr = new Uint8Array(16);
    const hv = new DataView(hdr.buffer);
    hv.setUint16(0, c1.setId, true);
    hv.setUint32(4, c1.ranges.length, true);
    hv.setUint32(8, c1.ranges[0]!.byteCount, true);
    hv.setUint32(12, c1.ranges[0]!.byteOffset, true);
    assert.deepEqual(hdr, C1_HEADER);
    assert.deepEqual(c1.payload, C1_NVSP);
    assert.deepEqual(g.bus.memory.bytes.slice(recv.gpa + 0x70e0, recv.gpa + 0x70e0 + 104), B1);
    assert.equal(g.vsp.slotsInUse, 1);
    // C2: the guest's completion frees the slot.
    g.complete(c1);
    await g.nothing();
    assert.equal(g.vsp.slotsInUse, 0);

    // D5: a link change comes as INDICATE_STATUS in a control slot.
    g.vsp.setLink(false);
    g.vsp.setLink(true);
    const down = await g.take((p) => p.type === 7);
    const up = await g.take((p) => p.type === 7);
    const bytesOf = (p: Packet) => {
      const o = recv.gpa + p.ranges[0]!.byteOffset;
      return g.bus.memory.bytes.slice(o, o + p.ranges[0]!.byteCount);
    };
    const d5down = D5.slice();
    d5down[8] = 0x0c; // MEDIA_DISCONNECT
    assert.deepEqual(bytesOf(down), d5down);
    assert.deepEqual(bytesOf(up), D5);
    g.complete(down);
    g.complete(up);

    // B1 with the D7 hash PPI: msg_len 120, data_offset 52, the frame intact at 60.
    const withPpi = new Uint8Array(120);
    withPpi.set(B1.subarray(0, 44));
    const pv = new DataView(withPpi.buffer);
    pv.setUint32(4, 120, true);
    pv.setUint32(8, 52, true);
    pv.setUint32(32, 16, true);
    withPpi.set(D7, 44);
    withPpi.set(FRAME, 60);
    g.bus.memory.bytes.set(withPpi, send.gpa);
    g.send(g.nvsp(NVSP_MSG.SEND_RNDIS_PKT, 0, 0, 120));
    const ppiDone = await g.take((p) => p.type === 0xb);
    assert.equal(g.view(ppiDone).getUint32(4, true), 1);
    assert.deepEqual(other.frames.at(-1), FRAME);
    assert.deepEqual(g.lines, []);
    g.bus.dispose();
  });
});

/** Two NICs on one host thread, one guest partition each. */
async function pair(versions: readonly number[], vspVersions?: readonly number[], queues = 1) {
  const sw = new VirtualSwitch();
  const a = createLocalBus({ memoryPages: 2048 });
  const b = createLocalBus({ memoryPages: 2048, existingHost: a.host });
  buses.push(a, b);
  const got: Uint8Array[] = [];
  const links: boolean[] = [];
  const vsps = [a, b].map(
    (bus, i) =>
      new NetVsp({
        host: bus.host,
        partition: bus.partition,
        mac: `00:15:5d:00:00:0${i + 1}`,
        switch: sw,
        maxQueues: 4,
        log: () => {},
        ...(vspVersions ? { versions: vspVersions } : {}),
      }),
  );
  for (const v of vsps) v.start();
  for (const bus of [a, b]) {
    await bus.guest.connect();
    await bus.guest.requestOffers();
  }
  const nics = [a, b].map(
    (bus) =>
      new NetVsc(bus.guest, {
        versions,
        receiveBufferBytes: 1 << 20,
        queues,
        onFrame: (f) => got.push(f.slice()),
        onLinkChange: (up) => links.push(up),
      }),
  );
  for (const n of nics) await n.connect();
  const settle = async () => {
    for (let i = 0; i < 100; i++) await new Promise((r) => setImmediate(r));
  };
  const dispose = async () => {
    for (const n of nics) await n.close();
    for (const v of vsps) await v.stop();
    a.dispose();
    b.dispose();
  };
  return { sw, vsps, nics, got, links, settle, dispose };
}

describe('synthetic NIC: initialization and features', () => {
  for (const version of NVSP_VERSIONS_NEWEST_FIRST) {
    it(`initializes at NVSP 0x${version.toString(16)} and carries frames both ways`, async () => {
      const p = await pair([version]);
      const [x, y] = p.nics as [NetVsc, NetVsc];
      assert.deepEqual([x.protocolVersion, y.protocolVersion], [version, version]);
      assert.deepEqual(
        [x.macAddress, y.macAddress, x.mtu, x.linkUp],
        ['00:15:5d:00:00:01', '00:15:5d:00:00:02', 1514, true],
      );
      assert.equal(p.vsps[0]!.protocolVersion, version);
      const f = new Uint8Array(200).map((_, i) => i);
      f.set(y.mac, 0);
      f.set(x.mac, 6);
      assert.ok(x.sendFrame(f));
      const g = new Uint8Array(1514).fill(7);
      g.set(x.mac, 0);
      g.set(y.mac, 6);
      assert.ok(y.sendFrame(g));
      await p.settle();
      assert.deepEqual(p.got, [f, g]);
      await p.dispose();
    });
  }

  it('falls back to the newest version the host accepts', async () => {
    const p = await pair(NVSP_VERSIONS_NEWEST_FIRST, [NVSP_VERSION.V5, NVSP_VERSION.V2]);
    assert.equal(p.nics[0]!.protocolVersion, NVSP_VERSION.V5);
    await p.dispose();
  });

  it('tells the guest about link changes (MEDIA_DISCONNECT / MEDIA_CONNECT)', async () => {
    const p = await pair([NVSP_VERSION.V61]);
    p.vsps[0]!.setLink(false);
    await p.settle();
    assert.equal(p.nics[0]!.linkUp, false);
    p.vsps[0]!.setLink(true);
    await p.settle();
    assert.deepEqual(p.links, [false, true]);
    assert.equal(p.nics[0]!.linkUp, true);
    await p.dispose();
  });

  it('opens vRSS subchannels, receives the send table, and spreads traffic over them', async () => {
    const p = await pair([NVSP_VERSION.V61], undefined, 3);
    const [x, y] = p.nics as [NetVsc, NetVsc];
    assert.equal(x.queueCount, 3);
    await p.settle();
    assert.equal(p.vsps[0]!.openQueues, 3);
    const f = new Uint8Array(100);
    f.set(y.mac, 0);
    for (let i = 0; i < 300; i++) {
      f.set(x.mac, 6);
      f[6] = i & 0xfe; // different flows hash to different queues
      while (!x.sendFrame(f)) await x.whenWritable();
      await new Promise((r) => setImmediate(r));
    }
    await p.settle();
    assert.equal(p.got.length, 300);
    // The guest's sends used several queues; the host's receives went round them too.
    assert.deepEqual(x.sendTable, [0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2, 0]);
    const busy = (
      stats: ({ packetsReceived: number; packetsSent: number } | null)[],
      key: 'packetsReceived' | 'packetsSent',
    ) => stats.filter((q) => (q?.[key] ?? 0) > 0).length;
    assert.ok(busy(p.vsps[0]!.queueStats, 'packetsReceived') >= 2);
    assert.ok(busy(p.vsps[1]!.queueStats, 'packetsSent') >= 2);
    await p.dispose();
  });

  it('sends frames as GPA-direct ranges (spec §5.1 form A) when asked', async () => {
    const sw = new VirtualSwitch();
    const a = createLocalBus({ memoryPages: 2048 });
    const b = createLocalBus({ memoryPages: 2048, existingHost: a.host });
    buses.push(a, b);
    const got: Uint8Array[] = [];
    for (const [bus, n] of [
      [a, 1],
      [b, 2],
    ] as const)
      new NetVsp({
        host: bus.host,
        partition: bus.partition,
        mac: `00:15:5d:00:00:0${n}`,
        switch: sw,
      }).start();
    for (const bus of [a, b]) {
      await bus.guest.connect();
      await bus.guest.requestOffers();
    }
    const x = new NetVsc(a.guest, { sendMode: 'gpa-direct' });
    const y = new NetVsc(b.guest, { onFrame: (f) => got.push(f.slice()) });
    await x.connect();
    await y.connect();
    const frames = [60, 1514, 333].map((n, k) => {
      const f = new Uint8Array(n).map((_, i) => (i * 7 + k) & 0xff);
      f.set(y.mac, 0);
      f.set(x.mac, 6);
      return f;
    });
    for (const f of frames) assert.ok(x.sendFrame(f));
    for (let i = 0; i < 100; i++) await new Promise((r) => setImmediate(r));
    assert.deepEqual(got, frames);
    assert.equal(x.stats.sendFailures, 0);
    await x.close();
    await y.close();
    a.dispose();
    b.dispose();
  });

  it('answers the OIDs a guest queries and declines the rest', async () => {
    const p = await pair([NVSP_VERSION.V61]);
    const x = p.nics[0]!;
    assert.equal((await x.query(OID.GEN_MAXIMUM_FRAME_SIZE))!.getUint32(0, true), 1500);
    assert.equal((await x.query(OID.GEN_LINK_SPEED))!.getUint32(0, true), 100_000_000);
    assert.equal((await x.query(OID.CURRENT_ADDRESS))!.byteLength, 6);
    assert.equal(await x.query(OID.GEN_FRIENDLY_NAME), null);
    assert.equal(await x.set(OID.MULTICAST_LIST, new Uint8Array(6)), 0xc00000bb);
    await p.dispose();
  });
});

describe('synthetic NIC: hostile guests (spec nvsp.md §8.1)', () => {
  it('short messages and messages before INIT: failure, a log line, still serving', async () => {
    const g = await rawGuest();
    g.send(new Uint8Array(2));
    const empty = await g.take();
    assert.equal(empty.type, 0xb);
    g.send(g.nvsp(NVSP_MSG.SEND_RNDIS_PKT, 0, 0, 60));
    const early = await g.take();
    assert.deepEqual(
      [g.view(early).getUint32(0, true), g.view(early).getUint32(4, true)],
      [108, 2],
    );
    g.send(g.nvsp(NVSP_MSG.INIT, NVSP_VERSION.V61, NVSP_VERSION.V61).subarray(0, 8));
    const shortInit = await g.take();
    assert.equal(g.view(shortInit).getUint32(0, true), NVSP_MSG.INIT_COMPLETE);
    assert.equal(g.view(shortInit).getUint32(4, true), 2);
    assert.equal(g.vsp.protocolVersion, 0);
    // The ring pads payloads to 8 bytes: the 2-byte message reads as type 0.
    assert.equal(g.vsp.log.counts.get('NVSP_SHORT_MESSAGE'), 1);
    assert.equal(g.vsp.log.counts.get('NVSP_BEFORE_INIT'), 2);
    // Unknown version: status 0, still waiting; then a good one.
    g.send(g.nvsp(NVSP_MSG.INIT, 0x7777, 0x7777));
    assert.equal(g.view(await g.take()).getUint32(12, true), 0);
    await initialize(g);
    assert.equal(g.vsp.protocolVersion, NVSP_VERSION.V61);
    g.bus.dispose();
  });

  it('receive buffer before NDIS config, twice, or on a bad GPADL: failure status', async () => {
    const g = await rawGuest();
    g.send(g.nvsp(NVSP_MSG.INIT, NVSP_VERSION.V5, NVSP_VERSION.V5));
    await g.take();
    const recv = await g.gpadl(64);
    g.send(g.nvsp(NVSP_MSG.SEND_RECV_BUF, recv.handle, 0xcafe));
    const early = await g.take();
    assert.deepEqual(
      [g.view(early).getUint32(0, true), g.view(early).getUint32(4, true)],
      [102, 2],
    );
    g.send(g.nvsp(NVSP_MSG.SEND_NDIS_CONFIG, 99_999, 0, 0, 0), 6, 0);
    g.send(g.nvsp(NVSP_MSG.SEND_RECV_BUF, 0xdead, 0xcafe));
    const bad = await g.take();
    assert.deepEqual([g.view(bad).getUint32(0, true), g.view(bad).getUint32(4, true)], [102, 2]);
    g.send(g.nvsp(NVSP_MSG.SEND_RECV_BUF, recv.handle, 0xcafe));
    const ok = await g.take();
    assert.equal(g.view(ok).getUint32(4, true), 1);
    assert.equal(g.view(ok).getUint32(16, true), 1806, 'an MTU above 9216 was replaced by 1514');
    g.send(g.nvsp(NVSP_MSG.SEND_RECV_BUF, recv.handle, 0xcafe));
    assert.equal(g.view(await g.take()).getUint32(4, true), 2);
    assert.ok(g.vsp.log.counts.get('NVSP_ORDER')! >= 2);
    assert.equal(g.vsp.log.counts.get('NVSP_BAD_GPADL'), 1);
    g.bus.dispose();
  });

  it('send-buffer sections outside the buffer, RNDIS offsets outside the message, oversized frames', async () => {
    const g = await rawGuest();
    const { send } = await initialize(g);
    g.rndis(D1);
    await g.take((p) => p.type === 0xb);
    g.complete(await g.take((p) => p.type === 7));
    g.rndis(D6);
    await g.take((p) => p.type === 0xb);
    g.complete(await g.take((p) => p.type === 7));
    const status = async () => g.view(await g.take((p) => p.type === 0xb)).getUint32(4, true);
    const put = (section: number, bytes: Uint8Array) =>
      g.bus.memory.bytes.set(bytes, send.gpa + section * 6144);
    const frame = (length: number) => {
      const m = new Uint8Array(44 + length);
      writeRndisPacketHeader(m, 0, length, 44 + length);
      m.fill(0xff, 44, 50);
      return m;
    };
    // A good frame from section 0 (no other port: it just goes nowhere).
    put(0, frame(60));
    g.send(g.nvsp(NVSP_MSG.SEND_RNDIS_PKT, 0, 0, 104));
    assert.equal(await status(), 1);
    // Section index past the 16-page buffer; size beyond a section; size past the end.
    for (const [index, size] of [
      [11, 104],
      [0, 6145],
      [10, 6144],
      [0xfffffffe, 8],
    ] as const) {
      g.send(g.nvsp(NVSP_MSG.SEND_RNDIS_PKT, 0, index, size));
      assert.equal(await status(), 2, `section ${index} size ${size}`);
    }
    assert.equal(g.vsp.log.counts.get('NVSP_BAD_SECTION'), 4);
    // msg_len beyond the stream; data offset beyond msg_len; data length past it; PPI outside.
    const cases: [string, (v: DataView) => void][] = [
      ['RNDIS_BAD_LENGTH', (v) => v.setUint32(4, 5000, true)],
      ['RNDIS_BAD_DATA', (v) => v.setUint32(8, 200, true)],
      ['RNDIS_BAD_DATA', (v) => v.setUint32(12, 61, true)],
      ['RNDIS_BAD_PPI', (v) => v.setUint32(32, 400, true)],
      ['RNDIS_UNSUPPORTED', (v) => v.setUint32(16, 8, true)],
      // A PPI area of 16 bytes whose one record claims 20.
      [
        'RNDIS_BAD_PPI',
        (v) => {
          v.setUint32(32, 16, true);
          v.setUint32(44, 20, true);
          v.setUint32(52, 12, true);
        },
      ],
    ];
    for (const [code, mutate] of cases) {
      const m = frame(60);
      mutate(new DataView(m.buffer));
      put(1, m);
      g.send(g.nvsp(NVSP_MSG.SEND_RNDIS_PKT, 0, 1, m.length));
      assert.equal(await status(), 2, code);
      assert.ok((g.vsp.log.counts.get(code) ?? 0) >= 1, code);
    }
    // A frame above the MTU is dropped; the message itself completes.
    const dropped = g.vsp.stats.framesDropped;
    put(2, frame(1515));
    g.send(g.nvsp(NVSP_MSG.SEND_RNDIS_PKT, 0, 2, 44 + 1515));
    assert.equal(await status(), 1);
    assert.equal(g.vsp.stats.framesDropped, dropped + 1);
    assert.equal(g.vsp.log.counts.get('NET_FRAME_SIZE'), 1);
    // GPA ranges outside guest memory.
    const ext = new Uint8Array(24);
    encodeGpaDirectHeader([{ byteCount: 104, byteOffset: 0, pfns: [0x7fff_ffff] }], ext, 0);
    g.send(g.nvsp(NVSP_MSG.SEND_RNDIS_PKT, 0, NVSP_NO_SECTION, 0), 9, 1, ext);
    assert.equal(await status(), 2);
    // A SET whose value points outside the message.
    const set = D6.slice();
    new DataView(set.buffer).setUint32(20, 900, true);
    g.rndis(set);
    await g.take((p) => p.type === 0xb);
    const reply = await g.take((p) => p.type === 7);
    const at = reply.ranges[0]!.byteOffset;
    g.complete(reply);
    assert.equal(g.vsp.log.counts.get('RNDIS_BAD_SET'), 1);
    assert.ok(at < 16 * 1806, 'control replies use the reserved slots');
    // A receive completion of the wrong type is logged; the slot still comes back.
    g.sw.attach({
      name: 'x',
      mac: parseMac('00:15:5d:00:00:09'),
      packetFilter: 0,
      accept: () => false,
    });
    const other = {
      name: 'y',
      mac: parseMac('00:15:5d:00:00:08'),
      packetFilter: 0,
      accept: () => false,
    };
    const f = new Uint8Array(60).fill(0xff, 0, 6);
    g.sw.forward(other, f, null);
    const rx = await g.take((p) => p.type === 7);
    assert.ok(g.channel.pipe.send(0xb, 0, rx.id, rx.idHigh, new Uint8Array(8)));
    await g.nothing();
    assert.equal(g.vsp.log.counts.get('NVSP_BAD_RECEIVE_COMPLETION'), 1);
    assert.equal(g.vsp.slotsInUse, 0);
    // Still serving: a good frame completes with status 1.
    put(0, frame(60));
    g.send(g.nvsp(NVSP_MSG.SEND_RNDIS_PKT, 0, 0, 104));
    assert.equal(await status(), 1);
    g.bus.dispose();
  });

  it('a control message on a data path without a completion request is dropped, not answered', async () => {
    const g = await rawGuest();
    await initialize(g);
    g.send(g.nvsp(NVSP_MSG.SEND_RNDIS_PKT, 0, 0, 104), 6, 0);
    assert.equal(await g.nothing(), 0);
    assert.equal(g.vsp.log.counts.get('NVSP_NO_TRANSACTION'), 1);
    g.send(g.nvsp(0x4242));
    assert.equal((await g.take()).type, 0xb);
    assert.equal(g.vsp.log.counts.get('NVSP_UNKNOWN_TYPE'), 1);
    g.bus.dispose();
  });
});

describe('virtual switch', () => {
  const port = (last: number, filter = 0x0d) => {
    const p = {
      name: `p${last}`,
      mac: Uint8Array.from([0, 0x15, 0x5d, 0, 0, last]),
      packetFilter: filter,
      got: 0,
      full: false,
      accept() {
        if (p.full) return false;
        p.got++;
        return true;
      },
    };
    return p;
  };
  const frame = (to: Uint8Array, from: Uint8Array) => {
    const f = new Uint8Array(60);
    f.set(to, 0);
    f.set(from, 6);
    return f;
  };

  it('floods unknown unicast and broadcast, then forwards to the learned port only', () => {
    const sw = new VirtualSwitch();
    const [a, b, c] = [port(1), port(2), port(3)];
    for (const p of [a, b, c]) sw.attach(p);
    sw.forward(a, frame(b.mac, a.mac), null); // b unknown: flooded, c's filter drops it
    assert.deepEqual([b.got, c.got, sw.stats.flooded, sw.stats.droppedFiltered], [1, 0, 1, 1]);
    sw.forward(b, frame(a.mac, b.mac), null); // a learned: only a
    assert.deepEqual([a.got, c.got, sw.stats.flooded], [1, 0, 1]);
    sw.forward(c, frame(Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]), c.mac), null);
    assert.deepEqual([a.got, b.got], [2, 2]);
    assert.equal(sw.stats.learned, 3);
  });

  it('counts runts, filtered copies, full ports and frames with nowhere to go', () => {
    const sw = new VirtualSwitch();
    const [a, b] = [port(1), port(2, 0)];
    sw.attach(a);
    sw.attach(b);
    sw.forward(a, new Uint8Array(10), null);
    assert.equal(sw.stats.droppedRunt, 1);
    sw.forward(a, frame(b.mac, a.mac), null); // b's filter is 0
    assert.equal(sw.stats.droppedFiltered, 1);
    b.packetFilter = 0x0d;
    b.full = true;
    sw.forward(a, frame(b.mac, a.mac), null);
    assert.equal(sw.stats.droppedPortFull, 1);
    sw.forward(a, frame(a.mac, a.mac), null); // to itself
    assert.equal(sw.stats.droppedNoRoute, 1);
    sw.detach(b);
    assert.equal(sw.portCount, 1);
  });
});
