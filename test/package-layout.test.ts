/**
 * The package as a user sees it: every subpath export resolves with its
 * types listed before its code, the root export re-exports the layers, no
 * module below the command-line layer imports a `node:` module (so the
 * library runs in a browser), and no layer imports a layer above it.
 */

import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';
import { repoRoot } from './shared-paths.js';

const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8'));

/** Layer order, lowest first (README's architecture section). */
const LAYERS = [
  'status',
  'protocol',
  'memory',
  'ring',
  'signal',
  'bus',
  'kmcl',
  'devices',
  'node',
  'web',
  'demo',
  'cli',
];
const RANK: Record<string, number> = {
  status: 0,
  protocol: 1,
  memory: 1,
  ring: 2,
  signal: 2,
  bus: 3,
  kmcl: 4,
  devices: 5,
  node: 6,
  web: 6,
  demo: 7,
  cli: 9,
};

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory()
      ? sources(join(dir, e.name))
      : e.name.endsWith('.ts')
        ? [join(dir, e.name)]
        : [],
  );
}

describe('package layout', () => {
  it('exports every layer with types first', async () => {
    for (const sub of [
      '.',
      './ring',
      './protocol',
      './bus',
      './memory',
      './kmcl',
      './node',
      './web',
    ]) {
      const entry = pkg.exports[sub];
      assert.deepEqual(
        Object.keys(entry),
        ['types', 'default'],
        `${sub} lists types before default`,
      );
    }
    const root = await import('vmbus-kmcl');
    const ring = await import('vmbus-kmcl/ring');
    const protocol = await import('vmbus-kmcl/protocol');
    assert.equal(root.OutgoingRing, ring.OutgoingRing);
    assert.equal(root.PACKET_TYPE_GPA_DIRECT, protocol.PACKET_TYPE_GPA_DIRECT);
    assert.equal(typeof root.VmbusError, 'function');
    assert.equal(typeof root.EventWord, 'function');
    assert.equal(root.VmbusHost, (await import('vmbus-kmcl/bus')).VmbusHost);
    assert.equal(root.GuestMemory, (await import('vmbus-kmcl/memory')).GuestMemory);
    assert.equal(typeof (await import('vmbus-kmcl/node')).startGuestWorker, 'function');
    assert.equal('startGuestWorker' in root, false, 'the root export stays free of node: modules');
    assert.equal(typeof (await import('vmbus-kmcl/web')).startWebGuestWorker, 'function');
  });

  it('declares the vmbus command and Node 20 as the floor', () => {
    assert.equal(pkg.bin.vmbus, 'dist/src/cli/main.js');
    assert.equal(pkg.engines.node, '>=20');
    assert.equal(pkg.type, 'module');
  });

  it('imports node: modules only in the command-line layer', () => {
    for (const file of sources(join(repoRoot, 'src'))) {
      const rel = relative(join(repoRoot, 'src'), file);
      if (rel.startsWith('cli/') || rel.startsWith('node/') || rel.endsWith('.test.ts')) continue;
      const text = readFileSync(file, 'utf8');
      assert.doesNotMatch(text, /from ['"]node:/, `${rel} imports a node: module`);
      assert.doesNotMatch(text, /\bprocess\./, `${rel} uses process`);
    }
  });

  it('never imports a higher layer', () => {
    for (const file of sources(join(repoRoot, 'src'))) {
      const rel = relative(join(repoRoot, 'src'), file);
      const layer = rel.split('/')[0] ?? '';
      if (!LAYERS.includes(layer)) continue;
      for (const m of readFileSync(file, 'utf8').matchAll(/from '(?:\.\.\/)+([a-z-]+)\//g)) {
        const target = m[1] ?? '';
        assert.ok(
          (RANK[target] ?? 99) <= (RANK[layer] ?? -1),
          `${rel} imports the higher layer ${target}`,
        );
        assert.ok(
          !(layer === 'ring' && target === 'signal') && !(layer === 'signal' && target === 'ring'),
          `${rel}: ring and signal are independent`,
        );
      }
    }
  });
});
