/**
 * The echo device of docs/getting-started.md: version handshake, echoes of
 * every size, and an echo before the handshake stopping the channel.
 */

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  createLocalBus,
  ECHO_INTERFACE_TYPE,
  ECHO_MAX_PAYLOAD,
  ECHO_OP_ECHO,
  EchoVsc,
  EchoVsp,
  KmclChannel,
  NTSTATUS,
  ntStatusName,
  VMBUS_CHANNEL_FORMAT_FLAG_WAIT_FOR_COMPLETION as WAIT,
} from 'vmbus-kmcl';

describe('echo device', () => {
  it('negotiates the version, then echoes 0 to 4088 bytes', async () => {
    const bus = createLocalBus({ log: () => {} });
    const vsp = new EchoVsp(bus.host, bus.partition);
    vsp.start();
    await bus.guest.connect();
    await bus.guest.requestOffers();
    const echo = new EchoVsc(bus.guest);
    await echo.connect();
    for (const size of [0, 1, 7, 8, 100, 4000, ECHO_MAX_PAYLOAD]) {
      const bytes = Uint8Array.from({ length: size }, (_, i) => (i * 7 + size) & 255);
      assert.deepEqual(await echo.echo(bytes), bytes, `${size} bytes`);
    }
    assert.equal(vsp.echoes, 7);
    await assert.rejects(echo.echo(new Uint8Array(ECHO_MAX_PAYLOAD + 1)), RangeError);
    await echo.close();
    bus.dispose();
  });

  it('an echo before the version handshake stops the channel (no answer)', async () => {
    const bus = createLocalBus({ log: () => {} });
    new EchoVsp(bus.host, bus.partition).start();
    await bus.guest.connect();
    await bus.guest.requestOffers();
    const raw = new KmclChannel({ guest: bus.guest }, false);
    raw.initSetTargetPnp(ECHO_INTERFACE_TYPE, null);
    raw.initSetProcessPacketCallbacks((c, p) => c.completePacket(p, null, 0));
    const started = new Promise<void>((r) =>
      raw.initSetStateChangeCallbacks({ Version: 1, Size: 48, EvtChannelPostStarted: () => r() }),
    );
    raw.enable();
    await started;
    const request = new Uint8Array(12);
    new DataView(request.buffer).setUint32(0, ECHO_OP_ECHO, true);
    new DataView(request.buffer).setUint32(4, 4, true);
    const status = await raw.sendSynchronousRequest(
      request,
      12,
      null,
      WAIT,
      new Uint8Array(16),
      { value: 16 },
      -2_000_000n,
    );
    assert.equal(ntStatusName(status), 'STATUS_CANCELLED');
    assert.notEqual(status, NTSTATUS.STATUS_SUCCESS);
    bus.dispose();
  });
});
