#!/usr/bin/env node
// Entry point of the `continuum` command: runs the compiled CLI (npm install compiles src/ to dist/).
import { main } from '../dist/cli/main.js';

main(process.argv).catch((err) => {
  process.stderr.write(`continuum: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
