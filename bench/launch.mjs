/**
 * What `npm run bench` runs after compiling the simulator and the suite with bench/tsconfig.json:
 * the compiled suite, with the command's arguments.
 *
 * The suite runs from compiled JavaScript, as the published package does (dist/), rather than
 * through tsx: tsx compiles with esbuild's keepNames, which wraps every function expression
 * created at run time in a call that defines its `name` — a cost the shipped code does not have,
 * paid on every closure a hot path creates. The output lives under node_modules/.cache, beyond
 * which Node does not look for the package's "type": the package.json written here makes the
 * compiled files ES modules.
 */
import { writeFileSync } from 'node:fs';

const out = new URL('../node_modules/.cache/tdxsim-bench/', import.meta.url);
writeFileSync(new URL('package.json', out), '{ "type": "module" }\n');
await import(new URL('bench/main.js', out).href);
