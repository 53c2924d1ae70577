/**
 * The TD's memory over time: one cell per GPA that ever changed state, coloured private, shared,
 * pending or blocked, as it stood after the change the slider points at. Below: the counts (in 4K
 * pages) and the map as runs of contiguous pages in one state.
 */
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import type { TraceEvent } from '../../src/trace/events.ts';
import { PAGE_CATEGORIES, pageCategory, type PageCategory, type TracePageState } from '../../src/trace/page-states.ts';
import { pageStatesAfter, pageTimelines, type PageTimeline } from '../../src/trace/pages.ts';
import { formatTime } from '../../src/trace/query.ts';
import { PAGE_SIZE } from '../../src/abi/pamt.ts';

const CELL = 14;
const GAP = 2;
const COLUMNS = 48;

/** Colours of the categories (kept in step with style.css). */
const COLOUR: Readonly<Record<PageCategory, string>> = {
  private: '#2f7d4f',
  shared: '#2b6cb0',
  pending: '#d69e2e',
  blocked: '#c53030',
  none: '#e2e8f0',
};

export function MemoryMap({ events }: { events: readonly TraceEvent[] }) {
  const timelines = useMemo(() => pageTimelines(events), [events]);
  const [td, setTd] = useState(0);
  if (timelines.length === 0) return <p class="note" data-testid="memory-map">This trace has no page events, so there is no memory map to show.</p>;
  const timeline = timelines[Math.min(td, timelines.length - 1)]!;
  return (
    <div class="memory" data-testid="memory-map">
      {timelines.length > 1 && (
        <label>
          TD{' '}
          <select value={String(td)} onChange={(e) => setTd(Number((e.currentTarget as HTMLSelectElement).value))}>
            {timelines.map((t, i) => (
              <option key={t.td} value={String(i)}>
                {t.td}
              </option>
            ))}
          </select>
        </label>
      )}
      <TimelineView key={timeline.td} timeline={timeline} />
    </div>
  );
}

function TimelineView({ timeline }: { timeline: PageTimeline }) {
  const total = timeline.changes.length;
  const [count, setCount] = useState(total);
  const [hover, setHover] = useState<number | undefined>(undefined);
  const states = useMemo(() => pageStatesAfter(timeline, count), [timeline, count]);
  const canvas = useRef<HTMLCanvasElement>(null);
  const rowsOfCells = Math.ceil(timeline.gpas.length / COLUMNS);

  useEffect(() => {
    const c = canvas.current;
    const ctx = c?.getContext('2d');
    if (!c || !ctx) return;
    ctx.clearRect(0, 0, c.width, c.height);
    states.forEach((s, i) => {
      ctx.fillStyle = COLOUR[s === undefined ? 'none' : pageCategory(s)];
      ctx.fillRect((i % COLUMNS) * (CELL + GAP), Math.floor(i / COLUMNS) * (CELL + GAP), CELL, CELL);
    });
  }, [states]);

  const counts = useMemo(() => {
    const out: Record<PageCategory, number> = { private: 0, shared: 0, pending: 0, blocked: 0, none: 0 };
    states.forEach((s, i) => (out[s === undefined ? 'none' : pageCategory(s)] += timeline.sizes[i]!));
    return out;
  }, [states, timeline]);

  const at = count === 0 ? undefined : timeline.changes[count - 1]!;
  const onMove = (e: MouseEvent) => {
    const r = (e.currentTarget as HTMLCanvasElement).getBoundingClientRect();
    const col = Math.floor((e.clientX - r.left) / (CELL + GAP));
    const row = Math.floor((e.clientY - r.top) / (CELL + GAP));
    const i = row * COLUMNS + col;
    setHover(col < COLUMNS && i < timeline.gpas.length ? i : undefined);
  };

  return (
    <>
      <div class="slider">
        <input
          type="range"
          min={0}
          max={total}
          value={count}
          data-testid="time-slider"
          onInput={(e) => setCount(Number((e.currentTarget as HTMLInputElement).value))}
        />
        <span data-testid="slider-label">
          {at ? `after change ${count} of ${total}, at ${formatTime(at.time)} (seq ${at.seq})` : `before the first of ${total} changes`}
        </span>
      </div>
      <p class="legend" data-testid="legend">
        {PAGE_CATEGORIES.map((c) => (
          <span key={c}>
            <i style={{ background: COLOUR[c] }} /> {c}: {counts[c]}
          </span>
        ))}
        <span class="unit">(4K pages)</span>
      </p>
      <canvas
        ref={canvas}
        width={COLUMNS * (CELL + GAP)}
        height={Math.max(1, rowsOfCells) * (CELL + GAP)}
        onMouseMove={onMove}
        onMouseLeave={() => setHover(undefined)}
      />
      <p class="hover" data-testid="hover">
        {hover !== undefined ? `${timeline.gpas[hover]} · ${states[hover] ?? 'not touched yet'}` : 'Point at a page to see its GPA and state.'}
      </p>
      <Runs timeline={timeline} states={states} />
    </>
  );
}

/** Contiguous GPAs (by 4K page number) in one state, as a table. */
function Runs({ timeline, states }: { timeline: PageTimeline; states: readonly (TracePageState | undefined)[] }) {
  const runs = useMemo(() => {
    const out: { from: string; to: string; pages: number; state: TracePageState }[] = [];
    let prevEnd = -1n;
    timeline.gpas.forEach((gpa, i) => {
      const s = states[i];
      if (s === undefined) return;
      const start = BigInt(gpa);
      const size = BigInt(timeline.sizes[i]!) * PAGE_SIZE;
      const last = out.at(-1);
      if (last && last.state === s && start === prevEnd) {
        last.to = gpa;
        last.pages += timeline.sizes[i]!;
      } else out.push({ from: gpa, to: gpa, pages: timeline.sizes[i]!, state: s });
      prevEnd = start + size;
    });
    return out;
  }, [timeline, states]);
  return (
    <table class="runs" data-testid="runs">
      <thead>
        <tr>
          <th>first GPA</th>
          <th>last GPA</th>
          <th>4K pages</th>
          <th>state</th>
        </tr>
      </thead>
      <tbody>
        {runs.slice(0, 500).map((r) => (
          <tr key={r.from}>
            <td>
              <code>{r.from}</code>
            </td>
            <td>
              <code>{r.to}</code>
            </td>
            <td>{r.pages}</td>
            <td class={`cat-${pageCategory(r.state)}`}>{r.state}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
