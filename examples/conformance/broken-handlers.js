// A deliberately broken set of TDVMCALL exit handlers, to show what `tdxsim conformance` reports
// when a host gets the GHCI wrong:
//
//   tdxsim conformance --host examples/conformance/broken-handlers.js --area tdvmcall-host
//
// It takes the built-in (KVM-shaped) handlers and breaks two things:
//   1. it "emulates" an MMIO write to a PRIVATE GPA and answers SUCCESS, where the host must
//      refuse it with INVALID_OPERAND (the host has no business emulating accesses to memory only
//      the TD may see) — case `mmio-write-private` fails;
//   2. it answers GetTdVmCallInfo leaf 0 with SUCCESS but forgets to zero R11, leaving the
//      guest's sub-function number where the ABI says 0 — case `tdvmcallinfo-leaf0` fails.
// Every other case passes, because everything else is delegated to the built-in handlers.
//
// The module's default export is a factory: the suite calls it with the built-in host, and it
// returns an object implementing ConformanceHost ({ name, handleTdvmcall(ctx) }). `ctx.regs` is
// the exit register file (bigint registers, `get`/`set` by name); what the handler leaves there
// is what the next TDH.VP.ENTER passes back to the guest. Plain JavaScript, no imports, so it
// loads the same way whether tdxsim runs from source or from its build.

const MMIO = 48n; // #VE.RequestMMIO
const GET_TD_VM_CALL_INFO = 0x10000n;
const WRITE = 1n;

export default function brokenHandlers(builtin) {
  return {
    name: 'broken-handlers.js (example)',
    handleTdvmcall(ctx) {
      const r = ctx.regs;
      const standard = r.get('R10') === 0n;
      const sub = r.get('R11');
      if (standard && sub === MMIO && r.get('R13') === WRITE) {
        const sharedBit = ctx.vcpu.vm.addressing.sharedBit;
        if ((r.get('R14') & sharedBit) === 0n) {
          // BUG: a write to private memory is "emulated" instead of refused.
          r.set('R10', 0n);
          return { kind: 'resume' };
        }
      }
      if (standard && sub === GET_TD_VM_CALL_INFO && r.get('R12') === 0n) {
        // BUG: R12..R14 are cleared, but R11 still holds the sub-function number.
        r.set('R10', 0n);
        r.set('R12', 0n);
        r.set('R13', 0n);
        r.set('R14', 0n);
        return { kind: 'resume' };
      }
      return builtin.handleTdvmcall(ctx);
    },
  };
}
