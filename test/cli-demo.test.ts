/**
 * `vmbus demo` as a user runs it: the guest partition in a worker, storage
 * and echo verified, the JSON summary, a disk image file, and bad options.
 */

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { cliPath } from './shared-paths.js';

function vmbus(...args: string[]) {
  return spawnSync(process.execPath, [cliPath, ...args], {
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1' },
    timeout: 120_000,
  });
}

describe('vmbus demo', () => {
  it('runs storage, echo and network traffic, verifies them and prints a JSON summary', () => {
    const r = vmbus('demo', '--seconds', '1', '--json');
    assert.equal(r.status, 0, r.stderr);
    const s = JSON.parse(r.stdout);
    assert.equal(s.verified, true);
    assert.ok(s.storage.ios > 100, `${s.storage.ios} storage requests`);
    assert.ok(s.echo.requests > 10);
    assert.equal(s.storage.verifyFailures, 0);
    assert.ok(s.storage.regionsVerified > 0);
    assert.ok(s.storage.latencyUs.p99 >= s.storage.latencyUs.p50);
    assert.equal(s.storage.protocol, '6.2');
    // Host-side ring counters: every request the host received got one completion back.
    for (const device of [s.storage, s.echo]) {
      const h = device.host;
      assert.ok(h.packetsIn > 0 && h.packetsIn === h.packetsOut, JSON.stringify(h));
      assert.ok(h.bytesIn > 0 && h.bytesOut > 0);
      assert.ok(h.interruptsSent > 0 && h.interruptsSent + h.interruptsSuppressed <= h.packetsOut);
      assert.ok(h.ringHighWaterBytes >= 24, 'at least one packet was in the ring');
    }
    assert.ok(s.storage.host.packetsIn >= s.storage.ios);
    // Network: pings and a bulk stream between the two guests' NICs, all of it received.
    const n = s.network;
    assert.equal(n.protocol, '6.1');
    assert.ok(n.frames > 100 && n.pings > 0, JSON.stringify(n));
    assert.equal(n.received, n.frames);
    assert.equal(n.verifyFailures + n.errors, 0);
    assert.equal(n.switch.learned, 2);
    assert.equal(n.switch.droppedPortFull + n.switch.droppedNoRoute, 0);
    assert.ok(n.pingUs.p99 >= n.pingUs.p50 && n.pingUs.p50 > 0);
    assert.ok(n.host.packetsIn > n.frames / 64, 'frames reached the host in packets');
  });

  it('serves a disk image file it creates', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vmbus-demo-'));
    const disk = join(dir, 'disk.img');
    const r = vmbus('demo', '--seconds', '1', '--disk', disk, '--create', '8M');
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /every device verified its data/);
    assert.match(r.stdout, /network \(NVSP 6\.1, ping\)/);
    assert.match(r.stdout, /packets in\/out .* irq suppressed .* out ring high-water/);
    assert.equal(statSync(disk).size, 8 << 20);
  });

  it('stops cleanly on Ctrl-C and still prints the summary', async () => {
    const child = spawn(process.execPath, [cliPath, 'demo', '--seconds', '60', '--json'], {
      env: { ...process.env, NO_COLOR: '1' },
    });
    let stdout = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    await new Promise((r) => setTimeout(r, 2500));
    const t0 = Date.now();
    child.kill('SIGINT');
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    assert.ok(Date.now() - t0 < 20_000, 'it stopped long before its 60 s');
    assert.equal(code, 0);
    const s = JSON.parse(stdout);
    assert.equal(s.verified, true);
    assert.ok(s.seconds < 30);
  });

  it('refuses bad options with one line and exit 2', () => {
    for (const args of [
      ['demo', '--seconds', 'x'],
      ['demo', '--queue-depth', '0'],
      ['demo', '--create', '1M'],
      ['demo', '--disk', join(tmpdir(), 'no-such-dir-vmbus', 'x.img')],
      ['demo', '--bogus'],
    ]) {
      const r = vmbus(...args);
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.equal(r.stderr.trim().split('\n').length, 1);
      assert.equal(r.stdout, '');
    }
    assert.equal(existsSync(join(tmpdir(), 'no-such-dir-vmbus')), false);
  });
});

describe('vmbus bench', () => {
  it('runs a filtered case beside its baseline and prints JSON lines', () => {
    const r = vmbus(
      'bench',
      '--filter',
      'ring/same-thread/64B$',
      '--seconds',
      '0.05',
      '--runs',
      '1',
      '--json',
    );
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.deepEqual(
      lines.map((l) => l.case),
      ['ring/same-thread/64B/naive', 'ring/same-thread/64B'],
    );
    assert.ok(lines[1].packetsPerSec > 0 && lines[1].ratio > 0);
    assert.equal(lines[1].baseline, 'ring/same-thread/64B/naive');
  });

  it('refuses a bad filter with one line and exit 2', () => {
    const r = vmbus('bench', '--filter', '(');
    assert.equal(r.status, 2);
    assert.match(r.stderr, /^vmbus: --filter/);
  });
});
