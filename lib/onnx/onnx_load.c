/*
 * lib/onnx/onnx_load.c — ONNX ModelProto -> ev_graph.
 *
 * The file is unpacked with the protobuf-c parser generated at build time
 * from the system onnx.proto; the parse tree is converted into the IR
 * (names -> value indices, initializers copied into the 64-byte aligned graph
 * arena, attributes into ev_attr records) and freed.
 *
 * Everything in the file is hostile: protobuf-c rejects malformed wire data,
 * and this file checks the *meaning*: element counts against dims, ranks,
 * tensor byte limits, external-data paths and ranges, dangling and duplicate
 * names, cycles (Kahn's algorithm; nodes are stored in topological order,
 * file order preserved where possible), opsets, node count.
 *
 * Error messages are one line, name the node/tensor, and end with the file:
 * "<what> (<file>)".
 */
#include "onnx/ir.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "onnx/onnx.pb-c.h"
#include "onnx/weights.h"

#define EV_DEFAULT_MAX_FILE ((int64_t)4 << 30)
#define EV_DEFAULT_MAX_TENSOR ((int64_t)2 << 30)
#define EV_DEFAULT_MAX_NODES 100000
/* Nesting of protobuf messages (ModelProto > GraphProto > NodeProto >
 * AttributeProto > TypeProto > sequence_type > ...). protobuf-c unpacks
 * recursively with no limit of its own: a 1.6 MB file nesting TypeProto
 * 200,000 deep overflowed the stack. Real models nest about 10 deep. */
#define EV_MAX_PB_DEPTH 64
#define EV_MIN_OPSET 7
#define EV_MAX_OPSET 18
#define EV_MAX_NODE_IO 4096      /* inputs/outputs per node */
#define EV_MAX_ATTRS 1024        /* attributes per node */
#define EV_MAX_EXT_FILES 4096

/* ---- a fixed-capacity string -> int map (open addressing) --------------- */
typedef struct strmap {
    const char **keys;
    int *vals;
    size_t cap;                  /* power of two, > 2 * expected entries */
} strmap;

static bool strmap_init(strmap *m, size_t expected)
{
    size_t cap = 16;
    while (cap < expected * 2 + 16) {
        if (cap > SIZE_MAX / 4) return false;
        cap *= 2;
    }
    m->keys = calloc(cap, sizeof *m->keys);
    m->vals = calloc(cap, sizeof *m->vals);
    m->cap = cap;
    return m->keys && m->vals;
}

static void strmap_free(strmap *m)
{
    free(m->keys);
    free(m->vals);
    m->keys = NULL;
    m->vals = NULL;
}

static uint64_t str_hash(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static int strmap_get(const strmap *m, const char *key)
{
    size_t i = (size_t)str_hash(key) & (m->cap - 1);
    while (m->keys[i]) {
        if (!strcmp(m->keys[i], key)) return m->vals[i];
        i = (i + 1) & (m->cap - 1);
    }
    return -1;
}

/* key must outlive the map; the caller guarantees capacity */
static void strmap_put(strmap *m, const char *key, int val)
{
    size_t i = (size_t)str_hash(key) & (m->cap - 1);
    while (m->keys[i]) {
        if (!strcmp(m->keys[i], key)) { m->vals[i] = val; return; }
        i = (i + 1) & (m->cap - 1);
    }
    m->keys[i] = key;
    m->vals[i] = val;
}

/* Parse-tree allocator with a cap: protobuf-c allocates proportionally to
 * the wire data, but repeated packed fields can expand (1 byte varint ->
 * 8 byte int64), so bound the total. Blocks are 64-byte aligned behind a
 * 64-byte header so that large raw_data buffers can be taken over by the
 * graph (see steal_block) instead of copied. */
typedef struct capped_alloc {
    size_t used, cap;
    bool over;
} capped_alloc;

typedef struct block_hdr {
    size_t total;
    void *next;                  /* list of blocks owned by a graph */
} block_hdr;

static void *capped_alloc_fn(void *ud, size_t size)
{
    capped_alloc *c = ud;
    size_t total;
    if (!ev_add_sz(size, EV_ALIGN, &total) || c->used > c->cap || total > c->cap - c->used) {
        c->over = true;
        return NULL;
    }
    void *p = NULL;
    if (posix_memalign(&p, EV_ALIGN, total) != 0) return NULL;
    ((block_hdr *)p)->total = total;
    ((block_hdr *)p)->next = NULL;
    c->used += total;
    return (char *)p + EV_ALIGN;
}

static void capped_free_fn(void *ud, void *ptr)
{
    capped_alloc *c = ud;
    if (!ptr) return;
    block_hdr *h = (block_hdr *)((char *)ptr - EV_ALIGN);
    c->used -= h->total;
    free(h);
}

/* Take over a parse-tree block (allocated by capped_alloc_fn) into *owned. */
static void *steal_block(void **owned, uint8_t **field)
{
    uint8_t *data = *field;
    block_hdr *h = (block_hdr *)(data - EV_ALIGN);
    h->next = *owned;
    *owned = h;
    *field = NULL;
    return data;
}

static void free_blocks(void *list)
{
    while (list) {
        block_hdr *h = list;
        list = h->next;
        free(h);
    }
}


/* Debug log of the resident set after a load stage (where the peak comes from). */
static void log_rss(const char *stage)
{
    if (!ev_log_enabled()) return;
    int64_t kib = ev_mem_rss_kib();
    ev_log(EV_LOG_DEBUG, "memory: %s: VmRSS %.1f MiB (peak %.1f)", stage, (double)kib / 1024.0,
           (double)ev_mem_peak_kib() / 1024.0);
}

/* ---- initializer payloads kept in the file buffer (onnx/weights.h) ------- */
/* A TensorProto's raw_data of at least EV_RAWREF_MIN bytes is cut out of the
 * message before protobuf-c sees it and replaced by this (unknown) varint
 * field holding the payload's index; the tensor then points into the file
 * buffer instead of into a copy. */
#define EV_RAWREF_FIELD 536870000u
#define EV_RAWREF_MIN 4096

typedef struct payload {
    size_t src;                  /* offset of raw_data in the file            */
    size_t len;
    size_t dst;                  /* offset in the mapping after compaction    */
    int placed;                  /* 1: at dst in the mapping, 0: not usable   */
} payload;

typedef struct wentry {
    size_t off, len;             /* payload bytes in the mapping              */
    int64_t foff;                /* ... and in the file                        */
    unsigned char evicted, needed;
} wentry;

/* What a graph owns besides its arena (ev_graph.owned_blocks points here). */
typedef struct ev_gmem {
    void *blocks;                /* parse-tree blocks taken over (steal_block) */
    uint8_t *map;                /* anonymous mapping with the payloads        */
    size_t map_len;
    int fd;                      /* the model file, for restores (-1: none)   */
    off_t f_size;
    struct timespec f_mtime;
    size_t n;
    wentry *e;                   /* sorted by off                              */
    int64_t entry_bytes, evicted_bytes;
    int n_evicted;
} ev_gmem;

static ev_gmem *gmem_new(void)
{
    ev_gmem *m = calloc(1, sizeof *m);
    if (m) m->fd = -1;
    return m;
}

static void gmem_free(ev_gmem *m)
{
    if (!m) return;
    free_blocks(m->blocks);
    if (m->map) munmap(m->map, m->map_len);
    if (m->fd >= 0) close(m->fd);
    free(m->e);
    free(m);
}

static size_t page_size(void)
{
    long ps = sysconf(_SC_PAGESIZE);
    return ps > 0 ? (size_t)ps : 4096;
}

/* The whole pages inside an entry: [*a, *b) relative to the entry. */
static int entry_pages(const ev_gmem *m, const wentry *w, size_t *a, size_t *b)
{
    size_t ps = page_size();
    uintptr_t lo = (uintptr_t)(m->map + w->off), hi = lo + w->len;
    uintptr_t plo = (lo + ps - 1) / ps * ps, phi = hi / ps * ps;
    if (phi <= plo) return 0;
    *a = (size_t)(plo - lo);
    *b = (size_t)(phi - lo);
    return 1;
}

static wentry *gmem_find(const ev_graph *g, const void *data)
{
    ev_gmem *m = g ? g->owned_blocks : NULL;
    if (!m || !m->n || !data) return NULL;
    const uint8_t *p = data;
    if (p < m->map || p >= m->map + m->map_len) return NULL;
    size_t off = (size_t)(p - m->map), lo = 0, hi = m->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (m->e[mid].off < off) lo = mid + 1;
        else hi = mid;
    }
    return lo < m->n && m->e[lo].off == off ? &m->e[lo] : NULL;
}

int ev_graph_const_is_entry(const ev_graph *g, const void *data)
{
    return gmem_find(g, data) != NULL;
}

int ev_graph_const_is_evicted(const ev_graph *g, const void *data)
{
    const wentry *w = gmem_find(g, data);
    return w && w->evicted;
}

int ev_graph_const_release(const ev_graph *g, const void *data)
{
    wentry *w = gmem_find(g, data);
    if (!w || w->evicted || w->needed) return 0;
    ev_gmem *m = g->owned_blocks;
    size_t a = 0, b = 0;
    if (m->fd < 0 || !entry_pages(m, w, &a, &b)) return 0;
    if (madvise(m->map + w->off + a, b - a, MADV_DONTNEED) != 0) return 0;
    w->evicted = 1;
    m->n_evicted++;
    m->evicted_bytes += (int64_t)(b - a);
    return 1;
}

