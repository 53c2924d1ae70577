/*
 * A host VMM written in C, driving the simulated TDX module of `tdxsim serve` with real SEAMCALLs.
 *
 *   host <socket-path> [program]        (program: a built-in guest program, default "hello")
 *
 * What a hypervisor does, in the order the TDX module requires (facts: tdx-module.md §5,
 * linux-tdx.md §1.4–1.5), with nothing done for it by the server:
 *   bring-up  TDH.SYS.INIT; TDH.SYS.LP.INIT on every LP; TDH.SYS.RD of the sizes it needs; one TDMR
 *             over all convertible memory with its PAMT allocated from that memory and reserved
 *             areas for the holes and the PAMT, written as TDMR_INFO; TDH.SYS.CONFIG;
 *             TDH.SYS.KEY.CONFIG on each package; TDH.SYS.TDMR.INIT until the TDMR is done
 *   build     TDH.MNG.CREATE with a private HKID; TDH.MNG.KEY.CONFIG on each package;
 *             TDH.MNG.ADDCX for every TDCS page; TDH.MNG.INIT with TD_PARAMS; TDH.VP.CREATE,
 *             TDH.VP.ADDCX, TDH.VP.INIT; TDH.MEM.SEPT.ADD down to the boot page; TDH.MEM.PAGE.ADD
 *             of the boot page (the descriptor naming the guest program); TDH.MR.EXTEND × 16;
 *             TDH.MR.FINALIZE
 *   run       TDH.VP.ENTER until the guest halts: a TDVMCALL<Instruction.IO> write to the serial
 *             port prints the byte, any other port reads as all ones; HLT ends the run; a timer
 *             exit re-enters; anything else is reported
 *   teardown  TDH.VP.FLUSH, TDH.MNG.VPFLUSHDONE, TDH.PHYMEM.CACHE.WB on each package,
 *             TDH.MNG.KEY.FREEID, TDH.PHYMEM.PAGE.RECLAIM of every TD page and the TDR,
 *             TDH.PHYMEM.PAGE.WBINVD of the TDR under the global KeyID, and the pages freed
 * Exits 0 when the guest halted and every page came back.
 */
#include "../tdxsim.h"
#include <inttypes.h>
#include <stdio.h>

/* SEAMCALL leaf numbers (TDX module 1.5, seamcall_leaf_opcode_e). */
enum {
  TDH_VP_ENTER = 0, TDH_MNG_ADDCX = 1, TDH_MEM_PAGE_ADD = 2, TDH_MEM_SEPT_ADD = 3, TDH_VP_ADDCX = 4,
  TDH_MNG_KEY_CONFIG = 8, TDH_MNG_CREATE = 9, TDH_VP_CREATE = 10, TDH_MR_EXTEND = 16, TDH_MR_FINALIZE = 17,
  TDH_VP_FLUSH = 18, TDH_MNG_VPFLUSHDONE = 19, TDH_MNG_KEY_FREEID = 20, TDH_MNG_INIT = 21, TDH_VP_INIT = 22,
  TDH_PHYMEM_PAGE_RECLAIM = 28, TDH_SYS_KEY_CONFIG = 31, TDH_SYS_INIT = 33, TDH_SYS_RD = 34,
  TDH_SYS_LP_INIT = 35, TDH_SYS_TDMR_INIT = 36, TDH_PHYMEM_CACHE_WB = 40, TDH_PHYMEM_PAGE_WBINVD = 41,
  TDH_SYS_CONFIG = 45
};

/* Completion status codes (bits 63:32) and metadata field ids (TDX module 1.5). */
#define TDX_INTERRUPTED_RESUMABLE 0x8000000300000000ull
#define TDX_NO_HKID_READY_TO_WBCACHE 0x0000082100000000ull
#define STATUS_CODE(s) ((s) & 0xffffffff00000000ull)
#define FIELD_PAMT_4K_ENTRY_SIZE 0x9100000100000010ull
#define FIELD_PAMT_2M_ENTRY_SIZE 0x9100000100000011ull
#define FIELD_PAMT_1G_ENTRY_SIZE 0x9100000100000012ull
#define FIELD_TDCS_BASE_SIZE 0x9800000100000100ull
#define FIELD_TDVPS_BASE_SIZE 0x9800000100000200ull

