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

it(`${TOTAL} request/completion pairs between a VSP and a VSC in separate workers`, {
  timeout: 600_000,
}, async () => {
  const worker = new Worker(new URL('./kmcl-vsp-worker.js', import.meta.url), {
    workerData: { total: TOTAL, window: 64 },
  });
  const result = await new Promise<Record<string, number>>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`the VSP worker exited with ${code}`)));
  });
  assert.equal(result.completed, TOTAL);
  assert.equal(result.bad, 0, 'completions with the wrong bytes or status');
  assert.equal(result.received, TOTAL, 'requests the VSP processed');
  assert.equal(result.external, Math.ceil(TOTAL / 16));
  assert.equal(result.externalSeen, Math.ceil(TOTAL / 16));
  await worker.terminate();
});