static ev_status entry_restore(const ev_graph *g, wentry *w, ev_err *err)
{
    ev_gmem *m = g->owned_blocks;
    if (!w->evicted) return EV_OK;
    size_t a = 0, b = 0;
    entry_pages(m, w, &a, &b);
    struct stat st;
    if (fstat(m->fd, &st) != 0 || st.st_size != m->f_size ||
        st.st_mtim.tv_sec != m->f_mtime.tv_sec || st.st_mtim.tv_nsec != m->f_mtime.tv_nsec)
        return ev_err_set(err, EV_ERR_IO,
                          "the model file changed after it was loaded: cannot read its weights "
                          "again; load the model again");
    size_t got = 0, want = b - a;
    while (got < want) {
        ssize_t r = pread(m->fd, m->map + w->off + a + got, want - got,
                          (off_t)(w->foff + (int64_t)a + (int64_t)got));
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0)
            return ev_err_set(err, EV_ERR_IO, "cannot read the model's weights again: %s",
                              r < 0 ? strerror(errno) : "file truncated");
        got += (size_t)r;
    }
    w->evicted = 0;
    m->n_evicted--;
    m->evicted_bytes -= (int64_t)want;
    return EV_OK;
}

ev_status ev_graph_const_restore(const ev_graph *g, const void *data, ev_err *err)
{
    wentry *w = gmem_find(g, data);
    return w ? entry_restore(g, w, err) : EV_OK;
}

ev_status ev_graph_const_restore_all(const ev_graph *g, ev_err *err)
{
    ev_gmem *m = g ? g->owned_blocks : NULL;
    if (!m || !m->n_evicted) return EV_OK;
    for (size_t i = 0; i < m->n; i++) EV_TRY(entry_restore(g, &m->e[i], err));
    return EV_OK;
}

ev_status ev_graph_const_need(const ev_graph *g, const void *data, ev_err *err)
{
    wentry *w = gmem_find(g, data);
    if (!w) return EV_OK;
    EV_TRY(entry_restore(g, w, err));
    w->needed = 1;
    return EV_OK;
}

void ev_graph_const_stats_get(const ev_graph *g, ev_graph_const_stats *out)
{
    memset(out, 0, sizeof *out);
    ev_gmem *m = g ? g->owned_blocks : NULL;
    if (!m) return;
    out->n_entries = (int)m->n;
    out->n_evicted = m->n_evicted;
    out->entry_bytes = m->entry_bytes;
    out->evicted_bytes = m->evicted_bytes;
}

static int pb_varint(const uint8_t **p, const uint8_t *end, uint64_t *v);

/* ---- tensor conversion ---------------------------------------------------- */
typedef struct tensor_env {
    ev_arena *arena;
    int64_t max_tensor_bytes;
    const char *base_dir;        /* NULL: external data refused */
    ev_err *err;
    void **owned;                /* non-NULL: raw_data blocks of the parse
                                    tree (capped_alloc_fn) may be taken over */
    /* file loads: payloads cut out of the messages (EV_RAWREF_FIELD) */
    const uint8_t *pbase;        /* the mapping                               */
    const payload *pl;
    size_t n_pl;
    /* distinct external files, for the size total */
    char **ext_names;
    int n_ext;
    int64_t ext_bytes;
} tensor_env;

static bool is_default_domain(const char *d)
{
    return !d || !d[0] || !strcmp(d, "ai.onnx");
}

static bool dtype_storable(int32_t dt)
{
    switch (dt) {
    case EV_DT_FLOAT: case EV_DT_UINT8: case EV_DT_INT8: case EV_DT_UINT16:
    case EV_DT_INT16: case EV_DT_INT32: case EV_DT_INT64: case EV_DT_BOOL:
    case EV_DT_FLOAT16: case EV_DT_DOUBLE: case EV_DT_UINT32: case EV_DT_UINT64:
    case EV_DT_BFLOAT16:
        return true;
    default:
        return false;
    }
}

static const char *onnx_dtype_name(int32_t dt)
{
    switch (dt) {
    case 8: return "string";
    case 14: return "complex64";
    case 15: return "complex128";
    default: return ev_dtype_name((ev_dtype)dt);
    }
}

/* Strict non-negative decimal. */
static bool parse_u63(const char *s, int64_t *out)
{
    if (!s || !*s) return false;
    int64_t v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9') return false;
        if (!ev_mul_i64(v, 10, &v) || !ev_add_i64(v, *s - '0', &v)) return false;
    }
    *out = v;
    return true;
}

static bool path_is_safe(const char *loc)
{
    if (!loc || !loc[0] || loc[0] == '/' || loc[0] == '\\') return false;
    if (strchr(loc, ':') && (loc[1] == ':')) return false; /* C:\ style */
    const char *p = loc;
    while (*p) {
        const char *q = p;
        while (*q && *q != '/' && *q != '\\') q++;
        if (q - p == 2 && p[0] == '.' && p[1] == '.') return false;
        p = *q ? q + 1 : q;
    }
    return true;
}

static ev_status read_external(tensor_env *E, const Onnx__TensorProto *tp, const char *what,
                               size_t bytes, void *dst)
{
    const char *loc = NULL;
    int64_t offset = 0, length = -1;
    for (size_t i = 0; i < tp->n_external_data; i++) {
        const Onnx__StringStringEntryProto *kv = tp->external_data[i];
        if (!kv || !kv->key) continue;
        const char *v = kv->value ? kv->value : "";
        if (!strcmp(kv->key, "location")) loc = v;
        else if (!strcmp(kv->key, "offset")) {
            if (!parse_u63(v, &offset))
                return ev_err_set(E->err, EV_ERR_FORMAT, "%s: bad external data offset '%.40s'",
                                  what, v);
        } else if (!strcmp(kv->key, "length")) {
            if (!parse_u63(v, &length))
                return ev_err_set(E->err, EV_ERR_FORMAT, "%s: bad external data length '%.40s'",
                                  what, v);
        }
    }
    if (!loc || !loc[0])
        return ev_err_set(E->err, EV_ERR_FORMAT, "%s: external data without a location", what);
    if (!path_is_safe(loc))
        return ev_err_set(E->err, EV_ERR_FORMAT,
                          "%s: external data location '%.200s' must be a relative path "
                          "inside the model directory",
                          what, loc);
    if (!E->base_dir)
        return ev_err_set(E->err, EV_ERR_UNSUPPORTED,
                          "%s: external data '%.200s' cannot be read (model not loaded from a file)",
                          what, loc);
    if (length >= 0 && (uint64_t)length != bytes)
        return ev_err_set(E->err, EV_ERR_FORMAT,
                          "%s: external data length %lld does not match the %zu bytes of its shape",
                          what, (long long)length, bytes);
    size_t plen = strlen(E->base_dir) + strlen(loc) + 2;
    char *path = malloc(plen);
    if (!path) return ev_err_set(E->err, EV_ERR_NOMEM, "out of memory");
    snprintf(path, plen, "%s/%s", E->base_dir, loc);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int er = errno;
        ev_status st = ev_err_set(E->err, EV_ERR_IO, "%s: cannot open external data %s: %s", what,
                                  path, strerror(er));
        free(path);
        return st;
    }
    struct stat st;
    ev_status rc = EV_OK;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        rc = ev_err_set(E->err, EV_ERR_IO, "%s: external data %s is not a regular file", what, path);
        goto out;
    }
    if (offset > (int64_t)st.st_size || (uint64_t)(st.st_size - offset) < bytes) {
        rc = ev_err_set(E->err, EV_ERR_FORMAT,
                        "%s: external data range [%lld, +%zu) is outside %s (%lld bytes)", what,
                        (long long)offset, bytes, path, (long long)st.st_size);
        goto out;
    }
    size_t got = 0;
    while (got < bytes) {
        ssize_t r = pread(fd, (char *)dst + got, bytes - got, (off_t)(offset + (int64_t)got));
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            rc = ev_err_set(E->err, EV_ERR_IO, "%s: short read from external data %s", what, path);
            goto out;
        }
        got += (size_t)r;
    }
    /* account each distinct file once in the model size */
    bool seen = false;
    for (int i = 0; i < E->n_ext; i++)
        if (!strcmp(E->ext_names[i], loc)) { seen = true; break; }
    if (!seen && E->n_ext < EV_MAX_EXT_FILES) {
        char **nn = realloc(E->ext_names, sizeof *nn * (size_t)(E->n_ext + 1));
        char *dup = ev_strdup(loc);
        if (nn) E->ext_names = nn;
        if (!nn || !dup) {
            free(dup);
            rc = ev_err_set(E->err, EV_ERR_NOMEM, "out of memory");
            goto out;
        }
        E->ext_names[E->n_ext++] = dup;
        E->ext_bytes += (int64_t)st.st_size;
    }
out:
    close(fd);
    free(path);
    return rc;
}

static void describe_shape(const Onnx__TensorProto *tp, char *buf, size_t len)
{
    size_t o = 0;
    o += (size_t)snprintf(buf + o, len - o, "[");
    for (size_t i = 0; i < tp->n_dims && o < len; i++)
        o += (size_t)snprintf(buf + o, len - o, "%s%lld", i ? "," : "", (long long)tp->dims[i]);
    if (o < len) snprintf(buf + o, len - o, "]");
}