/* TD exits: VMX exit reasons in RAX bits 31:0, and GHCI sub-functions in R11. */
#define EXIT_EXTERNAL_INTERRUPT 1
#define EXIT_TDCALL 77
#define TDVMCALL_HLT 12
#define TDVMCALL_IO 30
#define TDVMCALL_REPORT_FATAL 0x10003
#define TDVMCALL_SUBFUNC_UNSUPPORTED 0x8000000000000003ull

#define PAGE 4096ull
#define GIB (1ull << 30)
#define BOOT_PAGE_GPA 0xfffff000ull
#define COM1 0x3f8
#define MAX_RESERVED 16
#define MAX_TD_PAGES 64

static tdxsim_conn conn;
static tdxsim_platform plat;
static uint64_t td_pages[MAX_TD_PAGES];
static int td_page_count;

static void die(const char *what, uint64_t status) {
  fprintf(stderr, "host: %s failed: 0x%016" PRIx64 " %s\n", what, status, conn.error_message);
  exit(1);
}

/* SEAMCALL `leaf` on `lp` with the operands in `r`; returns RAX (the completion status). */
static uint64_t seamcall(uint32_t lp, uint64_t leaf, tdxsim_regs *r) {
  r->gpr[TDXSIM_RAX] = leaf;
  int rc = tdxsim_seamcall(&conn, lp, r);
  if (rc) die("the connection", (uint64_t)(int64_t)rc);
  return r->gpr[TDXSIM_RAX];
}

/* A SEAMCALL that must succeed; operands RCX, RDX, R8, R9. */
static tdxsim_regs call(uint32_t lp, uint64_t leaf, uint64_t rcx, uint64_t rdx, uint64_t r8, uint64_t r9, const char *name) {
  tdxsim_regs r;
  memset(&r, 0, sizeof r);
  r.gpr[TDXSIM_RCX] = rcx;
  r.gpr[TDXSIM_RDX] = rdx;
  r.gpr[TDXSIM_R8] = r8;
  r.gpr[TDXSIM_R9] = r9;
  uint64_t s = seamcall(lp, leaf, &r);
  if (s != 0) die(name, s);
  return r;
}

static uint64_t alloc_pages(uint32_t count) {
  uint64_t base = 0;
  int rc = tdxsim_alloc_pages(&conn, count, 0, &base);
  if (rc) die("ALLOC_PAGES", (uint64_t)(int64_t)rc);
  return base;
}

/* A page that becomes the TD's (reclaimed at teardown). */
static uint64_t td_page(void) {
  if (td_page_count == MAX_TD_PAGES) die("too many TD pages", 0);
  return td_pages[td_page_count++] = alloc_pages(1);
}

static void write_mem(uint64_t pa, const void *data, uint32_t len) {
  int rc = tdxsim_mem_write(&conn, pa, data, len);
  if (rc) die("HOST_MEM_WRITE", (uint64_t)(int64_t)rc);
}

static uint64_t sys_rd(uint64_t field) {
  return call(0, TDH_SYS_RD, 0, field, 0, 0, "TDH.SYS.RD").gpr[TDXSIM_R8];
}

static uint64_t round_up(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }

/* The first LP of each package: where per-package SEAMCALLs run. */
static uint32_t package_leader(uint32_t pkg) { return pkg * plat.lps_per_package; }

struct area { uint64_t base, size; };

static int by_base(const void *a, const void *b) {
  const struct area *x = a, *y = b;
  return x->base < y->base ? -1 : x->base > y->base;
}

/* ---- Bring-up ---------------------------------------------------------------------------------- */

