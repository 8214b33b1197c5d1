import { defineConfig } from 'tsup';

export default defineConfig({
  entry: {
    'src/index': 'src/index.ts',
    'src/schema/index': 'src/schema/index.ts',
    'src/react/index': 'src/react/index.ts',
    'src/source/index': 'src/source/index.ts',
    'src/engine/index': 'src/engine/index.ts',
    'src/testing/index': 'src/testing/index.ts',
    'mcp/index': 'mcp/index.ts',
    'cli/main': 'cli/main.ts',
  },
  format: ['esm'],
  target: 'node20',
  platform: 'node',
  dts: true,
  splitting: true,
  sourcemap: true,
  clean: true,
  outDir: 'dist',
});