/* Convert a TensorProto into *out with data in E->arena. `what` names it. */
static ev_status tensor_from_proto(tensor_env *E, const Onnx__TensorProto *tp, const char *what,
                                   ev_tensor *out)
{
    memset(out, 0, sizeof *out);
    if (!tp) return ev_err_set(E->err, EV_ERR_FORMAT, "%s: missing tensor", what);
    int32_t dt = tp->has_data_type ? tp->data_type : 0;
    if (dt == 0) return ev_err_set(E->err, EV_ERR_FORMAT, "%s: tensor has no data type", what);
    if (!dtype_storable(dt))
        return ev_err_set(E->err, EV_ERR_UNSUPPORTED, "%s: tensor type %s (%d) is not supported",
                          what, onnx_dtype_name(dt), (int)dt);
    if (tp->segment)
        return ev_err_set(E->err, EV_ERR_UNSUPPORTED, "%s: segmented tensors are not supported",
                          what);
    if (tp->n_dims > EV_MAX_RANK)
        return ev_err_set(E->err, EV_ERR_LIMIT, "%s: rank %zu exceeds the maximum of %d", what,
                          tp->n_dims, EV_MAX_RANK);
    out->dtype = (ev_dtype)dt;
    out->rank = (int)tp->n_dims;
    int64_t numel = 1;
    for (size_t i = 0; i < tp->n_dims; i++) {
        if (tp->dims[i] < 0)
            return ev_err_set(E->err, EV_ERR_FORMAT, "%s: negative dimension %lld", what,
                              (long long)tp->dims[i]);
        out->dims[i] = tp->dims[i];
        if (!ev_mul_i64(numel, tp->dims[i], &numel))
            return ev_err_set(E->err, EV_ERR_LIMIT, "%s: element count overflows", what);
    }
    size_t esz = ev_dtype_size(out->dtype);
    int64_t bytes64;
    if (!ev_mul_i64(numel, (int64_t)esz, &bytes64) || bytes64 > E->max_tensor_bytes) {
        char shp[128];
        describe_shape(tp, shp, sizeof shp);
        return ev_err_set(E->err, EV_ERR_LIMIT,
                          "%s: tensor %s of %s exceeds the per-tensor limit of %lld bytes", what,
                          shp, ev_dtype_name(out->dtype), (long long)E->max_tensor_bytes);
    }
    size_t bytes = (size_t)bytes64;
    bool external = tp->has_data_location &&
                    tp->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
    const payload *ref = NULL;
    for (size_t i = 0; E->pl && i < tp->base.n_unknown_fields; i++) {
        const ProtobufCMessageUnknownField *u = &tp->base.unknown_fields[i];
        if (u->tag != EV_RAWREF_FIELD || u->wire_type != PROTOBUF_C_WIRE_TYPE_VARINT) continue;
        const uint8_t *q = u->data;
        uint64_t idx;
        if (!u->data || !pb_varint(&q, u->data + u->len, &idx) || idx >= E->n_pl)
            return ev_err_set(E->err, EV_ERR_INTERNAL, "%s: bad payload reference", what);
        ref = &E->pl[idx];
    }
    if (ref && !external) {
        if (ref->len != bytes) {
            char shp[128];
            describe_shape(tp, shp, sizeof shp);
            return ev_err_set(E->err, EV_ERR_FORMAT,
                              "%s: raw_data has %zu bytes, expected %zu for %s %s", what, ref->len,
                              bytes, ev_dtype_name(out->dtype), shp);
        }
        const uint8_t *src = E->pbase + (ref->placed ? ref->dst : ref->src);
        if (ref->placed && out->dtype != EV_DT_BOOL) {
            out->data = (void *)src; /* in the mapping, 64-byte aligned */
            return EV_OK;
        }
        uint8_t *d = ev_arena_alloc(E->arena, bytes ? bytes : 1);
        if (!d) return ev_err_set(E->err, EV_ERR_NOMEM, "%s: out of memory (%zu bytes)", what, bytes);
        memcpy(d, src, bytes);
        if (out->dtype == EV_DT_BOOL)
            for (size_t i = 0; i < bytes; i++) d[i] = d[i] != 0;
        out->data = d;
        return EV_OK;
    }
    if (!external && E->owned && tp->has_raw_data && tp->raw_data.len == bytes &&
        bytes >= 4096 && tp->raw_data.data && out->dtype != EV_DT_BOOL) {
        /* large weights: keep the parse tree's buffer instead of copying */
        out->data = steal_block(E->owned, &((Onnx__TensorProto *)tp)->raw_data.data);
        ((Onnx__TensorProto *)tp)->raw_data.len = 0;
        return EV_OK;
    }
    void *dst = ev_arena_alloc(E->arena, bytes ? bytes : 1);
    if (!dst) return ev_err_set(E->err, EV_ERR_NOMEM, "%s: out of memory (%zu bytes)", what, bytes);
    out->data = dst;

    if (external) return read_external(E, tp, what, bytes, dst);

    if (tp->has_raw_data) {
        if (tp->raw_data.len != bytes) {
            char shp[128];
            describe_shape(tp, shp, sizeof shp);
            return ev_err_set(E->err, EV_ERR_FORMAT,
                              "%s: raw_data has %zu bytes, expected %zu for %s %s", what,
                              tp->raw_data.len, bytes, ev_dtype_name(out->dtype), shp);
        }
        if (bytes) memcpy(dst, tp->raw_data.data, bytes);
        if (out->dtype == EV_DT_BOOL)
            for (size_t i = 0; i < bytes; i++) ((uint8_t *)dst)[i] = ((uint8_t *)dst)[i] != 0;
        return EV_OK;
    }

    /* typed fields */
    size_t have = 0;
    const char *field = "";
    switch (out->dtype) {
    case EV_DT_FLOAT: have = tp->n_float_data; field = "float_data"; break;
    case EV_DT_DOUBLE: have = tp->n_double_data; field = "double_data"; break;
    case EV_DT_INT64: have = tp->n_int64_data; field = "int64_data"; break;
    case EV_DT_UINT32: case EV_DT_UINT64: have = tp->n_uint64_data; field = "uint64_data"; break;
    default: have = tp->n_int32_data; field = "int32_data"; break;
    }
    if (have != (size_t)numel) {
        char shp[128];
        describe_shape(tp, shp, sizeof shp);
        if (have == 0)
            return ev_err_set(E->err, EV_ERR_FORMAT, "%s: no data for %s %s (%lld elements)", what,
                              ev_dtype_name(out->dtype), shp, (long long)numel);
        return ev_err_set(E->err, EV_ERR_FORMAT, "%s: %s has %zu elements, expected %lld for %s",
                          what, field, have, (long long)numel, shp);
    }
    size_t n = (size_t)numel;
    switch (out->dtype) {
    case EV_DT_FLOAT: if (n) memcpy(dst, tp->float_data, n * 4); break;
    case EV_DT_DOUBLE: if (n) memcpy(dst, tp->double_data, n * 8); break;
    case EV_DT_INT64: if (n) memcpy(dst, tp->int64_data, n * 8); break;
    case EV_DT_UINT64: if (n) memcpy(dst, tp->uint64_data, n * 8); break;
    case EV_DT_UINT32:
        for (size_t i = 0; i < n; i++) ((uint32_t *)dst)[i] = (uint32_t)tp->uint64_data[i];
        break;
    case EV_DT_INT32: if (n) memcpy(dst, tp->int32_data, n * 4); break;
    case EV_DT_BOOL:
        for (size_t i = 0; i < n; i++) ((uint8_t *)dst)[i] = tp->int32_data[i] != 0;
        break;
    case EV_DT_UINT8: case EV_DT_INT8:
        for (size_t i = 0; i < n; i++) ((uint8_t *)dst)[i] = (uint8_t)tp->int32_data[i];
        break;
    default: /* 16-bit types: low 16 bits of each int32 */
        for (size_t i = 0; i < n; i++) ((uint16_t *)dst)[i] = (uint16_t)tp->int32_data[i];
        break;
    }
    return EV_OK;
}

/* ---- the loader ------------------------------------------------------------ */
typedef struct opset_entry {
    const char *domain;
    int64_t version;
} opset_entry;

typedef struct loader {
    ev_graph *g;
    ev_err *err;
    ev_load_opts o;
    tensor_env tenv;
    strmap names;                /* value name -> value index */
    int max_values;
    opset_entry *opsets;
    size_t n_opsets;
    int64_t default_opset;       /* -1 = not imported */
} loader;

static ev_status decl_from_type(loader *L, const Onnx__TypeProto *tp, const char *what,
                                ev_tensor *decl)
{
    memset(decl, 0, sizeof *decl);
    decl->rank = -1;
    if (!tp || tp->value_case == ONNX__TYPE_PROTO__VALUE__NOT_SET) return EV_OK; /* unknown */
    if (tp->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !tp->tensor_type)
        return ev_err_set(L->err, EV_ERR_UNSUPPORTED,
                          "%s is not a tensor (sequence/map/optional/sparse values are not "
                          "supported)",
                          what);
    const Onnx__TypeProto__Tensor *tt = tp->tensor_type;
    if (tt->has_elem_type && tt->elem_type != 0) {
        if (!dtype_storable(tt->elem_type))
            return ev_err_set(L->err, EV_ERR_UNSUPPORTED, "%s has element type %s (%d), not supported",
                              what, onnx_dtype_name(tt->elem_type), (int)tt->elem_type);
        decl->dtype = (ev_dtype)tt->elem_type;
    }
    if (!tt->shape) return EV_OK;
    if (tt->shape->n_dim > EV_MAX_RANK)
        return ev_err_set(L->err, EV_ERR_LIMIT, "%s has rank %zu, over the maximum of %d", what,
                          tt->shape->n_dim, EV_MAX_RANK);
    decl->rank = (int)tt->shape->n_dim;
    for (size_t i = 0; i < tt->shape->n_dim; i++) {
        const Onnx__TensorShapeProto__Dimension *d = tt->shape->dim[i];
        decl->dims[i] = -1;
        if (d && d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE &&
            d->dim_value >= 0)
            decl->dims[i] = d->dim_value;
    }
    return EV_OK;
}

static int new_value(loader *L, const char *name, ev_value_kind kind)
{
    ev_graph *g = L->g;
    if (g->n_values >= L->max_values) return -1;
    int v = g->n_values++;
    ev_value *val = &g->values[v];
    val->name = ev_arena_strdup(&g->arena, name);
    if (!val->name) return -1;
    val->kind = kind;
    val->decl.rank = -1;
    val->producer = -1;
    strmap_put(&L->names, val->name, v);
    return v;
}

