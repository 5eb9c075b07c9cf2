/*
 * lib/data/idx.c — IDX files (MNIST, Fashion-MNIST), gzip'd or raw.
 *
 * Format (big-endian): bytes 0-1 zero, byte 2 the element type (0x08 =
 * unsigned byte, the only one images and labels use), byte 3 the number of
 * dimensions, then one uint32 per dimension, then the data. Images files are
 * n x rows x cols, labels files n. Every dimension is checked against the
 * bytes present before it is used; trailing bytes are an error.
 */
#include "data/data_internal.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#define IDX_MAX_SIDE 16384

static const char *const FASHION_NAMES[10] = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                              "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
static const char *const DIGIT_NAMES[10] = {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"};

static uint32_t be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

/* Check the header; fill dims. Returns the header size or 0 with e set. */
static size_t idx_header(const uint8_t *b, size_t len, int want_rank, uint32_t *dims, const char *name,
                         ev_err *e)
{
    if (len < 4) {
        ev_err_set(e, EV_ERR_FORMAT, "%s: %zu bytes, too short for an IDX header", name, len);
        return 0;
    }
    if (b[0] != 0 || b[1] != 0) {
        ev_err_set(e, EV_ERR_FORMAT, "%s: not an IDX file (magic %02x%02x%02x%02x)", name, b[0], b[1],
                   b[2], b[3]);
        return 0;
    }
    if (b[2] != 0x08) {
        ev_err_set(e, EV_ERR_UNSUPPORTED, "%s: IDX element type 0x%02x, only unsigned bytes (0x08) are supported",
                   name, b[2]);
        return 0;
    }
    if (b[3] != want_rank) {
        ev_err_set(e, EV_ERR_FORMAT, "%s: IDX file has %d dimensions, expected %d", name, b[3], want_rank);
        return 0;
    }
    size_t hdr = 4 + 4 * (size_t)want_rank;
    if (len < hdr) {
        ev_err_set(e, EV_ERR_FORMAT, "%s: truncated IDX header", name);
        return 0;
    }
    for (int i = 0; i < want_rank; i++) dims[i] = be32(b + 4 + 4 * i);
    return hdr;
}

ev_status ds_parse_idx(ev_dataset *ds, uint8_t *images, size_t images_len, const uint8_t *labels,
                       size_t labels_len, const char *name, ev_split split, ev_err *e)
{
    uint32_t di[3], dl[1];
    size_t hi = idx_header(images, images_len, 3, di, name, e);
    if (!hi) { free(images); return e ? e->code : EV_ERR_FORMAT; }
    size_t hl = idx_header(labels, labels_len, 1, dl, name, e);
    if (!hl) { free(images); return ev_err_prefix(e, "labels"); }
    if (di[1] == 0 || di[2] == 0 || di[1] > IDX_MAX_SIDE || di[2] > IDX_MAX_SIDE) {
        free(images);
        return ev_err_set(e, EV_ERR_FORMAT, "%s: image size %ux%u out of range (1..%d)", name, di[2], di[1],
                          IDX_MAX_SIDE);
    }
    if (di[0] != dl[0]) {
        free(images);
        return ev_err_set(e, EV_ERR_FORMAT, "%s: %u images but %u labels", name, di[0], dl[0]);
    }
    if ((int64_t)di[0] > ds->opt.max_items - ds->n_items) {
        free(images);
        return ev_err_set(e, EV_ERR_LIMIT, "%s: %u items, over the max_items limit", name, di[0]);
    }
    size_t per = (size_t)di[1] * di[2], need;
    if (!ev_mul_sz(per, di[0], &need) || images_len - hi != need) {
        free(images);
        return ev_err_set(e, EV_ERR_FORMAT, "%s: header says %u images of %ux%u (%zu bytes) but %zu bytes follow",
                          name, di[0], di[2], di[1], need, images_len - hi);
    }
    if (labels_len - hl != dl[0]) {
        free(images);
        return ev_err_set(e, EV_ERR_FORMAT, "%s: labels header says %u but %zu bytes follow", name, dl[0],
                          labels_len - hl);
    }
    ev_status st = ds_add_blob(ds, images, e);
    if (st != EV_OK) return st;
    const char *base = strrchr(name, '/');
    base = base ? base + 1 : name;
    for (uint32_t i = 0; i < di[0]; i++) {
        uint8_t lab = labels[hl + i];
        if (lab > 9)
            return ev_err_set(e, EV_ERR_DATA, "%s: item %u has label %u, expected 0..9", name, i, lab);
        char nm[600];
        snprintf(nm, sizeof nm, "%s[%u]", base, i);
        ds_item it = {0};
        it.name = ev_arena_strdup(&ds->arena, nm);
        if (!it.name) return ev_err_set(e, EV_ERR_NOMEM, "out of memory");
        it.pixels = images + hi + (size_t)i * per;
        it.w = (int32_t)di[2];
        it.h = (int32_t)di[1];
        it.c = 1;
        it.label = lab;
        it.split = (int8_t)split;
        EV_TRY(ds_add_item(ds, &it, e));
    }
    return EV_OK;
}

/* "train-images-idx3-ubyte.gz" -> "train-labels-idx1-ubyte.gz"; also the
 * "images.idx3-ubyte" spelling. Returns false when no pattern matches. */
static bool labels_path_for(const char *images, char *out, size_t len)
{
    static const char *const pats[][2] = {{"images-idx3", "labels-idx1"}, {"images.idx3", "labels.idx1"}};
    for (size_t k = 0; k < 2; k++) {
        const char *base = strrchr(images, '/');
        base = base ? base + 1 : images;
        const char *p = strstr(base, pats[k][0]);
        if (!p) continue;
        int n = snprintf(out, len, "%.*s%s%s", (int)(p - images), images, pats[k][1], p + strlen(pats[k][0]));
        return n > 0 && (size_t)n < len;
    }
    return false;
}

static ev_split split_from_name(const char *path)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    if (!strncasecmp(base, "train", 5)) return EV_SPLIT_TRAIN;
    if (!strncasecmp(base, "t10k", 4) || !strncasecmp(base, "test", 4)) return EV_SPLIT_TEST;
    if (!strncasecmp(base, "val", 3)) return EV_SPLIT_VAL;
    return EV_SPLIT_NONE;
}

