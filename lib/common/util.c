/* lib/common/util.c — errors, memory, arenas, buffers, files, logging. */
#include "common/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

/* ---- status / version / dtype ------------------------------------------- */
const char *ev_strerror(ev_status st)
{
    switch (st) {
    case EV_OK: return "ok";
    case EV_ERR_INVALID_ARG: return "invalid argument";
    case EV_ERR_NOMEM: return "out of memory";
    case EV_ERR_IO: return "input/output error";
    case EV_ERR_FORMAT: return "malformed file";
    case EV_ERR_UNSUPPORTED: return "unsupported";
    case EV_ERR_SHAPE: return "shape mismatch";
    case EV_ERR_LIMIT: return "resource limit exceeded";
    case EV_ERR_DATA: return "invalid data";
    case EV_ERR_INTERNAL: return "internal error";
    case EV_ERR_BACKEND: return "backend error";
    case EV_ERR_NOT_FOUND: return "not found";
    case EV_ERR_UNDEFINED: return "undefined";
    }
    return "unknown status";
}

const char *ev_version(void) { return EV_VERSION_STRING; }

size_t ev_dtype_size(ev_dtype dt)
{
    switch (dt) {
    case EV_DT_FLOAT: case EV_DT_INT32: case EV_DT_UINT32: return 4;
    case EV_DT_UINT8: case EV_DT_INT8: case EV_DT_BOOL: return 1;
    case EV_DT_UINT16: case EV_DT_INT16: case EV_DT_FLOAT16: case EV_DT_BFLOAT16: return 2;
    case EV_DT_INT64: case EV_DT_DOUBLE: case EV_DT_UINT64: return 8;
    default: return 0;
    }
}

const char *ev_dtype_name(ev_dtype dt)
{
    switch (dt) {
    case EV_DT_FLOAT: return "float32";
    case EV_DT_UINT8: return "uint8";
    case EV_DT_INT8: return "int8";
    case EV_DT_UINT16: return "uint16";
    case EV_DT_INT16: return "int16";
    case EV_DT_INT32: return "int32";
    case EV_DT_INT64: return "int64";
    case EV_DT_STRING: return "string";
    case EV_DT_BOOL: return "bool";
    case EV_DT_FLOAT16: return "float16";
    case EV_DT_DOUBLE: return "float64";
    case EV_DT_UINT32: return "uint32";
    case EV_DT_UINT64: return "uint64";
    case EV_DT_BFLOAT16: return "bfloat16";
    default: return "?";
    }
}

int64_t ev_tensor_numel(const ev_tensor *t)
{
    int64_t n = 1;
    if (!t || t->rank < 0 || t->rank > EV_MAX_RANK) return -1;
    for (int i = 0; i < t->rank; i++) {
        if (t->dims[i] < 0 || !ev_mul_i64(n, t->dims[i], &n)) return -1;
    }
    return n;
}

/* ---- errors --------------------------------------------------------------- */
ev_status ev_err_set(ev_err *e, ev_status code, const char *fmt, ...)
{
    if (e) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->msg, sizeof e->msg, fmt, ap);
        va_end(ap);
        e->code = code;
    }
    return code;
}

ev_status ev_err_prefix(ev_err *e, const char *fmt, ...)
{
    if (!e) return EV_OK;
    char pre[EV_ERRLEN], joined[2 * EV_ERRLEN + 4];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(pre, sizeof pre, fmt, ap);
    va_end(ap);
    snprintf(joined, sizeof joined, "%s: %s", pre, e->msg);
    memcpy(e->msg, joined, EV_ERRLEN - 1);
    e->msg[EV_ERRLEN - 1] = 0;
    return e->code;
}

void ev_err_clear(ev_err *e)
{
    if (e) { e->code = EV_OK; e->msg[0] = 0; }
}

void ev_err_copy(const ev_err *e, char *buf, size_t len)
{
    if (buf && len) snprintf(buf, len, "%s", e ? e->msg : "");
}

/* ---- memory ------------------------------------------------------------ */
void *ev_malloc_aligned(size_t size)
{
    void *p = NULL;
    size_t rounded;
    if (!ev_add_sz(size, EV_ALIGN - 1, &rounded)) return NULL;
    rounded &= ~(size_t)(EV_ALIGN - 1);
    if (rounded == 0) rounded = EV_ALIGN;
    if (posix_memalign(&p, EV_ALIGN, rounded) != 0) return NULL;
    return p;
}

