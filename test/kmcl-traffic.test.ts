/**
 * KMCL traffic: completions with and without WAIT_FOR_COMPLETION, ring-full
 * queueing in order, the end-of-batch callback, PacketComplete exactly once,
 * DeferToPassive, PacketFail, the transaction quota, passive processing,
 * external data (MDL, PFNs, read-only, the STATUS_PENDING retry) and every
 * documented status of VmbChannelSendSynchronousRequest.
 */

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  createKmclPair,
  type KmclIncoming,
  MemoryDescriptor,
  NTSTATUS,
  ntStatusName,
  timeoutMs,
  VMBUS_CHANNEL_PACKET_EXTERNAL_DATA_FLAG_READ_ONLY,
  VMBUS_CHANNEL_PROCESS_PACKET_FLAG_EXTERNAL_DATA,
  VmbChannelPacketComplete,
  VmbChannelPacketDeferToPassive,
  VmbChannelPacketFail,
  VmbChannelPacketGetExternalData,
  VmbChannelSendSynchronousRequest,
  VmbChannelSetIncomingProcessingAtPassive,
  VmbChannelSetTransactionQuota,
  VmbPacketAllocate,
  VmbPacketSend,
  VmbPacketSendWithExternalMdl,
  VmbPacketSendWithExternalPfns,
  VmbPacketSetCompletionRoutine,
  VMBUS_CHANNEL_FORMAT_FLAG_WAIT_FOR_COMPLETION as WAIT,
} from 'vmbus-kmcl';
import { tick, until } from './wait.js';

const st = (s: number) => ntStatusName(s);

