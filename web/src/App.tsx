/**
 * The viewer: loads a trace (served or opened), then shows it as a sequence of crossings between
 * the four parties with a register panel, the TD's memory map over time, and the measurement log.
 * Whatever goes wrong — a malformed trace, a rendering bug — ends in a readable message, never a
 * blank page.
 */
import { Component, type ComponentChildren } from 'preact';
import { useCallback, useEffect, useMemo, useState } from 'preact/hooks';
import type { TraceEvent } from '../../src/trace/events.ts';
import { filterEvents, SHOW_ALL, vcpusOf, type TraceFilter } from '../../src/trace/query.ts';
import { Filters } from './Filters.tsx';
import { Measurements } from './Measurements.tsx';
import { MemoryMap } from './MemoryMap.tsx';
import { RegisterPanel } from './RegisterPanel.tsx';
import { Sequence } from './Sequence.tsx';
import { fetchServedTrace, readFile, type LoadState } from './source.ts';

type Tab = 'sequence' | 'memory' | 'measurements';

export function App() {
  const [state, setState] = useState<LoadState>({ kind: 'loading', what: 'trace.jsonl' });

  useEffect(() => {
    void fetchServedTrace().then(setState);
  }, []);

  const open = useCallback((file: File | undefined) => {
    if (!file) return;
    setState({ kind: 'loading', what: file.name });
    void readFile(file).then(setState);
  }, []);

  // Dropping a file anywhere on the page opens it.
  useEffect(() => {
    const over = (e: DragEvent) => e.preventDefault();
    const drop = (e: DragEvent) => {
      e.preventDefault();
      open(e.dataTransfer?.files[0]);
    };
    window.addEventListener('dragover', over);
    window.addEventListener('drop', drop);
    return () => {
      window.removeEventListener('dragover', over);
      window.removeEventListener('drop', drop);
    };
  }, [open]);

  return (
    <div class="app">
      <header class="top">
        <h1>tdxsim trace viewer</h1>
        <span class="source" data-testid="source">
          {state.kind === 'ready' ? `${state.trace.source} · ${state.events.length} events` : ''}
        </span>
        <label class="open">
          Open trace…
          <input type="file" accept=".jsonl,.json,.txt" data-testid="open-file" onChange={(e) => open((e.currentTarget as HTMLInputElement).files?.[0])} />
        </label>
      </header>
      <ErrorBoundary>
        <Body state={state} />
      </ErrorBoundary>
    </div>
  );
}

function Body({ state }: { state: LoadState }) {
  switch (state.kind) {
    case 'loading':
      return <p class="note">Loading {state.what}…</p>;
    case 'empty':
      return (
        <p class="note" data-testid="empty">
          No trace loaded. Open a tdxsim trace (JSON lines) or drop one on this page, or run <code>tdxsim view trace.jsonl</code>.
        </p>
      );
    case 'error':
      return <ErrorView headline={state.headline} problems={state.problems} more={state.more} />;
    case 'ready':
      return <TraceView events={state.events} />;
  }
}

export function ErrorView({ headline, problems, more }: { headline: string; problems: readonly string[]; more: number }) {
  return (
    <div class="error" role="alert" data-testid="error">
      <h2>{headline}</h2>
      <ul>
        {problems.map((p) => (
          <li key={p}>
            <code>{p}</code>
          </li>
        ))}
      </ul>
      {more > 0 && <p>… and {more} more problems.</p>}
    </div>
  );
}

/** Shows a rendering failure instead of unmounting the page. */
class ErrorBoundary extends Component<{ children: ComponentChildren }, { error?: unknown }> {
  override state: { error?: unknown } = {};

  override componentDidCatch(error: unknown) {
    this.setState({ error });
  }

  override render() {
    if (this.state.error !== undefined) {
      const e = this.state.error;
      return <ErrorView headline="The viewer failed to show this trace" problems={[e instanceof Error ? `${e.name}: ${e.message}` : String(e)]} more={0} />;
    }
    return this.props.children;
  }
}

function TraceView({ events }: { events: readonly TraceEvent[] }) {
  const [tab, setTab] = useState<Tab>('sequence');
  const [filter, setFilter] = useState<TraceFilter>(SHOW_ALL);
  const [selected, setSelected] = useState<number | undefined>(undefined);
  const vcpus = useMemo(() => vcpusOf(events), [events]);
  const rows = useMemo(() => filterEvents(events, filter), [events, filter]);
  const hasPages = useMemo(() => events.some((e) => e.kind === 'page'), [events]);
  const hasMeasure = useMemo(() => events.some((e) => e.kind === 'measure'), [events]);

  return (
    <>
      <nav class="tabs" role="tablist">
        <TabButton id="sequence" tab={tab} setTab={setTab} label="Sequence" />
        <TabButton id="memory" tab={tab} setTab={setTab} label={`Memory map${hasPages ? '' : ' (no page events)'}`} />
        <TabButton id="measurements" tab={tab} setTab={setTab} label={`Measurements${hasMeasure ? '' : ' (none)'}`} />
      </nav>
      {tab === 'sequence' && (
        <div class="sequence-layout">
          <div class="sequence-main">
            <Filters filter={filter} onChange={setFilter} vcpus={vcpus} shown={rows.length} total={events.length} />
            <Sequence events={events} rows={rows} selected={selected} onSelect={setSelected} />
          </div>
          <RegisterPanel events={events} index={selected} onSelect={setSelected} />
        </div>
      )}
      {tab === 'memory' && <MemoryMap events={events} />}
      {tab === 'measurements' && <Measurements events={events} />}
    </>
  );
}

function TabButton({ id, tab, setTab, label }: { id: Tab; tab: Tab; setTab: (t: Tab) => void; label: string }) {
  return (
    <button type="button" role="tab" aria-selected={tab === id} class={tab === id ? 'tab active' : 'tab'} data-testid={`tab-${id}`} onClick={() => setTab(id)}>
      {label}
    </button>
  );
}