void *ev_calloc_aligned(size_t size)
{
    void *p = ev_malloc_aligned(size);
    if (p) memset(p, 0, size);
    return p;
}

void ev_free_aligned(void *p) { free(p); }

char *ev_strdup(const char *s)
{
    if (!s) return NULL;
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

struct ev_arena_chunk {
    ev_arena_chunk *next;
    size_t size, used;
    /* data follows, aligned */
};
#define EV_CHUNK_HDR (((sizeof(ev_arena_chunk) + EV_ALIGN - 1) / EV_ALIGN) * EV_ALIGN)
#define EV_CHUNK_MIN ((size_t)1 << 20)

void ev_arena_init(ev_arena *a, size_t limit)
{
    a->head = NULL;
    a->total = 0;
    a->limit = limit;
}

void *ev_arena_alloc(ev_arena *a, size_t size)
{
    size_t need;
    if (!ev_add_sz(size, EV_ALIGN - 1, &need)) return NULL;
    need &= ~(size_t)(EV_ALIGN - 1);
    if (need == 0) need = EV_ALIGN;
    if (a->limit && (need > a->limit || a->total > a->limit - need)) return NULL;
    ev_arena_chunk *c = a->head;
    if (!c || c->size - c->used < need) {
        size_t csize = need > EV_CHUNK_MIN ? need : EV_CHUNK_MIN, total;
        if (!ev_add_sz(csize, EV_CHUNK_HDR, &total)) return NULL;
        c = ev_malloc_aligned(total);
        if (!c) return NULL;
        c->size = csize;
        c->used = 0;
        c->next = a->head;
        a->head = c;
    }
    char *p = (char *)c + EV_CHUNK_HDR + c->used;
    c->used += need;
    a->total += need;
    memset(p, 0, size);
    return p;
}

void *ev_arena_array(ev_arena *a, size_t n, size_t elem)
{
    size_t sz;
    if (!ev_mul_sz(n, elem, &sz)) return NULL;
    return ev_arena_alloc(a, sz);
}

char *ev_arena_strndup(ev_arena *a, const char *s, size_t n)
{
    char *d = ev_arena_alloc(a, n + 1);
    if (d) { memcpy(d, s, n); d[n] = 0; }
    return d;
}

char *ev_arena_strdup(ev_arena *a, const char *s)
{
    return ev_arena_strndup(a, s ? s : "", s ? strlen(s) : 0);
}

void ev_arena_free(ev_arena *a)
{
    if (!a) return;
    ev_arena_chunk *c = a->head;
    while (c) {
        ev_arena_chunk *n = c->next;
        ev_free_aligned(c);
        c = n;
    }
    a->head = NULL;
    a->total = 0;
}

/* ---- buffers ----------------------------------------------------------- */
void ev_buf_init(ev_buf *b, size_t max)
{
    b->data = NULL;
    b->len = b->cap = 0;
    b->max = max ? max : ((size_t)1 << 30);
    b->failed = false;
}

bool ev_buf_append(ev_buf *b, const void *p, size_t n)
{
    if (b->failed) return false;
    size_t need;
    if (!ev_add_sz(b->len, n + 1, &need) || need > b->max) { b->failed = true; return false; }
    if (need > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < need) cap = cap > b->max / 2 ? b->max : cap * 2;
        char *d = realloc(b->data, cap);
        if (!d) { b->failed = true; return false; }
        b->data = d;
        b->cap = cap;
    }
    if (n) memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = 0;
    return true;
}

bool ev_buf_puts(ev_buf *b, const char *s) { return ev_buf_append(b, s, strlen(s)); }

bool ev_buf_printf(ev_buf *b, const char *fmt, ...)
{
    char small[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) { b->failed = true; return false; }
    if ((size_t)n < sizeof small) return ev_buf_append(b, small, (size_t)n);
    char *big = malloc((size_t)n + 1);
    if (!big) { b->failed = true; return false; }
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    bool ok = ev_buf_append(b, big, (size_t)n);
    free(big);
    return ok;
}

