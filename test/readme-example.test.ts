// The library example of README.md, run as written (only the import path differs), so the README
// cannot drift from the API.
import { it } from 'node:test';
import assert from 'node:assert/strict';
import {
  Platform,
  TdxModule,
  DEFAULT_MODULE_IDENTITY,
  TdxHost,
  Userspace,
  runVm,
  registerGuestPrograms,
  encodeBootPage,
  BOOT_PAGE_GPA,
} from '../src/index.ts';

it('README: build, run and tear down a TD in a few lines', () => {
  // README example begins
  const platform = new Platform({ packages: 1, lpsPerPackage: 2 });
  platform.loadModule(new TdxModule(platform, DEFAULT_MODULE_IDENTITY));
  registerGuestPrograms(platform.firmware);

  const host = TdxHost.bringUp(platform); // SYS.INIT, LP.INIT, CONFIG, KEY.CONFIG, TDMR.INIT
  const vm = host.createVm({ memorySize: 64n << 20n });
  vm.createVcpu(); // VP.CREATE, VP.ADDCX, VP.INIT
  vm.initMemRegion(BOOT_PAGE_GPA, encodeBootPage({ program: 'hello', args: {} }), { measure: true });
  vm.finalize(); // MR.FINALIZE: MRTD is fixed

  const lines: string[] = [];
  const [outcome] = runVm(vm, new Userspace(vm, { onSerialLine: (l) => lines.push(l) }));
  console.log(lines, outcome!.stop, Buffer.from(vm.mrtd()).toString('hex'));
  vm.destroy(); // VP.FLUSH, VPFLUSHDONE, CACHE.WB, KEY.FREEID, PAGE.RECLAIM …
  // README example ends
  assert.equal(outcome!.stop, 'halted');
  assert.ok(lines.length > 0);
});
