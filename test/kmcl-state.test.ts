/**
 * The KMCL state model (API.md §2): the callback order on both sides, the
 * server's explicit Start, Pause and Start, peer close and reopen, rescind,
 * a refused Opened, packets queued before Opened, and what each state
 * refuses.
 */

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  createKmclPair,
  createLocalBus,
  KmclChannel,
  NTSTATUS,
  ntStatusName,
  PAIR_INTERFACE_INSTANCE,
  PAIR_INTERFACE_TYPE,
  VMB_CHANNEL_STATE_CHANGE_CALLBACKS_INIT,
  VmbChannelCleanup,
  VmbChannelEnable,
  VmbChannelInitSetMaximumPacketSize,
  VmbChannelInitSetStateChangeCallbacks,
  VmbChannelPause,
  VmbChannelStart,
  VmbPacketAllocate,
  VmbPacketSend,
  VmbPacketSetCompletionRoutine,
  VMBUS_CHANNEL_FORMAT_FLAG_WAIT_FOR_COMPLETION as WAIT,
} from 'vmbus-kmcl';
import { until, tick as waitTick } from './wait.js';

const tick = (ms = 5) => waitTick(ms);
const events = (c: KmclChannel) => c.history.filter((h) => h.startsWith('Evt'));

describe('state model', () => {
  it('runs Opened, Started, PostStarted on both sides; Disable runs Suspend then Closed', async () => {
    const pair = await createKmclPair();
    assert.deepEqual(events(pair.client), [
      'EvtChannelOpened',
      'EvtChannelStarted',
      'EvtChannelPostStarted',
    ]);
    assert.deepEqual(events(pair.server), [
      'EvtChannelOpened',
      'EvtChannelStarted',
      'EvtChannelPostStarted',
    ]);
    await pair.client.disable();
    await until(() => pair.server.state === 'closed', 'the server to see the close');
    assert.deepEqual(events(pair.client).slice(3), ['EvtChannelSuspend', 'EvtChannelClosed']);
    assert.deepEqual(events(pair.server).slice(3), ['EvtChannelSuspend', 'EvtChannelClosed']);
    assert.equal(pair.client.state, 'disabled', 'a client ends disabled');
    assert.equal(pair.server.state, 'closed', 'a server ends closed when the guest closed');
    // The guest can open again: the server sees a second Opened.
    pair.client.enable();
    await until(() => pair.server.isStarted && pair.client.isStarted, 'the reopen');
    assert.equal(events(pair.server).filter((e) => e === 'EvtChannelOpened').length, 2);
    await pair.dispose();
  });

  it('the server runs Started only after an explicit Start', async () => {
    const pair = await createKmclPair({ startServer: false, waitForStart: false });
    await until(() => pair.client.isStarted, 'the client start');
    await tick(10);
    assert.equal(pair.server.state, 'opened');
    assert.equal(pair.server.isStarted, false);
    assert.deepEqual(events(pair.server), ['EvtChannelOpened']);
    VmbChannelStart(pair.server);
    await until(() => pair.server.isStarted, 'the server start');
    assert.deepEqual(events(pair.server), [
      'EvtChannelOpened',
      'EvtChannelStarted',
      'EvtChannelPostStarted',
    ]);
    await pair.dispose();
  });

  it('Pause suspends and waits for outstanding packets; Start resumes', async () => {
    let held: (() => void) | null = null;
    const pair = await createKmclPair({
      configureServer: (c) =>
        c.initSetProcessPacketCallbacks((ch, p) => {
          held = () => ch.completePacket(p, null, 0);
        }),
    });
    const packet = VmbPacketAllocate(pair.client)!;
    VmbPacketSend(packet, new Uint8Array(8), 8, null, WAIT);
    await until(() => held !== null, 'delivery');
    let paused = false;
    const pausing = VmbChannelPause(pair.server).then(() => {
      paused = true;
    });
    await tick(10);
    assert.equal(paused, false, 'Pause waits for the outstanding packet');
    assert.equal(events(pair.server).at(-1), 'EvtChannelSuspend');
    (held as unknown as () => void)();
    await pausing;
    assert.equal(pair.server.isPaused, true);
    VmbChannelStart(pair.server);
    await until(() => pair.server.isStarted, 'restart');
    assert.deepEqual(events(pair.server).slice(-2), ['EvtChannelStarted', 'EvtChannelPostStarted']);
    await pair.dispose();
  });

  it('the server disabling rescinds: the client suspends, closes and ends disabled', async () => {
    const pair = await createKmclPair();
    await pair.server.disable();
    await until(() => pair.client.state === 'disabled', 'the client to close');
    assert.deepEqual(events(pair.client).slice(3), ['EvtChannelSuspend', 'EvtChannelClosed']);
    assert.equal(pair.server.state, 'disabled');
    await pair.dispose();
  });

  it('a client that finds its ring damaged closes the channel on the bus: the host sees it closed, no GPADL leaks', async () => {
    const pair = await createKmclPair();
    try {
      const gpadls = pair.bus.partition.gpadlCount;
      assert.ok(gpadls > 0);
      const pipe = pair.server.dataPath!;
      await pair.server.pause();
      // The host → guest write index past the end of the ring, then an interrupt.
      pipe.outgoing.memory.control.writeIndex = pipe.outgoing.memory.dataSize + 8;
      pipe.notifyPeer();
      await until(() => pair.client.state === 'disabled', 'the client to close');
      assert.ok(pair.client.history.includes('peer closed (corrupt)'));
      const offer = [...pair.bus.partition.offers.values()][0]!;
      await until(() => offer.state === 'offered', 'the host to see the channel closed');
      assert.equal(pair.bus.partition.gpadlCount, gpadls - 1, 'the ring GPADL is gone');
      assert.deepEqual(events(pair.client).slice(-2), ['EvtChannelSuspend', 'EvtChannelClosed']);
    } finally {
      await pair.dispose();
    }
  });

  it('a failed EvtChannelOpened refuses the open and rolls back (no Closed)', async () => {
    const bus = createLocalBus({ log: () => {} });
    const server = new KmclChannel({ host: bus.host, partition: bus.partition }, true);
    const cb = VMB_CHANNEL_STATE_CHANGE_CALLBACKS_INIT();
    cb.EvtChannelOpened = () => NTSTATUS.STATUS_INSUFFICIENT_RESOURCES;
    server.initSetStateChangeCallbacks(cb);
    server.initSetTargetInterfaceId(PAIR_INTERFACE_TYPE, PAIR_INTERFACE_INSTANCE);
    server.initSetProcessPacketCallbacks(() => {});
    server.enable();
    server.start();
    const client = new KmclChannel({ guest: bus.guest }, false);
    let failure = 0;
    client.initSetTargetPnp(PAIR_INTERFACE_TYPE, null, (_c, s) => {
      failure = s;
    });
    client.initSetProcessPacketCallbacks(() => {});
    await bus.guest.connect();
    await bus.guest.requestOffers();
    client.enable();
    await until(() => failure !== 0, 'the PnP failure');
    assert.equal(ntStatusName(failure), 'STATUS_INSUFFICIENT_RESOURCES');
    assert.equal(client.state, 'disabled');
    assert.deepEqual(events(server), ['EvtChannelOpened']);
    assert.equal(bus.guest.pages.allocatedPages, 0);
    bus.dispose();
  });

  it('packets sent before Opened are queued and sent in order once started', async () => {
    const got: number[] = [];
    const pair = await createKmclPair({
      waitForStart: false,
      startServer: false,
      configureServer: (c) =>
        c.initSetProcessPacketCallbacks((ch, p, buf) => {
          got.push(buf[0]!);
          ch.completePacket(p, null, 0);
        }),
    });
    await until(() => pair.client.isStarted, 'client start');
    for (let i = 0; i < 5; i++) {
      const p = VmbPacketAllocate(pair.client)!;
      VmbPacketSend(p, new Uint8Array([i]), 1, null, WAIT);
    }
    await tick(10);
    assert.deepEqual(got, [], 'the server is not started: its queue holds them');
    VmbChannelStart(pair.server);
    await until(() => got.length === 5, 'delivery');
    assert.deepEqual(got, [0, 1, 2, 3, 4]);
    // Before Enable at all: queued on the client itself.
    const early = new KmclChannel({ guest: pair.bus.guest }, false);
    early.initSetProcessPacketCallbacks(() => {});
    early.initSetTargetPnp(PAIR_INTERFACE_TYPE, null);
    const q = VmbPacketAllocate(early)!;
    let status = -1;
    VmbPacketSetCompletionRoutine(q, (_p, s) => {
      status = s;
    });
    assert.equal(VmbPacketSend(q, new Uint8Array(1), 1, null, 0), NTSTATUS.STATUS_SUCCESS);
    assert.equal(early.queuedPackets, 1);
    VmbChannelCleanup(early);
    assert.equal(ntStatusName(status), 'STATUS_CANCELLED', 'Cleanup cancels what never went out');
    await pair.dispose();
  });

  it('refuses Init* after Enable, Cleanup while enabled, Start and Pause inside a state callback', async () => {
    const results: string[] = [];
    const pair = await createKmclPair({
      configureClient: (_c, cb) => {
        cb.EvtChannelStarted = (ch) => {
          try {
            ch.start();
          } catch (e) {
            results.push((e as Error).message);
          }
          void VmbChannelPause(ch);
        };
      },
    });
    assert.equal(results.length, 1, 'Start inside Started threw');
    assert.equal(pair.client.stats.misuse, 1, 'Pause inside Started was refused');
    assert.equal(pair.client.isStarted, true, 'the channel is not corrupted');
    assert.equal(
      ntStatusName(VmbChannelInitSetMaximumPacketSize(pair.client, 100)),
      'STATUS_INVALID_PARAMETER_1',
    );
    assert.equal(
      ntStatusName(
        VmbChannelInitSetStateChangeCallbacks(
          pair.client,
          VMB_CHANNEL_STATE_CHANGE_CALLBACKS_INIT(),
        ),
      ),
      'STATUS_INVALID_PARAMETER_1',
    );
    assert.equal(
      ntStatusName(VmbChannelEnable(pair.client)),
      'STATUS_INVALID_DEVICE_STATE',
      'Enable twice',
    );
    VmbChannelCleanup(pair.client);
    assert.equal(pair.client.stats.misuse, 2, 'Cleanup of an enabled channel was refused');
    assert.equal(pair.client.state, 'opened');
    await pair.dispose();
  });

  it('rejects a callbacks structure with the wrong Version or Size', () => {
    const bus = createLocalBus({ log: () => {} });
    const c = new KmclChannel({ guest: bus.guest }, false);
    const cb = VMB_CHANNEL_STATE_CHANGE_CALLBACKS_INIT();
    cb.Size = 40;
    assert.equal(
      ntStatusName(VmbChannelInitSetStateChangeCallbacks(c, cb)),
      'STATUS_INVALID_PARAMETER_2',
    );
    cb.Size = 48;
    cb.Version = 2;
    assert.equal(
      ntStatusName(VmbChannelInitSetStateChangeCallbacks(c, cb)),
      'STATUS_INVALID_PARAMETER_2',
    );
    bus.dispose();
  });
});
