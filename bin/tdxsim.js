#!/usr/bin/env node
// The published entry point: runs the compiled CLI (npm ci / npm run build produce dist/).
import { main } from '../dist/cli/main.js';

main(process.argv).catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 2;
});
