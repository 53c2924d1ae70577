/**
 * The tdxsim wire protocol as data: frame header, message types, the byte layout of every
 * payload, error and result codes, and limits. The protocol lets a host VMM or a TD guest written
 * in any language take a party's place in a simulation (docs/wire-protocol.md is its
 * specification; src/wire/ is the server and a TypeScript client).
 *
 * This is tdxsim's own ABI, not Intel's: the numbers are chosen here, once, and are frozen per
 * protocol major version. Everything is little-endian. A frame is
 *
 *   offset 0  u32 length      whole frame in bytes, header included (12 … 12 + MAX_PAYLOAD)
 *   offset 4  u16 type        MessageType
 *   offset 6  u16 flags       reserved in version 1: must be 0
 *   offset 8  u32 request_id  chosen by the requester, echoed in the answer
 *   offset 12 payload         the message's fixed layout, then its variable tail if it has one
 *
 * Versioning: a server accepts a HELLO whose major version equals its own and answers with its
 * own (major, minor); minor versions only add message types, fields in bytes that were reserved
 * (and so zero), and result codes. A peer never sends a message type newer than the lower minor.
 */
import { defineLayout, type Layout } from './layout.ts';
import { GPR_COUNT, XMM_COUNT } from './registers.ts';

export const WIRE_VERSION_MAJOR = 1;
export const WIRE_VERSION_MINOR = 0;

/** Bytes in a frame header. */
export const FRAME_HEADER_SIZE = 12;
/** Largest payload of any frame (1 MiB). */
export const MAX_PAYLOAD = 1 << 20;
/** Largest data block one memory message moves (HOST_MEM_READ/WRITE, LOAD, STORE): 256 KiB. */
export const MAX_MEM_OP = 256 << 10;
/** Largest UTF-8 message an ERROR frame carries. */
export const MAX_ERROR_MESSAGE = 1024;
/** Largest page count one ALLOC_PAGES or FREE_PAGES names (1 GiB of 4K pages). */
export const MAX_ALLOC_PAGES = 1 << 18;

/** Frame header fields (see the file comment). */
export const FRAME_HEADER = defineLayout('WIRE_FRAME_HEADER', FRAME_HEADER_SIZE, [
  { name: 'length', offset: 0, size: 4, kind: 'u32', doc: 'whole frame in bytes, header included' },
  { name: 'type', offset: 4, size: 2, kind: 'u16', doc: 'message type' },
  { name: 'flags', offset: 6, size: 2, kind: 'reserved', doc: 'must be 0 in version 1' },
  { name: 'request_id', offset: 8, size: 4, kind: 'u32', doc: 'chosen by the requester, echoed in the answer' },
]);

/** Bit 15 of a message type: the frame travels from the server to the client. */
export const SERVER_TYPE_BIT = 0x8000;

/**
 * Message types. A request's answer has the request's type with SERVER_TYPE_BIT set. EXCEPTION and
 * DETACHED are sent by the server unasked; EXCEPTION_DONE is the client's answer to an EXCEPTION.
 */
