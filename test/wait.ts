/**
 * Waiting in tests: a short sleep, and polling a condition with a deadline.
 */

import assert from 'node:assert/strict';

/** Sleeps `ms` milliseconds. */
export const tick = (ms = 2): Promise<unknown> => new Promise((r) => setTimeout(r, ms));

/** Polls `check` every millisecond; fails the test after `ms` milliseconds. */
export async function until(check: () => boolean, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await tick(1);
  }
}
