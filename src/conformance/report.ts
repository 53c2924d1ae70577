/**
 * Presenting a suite run: the results table people read, the JSON tools read, and the one-line
 * progress display a terminal shows while cases run.
 *
 * JSON shape (stable): `{ "passed": N, "failed": N, "cases": [{ "area", "name", "pass", "detail" }] }`
 * with `detail` empty for a pass and one difference per line for a failure.
 */
import Table from 'cli-table3';
import pc from 'picocolors';
import type { CaseResult, SuiteResult } from './runner.ts';

export interface SuiteJson {
  readonly passed: number;
  readonly failed: number;
  readonly cases: readonly { readonly area: string; readonly name: string; readonly pass: boolean; readonly detail: string }[];
}

export function suiteJson(r: SuiteResult): SuiteJson {
  return { passed: r.passed, failed: r.failed, cases: r.results.map((c) => ({ area: c.area, name: c.name, pass: c.pass, detail: c.detail })) };
}

export interface TableOptions {
  readonly color: boolean;
  /** Terminal width; the "what differed" column wraps to fit. */
  readonly width?: number;
  /** Include passing cases (default: only failures, then the summary). */
  readonly all?: boolean;
}

/** The results table and a summary line naming the parties the suite ran against. */
export function formatResults(r: SuiteResult, parties: { host: string; guest: string }, opts: TableOptions): string {
  const c = pc.createColors(opts.color);
  const rows = r.results.filter((x) => opts.all || !x.pass);
  const out: string[] = [];
  if (rows.length) {
    const width = opts.width ?? 160;
    const detailWidth = Math.max(40, width - 2 - (maxLen(rows, (x) => x.area) + maxLen(rows, (x) => x.name) + 6 + 13));
    const t = new Table({
      head: ['Area', 'Case', 'Result', 'What differed (expected vs actual, decoded)'].map((h) => c.bold(h)),
      style: { head: [], border: [], compact: true },
      colWidths: [null, null, null, detailWidth],
      wordWrap: true,
    });
    for (const x of rows) t.push([x.area, x.name, x.pass ? c.green('pass') : c.red('FAIL'), x.detail]);
    out.push(t.toString());
  }
  const verdict = r.failed === 0 ? c.green(`all ${r.passed} cases passed`) : c.red(`${r.failed} of ${r.passed + r.failed} cases failed`);
  out.push(`${verdict} (host: ${parties.host}; guest: ${parties.guest})`);
  return out.join('\n') + '\n';
}

function maxLen(rows: readonly CaseResult[], f: (r: CaseResult) => string): number {
  return rows.reduce((m, r) => Math.max(m, f(r).length), 0);
}

/** A one-line progress display on a stream; `done()` clears it. No-op when not enabled. */
export class Progress {
  constructor(
    private readonly stream: { write(s: string): unknown },
    private readonly enabled: boolean,
  ) {}

  update(r: CaseResult, done: number, total: number): void {
    if (!this.enabled) return;
    this.stream.write(`\r\x1b[2K[${done}/${total}] ${r.pass ? '✓' : '✗'} ${r.area}/${r.name}`);
  }

  done(): void {
    if (this.enabled) this.stream.write('\r\x1b[2K');
  }
}
