/**
 * The sequence of crossings: one row per event in time order, with an arrow between the four
 * lanes (guest, module, host, userspace) drawn from the event kind (src/trace/lanes.ts), the name,
 * the vCPU and the outcome. Rows are virtualised.
 */
import type { TraceEvent } from '../../src/trace/events.ts';
import { TRACE_PARTIES } from '../../src/trace/events.ts';
import { arrowOf, PARTY_LABELS } from '../../src/trace/lanes.ts';
import { formatTime, outcome } from '../../src/trace/query.ts';
import { VirtualList } from './VirtualList.tsx';

const ROW_HEIGHT = 24;
/** Width of one lane in the diagram column, px. */
export const LANE_WIDTH = 76;

const laneIndex = Object.fromEntries(TRACE_PARTIES.map((p, i) => [p, i])) as Record<string, number>;

interface Props {
  readonly events: readonly TraceEvent[];
  /** Indexes into `events` of the rows to show. */
  readonly rows: readonly number[];
  readonly selected: number | undefined;
  readonly onSelect: (index: number) => void;
}

export function Sequence({ events, rows, selected, onSelect }: Props) {
  const selectedRow = selected === undefined ? undefined : rows.indexOf(selected);
  return (
    <div class="sequence">
      <div class="seq-head">
        <span class="c-time">time</span>
        <span class="c-lanes">
          {TRACE_PARTIES.map((p) => (
            <span key={p} class={`lane-head lane-${p}`} style={{ width: `${LANE_WIDTH}px` }}>
              {PARTY_LABELS[p]}
            </span>
          ))}
        </span>
        <span class="c-name">crossing</span>
        <span class="c-vcpu">vCPU</span>
        <span class="c-status">status</span>
      </div>
      <VirtualList
        count={rows.length}
        rowHeight={ROW_HEIGHT}
        scrollTo={selectedRow}
        testId="sequence-list"
        renderRow={(r) => {
          const i = rows[r]!;
          const e = events[i]!;
          return <Row e={e} selected={i === selected} onClick={() => onSelect(i)} />;
        }}
      />
    </div>
  );
}

function Row({ e, selected, onClick }: { e: TraceEvent; selected: boolean; onClick: () => void }) {
  const o = outcome(e);
  const status = e.vmmStatus?.error || (!e.status && e.vmmStatus) ? e.vmmStatus : e.status;
  return (
    <div
      class={`row outcome-${o}${selected ? ' selected' : ''}`}
      data-testid="row"
      data-kind={e.kind}
      data-name={e.name}
      data-seq={e.seq}
      onClick={onClick}
      title={`${e.kind} · seq ${e.seq}`}
    >
      <span class="c-time">{formatTime(e.time)}</span>
      <span class="c-lanes">
        <Arrow e={e} />
      </span>
      <span class="c-name">
        <span class={`kind kind-${e.kind}`}>{e.kind.replace('_', ' ')}</span> {e.name}
      </span>
      <span class="c-vcpu">{e.vcpu ?? ''}</span>
      <span class="c-status">{status?.name ?? (status ? status.value : '')}</span>
    </div>
  );
}

/** The arrow of one event across the lanes; a box on one lane for work inside a party. */
function Arrow({ e }: { e: TraceEvent }) {
  const { from, to } = arrowOf(e.kind, e.party);
  const a = laneIndex[from]! * LANE_WIDTH + LANE_WIDTH / 2;
  const b = laneIndex[to]! * LANE_WIDTH + LANE_WIDTH / 2;
  if (a === b) return <span class={`dot lane-${from}`} style={{ left: `${a - 5}px` }} />;
  const left = Math.min(a, b);
  return <span class={`arrow ${b > a ? 'right' : 'left'}`} style={{ left: `${left}px`, width: `${Math.abs(b - a)}px` }} />;
}