describe('completions', () => {
  it('WAIT_FOR_COMPLETION returns the peer completion bytes; without it the routine runs once in the ring', async () => {
    const pair = await createKmclPair({
      configureServer: (c) =>
        c.initSetProcessPacketCallbacks((_ch, p, buf, len) =>
          VmbChannelPacketComplete(p, Uint8Array.from([buf[0]! * 2, len, 0, 0, 0, 0, 0, 0]), 8),
        ),
    });
    const results: [string, number, number][] = [];
    for (const flags of [WAIT, 0]) {
      const p = VmbPacketAllocate(pair.client)!;
      VmbPacketSetCompletionRoutine(p, (_p, s, b, n) => results.push([st(s), b[0]!, n]));
      assert.equal(
        VmbPacketSend(p, Uint8Array.from([21]), 1, null, flags),
        NTSTATUS.STATUS_SUCCESS,
      );
    }
    await until(() => results.length === 2, 'both completions');
    assert.deepEqual(results[1], ['STATUS_SUCCESS', 42, 8], 'the waited packet carries the reply');
    assert.equal(results[0]?.[2], 0, 'the unwaited one completed on write, with no bytes');
    await pair.dispose();
  });

  it('queues packets while the ring is full and sends them in order as space frees', async () => {
    const got: number[] = [];
    let batches = 0;
    let processed = 0;
    const pair = await createKmclPair({
      configureClient: (c) => c.initSetRingBufferPageCount(2, 2),
      configureServer: (c) =>
        c.initSetProcessPacketCallbacks(
          (ch, p, buf) => {
            got.push(new DataView(buf.buffer, buf.byteOffset).getUint32(0, true));
            ch.completePacket(p, null, 0);
          },
          (_ch, n) => {
            batches++;
            processed += n;
          },
        ),
    });
    const payload = new Uint8Array(1000);
    for (let i = 0; i < 40; i++) {
      new DataView(payload.buffer).setUint32(0, i, true);
      const p = VmbPacketAllocate(pair.client)!;
      assert.equal(VmbPacketSend(p, payload, payload.length, null, 0), NTSTATUS.STATUS_SUCCESS);
    }
    assert.ok(pair.client.queuedPackets > 0, 'some waited for ring space');
    await until(() => got.length === 40, 'all packets');
    assert.deepEqual(
      got,
      Array.from({ length: 40 }, (_, i) => i),
    );
    assert.equal(processed, 40, 'EvtChannelProcessingComplete counted every packet');
    assert.ok(batches >= 1);
    await pair.dispose();
  });

  it('completes each packet exactly once; a second completion is refused', async () => {
    let token: KmclIncoming | null = null;
    const pair = await createKmclPair({
      configureServer: (c) => c.initSetProcessPacketCallbacks((_ch, p) => (token = p)),
    });
    const p = VmbPacketAllocate(pair.client)!;
    let completions = 0;
    VmbPacketSetCompletionRoutine(p, () => completions++);
    VmbPacketSend(p, new Uint8Array(8), 8, null, WAIT);
    await until(() => token !== null, 'delivery');
    VmbChannelPacketComplete(token!, new Uint8Array(8), 8);
    VmbChannelPacketComplete(token!, new Uint8Array(8), 8);
    assert.equal(pair.server.stats.misuse, 1);
    await until(() => completions === 1, 'the completion');
    await tick(10);
    assert.equal(completions, 1);
    await pair.dispose();
  });

  it("drops a completion that names a packet's earlier slot while that packet waits in another", async () => {
    // A finished transaction leaves its packet in the slot table; a
    // completion for that slot must not reach the packet's new transaction.
    const tokens: KmclIncoming[] = [];
    const pair = await createKmclPair({
      configureServer: (c) => c.initSetProcessPacketCallbacks((_ch, p) => tokens.push(p)),
    });
    const a = VmbPacketAllocate(pair.client)!;
    const b = VmbPacketAllocate(pair.client)!;
    let aDone = 0;
    let bDone = 0;
    VmbPacketSetCompletionRoutine(a, () => aDone++);
    VmbPacketSetCompletionRoutine(b, () => bDone++);
    VmbPacketSend(a, new Uint8Array(8), 8, null, WAIT);
    VmbPacketSend(b, new Uint8Array(8), 8, null, WAIT);
    await until(() => tokens.length === 2, 'two deliveries');
    const [ta, tb] = tokens as [KmclIncoming, KmclIncoming];
    assert.deepEqual([ta.idLow, tb.idLow], [1, 2]);
    VmbChannelPacketComplete(ta, null, 0);
    VmbChannelPacketComplete(tb, null, 0);
    await until(() => aDone === 1 && bDone === 1, 'both completions');
    // Slot 2 is free last, so a goes there; slot 1 still names a.
    VmbPacketSend(a, new Uint8Array(8), 8, null, WAIT);
    await until(() => tokens.length === 3, 'the third delivery');
    const again = tokens[2]!;
    assert.equal(again.idLow, 2);
    again.idLow = 1;
    VmbChannelPacketComplete(again, null, 0);
    await until(() => pair.client.stats.unmatchedCompletions === 1, 'the unmatched completion');
    await tick(10);
    assert.equal(aDone, 1);
    assert.equal(
      ntStatusName(VmbPacketSend(a, new Uint8Array(8), 8, null, WAIT)),
      'STATUS_INVALID_DEVICE_STATE',
      'a is still in flight',
    );
    await pair.dispose();
    // Closing the channel cancels a's transaction once.
    assert.equal(aDone, 2);
    assert.equal(bDone, 1);
  });
});

describe('publishing batches', () => {
  it('publishes the completions of a deep backlog in batches sized by it, not 16 at a time', async () => {
    const pair = await createKmclPair({
      configureServer: (c) =>
        c.initSetProcessPacketCallbacks((ch, p) => ch.completePacket(p, null, 0)),
    });
    // At passive level the server's pump runs once, after all 128 requests are in its ring.
    VmbChannelSetIncomingProcessingAtPassive(pair.server, true);
    const published = () => {
      const s = pair.server.pipeStats!;
      return s.interruptsSent + s.interruptsSuppressed;
    };
    const before = published();
    let done = 0;
    try {
      for (let i = 0; i < 128; i++) {
        const p = VmbPacketAllocate(pair.client)!;
        VmbPacketSetCompletionRoutine(p, () => done++);
        assert.equal(VmbPacketSend(p, new Uint8Array(8), 8, null, WAIT), NTSTATUS.STATUS_SUCCESS);
      }
      await until(() => done === 128, 'all completions');
      assert.equal(pair.server.stats.batches, 1, 'one pump pass took all 128');
      // 16 first, then the 112 the ring was known to hold: two index stores
      // for 128 completions (a fixed batch of 16 would have made eight).
      assert.equal(published() - before, 2);
    } finally {
      await pair.dispose();
    }
  });
});