static void bring_up(uint16_t global_keyid) {
  call(0, TDH_SYS_INIT, 0, 0, 0, 0, "TDH.SYS.INIT");
  for (uint32_t lp = 0; lp < plat.lp_count; lp++) call(lp, TDH_SYS_LP_INIT, 0, 0, 0, 0, "TDH.SYS.LP.INIT");

  /* One TDMR from 0 over every CMR, 1G-aligned. */
  uint64_t end = 0;
  for (uint32_t i = 0; i < plat.cmr_count; i++) if (plat.cmr[i].base + plat.cmr[i].size > end) end = plat.cmr[i].base + plat.cmr[i].size;
  uint64_t tdmr_base = 0, tdmr_size = round_up(end, GIB);
  uint64_t p4k = round_up(tdmr_size / PAGE * sys_rd(FIELD_PAMT_4K_ENTRY_SIZE), PAGE);
  uint64_t p2m = round_up(tdmr_size / (2ull << 20) * sys_rd(FIELD_PAMT_2M_ENTRY_SIZE), PAGE);
  uint64_t p1g = round_up(tdmr_size / GIB * sys_rd(FIELD_PAMT_1G_ENTRY_SIZE), PAGE);
  uint64_t pamt = alloc_pages((uint32_t)((p4k + p2m + p1g) / PAGE));

  /* Reserved areas: what no CMR covers, and the PAMT itself; sorted and merged. */
  struct area areas[MAX_RESERVED + 1];
  int n = 0;
  uint64_t cursor = tdmr_base;
  for (uint32_t i = 0; i < plat.cmr_count && n < MAX_RESERVED; i++) {
    if (plat.cmr[i].base > cursor) areas[n++] = (struct area){cursor, plat.cmr[i].base - cursor};
    cursor = plat.cmr[i].base + plat.cmr[i].size;
  }
  if (cursor < tdmr_base + tdmr_size && n < MAX_RESERVED) areas[n++] = (struct area){cursor, tdmr_base + tdmr_size - cursor};
  areas[n++] = (struct area){pamt, p4k + p2m + p1g};
  qsort(areas, (size_t)n, sizeof areas[0], by_base);
  int m = 0;
  for (int i = 0; i < n; i++) {
    if (m > 0 && areas[i].base <= areas[m - 1].base + areas[m - 1].size) {
      uint64_t e = areas[i].base + areas[i].size;
      if (e > areas[m - 1].base + areas[m - 1].size) areas[m - 1].size = e - areas[m - 1].base;
    } else {
      areas[m++] = areas[i];
    }
  }
  if (m > MAX_RESERVED) die("too many reserved areas", (uint64_t)m);

  /* TDMR_INFO (320 bytes: base, size, PAMT 1G/2M/4K base and size, 16 reserved areas). */
  uint8_t info[320];
  memset(info, 0, sizeof info);
  tdxsim_put64(info + 0, tdmr_base);
  tdxsim_put64(info + 8, tdmr_size);
  tdxsim_put64(info + 16, pamt + p4k + p2m);
  tdxsim_put64(info + 24, p1g);
  tdxsim_put64(info + 32, pamt + p4k);
  tdxsim_put64(info + 40, p2m);
  tdxsim_put64(info + 48, pamt);
  tdxsim_put64(info + 56, p4k);
  for (int i = 0; i < m; i++) {
    tdxsim_put64(info + 64 + 16 * i, areas[i].base - tdmr_base);
    tdxsim_put64(info + 72 + 16 * i, areas[i].size);
  }
  uint64_t info_pa = alloc_pages(1), array_pa = alloc_pages(1);
  uint8_t array[8];
  tdxsim_put64(array, info_pa);
  write_mem(info_pa, info, sizeof info);
  write_mem(array_pa, array, sizeof array);
  call(0, TDH_SYS_CONFIG, array_pa, 1, global_keyid, 0, "TDH.SYS.CONFIG");
  tdxsim_free_pages(&conn, info_pa, 1);
  tdxsim_free_pages(&conn, array_pa, 1);

  for (uint32_t pkg = 0; pkg < plat.packages; pkg++) call(package_leader(pkg), TDH_SYS_KEY_CONFIG, 0, 0, 0, 0, "TDH.SYS.KEY.CONFIG");
  for (;;) {
    tdxsim_regs r = call(0, TDH_SYS_TDMR_INIT, tdmr_base, 0, 0, 0, "TDH.SYS.TDMR.INIT");
    if (r.gpr[TDXSIM_RDX] >= tdmr_base + tdmr_size) break;
  }
  printf("host: module ready: TDMR [0x%" PRIx64 ", 0x%" PRIx64 "), PAMT %" PRIu64 " KiB at 0x%" PRIx64 ", %d reserved areas\n", tdmr_base,
         tdmr_base + tdmr_size, (p4k + p2m + p1g) >> 10, pamt, m);
}

