/**
 * Is `dist/` built from the sources as they are now? Tests that run the built
 * package (the engine child, the spawned CLI) must never run stale code, and
 * mtimes lie (checkouts, copies, clock skew), so this compares contents:
 *
 * - The vitest global setup (test/setup/build.ts) writes
 *   `dist/.ablo-build-stamp.json` after it builds: a sha256 of every source
 *   file that goes into the build. dist/ is fresh when the sources hash the
 *   same now.
 * - Without a stamp (dist/ from `npm run build`), the built code is checked
 *   against the sources it was built from, which tsup embeds in its source
 *   maps (`sourcesContent`); source files in no map (type-only modules) must
 *   not be newer than the build.
 *
 * Plain ESM so `.mjs` fixtures can import it; types in dist-stamp.d.mts.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** What the build reads: these directories, recursively, and these files. */
const SOURCE_DIRS = ['src', 'cli', 'mcp'];
const SOURCE_FILES = ['package.json', 'tsconfig.json', 'tsup.config.ts'];
/** Built files every dist/ consumer in the tests needs. */
const ENTRIES = ['cli/main.js', 'src/engine/index.js', 'src/index.js', 'mcp/index.js', 'src/testing/index.js'];
const STAMP = 'dist/.ablo-build-stamp.json';
const FIX = 'run npm run build';

const sha = (data) => createHash('sha256').update(data).digest('hex');
const posix = (p) => p.split(sep).join('/');

function walk(dir, out) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) walk(path, out);
    else if (entry.isFile()) out.push(path);
  }
}

/** Every source file (repo-relative, `/`-separated) with the sha256 of its content, and one hash over all. */
export function sourceDigest(root = repoRoot) {
  const paths = [];
  for (const d of SOURCE_DIRS) if (existsSync(join(root, d))) walk(join(root, d), paths);
  for (const f of SOURCE_FILES) if (existsSync(join(root, f))) paths.push(join(root, f));
  const files = {};
  for (const p of paths.sort()) files[posix(relative(root, p))] = sha(readFileSync(p));
  return { hash: sha(JSON.stringify(files)), files };
}

export function writeStamp(digest, root = repoRoot) {
  const file = join(root, STAMP);
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify({ builtAt: new Date().toISOString(), ...digest })}\n`);
  renameSync(tmp, file);
}

function readStamp(root) {
  try {
    const stamp = JSON.parse(readFileSync(join(root, STAMP), 'utf8'));
    return stamp && typeof stamp.hash === 'string' && stamp.files && typeof stamp.files === 'object' ? stamp : null;
  } catch {
    return null;
  }
}

/** Files that differ between two digests (changed, added or removed). */
function differing(before, now) {
  const names = new Set([...Object.keys(before), ...Object.keys(now)]);
  return [...names].filter((n) => before[n] !== now[n]).sort();
}

/** Check dist/ against the sources it embeds in its source maps (no stamp: built outside the test setup). */
function checkMaps(root, digest) {
  const dist = join(root, 'dist');
  const built = [];
  walk(dist, built);
  const changed = new Set();
  const covered = new Set();
  let oldest = Infinity;
  for (const file of built) {
    if (file.endsWith('.js')) oldest = Math.min(oldest, statSync(file).mtimeMs);
    if (!file.endsWith('.js.map')) continue;
    const map = JSON.parse(readFileSync(file, 'utf8'));
    (map.sources ?? []).forEach((source, i) => {
      const rel = posix(relative(root, resolve(dirname(file), map.sourceRoot ?? '', source)));
      if (!SOURCE_DIRS.some((d) => rel.startsWith(`${d}/`))) return; // a bundled dependency
      covered.add(rel);
      const content = map.sourcesContent?.[i];
      if (typeof content !== 'string' || digest.files[rel] !== sha(content)) changed.add(rel);
    });
  }
  // Sources in no map (type-only modules, config): by mtime against the oldest built file.
  for (const rel of Object.keys(digest.files)) {
    if (!covered.has(rel) && statSync(join(root, rel)).mtimeMs > oldest) changed.add(rel);
  }
  return [...changed].sort();
}

/**
 * `{ fresh: true, digest, stamped }` when dist/ matches the sources, else
 * `{ fresh: false, digest, message }` with a message saying what changed and
 * the fix.
 */
export function distFreshness(root = repoRoot) {
  const digest = sourceDigest(root);
  const missing = ENTRIES.filter((e) => !existsSync(join(root, 'dist', e)));
  if (missing.length > 0) return { fresh: false, digest, message: `dist/ is missing ${missing.map((m) => `dist/${m}`).join(', ')}: ${FIX}` };
  const stamp = readStamp(root);
  const changed = stamp ? (stamp.hash === digest.hash ? [] : differing(stamp.files, digest.files)) : checkMaps(root, digest);
  if (changed.length === 0) return { fresh: true, digest, stamped: stamp !== null };
  const list = changed.slice(0, 5).join(', ') + (changed.length > 5 ? ` and ${changed.length - 5} more` : '');
  return { fresh: false, digest, message: `dist/ is older than the sources: ${FIX} (changed since the build: ${list})` };
}

/** Throw a clear error when dist/ is stale or missing; for every test that runs the built package. */
export function assertDistFresh(root = repoRoot) {
  const state = distFreshness(root);
  if (!state.fresh) throw new Error(state.message);
}