describe('claiming ring lines ahead', () => {
  it('each publication keeps between half a page and a page of the outgoing ring claimed', async () => {
    const pair = await createKmclPair();
    const ahead = (c: typeof pair.client) => c.dataPath!.outgoing.claimedAhead;
    let done = 0;
    try {
      assert.equal(ahead(pair.client), 0, 'nothing claimed before the first publication');
      // 300 round trips of 88 + 24 framed bytes: several pages through
      // each ring, past every claimed range.
      for (let i = 0; i < 300; i++) {
        const p = VmbPacketAllocate(pair.client)!;
        VmbPacketSetCompletionRoutine(p, () => done++);
        assert.equal(VmbPacketSend(p, new Uint8Array(64), 64, null, WAIT), NTSTATUS.STATUS_SUCCESS);
        if (i % 50 === 49) await until(() => done === i + 1, 'completions');
        for (const c of [pair.client, pair.server]) {
          if (c.dataPath!.outgoing.bytesWritten === 0) continue;
          assert.ok(ahead(c) >= 2048 && ahead(c) <= 4096, `claimed ahead ${ahead(c)}`);
        }
      }
      await until(() => done === 300, 'all completions');
    } finally {
      await pair.dispose();
    }
  });
});

describe('incoming packet objects', () => {
  it('packets held past their callback and packets completed inside it never share an object', async () => {
    // Odd packets are completed inside the callback, even ones held and
    // completed later in reverse order: each completion must reach the
    // sender of its own packet, with that packet's bytes.
    const held: KmclIncoming[] = [];
    const live = new Set<KmclIncoming>();
    let shared = 0;
    const pair = await createKmclPair({
      configureServer: (c) =>
        c.initSetProcessPacketCallbacks((_ch, p, buffer, length) => {
          if (live.has(p)) shared++;
          const n = buffer[0]!;
          if (n % 2 === 1) {
            VmbChannelPacketComplete(p, buffer.slice(0, length), length);
            return;
          }
          live.add(p);
          held.push(p);
        }),
    });
    const answers = new Map<number, number>();
    const N = 40;
    for (let i = 0; i < N; i++) {
      const packet = VmbPacketAllocate(pair.client)!;
      VmbPacketSetCompletionRoutine(packet, (_p, status, buffer, length) => {
        assert.equal(status, NTSTATUS.STATUS_SUCCESS);
        assert.equal(length, 8);
        answers.set(i, buffer[0]!);
      });
      const bytes = new Uint8Array(8).fill(i);
      assert.equal(VmbPacketSend(packet, bytes, 8, null, WAIT), NTSTATUS.STATUS_SUCCESS);
    }
    await until(() => held.length === N / 2 && answers.size === N / 2, 'the deliveries');
    for (const p of held.reverse()) {
      const first = p.buffer[0]!;
      live.delete(p);
      VmbChannelPacketComplete(p, p.buffer.slice(0, 8), 8);
      assert.equal(first % 2, 0);
    }
    await until(() => answers.size === N, 'every completion');
    assert.equal(shared, 0, 'a held packet object was handed out again');
    for (let i = 0; i < N; i++) assert.equal(answers.get(i), i, `packet ${i}`);
    await pair.dispose();
  });
});

