/*
 * lib/store/npy.c — NumPy .npy reader/writer.
 *
 * Format (numpy/lib/format.py): 6-byte magic "\x93NUMPY", major, minor
 * version bytes, header length (uint16 LE for 1.x, uint32 LE for 2.x/3.x),
 * then an ASCII (3.x: UTF-8) Python dict literal
 *     {'descr': '<f4', 'fortran_order': False, 'shape': (10, 512), }
 * padded with spaces and a final '\n', then the raw C-order data.
 * Every length is checked against the bytes present before use.
 */
#include "embeval/npy.h"

#include <ctype.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <unistd.h>

#include "common/util.h"

#define NPY_MAX_HEADER (1u << 20)
#define NPY_MAX_FILE ((size_t)64 << 30)

static ev_status fail(char *errbuf, size_t errlen, ev_status st, const char *name, const char *what)
{
    if (errbuf && errlen) snprintf(errbuf, errlen, "%s (%s)", what, name);
    return st;
}

static const char *skip_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t')) p++;
    return p;
}

/* Parse a quoted Python string literal ('x' or "x") without escapes. */
static const char *parse_str(const char *p, const char *end, char *out, size_t outlen)
{
    if (p >= end || (*p != '\'' && *p != '"')) return NULL;
    char q = *p++;
    size_t n = 0;
    while (p < end && *p != q) {
        if (*p == '\\' || n + 1 >= outlen) return NULL;
        out[n++] = *p++;
    }
    if (p >= end) return NULL;
    out[n] = 0;
    return p + 1;
}

typedef struct {
    char descr[16];
    int fortran;
    int rank;
    int64_t dims[EV_MAX_RANK];
    int have_descr, have_fortran, have_shape;
} npy_header;

static const char *parse_header(const char *p, const char *end, npy_header *h)
{
    memset(h, 0, sizeof *h);
    p = skip_ws(p, end);
    if (p >= end || *p++ != '{') return NULL;
    for (;;) {
        p = skip_ws(p, end);
        if (p < end && *p == '}') return p + 1;
        char key[32];
        p = parse_str(p, end, key, sizeof key);
        if (!p) return NULL;
        p = skip_ws(p, end);
        if (p >= end || *p++ != ':') return NULL;
        p = skip_ws(p, end);
        if (!strcmp(key, "descr")) {
            if (h->have_descr) return NULL;
            p = parse_str(p, end, h->descr, sizeof h->descr);
            if (!p) return NULL;
            h->have_descr = 1;
        } else if (!strcmp(key, "fortran_order")) {
            if (h->have_fortran) return NULL;
            if (end - p >= 4 && !memcmp(p, "True", 4)) { h->fortran = 1; p += 4; }
            else if (end - p >= 5 && !memcmp(p, "False", 5)) { h->fortran = 0; p += 5; }
            else return NULL;
            h->have_fortran = 1;
        } else if (!strcmp(key, "shape")) {
            if (h->have_shape || p >= end || *p++ != '(') return NULL;
            for (;;) {
                p = skip_ws(p, end);
                if (p < end && *p == ')') { p++; break; }
                if (p >= end || !isdigit((unsigned char)*p)) return NULL;
                int64_t v = 0;
                while (p < end && isdigit((unsigned char)*p)) {
                    if (!ev_mul_i64(v, 10, &v) || !ev_add_i64(v, *p - '0', &v)) return NULL;
                    p++;
                }
                if (p < end && *p == 'L') p++; /* Python 2 longs */
                if (h->rank >= EV_MAX_RANK) return NULL;
                h->dims[h->rank++] = v;
                p = skip_ws(p, end);
                if (p < end && *p == ',') p++;
                else if (p < end && *p == ')') { p++; break; }
                else return NULL;
            }
            h->have_shape = 1;
        } else {
            return NULL;
        }
        p = skip_ws(p, end);
        if (p < end && *p == ',') { p++; continue; }
        p = skip_ws(p, end);
        if (p < end && *p == '}') return p + 1;
        return NULL;
    }
}

