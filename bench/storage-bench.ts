/**
 * Storage benchmarks: 4 KiB random reads and writes (IOPS) and 1 MiB
 * sequential reads (MB/s) through the storage VSC and VSP on a disk image
 * file, beside the same I/O done directly on the file in the same run.
 */

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLocalBus } from '../src/bus/local-bus.js';
import { ScsiDisk } from '../src/devices/storage/scsi-disk.js';
import { StorageVsc } from '../src/devices/storage/storage-vsc.js';
import { StorageVsp } from '../src/devices/storage/storage-vsp.js';
import { FileBackend } from '../src/node/file-backend.js';
import { type BenchOptions, measure, nowNs, type Result, summarize } from './harness.js';

const DISK = 64 << 20;
const DEPTH = 16;

type Op = (i: number) => Promise<unknown>;

async function timed(op: Op, n: number): Promise<number> {
  const t0 = nowNs();
  let next = 0;
  await Promise.all(
    Array.from({ length: DEPTH }, async () => {
      while (next < n) await op(next++);
    }),
  );
  return (nowNs() - t0) / 1e9;
}

/**
 * Runs the storage cases that `want` accepts.
 *
 * @param want - filter
 * @param opts - options
 * @param report - receives each result
 */
export async function runStorageBench(
  want: (name: string) => boolean,
  opts: BenchOptions,
  report: (r: Result) => void,
): Promise<void> {
  const cases = [
    'storage/4KiB-random-read',
    'storage/4KiB-random-write',
    'storage/1MiB-sequential-read',
  ];
  if (!cases.some(want)) return;
  const dir = mkdtempSync(join(tmpdir(), 'vmbus-bench-'));
  const image = join(dir, 'disk.img');
  const direct = await FileBackend.open(image, { create: DISK });
  const served = await FileBackend.open(image);
  const bus = createLocalBus({ log: () => {}, memoryPages: 8192 });
  new StorageVsp({
    host: bus.host,
    partition: bus.partition,
    disks: new Map([[0, new ScsiDisk(served)]]),
    log: () => {},
  }).start();
  await bus.guest.connect();
  await bus.guest.requestOffers();
  const vsc = new StorageVsc(bus.guest, { subchannels: 2 });
  await vsc.connect();
  const blocks = DISK / 4096;
  let seed = 1;
  const lba = () => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return (seed % blocks) * 8;
  };
  const page = new Uint8Array(4096).fill(0x42);
  const mib = new Uint8Array(1 << 20);
  const pairs: [string, number, Op, Op][] = [
    [
      'storage/4KiB-random-read',
      4096,
      () => vsc.read(lba(), 8),
      () => direct.read(lba(), new Uint8Array(4096)),
    ],
    [
      'storage/4KiB-random-write',
      4096,
      () => vsc.write(lba(), page),
      () => direct.write(lba(), page),
    ],
    [
      'storage/1MiB-sequential-read',
      1 << 20,
      (i) => vsc.read(((i * 2048) % (DISK / 512 - 2048)) | 0, 2048),
      (i) => direct.read(((i * 2048) % (DISK / 512 - 2048)) | 0, mib),
    ],
  ];
  try {
    for (const [name, bytes, viaBus, onFile] of pairs) {
      if (!want(name)) continue;
      const base = summarize(
        `${name}/direct-file`,
        await measure((n) => timed(onFile, n), 64, opts),
        bytes,
      );
      const real = summarize(name, await measure((n) => timed(viaBus, n), 64, opts), bytes);
      report(base);
      report({ ...real, baseline: base.case, ratio: real.packetsPerSec / base.packetsPerSec });
    }
  } finally {
    await vsc.close();
    bus.dispose();
    await direct.close();
    await served.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
