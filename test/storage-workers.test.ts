/**
 * The storage device with the guest partition in a worker: random blocks
 * written and read back over four queues, checked in the guest and against
 * the disk on the host side.
 */

import assert from 'node:assert/strict';
import { it } from 'node:test';
import { MemoryBackend, ScsiDisk, StorageVsp, VmbusHost } from 'vmbus-kmcl';
import { startGuestWorker } from 'vmbus-kmcl/node';

it('keeps data intact with the guest in a worker, over every queue', {
  timeout: 120_000,
}, async () => {
  const host = new VmbusHost({ log: () => {} });
  const g = startGuestWorker(host, new URL('./storage-guest-worker.js', import.meta.url), {
    memoryPages: 4096,
  });
  const backend = new MemoryBackend(16 << 20);
  const vsp = new StorageVsp({
    host,
    partition: g.partition,
    disks: new Map([[0, new ScsiDisk(backend)]]),
    log: () => {},
  });
  vsp.start();
  const result = await new Promise<{ written: number; bad: number; queues: number; pages: number }>(
    (resolve, reject) => {
      g.worker.once('message', resolve);
      g.worker.once('error', reject);
    },
  );
  assert.equal(result.queues, 4);
  assert.equal(result.written, 512);
  assert.equal(result.bad, 0);
  assert.equal(result.pages, 0, 'the guest freed every page');
  assert.ok(vsp.stats.bytesWritten > 0 && vsp.stats.bytesRead === vsp.stats.bytesWritten);
  assert.equal(vsp.stats.fatal, 0);
  assert.equal(await g.exited, 0);
});