export const MessageType = Object.freeze({
  HELLO: 0x0001,
  HELLO_OK: 0x8001,
  ERROR: 0x8000,
  // Host role.
  SEAMCALL: 0x0101,
  SEAMCALL_RESULT: 0x8101,
  HOST_MEM_READ: 0x0102,
  HOST_MEM_READ_RESULT: 0x8102,
  HOST_MEM_WRITE: 0x0103,
  HOST_MEM_WRITE_RESULT: 0x8103,
  ALLOC_PAGES: 0x0104,
  ALLOC_PAGES_RESULT: 0x8104,
  FREE_PAGES: 0x0105,
  FREE_PAGES_RESULT: 0x8105,
  PLATFORM_INFO: 0x0106,
  PLATFORM_INFO_RESULT: 0x8106,
  SETUP_PLATFORM: 0x0107,
  SETUP_PLATFORM_RESULT: 0x8107,
  GUEST_TOKEN: 0x0108,
  GUEST_TOKEN_RESULT: 0x8108,
  SHARED_EPT: 0x0109,
  SHARED_EPT_RESULT: 0x8109,
  // Guest role.
  ATTACH_GUEST: 0x0201,
  ATTACH_GUEST_RESULT: 0x8201,
  TDCALL: 0x0202,
  TDCALL_RESULT: 0x8202,
  IO_IN: 0x0203,
  IO_IN_RESULT: 0x8203,
  IO_OUT: 0x0204,
  IO_OUT_RESULT: 0x8204,
  LOAD: 0x0205,
  LOAD_RESULT: 0x8205,
  STORE: 0x0206,
  STORE_RESULT: 0x8206,
  CPUID: 0x0207,
  CPUID_RESULT: 0x8207,
  RDMSR: 0x0208,
  RDMSR_RESULT: 0x8208,
  WRMSR: 0x0209,
  WRMSR_RESULT: 0x8209,
  INSN: 0x020a,
  INSN_RESULT: 0x820a,
  EXCEPTION_DONE: 0x0210,
  EXCEPTION: 0x8210,
  DETACHED: 0x8211,
} as const);

export type MessageTypeName = keyof typeof MessageType;

/** ERROR frame codes: the connection is closed after an ERROR. */
export const WireErrorCode = Object.freeze({
  /** The length field is below the header size. */
  MALFORMED_FRAME: 1,
  /** The length field exceeds FRAME_HEADER_SIZE + MAX_PAYLOAD. */
  FRAME_TOO_LARGE: 2,
  UNKNOWN_TYPE: 3,
  /** The payload size does not fit the message's layout (or a length field inside it). */
  BAD_PAYLOAD_LENGTH: 4,
  /** Header flags or a reserved payload field is not zero. */
  RESERVED_NOT_ZERO: 5,
  /** HELLO with another major version. */
  VERSION_MISMATCH: 6,
  /** A message the sender's role or the session's state does not allow now. */
  UNEXPECTED_MESSAGE: 7,
  /** An address or size that must be aligned is not. */
  MISALIGNED: 8,
  /** A field value outside its range (LP index, role, access size, platform shape). */
  BAD_OPERAND: 9,
  /** Too many connections or sessions, or a client that does not read its answers. */
  LIMIT_EXCEEDED: 10,
  /** A bug in the server; the connection is closed so the server can go on. */
  INTERNAL: 11,
  /** The server is shutting down. */
  SHUTTING_DOWN: 12,
} as const);

/** Result codes in answers whose request is well formed but refused in the current state. */
export const WireResult = Object.freeze({
  OK: 0,
  /** An address names memory this session does not own. */
  NOT_OWNED: 1,
  /** The page allocator has no run of the requested size and alignment. */
  OUT_OF_MEMORY: 2,
  /** The request is not possible now (e.g. SETUP_PLATFORM after bring-up began). */
  BAD_STATE: 3,
  /** SETUP_PLATFORM failed; the answer carries the host's message. */
  SETUP_FAILED: 4,
  UNKNOWN_TOKEN: 5,
  /** Another guest client is attached to that vCPU of the token. */
  TOKEN_IN_USE: 6,
} as const);

/** Why a guest client's vCPU is no longer there (DETACHED). */
export const DetachReason = Object.freeze({
  /** The host session that owned the TD ended. */
  HOST_ENDED: 1,
  /** The host reclaimed the vCPU's TDVPR (the TD was torn down). */
  VCPU_DESTROYED: 2,
  /** The built-in host stopped running the vCPU (halt, fatal error, shutdown, …). */
  VCPU_STOPPED: 3,
  /** The vCPU triple-faulted (the client gave up an exception). */
  TRIPLE_FAULT: 4,
  SERVER_SHUTDOWN: 5,
} as const);

export const WireRole = Object.freeze({ HOST: 1, GUEST: 2 } as const);

/** INSN request codes: the trapping or flag instructions without operands. */
export const GuestInsn = Object.freeze({ HLT: 1, VMCALL: 2, WBINVD: 3, STI: 4, CLI: 5 } as const);

