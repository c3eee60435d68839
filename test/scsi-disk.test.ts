/**
 * The SCSI disk behind the storage VSP, command by command (spec vstor.md
 * §6): capacity, INQUIRY with the VPD pages Linux reads, MODE SENSE, UNMAP,
 * REQUEST SENSE, the error tuples of §6.2, REPORT LUNS through the VSP, and
 * requests completing out of order on an asynchronous backend.
 */

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  type BlockBackend,
  createLocalBus,
  GuestMemory,
  MemoryBackend,
  MemoryDescriptor,
  ScsiDisk,
  StorageVsc,
  StorageVsp,
} from 'vmbus-kmcl';

const hex = (s: string) =>
  Uint8Array.from(s.replace(/\s+/g, '').match(/../g) ?? [], (b) => Number.parseInt(b, 16));
const memory = new GuestMemory(64);
const buffer = (bytes: number) => MemoryDescriptor.contiguous(memory, 4096, bytes);
const out = (n: number) => {
  const b = new Uint8Array(n);
  buffer(n).read(0, b);
  return b;
};

describe('SCSI disk commands', () => {
  const disk = new ScsiDisk(new MemoryBackend(10 << 20));

  it('READ CAPACITY(10) and (16) of a 10 MiB disk', async () => {
    const r10 = await disk.execute(hex('25 00 00000000 0000 00 00'), 1, buffer(8), 8);
    assert.equal(r10.transferred, 8);
    assert.deepEqual(out(8), hex('00004fff 00000200'));
    const r16 = await disk.execute(hex('9e 10 0000000000000000 00000020 00 00'), 1, buffer(32), 32);
    assert.equal(r16.transferred, 32);
    assert.deepEqual(out(16), hex('0000000000004fff 00000200 0000 8000'));
    const short = await disk.execute(hex('25 00 00000000 0000 00 00'), 1, buffer(4), 4);
    assert.equal(short.srbStatus, 0x92, 'DATA_OVERRUN with sense for a buffer below 8 bytes');
  });

  it('INQUIRY: standard data and the VPD pages', async () => {
    const std = await disk.execute(hex('12 00 00 0024 00'), 1, buffer(36), 36);
    assert.equal(std.transferred, 36);
    assert.deepEqual(
      out(36),
      hex('00000502 63000002 4d736674 20202020 56697274 75616c20 4469736b 20202020 312e3020'),
    );
    await disk.execute(hex('12 01 00 00ff 00'), 1, buffer(255), 255);
    assert.deepEqual(out(11), hex('00 00 00 07 00 83 b0 b1 b2 ce cf'));
    const id = await disk.execute(hex('12 01 83 00ff 00'), 1, buffer(255), 255);
    assert.equal(id.transferred, 4 + 0x30);
    assert.deepEqual(out(12).subarray(0, 8), hex('00 83 00 30 01 01 00 18'));
    await disk.execute(hex('12 01 b2 00ff 00'), 1, buffer(255), 255);
    assert.deepEqual(out(8), hex('00 b2 00 04 01 80 02 00'));
    const bad = await disk.execute(hex('12 01 99 00ff 00'), 1, buffer(255), 255);
    assert.equal(bad.srbStatus, 0x86);
    assert.deepEqual(
      bad.sense?.subarray(12, 14),
      hex('2400'),
      'an unsupported VPD page is an invalid field',
    );
  });

  it('MODE SENSE(6) of the caching page', async () => {
    const r = await disk.execute(hex('1a 00 08 00 ff 00'), 1, buffer(255), 255);
    assert.equal(r.transferred, 16);
    assert.deepEqual(out(16), hex('0f 00 10 00 08 0a 04 00 00 00 00 00 00 00 00 00'));
    assert.equal(
      (await disk.execute(hex('1a 00 c8 00 ff 00'), 1, buffer(255), 255)).srbStatus,
      0x86,
      'saved values are not supported',
    );
  });

  it('UNMAP zeroes the ranges; a range past the end is LBA OUT OF RANGE', async () => {
    const backend = new MemoryBackend(1 << 20);
    backend.bytes.fill(0x55);
    const d = new ScsiDisk(backend);
    const list = hex('0016 0010 00000000 0000000000000004 00000002 00000000');
    buffer(24).write(0, list);
    const r = await d.execute(hex('42 00 00000000 00 0018 00'), 0, buffer(24), 24);
    assert.equal(r.srbStatus, 1);
    assert.ok(backend.bytes.subarray(4 * 512, 6 * 512).every((b) => b === 0));
    assert.equal(backend.bytes[3 * 512], 0x55);
    buffer(24).write(0, hex('0016 0010 00000000 00000000000007ff 00000002 00000000'));
    const past = await d.execute(hex('42 00 00000000 00 0018 00'), 0, buffer(24), 24);
    assert.equal(past.sense?.[12], 0x21);
  });

  it('reports errors with the sense of spec §6.2 and remembers it for REQUEST SENSE', async () => {
    const unknown = await disk.execute(hex('ff'), 2, null, 0);
    assert.deepEqual([unknown.srbStatus, unknown.scsiStatus], [0x86, 0x02]);
    assert.deepEqual(unknown.sense, hex('70 00 05 00 00 00 00 0a 00 00 00 00 20 00 00 00 00 00'));
    const sense = await disk.execute(hex('03 00 00 00 12 00'), 1, buffer(18), 18);
    assert.equal(sense.transferred, 18);
    assert.deepEqual(out(18).subarray(12, 14), hex('2000'));
    const readOnly = new ScsiDisk(new MemoryBackend(1 << 20, 512, true));
    const w = await readOnly.execute(hex('2a 00 00000000 00 0001 00'), 0, buffer(512), 512);
    assert.deepEqual(
      [w.srbStatus, w.sense?.[2], w.sense?.[12]],
      [0x84, 7, 0x27],
      'DATA PROTECT / WRITE PROTECTED',
    );
    const wrongDirection = await disk.execute(
      hex('28 00 00000000 00 0001 00'),
      0,
      buffer(512),
      512,
    );
    assert.equal(wrongDirection.sense?.[12], 0x24);
  });
});

