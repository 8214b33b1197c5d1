import { defineConfig } from 'vitest/config';

/**
 * Two projects: everything else, in parallel; then the Postgres suites
 * (`*.pg.test.ts`), one file at a time, so they never share the server's
 * connections (test/helpers/postgres.ts).
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
          exclude: ['test/**/*.pg.test.ts', '**/node_modules/**'],
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
    ],
  },
});
