import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_MODULE_IDENTITY } from '../../src/module/identity.ts';
import { features0, TdxFeatures0Bit } from '../../src/abi/module-features.ts';

test('the default identity is TDX 1.5.1 with NO_RBP_MOD (bit 18) and TOPOLOGY_ENUM (bit 20)', () => {
  const id = DEFAULT_MODULE_IDENTITY;
  assert.deepEqual([id.majorVersion, id.minorVersion, id.updateVersion], [1, 5, 1]);
  assert.equal(id.features0 & (1n << 18n), 1n << 18n);
  assert.equal(id.features0 & (1n << 20n), 1n << 20n);
  assert.equal(id.features0, (1n << 3n) | (1n << 10n) | (1n << 18n) | (1n << 20n));
  assert.equal(id.features0 & (1n << BigInt(TdxFeatures0Bit.TD_MIGRATION)), 0n, 'migration is not modelled');
  assert.ok(Object.isFrozen(id));
});

test('features0() sets exactly the named bits', () => {
  assert.equal(features0(), 0n);
  assert.equal(features0('NO_RBP_MOD', 'TD_PARTITIONING'), (1n << 18n) | (1n << 7n));
});
