/**
 * The details of one crossing: where and when, the status (name, flags, operand or other detail,
 * the one-line explanation) and, for TDG.VP.VMCALL, the VMM's status apart from it; the decoded
 * operand fields; the input and output registers side by side; the extras; and the other events
 * of its round trip, each a link.
 */
import type { TraceEvent, TraceStatus } from '../../src/trace/events.ts';
import { PARTY_LABELS } from '../../src/trace/lanes.ts';
import { chainOf, formatTime } from '../../src/trace/query.ts';

interface Props {
  readonly events: readonly TraceEvent[];
  readonly index: number | undefined;
  readonly onSelect: (index: number) => void;
}

export function RegisterPanel({ events, index, onSelect }: Props) {
  const e = index === undefined ? undefined : events[index];
  if (!e) {
    return (
      <aside class="panel" data-testid="register-panel">
        <p class="note">Click a crossing to see its registers, decoded fields and status.</p>
      </aside>
    );
  }
  const chain = chainOf(events, e);
  return (
    <aside class="panel" data-testid="register-panel">
      <h2 data-testid="panel-name">{e.name}</h2>
      <p class="meta">
        {e.kind.replace('_', ' ')} · {PARTY_LABELS[e.party]} · seq {e.seq} · at {formatTime(e.time)}
        {e.duration > 0 && ` for ${formatTime(e.duration)}`}
        {e.td !== undefined && ` · TD ${e.td}`}
        {e.vcpu !== undefined && ` · vCPU ${e.vcpu}`}
        {e.lp !== undefined && ` · LP ${e.lp}`}
      </p>
      {e.status && <StatusBlock title={e.status.domain === 'tdvmcall' ? 'TDVMCALL status' : 'Status (RAX)'} s={e.status} testId="status" />}
      {e.vmmStatus && <StatusBlock title="VMM status (R10)" s={e.vmmStatus} testId="vmm-status" />}
      {e.fields && <KeyValues title="Decoded fields" values={e.fields} testId="fields" />}
      {(e.in || e.out) && <Registers e={e} />}
      {e.data && <KeyValues title="Details" values={e.data} testId="data" />}
      {chain.length > 1 && (
        <section>
          <h3>Round trip</h3>
          <ol class="chain" data-testid="chain">
            {chain.map((c) => (
              <li key={c.seq} class={c.seq === e.seq ? 'current' : ''}>
                <button type="button" class="link" onClick={() => onSelect(events.indexOf(c))}>
                  {c.kind.replace('_', ' ')}: {c.name}
                </button>
              </li>
            ))}
          </ol>
        </section>
      )}
    </aside>
  );
}

function StatusBlock({ title, s, testId }: { title: string; s: TraceStatus; testId: string }) {
  const cls = s.error ? 'error' : s.warning ? 'warning' : 'ok';
  return (
    <section class={`status status-${cls}`} data-testid={testId}>
      <h3>{title}</h3>
      <p>
        <strong data-testid={`${testId}-name`}>{s.name ?? 'unknown status'}</strong> <code>{s.value}</code>
      </p>
      {(s.flags?.length ?? 0) > 0 && (
        <p class="flags">
          {s.flags!.map((f) => (
            <span key={f} class="flag">
              {f}
            </span>
          ))}
        </p>
      )}
      {s.detail && (
        <p data-testid={`${testId}-detail`}>
          {s.detailKind ?? 'detail'}: <strong>{s.detail}</strong>
        </p>
      )}
      {s.text && <p class="explain">{s.text}</p>}
    </section>
  );
}

function KeyValues({ title, values, testId }: { title: string; values: Readonly<Record<string, string | number | boolean>>; testId: string }) {
  return (
    <section>
      <h3>{title}</h3>
      <table class="kv" data-testid={testId}>
        <tbody>
          {Object.entries(values).map(([k, v]) => (
            <tr key={k}>
              <th>{k}</th>
              <td>
                <code>{String(v)}</code>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

function Registers({ e }: { e: TraceEvent }) {
  const names = [...new Set([...Object.keys(e.in ?? {}), ...Object.keys(e.out ?? {})])];
  return (
    <section>
      <h3>Registers</h3>
      <table class="regs" data-testid="registers">
        <thead>
          <tr>
            <th />
            <th>in</th>
            <th>out</th>
          </tr>
        </thead>
        <tbody>
          {names.map((r) => (
            <tr key={r}>
              <th>{r.toUpperCase()}</th>
              <td>
                <code>{e.in?.[r] ?? ''}</code>
              </td>
              <td>
                <code class={e.in?.[r] !== undefined && e.out?.[r] !== undefined && e.in[r] !== e.out[r] ? 'changed' : ''}>{e.out?.[r] ?? ''}</code>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
