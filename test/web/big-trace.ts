/**
 * A large trace for the viewer's scaling test, made quickly: the demo trace's bring-up and build,
 * then its guest run repeated with sequence numbers, times and flow ids shifted, until there are
 * at least `count` events. Written line by line to a file.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { buildDemoTrace } from '../../scripts/make-fixture-trace.ts';
import type { TraceEvent } from '../../src/trace/events.ts';
import { formatEventLine, traceHeader } from '../../src/trace/jsonl.ts';

export function writeBigTrace(path: string, count: number): number {
  const demo = buildDemoTrace();
  // The guest run starts after the final MRTD measurement.
  const start = demo.findIndex((e) => e.kind === 'measure' && e.data?.op === 'MR.FINALIZE') + 1;
  const prefix = demo.slice(0, start);
  const round = demo.slice(start);
  const span = demo.at(-1)!.time + demo.at(-1)!.duration - round[0]!.time;
  const fd = openSync(path, 'w');
  let written = 0;
  let buf: string[] = [JSON.stringify(traceHeader('big-trace.ts'))];
  const flush = () => {
    writeSync(fd, buf.join('\n') + '\n');
    buf = [];
  };
  const put = (e: TraceEvent) => {
    buf.push(formatEventLine(e));
    written++;
    if (buf.length >= 5000) flush();
  };
  prefix.forEach(put);
  for (let k = 0; written < count; k++) {
    const dSeq = k * round.length;
    for (const e of round) {
      put({
        ...e,
        seq: e.seq + dSeq,
        time: e.time + k * span,
        ...(e.flowOut !== undefined && { flowOut: e.flowOut + dSeq }),
        ...(e.flowIn !== undefined && { flowIn: e.flowIn + dSeq }),
      });
    }
  }
  flush();
  closeSync(fd);
  return written;
}
