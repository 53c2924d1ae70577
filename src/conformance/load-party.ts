/**
 * Loading a user's party from a module file (`--host ./my-handlers.js`, `--guest ./my-guest.js`).
 *
 * The module is imported as ESM. Its `default` export, or else its export named `host` (`guest`),
 * is either the party itself or a factory `(builtin) => party` that receives the built-in party,
 * so a user can override part of it and delegate the rest. The result is checked against the
 * interface before any case runs; a missing method is a PartyLoadError naming it, which the CLI
 * reports as a usage error.
 */
import { basename, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { builtinGuest, builtinHost } from './builtin.ts';
import type { ConformanceGuest, ConformanceHost, GhciLibrary } from './interfaces.ts';

/** The user's module could not be loaded or does not implement the interface. */
export class PartyLoadError extends Error {
  override readonly name = 'PartyLoadError';
}

const GHCI_METHODS: readonly (keyof GhciLibrary)[] = [
  'cpuid', 'hlt', 'ioRead', 'ioWrite', 'rdmsr', 'wrmsr', 'mmioRead', 'mmioWrite', 'getTdVmCallInfo', 'mapGpa', 'getQuote', 'reportFatalError', 'setupEventNotifyInterrupt',
];
const GUEST_METHODS = ['installVeHandler', 'acceptMemory', 'setMemoryShared', 'setMemoryPrivate', 'getReport', 'extendRtmr', 'getQuote'] as const;

async function importExport(file: string, named: 'host' | 'guest'): Promise<unknown> {
  const path = resolve(file);
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(path).href)) as Record<string, unknown>;
  } catch (e) {
    throw new PartyLoadError(`cannot load ${file}: ${e instanceof Error ? e.message : String(e)}`);
  }
  const value = mod.default ?? mod[named];
  if (value === undefined) throw new PartyLoadError(`${file} has neither a default export nor an export named "${named}"`);
  return value;
}

function missing(obj: Record<string, unknown>, methods: readonly string[], prefix = ''): string[] {
  return methods.filter((m) => typeof obj[m] !== 'function').map((m) => prefix + m);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null;
}

/** Load a ConformanceHost from `file`. */
export async function loadHost(file: string): Promise<ConformanceHost> {
  let value = await importExport(file, 'host');
  if (typeof value === 'function') value = (value as (b: ConformanceHost) => unknown)(builtinHost);
  if (!isObject(value)) throw new PartyLoadError(`${file}: the host export is not an object (or a factory returning one)`);
  const gaps = missing(value, ['handleTdvmcall']);
  if (gaps.length) throw new PartyLoadError(`${file}: the host does not implement ${gaps.join(', ')} (see docs/conformance.md)`);
  const handleTdvmcall = value.handleTdvmcall as ConformanceHost['handleTdvmcall'];
  return { name: typeof value.name === 'string' ? value.name : basename(file), handleTdvmcall: (ctx) => handleTdvmcall.call(value, ctx) };
}

/** Load a ConformanceGuest from `file`. */
export async function loadGuest(file: string): Promise<ConformanceGuest> {
  let value = await importExport(file, 'guest');
  if (typeof value === 'function') value = (value as (b: ConformanceGuest) => unknown)(builtinGuest);
  if (!isObject(value)) throw new PartyLoadError(`${file}: the guest export is not an object (or a factory returning one)`);
  const ghci = value.ghci;
  const gaps = [...missing(value, GUEST_METHODS), ...(isObject(ghci) ? missing(ghci, GHCI_METHODS, 'ghci.') : ['ghci'])];
  if (gaps.length) throw new PartyLoadError(`${file}: the guest library does not implement ${gaps.join(', ')} (see docs/conformance.md)`);
  const guest = value as unknown as ConformanceGuest;
  return typeof guest.name === 'string' ? guest : { ...guest, name: basename(file) };
}
