/**
 * Golden-file comparison: `assertGolden(url, actual)` compares `actual` with the file's contents;
 * with UPDATE_GOLDEN=1 in the environment it (re)writes the file instead. node:test on Node 20 has
 * no snapshots, so this is the whole mechanism.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

export function assertGolden(file: URL, actual: string): void {
  const path = fileURLToPath(file);
  if (process.env.UPDATE_GOLDEN === '1') {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, actual);
    return;
  }
  if (!existsSync(path)) assert.fail(`golden file ${path} is missing; run the test with UPDATE_GOLDEN=1 to create it`);
  assert.equal(actual, readFileSync(path, 'utf8'), `output differs from ${path}; if the change is intended, rerun with UPDATE_GOLDEN=1`);
}