static ev_status load_pair(ev_dataset *ds, const char *images_path, ev_err *e)
{
    char lp[4096];
    if (!labels_path_for(images_path, lp, sizeof lp))
        return ev_err_set(e, EV_ERR_NOT_FOUND,
                          "%s: cannot derive the labels file name (expected '...images-idx3...')", images_path);
    uint8_t *img = NULL, *lab = NULL;
    size_t ni, nl;
    EV_TRY(ds_read_maybe_gz(images_path, ds->opt.max_file_bytes, &img, &ni, e));
    ev_status st = ds_read_maybe_gz(lp, ds->opt.max_file_bytes, &lab, &nl, e);
    if (st != EV_OK) {
        free(img);
        return ev_err_prefix(e, "labels for %s", images_path);
    }
    st = ds_parse_idx(ds, img, ni, lab, nl, images_path, split_from_name(images_path), e); /* owns img */
    free(lab);
    return st;
}

static int cmp_pair(const void *a, const void *b)
{
    const char *x = *(const char *const *)a, *y = *(const char *const *)b;
    int sx = split_from_name(x), sy = split_from_name(y);
    /* train, val, test, then split-less files */
    int ox = sx == EV_SPLIT_NONE ? 9 : sx, oy = sy == EV_SPLIT_NONE ? 9 : sy;
    if (ox != oy) return ox - oy;
    return strcmp(x, y);
}

ev_status ds_open_idx(ev_dataset *ds, const char *path, ev_err *e)
{
    struct stat st;
    if (stat(path, &st) != 0) return ev_err_set(e, EV_ERR_IO, "cannot open %s", path);
    if (!S_ISDIR(st.st_mode)) {
        EV_TRY(load_pair(ds, path, e));
    } else {
        DIR *d = opendir(path);
        if (!d) return ev_err_set(e, EV_ERR_IO, "cannot read directory %s", path);
        char *files[64];
        int nf = 0;
        struct dirent *de;
        while ((de = readdir(d)) != NULL && nf < 64) {
            if (de->d_name[0] == '.') continue;
            if (!strstr(de->d_name, "images-idx3-ubyte") && !strstr(de->d_name, "images.idx3-ubyte")) continue;
            size_t n = strlen(path) + strlen(de->d_name) + 2;
            files[nf] = malloc(n);
            if (!files[nf]) break;
            snprintf(files[nf], n, "%s/%s", path, de->d_name);
            nf++;
        }
        closedir(d);
        if (nf == 0) return ev_err_set(e, EV_ERR_NOT_FOUND, "no IDX images file (*-images-idx3-ubyte[.gz]) in %s", path);
        qsort(files, (size_t)nf, sizeof *files, cmp_pair);
        ev_status s2 = EV_OK;
        for (int i = 0; i < nf && s2 == EV_OK; i++) {
            /* a raw and a gz copy of the same file: keep the first only */
            if (i > 0 && split_from_name(files[i]) == split_from_name(files[i - 1]) &&
                split_from_name(files[i]) != EV_SPLIT_NONE) {
                ds_warn(ds, "ignored %s (another file of the same split was read)", files[i]);
                continue;
            }
            if (!ds_wants_split(ds, split_from_name(files[i]))) continue;
            s2 = load_pair(ds, files[i], e);
        }
        for (int i = 0; i < nf; i++) free(files[i]);
        if (s2 != EV_OK) return s2;
    }
    /* Fashion-MNIST is recognised by its location/name; other IDX sets are digits. */
    bool fashion = strcasestr(path, "fashion") != NULL;
    return ds_set_classes(ds, fashion ? FASHION_NAMES : DIGIT_NAMES, 10, e);
}
