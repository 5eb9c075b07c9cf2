/*
 * lib/common/util.h — internal helpers shared by every subsystem:
 * error records, checked size arithmetic, arenas, a capped growable buffer,
 * internal logging. Not installed.
 */
#ifndef EV_UTIL_H
#define EV_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "embeval/common.h"

#define EV_ERRLEN 512

/* An error record: code + one-line message. Functions that can fail take an
 * `ev_err *` (may be NULL) and return the code. */
typedef struct ev_err {
    ev_status code;
    char msg[EV_ERRLEN];
} ev_err;

#if defined(__GNUC__)
#define EV_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define EV_PRINTF(a, b)
#endif

/* Set e->code and e->msg (printf-style); returns code. e may be NULL. */
ev_status ev_err_set(ev_err *e, ev_status code, const char *fmt, ...) EV_PRINTF(3, 4);
/* Prefix the existing message: "<prefix>: <old message>". */
ev_status ev_err_prefix(ev_err *e, const char *fmt, ...) EV_PRINTF(2, 3);
void ev_err_clear(ev_err *e);

/* Return early if a call fails (the callee already filled the ev_err). */
#define EV_TRY(expr)                                                           \
    do {                                                                       \
        ev_status ev_try_st_ = (expr);                                         \
        if (ev_try_st_ != EV_OK) return ev_try_st_;                            \
    } while (0)

/* Return an error if cond holds. */
#define EV_FAIL_IF(cond, err, code, ...)                                       \
    do {                                                                       \
        if (cond) return ev_err_set((err), (code), __VA_ARGS__);               \
    } while (0)

/* ---- checked arithmetic (return false on overflow) ---------------------- */
static inline bool ev_mul_i64(int64_t a, int64_t b, int64_t *r) { return !__builtin_mul_overflow(a, b, r); }
static inline bool ev_add_i64(int64_t a, int64_t b, int64_t *r) { return !__builtin_add_overflow(a, b, r); }
static inline bool ev_mul_sz(size_t a, size_t b, size_t *r) { return !__builtin_mul_overflow(a, b, r); }
static inline bool ev_add_sz(size_t a, size_t b, size_t *r) { return !__builtin_add_overflow(a, b, r); }

/* ---- memory -------------------------------------------------------------- */
#define EV_ALIGN 64
/* 64-byte aligned allocation (size 0 allowed); free with ev_free_aligned. */
void *ev_malloc_aligned(size_t size);
void *ev_calloc_aligned(size_t size);
void ev_free_aligned(void *p);
char *ev_strdup(const char *s);

/* Arena: bump allocator made of chunks; everything is freed at once.
 * Allocations are 64-byte aligned and zeroed. */
typedef struct ev_arena_chunk ev_arena_chunk;
typedef struct ev_arena {
    ev_arena_chunk *head;
    size_t total;                /* bytes handed out                          */
    size_t limit;                /* 0 = unlimited                             */
} ev_arena;
void ev_arena_init(ev_arena *a, size_t limit);
void *ev_arena_alloc(ev_arena *a, size_t size); /* NULL on failure/limit */
void *ev_arena_array(ev_arena *a, size_t n, size_t elem); /* overflow-checked */
char *ev_arena_strdup(ev_arena *a, const char *s);
char *ev_arena_strndup(ev_arena *a, const char *s, size_t n);
void ev_arena_free(ev_arena *a);

/* Capped growable byte buffer (curl's dynbuf idea). Always NUL-terminated. */
typedef struct ev_buf {
    char *data;
    size_t len, cap, max;        /* max = 0: 1 GiB                            */
    bool failed;                 /* sticky: an append failed (no memory/cap)  */
} ev_buf;
void ev_buf_init(ev_buf *b, size_t max);
bool ev_buf_append(ev_buf *b, const void *p, size_t n);
bool ev_buf_puts(ev_buf *b, const char *s);
bool ev_buf_printf(ev_buf *b, const char *fmt, ...) EV_PRINTF(2, 3);
void ev_buf_free(ev_buf *b);

/* ---- files --------------------------------------------------------------- */
/* Read a whole file (at most max_bytes, else EV_ERR_LIMIT). *out is malloc'd
 * and NUL-terminated (the NUL is not counted in *len). */
ev_status ev_read_file(const char *path, size_t max_bytes, char **out, size_t *len, ev_err *e);
/* Open path read-only and check it before any allocation: not a directory,
 * at most max_bytes (else EV_ERR_LIMIT). On success *fd is open (the caller
 * closes it) and *st holds its fstat. */
ev_status ev_open_file(const char *path, size_t max_bytes, int *fd, struct stat *st, ev_err *e);
/* read() into dst until len bytes or end of file (a file that shrank),
 * retrying on EINTR; *got is the number of bytes read. path: for messages. */
ev_status ev_read_full(int fd, void *dst, size_t len, size_t *got, const char *path, ev_err *e);
/* Write atomically: to "<path>.tmp.<pid>", fsync, rename over path. */
ev_status ev_write_file_atomic(const char *path, const void *data, size_t len, ev_err *e);

/* ---- logging (through the callback set with ev_set_log) ------------------ */
void ev_log(ev_log_level level, const char *fmt, ...) EV_PRINTF(2, 3);
bool ev_log_enabled(void);

/* ---- memory ---------------------------------------------------------------- */
/* Current resident set (VmRSS of /proc/self/status) in KiB, -1 if unknown.
 * For debug logs of where memory goes (load stages). */
int64_t ev_mem_rss_kib(void);
/* Peak resident set so far (VmHWM) in KiB, -1 if unknown. */
int64_t ev_mem_peak_kib(void);
/* Return freed heap memory to the system (malloc_trim where available), so
 * that freed buffers actually leave the resident set. */
void ev_mem_release_freed(void);

/* Copy an ev_err's message into a caller buffer (may be NULL). */
void ev_err_copy(const ev_err *e, char *buf, size_t len);

#endif
