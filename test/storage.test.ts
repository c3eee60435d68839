/**
 * The synthetic SCSI controller: the worked examples of spec vstor.md §9
 * byte for byte, the initialization at every protocol version, a
 * data-integrity run over every queue, and the hostile-guest cases of §8.1.
 */

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  ControlPage,
  createLocalBus,
  encodeExecuteSrb,
  encodeGpaDirectHeader,
  encodeVstorRequest,
  KmclChannel,
  MemoryBackend,
  MemoryDescriptor,
  OutgoingRing,
  SCSI_INTERFACE_TYPE,
  ScsiDisk,
  StorageError,
  StorageVsc,
  StorageVsp,
  VSTOR_OP,
  VSTOR_VERSIONS_NEWEST_FIRST,
  VMBUS_CHANNEL_FORMAT_FLAG_WAIT_FOR_COMPLETION as WAIT,
} from 'vmbus-kmcl';

const hex = (s: string) =>
  Uint8Array.from(s.replace(/\s+/g, '').match(/../g) ?? [], (b) => Number.parseInt(b, 16));
const quiet = () => {};

async function controller(
  options: {
    versions?: readonly number[];
    subchannels?: number;
    diskBytes?: number;
    luns?: number;
  } = {},
) {
  const bus = createLocalBus({ log: quiet, memoryPages: 4096 });
  const disks = new Map<number, ScsiDisk>();
  for (let lun = 0; lun < (options.luns ?? 1); lun++)
    disks.set(lun, new ScsiDisk(new MemoryBackend(options.diskBytes ?? 4 << 20)));
  const vsp = new StorageVsp({
    host: bus.host,
    partition: bus.partition,
    disks,
    log: quiet,
    ...(options.versions ? { versions: options.versions } : {}),
  });
  vsp.start();
  await bus.guest.connect();
  await bus.guest.requestOffers();
  return { bus, vsp, disks };
}

/** A raw client on the controller: sends VSTOR packets as given and returns the completion bytes. */
async function rawClient(bus: ReturnType<typeof createLocalBus>) {
  const channel = new KmclChannel({ guest: bus.guest }, false);
  channel.initSetTargetPnp(SCSI_INTERFACE_TYPE, null);
  channel.initSetProcessPacketCallbacks((c, p) => c.completePacket(p, null, 0));
  const started = new Promise<void>((resolve) =>
    channel.initSetStateChangeCallbacks({
      Version: 1,
      Size: 48,
      EvtChannelPostStarted: () => resolve(),
    }),
  );
  channel.enable();
  await started;
  return async (
    packet: Uint8Array,
    length = packet.length,
    mdl: MemoryDescriptor | null = null,
  ) => {
    const reply = new Uint8Array(64);
    const size = { value: 64 };
    const status = await channel.sendSynchronousRequest(
      packet,
      length,
      mdl ? { kind: 'mdl', chain: [mdl], offset: 0, length: 0, forceLength: false } : null,
      WAIT,
      reply,
      size,
      -10_000_000n,
    );
    return { status, reply: reply.subarray(0, size.value) };
  };
}

/** Runs BEGIN, QUERY_PROTOCOL_VERSION 6.2, QUERY_PROPERTIES, END through a raw client. */
async function rawInit(send: Awaited<ReturnType<typeof rawClient>>) {
  for (const [op, arg] of [
    [VSTOR_OP.BEGIN_INITIALIZATION, 0],
    [VSTOR_OP.QUERY_PROTOCOL_VERSION, 0x0602],
    [VSTOR_OP.QUERY_PROPERTIES, 0],
    [VSTOR_OP.END_INITIALIZATION, 0],
  ] as const) {
    const p = new Uint8Array(64);
    encodeVstorRequest(p, op, 0x0602, arg);
    const { reply } = await send(p);
    assert.deepEqual(reply.subarray(8, 12), hex('00000000'), `operation ${op}`);
  }
}

