/**
 * Polling instead of interrupts while a pump spins (PipePoller): a drained
 * reader parks its ring with the interrupt mask set while its pump spins,
 * and before the pump sleeps every parked ring is unmasked again, so a
 * packet sent after a quiet spell still arrives (here in one thread; the
 * cross-worker case, where the polls find packets, is in kmcl-e2e.test.ts).
 */

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  connectedChannels,
  createKmclPair,
  EventWord,
  type LinkEndpoint,
  LinkPump,
  type LinkTarget,
  PipePoller,
  VMBUS_CHANNEL_FORMAT_FLAG_WAIT_FOR_COMPLETION,
  VmbPacketAllocate,
  VmbPacketSend,
  VmbPacketSetCompletionRoutine,
} from 'vmbus-kmcl';
import { tick, until } from './wait.js';

describe('PipePoller', () => {
  it('parks only while a pump is active, and quiesce unparks', () => {
    const poller = new PipePoller();
    assert.equal(poller.active, false);
    assert.equal(poller.quiesce(), false);
    assert.equal(poller.poll(), false);
  });

  it('channel pipes: bursts through spinning pumps arrive in order, and a late packet after a quiet spell', async () => {
    const { host, guest, bus, dispose } = await connectedChannels({ ringPages: 16, spin: 2000 });
    try {
      const seen: number[] = [];
      host.onPacket = (p) => {
        seen.push(p.transactionIdLow);
      };
      const payload = new Uint8Array(64);
      let id = 0;
      for (let burst = 0; burst < 50; burst++) {
        for (let i = 0; i < 40; i++) assert.ok(guest.send(6, 0, id++, 0, payload));
        // Let the pumps run (they spin, find the packets, park again).
        await new Promise((r) => setImmediate(r));
      }
      await until(() => seen.length === id, 'every packet of the bursts');
      assert.deepEqual(
        seen,
        Array.from({ length: id }, (_, i) => i),
      );
      // A quiet spell: the pumps go to sleep, the rings are unmasked again.
      await tick(50);
      assert.equal(bus.partition.poller.parked, 0);
      assert.equal(host.incoming.interruptsMasked, false);
      const before = guest.stats.interruptsSent;
      assert.ok(guest.send(6, 0, id++, 0, payload));
      await until(() => seen.length === id, 'the late packet');
      assert.equal(guest.stats.interruptsSent, before + 1, 'the late packet raised an interrupt');
    } finally {
      dispose();
    }
  });

  it('a pump busy with parked rings skips the message ring until its doorbell moves, then handles the message at once', async () => {
    // A fake endpoint and poller, so the loop's choices are counted exactly:
    // the parked ring has packets on 400 polls in a row, and a message
    // arrives (doorbell rung) at the 100th.
    const doorbell = new EventWord(new Int32Array(new SharedArrayBuffer(8)), 0);
    let waiting = 0;
    let endpointPolls = 0;
    const endpoint = {
      doorbell,
      closed: false,
      poll(handlers: { message(bytes: Uint8Array): void }) {
        endpointPolls++;
        if (waiting === 0) return false;
        waiting = 0;
        handlers.message(new Uint8Array(8));
        return true;
      },
      close() {},
    };
    const BUSY = 400;
    let hits = 0;
    let receivedAt = -1;
    let pollsDuringBusy = -1;
    const poller = {
      active: false,
      parked: 1,
      poll() {
        if (hits >= BUSY) return false;
        hits++;
        if (hits === 100) {
          waiting = 1;
          doorbell.signal();
        }
        if (hits === BUSY) pollsDuringBusy = endpointPolls;
        return true;
      },
      quiesce: () => false,
    };
    const target = {
      receive: () => {
        receivedAt = hits;
      },
      channelEvent: () => {},
      detach: () => {},
      poller: poller as unknown as PipePoller,
      log: { violation: () => {} },
    };
    const pump = new LinkPump(endpoint as unknown as LinkEndpoint, target as LinkTarget, {
      spin: 50,
    });
    const done = pump.start();
    await until(() => hits === BUSY, 'the busy spell');
    pump.stop();
    await done;
    assert.ok(
      receivedAt >= 100 && receivedAt <= 102,
      `message handled at parked poll ${receivedAt}`,
    );
    // One poll of the endpoint at the start and one after the doorbell
    // moved, not one per parked poll.
    assert.ok(pollsDuringBusy <= 3, `${pollsDuringBusy} endpoint polls in 400 busy parked polls`);
  });

  it('KMCL channels: round trips complete with parked rings, and after a quiet spell', async () => {
    const pair = await createKmclPair({ spin: 2000 });
    try {
      const packet = VmbPacketAllocate(pair.client);
      assert.ok(packet);
      let completions = 0;
      let total = 0;
      const payload = new Uint8Array(64);
      VmbPacketSetCompletionRoutine(packet, (p) => {
        completions++;
        if (completions < total)
          VmbPacketSend(p, payload, 64, null, VMBUS_CHANNEL_FORMAT_FLAG_WAIT_FOR_COMPLETION);
      });
      total = 2000;
      VmbPacketSend(packet, payload, 64, null, VMBUS_CHANNEL_FORMAT_FLAG_WAIT_FOR_COMPLETION);
      await until(() => completions === total, 'the round trips');
      await tick(50);
      assert.equal(pair.bus.guest.poller.parked, 0);
      total = 2001;
      VmbPacketSend(packet, payload, 64, null, VMBUS_CHANNEL_FORMAT_FLAG_WAIT_FOR_COMPLETION);
      await until(() => completions === total, 'a round trip after the quiet spell');
    } finally {
      await pair.dispose();
    }
  });
});