/** SHARED_EPT operations. */
export const SharedEptOp = Object.freeze({ MAP: 1, MAP_MMIO: 2, UNMAP: 3 } as const);

/** EXCEPTION flags: bit 0 = the error code field is valid. */
export const EXCEPTION_ERROR_CODE_VALID = 1;
/** EXCEPTION_DONE flags: bit 0 = the handler gives up; the vCPU triple-faults. */
export const EXCEPTION_DONE_GIVE_UP = 1;

/** Length of a guest token: 16 random bytes as lower-case hex. */
export const GUEST_TOKEN_CHARS = 32;
/** Boot-page program names that attach a wire guest: this prefix, then the token. */
export const WIRE_PROGRAM_PREFIX = 'wire:';

/** Host platform shape limits a HELLO may ask for (each host session is a whole machine). */
export const HostLimits = Object.freeze({
  maxPackages: 8,
  maxLpsPerPackage: 64,
  minMemory: 16n << 20n,
  maxMemory: 16n << 30n,
  maxKeyIds: 1023,
});

const REGS_BYTES = GPR_COUNT * 8;
const XMM_BYTES = XMM_COUNT * 16;

// ---- Payload layouts ---------------------------------------------------------------------------

export const HELLO = defineLayout('WIRE_HELLO', 24, [
  { name: 'version_major', offset: 0, size: 2, kind: 'u16' },
  { name: 'version_minor', offset: 2, size: 2, kind: 'u16' },
  { name: 'role', offset: 4, size: 1, kind: 'u8', doc: 'WireRole: 1 host, 2 guest' },
  { name: 'reserved0', offset: 5, size: 3, kind: 'reserved' },
  { name: 'packages', offset: 8, size: 2, kind: 'u16', doc: 'host: packages (0 = 1); guest: 0' },
  { name: 'lps_per_package', offset: 10, size: 2, kind: 'u16', doc: 'host: LPs per package (0 = 2); guest: 0' },
  { name: 'mktme_keyids', offset: 12, size: 2, kind: 'u16', doc: 'host: MKTME KeyIDs (0 = 15); guest: 0' },
  { name: 'tdx_keyids', offset: 14, size: 2, kind: 'u16', doc: 'host: TDX KeyIDs (0 = 48); guest: 0' },
  { name: 'memory_bytes', offset: 16, size: 8, kind: 'u64', doc: 'host: physical memory (0 = 4 GiB); guest: 0' },
]);

export const HELLO_OK = defineLayout('WIRE_HELLO_OK', 16, [
  { name: 'version_major', offset: 0, size: 2, kind: 'u16' },
  { name: 'version_minor', offset: 2, size: 2, kind: 'u16' },
  { name: 'role', offset: 4, size: 1, kind: 'u8' },
  { name: 'reserved0', offset: 5, size: 3, kind: 'reserved' },
  { name: 'max_payload', offset: 8, size: 4, kind: 'u32' },
  { name: 'max_mem_op', offset: 12, size: 4, kind: 'u32' },
]);

export const ERROR = defineLayout('WIRE_ERROR', 8, [
  { name: 'code', offset: 0, size: 4, kind: 'u32', doc: 'WireErrorCode' },
  { name: 'message_length', offset: 4, size: 4, kind: 'u32', doc: 'UTF-8 bytes that follow' },
]);

/** A register file: 16 GPRs in architectural order (RAX, RCX, RDX, RBX, RSP, …), XMM0–15 (low, high). */
export const REGISTER_FILE = defineLayout('WIRE_REGISTER_FILE', REGS_BYTES + XMM_BYTES, [
  { name: 'gpr', offset: 0, size: REGS_BYTES, kind: 'bytes', doc: '16 × u64' },
  { name: 'xmm', offset: REGS_BYTES, size: XMM_BYTES, kind: 'bytes', doc: '16 × (u64 low, u64 high)' },
]);

