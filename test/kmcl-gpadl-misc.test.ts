/**
 * KMCL GPADLs (create from a buffer and from an MDL, server map and unmap,
 * read-only rules, one mapping at a time, delete waiting while mapped), the
 * remaining routines (pointers, interface instance, MMIO, interrupt
 * latency, init statuses, handle conversion), save/restore of a channel
 * with packets in flight, and the interface tables.
 */

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  createKmclPair,
  createLocalBus,
  type Guid,
  KMCL_CLIENT_INTERFACE_V1,
  KMCL_SERVER_INTERFACE_V1,
  KMCL_SERVER_ONLY_METHODS,
  KmclChannel,
  type KmclIncoming,
  type KmclPacket,
  type KmclVmbusHandle,
  MemoryDescriptor,
  NT_SUCCESS,
  NTSTATUS,
  ntStatusName,
  PAIR_INTERFACE_INSTANCE,
  VMBUS_CHANNEL_GPADL_FLAG_READ_ONLY,
  VMBUS_CHANNEL_PROCESS_PACKET_FLAG_EXTERNAL_DATA,
  VmbChannelAllocate,
  VmbChannelCreateGpadlFromBuffer,
  VmbChannelCreateGpadlFromMdl,
  VmbChannelDeleteGpadl,
  VmbChannelGetInterfaceInstance,
  VmbChannelGetMmioSpace,
  VmbChannelGetPointer,
  VmbChannelInitSetClientContextSize,
  VmbChannelInitSetFlags,
  VmbChannelInitSetFriendlyName,
  VmbChannelInitSetMaximumExternalData,
  VmbChannelInitSetMaximumPacketSize,
  VmbChannelMapGpadl,
  VmbChannelPacketComplete,
  VmbChannelRestoreFromBuffer,
  VmbChannelSaveBegin,
  VmbChannelSaveContinue,
  VmbChannelSaveEnd,
  VmbChannelSetInterruptLatency,
  VmbChannelSetPointer,
  VmbChannelUnmapGpadl,
  VmbClientChannelInitSetRingBufferPageCount,
  VmbClientChannelInitSetTargetPnp,
  VmbConvertVmbusHandleToKernelHandle,
  VmbPacketAllocate,
  VmbPacketRestore,
  VmbPacketSend,
  VmbPacketSetCompletionRoutine,
  VmbServerChannelInitSetFlags,
  VmbServerChannelInitSetMmioMegabytes,
  VmbServerChannelInitSetSaveRestorePacketCallbacks,
  VmbServerChannelInitSetTargetInterfaceId,
  VmbServerChannelInitSetTargetVtl,
  VmbServerChannelInitSetVmbusHandle,
  VMBUS_CHANNEL_FORMAT_FLAG_WAIT_FOR_COMPLETION as WAIT,
} from 'vmbus-kmcl';

const st = (s: number) => ntStatusName(s);
const tick = (ms = 2) => new Promise((r) => setTimeout(r, ms));

