/**
 * Running cases and collecting results.
 *
 * A case passes when it returns; it fails with the differences a CaseFailure lists, or with the
 * error anything else threw (a setup SEAMCALL the fixture could not complete, a bug in a party
 * that threw instead of answering). One failing case never stops the others: each gets a fresh
 * machine.
 */
import { AREAS, CaseFailure, type AreaId, type ConformanceCase } from './case.ts';
import type { CaseContext } from './interfaces.ts';
import { runTdCase } from './td-run.ts';

export interface CaseResult {
  readonly area: AreaId;
  readonly name: string;
  readonly pass: boolean;
  /** Empty on a pass; otherwise one line per difference. */
  readonly detail: string;
  readonly behaviour: string;
  readonly spec: string;
  readonly ms: number;
}

export interface SuiteResult {
  readonly passed: number;
  readonly failed: number;
  readonly results: readonly CaseResult[];
}

/** A selection names an area or case that does not exist. */
export class SelectionError extends Error {
  override readonly name = 'SelectionError';
}

export interface Selection {
  readonly areas?: readonly string[];
  readonly cases?: readonly string[];
}

/** The cases in the selected areas and/or with the selected names (all if nothing is selected). */
export function selectCases(all: readonly ConformanceCase[], sel: Selection): ConformanceCase[] {
  const areaIds = AREAS.map((a) => a.id as string);
  const unknownArea = (sel.areas ?? []).filter((a) => !areaIds.includes(a));
  if (unknownArea.length) throw new SelectionError(`unknown area ${unknownArea.join(', ')}; valid areas: ${areaIds.join(', ')}`);
  const names = new Set(all.map((c) => c.name));
  const unknownCase = (sel.cases ?? []).filter((c) => !names.has(c));
  if (unknownCase.length) {
    throw new SelectionError(`unknown case ${unknownCase.join(', ')}; valid cases: ${[...names].join(', ')}`);
  }
  const byArea = sel.areas?.length ? new Set(sel.areas) : undefined;
  const byName = sel.cases?.length ? new Set(sel.cases) : undefined;
  return all.filter((c) => (!byArea || byArea.has(c.area)) && (!byName || byName.has(c.name)));
}

/** Run one case against the parties in `ctx`. */
export function runCase(c: ConformanceCase, ctx: CaseContext): CaseResult {
  const start = performance.now();
  let detail = '';
  try {
    if (c.kind === 'module') c.run(ctx);
    else c.check(runTdCase(c, c.party, ctx, c.name), ctx);
  } catch (e) {
    detail = e instanceof CaseFailure ? e.differences.join('\n') : `error: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`;
  }
  return { area: c.area, name: c.name, pass: detail === '', detail, behaviour: c.behaviour, spec: c.spec, ms: performance.now() - start };
}

/** Run cases in order; `onResult` sees each result as it comes (for a progress display). */
export function runCases(cases: readonly ConformanceCase[], ctx: CaseContext, onResult?: (r: CaseResult, done: number, total: number) => void): SuiteResult {
  const results: CaseResult[] = [];
  for (const c of cases) {
    const r = runCase(c, ctx);
    results.push(r);
    onResult?.(r, results.length, cases.length);
  }
  const passed = results.filter((r) => r.pass).length;
  return { passed, failed: results.length - passed, results };
}
