/*
 * embeval/cache.h — the embedding cache and the hashes that address it.
 *
 * An embedding is stored under key = SHA-256(model hash || preprocessing
 * hash || image hash), where
 *   model hash          = SHA-256 of the model file's bytes,
 *   preprocessing hash  = SHA-256 of ev_preprocess_describe() (every
 *                         parameter that changes the input tensor, the
 *                         exact/fast mode and the pipeline version),
 *   image hash          = SHA-256 of the encoded image file's bytes, or of
 *                         "raw:<w>x<h>x<c>:" + pixels for in-memory images.
 * A cached vector therefore can only be returned for the same model bytes,
 * the same preprocessing and the same image bytes: it is never stale.
 *
 * Storage: one SQLite database, <dir>/embeddings.sqlite3, in WAL mode with
 * synchronous=NORMAL. Each row holds the vector (float32, little-endian),
 * its dimension and a CRC-32 over key, dimension and vector bytes, checked
 * on every read (a mismatching row is deleted and reported as a miss).
 * ev_cache_put_batch writes a whole batch in one transaction: a process
 * killed at any moment (kill -9) leaves every committed batch intact and
 * none half-written. Several processes may share a cache (SQLite locking,
 * 10 s busy timeout). The default directory follows XDG:
 * $XDG_CACHE_HOME/embeval, else $HOME/.cache/embeval (ev_cache_default_dir
 * takes the two values so that the library itself never reads the
 * environment).
 *
 * A cache handle may be used from several threads (calls are serialised).
 */
#ifndef EMBEVAL_CACHE_H
#define EMBEVAL_CACHE_H

#include "embeval/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- SHA-256 ----------------------------------------------------------- */
typedef struct ev_hash {
    uint8_t b[32];
} ev_hash;

typedef struct ev_sha256_ctx {
    uint32_t state[8];
    uint64_t bytes;
    uint8_t buf[64];
    unsigned fill;
} ev_sha256_ctx;

EV_API void ev_sha256_init(ev_sha256_ctx *c);
EV_API void ev_sha256_update(ev_sha256_ctx *c, const void *data, size_t len);
EV_API void ev_sha256_final(ev_sha256_ctx *c, ev_hash *out);
EV_API void ev_sha256(const void *data, size_t len, ev_hash *out);
EV_API ev_status ev_sha256_file(const char *path, ev_hash *out, char *errbuf, size_t errlen);
/* 64 lowercase hex digits + NUL. */
EV_API void ev_hash_hex(const ev_hash *h, char out[65]);

/* ---- the cache ------------------------------------------------------------ */
typedef struct ev_cache ev_cache;

typedef struct ev_cache_stats {
    int64_t entries;             /* cached vectors                            */
    int64_t models;              /* distinct model hashes                     */
    int64_t vector_bytes;        /* sum of vector sizes                       */
    int64_t file_bytes;          /* database + WAL on disk                    */
    int64_t corrupt_dropped;     /* rows dropped by this handle (bad CRC)     */
} ev_cache_stats;

/* "$xdg_cache_home/embeval" if xdg_cache_home is an absolute path, else
 * "$home/.cache/embeval"; EV_ERR_NOT_FOUND if neither is usable. */
EV_API ev_status ev_cache_default_dir(const char *xdg_cache_home, const char *home, char *buf, size_t len);

/* Open (creating the directory, mode 0700, and the database if needed). */
EV_API ev_status ev_cache_open(const char *dir, ev_cache **out, char *errbuf, size_t errlen);
EV_API void ev_cache_close(ev_cache *c);
EV_API const char *ev_cache_errmsg(const ev_cache *c);
/* The database file. */
EV_API const char *ev_cache_path(const ev_cache *c);

/* key = SHA-256(model || prep || image) */
EV_API void ev_cache_key(const ev_hash *model, const ev_hash *prep, const ev_hash *image, ev_hash *key);

/* Look up a key. EV_OK with *dim set and the vector copied into vec (if
 * *dim <= cap); EV_ERR_NOT_FOUND on a miss (also for a corrupt row, which is
 * deleted); EV_ERR_SHAPE if cap is too small. */
EV_API ev_status ev_cache_get(ev_cache *c, const ev_hash *key, float *vec, int cap, int *dim);

/* Store n vectors of `dim` floats (row i under keys[i]) in one transaction. */
EV_API ev_status ev_cache_put_batch(ev_cache *c, const ev_hash *model, int n, const ev_hash *keys,
                                    const float *vecs, int dim);

EV_API ev_status ev_cache_stats_get(ev_cache *c, ev_cache_stats *out);
/* Remove every entry and shrink the file. */
EV_API ev_status ev_cache_clear(ev_cache *c);
/* Check the database (PRAGMA integrity_check) and every row's CRC; *bad
 * receives the number of bad rows (not deleted). */
EV_API ev_status ev_cache_verify(ev_cache *c, int64_t *bad);

/* SHA-256 of a model file (plus "<path>.data" external data if present),
 * memoised in the cache (c may be NULL) by device, inode, size, mtime and
 * ctime so an unchanged file is not re-read. */
EV_API ev_status ev_cache_file_hash(ev_cache *c, const char *path, ev_hash *out, char *errbuf, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
