/**
 * Shrinking a failing action list to the actions that matter: delta debugging (Zeller and
 * Hildebrandt, "Simplifying and Isolating Failure-Inducing Input", IEEE TSE 2002), the `ddmin`
 * algorithm, preceded by a cheap suffix search.
 *
 * `fails(list)` replays a candidate list from the episode's fresh setup and says whether the same
 * invariant still breaks. Most findings depend on a few recent actions, so the suffix search
 * first tries the last 1, 2, 4, … actions; ddmin then removes chunks of halving size (subsets
 * first, then complements) until no single action can be removed — a 1-minimal list — or the time
 * budget runs out, in which case the smallest failing list found so far is returned.
 */

export interface MinimiseOptions {
  /** Stop shrinking after this many milliseconds (the best list so far is kept). */
  readonly timeMs?: number;
  /** Stop after this many replays. */
  readonly maxReplays?: number;
}

export interface MinimiseResult<T> {
  readonly items: readonly T[];
  readonly replays: number;
  /** False when the budget ran out before the list was 1-minimal. */
  readonly complete: boolean;
}

/** Shrink `items` (which must fail) to a smaller list that still fails. */
export function minimise<T>(items: readonly T[], fails: (candidate: readonly T[]) => boolean, options: MinimiseOptions = {}): MinimiseResult<T> {
  const deadline = performance.now() + (options.timeMs ?? 10_000);
  const maxReplays = options.maxReplays ?? Number.POSITIVE_INFINITY;
  let replays = 0;
  let exhausted = false;
  const test = (candidate: readonly T[]): boolean => {
    if (replays >= maxReplays || performance.now() > deadline) {
      exhausted = true;
      return false;
    }
    replays++;
    return fails(candidate);
  };

  let current = items;
  // Suffix search: the shortest power-of-two tail that still fails.
  for (let n = 1; n < current.length; n *= 2) {
    const tail = current.slice(current.length - n);
    if (test(tail)) {
      current = tail;
      break;
    }
    if (exhausted) break;
  }

  let granularity = 2;
  while (current.length >= 2 && !exhausted) {
    const chunks = split(current, granularity);
    let reduced = false;
    for (const chunk of chunks) {
      if (test(chunk)) {
        current = chunk;
        granularity = 2;
        reduced = true;
        break;
      }
      if (exhausted) break;
    }
    if (!reduced && !exhausted && granularity > 2) {
      for (let i = 0; i < chunks.length; i++) {
        const complement = chunks.filter((_, j) => j !== i).flat();
        if (test(complement)) {
          current = complement;
          granularity = Math.max(granularity - 1, 2);
          reduced = true;
          break;
        }
        if (exhausted) break;
      }
    }
    if (!reduced) {
      if (granularity >= current.length) break;
      granularity = Math.min(current.length, granularity * 2);
    }
  }
  return { items: current, replays, complete: !exhausted };
}

/** Split into `n` contiguous chunks of near-equal size (none empty). */
function split<T>(items: readonly T[], n: number): T[][] {
  const out: T[][] = [];
  let start = 0;
  for (let i = 0; i < n; i++) {
    const end = Math.round(((i + 1) * items.length) / n);
    if (end > start) out.push(items.slice(start, end));
    start = end;
  }
  return out;
}
