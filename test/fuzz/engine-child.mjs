// A real engine in its own process for the fuzz suite, logging to stderr so the
// suite can check that no input caused an internal error.
// Env: ABLO_TEST_DB, ABLO_TEST_SCHEMA (JSON), ABLO_TEST_KEY.
import { createEngine } from '../../dist/src/engine/index.js';
import { mcpRoutes } from '../../dist/mcp/index.js';

const engine = await createEngine({
  file: process.env.ABLO_TEST_DB,
  port: 0,
  schema: JSON.parse(process.env.ABLO_TEST_SCHEMA),
  devKey: process.env.ABLO_TEST_KEY,
  routes: [mcpRoutes()],
  log: (line) => process.stderr.write(`[engine] ${line}\n`),
});
process.stdout.write(`${JSON.stringify({ url: engine.url })}\n`);
process.on('SIGTERM', () => {
  engine.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
});
