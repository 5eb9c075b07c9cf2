/*
 * embeval/dataset.h — labelled image collections.
 *
 * A dataset is a list of items; each item has an image source (a file path,
 * or in-memory pixels for IDX and CIFAR), a class index and a split. Formats:
 *
 *   ImageFolder  root/<class>/<image> or root/<split>/<class>/<image> where
 *                <split> is train, val (valid, validation) or test. Class
 *                names are the directory names, sorted bytewise (as
 *                torchvision's ImageFolder). Files whose extension is not an
 *                image extension are ignored (counted in a warning); class
 *                directories are searched recursively up to max_depth.
 *   CSV          "path,label[,split]" records (RFC 4180: quoted fields may
 *                hold commas, quotes ("") and newlines). An optional header
 *                row naming the columns (path, label, split) is recognised
 *                when its first field is "path"; other columns are ignored.
 *   JSONL        one JSON object per line: {"path": "...", "label": "..." or
 *                integer, "split": "..."}; other keys are ignored.
 *                Manifest paths are relative to the manifest's directory and
 *                may not escape it (no absolute paths, no ".." above it)
 *                unless allow_absolute_paths is set. Class names are the
 *                distinct labels, sorted numerically when all are
 *                non-negative integers, bytewise otherwise.
 *   IDX          MNIST / Fashion-MNIST ubyte files, gzip'd or raw: an images
 *                file (magic 0x00000803: n x rows x cols) plus its labels
 *                file (0x00000801). A directory holding train-* and t10k-*
 *                pairs yields both splits. Fashion-MNIST's ten class names
 *                are built in; other IDX sets name classes "0".."9".
 *   CIFAR        CIFAR-10 (data_batch_N.bin train, test_batch.bin test,
 *                3073-byte records, names from batches.meta.txt) and
 *                CIFAR-100 (train.bin, test.bin, 3074-byte records, fine
 *                labels by default, names from fine_label_names.txt).
 *
 * Dataset specs (ev_dataset_open): "fashion-mnist" (the Debian package
 * dataset-fashion-mnist at /usr/share/datasets/fashion-mnist), an explicit
 * "FORMAT:PATH" (FORMAT = imagefolder, csv, jsonl, idx, cifar10, cifar100),
 * or a bare path detected by its shape: *.csv, *.jsonl / *.ndjson, an IDX
 * images file (*-idx3-ubyte[.gz]), a directory of IDX pairs, a directory of
 * CIFAR batches, otherwise a directory is an ImageFolder.
 *
 * Every size read from a file is checked against the bytes present and the
 * limits in ev_dataset_options before anything is allocated. Labels must be
 * valid UTF-8 without control characters (they become lines of a labels
 * file). Usage:
 *
 *     char err[512];
 *     ev_dataset *ds;
 *     if (ev_dataset_open("fashion-mnist", NULL, &ds, err, sizeof err) != EV_OK)
 *         fprintf(stderr, "%s\n", err);
 *     ev_dataset_select(ds, EV_SPLIT_TEST, 1000, 42);   // stratified subset
 *     for (int64_t i = 0; i < ev_dataset_count(ds); i++) {
 *         ev_item it;
 *         ev_dataset_item(ds, i, &it);
 *         ...
 *     }
 *     ev_dataset_free(ds);
 *
 * A dataset is immutable after open except for ev_dataset_select; reading
 * items from several threads at once is safe.
 */
#ifndef EMBEVAL_DATASET_H
#define EMBEVAL_DATASET_H

#include "embeval/common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ev_dataset ev_dataset;

typedef enum ev_split {
    EV_SPLIT_ALL = -1,           /* for ev_dataset_select: every split        */
    EV_SPLIT_NONE = 0,           /* the item has no split                     */
    EV_SPLIT_TRAIN = 1,
    EV_SPLIT_VAL = 2,
    EV_SPLIT_TEST = 3
} ev_split;

typedef enum ev_dataset_format {
    EV_DS_AUTO = 0,
    EV_DS_IMAGEFOLDER = 1,
    EV_DS_CSV = 2,
    EV_DS_JSONL = 3,
    EV_DS_IDX = 4,
    EV_DS_CIFAR10 = 5,
    EV_DS_CIFAR100 = 6
} ev_dataset_format;

typedef struct ev_dataset_options {
    ev_dataset_format format;    /* EV_DS_AUTO: from the spec                 */
    int allow_absolute_paths;    /* manifests: allow absolute / escaping paths */
    int64_t max_line_bytes;      /* manifest record limit, default 64 KiB     */
    int64_t max_items;           /* default 10,000,000                        */
    int64_t max_file_bytes;      /* manifest / IDX / CIFAR file (decompressed)
                                    limit, default 4 GiB                      */
    int max_depth;               /* ImageFolder recursion, default 16         */
    int cifar100_coarse;         /* CIFAR-100: use the 20 coarse labels       */
    ev_split load_split;         /* read only this split where the format keeps
                                    splits in separate files or directories
                                    (IDX, CIFAR, ImageFolder split level);
                                    EV_SPLIT_ALL (default) or 0: everything   */
} ev_dataset_options;

