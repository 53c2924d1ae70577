/**
 * How results are printed: a table for people (measured, target, ratio, pass or short) and JSON
 * for machines (`[{ name, measured, unit, target, goal, ratio, pass, note? }]`).
 */
import type { BenchResult } from './harness.ts';

/** A number with at most three significant decimals and thousands grouped, e.g. 2,134,567 or 0.953. */
export function formatNumber(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const abs = Math.abs(v);
  const digits = abs >= 100 ? 0 : abs >= 10 ? 1 : abs >= 1 ? 2 : 3;
  return v.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function verdict(r: BenchResult): string {
  if (r.pass === null) return 'n/a';
  return r.pass ? 'pass' : 'SHORT';
}

/** The human table: one row per result, notes listed under it. */
export function formatTable(results: readonly BenchResult[]): string {
  const header = ['benchmark', 'measured', 'target', 'ratio', 'verdict'];
  const rows = results.map((r) => [
    r.name,
    r.measured === null ? 'not measurable yet' : `${formatNumber(r.measured)} ${r.unit}`,
    `${r.goal} ${formatNumber(r.target)} ${r.unit}`,
    r.ratio === null ? '-' : `${r.ratio.toFixed(2)}`,
    verdict(r),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: readonly string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  const out = [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)];
  const notes = results.filter((r) => r.note);
  if (notes.length > 0) {
    out.push('', 'notes:');
    for (const r of notes) out.push(`  ${r.name}: ${r.note}`);
  }
  return out.join('\n');
}

/** The JSON form. */
export function formatJson(results: readonly BenchResult[]): string {
  return JSON.stringify(
    results.map((r) => ({
      name: r.name,
      measured: r.measured,
      unit: r.unit,
      target: r.target,
      goal: r.goal,
      ratio: r.ratio,
      pass: r.pass,
      ...(r.note !== undefined && { note: r.note }),
    })),
    null,
    2,
  );
}
