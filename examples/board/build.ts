/**
 * Building the board app with Vite's JS API: used by `npm run example:board`,
 * the browser tests and `npm run bench -- browser`. `ablo`, `ablo/react` and
 * `ablo/schema` resolve to the repository's built package (dist/), the code a
 * user installs.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { build, type InlineConfig } from 'vite';

export const boardDir = dirname(fileURLToPath(import.meta.url));
export const repoRoot = join(boardDir, '..', '..');

export function boardViteConfig(outDir = join(boardDir, 'dist')): InlineConfig {
  const dist = join(repoRoot, 'dist', 'src');
  return {
    root: boardDir,
    configFile: false,
    logLevel: 'warn',
    plugins: [react()],
    resolve: {
      alias: [
        { find: /^ablo$/, replacement: join(dist, 'index.js') },
        { find: /^ablo\/(react|schema)$/, replacement: join(dist, '$1', 'index.js') },
      ],
      // One React for the app and ablo/react.
      dedupe: ['react', 'react-dom'],
    },
    build: { outDir, emptyOutDir: true, sourcemap: true },
  };
}

/** `vite build` of the app into `outDir`. */
export async function buildBoardApp(outDir = join(boardDir, 'dist')): Promise<string> {
  if (!existsSync(join(repoRoot, 'dist', 'src', 'index.js'))) {
    throw new Error('dist/ is missing: run `npm run build` in the repository first');
  }
  await build(boardViteConfig(outDir));
  return outDir;
}
