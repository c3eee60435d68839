/**
 * Where the shared reference material lives for the tests: `../shared` beside
 * the repository (the layout of every developer machine and of CI). A test
 * that needs it fails loudly when it is missing; none skips.
 */

import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (tests run from dist/test/). */
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The shared folder beside the repository. */
export const sharedDir = process.env.VMBUS_SHARED_DIR ?? resolve(repoRoot, '..', 'shared');

/**
 * The ring vectors folder; throws (never skips) when it is missing.
 *
 * @returns the folder
 */
export function ringVectors(): string {
  const dir = join(sharedDir, 'vectors', 'ring');
  if (!existsSync(dir)) throw new Error(`Ring vectors not found at ${dir}; set VMBUS_SHARED_DIR`);
  return dir;
}

/** The built command-line entry point. */
export const cliPath = join(repoRoot, 'dist', 'src', 'cli', 'main.js');
