/**
 * The synthetic NIC across threads (issue 7): two guests, each in its own
 * worker with its own partition, exchange frames through NetVsps plugged
 * into one virtual switch on the host thread: an ARP-style request and
 * reply, then a bulk stream both ways of frames of pseudo-random sizes.
 * None may be lost, duplicated, reordered or corrupted, and every receive
 * slot must come back.
 */

import assert from 'node:assert/strict';
import { it } from 'node:test';
import { NetVsp, VirtualSwitch, VmbusHost } from 'vmbus-kmcl';
import { startGuestWorker } from 'vmbus-kmcl/node';

const FRAMES = Number(process.env.VMBUS_NET_FRAMES ?? 50_000);

type Done = { done: true; sent: number; received: number; errors: number };

it(`two guests in workers exchange ${2 * FRAMES} frames through the switch`, {
  timeout: 180_000,
}, async () => {
  const host = new VmbusHost({ log: () => {} });
  const sw = new VirtualSwitch();
  const guests = [1, 2].map((n) => {
    const g = startGuestWorker(host, new URL('./net-guest-worker.js', import.meta.url), {
      memoryPages: 2048,
      data: { seed: n, peerSeed: 3 - n },
    });
    const vsp = new NetVsp({
      host,
      partition: g.partition,
      mac: `00:15:5d:00:00:0${n}`,
      switch: sw,
      log: () => {},
    });
    vsp.start();
    return { g, vsp };
  });
  const next = <T>(i: number) =>
    new Promise<T>((resolve, reject) => {
      guests[i]!.g.worker.once('message', resolve);
      guests[i]!.g.worker.once('error', reject);
    });
  const ready = await Promise.all([next<{ mac: string }>(0), next<{ mac: string }>(1)]);
  assert.deepEqual(
    ready.map((r) => r.mac),
    ['00:15:5d:00:00:01', '00:15:5d:00:00:02'],
  );
  const doneB = next<Done>(1);
  guests[1]!.g.worker.postMessage({ cmd: 'run', count: FRAMES, ask: false });
  const arp = next<{ arp: true }>(0);
  guests[0]!.g.worker.postMessage({ cmd: 'run', count: FRAMES, ask: true });
  assert.deepEqual(await arp, { arp: true });
  const doneA = next<Done>(0);
  const [a, b] = await Promise.all([doneA, doneB]);
  for (const r of [a, b]) {
    assert.equal(r.errors, 0, 'no frame lost, duplicated, reordered or corrupted');
    assert.equal(r.received, FRAMES);
    assert.ok(r.sent >= FRAMES + 1); // the bulk stream plus the ARP frame
  }
  // Both MACs were learned; the ARP request was the only flood after learning.
  assert.equal(sw.stats.droppedPortFull + sw.stats.droppedNoRoute + sw.stats.droppedRunt, 0);
  assert.ok(sw.stats.learned >= 2);
  for (const { vsp } of guests) {
    assert.equal(vsp.stats.framesDropped, 0);
    assert.equal(vsp.queuedFrames, 0);
    assert.equal(vsp.log.total, 0);
  }
  // Every receive slot comes back once the guests' completions are in.
  for (let i = 0; i < 100 && guests.some(({ vsp }) => vsp.slotsInUse > 0); i++)
    await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(
    guests.map(({ vsp }) => vsp.slotsInUse),
    [0, 0],
  );
  for (let i = 0; i < 2; i++) {
    const closed = next<{ closed: true; pages: number }>(i);
    guests[i]!.g.worker.postMessage({ cmd: 'close' });
    assert.equal((await closed).pages, 0, 'the guest got every page back');
  }
  for (const { g, vsp } of guests) {
    await vsp.stop();
    await g.terminate();
  }
});
