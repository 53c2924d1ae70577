/*
 * A TD guest written in C, running as the code of vCPU 0 of a TD served by `tdxsim serve`.
 *
 *   guest <socket-path> <token>
 *
 * It does what a guest kernel's first steps do, each instruction through the wire protocol:
 *   1. TDG.VP.INFO (TDCALL leaf 1): the GPA width, attributes and vCPU count of its TD;
 *   2. a line on the serial console through TDG.VP.VMCALL<Instruction.IO> to port 0x3F8, one
 *      byte per call, as an early console does;
 *   3. a second line with plain OUT instructions: each raises #VE, and the #VE handler below does
 *      what Linux's does — TDG.VP.VEINFO.GET, the matching TDVMCALL, RIP past the instruction;
 *   4. TDG.VP.VMCALL<ReportFatalError> with an error code and a message in the eight message
 *      registers. The host stops the vCPU, so the call never returns: the server says DETACHED.
 * Prints what it learns and exits 0 when everything went as expected, 1 otherwise.
 */
#include "../tdxsim.h"
#include <inttypes.h>
#include <stdio.h>

/* ABI numbers this guest uses (TDX module and GHCI specifications). */
#define TDG_VP_VMCALL 0
#define TDG_VP_INFO 1
#define TDG_VP_VEINFO_GET 3
#define TDVMCALL_IO 30             /* Instruction.IO (VMX exit reason) */
#define TDVMCALL_REPORT_FATAL 0x10003
#define EXIT_REASON_IO 30
#define VECTOR_VE 20
#define COM1 0x3f8
/* GPRs a TDVMCALL exposes to the host: RDX, RBX, RSI, RDI, R8–R15 (Linux's mask). */
#define EXPOSE_MASK 0xffccu

static int tdvmcall(tdxsim_conn *c, tdxsim_regs *r) {
  r->gpr[TDXSIM_RAX] = TDG_VP_VMCALL;
  r->gpr[TDXSIM_RCX] = EXPOSE_MASK;
  r->gpr[TDXSIM_R10] = 0; /* a standard GHCI call */
  return tdxsim_tdcall(c, r);
}

/* Instruction.IO write of one byte; 0 when both the module and the host accepted it. */
static int serial_byte(tdxsim_conn *c, uint8_t byte) {
  tdxsim_regs r;
  memset(&r, 0, sizeof r);
  r.gpr[TDXSIM_R11] = TDVMCALL_IO;
  r.gpr[TDXSIM_R12] = 1;    /* size */
  r.gpr[TDXSIM_R13] = 1;    /* direction: write */
  r.gpr[TDXSIM_R14] = COM1; /* port */
  r.gpr[TDXSIM_R15] = byte;
  int rc = tdvmcall(c, &r);
  if (rc) return rc;
  return r.gpr[TDXSIM_RAX] == 0 && r.gpr[TDXSIM_R10] == 0 ? 0 : 1;
}

