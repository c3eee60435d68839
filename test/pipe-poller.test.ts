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