export const SEAMCALL = defineLayout('WIRE_SEAMCALL', 8 + REGS_BYTES + XMM_BYTES, [
  { name: 'lp', offset: 0, size: 4, kind: 'u32', doc: 'logical processor that executes SEAMCALL' },
  { name: 'reserved0', offset: 4, size: 4, kind: 'reserved' },
  { name: 'gpr', offset: 8, size: REGS_BYTES, kind: 'bytes' },
  { name: 'xmm', offset: 8 + REGS_BYTES, size: XMM_BYTES, kind: 'bytes' },
]);

export const MEM_ACCESS = defineLayout('WIRE_MEM_ACCESS', 16, [
  { name: 'address', offset: 0, size: 8, kind: 'u64', doc: 'host: physical address; guest: GPA' },
  { name: 'length', offset: 8, size: 4, kind: 'u32', doc: '1 … MAX_MEM_OP bytes' },
  { name: 'reserved0', offset: 12, size: 4, kind: 'reserved' },
]);

export const RESULT = defineLayout('WIRE_RESULT', 8, [
  { name: 'result', offset: 0, size: 4, kind: 'u32', doc: 'WireResult' },
  { name: 'reserved0', offset: 4, size: 4, kind: 'reserved' },
]);

export const MEM_READ_RESULT = defineLayout('WIRE_MEM_READ_RESULT', 8, [
  { name: 'result', offset: 0, size: 4, kind: 'u32' },
  { name: 'length', offset: 4, size: 4, kind: 'u32', doc: 'data bytes that follow (0 unless OK)' },
]);

export const ALLOC_PAGES = defineLayout('WIRE_ALLOC_PAGES', 8, [
  { name: 'count', offset: 0, size: 4, kind: 'u32', doc: '4K pages, 1 … MAX_ALLOC_PAGES, contiguous' },
  { name: 'alignment', offset: 4, size: 4, kind: 'u32', doc: 'bytes, a power of two 4 KiB … 1 GiB; 0 = 4 KiB' },
]);

export const ALLOC_PAGES_RESULT = defineLayout('WIRE_ALLOC_PAGES_RESULT', 16, [
  { name: 'result', offset: 0, size: 4, kind: 'u32' },
  { name: 'count', offset: 4, size: 4, kind: 'u32' },
  { name: 'base', offset: 8, size: 8, kind: 'u64', doc: 'first page; 0 unless OK' },
]);

export const FREE_PAGES = defineLayout('WIRE_FREE_PAGES', 16, [
  { name: 'base', offset: 0, size: 8, kind: 'u64', doc: '4K-aligned' },
  { name: 'count', offset: 8, size: 4, kind: 'u32' },
  { name: 'reserved0', offset: 12, size: 4, kind: 'reserved' },
]);

export const PLATFORM_INFO_RESULT = defineLayout('WIRE_PLATFORM_INFO_RESULT', 40, [
  { name: 'packages', offset: 0, size: 2, kind: 'u16' },
  { name: 'lps_per_package', offset: 2, size: 2, kind: 'u16' },
  { name: 'lp_count', offset: 4, size: 2, kind: 'u16', doc: 'LP i is on package i / lps_per_package' },
  { name: 'max_pa', offset: 6, size: 1, kind: 'u8' },
  { name: 'keyid_shift', offset: 7, size: 1, kind: 'u8', doc: 'lowest PA bit holding the KeyID' },
  { name: 'memory_bytes', offset: 8, size: 8, kind: 'u64' },
  { name: 'mktme_keyids', offset: 16, size: 2, kind: 'u16' },
  { name: 'tdx_keyids', offset: 18, size: 2, kind: 'u16' },
  { name: 'first_tdx_keyid', offset: 20, size: 2, kind: 'u16' },
  { name: 'reserved0', offset: 22, size: 2, kind: 'reserved' },
  { name: 'free_pages', offset: 24, size: 8, kind: 'u64', doc: '4K pages the allocator still has' },
  { name: 'cmr_count', offset: 32, size: 4, kind: 'u32', doc: 'CMR_INFO entries {u64 base, u64 size} that follow' },
  { name: 'reserved1', offset: 36, size: 4, kind: 'reserved' },
]);

