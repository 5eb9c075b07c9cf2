/*
 * lib/data/dataset.c — the dataset object: spec resolution, item storage,
 * class names, stratified seeded selection.
 */
#include "data/data_internal.h"

#include <ctype.h>
#include <errno.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#define DS_DEFAULT_MAX_LINE ((int64_t)64 << 10)
#define DS_DEFAULT_MAX_ITEMS ((int64_t)10000000)
#define DS_DEFAULT_MAX_FILE ((int64_t)4 << 30)
#define DS_DEFAULT_MAX_DEPTH 16
#define DS_MAX_WARNINGS 1000

static const char FASHION_MNIST_DIR[] = "/usr/share/datasets/fashion-mnist";

ev_dataset_options ev_dataset_default_options(void)
{
    ev_dataset_options o;
    memset(&o, 0, sizeof o);
    o.format = EV_DS_AUTO;
    o.max_line_bytes = DS_DEFAULT_MAX_LINE;
    o.max_items = DS_DEFAULT_MAX_ITEMS;
    o.max_file_bytes = DS_DEFAULT_MAX_FILE;
    o.max_depth = DS_DEFAULT_MAX_DEPTH;
    o.load_split = EV_SPLIT_ALL;
    return o;
}

bool ds_wants_split(const ev_dataset *ds, ev_split sp)
{
    /* EV_SPLIT_ALL and 0 (a zeroed options struct) both mean everything */
    return ds->opt.load_split <= EV_SPLIT_NONE || ds->opt.load_split == sp;
}

static ev_dataset_options resolve_options(const ev_dataset_options *opt)
{
    ev_dataset_options o = opt ? *opt : ev_dataset_default_options();
    if (o.max_line_bytes <= 0) o.max_line_bytes = DS_DEFAULT_MAX_LINE;
    if (o.max_items <= 0) o.max_items = DS_DEFAULT_MAX_ITEMS;
    if (o.max_file_bytes <= 0) o.max_file_bytes = DS_DEFAULT_MAX_FILE;
    if (o.max_depth <= 0) o.max_depth = DS_DEFAULT_MAX_DEPTH;
    return o;
}

ev_dataset *ds_new(ev_dataset_format format, const ev_dataset_options *opt)
{
    ev_dataset *ds = calloc(1, sizeof *ds);
    if (!ds) return NULL;
    ev_arena_init(&ds->arena, 0);
    ds->format = format;
    ds->opt = resolve_options(opt);
    ds->root = "";
    return ds;
}

void ev_dataset_free(ev_dataset *ds)
{
    if (!ds) return;
    for (int i = 0; i < ds->n_blobs; i++) free(ds->blobs[i]);
    free(ds->blobs);
    for (int i = 0; i < ds->n_warn; i++) free(ds->warnings[i]);
    free(ds->warnings);
    free(ds->items);
    free(ds->sel);
    free(ds->classes);
    ev_arena_free(&ds->arena);
    free(ds);
}

const char *ev_dataset_errmsg(const ev_dataset *ds) { return ds ? ds->errmsg : ""; }

ev_status ds_add_item(ev_dataset *ds, const ds_item *it, ev_err *e)
{
    if (ds->n_items >= ds->opt.max_items)
        return ev_err_set(e, EV_ERR_LIMIT, "more than %lld items (the max_items limit)",
                          (long long)ds->opt.max_items);
    if (ds->n_items == ds->cap_items) {
        int64_t cap = ds->cap_items ? ds->cap_items * 2 : 1024;
        size_t bytes;
        if (!ev_mul_sz((size_t)cap, sizeof(ds_item), &bytes))
            return ev_err_set(e, EV_ERR_NOMEM, "out of memory (items)");
        ds_item *n = realloc(ds->items, bytes);
        if (!n) return ev_err_set(e, EV_ERR_NOMEM, "out of memory (items)");
        ds->items = n;
        ds->cap_items = cap;
    }
    ds->items[ds->n_items++] = *it;
    return EV_OK;
}