describe('incoming queue control', () => {
  it('DeferToPassive redelivers the same packet at passive level', async () => {
    const seen: [string, number][] = [];
    const pair = await createKmclPair({
      configureServer: (c) =>
        c.initSetProcessPacketCallbacks((ch, p, buf) => {
          seen.push([ch.currentIrql, buf[0]!]);
          if (seen.length === 1) VmbChannelPacketDeferToPassive(p);
          else VmbChannelPacketComplete(p, null, 0);
        }),
    });
    const p = VmbPacketAllocate(pair.client)!;
    VmbPacketSend(p, Uint8Array.from([7]), 1, null, WAIT);
    await until(() => seen.length === 2, 'redelivery');
    assert.equal(seen[0]?.[1], 7);
    assert.deepEqual(seen[1], ['passive', 7], 'the same packet again, at passive level');
    await pair.dispose();
  });

  it('SetIncomingProcessingAtPassive delivers at passive level', async () => {
    const irqls: string[] = [];
    const pair = await createKmclPair({
      configureServer: (c) =>
        c.initSetProcessPacketCallbacks((ch, p) => {
          irqls.push(ch.currentIrql);
          ch.completePacket(p, null, 0);
        }),
    });
    VmbChannelSetIncomingProcessingAtPassive(pair.server, true);
    VmbPacketSend(VmbPacketAllocate(pair.client)!, new Uint8Array(1), 1, null, 0);
    await until(() => irqls.length === 1, 'delivery');
    assert.deepEqual(irqls, ['passive']);
    await pair.dispose();
  });

  it('PacketFail stops the incoming queue; Pause and Start restart it', async () => {
    const got: number[] = [];
    const pair = await createKmclPair({
      configureServer: (c) =>
        c.initSetProcessPacketCallbacks((ch, p, buf) => {
          got.push(buf[0]!);
          if (buf[0] === 1) VmbChannelPacketFail(p);
          else ch.completePacket(p, null, 0);
        }),
    });
    for (const b of [0, 1, 2, 3])
      VmbPacketSend(VmbPacketAllocate(pair.client)!, Uint8Array.from([b]), 1, null, 0);
    await until(() => got.length === 2, 'the failing packet');
    await tick(20);
    assert.deepEqual(got, [0, 1], 'nothing after the failed packet');
    await pair.server.pause();
    pair.server.start();
    await until(() => got.length === 4, 'the rest after restart');
    assert.deepEqual(got, [0, 1, 2, 3]);
    await pair.dispose();
  });

  it('the transaction quota blocks dequeuing; lowering or raising it does not restart, a completion does', async () => {
    const held: KmclIncoming[] = [];
    const pair = await createKmclPair({
      configureServer: (c) => c.initSetProcessPacketCallbacks((_ch, p) => held.push(p)),
    });
    VmbChannelSetTransactionQuota(pair.server, 2);
    for (let i = 0; i < 5; i++)
      VmbPacketSend(VmbPacketAllocate(pair.client)!, Uint8Array.from([i]), 1, null, 0);
    await until(() => held.length === 2, 'two packets');
    await tick(20);
    assert.equal(held.length, 2, 'the quota holds');
    VmbChannelSetTransactionQuota(pair.server, 10);
    await tick(20);
    assert.equal(held.length, 2, 'raising the quota alone does not restart the queue');
    VmbChannelPacketComplete(held[0]!, null, 0);
    await until(() => held.length === 5, 'the rest after one completion');
    VmbChannelSetTransactionQuota(pair.server, 0);
    assert.equal(pair.server.stats.misuse, 1, 'a quota of 0 is refused');
    for (const p of held.slice(1)) VmbChannelPacketComplete(p, null, 0);
    await pair.dispose();
  });
});

