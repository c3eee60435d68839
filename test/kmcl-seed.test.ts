/**
 * The seed of the project: VmbChannelSizeofPacket, VmbPacketInitialize on
 * caller memory and its neighbours VmbPacketAllocate/VmbPacketFree, through
 * the Windows-named facade, on a live channel pair.
 */

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  createKmclPair,
  type KmclChannel,
  NTSTATUS,
  ntStatusName,
  type VMBPACKET,
  VmbChannelSizeofPacket,
  VmbPacketAllocate,
  VmbPacketFree,
  VmbPacketGetChannel,
  VmbPacketGetPointer,
  VmbPacketInitialize,
  VmbPacketSend,
  VmbPacketSetCompletionRoutine,
  VmbPacketSetPointer,
  VMBUS_CHANNEL_FORMAT_FLAG_WAIT_FOR_COMPLETION as WAIT,
} from 'vmbus-kmcl';

const st = (s: number) => ntStatusName(s);

function echoServer(c: KmclChannel) {
  c.initSetProcessPacketCallbacks((ch, p, buf, len) => {
    const reply = new Uint8Array(8);
    reply[0] = (buf[0] ?? 0) + 1;
    reply[1] = len;
    ch.completePacket(p, reply, 8);
  });
}

describe('VmbChannelSizeofPacket', () => {
  it('exceeds the maximum packet size plus a pointer and stays stable for the channel life', async () => {
    let before = 0;
    const pair = await createKmclPair({
      configureClient: (c) => {
        c.initSetMaximumPacketSize(1000);
        before = VmbChannelSizeofPacket(c);
      },
    });
    const size = VmbChannelSizeofPacket(pair.client);
    assert.ok(size > 1000 + 8, `${size}`);
    assert.equal(size, before, 'same before and after Enable');
    assert.equal(VmbChannelSizeofPacket(pair.client), size);
    await pair.dispose();
    assert.equal(VmbChannelSizeofPacket(pair.client), size, 'same after Disable');
  });
});

