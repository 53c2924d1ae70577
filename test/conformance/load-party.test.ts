/**
 * Loading a user's host or guest party from an ES module: default or named export, object or
 * factory of the built-in party, and the errors for anything else.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { loadGuest, loadHost, PartyLoadError } from '../../src/conformance/load-party.ts';
import { builtinGuest } from '../../src/conformance/builtin.ts';
import { ALL_CASES } from '../../src/conformance/suite.ts';
import { runCases, selectCases } from '../../src/conformance/runner.ts';
import { builtinHost } from '../../src/conformance/builtin.ts';

const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));

describe('loadHost', () => {
  it('takes an export named host when there is no default', async () => {
    const h = await loadHost(fixture('named-host.js'));
    assert.equal(h.name, 'named host');
    assert.deepEqual(h.handleTdvmcall({} as never), { kind: 'resume' });
  });

  it('refuses a module without handleTdvmcall, naming what is missing', async () => {
    await assert.rejects(loadHost(fixture('not-a-host.js')), (e: unknown) => e instanceof PartyLoadError && /does not implement handleTdvmcall/.test(e.message));
  });

  it('reports a file that cannot be imported', async () => {
    await assert.rejects(loadHost(fixture('missing.js')), (e: unknown) => e instanceof PartyLoadError && /cannot load .*missing\.js/.test(e.message));
  });
});

describe('loadGuest', () => {
  it('calls a factory with the built-in guest and checks the result', async () => {
    const g = await loadGuest(fixture('partial-guest.js'));
    assert.equal(g.name, 'partial-guest.js');
    assert.equal(g.ghci.ioWrite, builtinGuest.ghci.ioWrite);
    assert.notEqual(g.ghci.ioRead, builtinGuest.ghci.ioRead);
  });

  it('refuses an object that lacks the GHCI wrappers', async () => {
    await assert.rejects(loadGuest(fixture('named-host.js')), (e: unknown) => e instanceof PartyLoadError && /export named "guest"/.test(e.message));
    await assert.rejects(loadGuest(fixture('not-a-host.js')), (e: unknown) => e instanceof PartyLoadError && /installVeHandler.*ghci/.test(e.message));
  });

  it('a guest whose ioRead never asks the VMM fails exactly the IO-read wrapper cases', async () => {
    const guest = await loadGuest(fixture('partial-guest.js'));
    const r = runCases(selectCases(ALL_CASES, { areas: ['tdvmcall-guest', 've', 'memory', 'attestation'] }), { host: builtinHost, guest });
    assert.deepEqual(r.results.filter((c) => !c.pass).map((c) => c.name).sort(), ['ghci-io-read', 'ghci-io-read-refused']);
    const detail = r.results.find((c) => c.name === 'ghci-io-read')!.detail;
    assert.match(detail, /made no TDVMCALL/);
  });
});
