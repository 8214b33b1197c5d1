import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const src = (rel: string): string => fileURLToPath(new URL(`./src/${rel}`, import.meta.url));

/**
 * Three projects: everything else, in parallel; then the Postgres suites
 * (`*.pg.test.ts`), one file at a time, so they never share the server's
 * connections (test/helpers/postgres.ts); then the browser suites
 * (`*.browser.test.ts`: Chromium driving examples/board), one file at a time.
 */
export default defineConfig({
  test: {
    globalSetup: ['test/setup/build.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    projects: [
      {
        extends: true,
        test: {
          name: 'main',
          include: ['test/**/*.test.ts'],
          exclude: ['test/**/*.pg.test.ts', 'test/**/*.browser.test.ts', '**/node_modules/**'],
          sequence: { groupOrder: 0 },
          typecheck: {
            enabled: true,
            include: ['test/**/*.test-d.ts'],
            tsconfig: './tsconfig.json',
          },
        },
      },
      {
        extends: true,
        test: {
          name: 'postgres',
          include: ['test/**/*.pg.test.ts'],
          fileParallelism: false,
          sequence: { groupOrder: 1 },
        },
      },
      {
        extends: true,
        // The example's Node side (app server, agent) imports `ablo`: here, the sources, like the engine the test starts.
        resolve: {
          alias: [
            { find: /^ablo$/, replacement: src('index.ts') },
            { find: /^ablo\/(react|schema|engine)$/, replacement: src('$1/index.ts') },
          ],
        },
        test: {
          name: 'browser',
          include: ['test/**/*.browser.test.ts'],
          fileParallelism: false,
          testTimeout: 120_000,
          hookTimeout: 120_000,
          sequence: { groupOrder: 2 },
        },
      },
    ],
  },
});
