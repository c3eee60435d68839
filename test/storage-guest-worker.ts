/**
 * The guest of the cross-worker storage test: connects the storage VSC with
 * sub-channels, writes random blocks across every queue, reads them back
 * and reports what it found.
 */

import { parentPort } from 'node:worker_threads';
import { StorageVsc } from 'vmbus-kmcl';
import { guestFromWorkerData } from 'vmbus-kmcl/node';

const { guest, shutdown } = guestFromWorkerData({ log: () => {} });
await guest.connect();
await guest.requestOffers();
const vsc = new StorageVsc(guest, { subchannels: 3 });
await vsc.connect();
let seed = 777;
const rand = () => {
  seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
  return seed;
};
const written: [number, Uint8Array][] = [];
for (let round = 0; round < 16; round++) {
  const batch: Promise<void>[] = [];
  for (let i = 0; i < 32; i++) {
    const lba = (round * 32 + i) * 32;
    const data = new Uint8Array((1 + (rand() % 32)) * 512).map(() => rand() & 255);
    written.push([lba, data]);
    batch.push(vsc.write(lba, data));
  }
  await Promise.all(batch);
}
let bad = 0;
await Promise.all(
  written.map(async ([lba, data]) => {
    const back = await vsc.read(lba, data.length / 512);
    if (back.some((b, i) => b !== data[i])) bad++;
  }),
);
const queues = vsc.queueCount;
await vsc.close();
parentPort!.postMessage({
  written: written.length,
  bad,
  queues,
  pages: guest.pages.allocatedPages,
});
shutdown();