describe('external data', () => {
  it('sends an MDL range and PFNs as GPA-direct packets the server maps and reads', async () => {
    const reads: string[] = [];
    const pair = await createKmclPair({
      configureServer: (c) =>
        c.initSetProcessPacketCallbacks((ch, p, _buf, _len, flags) => {
          assert.equal(
            flags & VMBUS_CHANNEL_PROCESS_PACKET_FLAG_EXTERNAL_DATA,
            VMBUS_CHANNEL_PROCESS_PACKET_FLAG_EXTERNAL_DATA,
          );
          const out: { value?: MemoryDescriptor[] } = {};
          assert.equal(VmbChannelPacketGetExternalData(p, 0, out), NTSTATUS.STATUS_SUCCESS);
          const mdl = out.value![0]!;
          const bytes = new Uint8Array(mdl.byteLength);
          mdl.read(0, bytes);
          reads.push(new TextDecoder().decode(bytes));
          mdl.write(0, new TextEncoder().encode('OK'));
          ch.completePacket(p, null, 0);
        }),
    });
    const memory = pair.bus.memory;
    const pages = pair.bus.guest.pages.allocate(2);
    const mdl = new MemoryDescriptor(memory, pages, 100, 5000);
    mdl.write(0, new TextEncoder().encode('hello world'));
    let done = 0;
    const a = VmbPacketAllocate(pair.client)!;
    VmbPacketSetCompletionRoutine(a, () => done++);
    assert.equal(
      st(VmbPacketSendWithExternalMdl(a, null, 0, mdl, 6, 5, 0)),
      'STATUS_INVALID_PARAMETER_7',
      'WAIT is required',
    );
    assert.equal(
      VmbPacketSendWithExternalMdl(a, null, 0, mdl, 6, 5, WAIT),
      NTSTATUS.STATUS_SUCCESS,
    );
    await until(() => done === 1, 'the MDL packet');
    assert.deepEqual(reads, ['world']);
    const check = new Uint8Array(2);
    mdl.read(6, check);
    assert.equal(new TextDecoder().decode(check), 'OK', 'the server wrote guest memory');
    const b = VmbPacketAllocate(pair.client)!;
    VmbPacketSetCompletionRoutine(b, () => done++);
    assert.equal(
      st(VmbPacketSendWithExternalPfns(b, null, 0, pages, 1, 0)),
      'STATUS_INVALID_PARAMETER_6',
    );
    assert.equal(
      VmbPacketSendWithExternalPfns(b, null, 0, pages, 1, WAIT),
      NTSTATUS.STATUS_SUCCESS,
    );
    await until(() => done === 2, 'the PFN packet');
    assert.equal(reads[1]?.length, 4096);
    await pair.dispose();
  });

  it('honours read-only mappings and the STATUS_PENDING retry path', async () => {
    const statuses: string[] = [];
    let writeRefused = false;
    const pair = await createKmclPair({
      configureServer: (c) =>
        c.initSetProcessPacketCallbacks((ch, p) => {
          const out: { value?: MemoryDescriptor[] } = {};
          const s = VmbChannelPacketGetExternalData(
            p,
            VMBUS_CHANNEL_PACKET_EXTERNAL_DATA_FLAG_READ_ONLY,
            out,
          );
          statuses.push(st(s));
          if (s === NTSTATUS.STATUS_PENDING) return;
          assert.throws(() => out.value![0]!.write(0, new Uint8Array(1)), TypeError);
          writeRefused = true;
          ch.completePacket(p, null, 0);
        }),
    });
    pair.server.simulatePagedOutExternalData = true;
    const pages = pair.bus.guest.pages.allocate(1);
    let done = false;
    const p = VmbPacketAllocate(pair.client)!;
    VmbPacketSetCompletionRoutine(p, () => (done = true));
    VmbPacketSendWithExternalPfns(p, null, 0, pages, 1, WAIT);
    await until(() => done, 'completion');
    assert.deepEqual(statuses, ['STATUS_PENDING', 'STATUS_SUCCESS']);
    assert.equal(writeRefused, true);
    await pair.dispose();
  });

  it('refuses external data a peer points outside guest memory', async () => {
    const statuses: string[] = [];
    const pair = await createKmclPair({
      configureServer: (c) =>
        c.initSetProcessPacketCallbacks((ch, p) => {
          statuses.push(st(VmbChannelPacketGetExternalData(p, 0, {})));
          ch.completePacket(p, null, 0);
        }),
    });
    let done = false;
    const p = VmbPacketAllocate(pair.client)!;
    VmbPacketSetCompletionRoutine(p, () => (done = true));
    VmbPacketSendWithExternalPfns(p, null, 0, [pair.bus.memory.pageCount + 5], 1, WAIT);
    await until(() => done, 'completion');
    assert.deepEqual(statuses, ['STATUS_INVALID_PARAMETER']);
    await pair.dispose();
  });
});