static ev_dtype descr_dtype(const char *d, int *swap)
{
    *swap = 0;
    char order = d[0];
    if (order != '<' && order != '>' && order != '|' && order != '=') return EV_DT_UNDEFINED;
    const char *t = d + 1;
    ev_dtype dt = EV_DT_UNDEFINED;
    if (!strcmp(t, "f4")) dt = EV_DT_FLOAT;
    else if (!strcmp(t, "f8")) dt = EV_DT_DOUBLE;
    else if (!strcmp(t, "i8")) dt = EV_DT_INT64;
    else if (!strcmp(t, "i4")) dt = EV_DT_INT32;
    else if (!strcmp(t, "u1")) dt = EV_DT_UINT8;
    else if (!strcmp(t, "b1")) dt = EV_DT_BOOL;
    if (order == '>' && ev_dtype_size(dt) > 1) *swap = 1;
    return dt;
}

static void byteswap(void *data, int64_t n, size_t es)
{
    unsigned char *p = data;
    for (int64_t i = 0; i < n; i++, p += es)
        for (size_t a = 0, b = es - 1; a < b; a++, b--) {
            unsigned char t = p[a];
            p[a] = p[b];
            p[b] = t;
        }
}

/* Convert n elements from `from` to `to` (allowed: f8->f4, i4->i8, u1/b1->f4,
 * i4/i8->f4 when exact is not required, f4->f4 etc.). Returns false if the
 * conversion is not allowed. */
static bool convert(const void *src, ev_dtype from, void *dst, ev_dtype to, int64_t n)
{
    if (from == to) {
        memcpy(dst, src, (size_t)n * ev_dtype_size(from));
        return true;
    }
    if (to == EV_DT_FLOAT) {
        float *o = dst;
        switch (from) {
        case EV_DT_DOUBLE:
            for (int64_t i = 0; i < n; i++) {
                double v = ((const double *)src)[i];
                /* out-of-range double->float is undefined behaviour in C */
                o[i] = v > FLT_MAX ? INFINITY : v < -FLT_MAX ? -INFINITY : (float)v;
            }
            return true;
        case EV_DT_UINT8:
        case EV_DT_BOOL: for (int64_t i = 0; i < n; i++) o[i] = ((const uint8_t *)src)[i]; return true;
        default: return false;
        }
    }
    if (to == EV_DT_INT64) {
        int64_t *o = dst;
        switch (from) {
        case EV_DT_INT32: for (int64_t i = 0; i < n; i++) o[i] = ((const int32_t *)src)[i]; return true;
        case EV_DT_UINT8: for (int64_t i = 0; i < n; i++) o[i] = ((const uint8_t *)src)[i]; return true;
        default: return false;
        }
    }
    return false;
}

/* What a header says and where the data starts. */
typedef struct {
    ev_dtype dt;
    int swap, rank;
    int64_t dims[EV_MAX_RANK];
    int64_t n;                    /* elements                                 */
    size_t es, bytes, doff;       /* element size, data bytes, data offset    */
} npy_info;

/* Parse and check the header in the first `avail` bytes of a file of `total`
 * bytes (avail <= total; the data itself need not be present). */