ev_status ds_add_blob(ev_dataset *ds, uint8_t *blob, ev_err *e)
{
    if (ds->n_blobs == ds->cap_blobs) {
        int cap = ds->cap_blobs ? ds->cap_blobs * 2 : 8;
        uint8_t **n = realloc(ds->blobs, (size_t)cap * sizeof *n);
        if (!n) {
            free(blob);
            return ev_err_set(e, EV_ERR_NOMEM, "out of memory");
        }
        ds->blobs = n;
        ds->cap_blobs = cap;
    }
    ds->blobs[ds->n_blobs++] = blob;
    return EV_OK;
}

void ds_warn(ev_dataset *ds, const char *fmt, ...)
{
    if (ds->n_warn >= DS_MAX_WARNINGS) return;
    if (ds->n_warn == ds->cap_warn) {
        int cap = ds->cap_warn ? ds->cap_warn * 2 : 8;
        char **n = realloc(ds->warnings, (size_t)cap * sizeof *n);
        if (!n) return;
        ds->warnings = n;
        ds->cap_warn = cap;
    }
    char msg[EV_ERRLEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    char *d = ev_strdup(msg);
    if (d) ds->warnings[ds->n_warn++] = d;
}

int ev_dataset_num_warnings(const ev_dataset *ds) { return ds ? ds->n_warn : 0; }

const char *ev_dataset_warning(const ev_dataset *ds, int i)
{
    return (ds && i >= 0 && i < ds->n_warn) ? ds->warnings[i] : NULL;
}

/* ---- labels ----------------------------------------------------------- */
bool ds_label_ok(const char *s, size_t len)
{
    if (len == 0) return false;
    const unsigned char *p = (const unsigned char *)s, *end = p + len;
    while (p < end) {
        unsigned c = *p;
        if (c < 0x80) {
            if (c < 0x20 || c == 0x7f) return false;
            p++;
            continue;
        }
        int n;
        uint32_t cp;
        if (c >= 0xc2 && c <= 0xdf) { n = 1; cp = c & 0x1f; }
        else if (c >= 0xe0 && c <= 0xef) { n = 2; cp = c & 0x0f; }
        else if (c >= 0xf0 && c <= 0xf4) { n = 3; cp = c & 0x07; }
        else return false;
        if (end - p <= n) return false;
        for (int k = 1; k <= n; k++) {
            if ((p[k] & 0xc0) != 0x80) return false;
            cp = (cp << 6) | (p[k] & 0x3f);
        }
        if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        if (cp >= 0x80 && cp < 0xa0) return false; /* C1 controls */
        p += n + 1;
    }
    return true;
}

ev_status ds_set_classes(ev_dataset *ds, const char *const *names, int n, ev_err *e)
{
    free(ds->classes);
    ds->n_classes = 0;
    ds->classes = calloc((size_t)(n > 0 ? n : 1), sizeof *ds->classes);
    if (!ds->classes) return ev_err_set(e, EV_ERR_NOMEM, "out of memory");
    for (int i = 0; i < n; i++) {
        if (!ds_label_ok(names[i], strlen(names[i])))
            return ev_err_set(e, EV_ERR_DATA,
                              "class name %d is empty, not valid UTF-8 or holds control characters",
                              i);
        ds->classes[i] = ev_arena_strdup(&ds->arena, names[i]);
        if (!ds->classes[i]) return ev_err_set(e, EV_ERR_NOMEM, "out of memory");
    }
    ds->n_classes = n;
    return EV_OK;
}

/* Canonical non-negative integer: digits only, no leading zero, <= 18 digits. */
static bool canonical_uint(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 18) return false;
    if (n > 1 && s[0] == '0') return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9') return false;
    return true;
}

typedef struct {
    const char *s;
    int numeric;
} label_key;

static int cmp_label_key(const void *a, const void *b)
{
    const label_key *x = a, *y = b;
    if (x->numeric) {
        size_t lx = strlen(x->s), ly = strlen(y->s);
        if (lx != ly) return lx < ly ? -1 : 1;
    }
    return strcmp(x->s, y->s);
}