describe('GPADLs', () => {
  it('create from a buffer and an MDL; the server maps once at a time, read-only rules hold, delete waits while mapped', async () => {
    const pair = await createKmclPair();
    const memory = pair.bus.memory;
    const ringGpadls = pair.bus.partition.gpadlCount;
    const pfns = pair.bus.guest.pages.allocate(3);
    const buffer = memory.bytes.subarray(pfns[0]! * 4096, pfns[0]! * 4096 + 3 * 4096);
    buffer.set(new TextEncoder().encode('gpadl bytes'));
    const handle: { value?: number } = {};
    assert.equal(
      await VmbChannelCreateGpadlFromBuffer(pair.client, 0, buffer, buffer.length, handle),
      NTSTATUS.STATUS_SUCCESS,
    );
    assert.equal(
      st(await VmbChannelCreateGpadlFromBuffer(pair.client, 0, new Uint8Array(8), 8, {})),
      'STATUS_INVALID_PARAMETER_3',
      'not guest memory',
    );

    const mdl: { value?: MemoryDescriptor[] } = {};
    assert.equal(VmbChannelMapGpadl(pair.server, 0, handle.value!, mdl), NTSTATUS.STATUS_SUCCESS);
    const seen = new Uint8Array(11);
    mdl.value![0]!.read(0, seen);
    assert.equal(new TextDecoder().decode(seen), 'gpadl bytes');
    assert.equal(
      st(VmbChannelMapGpadl(pair.server, 0, handle.value!, {})),
      'STATUS_INVALID_DEVICE_STATE',
      'one mapping at a time',
    );
    assert.equal(st(VmbChannelMapGpadl(pair.server, 0, 0x1234, {})), 'STATUS_NOT_FOUND');

    let deleted = false;
    const deleting = VmbChannelDeleteGpadl(pair.client, handle.value!).then(() => {
      deleted = true;
    });
    await tick(20);
    assert.equal(deleted, false, 'DeleteGpadl waits while the server maps it');
    VmbChannelUnmapGpadl(pair.server, handle.value!);
    await deleting;
    assert.equal(pair.bus.partition.gpadlCount, ringGpadls);

    const ro: { value?: number } = {};
    const whole = new MemoryDescriptor(memory, pfns, 0, 3 * 4096);
    assert.equal(
      await VmbChannelCreateGpadlFromMdl(
        pair.client,
        VMBUS_CHANNEL_GPADL_FLAG_READ_ONLY,
        whole,
        4096,
        4096,
        ro,
      ),
      NTSTATUS.STATUS_SUCCESS,
    );
    assert.equal(
      st(VmbChannelMapGpadl(pair.server, 0, ro.value!, {})),
      'STATUS_INVALID_DEVICE_REQUEST',
      'a read-only GPADL mapped for write',
    );
    const roMdl: { value?: MemoryDescriptor[] } = {};
    assert.equal(
      VmbChannelMapGpadl(pair.server, VMBUS_CHANNEL_GPADL_FLAG_READ_ONLY, ro.value!, roMdl),
      NTSTATUS.STATUS_SUCCESS,
    );
    assert.equal(roMdl.value![0]!.byteLength, 4096);
    assert.deepEqual(roMdl.value![0]!.pfns, [pfns[1]]);
    assert.throws(() => roMdl.value![0]!.write(0, new Uint8Array(1)), TypeError);
    VmbChannelUnmapGpadl(pair.server, ro.value!);
    await VmbChannelDeleteGpadl(pair.client, ro.value!);
    assert.equal(pair.bus.partition.gpadlCount, ringGpadls);
    pair.bus.guest.pages.free(pfns);
    await pair.dispose();
  });
});