static ev_status npy_head(const unsigned char *b, size_t avail, size_t total, const char *name,
                          npy_info *inf, char *errbuf, size_t errlen)
{
    memset(inf, 0, sizeof *inf);
    if (!b || avail < 10 || memcmp(b, "\x93NUMPY", 6) != 0)
        return fail(errbuf, errlen, EV_ERR_FORMAT, name, "not a NumPy .npy file (bad magic)");
    unsigned major = b[6];
    size_t hlen, hoff;
    if (major == 1) {
        hlen = (size_t)b[8] | ((size_t)b[9] << 8);
        hoff = 10;
    } else if (major == 2 || major == 3) {
        if (avail < 12) return fail(errbuf, errlen, EV_ERR_FORMAT, name, "truncated .npy header");
        hlen = (size_t)b[8] | ((size_t)b[9] << 8) | ((size_t)b[10] << 16) | ((size_t)b[11] << 24);
        hoff = 12;
    } else {
        return fail(errbuf, errlen, EV_ERR_FORMAT, name, "unsupported .npy format version");
    }
    if (hlen > NPY_MAX_HEADER || hlen > avail - hoff)
        return fail(errbuf, errlen, EV_ERR_FORMAT, name, "truncated or oversized .npy header");
    const char *hs = (const char *)b + hoff, *he = hs + hlen;
    npy_header h;
    const char *hend = parse_header(hs, he, &h);
    if (!hend || !h.have_descr || !h.have_fortran || !h.have_shape)
        return fail(errbuf, errlen, EV_ERR_FORMAT, name, "malformed .npy header dictionary");
    for (const char *p = hend; p < he; p++)
        if (*p != ' ' && *p != '\n' && *p != '\r' && *p != '\t' && *p != 0)
            return fail(errbuf, errlen, EV_ERR_FORMAT, name, "trailing garbage in .npy header");
    if (h.fortran)
        return fail(errbuf, errlen, EV_ERR_UNSUPPORTED, name, "Fortran-order .npy arrays are not supported");
    inf->dt = descr_dtype(h.descr, &inf->swap);
    if (inf->dt == EV_DT_UNDEFINED) {
        char what[96];
        snprintf(what, sizeof what, "unsupported .npy dtype '%s' (want float32)", h.descr);
        return fail(errbuf, errlen, EV_ERR_FORMAT, name, what);
    }
    ev_tensor shape = {.dtype = inf->dt, .rank = h.rank};
    memcpy(shape.dims, h.dims, sizeof h.dims);
    inf->rank = h.rank;
    memcpy(inf->dims, h.dims, sizeof h.dims);
    inf->n = ev_tensor_numel(&shape);
    inf->es = ev_dtype_size(inf->dt);
    if (inf->n < 0 || !ev_mul_sz((size_t)inf->n, inf->es, &inf->bytes))
        return fail(errbuf, errlen, EV_ERR_FORMAT, name, ".npy shape overflows");
    inf->doff = hoff + hlen;
    if (inf->bytes > total - inf->doff) {
        char what[128];
        snprintf(what, sizeof what, "truncated .npy data: header promises %zu bytes, file has %zu",
                 inf->bytes, total - inf->doff);
        return fail(errbuf, errlen, EV_ERR_FORMAT, name, what);
    }
    return EV_OK;
}

static ev_status wrong_dtype(const npy_info *inf, ev_dtype to, const char *name, char *errbuf, size_t errlen)
{
    char what[128];
    snprintf(what, sizeof what, "wrong .npy dtype %s, expected %s", ev_dtype_name(inf->dt), ev_dtype_name(to));
    return fail(errbuf, errlen, EV_ERR_FORMAT, name, what);
}

/* Output allocation for the header's shape in dtype `to`. */
static ev_status npy_alloc(const npy_info *inf, ev_dtype to, const char *name, void **data, char *errbuf,
                           size_t errlen)
{
    size_t obytes;
    *data = NULL;
    if (!ev_mul_sz((size_t)inf->n, ev_dtype_size(to), &obytes))
        return fail(errbuf, errlen, EV_ERR_FORMAT, name, ".npy shape overflows");
    /* converting zero elements only checks that the conversion is allowed */
    float probe;
    if (!convert(&probe, inf->dt, &probe, to, 0)) return wrong_dtype(inf, to, name, errbuf, errlen);
    *data = ev_malloc_aligned(obytes ? obytes : 1);
    if (!*data) return fail(errbuf, errlen, EV_ERR_NOMEM, name, "out of memory for .npy data");
    return EV_OK;
}

static void npy_fill(ev_array *out, const npy_info *inf, ev_dtype to, void *data)
{
    out->dtype = to;
    out->rank = inf->rank;
    memcpy(out->dims, inf->dims, sizeof inf->dims);
    out->data = data;
}