/* ---- TD build ---------------------------------------------------------------------------------- */

static uint64_t build_td(uint16_t hkid, const char *program, uint64_t *tdvpr_out) {
  uint64_t tdr = alloc_pages(1);
  call(0, TDH_MNG_CREATE, tdr, hkid, 0, 0, "TDH.MNG.CREATE");
  for (uint32_t pkg = 0; pkg < plat.packages; pkg++) call(package_leader(pkg), TDH_MNG_KEY_CONFIG, tdr, 0, 0, 0, "TDH.MNG.KEY.CONFIG");
  uint64_t tdcs_pages = sys_rd(FIELD_TDCS_BASE_SIZE) / PAGE, tdvps_pages = sys_rd(FIELD_TDVPS_BASE_SIZE) / PAGE;
  for (uint64_t i = 0; i < tdcs_pages; i++) call(0, TDH_MNG_ADDCX, td_page(), tdr, 0, 0, "TDH.MNG.ADDCX");

  /* TD_PARAMS: ATTRIBUTES = SEPT_VE_DISABLE (bit 28), XFAM = x87|SSE, 1 vCPU, 4-level EPT with
     write-back memory (EPTP_CONTROLS 0x1e), CONFIG_FLAGS = NO_RBP_MOD (bit 2), TSC 2.5 GHz. */
  uint8_t params[1024];
  memset(params, 0, sizeof params);
  tdxsim_put64(params + 0, 1ull << 28);
  tdxsim_put64(params + 8, 0x3);
  tdxsim_put16(params + 16, 1);
  tdxsim_put64(params + 24, 0x1e);
  tdxsim_put64(params + 32, 1ull << 2);
  tdxsim_put16(params + 40, 100);
  uint64_t params_pa = alloc_pages(1);
  write_mem(params_pa, params, sizeof params);
  call(0, TDH_MNG_INIT, tdr, params_pa, 0, 0, "TDH.MNG.INIT");
  tdxsim_free_pages(&conn, params_pa, 1);

  uint64_t tdvpr = td_page();
  call(0, TDH_VP_CREATE, tdvpr, tdr, 0, 0, "TDH.VP.CREATE");
  for (uint64_t i = 0; i + 1 < tdvps_pages; i++) call(0, TDH_VP_ADDCX, td_page(), tdvpr, 0, 0, "TDH.VP.ADDCX");
  call(0, TDH_VP_INIT, tdvpr, 0, 0, 0, "TDH.VP.INIT");

  /* Secure EPT pages for levels 3 (PDPT), 2 (PD) and 1 (PT) above the boot page: RCX = GPA | level. */
  for (int level = 3; level >= 1; level--) {
    uint64_t span = PAGE << (9 * level);
    call(0, TDH_MEM_SEPT_ADD, (BOOT_PAGE_GPA & ~(span - 1)) | (uint64_t)level, tdr, td_page(), 0, "TDH.MEM.SEPT.ADD");
  }

  /* The boot page: "TDXSIM-BOOT\0", u16 version 1, u16 name length, u32 args length, name, args. */
  uint8_t boot[4096];
  memset(boot, 0, sizeof boot);
  const char *args = "{}";
  size_t name_len = strlen(program), args_len = strlen(args);
  if (20 + name_len + args_len > sizeof boot) die("program name too long", 0);
  memcpy(boot, "TDXSIM-BOOT", 12);
  tdxsim_put16(boot + 12, 1);
  tdxsim_put16(boot + 14, (uint16_t)name_len);
  tdxsim_put32(boot + 16, (uint32_t)args_len);
  memcpy(boot + 20, program, name_len);
  memcpy(boot + 20 + name_len, args, args_len);
  uint64_t source = alloc_pages(1);
  write_mem(source, boot, sizeof boot);
  call(0, TDH_MEM_PAGE_ADD, BOOT_PAGE_GPA, tdr, td_page(), source, "TDH.MEM.PAGE.ADD");
  tdxsim_free_pages(&conn, source, 1);
  for (uint64_t off = 0; off < PAGE; off += 256) call(0, TDH_MR_EXTEND, BOOT_PAGE_GPA + off, tdr, 0, 0, "TDH.MR.EXTEND");
  call(0, TDH_MR_FINALIZE, tdr, 0, 0, 0, "TDH.MR.FINALIZE");
  *tdvpr_out = tdvpr;
  return tdr;
}