describe('the remaining routines', () => {
  it('answer the documented statuses', async () => {
    const bus = createLocalBus({ log: () => {} });
    const out: { value?: KmclChannel } = {};
    assert.equal(
      st(VmbChannelAllocate({ guest: bus.guest }, true, out)),
      'STATUS_INVALID_PARAMETER_1',
      'a server needs a host',
    );
    assert.equal(VmbChannelAllocate({ guest: bus.guest }, false, out), NTSTATUS.STATUS_SUCCESS);
    const c = out.value!;
    assert.equal(st(VmbChannelInitSetMaximumPacketSize(c, 0)), 'STATUS_INVALID_PARAMETER_2');
    assert.equal(st(VmbChannelInitSetMaximumExternalData(c, 0, 1)), 'STATUS_INVALID_PARAMETER_2');
    assert.equal(
      st(VmbChannelInitSetMaximumExternalData(c, 4096, 0)),
      'STATUS_INVALID_PARAMETER_3',
    );
    assert.equal(st(VmbChannelInitSetFlags(c, 0x2)), 'STATUS_INVALID_PARAMETER_2');
    assert.equal(VmbChannelInitSetFlags(c, 0x1), NTSTATUS.STATUS_SUCCESS);
    assert.equal(
      st(VmbChannelInitSetFriendlyName(c, 'x'.repeat(256))),
      'STATUS_INVALID_PARAMETER_2',
    );
    assert.equal(VmbChannelInitSetFriendlyName(c, 'SCSI'), NTSTATUS.STATUS_SUCCESS);
    assert.equal(VmbChannelInitSetClientContextSize(c, 32), NTSTATUS.STATUS_SUCCESS);
    assert.equal(
      st(VmbClientChannelInitSetRingBufferPageCount(c, 1, 4)),
      'STATUS_INVALID_PARAMETER_2',
    );
    assert.equal(
      st(VmbClientChannelInitSetTargetPnp(c, 'not a guid')),
      'STATUS_INVALID_PARAMETER_2',
    );
    assert.equal(
      st(VmbServerChannelInitSetFlags(c, 0)),
      'STATUS_INVALID_PARAMETER_1',
      'server-only on a client',
    );
    const s = new KmclChannel({ host: bus.host, partition: bus.partition }, true);
    assert.equal(st(VmbServerChannelInitSetFlags(s, 0x20)), 'STATUS_INVALID_PARAMETER_2');
    assert.equal(st(VmbServerChannelInitSetTargetVtl(s, 3)), 'STATUS_INVALID_PARAMETER_2');
    assert.equal(st(VmbServerChannelInitSetMmioMegabytes(s, 0, 0)), 'STATUS_INVALID_PARAMETER');
    assert.equal(
      st(VmbServerChannelInitSetTargetInterfaceId(s, 'x', 'y')),
      'STATUS_INVALID_PARAMETER_2',
    );
    assert.equal(
      st(VmbClientChannelInitSetRingBufferPageCount(s, 4, 4)),
      'STATUS_INVALID_PARAMETER_1',
      'client-only on a server',
    );
    const kernel: { value?: KmclVmbusHandle } = {};
    assert.equal(
      st(VmbConvertVmbusHandleToKernelHandle({} as never, kernel)),
      'STATUS_INVALID_HANDLE',
    );
    assert.equal(
      VmbConvertVmbusHandleToKernelHandle(bus.partition, kernel),
      NTSTATUS.STATUS_SUCCESS,
    );
    assert.equal(VmbServerChannelInitSetVmbusHandle(s, kernel.value!), NTSTATUS.STATUS_SUCCESS);
    VmbChannelSetPointer(c, { mine: 1 });
    assert.deepEqual(VmbChannelGetPointer(c), { mine: 1 });
    bus.dispose();
  });

  it('reports the interface instance, MMIO space and interrupt latency while open', async () => {
    const pair = await createKmclPair({
      configureServer: (c) => VmbServerChannelInitSetMmioMegabytes(c, 16, 4),
    });
    const instance: { value?: Guid } = {};
    VmbChannelGetInterfaceInstance(pair.client, instance);
    assert.equal(instance.value, PAIR_INTERFACE_INSTANCE);
    const address: { value?: bigint } = {};
    const size: { value?: bigint } = {};
    VmbChannelGetMmioSpace(pair.client, address, size);
    assert.equal(size.value, 20n << 20n);
    assert.ok((address.value ?? 0n) > 0n);
    const old: { value?: number } = {};
    assert.equal(VmbChannelSetInterruptLatency(pair.client, 500, old), NTSTATUS.STATUS_SUCCESS);
    assert.equal(old.value, 0);
    assert.equal(VmbChannelSetInterruptLatency(pair.client, 100, old), NTSTATUS.STATUS_SUCCESS);
    assert.equal(old.value, 500);
    assert.equal(
      st(VmbChannelSetInterruptLatency(pair.server, 1, old)),
      'STATUS_INVALID_PARAMETER_1',
      'client only',
    );
    await pair.client.disable();
    VmbChannelGetMmioSpace(pair.client, address, size);
    assert.deepEqual([address.value, size.value], [0n, 0n], 'zeros when not open');
    assert.equal(
      st(VmbChannelSetInterruptLatency(pair.client, 1, old)),
      'STATUS_INVALID_DEVICE_STATE',
    );
    await pair.dispose();
  });
});

