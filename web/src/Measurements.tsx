/** The measurement log: every MRTD block and RTMR extend in order, and each register's last value. */
import { useMemo } from 'preact/hooks';
import type { TraceEvent } from '../../src/trace/events.ts';
import { formatTime } from '../../src/trace/query.ts';

export function Measurements({ events }: { events: readonly TraceEvent[] }) {
  const log = useMemo(() => events.filter((e) => e.kind === 'measure'), [events]);
  const last = useMemo(() => {
    const m = new Map<string, string>();
    for (const e of log) m.set(String(e.data?.register), String(e.data?.digest));
    return [...m];
  }, [log]);
  if (log.length === 0) return <p class="note" data-testid="measurements">This trace has no measurement events.</p>;
  return (
    <div class="measurements" data-testid="measurements">
      <h3>Registers at the end of the trace</h3>
      <table class="kv">
        <tbody>
          {last.map(([reg, digest]) => (
            <tr key={reg}>
              <th>{reg}</th>
              <td>
                <code class="digest">{digest}</code>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <h3>Log ({log.length} extends)</h3>
      <table class="log">
        <thead>
          <tr>
            <th>time</th>
            <th>register</th>
            <th>operation</th>
            <th>GPA</th>
            <th>value after</th>
          </tr>
        </thead>
        <tbody>
          {log.slice(0, 5000).map((e) => (
            <tr key={e.seq}>
              <td>{formatTime(e.time)}</td>
              <td>{String(e.data?.register)}</td>
              <td>{String(e.data?.op)}</td>
              <td>
                <code>{e.data?.gpa !== undefined ? String(e.data.gpa) : ''}</code>
              </td>
              <td>
                <code class="digest" title={String(e.data?.digest)}>
                  {String(e.data?.digest).slice(0, 24)}…
                </code>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {log.length > 5000 && <p class="note">Showing the first 5000 of {log.length} extends.</p>}
    </div>
  );
}
