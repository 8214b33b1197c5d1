/**
 * The package version, read from ablo's own package.json at runtime. Source
 * files, build entries and build chunks sit at different depths, so walk up to
 * the nearest package.json named `ablo`. Node only (engine, CLI, MCP).
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let cached: string | undefined;

export function packageVersion(): string {
  if (cached) return cached;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'ablo' && typeof pkg.version === 'string') return (cached = pkg.version);
    } catch {
      // Not here; keep walking.
    }
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  return (cached = '0.0.0-unknown');
}