describe('save and restore', () => {
  it('round-trips a server channel with packets in flight, chunk by chunk', async () => {
    const held: KmclIncoming[] = [];
    const restored: number[] = [];
    const pair = await createKmclPair({
      configureClient: (c) => c.initSetProcessPacketCallbacks((_ch, p) => held.push(p)),
      configureServer: (c) =>
        VmbServerChannelInitSetSaveRestorePacketCallbacks(
          c,
          (_ch, packet, buf, size, needed) => {
            if (size === 0) {
              needed.value = 8;
              return NTSTATUS.STATUS_BUFFER_TOO_SMALL;
            }
            new DataView(buf.buffer, buf.byteOffset).setUint32(0, packet.pointer as number, true);
            return NTSTATUS.STATUS_SUCCESS;
          },
          (ch, lib, libSize, save) => {
            const p = VmbPacketAllocate(ch)!;
            const tag = new DataView(save.buffer, save.byteOffset).getUint32(0, true);
            VmbPacketSetCompletionRoutine(p, (_p, s, b) =>
              restored.push(tag * 1000 + (s === 0 ? b[0]! : -1)),
            );
            return VmbPacketRestore(p, lib, libSize);
          },
        ),
    });
    // The server sends three requests the client holds.
    for (let i = 1; i <= 3; i++) {
      const p = VmbPacketAllocate(pair.server)! as KmclPacket;
      p.pointer = i;
      VmbPacketSetCompletionRoutine(p, () =>
        assert.fail('the pre-save packet object must not complete'),
      );
      assert.equal(VmbPacketSend(p, Uint8Array.from([i]), 1, null, WAIT), NTSTATUS.STATUS_SUCCESS);
    }
    while (held.length < 3) await tick(1);
    assert.equal(VmbChannelSaveBegin(pair.server), NTSTATUS.STATUS_SUCCESS);
    const chunks: Uint8Array[] = [];
    const filled: { value?: number } = {};
    const required: { value?: number } = {};
    assert.equal(
      st(VmbChannelSaveContinue(pair.server, new Uint8Array(8), 8, filled, required)),
      'STATUS_BUFFER_TOO_SMALL',
    );
    assert.ok((required.value ?? 0) > 8);
    for (;;) {
      const buf = new Uint8Array(40);
      const s = VmbChannelSaveContinue(pair.server, buf, buf.length, filled, required);
      chunks.push(buf.slice(0, filled.value));
      if (s === NTSTATUS.STATUS_SUCCESS) break;
      assert.equal(st(s), 'STATUS_BUFFER_OVERFLOW');
    }
    VmbChannelSaveEnd(pair.server);
    assert.equal(chunks.length, 3, 'one record per 40-byte chunk');
    // The host "restarts": it forgets its transactions, then restores them.
    assert.equal(pair.server.forgetInFlight(), 3);
    for (const [i, chunk] of chunks.entries()) {
      const s = VmbChannelRestoreFromBuffer(pair.server, chunk, chunk.length);
      assert.equal(
        st(s),
        i < chunks.length - 1 ? 'STATUS_MORE_PROCESSING_REQUIRED' : 'STATUS_SUCCESS',
      );
      assert.equal(
        NT_SUCCESS(s),
        i === chunks.length - 1,
        'MORE_PROCESSING_REQUIRED has error severity',
      );
    }
    // The guest completes the original transactions: the restored packets finish.
    for (const [i, p] of held.entries())
      VmbChannelPacketComplete(p, Uint8Array.from([i + 10, 0, 0, 0, 0, 0, 0, 0]), 8);
    while (restored.length < 3) await tick(1);
    assert.deepEqual(restored.sort(), [1010, 2011, 3012]);
    assert.equal(
      st(VmbChannelRestoreFromBuffer(pair.server, new Uint8Array(8), 8)),
      'STATUS_INVALID_PARAMETER',
      'not a saved chunk',
    );
    await pair.dispose();
  });
});