describe('VmbChannelSendSynchronousRequest', () => {
  it('returns SUCCESS with the completion and its size', async () => {
    const pair = await createKmclPair({
      configureServer: (c) =>
        c.initSetProcessPacketCallbacks((ch, p, buf) =>
          ch.completePacket(
            p,
            Uint8Array.from([buf[0]! + 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]),
            12,
          ),
        ),
    });
    const reply = new Uint8Array(16);
    const size = { value: 16 };
    assert.equal(
      await VmbChannelSendSynchronousRequest(
        pair.client,
        Uint8Array.from([4]),
        1,
        null,
        WAIT,
        reply,
        size,
        null,
      ),
      NTSTATUS.STATUS_SUCCESS,
    );
    assert.equal(reply[0], 5);
    assert.equal(size.value, 16, 'completion lengths travel in 8-byte units');
    const small = { value: 8 };
    assert.equal(
      st(
        await VmbChannelSendSynchronousRequest(
          pair.client,
          Uint8Array.from([4]),
          1,
          null,
          WAIT,
          reply,
          small,
          null,
        ),
      ),
      'STATUS_BUFFER_OVERFLOW',
      'a reply larger than the buffer',
    );
    assert.equal(small.value, 8);
    assert.equal(
      st(
        await VmbChannelSendSynchronousRequest(
          pair.client,
          Uint8Array.from([4]),
          1,
          null,
          WAIT,
          reply,
          { value: 12 },
          null,
        ),
      ),
      'STATUS_INVALID_BUFFER_SIZE',
    );
    await pair.dispose();
  });

  it('times out with CANCELLED, reports DEVICE_REMOVED when the channel goes, BUFFER_OVERFLOW when it cannot fit at once', async () => {
    const held: KmclIncoming[] = [];
    const pair = await createKmclPair({
      configureClient: (c) => c.initSetRingBufferPageCount(2, 2),
      configureServer: (c) => c.initSetProcessPacketCallbacks((_ch, p) => held.push(p)),
    });
    const t0 = Date.now();
    assert.equal(
      st(
        await VmbChannelSendSynchronousRequest(
          pair.client,
          new Uint8Array(8),
          8,
          null,
          WAIT,
          null,
          null,
          -200_000n,
        ),
      ),
      'STATUS_CANCELLED',
    );
    assert.ok(Date.now() - t0 >= 15, 'it waited the 20 ms');
    // Fill the ring (the server holds everything), then a no-wait request cannot fit.
    VmbChannelSetTransactionQuota(pair.server, 1);
    const big = new Uint8Array(2000);
    for (let i = 0; i < 4; i++)
      VmbPacketSend(VmbPacketAllocate(pair.client)!, big, big.length, null, 0);
    await tick(10);
    assert.equal(
      st(
        await VmbChannelSendSynchronousRequest(
          pair.client,
          big,
          big.length,
          null,
          0,
          null,
          null,
          0n,
        ),
      ),
      'STATUS_BUFFER_OVERFLOW',
    );
    const waiting = VmbChannelSendSynchronousRequest(
      pair.client,
      new Uint8Array(8),
      8,
      null,
      WAIT,
      null,
      null,
      null,
    );
    await tick(5);
    void pair.client.disable();
    assert.equal(st(await waiting), 'STATUS_DEVICE_REMOVED');
    for (const p of held) VmbChannelPacketComplete(p, null, 0);
    await pair.dispose();
  });

  it('limits the server to Timeout 0 without WAIT_FOR_COMPLETION', async () => {
    const pair = await createKmclPair();
    assert.equal(
      st(
        await VmbChannelSendSynchronousRequest(
          pair.server,
          new Uint8Array(8),
          8,
          null,
          WAIT,
          null,
          null,
          0n,
        ),
      ),
      'STATUS_INVALID_DEVICE_REQUEST',
    );
    assert.equal(
      st(
        await VmbChannelSendSynchronousRequest(
          pair.server,
          new Uint8Array(8),
          8,
          null,
          0,
          null,
          null,
          -10n,
        ),
      ),
      'STATUS_INVALID_DEVICE_REQUEST',
    );
    assert.equal(
      st(
        await VmbChannelSendSynchronousRequest(
          pair.server,
          new Uint8Array(8),
          8,
          null,
          0,
          null,
          null,
          0n,
        ),
      ),
      'STATUS_SUCCESS',
    );
    await pair.dispose();
  });

  it('converts Windows timeouts: negative relative, positive absolute, in 100 ns units', () => {
    assert.equal(timeoutMs(null), null);
    assert.equal(timeoutMs(0n), 0);
    assert.equal(timeoutMs(-10_000_000n), 1000);
    const now1601 = BigInt(Date.now() + 500) * 10_000n + 116_444_736_000_000_000n;
    const ms = timeoutMs(now1601)!;
    assert.ok(ms > 400 && ms <= 500, `${ms}`);
    assert.equal(timeoutMs(1n), 0, 'an absolute time in the past');
  });
});