describe('WRITE SAME, VERIFY, MODE SELECT, SEND DIAGNOSTIC, reservations (spec §6.3)', () => {
  it('WRITE SAME(10) and (16) copy the first block to every block of the range', async () => {
    const backend = new MemoryBackend(1 << 20);
    const d = new ScsiDisk(backend);
    const block = Uint8Array.from({ length: 512 }, (_, i) => (i * 7 + 1) & 255);
    buffer(512).write(0, block);
    const ten = await d.execute(hex('41 00 00000010 00 0003 00'), 0, buffer(512), 512);
    assert.deepEqual([ten.srbStatus, ten.scsiStatus], [1, 0]);
    for (let b = 16; b < 19; b++)
      assert.deepEqual(backend.bytes.subarray(b * 512, b * 512 + 512), block, `block ${b}`);
    assert.equal(backend.bytes[15 * 512], 0, 'the block before is untouched');
    assert.equal(backend.bytes[19 * 512], 0, 'the block after is untouched');
    buffer(512).write(0, new Uint8Array(512).fill(0xaa));
    const sixteen = await d.execute(
      hex('93 00 0000000000000700 00000100 00 00'),
      0,
      buffer(512),
      512,
    );
    assert.equal(sixteen.srbStatus, 1);
    assert.ok(backend.bytes.subarray(0x700 * 512, 0x800 * 512).every((b) => b === 0xaa));
  });

  it('WRITE SAME refuses a range past the end, zero or over 8 MiB, a short buffer, a read-only disk', async () => {
    const backend = new MemoryBackend(1 << 20);
    const d = new ScsiDisk(backend);
    const asc = async (cdb: string, bytes = 512, disk = d) =>
      (await disk.execute(hex(cdb), 0, buffer(Math.max(bytes, 1)), bytes)).sense?.[12];
    assert.equal(await asc('41 00 000007ff 00 0002 00'), 0x21, 'past the end');
    assert.equal(await asc('41 00 00000000 00 0000 00'), 0x21, 'zero blocks');
    const big = new ScsiDisk(new MemoryBackend(16 << 20));
    assert.equal(await asc('93 00 0000000000000000 00004001 00 00', 512, big), 0x21, '> 8 MiB');
    assert.equal(await asc('41 00 00000000 00 0001 00', 100), 0x24, 'buffer under a block');
    const readOnly = new ScsiDisk(new MemoryBackend(1 << 20, 512, true));
    const r = await readOnly.execute(hex('41 00 00000000 00 0001 00'), 0, buffer(512), 512);
    assert.deepEqual([r.sense?.[2], r.sense?.[12]], [7, 0x27]);
    assert.ok(
      backend.bytes.every((b) => b === 0),
      'nothing was written by a refused command',
    );
  });

  it('VERIFY and WRITE AND VERIFY are range-checked only', async () => {
    const backend = new MemoryBackend(1 << 20);
    backend.bytes.fill(0x33);
    const d = new ScsiDisk(backend);
    for (const cdb of [
      '2f 00 00000000 00 0010 00',
      '2e 00 00000000 00 0010 00',
      'af 00 00000000 00000010 00 00',
      '8f 00 0000000000000000 00000010 00 00',
    ]) {
      const r = await d.execute(hex(cdb), 2, null, 0);
      assert.deepEqual([r.srbStatus, r.transferred], [1, 0], cdb);
    }
    assert.equal((await d.execute(hex('2f 00 000007ff 00 0002 00'), 2, null, 0)).sense?.[12], 0x21);
    assert.equal((await d.execute(hex('2f 01 00000000 00 0001 00'), 2, null, 0)).sense?.[12], 0x24);
    assert.ok(backend.bytes.every((b) => b === 0x33));
  });

  it('MODE SELECT accepts only the caching page with the current WCE', async () => {
    const d = new ScsiDisk(new MemoryBackend(1 << 20));
    buffer(16).write(0, hex('00 00 00 00 08 0a 04 00 00 00 00 00 00 00 00 00'));
    assert.equal((await d.execute(hex('15 10 00 00 10 00'), 0, buffer(16), 16)).srbStatus, 1);
    buffer(16).write(0, hex('00 00 00 00 08 0a 00 00 00 00 00 00 00 00 00 00'));
    const wce = await d.execute(hex('15 10 00 00 10 00'), 0, buffer(16), 16);
    assert.equal(wce.sense?.[12], 0x26, 'turning the write cache off is refused');
    buffer(16).write(0, hex('00 00 00 00 1c 0a 04 00 00 00 00 00 00 00 00 00'));
    assert.equal((await d.execute(hex('15 10 00 00 10 00'), 0, buffer(16), 16)).sense?.[12], 0x26);
    assert.equal((await d.execute(hex('15 11 00 00 10 00'), 0, buffer(16), 16)).sense?.[12], 0x24);
    assert.equal((await d.execute(hex('15 10 00 00 10 00'), 0, buffer(16), 8)).sense?.[12], 0x1a);
    buffer(12).write(0, hex('0000 0000 0000 0000 08 0a 04 00'));
    const ten = await d.execute(hex('55 10 00 00 00 00 00 000c 00'), 0, buffer(12), 12);
    assert.equal(ten.srbStatus, 1);
  });

  it('SEND DIAGNOSTIC: only the default self-test; PERSISTENT RESERVE: not supported', async () => {
    const d = new ScsiDisk(new MemoryBackend(1 << 20));
    assert.equal((await d.execute(hex('1d 04 00 0000 00'), 2, null, 0)).srbStatus, 1);
    assert.equal((await d.execute(hex('1d 14 00 0000 00'), 2, null, 0)).sense?.[12], 0x24);
    assert.equal((await d.execute(hex('1d 04 00 0010 00'), 2, null, 0)).sense?.[12], 0x24);
    const prIn = await d.execute(hex('5e 00 00 00 00 00 00 0100 00'), 1, buffer(256), 256);
    assert.deepEqual([prIn.sense?.[2], prIn.sense?.[12]], [5, 0x20]);
    const prOut = await d.execute(hex('5f 00 00 00 00 00000018 00'), 0, buffer(24), 24);
    assert.deepEqual([prOut.sense?.[2], prOut.sense?.[12]], [5, 0x20]);
  });
});

