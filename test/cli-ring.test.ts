/**
 * `vmbus ring` end to end, as a user runs it: every shared vector through
 * encode and decode, the damaged ones through decode and dump, and each kind
 * of bad input (one line on stderr, exit 2, no output file).
 */

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { cliPath, ringVectors } from './shared-paths.js';

const ringVectorsDir = ringVectors();

function vmbus(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [cliPath, ...args], {
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1' },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const work = mkdtempSync(join(tmpdir(), 'vmbus-cli-'));

function vectors(group: string): string[] {
  return readdirSync(join(ringVectorsDir, group))
    .filter((n) => n.endsWith('.json'))
    .sort()
    .map((n) => join(ringVectorsDir, group, n));
}

describe('vmbus ring encode/decode on the good vectors', () => {
  for (const group of ['edge', 'random']) {
    for (const specPath of vectors(group)) {
      const name = specPath.slice(specPath.lastIndexOf('/') + 1, -5);
      it(`${group}/${name}`, () => {
        const spec = JSON.parse(readFileSync(specPath, 'utf8'));
        const out = join(work, `${name}.img`);
        const enc = vmbus('ring', 'encode', specPath, out);
        assert.equal(enc.status, 0, enc.stderr);
        const encJson = JSON.parse(enc.stdout);
        assert.deepEqual(encJson.results, spec.expect.results);
        const expected = readFileSync(specPath.replace(/\.json$/, '.img'));
        assert.ok(readFileSync(out).equals(expected), 'image differs from the vector');
        assert.equal(encJson.writeIndex, expected.readUInt32LE(0));
        assert.equal(encJson.readIndex, expected.readUInt32LE(4));

        const dec = vmbus('ring', 'decode', specPath.replace(/\.json$/, '.img'));
        assert.equal(dec.status, 0, dec.stderr);
        const decJson = JSON.parse(dec.stdout);
        assert.deepEqual(decJson, {
          packets: spec.expect.packets,
          readIndex: spec.expect.readIndex,
          writeIndex: spec.expect.writeIndex,
        });
      });
    }
  }
});

describe('vmbus ring decode/dump on the damaged vectors', () => {
  for (const specPath of vectors('bad')) {
    const spec = JSON.parse(readFileSync(specPath, 'utf8'));
    const image = join(ringVectorsDir, 'bad', spec.image);
    it(spec.image, () => {
      const before = readFileSync(image);
      const dec = vmbus('ring', 'decode', image);
      assert.equal(dec.status, 3);
      const json = JSON.parse(dec.stdout);
      assert.equal(json.packets.length, spec.expect.packetsBeforeError);
      assert.match(json.error.code, /^VMBUS_/);
      assert.equal(typeof json.error.reason, 'string');
      assert.equal(typeof json.error.offset, 'number');
      const dump = vmbus('ring', 'dump', image);
      assert.equal(dump.status, 3);
      assert.match(dump.stdout, /damage at offset/);
      assert.ok(dump.stdout.includes(json.error.code));
      assert.ok(readFileSync(image).equals(before), 'the image was modified');
    });
  }
});

describe('vmbus ring dump', () => {
  it('shows the control page and a packet table', () => {
    const r = vmbus('ring', 'dump', join(ringVectorsDir, 'edge', 'edge-gpa-2ranges.img'));
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /write index\s+0x48 \(72\)/);
    assert.match(r.stdout, /gpa-direct \(9\)/);
    assert.match(r.stdout, /\[2 ranges\]/);
    assert.ok(!r.stdout.includes('\u001b['), 'colour without a terminal');
  });

  it('names an unknown packet type with its value', () => {
    const img = new Uint8Array(8192);
    const dv = new DataView(img.buffer);
    dv.setUint32(0, 32, true); // write index
    dv.setUint16(4096, 0x1234, true); // type
    dv.setUint16(4098, 2, true); // offset8
    dv.setUint16(4100, 3, true); // len8
    const path = join(work, 'unknown-type.img');
    writeFileSync(path, img);
    const r = vmbus('ring', 'dump', path);
    assert.equal(r.status, 3);
    assert.match(r.stdout, /VMBUS_PACKET_BAD_TYPE/);
    assert.match(r.stdout, /type 4660 \(unknown-0x1234\)/);
  });
});

describe('vmbus bad input: one line, exit 2, nothing written', () => {
  const good = join(ringVectorsDir, 'edge', 'edge-inband-5.json');
  const cases: [string, () => string[]][] = [
    [
      'missing spec file',
      () => ['ring', 'encode', join(work, 'nope.json'), join(work, 'out-1.img')],
    ],
    [
      'malformed JSON',
      () => {
        writeFileSync(join(work, 'bad.json'), '{"dataSize": 4096,');
        return ['ring', 'encode', join(work, 'bad.json'), join(work, 'out-2.img')];
      },
    ],
    [
      'payload not hex',
      () => {
        writeFileSync(
          join(work, 'nothex.json'),
          JSON.stringify({ dataSize: 4096, packets: [{ type: 6, payload: 'zz' }] }),
        );
        return ['ring', 'encode', join(work, 'nothex.json'), join(work, 'out-3.img')];
      },
    ],
    [
      'data size not a page multiple',
      () => {
        writeFileSync(join(work, 'size.json'), JSON.stringify({ dataSize: 1000, packets: [] }));
        return ['ring', 'encode', join(work, 'size.json'), join(work, 'out-4.img')];
      },
    ],
    ['unknown option', () => ['ring', 'encode', '--frobnicate', good, join(work, 'out-5.img')]],
    ['unknown command', () => ['frobnicate']],
    ['missing image', () => ['ring', 'decode', join(work, 'none.img')]],
    [
      'image smaller than two pages',
      () => {
        writeFileSync(join(work, 'small.img'), new Uint8Array(4096));
        return ['ring', 'decode', join(work, 'small.img')];
      },
    ],
    [
      'image not a page multiple',
      () => {
        writeFileSync(join(work, 'odd.img'), new Uint8Array(8200));
        return ['ring', 'dump', join(work, 'odd.img')];
      },
    ],
  ];
  for (const [name, args] of cases) {
    it(name, () => {
      const argv = args();
      const r = vmbus(...argv);
      assert.equal(r.status, 2, `${name}: ${r.stderr}`);
      assert.equal(r.stdout, '');
      assert.equal(r.stderr.trimEnd().split('\n').length, 1, `more than one line: ${r.stderr}`);
      assert.match(r.stderr, /^vmbus: /);
      const out = argv.find((a) => /out-[0-9]+\.img$/.test(a));
      if (out !== undefined) assert.equal(existsSync(out), false, 'an output file was written');
    });
  }
});

describe('vmbus --help and --version', () => {
  it('lists the commands with examples', () => {
    const r = vmbus('--help');
    assert.equal(r.status, 0);
    assert.match(r.stdout, /ring/);
    assert.match(r.stdout, /Examples:/);
    const sub = vmbus('ring', 'decode', '--help');
    assert.equal(sub.status, 0);
    assert.match(sub.stdout, /Example:/);
  });
  it('prints the package version', () => {
    const r = vmbus('--version');
    assert.equal(r.status, 0);
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
    assert.equal(r.stdout.trim(), pkg.version);
  });
});