ev_status ds_labels_from_strings(ev_dataset *ds, ev_err *e)
{
    int64_t n = ds->n_items;
    if (n == 0) return ev_err_set(e, EV_ERR_DATA, "no items");
    int numeric = 1;
    for (int64_t i = 0; i < n && numeric; i++)
        if (!canonical_uint(ds->items[i].label_str)) numeric = 0;
    label_key *keys = malloc((size_t)n * sizeof *keys);
    if (!keys) return ev_err_set(e, EV_ERR_NOMEM, "out of memory");
    for (int64_t i = 0; i < n; i++) {
        keys[i].s = ds->items[i].label_str;
        keys[i].numeric = numeric;
    }
    qsort(keys, (size_t)n, sizeof *keys, cmp_label_key);
    int64_t distinct = 0;
    for (int64_t i = 0; i < n; i++)
        if (i == 0 || strcmp(keys[i].s, keys[i - 1].s) != 0) keys[distinct++] = keys[i];
    if (distinct > INT32_MAX) {
        free(keys);
        return ev_err_set(e, EV_ERR_LIMIT, "too many distinct labels");
    }
    ds->classes = calloc((size_t)distinct, sizeof *ds->classes);
    if (!ds->classes) {
        free(keys);
        return ev_err_set(e, EV_ERR_NOMEM, "out of memory");
    }
    for (int64_t k = 0; k < distinct; k++) ds->classes[k] = keys[k].s;
    ds->n_classes = (int)distinct;
    /* map each item's label string to its class by binary search */
    for (int64_t i = 0; i < n; i++) {
        label_key want = {ds->items[i].label_str, numeric};
        label_key *hit = bsearch(&want, keys, (size_t)distinct, sizeof *keys, cmp_label_key);
        if (!hit) {
            free(keys);
            return ev_err_set(e, EV_ERR_INTERNAL, "label lookup failed");
        }
        ds->items[i].label = (int32_t)(hit - keys);
    }
    free(keys);
    return EV_OK;
}

/* ---- small helpers ------------------------------------------------------ */
bool ds_has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcasecmp(s + n - m, suffix) == 0;
}

int ds_parse_split(const char *s, size_t len, ev_split *out)
{
    static const struct {
        const char *name;
        ev_split split;
    } names[] = {{"train", EV_SPLIT_TRAIN},      {"training", EV_SPLIT_TRAIN},
                 {"val", EV_SPLIT_VAL},          {"valid", EV_SPLIT_VAL},
                 {"validation", EV_SPLIT_VAL},   {"test", EV_SPLIT_TEST},
                 {"testing", EV_SPLIT_TEST}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strlen(names[i].name) == len && strncasecmp(names[i].name, s, len) == 0) {
            *out = names[i].split;
            return 0;
        }
    return -1;
}

const char *ev_split_name(ev_split split)
{
    switch (split) {
    case EV_SPLIT_ALL: return "all";
    case EV_SPLIT_NONE: return "none";
    case EV_SPLIT_TRAIN: return "train";
    case EV_SPLIT_VAL: return "val";
    case EV_SPLIT_TEST: return "test";
    }
    return "?";
}

int ev_split_parse(const char *s, ev_split *out)
{
    if (!s || !out) return -1;
    if (!strcasecmp(s, "all")) { *out = EV_SPLIT_ALL; return 0; }
    if (!strcasecmp(s, "none")) { *out = EV_SPLIT_NONE; return 0; }
    return ds_parse_split(s, strlen(s), out);
}