describe('the VSP around the disk', () => {
  it('answers REPORT LUNS for the attached LUNs', async () => {
    const bus = createLocalBus({ log: () => {} });
    const disks = new Map([
      [0, new ScsiDisk(new MemoryBackend(1 << 20))],
      [1, new ScsiDisk(new MemoryBackend(1 << 20))],
    ]);
    new StorageVsp({ host: bus.host, partition: bus.partition, disks, log: () => {} }).start();
    await bus.guest.connect();
    await bus.guest.requestOffers();
    const vsc = new StorageVsc(bus.guest);
    await vsc.connect();
    const r = await vsc.scsi(hex('a0 00 00 00 00 00 00000000 00 00'), 1, 2048);
    assert.equal(r.transferred, 24);
    assert.deepEqual(r.data, hex('00000010 00000000 0000000000000000 0001000000000000'));
    await vsc.close();
    bus.dispose();
  });

  it('hot add and remove: ENUMERATE_BUS on the primary channel, the guest rescans (spec §7.1)', async () => {
    const bus = createLocalBus({ log: () => {} });
    const vsp = new StorageVsp({
      host: bus.host,
      partition: bus.partition,
      disks: new Map([[0, new ScsiDisk(new MemoryBackend(1 << 20))]]),
      log: () => {},
    });
    // Before the guest initializes, a change waits for END_INITIALIZATION.
    vsp.attachDisk(3, new ScsiDisk(new MemoryBackend(1 << 20)));
    vsp.start();
    await bus.guest.connect();
    await bus.guest.requestOffers();
    let changed: () => void = () => {};
    const vsc = new StorageVsc(bus.guest, { onBusChanged: () => changed() });
    const first = new Promise<void>((resolve) => {
      changed = resolve;
    });
    await vsc.connect();
    await first;
    assert.equal(vsc.busChanges, 1);
    assert.deepEqual(await vsc.reportLuns(), [0, 3]);
    const second = new Promise<void>((resolve) => {
      changed = resolve;
    });
    assert.equal(vsp.removeDisk(3), true);
    await second;
    assert.deepEqual(await vsc.reportLuns(), [0]);
    const gone = await vsc.scsi(hex('00 00 00 00 00 00'), 2, 0, undefined, 3);
    assert.equal(gone.srbStatus & 0x3f, 0x20, 'INVALID_LUN after removal');
    assert.equal(vsp.removeDisk(3), false, 'removing an absent LUN changes nothing');
    assert.equal(vsp.stats.busNotifications, 2);
    assert.equal(vsc.busChanges, 2);
    assert.throws(() => vsp.attachDisk(256, new ScsiDisk(new MemoryBackend(4096))), RangeError);
    await vsc.close();
    bus.dispose();
  });

  it('sends no ENUMERATE_BUS below protocol 4.2', async () => {
    const bus = createLocalBus({ log: () => {} });
    const vsp = new StorageVsp({
      host: bus.host,
      partition: bus.partition,
      disks: new Map([[0, new ScsiDisk(new MemoryBackend(1 << 20))]]),
      versions: [0x0200],
      log: () => {},
    });
    vsp.start();
    await bus.guest.connect();
    await bus.guest.requestOffers();
    const vsc = new StorageVsc(bus.guest);
    await vsc.connect();
    vsp.attachDisk(1, new ScsiDisk(new MemoryBackend(1 << 20)));
    assert.deepEqual(await vsc.reportLuns(), [0, 1], 'the LUN is there all the same');
    assert.equal(vsp.stats.busNotifications, 0);
    assert.equal(vsc.busChanges, 0);
    await vsc.close();
    bus.dispose();
  });

  it('completes requests out of order when the backend answers out of order', async () => {
    const inner = new MemoryBackend(1 << 20);
    const slow: BlockBackend = {
      blockSize: 512,
      blockCount: inner.blockCount,
      readOnly: false,
      // Low LBAs take longer: a later request can finish first.
      read: (lba, dst) =>
        new Promise((resolve) => setTimeout(() => resolve(inner.read(lba, dst)), lba < 8 ? 30 : 1)),
      write: (lba, src) => inner.write(lba, src),
      flush: () => {},
    };
    const bus = createLocalBus({ log: () => {} });
    new StorageVsp({
      host: bus.host,
      partition: bus.partition,
      disks: new Map([[0, new ScsiDisk(slow)]]),
      log: () => {},
    }).start();
    await bus.guest.connect();
    await bus.guest.requestOffers();
    const vsc = new StorageVsc(bus.guest);
    await vsc.connect();
    const order: number[] = [];
    await Promise.all([
      vsc.read(0, 1).then(() => order.push(0)),
      vsc.read(100, 1).then(() => order.push(100)),
    ]);
    assert.deepEqual(order, [100, 0], 'the second request completed first');
    await vsc.close();
    bus.dispose();
  });
});