ev_status ev_npy_parse(const void *buf, size_t len, const char *name, ev_dtype want, ev_array *out,
                       char *errbuf, size_t errlen)
{
    if (!out) return EV_ERR_INVALID_ARG;
    memset(out, 0, sizeof *out);
    if (!name) name = "<memory>";
    const unsigned char *b = buf;
    npy_info inf;
    ev_status st = npy_head(b, b ? len : 0, b ? len : 0, name, &inf, errbuf, errlen);
    if (st != EV_OK) return st;
    ev_dtype to = want == EV_DT_UNDEFINED ? inf.dt : want;
    void *data, *tmp = NULL;
    if ((st = npy_alloc(&inf, to, name, &data, errbuf, errlen)) != EV_OK) return st;
    const void *src = b + inf.doff;
    /* A hostile header length can leave the data misaligned for its type:
     * copy to aligned memory before typed access. */
    if (inf.swap || ((uintptr_t)src % inf.es) != 0) {
        tmp = ev_malloc_aligned(inf.bytes ? inf.bytes : 1);
        if (!tmp) {
            ev_free_aligned(data);
            return fail(errbuf, errlen, EV_ERR_NOMEM, name, "out of memory for .npy data");
        }
        memcpy(tmp, src, inf.bytes);
        if (inf.swap) byteswap(tmp, inf.n, inf.es);
        src = tmp;
    }
    convert(src, inf.dt, data, to, inf.n);
    ev_free_aligned(tmp);
    npy_fill(out, &inf, to, data);
    return EV_OK;
}

/* Streams the file: the header from its first bytes, then the data straight
 * into the output array (same dtype) or through a bounded buffer (byte swap,
 * conversion), so the peak memory is the output plus at most NPY_CHUNK bytes,
 * never the file and the array together. */
ev_status ev_npy_read(const char *path, ev_dtype want, ev_array *out, char *errbuf, size_t errlen)
{
    if (!path || !out) return EV_ERR_INVALID_ARG;
    memset(out, 0, sizeof *out);
    ev_err e = {0};
    int fd;
    struct stat sb;
    ev_status st = ev_open_file(path, NPY_MAX_FILE, &fd, &sb, &e);
    if (st != EV_OK) {
        ev_err_copy(&e, errbuf, errlen);
        return st;
    }
    unsigned char *head = NULL;
    void *data = NULL, *tmp = NULL;
    size_t total = (size_t)sb.st_size, got;
    size_t hcap = total < 12 + NPY_MAX_HEADER ? total : 12 + NPY_MAX_HEADER;
    head = malloc(hcap + 1);
    if (!head) {
        st = fail(errbuf, errlen, EV_ERR_NOMEM, path, "out of memory for .npy header");
        goto done;
    }
    if ((st = ev_read_full(fd, head, hcap, &got, path, &e)) != EV_OK) goto io;
    if (got < hcap) total = got; /* the file shrank */
    npy_info inf;
    if ((st = npy_head(head, got, total, path, &inf, errbuf, errlen)) != EV_OK) goto done;
    ev_dtype to = want == EV_DT_UNDEFINED ? inf.dt : want;
    if ((st = npy_alloc(&inf, to, path, &data, errbuf, errlen)) != EV_OK) goto done;
    if (lseek(fd, (off_t)inf.doff, SEEK_SET) < 0) {
        st = ev_err_set(&e, EV_ERR_IO, "cannot seek in %s: %s", path, strerror(errno));
        goto io;
    }
    size_t done_b = 0;
    if (!inf.swap && inf.dt == to) {
        if ((st = ev_read_full(fd, data, inf.bytes, &done_b, path, &e)) != EV_OK) goto io;
    } else {
        enum { NPY_CHUNK = 8 << 20 };
        size_t per = NPY_CHUNK / inf.es, os = ev_dtype_size(to);
        tmp = ev_malloc_aligned(per * inf.es);
        if (!tmp) {
            st = fail(errbuf, errlen, EV_ERR_NOMEM, path, "out of memory for .npy data");
            goto done;
        }
        for (int64_t i = 0; i < inf.n;) {
            size_t k = (size_t)(inf.n - i) < per ? (size_t)(inf.n - i) : per;
            if ((st = ev_read_full(fd, tmp, k * inf.es, &got, path, &e)) != EV_OK) goto io;
            done_b += got;
            if (got < k * inf.es) break;
            if (inf.swap) byteswap(tmp, (int64_t)k, inf.es);
            convert(tmp, inf.dt, (char *)data + (size_t)i * os, to, (int64_t)k);
            i += (int64_t)k;
        }
    }
    if (done_b < inf.bytes) {
        char what[128];
        snprintf(what, sizeof what, "truncated .npy data: header promises %zu bytes, file has %zu", inf.bytes,
                 done_b);
        st = fail(errbuf, errlen, EV_ERR_FORMAT, path, what);
        goto done;
    }
    npy_fill(out, &inf, to, data);
    data = NULL;
    goto done;
io:
    ev_err_copy(&e, errbuf, errlen);
done:
    close(fd);
    free(head);
    ev_free_aligned(tmp);
    ev_free_aligned(data);
    return st;
}