ev_status ds_read_maybe_gz(const char *path, int64_t max, uint8_t **out, size_t *len, ev_err *e)
{
    *out = NULL;
    *len = 0;
    struct stat st;
    if (stat(path, &st) != 0) return ev_err_set(e, EV_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    if (S_ISDIR(st.st_mode)) return ev_err_set(e, EV_ERR_IO, "%s is a directory, expected a file", path);
    gzFile gz = gzopen(path, "rb");
    if (!gz) return ev_err_set(e, EV_ERR_IO, "cannot open %s: %s", path, strerror(errno ? errno : ENOMEM));
    gzbuffer(gz, 1 << 17);
    size_t cap = 0, n = 0;
    uint8_t *buf = NULL;
    ev_status st_ = EV_OK;
    for (;;) {
        if (n == cap) {
            if ((int64_t)cap >= max) {
                /* at the cap: only fine if the stream ends exactly here */
                unsigned char probe;
                int r = gzread(gz, &probe, 1);
                if (r > 0) {
                    st_ = ev_err_set(e, EV_ERR_LIMIT, "%s is over the limit of %lld bytes (decompressed)",
                                     path, (long long)max);
                    break;
                }
                if (r < 0) {
                    int zerr;
                    const char *m = gzerror(gz, &zerr);
                    st_ = ev_err_set(e, EV_ERR_FORMAT, "%s: corrupt gzip data (%s)", path, m);
                }
                break;
            }
            size_t ncap = cap ? cap * 2 : ((size_t)1 << 20);
            if ((int64_t)ncap > max) ncap = (size_t)max;
            uint8_t *nb = realloc(buf, ncap ? ncap : 1);
            if (!nb) {
                st_ = ev_err_set(e, EV_ERR_NOMEM, "out of memory reading %s", path);
                break;
            }
            buf = nb;
            cap = ncap;
        }
        size_t want = cap - n;
        if (want > (1u << 30)) want = 1u << 30;
        int r = gzread(gz, buf + n, (unsigned)want);
        if (r < 0) {
            int zerr;
            const char *m = gzerror(gz, &zerr);
            st_ = ev_err_set(e, zerr == Z_ERRNO ? EV_ERR_IO : EV_ERR_FORMAT, "%s: %s", path,
                             zerr == Z_ERRNO ? strerror(errno) : m);
            break;
        }
        if (r == 0) break;
        n += (size_t)r;
    }
    int cr = gzclose_r(gz);
    if (st_ == EV_OK && cr == Z_BUF_ERROR)
        st_ = ev_err_set(e, EV_ERR_FORMAT, "%s: truncated gzip stream", path);
    if (st_ != EV_OK) {
        free(buf);
        return st_;
    }
    *out = buf;
    *len = n;
    return EV_OK;
}

/* ---- spec resolution ----------------------------------------------------- */
static const struct {
    const char *name;
    ev_dataset_format fmt;
} FORMAT_NAMES[] = {{"imagefolder", EV_DS_IMAGEFOLDER}, {"csv", EV_DS_CSV},
                    {"jsonl", EV_DS_JSONL},             {"idx", EV_DS_IDX},
                    {"cifar10", EV_DS_CIFAR10},         {"cifar100", EV_DS_CIFAR100}};

const char *ev_dataset_format_name(const ev_dataset *ds)
{
    if (!ds) return "?";
    for (size_t i = 0; i < sizeof FORMAT_NAMES / sizeof FORMAT_NAMES[0]; i++)
        if (FORMAT_NAMES[i].fmt == ds->format) return FORMAT_NAMES[i].name;
    return "?";
}

const char *ev_dataset_root(const ev_dataset *ds) { return ds ? ds->root : ""; }

static bool dir_has(const char *dir, const char *name)
{
    char p[4096];
    struct stat st;
    int n = snprintf(p, sizeof p, "%s/%s", dir, name);
    return n > 0 && (size_t)n < sizeof p && stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

static bool dir_has_idx(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return false;
    bool found = false;
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        if (strstr(de->d_name, "idx3-ubyte")) { found = true; break; }
    closedir(d);
    return found;
}

static ev_dataset_format detect_format(const char *path, const struct stat *st)
{
    if (S_ISDIR(st->st_mode)) {
        if (dir_has(path, "data_batch_1.bin") || dir_has(path, "test_batch.bin")) return EV_DS_CIFAR10;
        if ((dir_has(path, "train.bin") || dir_has(path, "test.bin")) &&
            (dir_has(path, "fine_label_names.txt") || dir_has(path, "coarse_label_names.txt")))
            return EV_DS_CIFAR100;
        if (dir_has_idx(path)) return EV_DS_IDX;
        return EV_DS_IMAGEFOLDER;
    }
    if (ds_has_suffix(path, ".csv")) return EV_DS_CSV;
    if (ds_has_suffix(path, ".jsonl") || ds_has_suffix(path, ".ndjson")) return EV_DS_JSONL;
    if (strstr(path, "idx3-ubyte")) return EV_DS_IDX;
    if (ds_has_suffix(path, ".bin")) {
        const char *base = strrchr(path, '/');
        base = base ? base + 1 : path;
        if (!strncmp(base, "data_batch", 10) || !strncmp(base, "test_batch", 10)) return EV_DS_CIFAR10;
        if (st->st_size > 0 && st->st_size % 3073 == 0 && st->st_size % 3074 != 0) return EV_DS_CIFAR10;
        if (st->st_size > 0 && st->st_size % 3074 == 0 && st->st_size % 3073 != 0) return EV_DS_CIFAR100;
        return EV_DS_CIFAR10;
    }
    return EV_DS_AUTO;
}

static ev_status open_path(ev_dataset *ds, const char *path, ev_dataset_format fmt, ev_err *e)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return ev_err_set(e, EV_ERR_IO, "cannot open dataset %s: %s", path, strerror(errno));
    if (fmt == EV_DS_AUTO) fmt = detect_format(path, &st);
    if (fmt == EV_DS_AUTO)
        return ev_err_set(e, EV_ERR_UNSUPPORTED,
                          "cannot tell the dataset format of %s (expected a directory, *.csv, "
                          "*.jsonl, an IDX file or CIFAR batches; or prefix FORMAT:)",
                          path);
    ds->format = fmt;
    ds->root = ev_arena_strdup(&ds->arena, path);
    if (!ds->root) return ev_err_set(e, EV_ERR_NOMEM, "out of memory");
    switch (fmt) {
    case EV_DS_IMAGEFOLDER:
        if (!S_ISDIR(st.st_mode)) return ev_err_set(e, EV_ERR_IO, "%s is not a directory (ImageFolder)", path);
        return ds_open_imagefolder(ds, path, e);
    case EV_DS_CSV:
    case EV_DS_JSONL:
        return ds_open_manifest(ds, path, fmt, e);
    case EV_DS_IDX:
        return ds_open_idx(ds, path, e);
    case EV_DS_CIFAR10:
    case EV_DS_CIFAR100:
        return ds_open_cifar(ds, path, fmt, e);
    default:
        return ev_err_set(e, EV_ERR_INVALID_ARG, "unknown dataset format");
    }
}

static ev_status finish(ev_dataset *ds, ev_status st, const ev_err *err, ev_dataset **out,
                        char *errbuf, size_t errlen)
{
    if (st == EV_OK && ds->n_items == 0) {
        ev_err e2;
        if (ds->opt.load_split > EV_SPLIT_NONE)
            st = ev_err_set(&e2, EV_ERR_DATA, "dataset %s has no items in split '%s'", ds->root,
                            ev_split_name(ds->opt.load_split));
        else
            st = ev_err_set(&e2, EV_ERR_DATA, "dataset %s has no items", ds->root);
        ev_err_copy(&e2, errbuf, errlen);
        ev_dataset_free(ds);
        return st;
    }
    if (st != EV_OK) {
        ev_err_copy(err, errbuf, errlen);
        ev_dataset_free(ds);
        return st;
    }
    *out = ds;
    if (errbuf && errlen) errbuf[0] = 0;
    return EV_OK;
}

ev_status ev_dataset_open(const char *spec, const ev_dataset_options *opt, ev_dataset **out,
                          char *errbuf, size_t errlen)
{
    ev_err e;
    ev_err_clear(&e);
    if (out) *out = NULL;
    if (!spec || !*spec || !out) {
        ev_err_set(&e, EV_ERR_INVALID_ARG, "empty dataset spec");
        ev_err_copy(&e, errbuf, errlen);
        return EV_ERR_INVALID_ARG;
    }
    ev_dataset_options o = resolve_options(opt);
    ev_dataset_format fmt = o.format;
    const char *path = spec;
    if (!strcasecmp(spec, "fashion-mnist") || !strcasecmp(spec, "fashion_mnist")) {
        path = FASHION_MNIST_DIR;
        fmt = EV_DS_IDX;
    } else {
        const char *colon = strchr(spec, ':');
        if (colon) {
            for (size_t i = 0; i < sizeof FORMAT_NAMES / sizeof FORMAT_NAMES[0]; i++) {
                size_t n = strlen(FORMAT_NAMES[i].name);
                if ((size_t)(colon - spec) == n && !strncasecmp(spec, FORMAT_NAMES[i].name, n)) {
                    fmt = FORMAT_NAMES[i].fmt;
                    path = colon + 1;
                    if (!strcasecmp(path, "fashion-mnist") && fmt == EV_DS_IDX) path = FASHION_MNIST_DIR;
                    break;
                }
            }
        }
    }
    if (!*path) {
        ev_err_set(&e, EV_ERR_INVALID_ARG, "empty dataset path in '%s'", spec);
        ev_err_copy(&e, errbuf, errlen);
        return EV_ERR_INVALID_ARG;
    }
    ev_dataset *ds = ds_new(fmt, &o);
    if (!ds) {
        ev_err_set(&e, EV_ERR_NOMEM, "out of memory");
        ev_err_copy(&e, errbuf, errlen);
        return EV_ERR_NOMEM;
    }
    ev_status st = open_path(ds, path, fmt, &e);
    return finish(ds, st, &e, out, errbuf, errlen);
}

ev_status ev_dataset_parse_manifest(const void *buf, size_t len, const char *name,
                                    const char *base_dir, ev_dataset_format format,
                                    const ev_dataset_options *opt, ev_dataset **out,
                                    char *errbuf, size_t errlen)
{
    ev_err e;
    ev_err_clear(&e);
    *out = NULL;
    if (format != EV_DS_CSV && format != EV_DS_JSONL) {
        ev_err_set(&e, EV_ERR_INVALID_ARG, "manifest format must be CSV or JSONL");
        ev_err_copy(&e, errbuf, errlen);
        return EV_ERR_INVALID_ARG;
    }
    ev_dataset *ds = ds_new(format, opt);
    if (!ds) return EV_ERR_NOMEM;
    ds->root = ev_arena_strdup(&ds->arena, name ? name : "<memory>");
    ev_status st = ds_parse_manifest(ds, buf, len, name ? name : "<memory>",
                                     base_dir ? base_dir : ".", format, &e);
    return finish(ds, st, &e, out, errbuf, errlen);
}

ev_status ev_dataset_parse_idx(const void *images, size_t images_len, const void *labels,
                               size_t labels_len, const char *name, const ev_dataset_options *opt,
                               ev_dataset **out, char *errbuf, size_t errlen)
{
    ev_err e;
    ev_err_clear(&e);
    *out = NULL;
    ev_dataset *ds = ds_new(EV_DS_IDX, opt);
    if (!ds) return EV_ERR_NOMEM;
    ds->root = ev_arena_strdup(&ds->arena, name ? name : "<memory>");
    uint8_t *copy = malloc(images_len ? images_len : 1);
    ev_status st;
    if (!copy) st = ev_err_set(&e, EV_ERR_NOMEM, "out of memory");
    else {
        if (images_len) memcpy(copy, images, images_len);
        st = ds_parse_idx(ds, copy, images_len, labels, labels_len, name ? name : "<memory>",
                          EV_SPLIT_NONE, &e);
        if (st == EV_OK) {
            static const char *const digits[] = {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"};
            st = ds_set_classes(ds, digits, 10, &e);
        }
    }
    return finish(ds, st, &e, out, errbuf, errlen);
}

ev_status ev_dataset_parse_cifar(const void *buf, size_t len, const char *name,
                                 ev_dataset_format format, const ev_dataset_options *opt,
                                 ev_dataset **out, char *errbuf, size_t errlen)
{
    ev_err e;
    ev_err_clear(&e);
    *out = NULL;
    if (format != EV_DS_CIFAR10 && format != EV_DS_CIFAR100) {
        ev_err_set(&e, EV_ERR_INVALID_ARG, "format must be CIFAR-10 or CIFAR-100");
        ev_err_copy(&e, errbuf, errlen);
        return EV_ERR_INVALID_ARG;
    }
    ev_dataset *ds = ds_new(format, opt);
    if (!ds) return EV_ERR_NOMEM;
    ds->root = ev_arena_strdup(&ds->arena, name ? name : "<memory>");
    uint8_t *copy = malloc(len ? len : 1);
    ev_status st;
    if (!copy) st = ev_err_set(&e, EV_ERR_NOMEM, "out of memory");
    else {
        if (len) memcpy(copy, buf, len);
        st = ds_parse_cifar(ds, copy, len, name ? name : "<memory>", format, EV_SPLIT_NONE, &e);
        if (st == EV_OK) st = ds_cifar_set_classes(ds, NULL, format, &e);
    }
    return finish(ds, st, &e, out, errbuf, errlen);
}

/* ---- access --------------------------------------------------------------- */
int64_t ev_dataset_count(const ev_dataset *ds)
{
    if (!ds) return 0;
    return ds->sel ? ds->n_sel : ds->n_items;
}

int64_t ev_dataset_total(const ev_dataset *ds) { return ds ? ds->n_items : 0; }

ev_status ev_dataset_item(const ev_dataset *ds, int64_t i, ev_item *out)
{
    if (!ds || !out || i < 0 || i >= ev_dataset_count(ds)) return EV_ERR_INVALID_ARG;
    int64_t k = ds->sel ? ds->sel[i] : i;
    const ds_item *it = &ds->items[k];
    out->path = it->path;
    out->name = it->name;
    out->pixels = it->pixels;
    out->width = it->w;
    out->height = it->h;
    out->channels = it->c;
    out->label = it->label;
    out->split = (ev_split)it->split;
    out->index = k;
    return EV_OK;
}

int ev_dataset_num_classes(const ev_dataset *ds) { return ds ? ds->n_classes : 0; }

const char *ev_dataset_class_name(const ev_dataset *ds, int k)
{
    return (ds && k >= 0 && k < ds->n_classes) ? ds->classes[k] : NULL;
}

int64_t ev_dataset_split_count(const ev_dataset *ds, ev_split split)
{
    if (!ds) return 0;
    if (split == EV_SPLIT_ALL) return ds->n_items;
    int64_t n = 0;
    for (int64_t i = 0; i < ds->n_items; i++)
        if (ds->items[i].split == (int8_t)split) n++;
    return n;
}

/* ---- stratified seeded selection ---------------------------------------- */
static uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Uniform integer in [0, n) without modulo bias (Lemire's method). */
static uint64_t rand_below(uint64_t *s, uint64_t n)
{
    uint64_t x = splitmix64(s);
    __uint128_t m = (__uint128_t)x * n;
    uint64_t l = (uint64_t)m;
    if (l < n) {
        uint64_t t = -n % n;
        while (l < t) {
            x = splitmix64(s);
            m = (__uint128_t)x * n;
            l = (uint64_t)m;
        }
    }
    return (uint64_t)(m >> 64);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

typedef struct {
    int cls;
    int64_t rem;   /* remainder numerator: limit * n_c mod n */
} quota_rem;

static int cmp_rem(const void *a, const void *b)
{
    const quota_rem *x = a, *y = b;
    if (x->rem != y->rem) return x->rem > y->rem ? -1 : 1;
    return x->cls - y->cls;
}

ev_status ev_dataset_select(ev_dataset *ds, ev_split split, int64_t limit, uint64_t seed)
{
    if (!ds) return EV_ERR_INVALID_ARG;
    ev_err e;
    ev_err_clear(&e);
    int64_t n = 0;
    for (int64_t i = 0; i < ds->n_items; i++)
        if (split == EV_SPLIT_ALL || ds->items[i].split == (int8_t)split) n++;
    if (n == 0) {
        ev_err_set(&e, EV_ERR_NOT_FOUND, "no items in split '%s' of %s", ev_split_name(split), ds->root);
        ev_err_copy(&e, ds->errmsg, sizeof ds->errmsg);
        return e.code;
    }
    int64_t *idx = malloc((size_t)n * sizeof *idx);
    if (!idx) return EV_ERR_NOMEM;
    int64_t m = 0;
    for (int64_t i = 0; i < ds->n_items; i++)
        if (split == EV_SPLIT_ALL || ds->items[i].split == (int8_t)split) idx[m++] = i;
    if (limit > 0 && limit < n) {
        int nc = ds->n_classes;
        int64_t *count = calloc((size_t)nc + 1, sizeof *count);
        int64_t *quota = calloc((size_t)nc + 1, sizeof *quota);
        int64_t *start = calloc((size_t)nc + 1, sizeof *start);
        quota_rem *rems = calloc((size_t)nc + 1, sizeof *rems);
        int64_t *byclass = malloc((size_t)n * sizeof *byclass);
        if (!count || !quota || !start || !rems || !byclass) {
            free(count); free(quota); free(start); free(rems); free(byclass); free(idx);
            return EV_ERR_NOMEM;
        }
        for (int64_t i = 0; i < n; i++) count[ds->items[idx[i]].label]++;
        int64_t given = 0;
        for (int c = 0; c < nc; c++) {
            __int128 num = (__int128)limit * count[c];
            quota[c] = (int64_t)(num / n);
            rems[c].cls = c;
            rems[c].rem = (int64_t)(num % n);
            given += quota[c];
        }
        qsort(rems, (size_t)nc, sizeof *rems, cmp_rem);
        for (int r = 0; given < limit && r < nc; r++) {
            int c = rems[r].cls;
            if (quota[c] < count[c]) { quota[c]++; given++; }
        }
        /* bucket the items by class, keeping dataset order inside a class */
        for (int c = 1; c <= nc; c++) start[c] = start[c - 1] + count[c - 1];
        int64_t *fill = calloc((size_t)nc + 1, sizeof *fill);
        if (!fill) {
            free(count); free(quota); free(start); free(rems); free(byclass); free(idx);
            return EV_ERR_NOMEM;
        }
        for (int64_t i = 0; i < n; i++) {
            int c = ds->items[idx[i]].label;
            byclass[start[c] + fill[c]++] = idx[i];
        }
        m = 0;
        for (int c = 0; c < nc; c++) {
            /* per-class stream: the same seed and class always draw the same items */
            uint64_t s = seed ^ (0xd1b54a32d192ed03ULL * (uint64_t)(c + 1));
            int64_t *b = byclass + start[c];
            for (int64_t k = 0; k < quota[c]; k++) { /* partial Fisher-Yates */
                int64_t j = k + (int64_t)rand_below(&s, (uint64_t)(count[c] - k));
                int64_t t = b[k]; b[k] = b[j]; b[j] = t;
                idx[m++] = b[k];
            }
        }
        qsort(idx, (size_t)m, sizeof *idx, cmp_i64);
        free(count); free(quota); free(start); free(rems); free(byclass); free(fill);
    }
    free(ds->sel);
    ds->sel = idx;
    ds->n_sel = m;
    return EV_OK;
}