describe('worked examples (spec vstor.md §9)', () => {
  it('(a) QUERY_PROTOCOL_VERSION 6.2, answered REVISION_MISMATCH by a 6.0 host', async () => {
    const request = new Uint8Array(64);
    encodeVstorRequest(request, VSTOR_OP.QUERY_PROTOCOL_VERSION, 0x0602, 0x0602);
    assert.deepEqual(request.subarray(0, 16), hex('09000000 01000000 00000000 02060000'));
    assert.ok(request.subarray(16).every((b) => b === 0));
    const { bus } = await controller({ versions: [0x0600, 0x0501] });
    const send = await rawClient(bus);
    const begin = new Uint8Array(64);
    encodeVstorRequest(begin, VSTOR_OP.BEGIN_INITIALIZATION, 0x0602);
    assert.deepEqual((await send(begin)).reply.subarray(0, 12), hex('01000000 00000000 00000000'));
    const { reply } = await send(request);
    assert.equal(reply.length, 64);
    assert.deepEqual(reply.subarray(0, 16), hex('01000000 00000000 590000c0 02060000'));
    assert.ok(reply.subarray(16).every((b) => b === 0));
    const retry = new Uint8Array(64);
    encodeVstorRequest(retry, VSTOR_OP.QUERY_PROTOCOL_VERSION, 0x0602, 0x0600);
    assert.deepEqual(
      (await send(retry)).reply.subarray(0, 16),
      hex('01000000 00000000 00000000 00060000'),
    );
    bus.dispose();
  });

  it('(b) EXECUTE_SRB READ(10): the ring packet, the completion, and the out-of-range completion', async () => {
    const payload = new Uint8Array(64);
    const cdb = hex('28 00 00000000 00 0008 00');
    encodeExecuteSrb(payload, { lun: 0, cdb, dataIn: 1, dataTransferLength: 4096 }, 0x0602);
    // The whole GPA-direct packet as it lands in a ring at offset 0.
    const memory = new SharedArrayBuffer(8192);
    ControlPage.initialize(memory, 0);
    const ext = new Uint8Array(24);
    encodeGpaDirectHeader([{ byteCount: 0x1000, byteOffset: 0, pfns: [0x12345] }], ext, 0);
    new OutgoingRing(memory).write(9, 1, 1, payload, ext);
    assert.deepEqual(
      new Uint8Array(memory, 4096, 0x70),
      hex(`09 00 05 00 0d 00 01 00 01 00 00 00 00 00 00 00
           00 00 00 00 01 00 00 00 00 10 00 00 00 00 00 00
           45 23 01 00 00 00 00 00 03 00 00 00 01 00 00 00
           00 00 00 00 34 00 00 00 00 00 00 00 0a 14 01 00
           00 10 00 00 28 00 00 00 00 00 00 00 08 00 00 00
           00 00 00 00 00 00 00 00 00 00 ff 20 4a 01 00 00
           3c 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00`),
    );
    // The completions from our VSP (a 10 MiB disk = 20480 blocks).
    const { bus } = await controller({ diskBytes: 10 << 20 });
    const send = await rawClient(bus);
    await rawInit(send);
    const pages = bus.guest.pages.allocate(1);
    const mdl = new MemoryDescriptor(bus.memory, pages, 0, 4096);
    const ok = await send(payload, 64, mdl);
    assert.deepEqual(
      ok.reply,
      hex(`01000000 00000000 00000000 34000100 00000000 10140000 00100000 00000000
           00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000`),
    );
    const beyond = new Uint8Array(64);
    encodeExecuteSrb(
      beyond,
      { lun: 0, cdb: hex('28 00 00005000 00 0008 00'), dataIn: 1, dataTransferLength: 4096 },
      0x0602,
    );
    const bad = await send(beyond, 64, mdl);
    assert.deepEqual(
      bad.reply,
      hex(`01000000 00000000 850100c0 34008602 00000000 10140000 00000000 70000500
           0000000a 00000000 21000000 00000000 00000000 00000000 00000000 00000000`),
    );
    bus.dispose();
  });
});

describe('initialization', () => {
  for (const version of VSTOR_VERSIONS_NEWEST_FIRST) {
    it(`negotiates ${version.toString(16)} with a host that accepts only it, then does I/O`, async () => {
      const { bus, vsp } = await controller({ versions: [version] });
      const vsc = new StorageVsc(bus.guest, { subchannels: 2 });
      assert.equal(await vsc.connect(), version);
      assert.equal(vsp.protocolVersion, version);
      assert.equal(vsc.queueCount, version >= 0x0501 ? 3 : 1, 'sub-channels only from 5.1');
      const data = new Uint8Array(512).fill(version & 255);
      await vsc.write(7, data);
      assert.deepEqual(await vsc.read(7, 1), data);
      await vsc.close();
      bus.dispose();
    });
  }

  it('refuses every version a host does not accept', async () => {
    const { bus } = await controller({ versions: [0x0600] });
    const vsc = new StorageVsc(bus.guest, { versions: [0x0501, 0x0402] });
    await assert.rejects(vsc.connect(), /accepted no protocol version/);
    bus.dispose();
  });
});

describe('data integrity', () => {
  it('writes and reads back random blocks on every queue with many requests in flight', async () => {
    const { bus, disks } = await controller({ diskBytes: 8 << 20, luns: 2 });
    const vsc = new StorageVsc(bus.guest, { subchannels: 3 });
    await vsc.connect();
    assert.equal(vsc.queueCount, 4);
    let seed = 12345;
    const rand = () => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed;
    };
    const written = new Map<string, Uint8Array>();
    for (let round = 0; round < 8; round++) {
      const ops: Promise<void>[] = [];
      for (let i = 0; i < 32; i++) {
        const lun = i % 2;
        const lba = (round * 32 + i) * 16;
        const blocks = 1 + (rand() % 16);
        const data = new Uint8Array(blocks * 512).map(() => rand() & 255);
        written.set(`${lun}:${lba}`, data);
        ops.push(vsc.write(lba, data, lun));
      }
      await Promise.all(ops);
    }
    const checks = [...written].map(async ([key, data]) => {
      const [lun, lba] = key.split(':').map(Number) as [number, number];
      const back = await vsc.read(lba, data.length / 512, lun);
      assert.deepEqual(back, data, `LUN ${lun} LBA ${lba}`);
      assert.deepEqual(
        disks.get(lun)!.backend instanceof MemoryBackend
          ? (disks.get(lun)!.backend as MemoryBackend).bytes.subarray(
              lba * 512,
              lba * 512 + data.length,
            )
          : data,
        data,
      );
    });
    await Promise.all(checks);
    await vsc.flush();
    assert.equal(bus.guest.pages.allocatedPages > 0, true, 'ring pages stay allocated while open');
    await vsc.close();
    assert.equal(bus.guest.pages.allocatedPages, 0, 'every data buffer and ring page was freed');
    bus.dispose();
  });
});

