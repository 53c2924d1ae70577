/** The filter bar: parties, name or sub-function, outcome, vCPU. */
import { TRACE_PARTIES, type TraceParty } from '../../src/trace/events.ts';
import { PARTY_LABELS } from '../../src/trace/lanes.ts';
import type { TraceFilter } from '../../src/trace/query.ts';

interface Props {
  readonly filter: TraceFilter;
  readonly onChange: (f: TraceFilter) => void;
  readonly vcpus: readonly number[];
  readonly shown: number;
  readonly total: number;
}

export function Filters({ filter, onChange, vcpus, shown, total }: Props) {
  const toggle = (p: TraceParty) => {
    const parties = new Set(filter.parties);
    if (parties.has(p)) parties.delete(p);
    else parties.add(p);
    onChange({ ...filter, parties });
  };
  return (
    <div class="filters" data-testid="filters">
      {TRACE_PARTIES.map((p) => (
        <label key={p} class={`party-toggle lane-${p}`}>
          <input type="checkbox" checked={filter.parties.has(p)} data-testid={`party-${p}`} onChange={() => toggle(p)} />
          {PARTY_LABELS[p]}
        </label>
      ))}
      <input
        type="search"
        placeholder="leaf or sub-function…"
        value={filter.text}
        data-testid="filter-text"
        onInput={(e) => onChange({ ...filter, text: (e.currentTarget as HTMLInputElement).value })}
      />
      <select
        value={filter.outcome}
        data-testid="filter-outcome"
        onChange={(e) => onChange({ ...filter, outcome: (e.currentTarget as HTMLSelectElement).value as TraceFilter['outcome'] })}
      >
        <option value="all">any status</option>
        <option value="ok">ok</option>
        <option value="warning">warning</option>
        <option value="error">error</option>
      </select>
      <select
        value={String(filter.vcpu)}
        data-testid="filter-vcpu"
        onChange={(e) => {
          const v = (e.currentTarget as HTMLSelectElement).value;
          onChange({ ...filter, vcpu: v === 'all' ? 'all' : Number(v) });
        }}
      >
        <option value="all">all vCPUs</option>
        {vcpus.map((v) => (
          <option key={v} value={String(v)}>
            vCPU {v}
          </option>
        ))}
      </select>
      <span class="count" data-testid="row-count">
        {shown === total ? `${total} events` : `${shown} of ${total} events`}
      </span>
    </div>
  );
}
