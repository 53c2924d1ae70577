/**
 * Coverage by name: which leaves, sub-functions, exits and outcomes a fuzz run reached, and how
 * often. Targets count `hit('TDH.MEM.PAGE.AUG')` for what they issued and
 * `outcome('TDH.MEM.PAGE.AUG', 'TDX_EPT_WALK_FAILED')` for what came back; workers send their
 * counts to the parent as plain records, which `merge` adds up.
 */

export interface CoverageRecord {
  /** Leaves / sub-functions / exit kinds reached, with counts. */
  readonly reached: Record<string, number>;
  /** Distinct "name → result" pairs, with counts. */
  readonly outcomes: Record<string, number>;
}

const ARROW = ' → ';

export class Coverage {
  private readonly reachedMap = new Map<string, number>();
  /** name → result → count (nested, so counting allocates nothing once both names are known). */
  private readonly outcomeMap = new Map<string, Map<string, number>>();

  hit(name: string): void {
    this.reachedMap.set(name, (this.reachedMap.get(name) ?? 0) + 1);
  }

  outcome(name: string, result: string, count = 1): void {
    let m = this.outcomeMap.get(name);
    if (m === undefined) this.outcomeMap.set(name, (m = new Map()));
    m.set(result, (m.get(result) ?? 0) + count);
  }

  /** Add another run's counts. */
  merge(other: CoverageRecord): void {
    for (const [k, n] of Object.entries(other.reached)) this.reachedMap.set(k, (this.reachedMap.get(k) ?? 0) + n);
    for (const [k, n] of Object.entries(other.outcomes)) {
      const at = k.indexOf(ARROW);
      this.outcome(k.slice(0, at), k.slice(at + ARROW.length), n);
    }
  }

  toRecord(): CoverageRecord {
    const outcomes = new Map<string, number>();
    for (const [name, m] of this.outcomeMap) for (const [result, n] of m) outcomes.set(`${name}${ARROW}${result}`, n);
    return { reached: sorted(this.reachedMap), outcomes: sorted(outcomes) };
  }
}

function sorted(m: Map<string, number>): Record<string, number> {
  return Object.fromEntries([...m.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