/* The #VE handler: emulate an OUT/IN to a port with Instruction.IO, like Linux's handle_io(). */
static int on_exception(tdxsim_conn *c, tdxsim_exception *ex, void *ctx) {
  int *handled = (int *)ctx;
  if (ex->vector != VECTOR_VE) return 1;
  tdxsim_regs r;
  memset(&r, 0, sizeof r);
  r.gpr[TDXSIM_RAX] = TDG_VP_VEINFO_GET;
  if (tdxsim_tdcall(c, &r) != 0 || r.gpr[TDXSIM_RAX] != 0) return 1;
  uint32_t reason = (uint32_t)r.gpr[TDXSIM_RCX];
  uint64_t qual = r.gpr[TDXSIM_RDX];
  uint32_t length = (uint32_t)r.gpr[TDXSIM_R10];
  if (reason != EXIT_REASON_IO) return 1;
  unsigned size = (unsigned)(qual & 7) + 1, in = (unsigned)(qual >> 3) & 1, port = (unsigned)(qual >> 16) & 0xffff;
  tdxsim_regs io;
  memset(&io, 0, sizeof io);
  io.gpr[TDXSIM_R11] = TDVMCALL_IO;
  io.gpr[TDXSIM_R12] = size;
  io.gpr[TDXSIM_R13] = in ? 0 : 1;
  io.gpr[TDXSIM_R14] = port;
  io.gpr[TDXSIM_R15] = in ? 0 : ex->gpr[TDXSIM_RAX];
  if (tdvmcall(c, &io) != 0 || io.gpr[TDXSIM_RAX] != 0 || io.gpr[TDXSIM_R10] != 0) return 1;
  if (in) ex->gpr[TDXSIM_RAX] = io.gpr[TDXSIM_R11];
  ex->rip += length; /* emulated: resume after the instruction */
  (*handled)++;
  return 0;
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s <socket-path> <token>\n", argv[0]);
    return 2;
  }
  tdxsim_conn c;
  if (tdxsim_connect_unix(&c, argv[1]) != 0) { perror("connect"); return 1; }
  int rc = tdxsim_hello(&c, TDXSIM_ROLE_GUEST, NULL);
  if (rc == 0) rc = tdxsim_attach(&c, argv[2], 0);
  if (rc != 0) { fprintf(stderr, "guest: hello/attach failed: %d %s\n", rc, c.error_message); return 1; }

  /* 1. TDG.VP.INFO */
  tdxsim_regs r;
  memset(&r, 0, sizeof r);
  r.gpr[TDXSIM_RAX] = TDG_VP_INFO;
  if (tdxsim_tdcall(&c, &r) != 0 || r.gpr[TDXSIM_RAX] != 0) { fprintf(stderr, "guest: TDG.VP.INFO failed\n"); return 1; }
  printf("guest: TDG.VP.INFO gpaw=%u attributes=0x%016" PRIx64 " vcpus=%u/%u index=%u\n", (unsigned)(r.gpr[TDXSIM_RCX] & 0x3f),
         r.gpr[TDXSIM_RDX], (unsigned)(r.gpr[TDXSIM_R8] & 0xffffffffu), (unsigned)(r.gpr[TDXSIM_R8] >> 32), (unsigned)r.gpr[TDXSIM_R9]);

  /* 2. Serial output through TDVMCALL<Instruction.IO> */
  const char *line = "hello from a C guest\n";
  for (const char *p = line; *p; p++) {
    if (serial_byte(&c, (uint8_t)*p) != 0) { fprintf(stderr, "guest: Instruction.IO failed\n"); return 1; }
  }

  /* 3. OUT instructions, emulated by the #VE handler */
  int handled = 0;
  tdxsim_set_exception_handler(&c, on_exception, &handled);
  const char *ve_line = "and this line went through #VE\n";
  for (const char *p = ve_line; *p; p++) {
    if (tdxsim_io_out(&c, COM1, 1, (uint8_t)*p) != 0) { fprintf(stderr, "guest: OUT failed: %s\n", c.error_message); return 1; }
  }
  printf("guest: %d #VE exceptions handled\n", handled);

  /* 4. ReportFatalError: error code in R12 bits 62:32, message in R14, R15, RBX, RDI, RSI, R8, R9, RDX */
  static const int msg_regs[8] = {TDXSIM_R14, TDXSIM_R15, TDXSIM_RBX, TDXSIM_RDI, TDXSIM_RSI, TDXSIM_R8, TDXSIM_R9, TDXSIM_RDX};
  char msg[64];
  memset(msg, 0, sizeof msg);
  snprintf(msg, sizeof msg, "C guest gives up: error 0x42");
  memset(&r, 0, sizeof r);
  r.gpr[TDXSIM_R11] = TDVMCALL_REPORT_FATAL;
  r.gpr[TDXSIM_R12] = (uint64_t)0x42 << 32;
  for (int i = 0; i < 8; i++) r.gpr[msg_regs[i]] = tdxsim_get64((const uint8_t *)msg + 8 * i);
  fflush(stdout);
  rc = tdvmcall(&c, &r);
  if (rc == TDXSIM_E_DETACHED) {
    printf("guest: detached after ReportFatalError (reason %u)\n", c.detached_reason);
    tdxsim_close(&c);
    return handled == (int)strlen(ve_line) && c.detached_reason == TDXSIM_DETACH_VCPU_STOPPED ? 0 : 1;
  }
  fprintf(stderr, "guest: ReportFatalError returned %d\n", rc);
  tdxsim_close(&c);
  return 1;
}
