/**
 * tdxsim as a library: the platform, the TDX module, the KVM-shaped host with its userspace, the
 * guest library's program catalogue, the ABI tables and decoders. See README.md for a walk-through
 * and docs/ARCHITECTURE.md for where each idea lives.
 */
export * from './abi/registers.ts';
export * from './abi/status.ts';
export * from './abi/seamcall-leaves.ts';
export * from './abi/tdcall-leaves.ts';
export * from './abi/tdvmcall.ts';
export * from './abi/tdvmcall-status.ts';
export { decodeStatus, decodeTdvmcallStatus, decodeLeafWord, formatDecodedStatus } from './abi/status-decode.ts';
export { buildAbiCatalog } from './abi/catalog.ts';
export { Platform, type PlatformConfig } from './platform/platform.ts';
export { LogicalProcessor } from './platform/processor.ts';
export { callLeaf, seamcalls } from './platform/leaf-call.ts';
export { GuestCpu, type GuestProgram, type GuestGen, type GuestOp, type OpResult } from './platform/guest-cpu.ts';
export { encodeBootPage, BOOT_PAGE_GPA } from './platform/boot-image.ts';
export { TdxModule } from './module/module.ts';
export { DEFAULT_MODULE_IDENTITY } from './module/identity.ts';
export { TdxHost } from './host/tdx-host.ts';
export type { TdxVm, VmConfig } from './host/vm.ts';
export type { TdxVcpu } from './host/vcpu.ts';
export { HostError } from './host/errors.ts';
export { Userspace } from './host/userspace/vmm.ts';
export { runVcpuLoop, runVm } from './host/userspace/vcpu-loop.ts';
export { registerGuestPrograms, GUEST_PROGRAMS } from './guest/programs/index.ts';
export { RecordingTracer, NULL_TRACER, type Tracer } from './trace/tracer.ts';
export type { TraceEvent } from './trace/events.ts';
