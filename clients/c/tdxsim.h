/*
 * tdxsim.h — a C client of the tdxsim wire protocol, version 1.0, in one header.
 *
 * Be the host VMM or a TD guest of a tdxsim simulation from C: connect to `tdxsim serve`, say
 * HELLO as a host or a guest, then issue SEAMCALLs (host) or TDCALLs, port I/O, MMIO and memory
 * accesses (guest). The protocol is specified in docs/wire-protocol.md; this header follows it
 * section by section and depends on nothing but libc and POSIX sockets.
 *
 * Usage: include this header first (it asks for POSIX 2008 declarations), in as many files as you
 * like — every function is `static inline`. All calls are blocking and not thread-safe: use one
 * connection per thread.
 *
 *   tdxsim_conn c;
 *   if (tdxsim_connect_unix(&c, "/run/user/1000/tdxsim.sock") != 0) ...
 *   tdxsim_hello(&c, TDXSIM_ROLE_GUEST, NULL);
 *   tdxsim_attach(&c, token, 0, &result);
 *   tdxsim_regs r = {0};
 *   r.gpr[TDXSIM_RAX] = 1;                 // TDG.VP.INFO
 *   tdxsim_tdcall(&c, &r);                 // r now holds what the vCPU saw
 *
 * Return values: 0 on success; a positive TDXSIM_RESULT_* when the server refused a well-formed
 * request (the connection stays usable); a negative TDXSIM_E_* when the connection failed:
 * TDXSIM_E_PROTOCOL means the server sent an ERROR frame (c->error_code, c->error_message) and
 * closed the connection; TDXSIM_E_DETACHED means the vCPU this guest ran is gone
 * (c->detached_reason).
 *
 * Guests receive exceptions (vector 20 = #VE, …) while an instruction executes. Register a handler
 * with tdxsim_set_exception_handler(); it runs inside the call that raised the exception, may
 * issue instructions of its own (TDG.VP.VEINFO.GET, TDVMCALLs, …), and changes ex->rip and
 * ex->gpr to what the vCPU resumes with: advance ex->rip past the instruction if the handler
 * emulated it. A handler returning non-zero gives up: the vCPU triple-faults. Without a handler
 * every exception is given up.
 */
#ifndef TDXSIM_H
#define TDXSIM_H

#if !defined(_POSIX_C_SOURCE) && !defined(_GNU_SOURCE) && !defined(_DEFAULT_SOURCE)
#define _POSIX_C_SOURCE 200809L
#endif

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/un.h>

/* ---- Protocol constants (docs/wire-protocol.md §2, §3) ---------------------------------------- */

#define TDXSIM_VERSION_MAJOR 1
#define TDXSIM_VERSION_MINOR 0
#define TDXSIM_HEADER_SIZE 12u
#define TDXSIM_MAX_PAYLOAD (1u << 20)
#define TDXSIM_MAX_MEM_OP (256u << 10)
#define TDXSIM_TOKEN_CHARS 32

enum tdxsim_role { TDXSIM_ROLE_HOST = 1, TDXSIM_ROLE_GUEST = 2 };

enum tdxsim_type {
  TDXSIM_HELLO = 0x0001, TDXSIM_ERROR = 0x8000,
  TDXSIM_SEAMCALL = 0x0101, TDXSIM_HOST_MEM_READ = 0x0102, TDXSIM_HOST_MEM_WRITE = 0x0103,
  TDXSIM_ALLOC_PAGES = 0x0104, TDXSIM_FREE_PAGES = 0x0105, TDXSIM_PLATFORM_INFO = 0x0106,
  TDXSIM_SETUP_PLATFORM = 0x0107, TDXSIM_GUEST_TOKEN = 0x0108, TDXSIM_SHARED_EPT = 0x0109,
  TDXSIM_ATTACH_GUEST = 0x0201, TDXSIM_TDCALL = 0x0202, TDXSIM_IO_IN = 0x0203, TDXSIM_IO_OUT = 0x0204,
  TDXSIM_LOAD = 0x0205, TDXSIM_STORE = 0x0206, TDXSIM_CPUID = 0x0207, TDXSIM_RDMSR = 0x0208,
  TDXSIM_WRMSR = 0x0209, TDXSIM_INSN = 0x020a, TDXSIM_EXCEPTION_DONE = 0x0210,
  TDXSIM_EXCEPTION = 0x8210, TDXSIM_DETACHED = 0x8211
};
/* An answer has its request's type with this bit set. */
#define TDXSIM_SERVER_BIT 0x8000u