void ev_buf_free(ev_buf *b)
{
    if (!b) return;
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

/* ---- files -------------------------------------------------------------- */
ev_status ev_open_file(const char *path, size_t max_bytes, int *fd, struct stat *st, ev_err *e)
{
    *fd = open(path, O_RDONLY | O_CLOEXEC);
    if (*fd < 0) return ev_err_set(e, EV_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    ev_status s = EV_OK;
    if (fstat(*fd, st) != 0) s = ev_err_set(e, EV_ERR_IO, "cannot stat %s: %s", path, strerror(errno));
    else if (S_ISDIR(st->st_mode)) s = ev_err_set(e, EV_ERR_IO, "%s is a directory, expected a file", path);
    else if (st->st_size < 0 || (uint64_t)st->st_size > max_bytes)
        s = ev_err_set(e, EV_ERR_LIMIT, "%s is %lld bytes, over the limit of %zu", path, (long long)st->st_size,
                       max_bytes);
    if (s != EV_OK) {
        close(*fd);
        *fd = -1;
    }
    return s;
}

ev_status ev_read_full(int fd, void *dst, size_t len, size_t *got, const char *path, ev_err *e)
{
    *got = 0;
    while (*got < len) {
        ssize_t r = read(fd, (char *)dst + *got, len - *got);
        if (r < 0) {
            if (errno == EINTR) continue;
            return ev_err_set(e, EV_ERR_IO, "cannot read %s: %s", path, strerror(errno));
        }
        if (r == 0) break; /* the file shrank */
        *got += (size_t)r;
    }
    return EV_OK;
}

ev_status ev_read_file(const char *path, size_t max_bytes, char **out, size_t *len, ev_err *e)
{
    *out = NULL;
    *len = 0;
    int fd;
    struct stat st;
    EV_TRY(ev_open_file(path, max_bytes, &fd, &st, e));
    size_t cap = (size_t)st.st_size, got;
    char *buf = malloc(cap + 1);
    if (!buf) {
        close(fd);
        return ev_err_set(e, EV_ERR_NOMEM, "out of memory reading %s (%zu bytes)", path, cap);
    }
    ev_status s = ev_read_full(fd, buf, cap, &got, path, e); /* a shrunk file: use what we have */
    close(fd);
    if (s != EV_OK) {
        free(buf);
        return s;
    }
    buf[got] = 0;
    *out = buf;
    *len = got;
    return EV_OK;
}

ev_status ev_write_file_atomic(const char *path, const void *data, size_t len, ev_err *e)
{
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 32);
    if (!tmp) return ev_err_set(e, EV_ERR_NOMEM, "out of memory");
    snprintf(tmp, plen + 32, "%s.tmp.%ld", path, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0) {
        ev_status st = ev_err_set(e, EV_ERR_IO, "cannot write %s: %s", path, strerror(errno));
        free(tmp);
        return st;
    }
    const char *p = data;
    size_t left = len;
    while (left) {
        ssize_t w = write(fd, p, left);
        if (w < 0) {
            if (errno == EINTR) continue;
            int er = errno;
            close(fd);
            unlink(tmp);
            free(tmp);
            return ev_err_set(e, EV_ERR_IO, "cannot write %s: %s", path, strerror(er));
        }
        p += w;
        left -= (size_t)w;
    }
    if (fsync(fd) != 0 || close(fd) != 0) {
        int er = errno;
        unlink(tmp);
        free(tmp);
        return ev_err_set(e, EV_ERR_IO, "cannot write %s: %s", path, strerror(er));
    }
    if (rename(tmp, path) != 0) {
        int er = errno;
        unlink(tmp);
        free(tmp);
        return ev_err_set(e, EV_ERR_IO, "cannot rename into %s: %s", path, strerror(er));
    }
    free(tmp);
    return EV_OK;
}

/* ---- logging ------------------------------------------------------------ */
static ev_log_fn g_log_fn;
static void *g_log_user;

void ev_set_log(ev_log_fn fn, void *user)
{
    g_log_fn = fn;
    g_log_user = user;
}

bool ev_log_enabled(void) { return g_log_fn != NULL; }

void ev_log(ev_log_level level, const char *fmt, ...)
{
    if (!g_log_fn) return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    g_log_fn(g_log_user, level, msg);
}

/* ---- memory ---------------------------------------------------------------- */
static int64_t proc_status_kib(const char *key)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return -1;
    char line[256];
    size_t kl = strlen(key);
    int64_t v = -1;
    while (fgets(line, sizeof line, f)) {
        long long kb;
        if (!strncmp(line, key, kl) && line[kl] == ':' && sscanf(line + kl + 1, " %lld", &kb) == 1) {
            v = (int64_t)kb;
            break;
        }
    }
    fclose(f);
    return v;
}

int64_t ev_mem_rss_kib(void) { return proc_status_kib("VmRSS"); }
int64_t ev_mem_peak_kib(void) { return proc_status_kib("VmHWM"); }

void ev_mem_release_freed(void)
{
#if defined(__GLIBC__)
    malloc_trim(0);
#endif
}