ev_status ev_npy_write(const char *path, const ev_tensor *t, char *errbuf, size_t errlen)
{
    if (!path || !t || t->rank < 0 || t->rank > EV_MAX_RANK) return EV_ERR_INVALID_ARG;
    const char *descr;
    switch (t->dtype) {
    case EV_DT_FLOAT: descr = "<f4"; break;
    case EV_DT_INT64: descr = "<i8"; break;
    case EV_DT_INT32: descr = "<i4"; break;
    case EV_DT_UINT8: descr = "|u1"; break;
    case EV_DT_BOOL: descr = "|b1"; break;
    default: return fail(errbuf, errlen, EV_ERR_UNSUPPORTED, path, "cannot write this dtype to .npy");
    }
    int64_t n = ev_tensor_numel(t);
    size_t bytes;
    if (n < 0 || !ev_mul_sz((size_t)n, ev_dtype_size(t->dtype), &bytes) || (n > 0 && !t->data))
        return fail(errbuf, errlen, EV_ERR_INVALID_ARG, path, "invalid tensor");
    char dict[512];
    size_t dl = 0;
    dl += (size_t)snprintf(dict + dl, sizeof dict - dl, "{'descr': '%s', 'fortran_order': False, 'shape': (",
                           descr);
    for (int i = 0; i < t->rank; i++)
        dl += (size_t)snprintf(dict + dl, sizeof dict - dl, i ? ", %lld" : "%lld", (long long)t->dims[i]);
    /* a 1-tuple needs its trailing comma: (n,) */
    dl += (size_t)snprintf(dict + dl, sizeof dict - dl, "%s), }", t->rank == 1 ? "," : "");
    size_t total = 10 + dl + 1;
    size_t pad = (64 - total % 64) % 64;
    size_t hlen = dl + pad + 1;
    ev_buf b;
    ev_buf_init(&b, (size_t)-1 / 2);
    unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(hlen & 0xff),
                             (unsigned char)(hlen >> 8)};
    ev_buf_append(&b, pre, sizeof pre);
    ev_buf_append(&b, dict, dl);
    for (size_t i = 0; i < pad; i++) ev_buf_append(&b, " ", 1);
    ev_buf_append(&b, "\n", 1);
    ev_buf_append(&b, t->data, bytes);
    if (b.failed) {
        ev_buf_free(&b);
        return fail(errbuf, errlen, EV_ERR_NOMEM, path, "out of memory writing .npy");
    }
    ev_err e = {0};
    ev_status st = ev_write_file_atomic(path, b.data, b.len, &e);
    ev_buf_free(&b);
    if (st != EV_OK) ev_err_copy(&e, errbuf, errlen);
    return st;
}

void ev_array_free(ev_array *a)
{
    if (!a) return;
    ev_free_aligned(a->data);
    memset(a, 0, sizeof *a);
}
