#!/usr/bin/env node
import { main } from '../dist/cli/main.js';

main(process.argv).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`ablo: unexpected failure: ${err && err.stack ? err.stack : String(err)}\n`);
    process.exitCode = 1;
  },
);
