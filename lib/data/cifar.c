/*
 * lib/data/cifar.c — CIFAR-10 / CIFAR-100 binary batches.
 *
 * CIFAR-10 record: 1 label byte + 3072 pixel bytes (1024 red, 1024 green,
 * 1024 blue, each 32x32 row-major). CIFAR-100 record: coarse label byte,
 * fine label byte, 3072 pixel bytes. A file must be a whole number of
 * records. Pixels are converted in place to HWC.
 */
#include "data/data_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define CIFAR_PIX 3072

static const char *const CIFAR10_NAMES[10] = {"airplane", "automobile", "bird",  "cat",  "deer",
                                              "dog",      "frog",       "horse", "ship", "truck"};

ev_status ds_parse_cifar(ev_dataset *ds, uint8_t *buf, size_t len, const char *name, ev_dataset_format fmt,
                         ev_split split, ev_err *e)
{
    size_t lab_bytes = fmt == EV_DS_CIFAR100 ? 2 : 1, rec = lab_bytes + CIFAR_PIX;
    int n_labels = fmt == EV_DS_CIFAR100 ? (ds->opt.cifar100_coarse ? 20 : 100) : 10;
    if (len == 0 || len % rec != 0) {
        free(buf);
        return ev_err_set(e, EV_ERR_FORMAT, "%s: %zu bytes is not a whole number of %zu-byte CIFAR-%d records",
                          name, len, rec, fmt == EV_DS_CIFAR100 ? 100 : 10);
    }
    size_t n = len / rec;
    if ((int64_t)n > ds->opt.max_items - ds->n_items) {
        free(buf);
        return ev_err_set(e, EV_ERR_LIMIT, "%s: %zu items, over the max_items limit", name, n);
    }
    ev_status st = ds_add_blob(ds, buf, e);
    if (st != EV_OK) return st;
    uint8_t tmp[CIFAR_PIX];
    const char *base = strrchr(name, '/');
    base = base ? base + 1 : name;
    for (size_t i = 0; i < n; i++) {
        uint8_t *r = buf + i * rec;
        int lab = fmt == EV_DS_CIFAR100 ? (ds->opt.cifar100_coarse ? r[0] : r[1]) : r[0];
        if (lab >= n_labels)
            return ev_err_set(e, EV_ERR_DATA, "%s: record %zu has label %d, expected 0..%d", name, i, lab,
                              n_labels - 1);
        uint8_t *px = r + lab_bytes;
        for (int p = 0; p < 1024; p++) {
            tmp[3 * p + 0] = px[p];
            tmp[3 * p + 1] = px[1024 + p];
            tmp[3 * p + 2] = px[2048 + p];
        }
        memcpy(px, tmp, CIFAR_PIX);
        char nm[600];
        snprintf(nm, sizeof nm, "%s[%zu]", base, i);
        ds_item it = {0};
        it.name = ev_arena_strdup(&ds->arena, nm);
        if (!it.name) return ev_err_set(e, EV_ERR_NOMEM, "out of memory");
        it.pixels = px;
        it.w = it.h = 32;
        it.c = 3;
        it.label = lab;
        it.split = (int8_t)split;
        EV_TRY(ds_add_item(ds, &it, e));
    }
    return EV_OK;
}

