/**
 * End to end: a VSP (with the host) and a VSC, each in its own worker and
 * each written only against the Windows-named KMCL facade, exchange
 * 1,000,000 request/completion pairs, one in 16 with external data; every
 * completion arrives with the right bytes and status.
 */

import assert from 'node:assert/strict';
import { it } from 'node:test';
import { Worker } from 'node:worker_threads';

const TOTAL = Number(process.env.VMBUS_KMCL_PAIRS ?? 1_000_000);

async function exchange(total: number, spin: number): Promise<Record<string, number>> {
  const worker = new Worker(new URL('./kmcl-vsp-worker.js', import.meta.url), {
    workerData: { total, window: 64, spin },
  });
  try {
    const result = await new Promise<Record<string, number>>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
      worker.once('exit', (code) => reject(new Error(`the VSP worker exited with ${code}`)));
    });
    assert.equal(result.completed, total);
    assert.equal(result.bad, 0, 'completions with the wrong bytes or status');
    assert.equal(result.received, total, 'requests the VSP processed');
    assert.equal(result.external, Math.ceil(total / 16));
    assert.equal(result.externalSeen, Math.ceil(total / 16));
    return result;
  } finally {
    await worker.terminate();
  }
}

it(`${TOTAL} request/completion pairs between a VSP and a VSC in separate workers`, {
  timeout: 600_000,
}, async () => {
  const result = await exchange(TOTAL, 0);
  // Pumps that do not spin never park a ring.
  assert.equal(result.hostPolls, 0);
  assert.equal(result.guestPolls, 0);
});

it('the same with spinning pumps that poll parked rings instead of taking interrupts', {
  timeout: 600_000,
}, async () => {
  const result = await exchange(Math.ceil(TOTAL / 5), 2000);
  assert.ok(
    (result.hostPolls ?? 0) + (result.guestPolls ?? 0) > 0,
    'a spinning pump found packets in a parked ring',
  );
});
