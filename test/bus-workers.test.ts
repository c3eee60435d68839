/**
 * The bus with the guest partition in a worker: 64 channels with rings of
 * different sizes carrying 100,000 checked packets each way on each, then
 * closed with every GPADL torn down and no page left allocated; the
 * sequences across the thread boundary; and a guest worker terminated in
 * the middle of a transfer.
 */

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ChannelClosedError, type HostChannel, VMBUS_VERSION, VmbusHost } from 'vmbus-kmcl';
import { startGuestWorker } from 'vmbus-kmcl/node';
import { receiveStream, sendStream } from './traffic.js';

const TYPE = 'f8615163-df3e-46c5-913f-f2d2f965ed0e';
const WORKER = new URL('./bus-guest-worker.js', import.meta.url);
const PACKETS = Number(process.env.VMBUS_BUS_PACKETS ?? 100_000);

function nextMessage(
  worker: import('node:worker_threads').Worker,
  kind: string,
): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const on = (m: Record<string, unknown>) => {
      if (m.kind === 'error') {
        worker.off('message', on);
        reject(new Error(String(m.message)));
      } else if (m.kind === kind) {
        worker.off('message', on);
        resolve(m);
      }
    };
    worker.on('message', on);
  });
}

function offerAll(
  host: VmbusHost,
  partition: ReturnType<typeof startGuestWorker>['partition'],
  n: number,
): HostChannel[] {
  const opened: HostChannel[] = [];
  for (let i = 0; i < n; i++) {
    host.offer(partition, {
      interfaceType: TYPE,
      interfaceInstance: `00000000-0000-0000-0000-${(i + 1).toString(16).padStart(12, '0')}`,
      onOpened: (c) => opened.push(c),
    });
  }
  return opened;
}