/* Results of refused requests (positive return values). */
enum tdxsim_result {
  TDXSIM_RESULT_OK = 0, TDXSIM_RESULT_NOT_OWNED = 1, TDXSIM_RESULT_OUT_OF_MEMORY = 2,
  TDXSIM_RESULT_BAD_STATE = 3, TDXSIM_RESULT_SETUP_FAILED = 4, TDXSIM_RESULT_UNKNOWN_TOKEN = 5,
  TDXSIM_RESULT_TOKEN_IN_USE = 6
};

/* Connection failures (negative return values). */
enum tdxsim_errors {
  TDXSIM_E_IO = -1,        /* socket error or EOF; errno may say more */
  TDXSIM_E_PROTOCOL = -2,  /* the server sent ERROR (see error_code) or something unexpected */
  TDXSIM_E_DETACHED = -3,  /* the vCPU is gone (see detached_reason) */
  TDXSIM_E_ARG = -4        /* a bad argument to this library (e.g. a length over the limit) */
};

/* DETACHED reasons. */
enum tdxsim_detach {
  TDXSIM_DETACH_HOST_ENDED = 1, TDXSIM_DETACH_VCPU_DESTROYED = 2, TDXSIM_DETACH_VCPU_STOPPED = 3,
  TDXSIM_DETACH_TRIPLE_FAULT = 4, TDXSIM_DETACH_SERVER_SHUTDOWN = 5
};

enum tdxsim_insn { TDXSIM_INSN_HLT = 1, TDXSIM_INSN_VMCALL = 2, TDXSIM_INSN_WBINVD = 3, TDXSIM_INSN_STI = 4, TDXSIM_INSN_CLI = 5 };
enum tdxsim_shared_ept_op { TDXSIM_EPT_MAP = 1, TDXSIM_EPT_MAP_MMIO = 2, TDXSIM_EPT_UNMAP = 3 };

/* GPR indices: architectural order (Intel SDM Vol. 2, Table 2-4). */
enum tdxsim_gpr {
  TDXSIM_RAX, TDXSIM_RCX, TDXSIM_RDX, TDXSIM_RBX, TDXSIM_RSP, TDXSIM_RBP, TDXSIM_RSI, TDXSIM_RDI,
  TDXSIM_R8, TDXSIM_R9, TDXSIM_R10, TDXSIM_R11, TDXSIM_R12, TDXSIM_R13, TDXSIM_R14, TDXSIM_R15
};

/* A register file: 16 GPRs and XMM0–15 (xmm[2*i] = low 64 bits of XMMi, xmm[2*i+1] = high). */
typedef struct {
  uint64_t gpr[16];
  uint64_t xmm[32];
} tdxsim_regs;

/* An exception delivered to a guest (EXCEPTION frame). The handler edits rip and gpr. */
typedef struct {
  uint8_t vector;
  int has_error_code;
  uint64_t error_code;
  uint64_t rip;
  uint64_t gpr[16];
} tdxsim_exception;

typedef struct tdxsim_conn tdxsim_conn;
typedef int (*tdxsim_exception_fn)(tdxsim_conn *c, tdxsim_exception *ex, void *ctx);

struct tdxsim_conn {
  int fd;
  uint32_t next_id;
  /* Set when the server sent ERROR. */
  uint32_t error_code;
  char error_message[1025];
  /* Set when the server sent DETACHED. */
  uint32_t detached_reason;
  tdxsim_exception_fn on_exception;
  void *exception_ctx;
  /* Receive buffer for one frame's payload. */
  uint8_t *buf;
  size_t cap;
};

/* Platform shape a host asks for in HELLO; 0 = the server default. */
typedef struct {
  uint16_t packages, lps_per_package, mktme_keyids, tdx_keyids;
  uint64_t memory_bytes;
} tdxsim_host_options;

