import { isBuiltin } from 'node:module';
import { dirname, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Plugin } from 'esbuild';
import { defineConfig } from 'tsup';

const root = dirname(fileURLToPath(import.meta.url));

/**
 * React for two audiences in one build:
 * - `ablo/react` (src/react) uses the app's React: `react` stays an import, resolved
 *   from the app's node_modules (react is an optional peer).
 * - the CLI's live view (cli/ui/DevView.tsx) brings its own: ink, React, the
 *   reconciler and the scheduler are bundled into the view's lazy chunk, so
 *   `ablo dev` draws the same with an app on React 18, 19 or none, and never
 *   meets a second React copy in the app's tree.
 * tsup leaves them to this plugin (noExternal below); here each import of React
 * is kept external only when it comes from the SDK side (src/).
 */
const REACT_FAMILY = /^(react|react-dom|react-reconciler|scheduler)(\/.*)?$/;

const reactForTheApp: Plugin = {
  name: 'ablo-react-for-the-app',
  setup(build) {
    build.onResolve({ filter: REACT_FAMILY }, (args) => {
      const from = relative(root, args.importer).split(sep).join('/');
      if (from.startsWith('src/')) return { path: args.path, external: true };
      return undefined; // the CLI's view and ink's own modules: bundle
    });
    // ink imports react-devtools-core only when DEV=true, and tells the user to install it when it is missing.
    build.onResolve({ filter: /^react-devtools-core$/ }, (args) => ({ path: args.path, external: true }));
  },
};

/**
 * Bundled CommonJS dependencies of ink (signal-exit, stack-utils) `require()`
 * Node builtins. In an ES module output esbuild turns an external require into
 * a shim that throws "Dynamic require of "events" is not supported", so each
 * such require gets a small ES module re-exporting the builtin instead (an ES
 * import, which ESM output keeps). A `require()` of it returns the builtin's
 * named exports, which is how these packages use them (`EE.EventEmitter`,
 * `assert.equal`, `builtinModules`).
 */
const builtinsForBundledCommonJs: Plugin = {
  name: 'ablo-builtins-for-bundled-commonjs',
  setup(build) {
    build.onResolve({ filter: /.*/ }, (args) => {
      if (args.kind !== 'require-call' || !isBuiltin(args.path) || !args.importer.includes(`${sep}node_modules${sep}`)) return undefined;
      return { path: args.path.replace(/^node:/, ''), namespace: 'ablo-node-builtin' };
    });
    build.onLoad({ filter: /.*/, namespace: 'ablo-node-builtin' }, (args) => ({
      contents: `export * from 'node:${args.path}';\nexport { default } from 'node:${args.path}';\n`,
      loader: 'js',
      resolveDir: root,
    }));
  },
};

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
  noExternal: ['ink', REACT_FAMILY],
  esbuildPlugins: [reactForTheApp, builtinsForBundledCommonJs],
});
