/**
 * Vitest global setup: end-to-end suites run the built package (the spawned
 * CLI, the engine child), so `dist/` must be built from the sources as they
 * are now — compared by content (test/setup/dist-stamp.mjs), never by mtime.
 *
 * - Fresh: nothing to do (a dist/ from `npm run build` is verified against
 *   the sources in its source maps, then stamped).
 * - Stale or missing: build, and stamp dist/ with the hash of the sources.
 * - Stale with `ABLO_SKIP_BUILD=1`: fail the run, saying what changed and the
 *   fix, instead of testing old code.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { distFreshness, repoRoot, writeStamp } from './dist-stamp.mjs';

/** Make `root`'s dist/ current (see above); 'fresh' when it already was, 'built' after a build. */
export function ensureDist(root: string = repoRoot, env: NodeJS.ProcessEnv = process.env): 'fresh' | 'built' {
  const state = distFreshness(root);
  if (state.fresh) {
    if (!state.stamped) writeStamp(state.digest, root);
    return 'fresh';
  }
  if (env.ABLO_SKIP_BUILD === '1') throw new Error(`ABLO_SKIP_BUILD=1, but ${state.message}`);
  execFileSync(process.execPath, [join(root, 'node_modules/tsup/dist/cli-default.js')], { cwd: root, stdio: 'inherit' });
  // The digest taken before the build: a source edited while it ran shows up as changed next time.
  writeStamp(state.digest, root);
  return 'built';
}

export default function setup(): void {
  ensureDist();
}