static const char *node_desc(const Onnx__NodeProto *np, size_t idx, char *buf, size_t len)
{
    const char *op = np->op_type && np->op_type[0] ? np->op_type : "?";
    if (np->name && np->name[0]) snprintf(buf, len, "node '%.120s' (%.60s)", np->name, op);
    else snprintf(buf, len, "node '%.60s#%zu' (%.60s)", op, idx, op);
    return buf;
}

static ev_status convert_attr(loader *L, const Onnx__AttributeProto *ap, const char *nd,
                              bool op_known, ev_attr *a)
{
    ev_arena *A = &L->g->arena;
    if (!ap || !ap->name || !ap->name[0])
        return ev_err_set(L->err, EV_ERR_FORMAT, "%s: attribute without a name", nd);
    a->name = ev_arena_strdup(A, ap->name);
    if (!a->name) return ev_err_set(L->err, EV_ERR_NOMEM, "out of memory");
    int type = ap->has_type ? (int)ap->type : 0;
    if (type == 0) { /* IR < 3 files: infer from the populated field */
        if (ap->g || ap->n_graphs) type = EV_ATTR_GRAPH;
        else if (ap->t) type = EV_ATTR_TENSOR;
        else if (ap->has_f) type = EV_ATTR_FLOAT;
        else if (ap->has_i) type = EV_ATTR_INT;
        else if (ap->has_s) type = EV_ATTR_STRING;
        else if (ap->n_floats) type = EV_ATTR_FLOATS;
        else if (ap->n_ints) type = EV_ATTR_INTS;
        else if (ap->n_strings) type = EV_ATTR_STRINGS;
    }
    switch (type) {
    case EV_ATTR_FLOAT: a->type = EV_ATTR_FLOAT; a->f = ap->f; return EV_OK;
    case EV_ATTR_INT: a->type = EV_ATTR_INT; a->i = ap->i; return EV_OK;
    case EV_ATTR_STRING:
        a->type = EV_ATTR_STRING;
        a->s = ev_arena_strndup(A, ap->s.data ? (const char *)ap->s.data : "",
                                ap->s.data ? ap->s.len : 0);
        if (!a->s) return ev_err_set(L->err, EV_ERR_NOMEM, "out of memory");
        return EV_OK;
    case EV_ATTR_FLOATS: {
        a->type = EV_ATTR_FLOATS;
        a->n = (int64_t)ap->n_floats;
        float *f = ev_arena_array(A, ap->n_floats ? ap->n_floats : 1, sizeof *f);
        if (!f) return ev_err_set(L->err, EV_ERR_NOMEM, "out of memory");
        if (ap->n_floats) memcpy(f, ap->floats, ap->n_floats * sizeof *f);
        a->floats = f;
        return EV_OK;
    }
    case EV_ATTR_INTS: {
        a->type = EV_ATTR_INTS;
        a->n = (int64_t)ap->n_ints;
        int64_t *v = ev_arena_array(A, ap->n_ints ? ap->n_ints : 1, sizeof *v);
        if (!v) return ev_err_set(L->err, EV_ERR_NOMEM, "out of memory");
        if (ap->n_ints) memcpy(v, ap->ints, ap->n_ints * sizeof *v);
        a->ints = v;
        return EV_OK;
    }
    case EV_ATTR_STRINGS: {
        a->type = EV_ATTR_STRINGS;
        a->n = (int64_t)ap->n_strings;
        char **s = ev_arena_array(A, ap->n_strings ? ap->n_strings : 1, sizeof *s);
        if (!s) return ev_err_set(L->err, EV_ERR_NOMEM, "out of memory");
        for (size_t i = 0; i < ap->n_strings; i++) {
            s[i] = ev_arena_strndup(A, ap->strings[i].data ? (const char *)ap->strings[i].data : "",
                                    ap->strings[i].data ? ap->strings[i].len : 0);
            if (!s[i]) return ev_err_set(L->err, EV_ERR_NOMEM, "out of memory");
        }
        a->strings = (const char *const *)s;
        return EV_OK;
    }
    case EV_ATTR_TENSOR: {
        char what[400];
        snprintf(what, sizeof what, "%s: attribute '%.60s'", nd, ap->name);
        a->type = EV_ATTR_TENSOR;
        return tensor_from_proto(&L->tenv, ap->t, what, &a->t);
    }
    default:
        break;
    }
    a->type = EV_ATTR_UNDEFINED;
    if (!op_known) return EV_OK; /* an unsupported node kept for inspection */
    if (type == EV_ATTR_GRAPH || type == 10 /* GRAPHS */)
        return ev_err_set(L->err, EV_ERR_UNSUPPORTED,
                          "%s: subgraph attribute '%.60s' is not supported", nd, ap->name);
    return ev_err_set(L->err, EV_ERR_UNSUPPORTED, "%s: attribute '%.60s' of type %d is not supported",
                      nd, ap->name, type);
}

/* Constant node -> CONST value. */
static ev_status convert_constant(loader *L, const Onnx__NodeProto *np, const char *nd, int v)
{
    ev_value *val = &L->g->values[v];
    const Onnx__AttributeProto *src = NULL;
    int nsrc = 0;
    for (size_t i = 0; i < np->n_attribute; i++) {
        const Onnx__AttributeProto *ap = np->attribute[i];
        if (!ap || !ap->name) continue;
        if (!strncmp(ap->name, "value", 5)) { src = ap; nsrc++; }
    }
    if (nsrc != 1)
        return ev_err_set(L->err, EV_ERR_FORMAT,
                          "%s: a Constant needs exactly one value attribute, found %d", nd, nsrc);
    ev_tensor *t = &val->decl;
    memset(t, 0, sizeof *t);
    ev_arena *A = &L->g->arena;
    const char *an = src->name;
    if (!strcmp(an, "value")) {
        char what[400];
        snprintf(what, sizeof what, "%s: attribute 'value'", nd);
        EV_TRY(tensor_from_proto(&L->tenv, src->t, what, t));
    } else if (!strcmp(an, "value_float") || !strcmp(an, "value_int")) {
        bool isf = an[6] == 'f';
        t->dtype = isf ? EV_DT_FLOAT : EV_DT_INT64;
        t->rank = 0;
        t->data = ev_arena_alloc(A, 8);
        if (!t->data) return ev_err_set(L->err, EV_ERR_NOMEM, "out of memory");
        if (isf) *(float *)t->data = src->f;
        else *(int64_t *)t->data = src->i;
    } else if (!strcmp(an, "value_floats") || !strcmp(an, "value_ints")) {
        bool isf = an[6] == 'f';
        size_t n = isf ? src->n_floats : src->n_ints;
        t->dtype = isf ? EV_DT_FLOAT : EV_DT_INT64;
        t->rank = 1;
        t->dims[0] = (int64_t)n;
        t->data = ev_arena_array(A, n ? n : 1, 8);
        if (!t->data) return ev_err_set(L->err, EV_ERR_NOMEM, "out of memory");
        if (n) memcpy(t->data, isf ? (const void *)src->floats : (const void *)src->ints,
                      n * (isf ? 4 : 8));
    } else {
        return ev_err_set(L->err, EV_ERR_UNSUPPORTED, "%s: Constant attribute '%.40s' is not supported",
                          nd, an);
    }
    val->kind = EV_VAL_CONST;
    return EV_OK;
}

static ev_status resolve_opsets(loader *L, const Onnx__ModelProto *mp)
{
    L->default_opset = -1;
    L->n_opsets = mp->n_opset_import;
    L->opsets = calloc(L->n_opsets ? L->n_opsets : 1, sizeof *L->opsets);
    if (!L->opsets) return ev_err_set(L->err, EV_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < mp->n_opset_import; i++) {
        const Onnx__OperatorSetIdProto *os = mp->opset_import[i];
        if (!os) continue;
        L->opsets[i].domain = os->domain ? os->domain : "";
        L->opsets[i].version = os->has_version ? os->version : 0;
        if (is_default_domain(os->domain)) L->default_opset = L->opsets[i].version;
    }
    L->g->opset = L->default_opset;
    if (L->default_opset < 0)
        return ev_err_set(L->err, EV_ERR_UNSUPPORTED,
                          "model imports no opset of the default ONNX domain (opsets %d..%d "
                          "are supported)",
                          EV_MIN_OPSET, EV_MAX_OPSET);
    if ((L->default_opset < EV_MIN_OPSET || L->default_opset > EV_MAX_OPSET) &&
        !L->o.allow_unsupported)
        return ev_err_set(L->err, EV_ERR_UNSUPPORTED,
                          "opset %lld of the default domain is not supported (opsets %d..%d are)",
                          (long long)L->default_opset, EV_MIN_OPSET, EV_MAX_OPSET);
    return EV_OK;
}

static int64_t domain_opset(const loader *L, const char *domain)
{
    if (is_default_domain(domain)) return L->default_opset;
    for (size_t i = 0; i < L->n_opsets; i++)
        if (L->opsets[i].domain && !strcmp(L->opsets[i].domain, domain)) return L->opsets[i].version;
    return -1;
}

/* Histogram entry for (domain, op_type). */
typedef struct hist_builder {
    strmap map;
    ev_op_hist *items;
    int n;
} hist_builder;

static ev_status hist_add(loader *L, hist_builder *H, const char *domain, const char *op_type,
                          int64_t opset, bool supported)
{
    char key[512];
    snprintf(key, sizeof key, "%s\x1f%s", domain, op_type);
    int i = strmap_get(&H->map, key);
    if (i < 0) {
        i = H->n++;
        ev_op_hist *h = &H->items[i];
        h->op_type = ev_arena_strdup(&L->g->arena, op_type);
        h->domain = ev_arena_strdup(&L->g->arena, domain);
        char *k = ev_arena_strdup(&L->g->arena, key);
        if (!h->op_type || !h->domain || !k) return ev_err_set(L->err, EV_ERR_NOMEM, "out of memory");
        h->opset = opset;
        h->supported = supported;
        strmap_put(&H->map, k, i);
        if (!supported) L->g->n_unsupported++;
    }
    H->items[i].count++;
    return EV_OK;
}