/* One item. Strings and pixels belong to the dataset and stay valid until
 * ev_dataset_free. */
typedef struct ev_item {
    const char *path;            /* image file, or NULL for in-memory pixels  */
    const char *name;            /* display name: the path, or "<file>[i]"    */
    const uint8_t *pixels;       /* in-memory items: HWC uint8, else NULL     */
    int width, height, channels; /* of pixels (channels 1 = grey, 3 = RGB)    */
    int label;                   /* class index in [0, ev_dataset_num_classes) */
    ev_split split;
    int64_t index;               /* position among all items of the dataset   */
} ev_item;

EV_API ev_dataset_options ev_dataset_default_options(void);

/* Open a dataset from a spec (see above). opt may be NULL. On failure *out is
 * NULL and errbuf (may be NULL) names the file and the problem. */
EV_API ev_status ev_dataset_open(const char *spec, const ev_dataset_options *opt,
                                 ev_dataset **out, char *errbuf, size_t errlen);

/* Parse a manifest held in memory (for fuzzing and tests): format is
 * EV_DS_CSV or EV_DS_JSONL; paths are resolved against base_dir; name is used
 * in messages. */
EV_API ev_status ev_dataset_parse_manifest(const void *buf, size_t len, const char *name,
                                           const char *base_dir, ev_dataset_format format,
                                           const ev_dataset_options *opt, ev_dataset **out,
                                           char *errbuf, size_t errlen);
/* Parse an IDX images + labels pair held in memory (raw, not gzip'd). */
EV_API ev_status ev_dataset_parse_idx(const void *images, size_t images_len, const void *labels,
                                      size_t labels_len, const char *name,
                                      const ev_dataset_options *opt, ev_dataset **out,
                                      char *errbuf, size_t errlen);
/* Parse one CIFAR binary batch held in memory (format EV_DS_CIFAR10/100). */
EV_API ev_status ev_dataset_parse_cifar(const void *buf, size_t len, const char *name,
                                        ev_dataset_format format, const ev_dataset_options *opt,
                                        ev_dataset **out, char *errbuf, size_t errlen);

/* Free the dataset. NULL is a no-op. */
EV_API void ev_dataset_free(ev_dataset *ds);
/* Message about the last failure on this handle ("" if none). */
EV_API const char *ev_dataset_errmsg(const ev_dataset *ds);

/* "imagefolder", "csv", "jsonl", "idx", "cifar10", "cifar100". */
EV_API const char *ev_dataset_format_name(const ev_dataset *ds);
/* The resolved location (directory or file) the dataset was read from. */
EV_API const char *ev_dataset_root(const ev_dataset *ds);

/* Selected items (all items until ev_dataset_select is called). */
EV_API int64_t ev_dataset_count(const ev_dataset *ds);
/* Items of the whole dataset, whatever is selected. */
EV_API int64_t ev_dataset_total(const ev_dataset *ds);
/* The i-th selected item, i in [0, ev_dataset_count). */
EV_API ev_status ev_dataset_item(const ev_dataset *ds, int64_t i, ev_item *out);

EV_API int ev_dataset_num_classes(const ev_dataset *ds);
/* Class name (UTF-8, no control characters); NULL if k is out of range. */
EV_API const char *ev_dataset_class_name(const ev_dataset *ds, int k);

/* Number of items of the whole dataset in a split (EV_SPLIT_ALL: total). */
EV_API int64_t ev_dataset_split_count(const ev_dataset *ds, ev_split split);
/* "train", "val", "test", "none", "all". */
EV_API const char *ev_split_name(ev_split split);
/* Parse a split name ("train", "val"/"valid"/"validation", "test", "all");
 * returns 0 on success, -1 if unknown. */
EV_API int ev_split_parse(const char *s, ev_split *out);

/* Select the items of `split` (EV_SPLIT_ALL for every split), then, if
 * limit > 0 and fewer than the matching items, a stratified subset of
 * `limit` items: each class keeps floor(limit * n_class / n) items plus one
 * for the classes with the largest remainders (ties to the lower class
 * index); the items of a class are drawn by a Fisher-Yates shuffle seeded by
 * `seed`. The selection keeps dataset order. Replaces any earlier
 * selection. Fails with EV_ERR_NOT_FOUND if no item matches. */
EV_API ev_status ev_dataset_select(ev_dataset *ds, ev_split split, int64_t limit, uint64_t seed);

/* Non-fatal findings while opening (empty classes, ignored files, ...). */
EV_API int ev_dataset_num_warnings(const ev_dataset *ds);
EV_API const char *ev_dataset_warning(const ev_dataset *ds, int i);

#ifdef __cplusplus
}
#endif
#endif