/** One CMR in PLATFORM_INFO_RESULT's tail (the CMR_INFO layout). */
export const WIRE_CMR = defineLayout('WIRE_CMR', 16, [
  { name: 'base', offset: 0, size: 8, kind: 'u64' },
  { name: 'size', offset: 8, size: 8, kind: 'u64' },
]);

export const SETUP_PLATFORM_RESULT = defineLayout('WIRE_SETUP_PLATFORM_RESULT', 16, [
  { name: 'result', offset: 0, size: 4, kind: 'u32' },
  { name: 'global_keyid', offset: 4, size: 2, kind: 'u16' },
  { name: 'first_td_keyid', offset: 6, size: 2, kind: 'u16' },
  { name: 'td_keyid_count', offset: 8, size: 2, kind: 'u16' },
  { name: 'tdmr_count', offset: 10, size: 2, kind: 'u16', doc: 'WIRE_TDMR entries that follow' },
  { name: 'message_length', offset: 12, size: 4, kind: 'u32', doc: 'UTF-8 bytes after the TDMRs (failure only)' },
]);

/** One configured TDMR in SETUP_PLATFORM_RESULT's tail; its PAMT is one block (4K, 2M, 1G entries). */
export const WIRE_TDMR = defineLayout('WIRE_TDMR', 32, [
  { name: 'base', offset: 0, size: 8, kind: 'u64' },
  { name: 'size', offset: 8, size: 8, kind: 'u64' },
  { name: 'pamt_base', offset: 16, size: 8, kind: 'u64' },
  { name: 'pamt_size', offset: 24, size: 8, kind: 'u64' },
]);

export const GUEST_TOKEN_RESULT = defineLayout('WIRE_GUEST_TOKEN_RESULT', 8 + GUEST_TOKEN_CHARS, [
  { name: 'result', offset: 0, size: 4, kind: 'u32' },
  { name: 'reserved0', offset: 4, size: 4, kind: 'reserved' },
  { name: 'token', offset: 8, size: GUEST_TOKEN_CHARS, kind: 'bytes', doc: 'ASCII lower-case hex' },
]);

export const SHARED_EPT = defineLayout('WIRE_SHARED_EPT', 32, [
  { name: 'root', offset: 0, size: 8, kind: 'u64', doc: 'page standing for the EPT root (what SHARED_EPTP names), owned' },
  { name: 'gpa', offset: 8, size: 8, kind: 'u64', doc: 'shared GPA of the 4K page (shared bit included), 4K-aligned' },
  { name: 'hpa', offset: 16, size: 8, kind: 'u64', doc: 'MAP: owned 4K page; otherwise 0' },
  { name: 'op', offset: 24, size: 1, kind: 'u8', doc: 'SharedEptOp' },
  { name: 'reserved0', offset: 25, size: 7, kind: 'reserved' },
]);

export const ATTACH_GUEST = defineLayout('WIRE_ATTACH_GUEST', GUEST_TOKEN_CHARS + 8, [
  { name: 'token', offset: 0, size: GUEST_TOKEN_CHARS, kind: 'bytes', doc: 'ASCII lower-case hex' },
  { name: 'vcpu_index', offset: GUEST_TOKEN_CHARS, size: 4, kind: 'u32', doc: 'VCPU_INDEX (order of TDH.VP.INIT)' },
  { name: 'reserved0', offset: GUEST_TOKEN_CHARS + 4, size: 4, kind: 'reserved' },
]);

export const IO_IN = defineLayout('WIRE_IO_IN', 8, [
  { name: 'port', offset: 0, size: 2, kind: 'u16' },
  { name: 'size', offset: 2, size: 1, kind: 'u8', doc: '1, 2 or 4' },
  { name: 'reserved0', offset: 3, size: 5, kind: 'reserved' },
]);

export const IO_OUT = defineLayout('WIRE_IO_OUT', 16, [
  { name: 'port', offset: 0, size: 2, kind: 'u16' },
  { name: 'size', offset: 2, size: 1, kind: 'u8', doc: '1, 2 or 4' },
  { name: 'reserved0', offset: 3, size: 5, kind: 'reserved' },
  { name: 'value', offset: 8, size: 8, kind: 'u64', doc: 'the low `size` bytes are written' },
]);