describe('VmbPacketInitialize', () => {
  it('returns STATUS_INVALID_PARAMETER_3 below the size or beyond the buffer, and changes nothing', async () => {
    const pair = await createKmclPair();
    const size = VmbChannelSizeofPacket(pair.client);
    const memory = new Uint8Array(size + 16).fill(0xcd);
    assert.equal(
      st(VmbPacketInitialize(pair.client, memory, size - 1)),
      'STATUS_INVALID_PARAMETER_3',
    );
    assert.equal(
      st(VmbPacketInitialize(pair.client, memory, memory.length + 1)),
      'STATUS_INVALID_PARAMETER_3',
    );
    assert.ok(
      memory.every((b) => b === 0xcd),
      'the buffer was touched',
    );
    assert.equal(VmbPacketGetChannel(memory), null, 'no packet object exists');
    assert.equal(st(VmbPacketInitialize(pair.client, memory, size)), 'STATUS_SUCCESS');
    assert.equal(VmbPacketGetChannel(memory), pair.client);
    await pair.dispose();
  });

  it('accepts an ArrayBuffer, a SharedArrayBuffer or a Uint8Array view of one', async () => {
    const pair = await createKmclPair({ configureServer: echoServer });
    const size = VmbChannelSizeofPacket(pair.client);
    const pool = new SharedArrayBuffer(size * 3);
    const handles: VMBPACKET[] = [
      new ArrayBuffer(size),
      new SharedArrayBuffer(size),
      new Uint8Array(pool, size, size),
    ];
    for (const h of handles) {
      assert.equal(VmbPacketInitialize(pair.client, h as never, size), NTSTATUS.STATUS_SUCCESS);
      const done = new Promise<[unknown, number, number]>((resolve) => {
        VmbPacketSetCompletionRoutine(h, (p, s, b) => resolve([p, s, b[0] ?? -1]));
      });
      assert.equal(VmbPacketSend(h, new Uint8Array([41]), 1, null, WAIT), NTSTATUS.STATUS_SUCCESS);
      const [p, s, first] = await done;
      assert.equal(p, h, 'the completion names the caller memory');
      assert.equal(s, NTSTATUS.STATUS_SUCCESS);
      assert.equal(first, 42);
    }
    await pair.dispose();
  });

  it('a fresh packet has no completion routine: sending it fails and puts nothing on the ring', async () => {
    const pair = await createKmclPair();
    const memory = new ArrayBuffer(VmbChannelSizeofPacket(pair.client));
    VmbPacketInitialize(pair.client, memory, memory.byteLength);
    const ring = pair.client.dataPath!.outgoing;
    const before = ring.writeIndex;
    assert.equal(
      st(VmbPacketSend(memory, new Uint8Array(8), 8, null, 0)),
      'STATUS_INVALID_PARAMETER_1',
    );
    assert.equal(ring.writeIndex, before);
    assert.equal(ring.packetsWritten, 0);
    await pair.dispose();
  });

  it('is reusable after completion; a packet in flight is refused', async () => {
    let hold: (() => void) | null = null;
    const pair = await createKmclPair({
      configureServer: (c) =>
        c.initSetProcessPacketCallbacks((ch, p) => {
          hold = () => ch.completePacket(p, new Uint8Array(8), 8);
        }),
    });
    const memory = new Uint8Array(VmbChannelSizeofPacket(pair.client));
    VmbPacketInitialize(pair.client, memory, memory.length);
    let completions = 0;
    VmbPacketSetCompletionRoutine(memory, () => completions++);
    for (let round = 0; round < 3; round++) {
      assert.equal(
        VmbPacketSend(memory, new Uint8Array(4), 4, null, WAIT),
        NTSTATUS.STATUS_SUCCESS,
      );
      assert.equal(
        st(VmbPacketSend(memory, new Uint8Array(4), 4, null, WAIT)),
        'STATUS_INVALID_DEVICE_STATE',
      );
      assert.equal(
        st(VmbPacketInitialize(pair.client, memory, memory.length)),
        'STATUS_INVALID_DEVICE_STATE',
      );
      while (!hold) await new Promise((r) => setTimeout(r, 1));
      (hold as () => void)();
      hold = null;
      while (completions === round) await new Promise((r) => setTimeout(r, 1));
    }
    assert.equal(completions, 3);
    await pair.dispose();
  });

  it('finds the right packet for each handle, from inside completion routines and after re-initialising', async () => {
    const pair = await createKmclPair({ configureServer: echoServer });
    const other = await createKmclPair({ configureServer: echoServer });
    const size = VmbChannelSizeofPacket(pair.client);
    const a = new Uint8Array(size);
    const b = new Uint8Array(size);
    const stranger = new Uint8Array(size);
    VmbPacketInitialize(pair.client, a, size);
    VmbPacketInitialize(pair.client, b, size);
    const seen: string[] = [];
    let bDone!: () => void;
    const bCompleted = new Promise<void>((r) => {
      bDone = r;
    });
    VmbPacketSetCompletionRoutine(b, (p, status) => {
      seen.push(`b ${p === b} ${status}`);
      bDone();
    });
    VmbPacketSetCompletionRoutine(a, (p, status) => {
      seen.push(`a ${p === a} ${status}`);
      if (seen.length > 1) return;
      // Inside a's routine: another handle, and memory that is no packet.
      seen.push(`stranger ${st(VmbPacketSend(stranger, new Uint8Array(1), 1, null, WAIT))}`);
      seen.push(`b sent ${st(VmbPacketSend(b, new Uint8Array(1), 1, null, WAIT))}`);
      seen.push(`a again ${st(VmbPacketSend(p, new Uint8Array(1), 1, null, 0))}`);
    });
    VmbPacketSend(a, new Uint8Array(1), 1, null, WAIT);
    await bCompleted;
    // a's send without WAIT completes at once, in the ring, inside the send.
    assert.deepEqual(seen.slice(0, 5), [
      'a true 0',
      'stranger STATUS_INVALID_PARAMETER_1',
      'b sent STATUS_SUCCESS',
      'a true 0',
      'a again STATUS_SUCCESS',
    ]);
    assert.ok(seen.includes('b true 0'));
    // The same memory, initialised again for another channel, is that channel's packet.
    assert.equal(VmbPacketGetChannel(a), pair.client);
    assert.equal(st(VmbPacketInitialize(other.client, a, size)), 'STATUS_SUCCESS');
    assert.equal(VmbPacketGetChannel(a), other.client);
    assert.equal(VmbPacketGetChannel(b), pair.client);
    assert.equal(VmbPacketGetChannel(a), other.client);
    await pair.dispose();
    await other.dispose();
  });

  it('finds allocated and caller-memory packets alike from inside completion routines', async () => {
    const pair = await createKmclPair({ configureServer: echoServer });
    const size = VmbChannelSizeofPacket(pair.client);
    const mem = new Uint8Array(size);
    VmbPacketInitialize(pair.client, mem, size);
    const alloc = VmbPacketAllocate(pair.client)!;
    const seen: string[] = [];
    let done!: () => void;
    const finished = new Promise<void>((r) => {
      done = r;
    });
    let allocRounds = 0;
    VmbPacketSetCompletionRoutine(alloc, (p, status) => {
      seen.push(`alloc ${p === alloc} ${status}`);
      allocRounds++;
      // The allocated packet again, then the caller-memory one, each by its handle.
      if (allocRounds < 3)
        seen.push(`alloc again ${st(VmbPacketSend(p, new Uint8Array(2), 2, null, WAIT))}`);
      else if (allocRounds === 3)
        seen.push(`mem ${st(VmbPacketSend(mem, new Uint8Array(3), 3, null, WAIT))}`);
    });
    VmbPacketSetCompletionRoutine(mem, (p, status) => {
      seen.push(`mem done ${p === mem} ${status}`);
      // Sent without WAIT, the allocated packet completes inside this send.
      seen.push(`alloc once more ${st(VmbPacketSend(alloc, new Uint8Array(1), 1, null, 0))}`);
      done();
    });
    VmbPacketSend(alloc, new Uint8Array(1), 1, null, WAIT);
    await finished;
    assert.deepEqual(seen, [
      'alloc true 0',
      'alloc again STATUS_SUCCESS',
      'alloc true 0',
      'alloc again STATUS_SUCCESS',
      'alloc true 0',
      'mem STATUS_SUCCESS',
      'mem done true 0',
      'alloc true 0',
      'alloc once more STATUS_SUCCESS',
    ]);
    await pair.dispose();
  });

  it('keeps the packet with its memory: any number of buffers, non-extensible ones too, nothing visible on the buffer', async () => {
    const pair = await createKmclPair({ configureServer: echoServer });
    const size = VmbChannelSizeofPacket(pair.client);
    const sealed = new Uint8Array(size);
    Object.preventExtensions(sealed);
    const plain = new Uint8Array(size);
    const shared = new SharedArrayBuffer(size);
    const handles: (Uint8Array | SharedArrayBuffer)[] = [sealed, plain, shared];
    for (const h of handles)
      assert.equal(st(VmbPacketInitialize(pair.client, h, size)), 'STATUS_SUCCESS');
    // No key is added that enumeration or JSON would show.
    assert.deepEqual(Object.keys(plain), Object.keys(new Uint8Array(size)));
    assert.equal(Object.keys(JSON.parse(JSON.stringify(plain))).length, size);
    const got: string[] = [];
    const all = handles.map(
      (h, i) =>
        new Promise<void>((resolve) => {
          VmbPacketSetPointer(h, i);
          VmbPacketSetCompletionRoutine(h, (p, status, buf) => {
            got.push(`${VmbPacketGetPointer(p)} ${p === h} ${status} ${buf[0]}`);
            resolve();
          });
        }),
    );
    handles.forEach((h, i) => {
      assert.equal(st(VmbPacketSend(h, new Uint8Array([10 * i]), 1, null, WAIT)), 'STATUS_SUCCESS');
    });
    await Promise.all(all);
    assert.deepEqual(got.sort(), ['0 true 0 1', '1 true 0 11', '2 true 0 21']);
    // A non-extensible buffer initialised again is the new packet too.
    const other = await createKmclPair({ configureServer: echoServer });
    assert.equal(st(VmbPacketInitialize(other.client, sealed, size)), 'STATUS_SUCCESS');
    assert.equal(VmbPacketGetChannel(sealed), other.client);
    assert.equal(VmbPacketGetChannel(plain), pair.client);
    await pair.dispose();
    await other.dispose();
  });

  it('treats a handle that is no packet (null, undefined, a number, a plain object) as no packet, without throwing', async () => {
    const pair = await createKmclPair();
    const size = VmbChannelSizeofPacket(pair.client);
    for (const h of [null, undefined, 7, {}] as unknown as VMBPACKET[]) {
      assert.equal(
        st(VmbPacketSend(h, new Uint8Array(1), 1, null, 0)),
        'STATUS_INVALID_PARAMETER_1',
      );
      assert.equal(VmbPacketGetPointer(h), null);
      assert.equal(VmbPacketGetChannel(h), null);
      VmbPacketSetPointer(h, 1);
      VmbPacketFree(h);
      assert.equal(
        st(VmbPacketInitialize(pair.client, h as unknown as Uint8Array, size)),
        'STATUS_INVALID_PARAMETER_3',
      );
    }
    await pair.dispose();
  });

  it('refuses a payload larger than the maximum packet size', async () => {
    const pair = await createKmclPair({ configureClient: (c) => c.initSetMaximumPacketSize(64) });
    const memory = new ArrayBuffer(VmbChannelSizeofPacket(pair.client));
    VmbPacketInitialize(pair.client, memory, memory.byteLength);
    VmbPacketSetCompletionRoutine(memory, () => {});
    assert.equal(
      st(VmbPacketSend(memory, new Uint8Array(65), 65, null, 0)),
      'STATUS_INVALID_PARAMETER_3',
    );
    assert.equal(st(VmbPacketSend(memory, new Uint8Array(64), 64, null, 0)), 'STATUS_SUCCESS');
    await pair.dispose();
  });
});