describe('interface tables', () => {
  it('list the 41 client routines in the documented order, and the 14 server-only ones after them', () => {
    const names = (o: object) => Object.keys(o).filter((k) => k.startsWith('Vmb'));
    const client = names(KMCL_CLIENT_INTERFACE_V1);
    const serverOnly = names(KMCL_SERVER_ONLY_METHODS);
    const server = names(KMCL_SERVER_INTERFACE_V1);
    assert.equal(client.length, 41);
    assert.equal(serverOnly.length, 14);
    assert.deepEqual(server, [...client, ...serverOnly]);
    assert.equal(client[0], 'VmbChannelAllocate');
    assert.equal(client[27], 'VmbChannelSizeofPacket');
    assert.equal(client[35], 'VmbPacketInitialize');
    assert.equal(client[40], 'VmbPacketSetPointer');
    assert.equal(serverOnly[0], 'VmbChannelMapGpadl');
    assert.equal(serverOnly[13], 'VmbServerChannelInitSetVmbusHandle');
    for (const k of server)
      assert.equal(
        typeof (KMCL_SERVER_INTERFACE_V1 as unknown as Record<string, unknown>)[k],
        'function',
      );
    assert.equal(KMCL_CLIENT_INTERFACE_V1.Version, 1);
    assert.ok(KMCL_SERVER_INTERFACE_V1.Size < 0x10000, 'INTERFACE.Size is a USHORT');
  });

  it('defines the documented flag value and the NTSTATUS rules', () => {
    assert.equal(VMBUS_CHANNEL_PROCESS_PACKET_FLAG_EXTERNAL_DATA, 1);
    assert.equal(NT_SUCCESS(NTSTATUS.STATUS_PENDING), true);
    assert.equal(NT_SUCCESS(NTSTATUS.STATUS_BUFFER_OVERFLOW), false);
    assert.equal(NT_SUCCESS(NTSTATUS.STATUS_MORE_PROCESSING_REQUIRED), false);
    assert.equal(ntStatusName(0xc00000f1), 'STATUS_INVALID_PARAMETER_3');
  });
});

describe('every Init routine after Enable', () => {
  it('returns STATUS_INVALID_PARAMETER_1 and changes nothing', async () => {
    const pair = await createKmclPair();
    const { client, server } = pair;
    const before = { size: client.maximumPacketSize, name: client.friendlyName };
    const clientCalls: [string, () => number][] = [
      ['VmbChannelInitSetMaximumPacketSize', () => VmbChannelInitSetMaximumPacketSize(client, 100)],
      [
        'VmbChannelInitSetMaximumExternalData',
        () => VmbChannelInitSetMaximumExternalData(client, 100, 1),
      ],
      ['VmbChannelInitSetClientContextSize', () => VmbChannelInitSetClientContextSize(client, 8)],
      ['VmbChannelInitSetFriendlyName', () => VmbChannelInitSetFriendlyName(client, 'late')],
      ['VmbChannelInitSetFlags', () => VmbChannelInitSetFlags(client, 0)],
      [
        'VmbClientChannelInitSetRingBufferPageCount',
        () => VmbClientChannelInitSetRingBufferPageCount(client, 4, 4),
      ],
      [
        'VmbClientChannelInitSetTargetPnp',
        () => VmbClientChannelInitSetTargetPnp(client, PAIR_INTERFACE_INSTANCE),
      ],
    ];
    const serverCalls: [string, () => number][] = [
      ['VmbServerChannelInitSetFlags', () => VmbServerChannelInitSetFlags(server, 0)],
      [
        'VmbServerChannelInitSetTargetInterfaceId',
        () =>
          VmbServerChannelInitSetTargetInterfaceId(
            server,
            PAIR_INTERFACE_INSTANCE,
            PAIR_INTERFACE_INSTANCE,
          ),
      ],
      ['VmbServerChannelInitSetTargetVtl', () => VmbServerChannelInitSetTargetVtl(server, 0)],
      [
        'VmbServerChannelInitSetMmioMegabytes',
        () => VmbServerChannelInitSetMmioMegabytes(server, 1, 0),
      ],
      [
        'VmbServerChannelInitSetSaveRestorePacketCallbacks',
        () =>
          VmbServerChannelInitSetSaveRestorePacketCallbacks(
            server,
            () => 0,
            () => 0,
          ),
      ],
      [
        'VmbServerChannelInitSetVmbusHandle',
        () => VmbServerChannelInitSetVmbusHandle(server, { partition: pair.bus.partition }),
      ],
    ];
    for (const [name, call] of [...clientCalls, ...serverCalls]) {
      assert.equal(st(call()), 'STATUS_INVALID_PARAMETER_1', name);
    }
    assert.deepEqual({ size: client.maximumPacketSize, name: client.friendlyName }, before);
    assert.equal(client.isStarted && server.isStarted, true, 'both channels still run');
    await pair.dispose();
  });
});