export const U64_VALUE = defineLayout('WIRE_U64_VALUE', 8, [{ name: 'value', offset: 0, size: 8, kind: 'u64' }]);

export const CPUID = defineLayout('WIRE_CPUID', 8, [
  { name: 'eax', offset: 0, size: 4, kind: 'u32', doc: 'leaf' },
  { name: 'ecx', offset: 4, size: 4, kind: 'u32', doc: 'sub-leaf' },
]);

export const CPUID_RESULT = defineLayout('WIRE_CPUID_RESULT', 16, [
  { name: 'eax', offset: 0, size: 4, kind: 'u32' },
  { name: 'ebx', offset: 4, size: 4, kind: 'u32' },
  { name: 'ecx', offset: 8, size: 4, kind: 'u32' },
  { name: 'edx', offset: 12, size: 4, kind: 'u32' },
]);

export const RDMSR = defineLayout('WIRE_RDMSR', 8, [
  { name: 'msr', offset: 0, size: 4, kind: 'u32' },
  { name: 'reserved0', offset: 4, size: 4, kind: 'reserved' },
]);

export const WRMSR = defineLayout('WIRE_WRMSR', 16, [
  { name: 'msr', offset: 0, size: 4, kind: 'u32' },
  { name: 'reserved0', offset: 4, size: 4, kind: 'reserved' },
  { name: 'value', offset: 8, size: 8, kind: 'u64' },
]);

export const INSN = defineLayout('WIRE_INSN', 8, [
  { name: 'insn', offset: 0, size: 1, kind: 'u8', doc: 'GuestInsn' },
  { name: 'reserved0', offset: 1, size: 7, kind: 'reserved' },
]);

export const EXCEPTION = defineLayout('WIRE_EXCEPTION', 24 + REGS_BYTES, [
  { name: 'vector', offset: 0, size: 1, kind: 'u8' },
  { name: 'flags', offset: 1, size: 1, kind: 'u8', doc: 'bit 0: error_code is valid' },
  { name: 'reserved0', offset: 2, size: 6, kind: 'reserved' },
  { name: 'error_code', offset: 8, size: 8, kind: 'u64' },
  { name: 'rip', offset: 16, size: 8, kind: 'u64', doc: 'RIP of the instruction that faulted (or is interrupted)' },
  { name: 'gpr', offset: 24, size: REGS_BYTES, kind: 'bytes', doc: 'the interrupted GPRs' },
]);

export const EXCEPTION_DONE = defineLayout('WIRE_EXCEPTION_DONE', 16 + REGS_BYTES, [
  { name: 'flags', offset: 0, size: 1, kind: 'u8', doc: 'bit 0: give up (the vCPU triple-faults)' },
  { name: 'reserved0', offset: 1, size: 7, kind: 'reserved' },
  { name: 'rip', offset: 8, size: 8, kind: 'u64', doc: 'RIP to return to (past the instruction if emulated)' },
  { name: 'gpr', offset: 16, size: REGS_BYTES, kind: 'bytes', doc: 'the GPRs to return with (IRET frame)' },
]);

export const DETACHED = defineLayout('WIRE_DETACHED', 8, [
  { name: 'reason', offset: 0, size: 4, kind: 'u32', doc: 'DetachReason' },
  { name: 'reserved0', offset: 4, size: 4, kind: 'reserved' },
]);

/** Who may send a message. */
export type WireSender = 'client-any' | 'host' | 'guest' | 'server';

/**
 * How a message's payload is shaped: `layout` (absent = no fixed part) followed, for messages
 * with a tail, by at most `maxTail` bytes whose exact length a field of the fixed part gives.
 */
export interface MessageSpec {
  readonly type: number;
  readonly name: MessageTypeName;
  readonly sender: WireSender;
  readonly layout: Layout | undefined;
  readonly maxTail: number;
}

