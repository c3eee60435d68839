/**
 * Starts `vmbus ui` for the tests and stops every server they started.
 */

import { type ChildProcess, spawn } from 'node:child_process';
import { cliPath } from './shared-paths.js';

const children: ChildProcess[] = [];

/** Kills every server started by {@link startUi}. */
export function stopAll(): void {
  for (const c of children) c.kill('SIGKILL');
}

/** Starts `vmbus ui` and resolves with its base URL. */
export async function startUi(...args: string[]): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, [cliPath, 'ui', '--port', '0', ...args], {
    env: { ...process.env, NO_COLOR: '1' },
  });
  children.push(child);
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d) => {
      out += d;
      const m = /http:\/\/[\d.]+:\d+\//.exec(out);
      if (m) resolve(m[0]);
    });
    child.once('exit', (code) => reject(new Error(`ui exited with ${code}: ${out}`)));
  });
  return { url, child };
}