/* ---- Run --------------------------------------------------------------------------------------- */

/* Enter the TD until the guest halts; returns 0 on HLT. */
static int run(uint64_t tdvpr) {
  tdxsim_regs in;
  memset(&in, 0, sizeof in);
  unsigned io_exits = 0;
  for (int exits = 0; exits < 100000; exits++) {
    tdxsim_regs r = in;
    r.gpr[TDXSIM_RCX] = tdvpr;
    uint64_t status = seamcall(0, TDH_VP_ENTER, &r);
    uint32_t reason = (uint32_t)status;
    if (STATUS_CODE(status) != 0) {
      fprintf(stderr, "host: TD exit with status 0x%016" PRIx64 "\n", status);
      return 1;
    }
    if (reason == EXIT_EXTERNAL_INTERRUPT) {
      memset(&in, 0, sizeof in); /* a timer tick: nothing to answer */
      continue;
    }
    if (reason != EXIT_TDCALL) {
      fprintf(stderr, "host: unexpected TD exit, reason %u, qualification 0x%" PRIx64 "\n", reason, r.gpr[TDXSIM_RCX]);
      return 1;
    }
    /* TDG.VP.VMCALL: the guest's exposed registers are in r; the reply goes back in the same ones. */
    in = r;
    uint64_t sub = r.gpr[TDXSIM_R11];
    in.gpr[TDXSIM_R10] = 0;
    if (sub == TDVMCALL_IO) {
      io_exits++;
      uint64_t size = r.gpr[TDXSIM_R12], write = r.gpr[TDXSIM_R13], port = r.gpr[TDXSIM_R14];
      if (write && port == COM1) putchar((int)(r.gpr[TDXSIM_R15] & 0xff));
      else if (!write) in.gpr[TDXSIM_R11] = size >= 8 ? ~0ull : (1ull << (8 * size)) - 1;
    } else if (sub == TDVMCALL_HLT) {
      printf("host: guest halted after %u serial exits\n", io_exits);
      return 0;
    } else if (sub == TDVMCALL_REPORT_FATAL) {
      fprintf(stderr, "host: guest reported a fatal error 0x%016" PRIx64 "\n", r.gpr[TDXSIM_R12]);
      return 1;
    } else {
      in.gpr[TDXSIM_R10] = TDVMCALL_SUBFUNC_UNSUPPORTED;
    }
  }
  fprintf(stderr, "host: the guest did not halt\n");
  return 1;
}

/* ---- Teardown ---------------------------------------------------------------------------------- */