const spec = (name: MessageTypeName, sender: WireSender, layout: Layout | undefined, maxTail = 0): MessageSpec =>
  Object.freeze({ type: MessageType[name], name, sender, layout, maxTail });

const MAX_CMRS_IN_INFO = 32;
const MAX_TDMRS_IN_SETUP = 64;

/** Every message of version 1.0, by type. */
export const MESSAGES: ReadonlyMap<number, MessageSpec> = new Map(
  [
    spec('HELLO', 'client-any', HELLO),
    spec('HELLO_OK', 'server', HELLO_OK),
    spec('ERROR', 'server', ERROR, MAX_ERROR_MESSAGE),
    spec('SEAMCALL', 'host', SEAMCALL),
    spec('SEAMCALL_RESULT', 'server', SEAMCALL),
    spec('HOST_MEM_READ', 'host', MEM_ACCESS),
    spec('HOST_MEM_READ_RESULT', 'server', MEM_READ_RESULT, MAX_MEM_OP),
    spec('HOST_MEM_WRITE', 'host', MEM_ACCESS, MAX_MEM_OP),
    spec('HOST_MEM_WRITE_RESULT', 'server', RESULT),
    spec('ALLOC_PAGES', 'host', ALLOC_PAGES),
    spec('ALLOC_PAGES_RESULT', 'server', ALLOC_PAGES_RESULT),
    spec('FREE_PAGES', 'host', FREE_PAGES),
    spec('FREE_PAGES_RESULT', 'server', RESULT),
    spec('PLATFORM_INFO', 'host', undefined),
    spec('PLATFORM_INFO_RESULT', 'server', PLATFORM_INFO_RESULT, MAX_CMRS_IN_INFO * WIRE_CMR.size),
    spec('SETUP_PLATFORM', 'host', undefined),
    spec('SETUP_PLATFORM_RESULT', 'server', SETUP_PLATFORM_RESULT, MAX_TDMRS_IN_SETUP * WIRE_TDMR.size + MAX_ERROR_MESSAGE),
    spec('GUEST_TOKEN', 'host', undefined),
    spec('GUEST_TOKEN_RESULT', 'server', GUEST_TOKEN_RESULT),
    spec('SHARED_EPT', 'host', SHARED_EPT),
    spec('SHARED_EPT_RESULT', 'server', RESULT),
    spec('ATTACH_GUEST', 'guest', ATTACH_GUEST),
    spec('ATTACH_GUEST_RESULT', 'server', RESULT),
    spec('TDCALL', 'guest', REGISTER_FILE),
    spec('TDCALL_RESULT', 'server', REGISTER_FILE),
    spec('IO_IN', 'guest', IO_IN),
    spec('IO_IN_RESULT', 'server', U64_VALUE),
    spec('IO_OUT', 'guest', IO_OUT),
    spec('IO_OUT_RESULT', 'server', undefined),
    spec('LOAD', 'guest', MEM_ACCESS),
    spec('LOAD_RESULT', 'server', undefined, MAX_MEM_OP),
    spec('STORE', 'guest', MEM_ACCESS, MAX_MEM_OP),
    spec('STORE_RESULT', 'server', undefined),
    spec('CPUID', 'guest', CPUID),
    spec('CPUID_RESULT', 'server', CPUID_RESULT),
    spec('RDMSR', 'guest', RDMSR),
    spec('RDMSR_RESULT', 'server', U64_VALUE),
    spec('WRMSR', 'guest', WRMSR),
    spec('WRMSR_RESULT', 'server', undefined),
    spec('INSN', 'guest', INSN),
    spec('INSN_RESULT', 'server', undefined),
    spec('EXCEPTION', 'server', EXCEPTION),
    spec('EXCEPTION_DONE', 'guest', EXCEPTION_DONE),
    spec('DETACHED', 'server', DETACHED),
  ].map((s) => [s.type, s]),
);

/** Size of a message's fixed part. */
export function fixedSize(s: MessageSpec): number {
  return s.layout?.size ?? 0;
}