/* min-heap of node indices (Kahn's algorithm preserving file order) */
static void heap_push(int *h, int *n, int v)
{
    int i = (*n)++;
    h[i] = v;
    while (i > 0) {
        int p = (i - 1) / 2;
        if (h[p] <= h[i]) break;
        int t = h[p]; h[p] = h[i]; h[i] = t;
        i = p;
    }
}

static int heap_pop(int *h, int *n)
{
    int top = h[0];
    h[0] = h[--(*n)];
    int i = 0;
    for (;;) {
        int l = 2 * i + 1, r = l + 1, m = i;
        if (l < *n && h[l] < h[m]) m = l;
        if (r < *n && h[r] < h[m]) m = r;
        if (m == i) break;
        int t = h[m]; h[m] = h[i]; h[i] = t;
        i = m;
    }
    return top;
}

/* Sort g->nodes[0..n) topologically; fail with the name of a node on a
 * cycle. */
static ev_status topo_sort(loader *L)
{
    ev_graph *g = L->g;
    int n = g->n_nodes, nv = g->n_values;
    ev_status rc = EV_OK;
    int *indeg = calloc((size_t)n + 1, sizeof *indeg);
    int *cstart = calloc((size_t)nv + 1, sizeof *cstart);
    int *order = malloc(((size_t)n + 1) * sizeof *order);
    int *heap = malloc(((size_t)n + 1) * sizeof *heap);
    int *cons = NULL;
    size_t n_edges = 0;
    if (!indeg || !cstart || !order || !heap) { rc = ev_err_set(L->err, EV_ERR_NOMEM, "out of memory"); goto out; }
    for (int i = 0; i < n; i++)
        for (int k = 0; k < g->nodes[i].n_in; k++) {
            int v = g->nodes[i].in[k];
            if (v < 0 || g->values[v].producer < 0) continue;
            indeg[i]++;
            cstart[v + 1]++;
            n_edges++;
        }
    for (int v = 0; v < nv; v++) cstart[v + 1] += cstart[v];
    cons = malloc((n_edges + 1) * sizeof *cons);
    int *fill = calloc((size_t)nv + 1, sizeof *fill);
    if (!cons || !fill) { free(fill); rc = ev_err_set(L->err, EV_ERR_NOMEM, "out of memory"); goto out; }
    for (int i = 0; i < n; i++)
        for (int k = 0; k < g->nodes[i].n_in; k++) {
            int v = g->nodes[i].in[k];
            if (v < 0 || g->values[v].producer < 0) continue;
            cons[cstart[v] + fill[v]++] = i;
        }
    free(fill);
    int hn = 0, done = 0;
    for (int i = 0; i < n; i++)
        if (indeg[i] == 0) heap_push(heap, &hn, i);
    while (hn > 0) {
        int u = heap_pop(heap, &hn);
        order[done++] = u;
        for (int k = 0; k < g->nodes[u].n_out; k++) {
            int v = g->nodes[u].out[k];
            if (v < 0) continue;
            for (int c = cstart[v]; c < cstart[v + 1]; c++)
                if (--indeg[cons[c]] == 0) heap_push(heap, &hn, cons[c]);
        }
    }
    if (done < n) {
        /* walk backwards through unfinished producers: after n steps we are
         * on a cycle */
        int u = -1;
        for (int i = 0; i < n && u < 0; i++)
            if (indeg[i] > 0) u = i;
        for (int step = 0; step < n && u >= 0; step++) {
            int next = -1;
            for (int k = 0; k < g->nodes[u].n_in && next < 0; k++) {
                int v = g->nodes[u].in[k];
                if (v >= 0 && g->values[v].producer >= 0 && indeg[g->values[v].producer] > 0)
                    next = g->values[v].producer;
            }
            if (next < 0) break;
            u = next;
        }
        char lb[200];
        rc = ev_err_set(L->err, EV_ERR_FORMAT, "graph has a cycle through node '%s' (%s)",
                        ev_node_label(&g->nodes[u], lb, sizeof lb), g->nodes[u].op_type);
        goto out;
    }
    /* permute */
    ev_node *sorted = ev_arena_array(&g->arena, (size_t)n + 1, sizeof *sorted);
    if (!sorted) { rc = ev_err_set(L->err, EV_ERR_NOMEM, "out of memory"); goto out; }
    for (int i = 0; i < n; i++) {
        sorted[i] = g->nodes[order[i]];
        sorted[i].index = i;
    }
    g->nodes = sorted;
    for (int i = 0; i < n; i++)
        for (int k = 0; k < sorted[i].n_out; k++)
            if (sorted[i].out[k] >= 0) g->values[sorted[i].out[k]].producer = i;
out:
    free(indeg);
    free(cstart);
    free(order);
    free(heap);
    free(cons);
    return rc;
}

static bool const_is_false(const ev_graph *g, int v)
{
    if (v < 0) return true;
    const ev_value *val = &g->values[v];
    if (val->kind != EV_VAL_CONST || !val->decl.data || ev_tensor_numel(&val->decl) != 1)
        return false;
    return ((const uint8_t *)val->decl.data)[0] == 0;
}

/* Identity and inference-mode Dropout forward their input: rewire their
 * consumers to the input and drop the node, unless the forwarded value is a
 * graph output (its name must survive) or Dropout's mask is used. */
static ev_status remove_identities(loader *L)
{
    ev_graph *g = L->g;
    int *alias = malloc(((size_t)g->n_values + 1) * sizeof *alias);
    if (!alias) return ev_err_set(L->err, EV_ERR_NOMEM, "out of memory");
    for (int v = 0; v < g->n_values; v++) alias[v] = v;
    int kept = 0;
    /* consumers per value (before removal) to decide whether a mask is used */
    int *uses = calloc((size_t)g->n_values + 1, sizeof *uses);
    if (!uses) { free(alias); return ev_err_set(L->err, EV_ERR_NOMEM, "out of memory"); }
    for (int i = 0; i < g->n_nodes; i++)
        for (int k = 0; k < g->nodes[i].n_in; k++)
            if (g->nodes[i].in[k] >= 0) uses[g->nodes[i].in[k]]++;
    for (int i = 0; i < g->n_nodes; i++) {
        ev_node *n = &g->nodes[i];
        for (int k = 0; k < n->n_in; k++)
            if (n->in[k] >= 0) n->in[k] = alias[n->in[k]];
        bool removable = false;
        if (is_default_domain(n->domain) && n->n_in >= 1 && n->in[0] >= 0 && n->n_out >= 1 &&
            n->out[0] >= 0 && !g->values[n->out[0]].is_output) {
            if (!strcmp(n->op_type, "Identity") && n->n_out == 1) removable = true;
            else if (!strcmp(n->op_type, "Dropout")) {
                bool mask_unused = n->n_out < 2 || n->out[1] < 0 ||
                                   (!uses[n->out[1]] && !g->values[n->out[1]].is_output);
                bool inference = n->n_in < 3 || const_is_false(g, n->in[2]);
                removable = mask_unused && inference && n->n_out <= 2;
            }
        }
        if (removable) {
            alias[n->out[0]] = n->in[0];
            for (int k = 0; k < n->n_out; k++)
                if (n->out[k] >= 0) g->values[n->out[k]].producer = -1;
            continue;
        }
        if (kept != i) g->nodes[kept] = *n;
        g->nodes[kept].index = kept;
        for (int k = 0; k < g->nodes[kept].n_out; k++)
            if (g->nodes[kept].out[k] >= 0) g->values[g->nodes[kept].out[k]].producer = kept;
        kept++;
    }
    g->n_nodes = kept;
    free(alias);
    free(uses);
    for (int v = 0; v < g->n_values; v++) g->values[v].n_consumers = 0;
    for (int i = 0; i < g->n_nodes; i++)
        for (int k = 0; k < g->nodes[i].n_in; k++)
            if (g->nodes[i].in[k] >= 0) g->values[g->nodes[i].in[k]].n_consumers++;
    return EV_OK;
}