static int teardown(uint64_t tdr, uint64_t tdvpr, uint16_t global_keyid) {
  call(0, TDH_VP_FLUSH, tdvpr, 0, 0, 0, "TDH.VP.FLUSH");
  call(0, TDH_MNG_VPFLUSHDONE, tdr, 0, 0, 0, "TDH.MNG.VPFLUSHDONE");
  for (uint32_t pkg = 0; pkg < plat.packages; pkg++) {
    tdxsim_regs r;
    uint64_t resume = 0, s;
    do {
      memset(&r, 0, sizeof r);
      r.gpr[TDXSIM_RCX] = resume;
      s = seamcall(package_leader(pkg), TDH_PHYMEM_CACHE_WB, &r);
      resume = 1;
    } while (STATUS_CODE(s) == TDX_INTERRUPTED_RESUMABLE);
    if (s != 0 && STATUS_CODE(s) != TDX_NO_HKID_READY_TO_WBCACHE) die("TDH.PHYMEM.CACHE.WB", s);
  }
  call(0, TDH_MNG_KEY_FREEID, tdr, 0, 0, 0, "TDH.MNG.KEY.FREEID");
  int reclaimed = 0;
  for (int i = 0; i < td_page_count; i++) {
    call(0, TDH_PHYMEM_PAGE_RECLAIM, td_pages[i], 0, 0, 0, "TDH.PHYMEM.PAGE.RECLAIM");
    if (tdxsim_free_pages(&conn, td_pages[i], 1) == 0) reclaimed++;
  }
  call(0, TDH_PHYMEM_PAGE_RECLAIM, tdr, 0, 0, 0, "TDH.PHYMEM.PAGE.RECLAIM of the TDR");
  /* The module wrote the TDR with the global KeyID: write back that key's lines first. */
  call(0, TDH_PHYMEM_PAGE_WBINVD, tdr | ((uint64_t)global_keyid << plat.keyid_shift), 0, 0, 0, "TDH.PHYMEM.PAGE.WBINVD");
  if (tdxsim_free_pages(&conn, tdr, 1) == 0) reclaimed++;
  printf("host: TD torn down, %d of %d pages reclaimed\n", reclaimed, td_page_count + 1);
  return reclaimed == td_page_count + 1 ? 0 : 1;
}

int main(int argc, char **argv) {
  if (argc < 2 || argc > 3) {
    fprintf(stderr, "usage: %s <socket-path> [program]\n", argv[0]);
    return 2;
  }
  const char *program = argc == 3 ? argv[2] : "hello";
  if (tdxsim_connect_unix(&conn, argv[1]) != 0) { perror("connect"); return 1; }
  int rc = tdxsim_hello(&conn, TDXSIM_ROLE_HOST, NULL);
  if (rc == 0) rc = tdxsim_platform_info(&conn, &plat);
  if (rc != 0) die("HELLO", (uint64_t)(int64_t)rc);
  printf("host: %u package(s) x %u LPs, %" PRIu64 " MiB, %u CMR(s), TDX KeyIDs %u..%u\n", plat.packages, plat.lps_per_package,
         plat.memory_bytes >> 20, plat.cmr_count, plat.first_tdx_keyid, plat.first_tdx_keyid + plat.tdx_keyids - 1);

  /* The first TDX KeyID is the module's global KeyID; the next one is this TD's HKID (as Linux). */
  uint16_t global_keyid = plat.first_tdx_keyid, hkid = (uint16_t)(plat.first_tdx_keyid + 1);
  bring_up(global_keyid);
  uint64_t tdvpr = 0;
  uint64_t tdr = build_td(hkid, program, &tdvpr);
  printf("host: TD built (TDR 0x%" PRIx64 ", HKID %u) running \"%s\"\n", tdr, hkid, program);
  fflush(stdout);
  int failed = run(tdvpr);
  fflush(stdout);
  failed |= teardown(tdr, tdvpr, global_keyid);
  tdxsim_close(&conn);
  return failed;
}
