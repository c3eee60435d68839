/**
 * Guest memory, the page allocator and memory descriptors: bounds, page
 * walks across scattered pages, zero-copy views of consecutive pages.
 */

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GuestMemory, MemoryAccessError } from './guest-memory.js';
import { MemoryDescriptor } from './memory-descriptor.js';
import { PageAllocator } from './page-allocator.js';

describe('guest memory', () => {
  it('refuses addresses and PFNs outside it', () => {
    const memory = new GuestMemory(4);
    assert.throws(() => memory.view(4 * 4096 - 2, 4), MemoryAccessError);
    assert.throws(() => memory.write(-1, new Uint8Array(1)), MemoryAccessError);
    assert.throws(() => new MemoryDescriptor(memory, [4], 0, 10), MemoryAccessError);
    assert.equal(memory.isValidPfn(3), true);
    assert.equal(memory.isValidPfn(2 ** 53), false);
  });

  it('allocates zeroed contiguous runs, frees them, refuses double frees', () => {
    const memory = new GuestMemory(16);
    memory.bytes.fill(0xff);
    const pages = new PageAllocator(memory);
    const run = pages.allocate(3);
    assert.deepEqual(run, [1, 2, 3], 'PFN 0 is reserved');
    assert.ok(memory.bytes.subarray(4096, 4 * 4096).every((b) => b === 0));
    const dirty = pages.allocate(1, false);
    assert.equal(memory.bytes[dirty[0]! * 4096], 0xff, 'not zeroed when asked');
    pages.free(run);
    assert.throws(() => pages.free(run), RangeError);
    assert.throws(() => pages.allocate(100), RangeError);
  });
});

describe('memory descriptors', () => {
  it('read and write across scattered pages', () => {
    const memory = new GuestMemory(16);
    const mdl = new MemoryDescriptor(memory, [9, 3], 4000, 200);
    mdl.write(
      0,
      Uint8Array.from({ length: 200 }, (_, i) => i),
    );
    assert.equal(memory.bytes[9 * 4096 + 4095], 95);
    assert.equal(memory.bytes[3 * 4096], 96);
    const back = new Uint8Array(200);
    mdl.read(0, back);
    assert.deepEqual(
      back,
      Uint8Array.from({ length: 200 }, (_, i) => i),
    );
    assert.throws(() => mdl.read(100, new Uint8Array(101)), RangeError);
    assert.throws(() => mdl.asReadOnly().write(0, new Uint8Array(1)), TypeError);
  });

  it('gives a zero-copy view only over consecutive pages', () => {
    const memory = new GuestMemory(16);
    const consecutive = new MemoryDescriptor(memory, [4, 5], 100, 8000);
    const view = consecutive.contiguousView(0, 8000);
    assert.ok(view);
    view[0] = 7;
    assert.equal(memory.bytes[4 * 4096 + 100], 7, 'the view is guest memory itself');
    const scattered = new MemoryDescriptor(memory, [4, 9], 0, 8192);
    assert.equal(scattered.contiguousView(0, 8192), null);
    assert.ok(scattered.contiguousView(0, 4096), 'one page is always contiguous');
    assert.throws(() => consecutive.contiguousView(10, 8000), RangeError);
  });
});
