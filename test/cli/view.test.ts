import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { checkTrace, parsePort, registerViewCommand, startViewServer, viewerIndex, VIEW_HOST } from '../../src/cli/commands/view.ts';
import { UsageError } from '../../src/cli/errors.ts';

const FIXTURE = fileURLToPath(new URL('../fixtures/traces/demo.jsonl', import.meta.url));
const HEADER = '{"format":"tdxsim-trace","version":1,"clock":"ns"}';

/** A scratch directory with a fake built viewer (index.html and one asset). */
function scratch(): { dir: string; web: string; done: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'tdxsim-view-'));
  const web = join(dir, 'web');
  mkdirSync(join(web, 'assets'), { recursive: true });
  writeFileSync(join(web, 'index.html'), '<!doctype html><title>viewer</title>');
  writeFileSync(join(web, 'assets', 'app.js'), 'console.log(1)');
  writeFileSync(join(dir, 'secret.txt'), 'not for the browser');
  return { dir, web, done: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A raw HTTP request (the path is sent as given, so traversal attempts reach the server intact). */
function get(port: number, path: string, method = 'GET'): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: VIEW_HOST, port, path, method, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('tdxsim view: checks before serving', () => {
  it('checkTrace counts the events of a valid trace', () => {
    assert.equal(checkTrace(FIXTURE), 1325);
  });

  it('a missing or malformed trace is a usage error naming the file, line and field', () => {
    const s = scratch();
    try {
      assert.throws(() => checkTrace(join(s.dir, 'none.jsonl')), new UsageError(`view: cannot read ${join(s.dir, 'none.jsonl')}: no such file`));
      const bad = join(s.dir, 'bad.jsonl');
      writeFileSync(bad, `${HEADER}\n{"seq":1}\n`);
      assert.throws(() => checkTrace(bad), (err: unknown) => err instanceof UsageError && err.message.startsWith(`view: ${bad} is not a valid tdxsim trace:\n  line 2: `));
    } finally {
      s.done();
    }
  });

  it('an unbuilt viewer is a usage error that says how to build it', () => {
    const s = scratch();
    try {
      assert.equal(viewerIndex(s.web), join(s.web, 'index.html'));
      assert.throws(() => viewerIndex(s.dir), /view: the trace viewer is not built \(no .*index\.html\): run `npm run build:web`/);
    } finally {
      s.done();
    }
  });

  it('--port takes 0..65535 only', () => {
    assert.equal(parsePort('0'), 0);
    assert.equal(parsePort('8080'), 8080);
    for (const bad of ['-1', '65536', 'eighty', '80.5', '']) assert.throws(() => parsePort(bad), UsageError, bad);
  });
});

describe('tdxsim view: the server', () => {
  it('serves the viewer and the trace on 127.0.0.1, and nothing else', async () => {
    const s = scratch();
    const trace = join(s.dir, 'run.jsonl');
    writeFileSync(trace, `${HEADER}\n`);
    const server = await startViewServer({ tracePath: trace, port: 0, webRoot: s.web });
    try {
      assert.equal(server.url, `http://127.0.0.1:${server.port}/`);
      const index = await get(server.port, '/');
      assert.equal(index.status, 200);
      assert.equal(index.headers['content-type'], 'text/html; charset=utf-8');
      assert.equal(index.body, '<!doctype html><title>viewer</title>');
      assert.equal((await get(server.port, '/assets/app.js')).headers['content-type'], 'text/javascript; charset=utf-8');

      const t = await get(server.port, '/trace.jsonl');
      assert.equal(t.status, 200);
      assert.equal(t.body, `${HEADER}\n`);
      assert.equal(t.headers['content-type'], 'application/x-ndjson; charset=utf-8');
      assert.equal(t.headers['x-trace-source'], 'run.jsonl');
      assert.equal(t.headers['x-content-type-options'], 'nosniff');
      // Read afresh on every request: a re-run shows up on reload.
      writeFileSync(trace, `${HEADER}\n\n`);
      assert.equal((await get(server.port, '/trace.jsonl')).body, `${HEADER}\n\n`);

      for (const path of ['/../secret.txt', '/assets/../../secret.txt', '/%2e%2e/secret.txt', '/assets/%2e%2e%2f%2e%2e%2fsecret.txt', '/nope.js', '/assets/', '/%E0%A4%A']) {
        assert.equal((await get(server.port, path)).status, 404, path);
      }
      const post = await get(server.port, '/trace.jsonl', 'POST');
      assert.equal(post.status, 405);
      assert.equal(post.headers.allow, 'GET, HEAD');
    } finally {
      await server.close();
      s.done();
    }
  });

  it('a port in use is a usage error that suggests another', async () => {
    const s = scratch();
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, VIEW_HOST, () => r()));
    const port = (blocker.address() as { port: number }).port;
    try {
      await assert.rejects(
        startViewServer({ tracePath: FIXTURE, port, webRoot: s.web }),
        new UsageError(`view: port ${port} on 127.0.0.1 is in use: choose another with --port, or --port 0 for any free port`),
      );
    } finally {
      blocker.close();
      s.done();
    }
  });

  it('the command validates, prints the URL, serves until stopped, then closes', async () => {
    const s = scratch();
    const lines: string[] = [];
    let stop!: () => void;
    const stopped = new Promise<void>((r) => (stop = r));
    let served: Promise<number> | undefined;
    const program = new Command('tdxsim').exitOverride();
    registerViewCommand(program, {
      log: (l) => {
        lines.push(l);
        const port = Number(/127\.0\.0\.1:(\d+)\//.exec(l)?.[1]);
        served = get(port, '/trace.jsonl').then((r) => r.status);
      },
      untilStopped: async () => {
        await served;
        stop();
        return stopped;
      },
      webRoot: s.web,
    });
    try {
      await program.parseAsync(['node', 'tdxsim', 'view', FIXTURE, '--port', '0', '--no-open']);
      assert.equal(lines.length, 1);
      assert.match(lines[0]!, /^tdxsim view: .*demo\.jsonl \(1325 events\) at http:\/\/127\.0\.0\.1:\d+\/ {2}\(Ctrl-C to stop\)$/);
      assert.equal(await served, 200);
      const port = Number(/:(\d+)\//.exec(lines[0]!)![1]);
      await assert.rejects(get(port, '/'), /ECONNREFUSED/, 'closed after the stop');
    } finally {
      s.done();
    }
  });

  it('the command refuses a malformed trace before serving anything', async () => {
    const s = scratch();
    const bad = join(s.dir, 'bad.jsonl');
    writeFileSync(bad, '[{"ph":"X","name":"a"}]');
    const program = new Command('tdxsim').exitOverride();
    registerViewCommand(program, { log: () => assert.fail('nothing is served'), untilStopped: async () => {}, webRoot: s.web });
    try {
      await assert.rejects(program.parseAsync(['node', 'tdxsim', 'view', bad, '--no-open']), /line 1: this is a Chrome Trace Event JSON file/);
    } finally {
      s.done();
    }
  });
});
