/**
 * Make sure dist/web holds a viewer built from the current sources: rebuild it (vite, in-process)
 * when index.html is missing or older than any file the bundle is made from.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { VIEWER_ROOT } from '../../src/cli/commands/view.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** Everything the bundle is built from: the app, the trace schema and queries, the ABI tables. */
const SOURCES = ['web', 'src/trace', 'src/abi'].map((d) => join(ROOT, d));

function newest(dir: string): number {
  let t = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    t = Math.max(t, entry.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}

export async function ensureViewerBuilt(): Promise<'fresh' | 'built'> {
  const index = join(VIEWER_ROOT, 'index.html');
  if (existsSync(index) && statSync(index).mtimeMs >= Math.max(...SOURCES.map(newest))) return 'fresh';
  const { build } = await import('vite');
  await build({ configFile: join(ROOT, 'web/vite.config.ts'), logLevel: 'warn' });
  return 'built';
}