typedef struct {
  uint16_t packages, lps_per_package, lp_count;
  uint8_t max_pa, keyid_shift;
  uint64_t memory_bytes;
  uint16_t mktme_keyids, tdx_keyids, first_tdx_keyid;
  uint64_t free_pages;
  uint32_t cmr_count;
  struct { uint64_t base, size; } cmr[32];
} tdxsim_platform;

typedef struct {
  uint16_t global_keyid, first_td_keyid, td_keyid_count, tdmr_count;
  struct { uint64_t base, size, pamt_base, pamt_size; } tdmr[64];
  char message[1025];
} tdxsim_setup;

/* ---- Little-endian helpers --------------------------------------------------------------------- */

static inline void tdxsim_put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static inline void tdxsim_put32(uint8_t *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i)); }
static inline void tdxsim_put64(uint8_t *p, uint64_t v) { for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i)); }
static inline uint16_t tdxsim_get16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static inline uint32_t tdxsim_get32(const uint8_t *p) { uint32_t v = 0; for (int i = 3; i >= 0; i--) v = (v << 8) | p[i]; return v; }
static inline uint64_t tdxsim_get64(const uint8_t *p) { uint64_t v = 0; for (int i = 7; i >= 0; i--) v = (v << 8) | p[i]; return v; }

static inline void tdxsim_put_gprs(uint8_t *p, const uint64_t *gpr) { for (int i = 0; i < 16; i++) tdxsim_put64(p + 8 * i, gpr[i]); }
static inline void tdxsim_get_gprs(const uint8_t *p, uint64_t *gpr) { for (int i = 0; i < 16; i++) gpr[i] = tdxsim_get64(p + 8 * i); }
static inline void tdxsim_put_regs(uint8_t *p, const tdxsim_regs *r) { tdxsim_put_gprs(p, r->gpr); for (int i = 0; i < 32; i++) tdxsim_put64(p + 128 + 8 * i, r->xmm[i]); }
static inline void tdxsim_get_regs(const uint8_t *p, tdxsim_regs *r) { tdxsim_get_gprs(p, r->gpr); for (int i = 0; i < 32; i++) r->xmm[i] = tdxsim_get64(p + 128 + 8 * i); }

/* ---- Connection -------------------------------------------------------------------------------- */

static inline void tdxsim__init(tdxsim_conn *c, int fd) {
  memset(c, 0, sizeof *c);
  c->fd = fd;
  c->next_id = 1;
}

/* Connect to a Unix socket (the default of `tdxsim serve`). */
static inline int tdxsim_connect_unix(tdxsim_conn *c, const char *path) {
  struct sockaddr_un a;
  memset(&a, 0, sizeof a);
  a.sun_family = AF_UNIX;
  if (strlen(path) >= sizeof a.sun_path) return TDXSIM_E_ARG;
  strcpy(a.sun_path, path);
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  if (fd < 0) return TDXSIM_E_IO;
  if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) { close(fd); return TDXSIM_E_IO; }
  tdxsim__init(c, fd);
  return 0;
}

/* Connect to `tdxsim serve --port N` (which listens on 127.0.0.1 only). */
static inline int tdxsim_connect_tcp(tdxsim_conn *c, uint16_t port) {
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return TDXSIM_E_IO;
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) { close(fd); return TDXSIM_E_IO; }
  tdxsim__init(c, fd);
  return 0;
}

static inline void tdxsim_close(tdxsim_conn *c) {
  if (c->fd >= 0) close(c->fd);
  c->fd = -1;
  free(c->buf);
  c->buf = NULL;
  c->cap = 0;
}

static inline void tdxsim_set_exception_handler(tdxsim_conn *c, tdxsim_exception_fn fn, void *ctx) {
  c->on_exception = fn;
  c->exception_ctx = ctx;
}