describe('hostile guests (spec vstor.md §8.1)', () => {
  it('answers requests before initialization with INVALID_DEVICE_STATE', async () => {
    const { bus } = await controller();
    const send = await rawClient(bus);
    const srb = new Uint8Array(64);
    encodeExecuteSrb(srb, { lun: 0, cdb: hex('00'), dataIn: 2, dataTransferLength: 0 }, 0x0602);
    assert.deepEqual((await send(srb)).reply.subarray(8, 12), hex('840100c0'));
    const end = new Uint8Array(64);
    encodeVstorRequest(end, VSTOR_OP.END_INITIALIZATION, 0x0602);
    assert.deepEqual((await send(end)).reply.subarray(8, 12), hex('840100c0'));
    bus.dispose();
  });

  it('stops the channel on a short packet or an unknown operation, and logs it', async () => {
    for (const packet of [
      new Uint8Array(8),
      Uint8Array.from([2, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
    ]) {
      const lines: string[] = [];
      const bus = createLocalBus({ log: quiet, memoryPages: 1024 });
      const vsp = new StorageVsp({
        host: bus.host,
        partition: bus.partition,
        disks: new Map([[0, new ScsiDisk(new MemoryBackend(1 << 20))]]),
        log: (l) => lines.push(l),
      });
      vsp.start();
      await bus.guest.connect();
      await bus.guest.requestOffers();
      const send = await rawClient(bus);
      const { status } = await send(packet, packet.length).then(
        (r) => r,
        () => ({ status: -1 }),
      );
      assert.equal(status >>> 0, 0xc0000120, 'no completion: the request times out');
      assert.equal(vsp.stats.fatal, 1);
      assert.equal(lines.length, 1);
      bus.dispose();
    }
  });

  it('answers an absent LUN with INVALID_LUN, a LUN-less INQUIRY with qualifier 3, and never writes outside the request', async () => {
    const { bus, disks } = await controller({ diskBytes: 1 << 20 });
    const vsc = new StorageVsc(bus.guest);
    await vsc.connect();
    const absent = await vsc.scsi(hex('00 00 00 00 00 00'), 2, 0, undefined, 5);
    assert.equal(absent.srbStatus, 0x20);
    const inq = await vsc.scsi(hex('12 00 00 00 24 00'), 1, 36, undefined, 5);
    assert.equal(inq.srbStatus, 1);
    assert.equal(inq.data[0], 0x7f);
    const disk = (disks.get(0)!.backend as MemoryBackend).bytes;
    disk.fill(0xaa);
    await assert.rejects(
      vsc.write(2047, new Uint8Array(1024)),
      (e) => e instanceof StorageError && e.sense?.asc === 0x21,
    );
    assert.ok(
      disk.every((b) => b === 0xaa),
      'a refused write changed the disk',
    );
    // A transfer length beyond the buffer: 8 blocks claimed, 1 page given.
    const lie = await vsc.scsi(hex('2a 00 00000000 00 0010 00'), 0, 4096, new Uint8Array(4096));
    assert.equal(lie.srbStatus & 0x3f, 0x06);
    assert.equal(lie.sense?.[12], 0x21);
    assert.ok(disk.every((b) => b === 0xaa));
    bus.dispose();
  });

  it('stops the channel when data_transfer_length exceeds the external data', async () => {
    const { bus, vsp } = await controller();
    const send = await rawClient(bus);
    await rawInit(send);
    const srb = new Uint8Array(64);
    encodeExecuteSrb(
      srb,
      { lun: 0, cdb: hex('28 00 00000000 00 0010 00'), dataIn: 1, dataTransferLength: 8192 },
      0x0602,
    );
    const pages = bus.guest.pages.allocate(1);
    const { status } = await send(srb, 64, new MemoryDescriptor(bus.memory, pages, 0, 4096));
    assert.equal(status >>> 0, 0xc0000120);
    assert.equal(vsp.stats.fatal, 1);
    assert.equal(vsp.log.counts.get('VSTOR_INVALID_DATA_TRANSFER_LENGTH'), 1);
    bus.dispose();
  });
});