describe('VmbPacketAllocate and VmbPacketFree', () => {
  it('the default completion routine frees the packet back to the channel', async () => {
    const pair = await createKmclPair({ configureServer: echoServer });
    const a = VmbPacketAllocate(pair.client);
    assert.ok(a);
    VmbPacketSetPointer(a, 'mine');
    assert.equal(VmbPacketGetPointer(a), 'mine');
    assert.equal(VmbPacketSend(a, new Uint8Array([1]), 1, null, WAIT), NTSTATUS.STATUS_SUCCESS);
    while ((a as { freed?: boolean }).freed !== true) await new Promise((r) => setTimeout(r, 1));
    const b = VmbPacketAllocate(pair.client);
    assert.equal(b, a, 'the freed packet is reused from the lookaside list');
    await pair.dispose();
  });

  it('freeing a packet in flight is refused; after completion it works', async () => {
    let hold: (() => void) | null = null;
    const pair = await createKmclPair({
      configureServer: (c) =>
        c.initSetProcessPacketCallbacks((ch, p) => {
          hold = () => ch.completePacket(p, null, 0);
        }),
    });
    const packet = VmbPacketAllocate(pair.client)!;
    let done = false;
    VmbPacketSetCompletionRoutine(packet, () => {
      done = true;
    });
    VmbPacketSend(packet, new Uint8Array(8), 8, null, WAIT);
    VmbPacketFree(packet);
    assert.equal(pair.client.stats.misuse, 1, 'the free was refused');
    assert.equal((packet as { freed?: boolean }).freed, false);
    while (!hold) await new Promise((r) => setTimeout(r, 1));
    (hold as () => void)();
    while (!done) await new Promise((r) => setTimeout(r, 1));
    VmbPacketFree(packet);
    assert.equal((packet as { freed?: boolean }).freed, true);
    await pair.dispose();
  });
});