static inline int tdxsim__write_all(tdxsim_conn *c, const uint8_t *p, size_t n) {
  while (n > 0) {
    ssize_t w = send(c->fd, p, n, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return TDXSIM_E_IO;
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

static inline int tdxsim__read_all(tdxsim_conn *c, uint8_t *p, size_t n) {
  while (n > 0) {
    ssize_t r = recv(c->fd, p, n, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return TDXSIM_E_IO;
    p += r;
    n -= (size_t)r;
  }
  return 0;
}

/* Send one frame: header, then `len` payload bytes (`tail`, of `tail_len`, follows `payload`). */
static inline int tdxsim__send(tdxsim_conn *c, uint16_t type, uint32_t id, const uint8_t *payload, size_t len,
                               const void *tail, size_t tail_len) {
  uint8_t h[TDXSIM_HEADER_SIZE];
  tdxsim_put32(h, (uint32_t)(TDXSIM_HEADER_SIZE + len + tail_len));
  tdxsim_put16(h + 4, type);
  tdxsim_put16(h + 6, 0);
  tdxsim_put32(h + 8, id);
  int rc = tdxsim__write_all(c, h, sizeof h);
  if (rc == 0 && len) rc = tdxsim__write_all(c, payload, len);
  if (rc == 0 && tail_len) rc = tdxsim__write_all(c, (const uint8_t *)tail, tail_len);
  return rc;
}

/* Receive one frame into c->buf; its type, id and payload length come back. */
static inline int tdxsim__recv(tdxsim_conn *c, uint16_t *type, uint32_t *id, uint32_t *len) {
  uint8_t h[TDXSIM_HEADER_SIZE];
  int rc = tdxsim__read_all(c, h, sizeof h);
  if (rc) return rc;
  uint32_t total = tdxsim_get32(h);
  if (total < TDXSIM_HEADER_SIZE || total - TDXSIM_HEADER_SIZE > TDXSIM_MAX_PAYLOAD) return TDXSIM_E_PROTOCOL;
  *type = tdxsim_get16(h + 4);
  *id = tdxsim_get32(h + 8);
  *len = total - TDXSIM_HEADER_SIZE;
  if (*len > c->cap) {
    uint8_t *nb = (uint8_t *)realloc(c->buf, *len);
    if (!nb) return TDXSIM_E_IO;
    c->buf = nb;
    c->cap = *len;
  }
  return tdxsim__read_all(c, c->buf, *len);
}

static inline int tdxsim__exception(tdxsim_conn *c, uint32_t id, uint32_t len);

/*
 * Send a request and wait for its answer, serving EXCEPTION frames on the way. The answer's
 * payload is copied to `answer` (at most `cap` bytes; `*answer_len` gets its length).
 */
static inline int tdxsim_request(tdxsim_conn *c, uint16_t type, const uint8_t *payload, size_t len, const void *tail,
                                 size_t tail_len, uint8_t *answer, size_t cap, size_t *answer_len) {
  if (c->fd < 0) return TDXSIM_E_IO;
  uint32_t id = c->next_id++;
  int rc = tdxsim__send(c, type, id, payload, len, tail, tail_len);
  if (rc) return rc;
  for (;;) {
    uint16_t t;
    uint32_t rid, n;
    rc = tdxsim__recv(c, &t, &rid, &n);
    if (rc) return rc;
    if (t == TDXSIM_ERROR) {
      c->error_code = n >= 8 ? tdxsim_get32(c->buf) : 0;
      uint32_t m = n >= 8 ? n - 8 : 0;
      if (m > 1024) m = 1024;
      memcpy(c->error_message, c->buf + 8, m);
      c->error_message[m] = 0;
      return TDXSIM_E_PROTOCOL;
    }
    if (t == TDXSIM_DETACHED) {
      c->detached_reason = n >= 4 ? tdxsim_get32(c->buf) : 0;
      return TDXSIM_E_DETACHED;
    }
    if (t == TDXSIM_EXCEPTION) {
      rc = tdxsim__exception(c, rid, n);
      if (rc) return rc;
      continue;
    }
    if (rid != id || t != (type | TDXSIM_SERVER_BIT)) return TDXSIM_E_PROTOCOL;
    if (n > cap) n = (uint32_t)cap;
    if (n) memcpy(answer, c->buf, n);
    if (answer_len) *answer_len = n;
    return 0;
  }
}

/* Run the exception handler for an EXCEPTION frame (in c->buf) and answer EXCEPTION_DONE. */
static inline int tdxsim__exception(tdxsim_conn *c, uint32_t id, uint32_t len) {
  if (len != 24 + 128) return TDXSIM_E_PROTOCOL;
  tdxsim_exception ex;
  ex.vector = c->buf[0];
  ex.has_error_code = c->buf[1] & 1;
  ex.error_code = tdxsim_get64(c->buf + 8);
  ex.rip = tdxsim_get64(c->buf + 16);
  tdxsim_get_gprs(c->buf + 24, ex.gpr);
  int give_up = c->on_exception ? c->on_exception(c, &ex, c->exception_ctx) : 1;
  /* The handler's own requests may have ended the connection. */
  if (c->detached_reason) return TDXSIM_E_DETACHED;
  if (c->error_code) return TDXSIM_E_PROTOCOL;
  if (c->fd < 0) return TDXSIM_E_IO;
  uint8_t done[16 + 128];
  memset(done, 0, sizeof done);
  done[0] = give_up ? 1 : 0;
  tdxsim_put64(done + 8, ex.rip);
  tdxsim_put_gprs(done + 16, ex.gpr);
  return tdxsim__send(c, TDXSIM_EXCEPTION_DONE, id, done, sizeof done, NULL, 0);
}

/* A request whose answer is a u32 result (+ reserved). */
static inline int tdxsim__result_request(tdxsim_conn *c, uint16_t type, const uint8_t *payload, size_t len, const void *tail, size_t tail_len) {
  uint8_t a[8];
  size_t n = 0;
  int rc = tdxsim_request(c, type, payload, len, tail, tail_len, a, sizeof a, &n);
  if (rc) return rc;
  return n < 4 ? TDXSIM_E_PROTOCOL : (int)tdxsim_get32(a);
}

/* HELLO: role and (host only, may be NULL) the platform to simulate. */
static inline int tdxsim_hello(tdxsim_conn *c, int role, const tdxsim_host_options *o) {
  uint8_t p[24];
  memset(p, 0, sizeof p);
  tdxsim_put16(p, TDXSIM_VERSION_MAJOR);
  tdxsim_put16(p + 2, TDXSIM_VERSION_MINOR);
  p[4] = (uint8_t)role;
  if (o) {
    tdxsim_put16(p + 8, o->packages);
    tdxsim_put16(p + 10, o->lps_per_package);
    tdxsim_put16(p + 12, o->mktme_keyids);
    tdxsim_put16(p + 14, o->tdx_keyids);
    tdxsim_put64(p + 16, o->memory_bytes);
  }
  uint8_t a[16];
  size_t n = 0;
  int rc = tdxsim_request(c, TDXSIM_HELLO, p, sizeof p, NULL, 0, a, sizeof a, &n);
  if (rc) return rc;
  return n == sizeof a && tdxsim_get16(a) == TDXSIM_VERSION_MAJOR ? 0 : TDXSIM_E_PROTOCOL;
}

/* ---- Host role (§4) ---------------------------------------------------------------------------- */

/* SEAMCALL on logical processor `lp`: `r` in (RAX = leaf word), `r` out (RAX = status). */
static inline int tdxsim_seamcall(tdxsim_conn *c, uint32_t lp, tdxsim_regs *r) {
  uint8_t p[8 + 384], a[8 + 384];
  memset(p, 0, 8);
  tdxsim_put32(p, lp);
  tdxsim_put_regs(p + 8, r);
  size_t n = 0;
  int rc = tdxsim_request(c, TDXSIM_SEAMCALL, p, sizeof p, NULL, 0, a, sizeof a, &n);
  if (rc) return rc;
  if (n != sizeof a) return TDXSIM_E_PROTOCOL;
  tdxsim_get_regs(a + 8, r);
  return 0;
}

/* Read `len` bytes of host physical memory the client owns (KeyID 0). */
static inline int tdxsim_mem_read(tdxsim_conn *c, uint64_t pa, void *buf, uint32_t len) {
  if (len == 0 || len > TDXSIM_MAX_MEM_OP) return TDXSIM_E_ARG;
  uint8_t p[16];
  memset(p, 0, sizeof p);
  tdxsim_put64(p, pa);
  tdxsim_put32(p + 8, len);
  uint8_t *a = (uint8_t *)malloc(8 + (size_t)len);
  if (!a) return TDXSIM_E_IO;
  size_t n = 0;
  int rc = tdxsim_request(c, TDXSIM_HOST_MEM_READ, p, sizeof p, NULL, 0, a, 8 + (size_t)len, &n);
  if (rc == 0) {
    rc = n < 8 ? TDXSIM_E_PROTOCOL : (int)tdxsim_get32(a);
    if (rc == 0 && n == 8 + (size_t)len) memcpy(buf, a + 8, len);
    else if (rc == 0) rc = TDXSIM_E_PROTOCOL;
  }
  free(a);
  return rc;
}

static inline int tdxsim_mem_write(tdxsim_conn *c, uint64_t pa, const void *buf, uint32_t len) {
  if (len == 0 || len > TDXSIM_MAX_MEM_OP) return TDXSIM_E_ARG;
  uint8_t p[16];
  memset(p, 0, sizeof p);
  tdxsim_put64(p, pa);
  tdxsim_put32(p + 8, len);
  return tdxsim__result_request(c, TDXSIM_HOST_MEM_WRITE, p, sizeof p, buf, len);
}

/* Allocate `count` contiguous 4K pages aligned to `alignment` bytes (0 = 4 KiB), zeroed. */
static inline int tdxsim_alloc_pages(tdxsim_conn *c, uint32_t count, uint32_t alignment, uint64_t *base) {
  uint8_t p[8], a[16];
  tdxsim_put32(p, count);
  tdxsim_put32(p + 4, alignment);
  size_t n = 0;
  int rc = tdxsim_request(c, TDXSIM_ALLOC_PAGES, p, sizeof p, NULL, 0, a, sizeof a, &n);
  if (rc) return rc;
  if (n != sizeof a) return TDXSIM_E_PROTOCOL;
  *base = tdxsim_get64(a + 8);
  return (int)tdxsim_get32(a);
}

static inline int tdxsim_free_pages(tdxsim_conn *c, uint64_t base, uint32_t count) {
  uint8_t p[16];
  memset(p, 0, sizeof p);
  tdxsim_put64(p, base);
  tdxsim_put32(p + 8, count);
  return tdxsim__result_request(c, TDXSIM_FREE_PAGES, p, sizeof p, NULL, 0);
}

static inline int tdxsim_platform_info(tdxsim_conn *c, tdxsim_platform *out) {
  uint8_t a[40 + 32 * 16];
  size_t n = 0;
  int rc = tdxsim_request(c, TDXSIM_PLATFORM_INFO, NULL, 0, NULL, 0, a, sizeof a, &n);
  if (rc) return rc;
  if (n < 40) return TDXSIM_E_PROTOCOL;
  out->packages = tdxsim_get16(a);
  out->lps_per_package = tdxsim_get16(a + 2);
  out->lp_count = tdxsim_get16(a + 4);
  out->max_pa = a[6];
  out->keyid_shift = a[7];
  out->memory_bytes = tdxsim_get64(a + 8);
  out->mktme_keyids = tdxsim_get16(a + 16);
  out->tdx_keyids = tdxsim_get16(a + 18);
  out->first_tdx_keyid = tdxsim_get16(a + 20);
  out->free_pages = tdxsim_get64(a + 24);
  out->cmr_count = tdxsim_get32(a + 32);
  if (out->cmr_count > 32 || n != 40 + (size_t)out->cmr_count * 16) return TDXSIM_E_PROTOCOL;
  for (uint32_t i = 0; i < out->cmr_count; i++) {
    out->cmr[i].base = tdxsim_get64(a + 40 + 16 * i);
    out->cmr[i].size = tdxsim_get64(a + 48 + 16 * i);
  }
  return 0;
}

/* The built-in host's bring-up, run by the server (optional; see §4.7). */
static inline int tdxsim_setup_platform(tdxsim_conn *c, tdxsim_setup *out) {
  size_t cap = 16 + 64 * 32 + 1024, n = 0;
  uint8_t *a = (uint8_t *)malloc(cap);
  if (!a) return TDXSIM_E_IO;
  int rc = tdxsim_request(c, TDXSIM_SETUP_PLATFORM, NULL, 0, NULL, 0, a, cap, &n);
  if (rc == 0 && n < 16) rc = TDXSIM_E_PROTOCOL;
  if (rc == 0) {
    memset(out, 0, sizeof *out);
    out->global_keyid = tdxsim_get16(a + 4);
    out->first_td_keyid = tdxsim_get16(a + 6);
    out->td_keyid_count = tdxsim_get16(a + 8);
    out->tdmr_count = tdxsim_get16(a + 10);
    uint32_t mlen = tdxsim_get32(a + 12);
    if (out->tdmr_count > 64 || mlen > 1024 || n != 16 + (size_t)out->tdmr_count * 32 + mlen) {
      rc = TDXSIM_E_PROTOCOL;
    } else {
      for (int i = 0; i < out->tdmr_count; i++) {
        const uint8_t *t = a + 16 + 32 * i;
        out->tdmr[i].base = tdxsim_get64(t);
        out->tdmr[i].size = tdxsim_get64(t + 8);
        out->tdmr[i].pamt_base = tdxsim_get64(t + 16);
        out->tdmr[i].pamt_size = tdxsim_get64(t + 24);
      }
      memcpy(out->message, a + 16 + (size_t)out->tdmr_count * 32, mlen);
      out->message[mlen] = 0;
      rc = (int)tdxsim_get32(a);
    }
  }
  free(a);
  return rc;
}

/* A fresh guest token: a boot page naming "wire:<token>" runs a wire guest. */
static inline int tdxsim_guest_token(tdxsim_conn *c, char token[TDXSIM_TOKEN_CHARS + 1]) {
  uint8_t a[8 + TDXSIM_TOKEN_CHARS];
  size_t n = 0;
  int rc = tdxsim_request(c, TDXSIM_GUEST_TOKEN, NULL, 0, NULL, 0, a, sizeof a, &n);
  if (rc) return rc;
  if (n != sizeof a) return TDXSIM_E_PROTOCOL;
  memcpy(token, a + 8, TDXSIM_TOKEN_CHARS);
  token[TDXSIM_TOKEN_CHARS] = 0;
  return (int)tdxsim_get32(a);
}

static inline int tdxsim_shared_ept(tdxsim_conn *c, uint64_t root, uint64_t gpa, int op, uint64_t hpa) {
  uint8_t p[32];
  memset(p, 0, sizeof p);
  tdxsim_put64(p, root);
  tdxsim_put64(p + 8, gpa);
  tdxsim_put64(p + 16, hpa);
  p[24] = (uint8_t)op;
  return tdxsim__result_request(c, TDXSIM_SHARED_EPT, p, sizeof p, NULL, 0);
}

/* ---- Guest role (§5) --------------------------------------------------------------------------- */

/* Become the code of vCPU `vcpu_index` of the TD whose boot page names "wire:<token>". */
static inline int tdxsim_attach(tdxsim_conn *c, const char *token, uint32_t vcpu_index) {
  if (strlen(token) != TDXSIM_TOKEN_CHARS) return TDXSIM_E_ARG;
  uint8_t p[TDXSIM_TOKEN_CHARS + 8];
  memset(p, 0, sizeof p);
  memcpy(p, token, TDXSIM_TOKEN_CHARS);
  tdxsim_put32(p + TDXSIM_TOKEN_CHARS, vcpu_index);
  return tdxsim__result_request(c, TDXSIM_ATTACH_GUEST, p, sizeof p, NULL, 0);
}

/* TDCALL: `r` in (RAX = leaf word), `r` out as the vCPU sees it afterwards. */
static inline int tdxsim_tdcall(tdxsim_conn *c, tdxsim_regs *r) {
  uint8_t p[384], a[384];
  tdxsim_put_regs(p, r);
  size_t n = 0;
  int rc = tdxsim_request(c, TDXSIM_TDCALL, p, sizeof p, NULL, 0, a, sizeof a, &n);
  if (rc) return rc;
  if (n != sizeof a) return TDXSIM_E_PROTOCOL;
  tdxsim_get_regs(a, r);
  return 0;
}

/* IN (size 1, 2 or 4): the value read. */
static inline int tdxsim_io_in(tdxsim_conn *c, uint16_t port, uint8_t size, uint64_t *value) {
  uint8_t p[8], a[8];
  memset(p, 0, sizeof p);
  tdxsim_put16(p, port);
  p[2] = size;
  size_t n = 0;
  int rc = tdxsim_request(c, TDXSIM_IO_IN, p, sizeof p, NULL, 0, a, sizeof a, &n);
  if (rc) return rc;
  if (n != sizeof a) return TDXSIM_E_PROTOCOL;
  *value = tdxsim_get64(a);
  return 0;
}

static inline int tdxsim_io_out(tdxsim_conn *c, uint16_t port, uint8_t size, uint64_t value) {
  uint8_t p[16];
  memset(p, 0, sizeof p);
  tdxsim_put16(p, port);
  p[2] = size;
  tdxsim_put64(p + 8, value);
  return tdxsim_request(c, TDXSIM_IO_OUT, p, sizeof p, NULL, 0, NULL, 0, NULL);
}

/* A load of `len` bytes at a GPA (private, or shared with the shared bit set; MMIO included). */
static inline int tdxsim_load(tdxsim_conn *c, uint64_t gpa, void *buf, uint32_t len) {
  if (len == 0 || len > TDXSIM_MAX_MEM_OP) return TDXSIM_E_ARG;
  uint8_t p[16];
  memset(p, 0, sizeof p);
  tdxsim_put64(p, gpa);
  tdxsim_put32(p + 8, len);
  size_t n = 0;
  int rc = tdxsim_request(c, TDXSIM_LOAD, p, sizeof p, NULL, 0, (uint8_t *)buf, len, &n);
  if (rc) return rc;
  return n == len ? 0 : TDXSIM_E_PROTOCOL;
}

static inline int tdxsim_store(tdxsim_conn *c, uint64_t gpa, const void *buf, uint32_t len) {
  if (len == 0 || len > TDXSIM_MAX_MEM_OP) return TDXSIM_E_ARG;
  uint8_t p[16];
  memset(p, 0, sizeof p);
  tdxsim_put64(p, gpa);
  tdxsim_put32(p + 8, len);
  return tdxsim_request(c, TDXSIM_STORE, p, sizeof p, buf, len, NULL, 0, NULL);
}

/* CPUID leaf `eax`, sub-leaf `ecx`: out = {EAX, EBX, ECX, EDX}. */
static inline int tdxsim_cpuid(tdxsim_conn *c, uint32_t eax, uint32_t ecx, uint32_t out[4]) {
  uint8_t p[8], a[16];
  tdxsim_put32(p, eax);
  tdxsim_put32(p + 4, ecx);
  size_t n = 0;
  int rc = tdxsim_request(c, TDXSIM_CPUID, p, sizeof p, NULL, 0, a, sizeof a, &n);
  if (rc) return rc;
  if (n != sizeof a) return TDXSIM_E_PROTOCOL;
  for (int i = 0; i < 4; i++) out[i] = tdxsim_get32(a + 4 * i);
  return 0;
}

static inline int tdxsim_rdmsr(tdxsim_conn *c, uint32_t msr, uint64_t *value) {
  uint8_t p[8], a[8];
  memset(p, 0, sizeof p);
  tdxsim_put32(p, msr);
  size_t n = 0;
  int rc = tdxsim_request(c, TDXSIM_RDMSR, p, sizeof p, NULL, 0, a, sizeof a, &n);
  if (rc) return rc;
  if (n != sizeof a) return TDXSIM_E_PROTOCOL;
  *value = tdxsim_get64(a);
  return 0;
}

static inline int tdxsim_wrmsr(tdxsim_conn *c, uint32_t msr, uint64_t value) {
  uint8_t p[16];
  memset(p, 0, sizeof p);
  tdxsim_put32(p, msr);
  tdxsim_put64(p + 8, value);
  return tdxsim_request(c, TDXSIM_WRMSR, p, sizeof p, NULL, 0, NULL, 0, NULL);
}

/* HLT, VMCALL, WBINVD, STI or CLI (enum tdxsim_insn). */
static inline int tdxsim_insn(tdxsim_conn *c, int insn) {
  uint8_t p[8];
  memset(p, 0, sizeof p);
  p[0] = (uint8_t)insn;
  return tdxsim_request(c, TDXSIM_INSN, p, sizeof p, NULL, 0, NULL, 0, NULL);
}

#endif /* TDXSIM_H */
