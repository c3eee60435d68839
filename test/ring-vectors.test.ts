/**
 * Every ring vector of ../shared/vectors/ring through the library: encode
 * reproduces the third-party image and signal decisions byte for byte;
 * decode returns the expected packets and indices; a damaged image returns
 * its typed error after the expected number of good packets.
 */

import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  decodeRingImage,
  encodeRingImage,
  IncomingRing,
  parseRingSpec,
  RingCorruptError,
} from 'vmbus-kmcl/ring';
import { ringVectors } from './shared-paths.js';

const ringVectorsDir = ringVectors();

interface Vector {
  name: string;
  json: Record<string, unknown> & { expect: Record<string, unknown> };
  image: Uint8Array;
}

function load(group: string): Vector[] {
  const dir = join(ringVectorsDir, group);
  const out: Vector[] = [];
  for (const f of readdirSync(dir)
    .filter((n) => n.endsWith('.json'))
    .sort()) {
    const json = JSON.parse(readFileSync(join(dir, f), 'utf8'));
    const imageName = typeof json.image === 'string' ? json.image : f.replace(/\.json$/, '.img');
    out.push({ name: f, json, image: new Uint8Array(readFileSync(join(dir, imageName))) });
  }
  assert.ok(out.length > 0, `no vectors in ${dir}`);
  return out;
}

for (const group of ['edge', 'random']) {
  describe(`ring vectors: ${group}`, () => {
    for (const v of load(group)) {
      it(`${v.name}: encode reproduces the image and signals`, () => {
        const { image, results } = encodeRingImage(parseRingSpec(v.json));
        assert.deepEqual(results, v.json.expect.results);
        assert.equal(image.length, v.image.length);
        assert.ok(Buffer.from(image).equals(Buffer.from(v.image)), 'image bytes differ');
      });
      it(`${v.name}: decode returns the expected packets and indices`, () => {
        const before = Buffer.from(v.image);
        const decoded = decodeRingImage(v.image);
        assert.equal(decoded.error, undefined);
        assert.deepEqual(decoded.packets, v.json.expect.packets);
        assert.equal(decoded.readIndex, v.json.expect.readIndex);
        assert.equal(decoded.writeIndex, v.json.expect.writeIndex);
        assert.ok(before.equals(Buffer.from(v.image)), 'decode modified the image');
      });
    }
  });
}

describe('ring vectors: bad', () => {
  for (const v of load('bad')) {
    it(`${v.name}: typed error after ${v.json.expect.packetsBeforeError} packets`, () => {
      const decoded = decodeRingImage(v.image);
      assert.equal(decoded.packets.length, v.json.expect.packetsBeforeError);
      assert.ok(decoded.error, 'no error reported');
      assert.match(decoded.error.code, /^VMBUS_(RING|PACKET)_[A-Z0-9_]+$/);
      assert.ok(decoded.error.reason.length > 0);
      // The reader itself: the same count of good packets, then the typed
      // error, and the committed read index never moves past the last good one.
      const copy = v.image.slice();
      const ring = new IncomingRing(copy.buffer);
      let good = 0;
      let last = ring.position;
      assert.throws(() => {
        for (let p = ring.read(); p !== null; p = ring.read()) {
          good++;
          last = ring.position;
        }
      }, RingCorruptError);
      assert.equal(good, v.json.expect.packetsBeforeError);
      ring.commitRead();
      assert.equal(ring.readIndex, last);
      // The failure is sticky: a second read throws the same error.
      assert.throws(
        () => ring.read(),
        (e: unknown) => e === ring.error,
      );
    });
  }
});