describe('guest partition in a worker', () => {
  it(`64 channels, ${PACKETS} packets each way on each, then closed leaving nothing allocated`, {
    timeout: 600_000,
  }, async () => {
    const host = new VmbusHost({ log: () => {} });
    const g = startGuestWorker(host, WORKER, {
      memoryPages: 8192,
      data: { scenario: 'stream', packets: PACKETS, ringPages: [2, 3, 4, 8, 16, 33] },
    });
    const opened = offerAll(host, g.partition, 64);
    const open = await nextMessage(g.worker, 'open');
    assert.equal(open.channels, 64);
    assert.equal(opened.length, 64);
    assert.equal(g.partition.gpadlCount, 64);
    const sizes = new Set(opened.map((c) => c.request.upstreamPages));
    assert.ok(sizes.size >= 5, 'rings of different sizes');
    const received = opened.map((c) => receiveStream(c.pipe, PACKETS));
    await Promise.all(opened.map((c) => sendStream(c.pipe, PACKETS)));
    assert.deepEqual(
      await Promise.all(received),
      opened.map(() => PACKETS),
    );
    const guestSide = await nextMessage(g.worker, 'received');
    assert.deepEqual(
      guestSide.counts,
      opened.map(() => PACKETS),
    );
    g.worker.postMessage('close');
    const closed = await nextMessage(g.worker, 'closed');
    assert.equal(closed.pages, 0, 'guest pages left allocated');
    assert.equal(g.partition.gpadlCount, 0, 'GPADLs left on the host');
    assert.ok(opened.every((c) => !c.pipe.isOpen));
    const interrupts = opened.reduce((n, c) => n + c.pipe.stats.interruptsSent, 0);
    const suppressed = opened.reduce((n, c) => n + c.pipe.stats.interruptsSuppressed, 0);
    assert.ok(interrupts < suppressed, `interrupts sent ${interrupts}, suppressed ${suppressed}`);
    await g.terminate();
  });

  it('runs the version, offer, open, close and unload sequences across the thread boundary', {
    timeout: 60_000,
  }, async () => {
    const host = new VmbusHost({
      log: () => {},
      versions: [VMBUS_VERSION.WIN10_V5_2, VMBUS_VERSION.WIN8],
    });
    const g = startGuestWorker(host, WORKER, {
      memoryPages: 512,
      data: { scenario: 'sequences', packets: 0, ringPages: [2, 5] },
    });
    const closedReasons: string[] = [];
    for (let i = 0; i < 3; i++) {
      host.offer(g.partition, {
        interfaceType: TYPE,
        interfaceInstance: `00000000-0000-0000-0000-00000000000${i + 1}`,
        subchannelIndex: i,
        onClosed: (r) => closedReasons.push(r),
      });
    }
    const open = await nextMessage(g.worker, 'open');
    assert.equal(open.version, VMBUS_VERSION.WIN10_V5_2);
    assert.equal(open.channels, 3);
    const done = await nextMessage(g.worker, 'unloaded');
    assert.deepEqual(done, { kind: 'unloaded', pages: 0, offers: 0 });
    assert.deepEqual(closedReasons, ['closed', 'closed', 'closed']);
    assert.equal(g.partition.gpadlCount, 0);
    assert.equal(await g.exited, 0);
    assert.equal(host.partitions.size, 0, 'the partition detached when the guest left');
  });

  it('rescinds a busy channel across the thread boundary: both ends close, sends fail, the id is released', {
    timeout: 60_000,
  }, async () => {
    const host = new VmbusHost({ log: () => {} });
    const g = startGuestWorker(host, WORKER, {
      memoryPages: 512,
      data: { scenario: 'echo', packets: 0, ringPages: [2] },
    });
    const opened = offerAll(host, g.partition, 2);
    await nextMessage(g.worker, 'open');
    const [victim, other] = opened as [HostChannel, HostChannel];
    let released = false;
    victim.offer.options.onReleased = () => {
      released = true;
    };
    let echoed = 0;
    victim.pipe.onPacket = () => echoed++;
    const sender = (async () => {
      const payload = new Uint8Array(1500);
      for (let i = 0; ; i++) await victim.pipe.sendAsync(6, 1, i, 0, payload);
    })();
    while (echoed < 50) await new Promise((r) => setTimeout(r, 1));
    victim.offer.rescind();
    await assert.rejects(
      sender,
      (e) => e instanceof ChannelClosedError && e.closeReason === 'rescinded',
    );
    const end = Date.now() + 5000;
    while (!released && Date.now() < end) await new Promise((r) => setTimeout(r, 1));
    assert.equal(released, true, 'RELID_RELEASED arrived');
    assert.equal(g.partition.offers.has(victim.offer.relid), false);
    assert.equal(g.partition.gpadlCount, 1, 'only the other channel keeps its ring GPADL');
    // The other channel still works.
    const back = new Promise<number>((resolve) => {
      other.pipe.onPacket = (p) => resolve(p.transactionIdLow);
    });
    other.pipe.send(6, 1, 77, 0, new Uint8Array(8));
    assert.equal(await back, 77);
    await g.terminate();
  });

  it('a guest worker terminated mid-transfer leaves the host closed, woken and clean', {
    timeout: 60_000,
  }, async () => {
    const host = new VmbusHost({ log: () => {} });
    const g = startGuestWorker(host, WORKER, {
      memoryPages: 512,
      data: { scenario: 'echo', packets: 0, ringPages: [2] },
    });
    const opened = offerAll(host, g.partition, 4);
    await nextMessage(g.worker, 'open');
    const reasons: string[] = [];
    for (const c of opened) c.pipe.onClose = (r) => reasons.push(r);
    let echoed = 0;
    for (const c of opened) c.pipe.onPacket = () => echoed++;
    // Keep every channel busy, then kill the guest while sends wait for space.
    const senders = opened.map(async (c) => {
      const payload = new Uint8Array(1500);
      for (let i = 0; ; i++) await c.pipe.sendAsync(6, 1, i, 0, payload);
    });
    while (echoed < 100) await new Promise((r) => setTimeout(r, 1));
    const code = await g.terminate();
    assert.notEqual(code, 0);
    const results = await Promise.allSettled(senders);
    for (const r of results) {
      assert.equal(r.status, 'rejected');
      assert.ok(
        r.status === 'rejected' &&
          r.reason instanceof ChannelClosedError &&
          r.reason.closeReason === 'peer-gone',
      );
    }
    assert.deepEqual(reasons, ['peer-gone', 'peer-gone', 'peer-gone', 'peer-gone']);
    assert.equal(host.partitions.size, 0);
    assert.equal(g.partition.detached, true);
    assert.equal(g.partition.gpadlCount, 0);
  });
});
