/**
 * What the suite must cover, derived from the ABI tables, and what it does cover.
 *
 * Every SEAMCALL and TDCALL leaf the tables mark `implemented: true`, and every GHCI sub-function
 * of the TDVMCALL table, must be exercised by at least one case on its success path and one on
 * a failure path. A leaf added to the tables without cases shows up here as a gap, so the suite
 * grows with the module instead of silently falling behind.
 */
import { SeamcallLeaf } from '../abi/seamcall-leaves.ts';
import { TdcallLeaf } from '../abi/tdcall-leaves.ts';
import { TdvmcallSubfunction } from '../abi/tdvmcall.ts';
import { coverageKey, type ConformanceCase, type CoverageItem, type CoveragePath } from './case.ts';

/** Every ABI item the suite must cover, by coverageKey. */
export function requiredCoverage(): CoverageItem[] {
  return [
    ...Object.values(SeamcallLeaf).filter((l) => l.implemented).map((leaf): CoverageItem => ({ kind: 'leaf', leaf })),
    ...Object.values(TdcallLeaf).filter((l) => l.implemented).map((leaf): CoverageItem => ({ kind: 'leaf', leaf })),
    ...Object.values(TdvmcallSubfunction).map((sub): CoverageItem => ({ kind: 'tdvmcall', sub })),
  ];
}

export interface CoverageRow {
  readonly key: string;
  /** Cases exercising the success path. */
  readonly success: readonly string[];
  /** Cases exercising a failure path. */
  readonly failure: readonly string[];
}

/** For each required item, the cases that cover it on each path. */
export function coverageReport(cases: readonly ConformanceCase[]): CoverageRow[] {
  const by = new Map<string, Record<CoveragePath, string[]>>();
  for (const c of cases) {
    for (const cov of c.covers) {
      const key = coverageKey(cov.item);
      const row = by.get(key) ?? { success: [], failure: [] };
      row[cov.path].push(c.name);
      by.set(key, row);
    }
  }
  return requiredCoverage().map((item) => {
    const key = coverageKey(item);
    const row = by.get(key) ?? { success: [], failure: [] };
    return { key, success: row.success, failure: row.failure };
  });
}

/** Required items missing a success or a failure case, as `KEY (success)` strings. */
export function coverageGaps(cases: readonly ConformanceCase[]): string[] {
  return coverageReport(cases).flatMap((r) => [
    ...(r.success.length ? [] : [`${r.key} (success)`]),
    ...(r.failure.length ? [] : [`${r.key} (failure)`]),
  ]);
}
