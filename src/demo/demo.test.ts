/**
 * The demo layer's own pieces and the bus hooks the page uses: the
 * workload throttle, a dropped interrupt stalling a reader until one is
 * raised, a channel's GPADL list, and a ring view that copies a busy ring
 * without calling it damaged.
 */

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { connectedChannels } from '../bus/local-bus.js';
import { viewRing } from './ring-view.js';
import { Throttle } from './throttle.js';

const tick = (ms = 2) => new Promise((r) => setTimeout(r, ms));

describe('Throttle', () => {
  it('lets everything through without a limit, about the limit with one, nothing when held', async () => {
    const t = new Throttle();
    const t0 = performance.now();
    for (let i = 0; i < 1000; i++) await t.take();
    assert.ok(performance.now() - t0 < 200, 'no limit: no waiting');
    t.setLimit(200);
    const t1 = performance.now();
    for (let i = 0; i < 40; i++) await t.take();
    const seconds = (performance.now() - t1) / 1000;
    // 40 operations at 200/s: about 0.2 s (a burst of at most 50 ms of operations first).
    assert.ok(seconds > 0.1 && seconds < 0.6, `${seconds} s for 40 operations at 200/s`);
    t.setLimit(0);
    let passed = false;
    void t.take().then(() => {
      passed = true;
    });
    await tick(150);
    assert.equal(passed, false, 'held');
    t.setLimit(Number.POSITIVE_INFINITY);
    await tick(150);
    assert.equal(passed, true, 'released');
  });
});

describe('interrupt drops', () => {
  it('a dropped interrupt leaves the reader stalled until one is raised', async () => {
    const { host, guest, dispose } = await connectedChannels({ ringPages: 4 });
    try {
      const got: number[] = [];
      guest.onPacket = (p) => {
        got.push(p.transactionIdLow);
      };
      host.dropInterrupts(1);
      assert.equal(host.interruptsToDrop, 1);
      assert.ok(host.send(6, 0, 1, 0, new Uint8Array(8)));
      assert.ok(host.send(6, 0, 2, 0, new Uint8Array(8)));
      await tick(30);
      assert.deepEqual(got, [], 'nothing read: the interrupt was lost');
      assert.equal(host.stats.interruptsDropped, 1);
      assert.equal(host.interruptsToDrop, 0);
      host.notifyPeer();
      await tick(30);
      assert.deepEqual(got, [1, 2], 'read once an interrupt came');
    } finally {
      dispose();
    }
  });
});

describe('GPADL lists and ring views', () => {
  it('lists a channel’s ring GPADL and views a ring with packets in it', async () => {
    const { bus, host, guest, dispose } = await connectedChannels({ ringPages: 4 });
    try {
      const list = bus.partition.gpadlsOf(host.relid);
      assert.equal(list.length, 1);
      assert.equal(list[0]!.rings, true);
      assert.equal(list[0]!.pages, 8, 'both rings, 4 pages each');
      assert.equal(list[0]!.ready, true);
      assert.deepEqual(bus.partition.gpadlsOf(999), []);
      // Packets the guest wrote and the host has not read: outline and full views agree.
      host.onPacket = null;
      host.onSignal = () => {};
      for (let i = 0; i < 3; i++) assert.ok(guest.send(6, 0, 10 + i, 0, Uint8Array.of(i, i, i)));
      const outline = viewRing(host.incoming.memory, 128, 'outline');
      const full = viewRing(host.incoming.memory, 128, 'full');
      assert.equal(outline.packets.length, 3);
      assert.deepEqual(
        outline.packets.map((p) => p.offset),
        full.packets.map((p) => p.offset),
      );
      assert.equal(outline.packets[0]!.payload, undefined, 'an outline formats no payload');
      assert.match(full.packets[2]!.payload ?? '', /^020202/);
      assert.equal(full.error, undefined);
      // A damaged write index is reported with its typed code.
      host.incoming.memory.control.writeIndex = host.incoming.memory.dataSize + 8;
      assert.equal(viewRing(host.incoming.memory).error?.code, 'VMBUS_RING_BAD_WRITE_INDEX');
    } finally {
      dispose();
    }
  });
});