/* Class names from a "one name per line" file; false if absent or unusable. */
static bool read_names(ev_dataset *ds, const char *path, int want, ev_err *e)
{
    char *txt = NULL;
    size_t len = 0;
    ev_err e2;
    if (ev_read_file(path, 1 << 20, &txt, &len, &e2) != EV_OK) return false;
    const char *names[100];
    char *save = NULL;
    int n = 0;
    bool ok = true;
    for (char *line = strtok_r(txt, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        size_t l = strlen(line);
        while (l && (line[l - 1] == '\r' || line[l - 1] == ' ')) line[--l] = 0;
        if (!l) continue;
        if (n == want) { ok = false; break; }
        names[n++] = line;
    }
    if (ok && n == want) {
        ok = ds_set_classes(ds, names, n, e) == EV_OK;
        if (!ok) ds_warn(ds, "%s: unusable class names (%s)", path, e->msg);
    } else {
        ds_warn(ds, "%s: expected %d class names, ignored", path, want);
        ok = false;
    }
    free(txt);
    return ok;
}

ev_status ds_cifar_set_classes(ev_dataset *ds, const char *dir, ev_dataset_format fmt, ev_err *e)
{
    char p[4096];
    if (fmt == EV_DS_CIFAR10) {
        if (dir) {
            snprintf(p, sizeof p, "%s/batches.meta.txt", dir);
            ev_err e2;
            if (read_names(ds, p, 10, &e2)) return EV_OK;
        }
        return ds_set_classes(ds, CIFAR10_NAMES, 10, e);
    }
    int want = ds->opt.cifar100_coarse ? 20 : 100;
    if (dir) {
        snprintf(p, sizeof p, "%s/%s", dir, ds->opt.cifar100_coarse ? "coarse_label_names.txt" : "fine_label_names.txt");
        ev_err e2;
        if (read_names(ds, p, want, &e2)) return EV_OK;
        ds_warn(ds, "CIFAR-100 class names not found in %s: using numbers", dir);
    }
    char nums[100][4];
    const char *names[100];
    for (int i = 0; i < want; i++) {
        snprintf(nums[i], sizeof nums[i], "%d", i);
        names[i] = nums[i];
    }
    return ds_set_classes(ds, names, want, e);
}

static ev_status load_batch(ev_dataset *ds, const char *path, ev_dataset_format fmt, ev_split split, ev_err *e)
{
    char *buf = NULL;
    size_t len = 0;
    EV_TRY(ev_read_file(path, (size_t)ds->opt.max_file_bytes, &buf, &len, e));
    return ds_parse_cifar(ds, (uint8_t *)buf, len, path, fmt, split, e);
}

ev_status ds_open_cifar(ev_dataset *ds, const char *path, ev_dataset_format fmt, ev_err *e)
{
    struct stat st;
    if (stat(path, &st) != 0) return ev_err_set(e, EV_ERR_IO, "cannot open %s", path);
    if (!S_ISDIR(st.st_mode)) {
        const char *base = strrchr(path, '/');
        base = base ? base + 1 : path;
        ev_split sp = EV_SPLIT_NONE;
        if (!strncmp(base, "test", 4)) sp = EV_SPLIT_TEST;
        else if (!strncmp(base, "data_batch", 10) || !strncmp(base, "train", 5)) sp = EV_SPLIT_TRAIN;
        EV_TRY(load_batch(ds, path, fmt, sp, e));
        char dir[4096];
        snprintf(dir, sizeof dir, "%.*s", base == path ? 1 : (int)(base - path - 1), base == path ? "." : path);
        return ds_cifar_set_classes(ds, dir, fmt, e);
    }
    char p[4096];
    int found = 0;
    struct stat fs;
    if (fmt == EV_DS_CIFAR10) {
        for (int b = 1; b <= 5; b++) {
            snprintf(p, sizeof p, "%s/data_batch_%d.bin", path, b);
            if (stat(p, &fs) != 0 || !ds_wants_split(ds, EV_SPLIT_TRAIN)) continue;
            EV_TRY(load_batch(ds, p, fmt, EV_SPLIT_TRAIN, e));
            found++;
        }
        snprintf(p, sizeof p, "%s/test_batch.bin", path);
        if (stat(p, &fs) == 0 && ds_wants_split(ds, EV_SPLIT_TEST)) {
            EV_TRY(load_batch(ds, p, fmt, EV_SPLIT_TEST, e));
            found++;
        }
        if (!found && ds->opt.load_split != EV_SPLIT_ALL) return ds_cifar_set_classes(ds, path, fmt, e);
        if (!found) return ev_err_set(e, EV_ERR_NOT_FOUND, "no CIFAR-10 batches (data_batch_N.bin, test_batch.bin) in %s", path);
    } else {
        snprintf(p, sizeof p, "%s/train.bin", path);
        if (stat(p, &fs) == 0 && ds_wants_split(ds, EV_SPLIT_TRAIN)) {
            EV_TRY(load_batch(ds, p, fmt, EV_SPLIT_TRAIN, e));
            found++;
        }
        snprintf(p, sizeof p, "%s/test.bin", path);
        if (stat(p, &fs) == 0 && ds_wants_split(ds, EV_SPLIT_TEST)) {
            EV_TRY(load_batch(ds, p, fmt, EV_SPLIT_TEST, e));
            found++;
        }
        if (!found && ds->opt.load_split != EV_SPLIT_ALL) return ds_cifar_set_classes(ds, path, fmt, e);
        if (!found) return ev_err_set(e, EV_ERR_NOT_FOUND, "no CIFAR-100 batches (train.bin, test.bin) in %s", path);
    }
    return ds_cifar_set_classes(ds, path, fmt, e);
}
