import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { loadScenario, parseScenario, scenarioJsonSchema, ScenarioError } from '../../src/host/scenario.ts';
import { GUEST_PROGRAMS } from '../../src/guest/programs/index.ts';

const catalogue = { programs: GUEST_PROGRAMS };
const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/scenarios/${name}`, import.meta.url));

function issues(json: unknown): readonly string[] {
  try {
    parseScenario(json, catalogue, '.');
  } catch (e) {
    if (e instanceof ScenarioError) return e.issues;
    throw e;
  }
  return assert.fail('expected a ScenarioError');
}

describe('scenario files', () => {
  it('defaults: 2×2 LPs, 4 GiB, SEPT_VE_DISABLE, one vCPU, GPAW 48, DCAP quotes', () => {
    const s = parseScenario({ td: { memory: '64M' }, guest: { program: 'hello' } }, catalogue, '.');
    assert.deepEqual(s.platform, { packages: 2, lpsPerPackage: 2, memory: 4n << 30n });
    assert.deepEqual(s.td, { attributes: 1n << 28n, vcpus: 1, memory: 64n << 20n, gpaw: 48 });
    assert.deepEqual(s.userspace, { quote: 'dcap', eventNotify: true, mapGpa: true, maxExits: 1_000_000 });
    assert.deepEqual(s.image, []);
  });

  it('loads images from hex and from files relative to the scenario, padded to pages', () => {
    const s = loadScenario(fixture('hello.json'), catalogue);
    assert.equal(s.td.xfam, 0b111n);
    assert.equal(s.td.mrconfigid!.length, 48);
    assert.deepEqual([...s.td.mrconfigid!.subarray(0, 6)], [1, 2, 3, 4, 5, 0]);
    assert.equal(s.image.length, 2);
    assert.equal(s.image[0]!.bytes.length, 4096);
    assert.deepEqual([...s.image[0]!.bytes.subarray(0, 6)], [0x48, 0x65, 0x6c, 0x6c, 0x6f, 0]);
    assert.equal(new TextDecoder().decode(s.image[1]!.bytes.subarray(0, 14)), 'tdxsim payload');
    assert.equal(s.image[1]!.measure, false);
  });

  it('reports every schema mistake with its JSON path', () => {
    assert.deepEqual(issues({ td: { memory: 'lots', vcpus: 0 }, guest: {}, extra: 1 }), [
      'td.vcpus: Too small: expected number to be >=1',
      'td.memory: expected a size like 4096, "0x1000", "64K", "64M" or "1G"',
      'guest.program: Invalid input: expected string, received undefined',
      '(root): Unrecognized key: "extra"',
    ]);
    assert.deepEqual(issues({ td: { memory: '1M', attributes: ['TURBO'] }, guest: { program: 'x' }, image: [{ gpa: '0x1000' }] }), [
      'td.attributes: expected an array of TD attribute bit names (DEBUG, SEPT_VE_DISABLE, MIGRATABLE, PKS, KL, PERFMON) or a hex value',
      'image[0]: give exactly one of "hex" or "file"',
    ]);
  });

  it('then checks the program, its arguments, the vCPU count and the image layout', () => {
    assert.deepEqual(
      issues({
        platform: { packages: 1, lpsPerPackage: 1 },
        td: { memory: '16M', vcpus: 2 },
        image: [
          { gpa: '0x1800', hex: '00' },
          { gpa: '0x2000', hex: '00' },
          { gpa: '0x2000', hex: '00' },
          { gpa: '0x4000000', hex: '00' },
        ],
        guest: { program: 'hello', args: { message: 5 } },
      }),
      [
        'guest.args.message: Invalid input: expected string, received number',
        'td.vcpus: 2 vCPUs need at least as many logical processors; the platform has 1',
        'image[0].gpa: must be 4K-aligned',
        'image[2].gpa: overlaps image[1]',
        'image[3].gpa: the pages must lie in td.memory or in the firmware slot below 4 GiB',
      ],
    );
    assert.match(issues({ td: { memory: '16M' }, guest: { program: 'nope' } })[0]!, /^guest\.program: unknown guest program "nope"; known: .*hello/);
  });

  it('unreadable or non-JSON files are ScenarioErrors', () => {
    assert.throws(() => loadScenario(fixture('does-not-exist.json'), catalogue), (e: unknown) => e instanceof ScenarioError && /cannot read the file/.test(e.message));
    assert.throws(() => loadScenario(fixture('payload.bin'), catalogue), (e: unknown) => e instanceof ScenarioError && /not valid JSON/.test(e.message));
  });

  it('exports a JSON Schema with the input forms and defaults', () => {
    const schema = scenarioJsonSchema() as { type: string; required: string[]; properties: Record<string, { properties?: Record<string, { default?: unknown }> }> };
    assert.equal(schema.type, 'object');
    assert.deepEqual(schema.required.sort(), ['guest', 'td']);
    assert.equal(schema.properties.platform!.properties!.memory!.default, '4G');
    assert.doesNotThrow(() => JSON.stringify(schema));
  });
});