static ev_status convert_graph(loader *L, const Onnx__ModelProto *mp)
{
    ev_graph *g = L->g;
    const Onnx__GraphProto *gp = mp->graph;
    if (!gp) return ev_err_set(L->err, EV_ERR_FORMAT, "not an ONNX model: no graph");
    g->ir_version = mp->has_ir_version ? mp->ir_version : 0;
    {
        char prod[256];
        snprintf(prod, sizeof prod, "%s%s%s", mp->producer_name ? mp->producer_name : "",
                 mp->producer_version && mp->producer_version[0] ? " " : "",
                 mp->producer_version ? mp->producer_version : "");
        g->producer = ev_arena_strdup(&g->arena, prod);
        if (!g->producer) return ev_err_set(L->err, EV_ERR_NOMEM, "out of memory");
    }
    EV_TRY(resolve_opsets(L, mp));

    if ((int64_t)gp->n_node > L->o.max_nodes)
        return ev_err_set(L->err, EV_ERR_LIMIT, "model has %zu nodes, over the limit of %lld",
                          gp->n_node, (long long)L->o.max_nodes);
    if (gp->n_sparse_initializer)
        return ev_err_set(L->err, EV_ERR_UNSUPPORTED, "sparse initializers are not supported");
    if (mp->n_functions)
        return ev_err_set(L->err, EV_ERR_UNSUPPORTED, "model-local functions are not supported");

    /* upper bound of values */
    size_t nval = gp->n_initializer + gp->n_input, nio = 0;
    for (size_t i = 0; i < gp->n_node; i++) {
        const Onnx__NodeProto *np = gp->node[i];
        if (!np) return ev_err_set(L->err, EV_ERR_FORMAT, "node #%zu is empty", i);
        if (np->n_input > EV_MAX_NODE_IO || np->n_output > EV_MAX_NODE_IO ||
            np->n_attribute > EV_MAX_ATTRS) {
            char nd[256];
            return ev_err_set(L->err, EV_ERR_LIMIT, "%s has too many inputs/outputs/attributes",
                              node_desc(np, i, nd, sizeof nd));
        }
        nval += np->n_output;
        nio += np->n_input + np->n_output;
    }
    if (nval > (size_t)INT_MAX / 4 || nio > (size_t)INT_MAX / 4)
        return ev_err_set(L->err, EV_ERR_LIMIT, "model has too many values");
    L->max_values = (int)nval;
    g->values = ev_arena_array(&g->arena, nval + 1, sizeof *g->values);
    g->nodes = ev_arena_array(&g->arena, gp->n_node + 1, sizeof *g->nodes);
    g->inputs = ev_arena_array(&g->arena, gp->n_input + 1, sizeof *g->inputs);
    g->outputs = ev_arena_array(&g->arena, gp->n_output + 1, sizeof *g->outputs);
    if (!g->values || !g->nodes || !g->inputs || !g->outputs || !strmap_init(&L->names, nval))
        return ev_err_set(L->err, EV_ERR_NOMEM, "out of memory");

    /* 1. initializers */
    for (size_t i = 0; i < gp->n_initializer; i++) {
        const Onnx__TensorProto *tp = gp->initializer[i];
        if (!tp || !tp->name || !tp->name[0])
            return ev_err_set(L->err, EV_ERR_FORMAT, "initializer #%zu has no name", i);
        char what[256];
        snprintf(what, sizeof what, "initializer '%.200s'", tp->name);
        if (strmap_get(&L->names, tp->name) >= 0)
            return ev_err_set(L->err, EV_ERR_FORMAT, "duplicate %s", what);
        int v = new_value(L, tp->name, EV_VAL_CONST);
        if (v < 0) return ev_err_set(L->err, EV_ERR_NOMEM, "out of memory");
        EV_TRY(tensor_from_proto(&L->tenv, tp, what, &g->values[v].decl));
        ev_dtype dt = g->values[v].decl.dtype;
        if (dt == EV_DT_FLOAT || dt == EV_DT_FLOAT16 || dt == EV_DT_BFLOAT16 || dt == EV_DT_DOUBLE)
            g->params += ev_tensor_numel(&g->values[v].decl);
    }
    /* 2. graph inputs (those that are initializers are constants) */
    for (size_t i = 0; i < gp->n_input; i++) {
        const Onnx__ValueInfoProto *vi = gp->input[i];
        if (!vi || !vi->name || !vi->name[0])
            return ev_err_set(L->err, EV_ERR_FORMAT, "graph input #%zu has no name", i);
        int v = strmap_get(&L->names, vi->name);
        if (v >= 0) {
            if (g->values[v].kind == EV_VAL_CONST) continue;
            return ev_err_set(L->err, EV_ERR_FORMAT, "duplicate graph input '%.200s'", vi->name);
        }
        char what[256];
        snprintf(what, sizeof what, "graph input '%.200s'", vi->name);
        v = new_value(L, vi->name, EV_VAL_INPUT);
        if (v < 0) return ev_err_set(L->err, EV_ERR_NOMEM, "out of memory");
        EV_TRY(decl_from_type(L, vi->type, what, &g->values[v].decl));
        g->inputs[g->n_inputs++] = v;
    }
    /* 3. node outputs (producers) */
    char *is_const_node = calloc(gp->n_node + 1, 1);
    if (!is_const_node) return ev_err_set(L->err, EV_ERR_NOMEM, "out of memory");
    ev_status rc = EV_OK;
    hist_builder H = {0};
    H.items = ev_arena_array(&g->arena, gp->n_node + 1, sizeof *H.items);
    if (!H.items || !strmap_init(&H.map, gp->n_node)) {
        rc = ev_err_set(L->err, EV_ERR_NOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < gp->n_node && rc == EV_OK; i++) {
        const Onnx__NodeProto *np = gp->node[i];
        char nd[256];
        node_desc(np, i, nd, sizeof nd);
        if (!np->op_type || !np->op_type[0]) {
            rc = ev_err_set(L->err, EV_ERR_FORMAT, "node #%zu has no op_type", i);
            break;
        }
        bool is_const = is_default_domain(np->domain) && !strcmp(np->op_type, "Constant");
        if (is_const && (np->n_output != 1 || !np->output[0] || !np->output[0][0] || np->n_input)) {
            rc = ev_err_set(L->err, EV_ERR_FORMAT, "%s: a Constant has no inputs and one output", nd);
            break;
        }
        is_const_node[i] = is_const;
        for (size_t k = 0; k < np->n_output; k++) {
            const char *on = np->output[k];
            if (!on || !on[0]) continue;
            int prev = strmap_get(&L->names, on);
            if (prev >= 0) {
                const ev_value *pv = &g->values[prev];
                rc = ev_err_set(L->err, EV_ERR_FORMAT, "%s: output '%.200s' is already %s", nd, on,
                                pv->kind == EV_VAL_INPUT   ? "a graph input"
                                : pv->kind == EV_VAL_CONST ? "defined (initializer or Constant)"
                                                           : "produced by another node");
                break;
            }
            int v = new_value(L, on, EV_VAL_ACTIVATION);
            if (v < 0) { rc = ev_err_set(L->err, EV_ERR_NOMEM, "out of memory"); break; }
            if (is_const) rc = convert_constant(L, np, nd, v);
        }
    }
    if (rc != EV_OK) goto out;
    /* 4. nodes: inputs, op, attributes */
    for (size_t i = 0; i < gp->n_node; i++) {
        const Onnx__NodeProto *np = gp->node[i];
        char nd[256];
        node_desc(np, i, nd, sizeof nd);
        const char *dom = is_default_domain(np->domain) ? "" : np->domain;
        int64_t opset = domain_opset(L, dom);
        if (is_const_node[i]) {
            rc = hist_add(L, &H, dom, np->op_type, opset, true);
            if (rc != EV_OK) goto out;
            continue;
        }
        ev_node *n = &g->nodes[g->n_nodes];
        n->index = (int)i;
        n->name = ev_arena_strdup(&g->arena, np->name ? np->name : "");
        n->op_type = ev_arena_strdup(&g->arena, np->op_type);
        n->domain = ev_arena_strdup(&g->arena, dom);
        n->opset = opset;
        n->n_in = (int)np->n_input;
        n->n_out = (int)np->n_output;
        n->in = ev_arena_array(&g->arena, np->n_input + 1, sizeof *n->in);
        n->out = ev_arena_array(&g->arena, np->n_output + 1, sizeof *n->out);
        n->attrs = ev_arena_array(&g->arena, np->n_attribute + 1, sizeof *n->attrs);
        if (!n->name || !n->op_type || !n->domain || !n->in || !n->out || !n->attrs) {
            rc = ev_err_set(L->err, EV_ERR_NOMEM, "out of memory");
            goto out;
        }
        for (size_t k = 0; k < np->n_input; k++) {
            const char *in = np->input[k];
            if (!in || !in[0]) { n->in[k] = -1; continue; }
            int v = strmap_get(&L->names, in);
            if (v < 0) {
                rc = ev_err_set(L->err, EV_ERR_FORMAT,
                                "%s: input '%.200s' is not produced by any node, initializer or "
                                "graph input",
                                nd, in);
                goto out;
            }
            n->in[k] = v;
        }
        for (size_t k = 0; k < np->n_output; k++) {
            const char *on = np->output[k];
            n->out[k] = on && on[0] ? strmap_get(&L->names, on) : -1;
            if (n->out[k] >= 0) g->values[n->out[k]].producer = g->n_nodes;
        }
        if (opset >= EV_MIN_OPSET && opset <= EV_MAX_OPSET)
            n->op = ev_op_find(n->op_type, n->domain, opset);
        rc = hist_add(L, &H, dom, np->op_type, opset, n->op != NULL);
        if (rc != EV_OK) goto out;
        if (!n->op && !L->o.allow_unsupported) {
            char lb[200];
            if (dom[0])
                rc = ev_err_set(L->err, EV_ERR_UNSUPPORTED,
                                "unsupported op '%.60s' of domain '%.60s' (node '%s', opset %lld)",
                                n->op_type, dom, ev_node_label(n, lb, sizeof lb), (long long)opset);
            else
                rc = ev_err_set(L->err, EV_ERR_UNSUPPORTED, "unsupported op '%.60s' (node '%s', opset %lld)",
                                n->op_type, ev_node_label(n, lb, sizeof lb), (long long)opset);
            goto out;
        }
        for (size_t k = 0; k < np->n_attribute; k++) {
            rc = convert_attr(L, np->attribute[k], nd, n->op != NULL, &n->attrs[n->n_attrs]);
            if (rc != EV_OK) goto out;
            n->n_attrs++;
        }
        g->n_nodes++;
    }
    g->n_file_nodes = (int64_t)gp->n_node;
    g->n_op_counts = H.n;
    g->op_counts = H.items;
    /* 5. graph outputs */
    if (gp->n_output == 0) {
        rc = ev_err_set(L->err, EV_ERR_FORMAT, "graph has no outputs");
        goto out;
    }
    for (size_t i = 0; i < gp->n_output; i++) {
        const Onnx__ValueInfoProto *vi = gp->output[i];
        if (!vi || !vi->name || !vi->name[0]) {
            rc = ev_err_set(L->err, EV_ERR_FORMAT, "graph output #%zu has no name", i);
            goto out;
        }
        int v = strmap_get(&L->names, vi->name);
        if (v < 0) {
            rc = ev_err_set(L->err, EV_ERR_FORMAT,
                            "graph output '%.200s' is not produced by any node, initializer or input",
                            vi->name);
            goto out;
        }
        if (g->values[v].kind == EV_VAL_ACTIVATION) {
            char what[256];
            snprintf(what, sizeof what, "graph output '%.200s'", vi->name);
            rc = decl_from_type(L, vi->type, what, &g->values[v].decl);
            if (rc != EV_OK) goto out;
        }
        g->values[v].is_output = 1;
        g->outputs[g->n_outputs++] = v;
    }
out:
    free(is_const_node);
    strmap_free(&H.map);
    return rc;
}

static void loader_cleanup(loader *L)
{
    strmap_free(&L->names);
    free(L->opsets);
    for (int i = 0; i < L->tenv.n_ext; i++) free(L->tenv.ext_names[i]);
    free(L->tenv.ext_names);
}

static void fill_defaults(ev_load_opts *o, const ev_load_opts *in)
{
    memset(o, 0, sizeof *o);
    if (in) *o = *in;
    if (o->max_file_bytes <= 0) o->max_file_bytes = EV_DEFAULT_MAX_FILE;
    if (o->max_tensor_bytes <= 0) o->max_tensor_bytes = EV_DEFAULT_MAX_TENSOR;
    if (o->max_nodes <= 0) o->max_nodes = EV_DEFAULT_MAX_NODES;
}

/* Read a varint at *p (< end); 0 if malformed. */
static int pb_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
    uint64_t r = 0;
    for (int shift = 0; shift < 64 && *p < end; shift += 7) {
        uint8_t b = *(*p)++;
        r |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = r;
            return 1;
        }
    }
    return 0;
}

