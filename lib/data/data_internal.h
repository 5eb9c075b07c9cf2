/*
 * lib/data/data_internal.h — the dataset object shared by the format readers
 * (imagefolder.c, manifest.c, idx.c, cifar.c) and the core (dataset.c).
 *
 * Readers build a dataset with ds_new / ds_add_item / ds_add_blob / ds_warn
 * and finish with either ds_set_classes (names known up front) or
 * ds_labels_from_strings (manifests: class names are the distinct labels).
 * Invariant after a successful open: every item's label is in
 * [0, n_classes) and every class name is valid UTF-8 without control
 * characters.
 */
#ifndef EV_DATA_INTERNAL_H
#define EV_DATA_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "common/util.h"
#include "embeval/dataset.h"

typedef struct ds_item {
    const char *path;            /* arena; NULL for in-memory items           */
    const char *name;            /* arena; display name                       */
    const char *label_str;       /* arena; manifests only, until labels are set */
    const uint8_t *pixels;       /* inside one of the blobs                   */
    int32_t w, h, c;
    int32_t label;
    int8_t split;
} ds_item;

struct ev_dataset {
    ev_arena arena;              /* strings                                   */
    ev_dataset_format format;
    ev_dataset_options opt;
    const char *root;
    ds_item *items;
    int64_t n_items, cap_items;
    int64_t *sel;                /* selected item indices; NULL = all         */
    int64_t n_sel;
    const char **classes;
    int n_classes;
    uint8_t **blobs;             /* malloc'd pixel stores                     */
    int n_blobs, cap_blobs;
    char **warnings;
    int n_warn, cap_warn;
    char errmsg[EV_ERRLEN];
};

ev_dataset *ds_new(ev_dataset_format format, const ev_dataset_options *opt);
/* Append an item (copied; strings must already live in ds->arena). */
ev_status ds_add_item(ev_dataset *ds, const ds_item *it, ev_err *e);
/* Take ownership of a malloc'd pixel buffer. */
ev_status ds_add_blob(ev_dataset *ds, uint8_t *blob, ev_err *e);
void ds_warn(ev_dataset *ds, const char *fmt, ...) EV_PRINTF(2, 3);
/* Copy class names into the arena (each checked with ds_label_ok). */
ev_status ds_set_classes(ev_dataset *ds, const char *const *names, int n, ev_err *e);
/* Manifests: class names = distinct label_str, numeric order if all are
 * canonical non-negative integers, bytewise otherwise. */
ev_status ds_labels_from_strings(ev_dataset *ds, ev_err *e);

/* Valid UTF-8, no C0/DEL control characters, not empty. */
bool ds_label_ok(const char *s, size_t len);
/* Case-insensitive suffix test. */
bool ds_has_suffix(const char *s, const char *suffix);
/* Parse a split name as used in manifests and folder names. */
int ds_parse_split(const char *s, size_t len, ev_split *out);

/* Whether a file/directory of split sp is to be read (opt.load_split). */
bool ds_wants_split(const ev_dataset *ds, ev_split sp);
/* Read a whole file, transparently gunzipping, at most max bytes after
 * decompression. *out is malloc'd. */
ev_status ds_read_maybe_gz(const char *path, int64_t max, uint8_t **out, size_t *len, ev_err *e);

/* Readers. `path` is already resolved. */
ev_status ds_open_imagefolder(ev_dataset *ds, const char *root, ev_err *e);
ev_status ds_open_manifest(ev_dataset *ds, const char *path, ev_dataset_format fmt, ev_err *e);
ev_status ds_parse_manifest(ev_dataset *ds, const char *buf, size_t len, const char *name,
                            const char *base_dir, ev_dataset_format fmt, ev_err *e);
ev_status ds_open_idx(ev_dataset *ds, const char *path, ev_err *e);
ev_status ds_parse_idx(ev_dataset *ds, uint8_t *images, size_t images_len, const uint8_t *labels,
                       size_t labels_len, const char *name, ev_split split, ev_err *e);
ev_status ds_open_cifar(ev_dataset *ds, const char *path, ev_dataset_format fmt, ev_err *e);
/* Parses `buf` in place (converted to HWC); takes ownership of buf. */
ev_status ds_parse_cifar(ev_dataset *ds, uint8_t *buf, size_t len, const char *name,
                         ev_dataset_format fmt, ev_split split, ev_err *e);
ev_status ds_cifar_set_classes(ev_dataset *ds, const char *dir, ev_dataset_format fmt, ev_err *e);

#endif
