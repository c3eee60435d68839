/**
 * `vmbus ui` over HTTP (issue 8): by default the server only serves the page
 * and the bus's worker bundles with the cross-origin isolation headers (the
 * bus runs in the browser); with `--bus node` it runs the live bus, streams
 * the state and acts on channels (pause, start, corrupt, drop and raise an
 * interrupt, the workload rate); `--image` shows a ring image and marks its
 * damage; bad input is a one-line error. The page itself, with the bus in
 * its workers, is driven in a real browser by ui-browser.test.ts.
 */

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { cliPath, ringVectors } from './shared-paths.js';
import { startUi, stopAll } from './ui-server.js';

after(stopAll);

type ChannelView = {
  partition: string;
  relid: number;
  device: string;
  state: string;
  kmcl: { paused: boolean; history: string[] } | null;
  counters: { interruptsDropped: number; packetsSent: number } | null;
  dropping: number;
  rings: {
    toGuest: { writeIndex: number; readIndex: number };
    toHost: { writeIndex: number };
  } | null;
};

const state = async (url: string) =>
  (await (await fetch(`${url}state`)).json()) as { mode: string; channels: ChannelView[] };

describe('vmbus ui', { timeout: 60_000 }, () => {
  it('by default serves the page and the bus workers, isolated, for a bus in the browser', async () => {
    const { url, child } = await startUi();
    for (const file of ['', 'app.js', 'host-worker.js', 'guest-worker.js']) {
      const r = await fetch(`${url}${file}`);
      assert.equal(r.status, 200, file);
      assert.equal(r.headers.get('cross-origin-opener-policy'), 'same-origin');
      assert.equal(r.headers.get('cross-origin-embedder-policy'), 'require-corp');
      if (file) assert.match(r.headers.get('content-type') ?? '', /javascript/);
      await r.arrayBuffer();
    }
    assert.deepEqual(await (await fetch(`${url}state`)).json(), { mode: 'browser', fps: 5 });
    assert.equal((await fetch(`${url}events`)).status, 404, 'no bus here to stream');
    assert.equal(
      (await fetch(`${url}api/channel/0/1/pause`, { method: 'POST' })).status,
      404,
      'no bus here to act on',
    );
    child.kill('SIGINT');
  });

  it('--bus node: serves the page and its bundle, isolated, and the live channels move', async () => {
    const { url, child } = await startUi('--bus', 'node');
    const page = await fetch(url);
    assert.equal(page.status, 200);
    assert.equal(page.headers.get('cross-origin-opener-policy'), 'same-origin');
    assert.equal(page.headers.get('cross-origin-embedder-policy'), 'require-corp');
    assert.match(await page.text(), /<script type="module" src="\/app.js">/);
    const js = await fetch(`${url}app.js`);
    assert.equal(js.status, 200);
    assert.match(js.headers.get('content-type') ?? '', /javascript/);
    assert.ok((await js.text()).includes('EventSource'));
    // Wait for the guests to open their devices.
    let s = await state(url);
    for (let i = 0; i < 50 && s.channels.filter((c) => c.state === 'open').length < 5; i++) {
      await new Promise((r) => setTimeout(r, 100));
      s = await state(url);
    }
    const devices = s.channels.map((c) => c.device).sort();
    assert.deepEqual(devices, ['echo', 'network', 'network', 'storage', 'storage']);
    assert.ok(s.channels.every((c) => c.state === 'open' && c.rings !== null));
    // Each channel's GPADLs: its rings', and a NIC's mapped receive and send buffers.
    type Gpadl = { rings: boolean; mapped: boolean; pages: number };
    const gpadlsOf = (device: string) =>
      (s.channels.find((c) => c.device === device) as unknown as { channelGpadls: Gpadl[] })
        .channelGpadls;
    assert.deepEqual(
      gpadlsOf('echo').map((g) => g.rings),
      [true],
    );
    // (the NIC's buffers come a little after its channel opens)
    const buffers = () =>
      gpadlsOf('network').filter((g) => !g.rings && g.mapped && g.pages > 0).length;
    for (let i = 0; i < 50 && buffers() < 2; i++) {
      await new Promise((r) => setTimeout(r, 100));
      s = await state(url);
    }
    assert.equal(gpadlsOf('network').filter((g) => g.rings).length, 1);
    assert.ok(buffers() >= 2, 'the NIC buffers');
    const sum = (x: { channels: ChannelView[] }) =>
      x.channels.reduce(
        (n, c) => n + (c.rings?.toGuest.writeIndex ?? 0) + (c.rings?.toHost.writeIndex ?? 0),
        0,
      );
    const before = sum(s);
    await new Promise((r) => setTimeout(r, 300));
    assert.notEqual(sum(await state(url)), before, 'the indices move while the workload runs');
    // The event stream carries the same state.
    const events = await fetch(`${url}events`);
    const reader = events.body!.getReader();
    const chunk = new TextDecoder().decode((await reader.read()).value);
    assert.match(chunk, /^data: \{"mode":"live"/);
    await reader.cancel();
    child.kill('SIGINT');
  });

  it('--bus node: pauses a channel, starts it, drops and raises an interrupt, limits the workload, and shows an injected ring fault', async () => {
    const { url, child } = await startUi('--bus', 'node');
    let s = await state(url);
    for (
      let i = 0;
      i < 50 && !s.channels.some((c) => c.device === 'echo' && c.state === 'open');
      i++
    ) {
      await new Promise((r) => setTimeout(r, 100));
      s = await state(url);
    }
    const echo = s.channels.find((c) => c.device === 'echo')!;
    const post = (action: string) =>
      fetch(`${url}api/channel/0/${echo.relid}/${action}`, { method: 'POST' });
    assert.equal((await post('pause')).status, 200);
    const paused = (await state(url)).channels.find(
      (c) => c.relid === echo.relid && c.partition === echo.partition,
    )!;
    assert.equal(paused.kmcl?.paused, true);
    const reads = async () =>
      (await state(url)).channels.find(
        (c) => c.relid === echo.relid && c.partition === echo.partition,
      )!.rings!.toGuest.writeIndex;
    const a = await reads();
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(await reads(), a, 'a paused channel sends nothing');
    assert.equal((await post('start')).status, 200);
    await new Promise((r) => setTimeout(r, 300));
    assert.notEqual(await reads(), a, 'started again, it moves');
    assert.equal((await fetch(`${url}api/channel/0/999/pause`, { method: 'POST' })).status, 404);
    assert.equal((await post('explode')).status, 404, 'an unknown action');
    // A dropped interrupt: the guest misses the host's next packets and the channel stalls...
    const echoNow = async () =>
      (await state(url)).channels.find(
        (c) => c.relid === echo.relid && c.partition === echo.partition,
      )!;
    assert.equal((await post('drop-interrupt')).status, 200);
    for (let i = 0; i < 50 && (await echoNow()).counters!.interruptsDropped === 0; i++)
      await new Promise((r) => setTimeout(r, 50));
    assert.equal((await echoNow()).counters!.interruptsDropped, 1);
    // The host may still answer what the guest had already sent (no new
    // interrupt is due for a ring that is not empty); then nothing moves.
    await new Promise((r) => setTimeout(r, 300));
    const stalled = await echoNow();
    await new Promise((r) => setTimeout(r, 500));
    assert.equal((await echoNow()).counters!.packetsSent, stalled.counters!.packetsSent, 'stalled');
    // ... until an interrupt comes.
    assert.equal((await post('interrupt')).status, 200);
    await new Promise((r) => setTimeout(r, 300));
    assert.ok(
      (await echoNow()).counters!.packetsSent > stalled.counters!.packetsSent,
      'moving again',
    );
    // The workload rate.
    assert.equal((await fetch(`${url}api/rate/0`, { method: 'POST' })).status, 200);
    assert.equal(((await state(url)) as unknown as { rate: number }).rate, 0);
    await new Promise((r) => setTimeout(r, 200));
    const held = (await echoNow()).counters!.packetsSent;
    await new Promise((r) => setTimeout(r, 300));
    assert.equal((await echoNow()).counters!.packetsSent, held, 'a held workload sends nothing');
    assert.equal((await fetch(`${url}api/rate/max`, { method: 'POST' })).status, 200);
    await new Promise((r) => setTimeout(r, 300));
    assert.ok((await echoNow()).counters!.packetsSent > held, 'released, it runs again');
    assert.equal((await fetch(`${url}api/rate/fast`, { method: 'POST' })).status, 404);
    // Fault injection: a corrupted write index shows as the ring's typed error.
    assert.equal((await post('corrupt')).status, 200);
    // (kept on the channel: the guest closes the damaged channel at once, and its rings go)
    const damaged = (await echoNow()) as ChannelView & { fault?: { code: string; offset: number } };
    assert.equal(damaged.fault?.code, 'VMBUS_RING_BAD_WRITE_INDEX');
    // The guest's reaction: it closes the damaged channel, and the host sees it closed.
    for (let i = 0; i < 50 && (await echoNow()).state === 'open'; i++)
      await new Promise((r) => setTimeout(r, 50));
    assert.equal((await echoNow()).state, 'offered');
    child.kill('SIGINT');
  });

  it('shows every damaged ring vector with its damage marked', async () => {
    const dir = join(ringVectors(), 'bad');
    const images = readdirSync(dir).filter((f) => f.endsWith('.img'));
    assert.ok(images.length >= 5);
    for (const name of images) {
      const { url, child } = await startUi('--image', join(dir, name));
      const s = (await (await fetch(`${url}state`)).json()) as {
        mode: string;
        ring: { error?: { code: string; offset: number } };
      };
      assert.equal(s.mode, 'image');
      assert.ok(s.ring.error, `${name} is marked damaged`);
      assert.match(s.ring.error!.code, /^[A-Z0-9_]+$/);
      child.kill('SIGINT');
    }
  });

  it('refuses a port in use with one line and exit 2', async () => {
    const { url, child } = await startUi(
      '--image',
      join(ringVectors(), 'bad', 'bad-len8-zero.img'),
    );
    const port = new URL(url).port;
    const r = spawnSync(process.execPath, [cliPath, 'ui', '--port', port], {
      encoding: 'utf8',
      timeout: 30_000,
    });
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /EADDRINUSE/);
    assert.equal(r.stderr.trim().split('\n').length, 1);
    child.kill('SIGINT');
  });

  it('refuses a missing image, a bad port and a bad --bus with one line and exit 2', () => {
    for (const args of [
      ['--image', '/nonexistent/ring.img'],
      ['--port', 'eighty'],
      ['--bus', 'cloud'],
    ]) {
      const r = spawnSync(process.execPath, [cliPath, 'ui', ...args], {
        encoding: 'utf8',
        timeout: 30_000,
      });
      assert.equal(r.status, 2, r.stderr);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.equal(r.stdout, '');
    }
  });
});