/* Walk the wire format of a message of type d (without unpacking it) and
 * return 0 if its sub-messages nest deeper than EV_MAX_PB_DEPTH. Malformed
 * data returns 1: the unpacker reports it. Our own recursion is bounded by
 * the depth limit. */
static int pb_depth_ok(const uint8_t *p, const uint8_t *end, const ProtobufCMessageDescriptor *d, int depth)
{
    if (depth > EV_MAX_PB_DEPTH) return 0;
    while (p < end) {
        uint64_t tag, n;
        if (!pb_varint(&p, end, &tag)) return 1;
        switch (tag & 7) {
        case 0:
            if (!pb_varint(&p, end, &n)) return 1;
            break;
        case 1:
            if (end - p < 8) return 1;
            p += 8;
            break;
        case 5:
            if (end - p < 4) return 1;
            p += 4;
            break;
        case 2: {
            if (!pb_varint(&p, end, &n) || n > (uint64_t)(end - p)) return 1;
            const ProtobufCFieldDescriptor *f =
                tag >> 3 <= UINT32_MAX ? protobuf_c_message_descriptor_get_field(d, (unsigned)(tag >> 3)) : NULL;
            if (f && f->type == PROTOBUF_C_TYPE_MESSAGE && f->descriptor &&
                !pb_depth_ok(p, p + n, f->descriptor, depth + 1))
                return 0;
            p += n;
            break;
        }
        default:
            return 1; /* groups: unsupported, the unpacker fails */
        }
    }
    return 1;
}

/* ---- cutting large payloads out of the wire format ------------------------ */
typedef struct obuf {
    uint8_t *d;
    size_t n, cap;
    bool fail;
} obuf;

static bool ob_reserve(obuf *o, size_t more)
{
    if (o->fail) return false;
    if (o->cap - o->n >= more) return true;
    size_t nc = o->cap ? o->cap : 65536;
    while (nc - o->n < more) {
        if (nc > SIZE_MAX / 4) {
            o->fail = true;
            return false;
        }
        nc *= 2;
    }
    uint8_t *nd = realloc(o->d, nc);
    if (!nd) {
        o->fail = true;
        return false;
    }
    o->d = nd;
    o->cap = nc;
    return true;
}

static void ob_put(obuf *o, const void *p, size_t n)
{
    if (n && ob_reserve(o, n)) {
        memcpy(o->d + o->n, p, n);
        o->n += n;
    }
}

