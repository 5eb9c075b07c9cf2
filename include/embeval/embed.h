/*
 * embeval/embed.h — turn a dataset into an embedding matrix with a model.
 *
 *     ev_embed_options o = ev_embed_default_options();
 *     o.cache = cache;                      // optional (embeval/cache.h)
 *     ev_embeddings *E;
 *     if (ev_embed(card, ds, &o, &E, err, sizeof err) == EV_OK) {
 *         // E->data: E->n rows of E->dim floats, dataset order, bad
 *         // images left out (E->skipped lists them with the reason)
 *         ev_embeddings_free(E);
 *     }
 *
 * Pipeline: `workers` threads take items in turn, read the file, hash it,
 * look the key up in the cache (a hit needs no decoding), otherwise decode
 * and preprocess into one of 2*batch+workers tensor slots; the calling
 * thread collects ready slots into batches, runs the model (loaded on first
 * use, so a run served entirely from the cache never loads it), stores the
 * raw outputs in the cache (one transaction per batch) and keeps them. The
 * cache holds the model's raw output; L2 normalisation (card "normalize")
 * is applied afterwards, so cards differing only in that flag share
 * entries. Progress is reported from the calling thread.
 *
 * A bad image (unreadable, not an image, truncated, too large, too small)
 * is skipped and listed; with `strict` the first one fails the call with its
 * error. Model errors always fail the call.
 */
#ifndef EMBEVAL_EMBED_H
#define EMBEVAL_EMBED_H

#include "embeval/cache.h"
#include "embeval/card.h"
#include "embeval/common.h"
#include "embeval/dataset.h"
#include "embeval/image.h"
#include "embeval/model.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ev_embed_progress {
    int64_t done;                /* items finished: embedded, cached, skipped */
    int64_t total;
    int64_t cache_hits;
    int64_t skipped;
    double elapsed;              /* seconds since the start                   */
    int finished;                /* 1 on the last call                        */
} ev_embed_progress;

/* Called from the thread that called ev_embed, at most every
 * progress_interval seconds and once at the end. */
typedef void (*ev_embed_progress_fn)(void *user, const ev_embed_progress *p);

typedef struct ev_embed_options {
    int batch;                   /* images per model run, default 32 (a model
                                    with a fixed batch dimension imposes its own) */
    int workers;                 /* decode threads, default 2                 */
    int engine_threads;          /* model threads, 0 = library default        */
    ev_precision precision;      /* EV_PRECISION_FP32 by default              */
    ev_image_mode mode;          /* EV_IMAGE_EXACT by default                 */
    int strict;                  /* 1: the first bad image is an error        */
    ev_cache *cache;             /* NULL: no cache                            */
    ev_decode_options decode;
    ev_embed_progress_fn progress;
    void *progress_user;
    double progress_interval;    /* default 0.1 s                             */
} ev_embed_options;

typedef struct ev_embed_skip {
    int64_t item;                /* index in the dataset selection            */
    const char *name;            /* the item's display name                   */
    ev_status code;
    const char *reason;          /* one line naming the file and the problem  */
} ev_embed_skip;

typedef struct ev_embed_stats {
    int64_t items;               /* selected items                            */
    int64_t embedded;            /* rows of the result                        */
    int64_t cache_hits;
    int64_t computed;            /* run through the model                     */
    int64_t skipped;
    int64_t batches;
    int model_loaded;            /* 0 when everything came from the cache     */
    double seconds;              /* wall time of ev_embed                     */
    double model_load_seconds;
    double infer_seconds;        /* model runs                                */
    double decode_seconds;       /* read + decode + preprocess, summed over workers */
    double hash_seconds;         /* hashing the model file                    */
} ev_embed_stats;

typedef struct ev_embeddings {
    int64_t n;                   /* rows                                      */
    int dim;
    float *data;                 /* n x dim, row-major                        */
    int64_t *items;              /* per row: index in the dataset selection   */
    int32_t *labels;             /* per row: class index                      */
    int64_t n_skipped;
    ev_embed_skip *skipped;      /* in selection order                        */
    ev_embed_stats stats;
    char model_hash[65];         /* hex SHA-256 of the model file ("" w/o cache) */
    char preprocess[512];        /* ev_preprocess_describe() of the run       */
} ev_embeddings;

EV_API ev_embed_options ev_embed_default_options(void);

/* Embed the selected items of ds with the model of `card`. On success *out
 * holds the rows (possibly zero rows if every item was skipped); on failure
 * errbuf names the problem. */
EV_API ev_status ev_embed(const ev_card *card, const ev_dataset *ds, const ev_embed_options *opt,
                          ev_embeddings **out, char *errbuf, size_t errlen);
EV_API void ev_embeddings_free(ev_embeddings *e);

#ifdef __cplusplus
}
#endif
#endif