static size_t varint_enc(uint64_t v, uint8_t *b)
{
    size_t k = 0;
    while (v >= 0x80) {
        b[k++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    b[k++] = (uint8_t)v;
    return k;
}

static void ob_varint(obuf *o, uint64_t v)
{
    uint8_t b[10];
    ob_put(o, b, varint_enc(v, b));
}

typedef struct pl_list {
    payload *v;
    size_t n, cap;
} pl_list;

/* Skip one field's value of wire type wt at *p; 0 if malformed/unsupported. */
static int pb_skip(const uint8_t **p, const uint8_t *end, unsigned wt, uint64_t *len)
{
    uint64_t n;
    switch (wt) {
    case 0: return pb_varint(p, end, &n);
    case 1: if (end - *p < 8) return 0; *p += 8; return 1;
    case 5: if (end - *p < 4) return 0; *p += 4; return 1;
    case 2:
        if (!pb_varint(p, end, &n) || n > (uint64_t)(end - *p)) return 0;
        *len = n;
        return 1;
    default: return 0; /* groups: the unpacker refuses them */
    }
}

/* Copy the message [p, end) of type d into o with every TensorProto's
 * raw_data of at least EV_RAWREF_MIN bytes replaced by an EV_RAWREF_FIELD
 * reference to an entry of P (file offsets). EV_RAWREF_FIELD fields found in
 * the file are dropped. 0: malformed or unsupported wire data (the caller
 * then unpacks the original bytes and protobuf-c reports the problem). */
static int strip_msg(const uint8_t *base, const uint8_t *p, const uint8_t *end,
                     const ProtobufCMessageDescriptor *d, int depth, obuf *o, pl_list *P)
{
    if (depth > EV_MAX_PB_DEPTH) return 0;
    bool tensor = d == &onnx__tensor_proto__descriptor;
    int n_raw = 0;
    for (const uint8_t *q = p; tensor && q < end;) {
        uint64_t tag, n = 0;
        if (!pb_varint(&q, end, &tag) || !pb_skip(&q, end, (unsigned)(tag & 7), &n)) return 0;
        if ((tag & 7) == 2) {
            if (tag >> 3 == 9) n_raw++;
            q += n;
        }
    }
    while (p < end) {
        const uint8_t *fs = p;
        uint64_t tag, n = 0;
        if (!pb_varint(&p, end, &tag)) return 0;
        const uint8_t *te = p;
        uint64_t fn = tag >> 3;
        if (!pb_skip(&p, end, (unsigned)(tag & 7), &n)) return 0;
        if ((tag & 7) == 2) {
            if (tensor && fn == 9 && n_raw == 1 && n >= EV_RAWREF_MIN) {
                if (P->n == P->cap) {
                    size_t nc = P->cap ? P->cap * 2 : 256;
                    payload *nv = realloc(P->v, nc * sizeof *nv);
                    if (!nv) return 0;
                    P->v = nv;
                    P->cap = nc;
                }
                P->v[P->n] = (payload){(size_t)(p - base), (size_t)n, 0, 0};
                ob_varint(o, (uint64_t)EV_RAWREF_FIELD << 3);
                ob_varint(o, P->n);
                P->n++;
                p += n;
                continue;
            }
            const ProtobufCFieldDescriptor *f =
                fn <= UINT32_MAX ? protobuf_c_message_descriptor_get_field(d, (unsigned)fn) : NULL;
            if (f && f->type == PROTOBUF_C_TYPE_MESSAGE && f->descriptor) {
                ob_put(o, fs, (size_t)(te - fs));
                if (!ob_reserve(o, 10)) return 0;
                size_t at = o->n;
                o->n += 10;
                if (!strip_msg(base, p, p + n, f->descriptor, depth + 1, o, P) || o->fail) return 0;
                size_t clen = o->n - at - 10;
                uint8_t b[10];
                size_t k = varint_enc(clen, b);
                memcpy(o->d + at, b, k);
                memmove(o->d + at + k, o->d + at + 10, clen);
                o->n = at + k + clen;
                p += n;
                continue;
            }
            p += n;
        }
        if (tensor && fn == EV_RAWREF_FIELD) continue;
        ob_put(o, fs, (size_t)(p - fs));
    }
    return !o->fail;
}

/* Move the payloads (file order) to 64-byte aligned offsets at the front of
 * the mapping; a payload that cannot move without overwriting the next one
 * stays where it is (placed = 0: copied by the conversion). Returns the
 * bytes of the mapping still in use. */
static size_t compact_payloads(uint8_t *map, size_t len, payload *v, size_t n)
{
    size_t cur = 0;
    for (size_t i = 0; i < n; i++) {
        size_t dst = (cur + EV_ALIGN - 1) / EV_ALIGN * EV_ALIGN;
        size_t next = i + 1 < n ? v[i + 1].src : len;
        if (dst <= v[i].src || (dst <= next && v[i].len <= next - dst)) {
            if (dst != v[i].src) memmove(map + dst, map + v[i].src, v[i].len);
            v[i].dst = dst;
            v[i].placed = 1;
            cur = dst + v[i].len;
        } else {
            v[i].placed = 0;
            cur = v[i].src + v[i].len;
        }
    }
    return cur;
}

/* Read a model file into an anonymous mapping (see onnx/weights.h); the
 * descriptor stays open in gm for restores. */
static ev_status read_file_mapped(const char *path, size_t max_bytes, ev_gmem *gm, size_t *len,
                                  ev_err *e)
{
    int fd;
    struct stat st;
    EV_TRY(ev_open_file(path, max_bytes, &fd, &st, e));
    size_t cap = (size_t)st.st_size;
    uint8_t *map = mmap(NULL, cap ? cap : 1, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (map == MAP_FAILED) {
        close(fd);
        return ev_err_set(e, EV_ERR_NOMEM, "out of memory reading %s (%zu bytes)", path, cap);
    }
    size_t got;
    /* a file that shrank: use what we have (a restore then fails) */
    ev_status s = ev_read_full(fd, map, cap, &got, path, e);
    if (s != EV_OK) {
        munmap(map, cap ? cap : 1);
        close(fd);
        return s;
    }
    gm->map = map;
    gm->map_len = cap ? cap : 1;
    gm->fd = fd;
    gm->f_size = st.st_size;
    gm->f_mtime = st.st_mtim;
    *len = got;
    return EV_OK;
}

/* to_free (may be NULL) is released right after unpacking: the parse tree
 * holds copies of everything, so the file buffer is not needed any more.
 * gm: the graph's memory; with a mapping (file loads, buf == gm->map) large
 * payloads are cut out before unpacking and stay in the mapping. */
static ev_status load_impl(const void *buf, size_t len, char *to_free, const char *name,
                           const char *base_dir, const ev_load_opts *opts, int64_t file_bytes,
                           ev_gmem *gm, ev_graph **out, ev_err *err)
{
    *out = NULL;
    loader L;
    memset(&L, 0, sizeof L);
    fill_defaults(&L.o, opts);
    L.err = err;
    if ((int64_t)len > L.o.max_file_bytes) {
        free(to_free);
        gmem_free(gm);
        return ev_err_set(err, EV_ERR_LIMIT, "model is %zu bytes, over the limit of %lld (%s)", len,
                          (long long)L.o.max_file_bytes, name);
    }
    capped_alloc ca = {0, 0, false};
    /* the tree holds at most the file's bytes in data plus per-message
     * overhead: 16x the file size is a generous bound */
    ca.cap = len < SIZE_MAX / 16 - (64u << 20) ? len * 16 + (64u << 20) : SIZE_MAX;
    ProtobufCAllocator pa = {capped_alloc_fn, capped_free_fn, &ca};
    if (!pb_depth_ok(buf, (const uint8_t *)buf + len, &onnx__model_proto__descriptor, 0)) {
        free(to_free);
        gmem_free(gm);
        return ev_err_set(err, EV_ERR_LIMIT,
                          "not a usable ONNX model: messages nested more than %d deep (%s)",
                          EV_MAX_PB_DEPTH, name);
    }
    const void *ubuf = buf;
    size_t ulen = len;
    obuf ob = {NULL, 0, 0, false};
    pl_list P = {NULL, 0, 0};
    bool stripped = false;
    if (gm->map && len > 0) {
        stripped = strip_msg(buf, buf, (const uint8_t *)buf + len, &onnx__model_proto__descriptor, 0,
                             &ob, &P) && P.n > 0;
        if (stripped) {
            gm->e = calloc(P.n + 1, sizeof *gm->e);
            stripped = gm->e != NULL;
        }
        if (stripped) {
            size_t used = compact_payloads(gm->map, len, P.v, P.n);
            for (size_t i = 0; i < P.n; i++)
                if (P.v[i].placed) {
                    gm->e[gm->n++] = (wentry){P.v[i].dst, P.v[i].len, (int64_t)P.v[i].src, 0, 0};
                    gm->entry_bytes += (int64_t)P.v[i].len;
                }
            /* the rest of the mapping held the messages: give it back */
            size_t ps = page_size(), keep = (used + ps - 1) / ps * ps;
            if (keep < gm->map_len && keep > 0 && munmap(gm->map + keep, gm->map_len - keep) == 0)
                gm->map_len = keep;
            ubuf = ob.d;
            ulen = ob.n;
        }
    }
    Onnx__ModelProto *mp = onnx__model_proto__unpack(&pa, ulen, ubuf);
    log_rss("model unpacked");
    free(to_free);
    free(ob.d);
    if (gm->map && !stripped) { /* the parse tree holds copies */
        munmap(gm->map, gm->map_len);
        gm->map = NULL;
        gm->map_len = 0;
    }
    if (!gm->n && gm->fd >= 0) {
        close(gm->fd);
        gm->fd = -1;
    }
    if (!mp) {
        free(P.v);
        gmem_free(gm);
        if (ca.over)
            return ev_err_set(err, EV_ERR_LIMIT, "model expands beyond the memory limit when parsed (%s)",
                              name);
        return ev_err_set(err, EV_ERR_FORMAT,
                          "not a valid ONNX model: protobuf parse failed (truncated or corrupt file) (%s)",
                          name);
    }
    ev_graph *g = calloc(1, sizeof *g);
    if (!g) {
        onnx__model_proto__free_unpacked(mp, &pa);
        free(P.v);
        gmem_free(gm);
        return ev_err_set(err, EV_ERR_NOMEM, "out of memory (%s)", name);
    }
    g->owned_blocks = gm;
    ev_arena_init(&g->arena, 0);
    g->max_tensor_bytes = L.o.max_tensor_bytes;
    L.g = g;
    L.tenv.arena = &g->arena;
    L.tenv.max_tensor_bytes = L.o.max_tensor_bytes;
    L.tenv.base_dir = base_dir;
    L.tenv.err = err;
    L.tenv.owned = &gm->blocks;
    if (stripped) {
        L.tenv.pbase = gm->map;
        L.tenv.pl = P.v;
        L.tenv.n_pl = P.n;
    }
    ev_status rc = convert_graph(&L, mp);
    log_rss("graph converted");
    onnx__model_proto__free_unpacked(mp, &pa);
    free(P.v);
    log_rss("parse tree freed");
    if (rc == EV_OK) rc = topo_sort(&L);
    if (rc == EV_OK) rc = remove_identities(&L);
    g->file_bytes = file_bytes + L.tenv.ext_bytes;
    loader_cleanup(&L);
    /* prepare: parse attributes per op */
    for (int i = 0; rc == EV_OK && i < g->n_nodes; i++) {
        ev_node *n = &g->nodes[i];
        if (n->op && n->op->prepare) {
            rc = n->op->prepare(g, n, err);
            if (rc != EV_OK && err && !err->msg[0]) {
                char lb[200];
                ev_err_set(err, rc, "node '%s' (%s): invalid attributes or arity",
                           ev_node_label(n, lb, sizeof lb), n->op_type);
            }
        }
    }
    if (rc != EV_OK) {
        if (err) { /* "<what> (<file>)" */
            char msg[EV_ERRLEN];
            snprintf(msg, sizeof msg, "%s", err->msg);
            ev_err_set(err, rc, "%s (%s)", msg, name);
        }
        ev_graph_free(g);
        return rc;
    }
    *out = g;
    return EV_OK;
}

ev_status ev_graph_load_buffer(const void *buf, size_t len, const char *name,
                               const char *base_dir, const ev_load_opts *o, ev_graph **out,
                               ev_err *err)
{
    if (!out) return ev_err_set(err, EV_ERR_INVALID_ARG, "ev_graph_load_buffer: out is NULL");
    *out = NULL;
    if (!buf && len) return ev_err_set(err, EV_ERR_INVALID_ARG, "ev_graph_load_buffer: no buffer");
    if (err) ev_err_clear(err);
    ev_gmem *gm = gmem_new();
    if (!gm) return ev_err_set(err, EV_ERR_NOMEM, "out of memory");
    return load_impl(buf ? buf : "", len, NULL, name ? name : "<memory>", base_dir, o, (int64_t)len,
                     gm, out, err);
}

ev_status ev_graph_load(const char *path, const ev_load_opts *o, ev_graph **out, ev_err *err)
{
    if (!out || !path) return ev_err_set(err, EV_ERR_INVALID_ARG, "ev_graph_load: NULL argument");
    *out = NULL;
    if (err) ev_err_clear(err);
    ev_load_opts lo;
    fill_defaults(&lo, o);
    size_t len = 0;
    ev_gmem *gm = gmem_new();
    if (!gm) return ev_err_set(err, EV_ERR_NOMEM, "out of memory");
    ev_status rs = read_file_mapped(path, (size_t)lo.max_file_bytes, gm, &len, err);
    if (rs != EV_OK) {
        gmem_free(gm);
        return rs;
    }
    log_rss("file read");
    /* directory of the model, for external data */
    char *dir = ev_strdup(path);
    if (!dir) {
        gmem_free(gm);
        return ev_err_set(err, EV_ERR_NOMEM, "out of memory");
    }
    char *slash = strrchr(dir, '/');
    if (slash == dir) slash[1] = 0;
    else if (slash) *slash = 0;
    else { dir[0] = '.'; dir[1] = 0; }
    ev_status rc = load_impl(gm->map, len, NULL, path, dir, &lo, (int64_t)len, gm, out, err);
    free(dir);
    return rc;
}

void ev_graph_free(ev_graph *g)
{
    if (!g) return;
    ev_arena_free(&g->arena);
    gmem_free(g->owned_blocks);
    free(g);
}

ev_status ev_tensor_from_pb(const void *buf, size_t len, const char *name, ev_arena *a,
                            int64_t max_tensor_bytes, ev_tensor *out, ev_err *err)
{
    if (!out || !a) return ev_err_set(err, EV_ERR_INVALID_ARG, "ev_tensor_from_pb: NULL argument");
    Onnx__TensorProto *tp = onnx__tensor_proto__unpack(NULL, len, buf);
    if (!tp) return ev_err_set(err, EV_ERR_FORMAT, "%s: not a valid TensorProto", name);
    tensor_env E;
    memset(&E, 0, sizeof E);
    E.arena = a;
    E.max_tensor_bytes = max_tensor_bytes > 0 ? max_tensor_bytes : EV_DEFAULT_MAX_TENSOR;
    E.err = err;
    ev_status rc = tensor_from_proto(&E, tp, name, out);
    onnx__tensor_proto__free_unpacked(tp, NULL);
    return rc;
}
