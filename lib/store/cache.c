/*
 * lib/store/cache.c — the embedding cache (SQLite, WAL).
 *
 * Schema (version 1):
 *   meta(key TEXT PRIMARY KEY, value TEXT)       schema version
 *   embeddings(key BLOB PRIMARY KEY,             32-byte content key
 *              model BLOB, dim INTEGER,          model hash, vector length
 *              vec BLOB, crc INTEGER,            float32 LE, CRC-32(key|dim|vec)
 *              created INTEGER) WITHOUT ROWID    unix seconds
 *   files(path TEXT PRIMARY KEY, dev, ino, size,
 *         mtime_ns, ctime_ns, sha BLOB)          model-file hash memo
 *
 * Durability: WAL + synchronous=NORMAL makes every COMMIT durable against
 * a process crash (the WAL is written before COMMIT returns; only power
 * loss can lose the last transactions, never corrupt the database).
 */
#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <zlib.h>

#include "common/util.h"
#include "embeval/cache.h"

#define CACHE_SCHEMA "1"
#define CACHE_FILE "embeddings.sqlite3"
#define MAX_DIM (1 << 20)

struct ev_cache {
    sqlite3 *db;
    pthread_mutex_t mu;
    sqlite3_stmt *get, *put, *del;
    char *path;
    char *dir;
    int64_t corrupt_dropped;
    char errmsg[EV_ERRLEN];
};

const char *ev_cache_errmsg(const ev_cache *c) { return c ? c->errmsg : ""; }
const char *ev_cache_path(const ev_cache *c) { return c ? c->path : ""; }

static ev_status fail(ev_cache *c, ev_status st, const char *what)
{
    snprintf(c->errmsg, sizeof c->errmsg, "embedding cache %s: %s: %s", c->path, what,
             c->db ? sqlite3_errmsg(c->db) : "no database");
    return st;
}

ev_status ev_cache_default_dir(const char *xdg_cache_home, const char *home, char *buf, size_t len)
{
    int n;
    /* XDG: a relative XDG_CACHE_HOME is invalid and must be ignored */
    if (xdg_cache_home && xdg_cache_home[0] == '/') n = snprintf(buf, len, "%s/embeval", xdg_cache_home);
    else if (home && home[0] == '/') n = snprintf(buf, len, "%s/.cache/embeval", home);
    else return EV_ERR_NOT_FOUND;
    return (n > 0 && (size_t)n < len) ? EV_OK : EV_ERR_LIMIT;
}

static int mkdir_p(const char *dir)
{
    char *p = ev_strdup(dir);
    if (!p) return ENOMEM;
    int rc = 0;
    for (char *s = p + 1; *s; s++) {
        if (*s != '/') continue;
        *s = 0;
        if (mkdir(p, 0700) != 0 && errno != EEXIST) { rc = errno; break; }
        *s = '/';
    }
    if (!rc && mkdir(p, 0700) != 0 && errno != EEXIST) rc = errno;
    free(p);
    if (!rc) {
        struct stat st;
        if (stat(dir, &st) != 0) rc = errno;
        else if (!S_ISDIR(st.st_mode)) rc = ENOTDIR;
    }
    return rc;
}

static int exec(ev_cache *c, const char *sql) { return sqlite3_exec(c->db, sql, NULL, NULL, NULL); }

ev_status ev_cache_open(const char *dir, ev_cache **out, char *errbuf, size_t errlen)
{
    *out = NULL;
    if (!dir || !*dir) {
        if (errbuf && errlen) snprintf(errbuf, errlen, "no cache directory");
        return EV_ERR_INVALID_ARG;
    }
    int rc = mkdir_p(dir);
    if (rc) {
        if (errbuf && errlen) snprintf(errbuf, errlen, "cannot create cache directory %s: %s", dir, strerror(rc));
        return EV_ERR_IO;
    }
    ev_cache *c = calloc(1, sizeof *c);
    if (!c) return EV_ERR_NOMEM;
    pthread_mutex_init(&c->mu, NULL);
    size_t n = strlen(dir) + sizeof CACHE_FILE + 2;
    c->path = malloc(n);
    c->dir = ev_strdup(dir);
    if (!c->path || !c->dir) {
        ev_cache_close(c);
        return EV_ERR_NOMEM;
    }
    snprintf(c->path, n, "%s/%s", dir, CACHE_FILE);
    ev_status st = EV_OK;
    if (sqlite3_open_v2(c->path, &c->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) !=
        SQLITE_OK) {
        st = fail(c, EV_ERR_IO, "cannot open");
        goto out;
    }
    sqlite3_busy_timeout(c->db, 10000);
    sqlite3_extended_result_codes(c->db, 1);
    /* journal_mode returns a row; use exec and verify below */
    if (exec(c, "PRAGMA journal_mode=WAL") != SQLITE_OK) {
        st = fail(c, EV_ERR_IO, "not a usable SQLite database (remove it or run 'embeval cache clear')");
        goto out;
    }
    /* reads through mmap and a larger page cache: a run served from the
       cache is mostly B-tree lookups (failures here only cost speed) */
    exec(c, "PRAGMA mmap_size=268435456");
    exec(c, "PRAGMA cache_size=-32768");
    if (exec(c, "PRAGMA synchronous=NORMAL") != SQLITE_OK ||
        exec(c, "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL)") != SQLITE_OK ||
        exec(c, "CREATE TABLE IF NOT EXISTS embeddings(key BLOB PRIMARY KEY, model BLOB NOT NULL, dim INTEGER NOT NULL,"
                " vec BLOB NOT NULL, crc INTEGER NOT NULL, created INTEGER NOT NULL) WITHOUT ROWID") != SQLITE_OK ||
        exec(c, "CREATE TABLE IF NOT EXISTS files(path TEXT PRIMARY KEY, dev INTEGER, ino INTEGER, size INTEGER,"
                " mtime_ns INTEGER, ctime_ns INTEGER, sha BLOB NOT NULL)") != SQLITE_OK ||
        exec(c, "INSERT OR IGNORE INTO meta(key, value) VALUES('schema', '" CACHE_SCHEMA "')") != SQLITE_OK) {
        st = fail(c, EV_ERR_IO, "cannot initialise");
        goto out;
    }
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(c->db, "SELECT value FROM meta WHERE key='schema'", -1, &s, NULL) == SQLITE_OK &&
        sqlite3_step(s) == SQLITE_ROW) {
        const char *v = (const char *)sqlite3_column_text(s, 0);
        if (!v || strcmp(v, CACHE_SCHEMA) != 0) {
            snprintf(c->errmsg, sizeof c->errmsg,
                     "embedding cache %s has schema version %s, this embeval uses " CACHE_SCHEMA
                     " (run 'embeval cache clear --cache-dir %s')",
                     c->path, v ? v : "?", dir);
            st = EV_ERR_UNSUPPORTED;
        }
    } else {
        st = fail(c, EV_ERR_IO, "cannot read the schema version");
    }
    sqlite3_finalize(s);
    if (st != EV_OK) goto out;
    if (sqlite3_prepare_v2(c->db, "SELECT dim, vec, crc FROM embeddings WHERE key=?1", -1, &c->get, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(c->db,
                           "INSERT OR REPLACE INTO embeddings(key, model, dim, vec, crc, created) VALUES(?1,?2,?3,?4,?5,?6)",
                           -1, &c->put, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(c->db, "DELETE FROM embeddings WHERE key=?1", -1, &c->del, NULL) != SQLITE_OK) {
        st = fail(c, EV_ERR_IO, "cannot prepare statements");
        goto out;
    }
out:
    if (st != EV_OK) {
        if (errbuf && errlen) snprintf(errbuf, errlen, "%s", c->errmsg);
        ev_cache_close(c);
        return st;
    }
    *out = c;
    return EV_OK;
}

void ev_cache_close(ev_cache *c)
{
    if (!c) return;
    sqlite3_finalize(c->get);
    sqlite3_finalize(c->put);
    sqlite3_finalize(c->del);
    if (c->db) sqlite3_close(c->db);
    pthread_mutex_destroy(&c->mu);
    free(c->path);
    free(c->dir);
    free(c);
}

void ev_cache_key(const ev_hash *model, const ev_hash *prep, const ev_hash *image, ev_hash *key)
{
    ev_sha256_ctx s;
    ev_sha256_init(&s);
    ev_sha256_update(&s, "embeval-cache-key/1", 19);
    ev_sha256_update(&s, model->b, 32);
    ev_sha256_update(&s, prep->b, 32);
    ev_sha256_update(&s, image->b, 32);
    ev_sha256_final(&s, key);
}

static uint32_t entry_crc(const ev_hash *key, int dim, const void *vec, size_t bytes)
{
    uint8_t d[4] = {(uint8_t)dim, (uint8_t)(dim >> 8), (uint8_t)(dim >> 16), (uint8_t)(dim >> 24)};
    uLong crc = crc32(0L, Z_NULL, 0);
    crc = crc32(crc, key->b, 32);
    crc = crc32(crc, d, 4);
    /* zlib takes uInt lengths: vectors are < 4 MiB (MAX_DIM floats) */
    crc = crc32(crc, vec, (uInt)bytes);
    return (uint32_t)crc;
}

/* float32 <-> little-endian bytes (a no-op copy on little-endian hosts) */
static void to_le(const float *v, int n, uint8_t *out)
{
    for (int i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &v[i], 4);
        out[4 * i] = (uint8_t)u;
        out[4 * i + 1] = (uint8_t)(u >> 8);
        out[4 * i + 2] = (uint8_t)(u >> 16);
        out[4 * i + 3] = (uint8_t)(u >> 24);
    }
}

static void from_le(const uint8_t *in, int n, float *v)
{
    for (int i = 0; i < n; i++) {
        uint32_t u = (uint32_t)in[4 * i] | (uint32_t)in[4 * i + 1] << 8 | (uint32_t)in[4 * i + 2] << 16 |
                     (uint32_t)in[4 * i + 3] << 24;
        memcpy(&v[i], &u, 4);
    }
}

ev_status ev_cache_get(ev_cache *c, const ev_hash *key, float *vec, int cap, int *dim)
{
    if (!c || !key || !dim) return EV_ERR_INVALID_ARG;
    pthread_mutex_lock(&c->mu);
    ev_status st = EV_ERR_NOT_FOUND;
    bool corrupt = false;
    sqlite3_bind_blob(c->get, 1, key->b, 32, SQLITE_STATIC);
    int rc = sqlite3_step(c->get);
    if (rc == SQLITE_ROW) {
        int d = sqlite3_column_int(c->get, 0);
        const void *blob = sqlite3_column_blob(c->get, 1);
        int bytes = sqlite3_column_bytes(c->get, 1);
        uint32_t crc = (uint32_t)sqlite3_column_int64(c->get, 2);
        if (d <= 0 || d > MAX_DIM || bytes != d * 4 || !blob || entry_crc(key, d, blob, (size_t)bytes) != crc) {
            corrupt = true;
        } else if (d > cap) {
            *dim = d;
            st = EV_ERR_SHAPE;
        } else {
            from_le(blob, d, vec);
            *dim = d;
            st = EV_OK;
        }
    } else if (rc != SQLITE_DONE) {
        st = fail(c, EV_ERR_IO, "lookup failed");
    }
    sqlite3_reset(c->get);
    sqlite3_clear_bindings(c->get);
    if (corrupt) {
        sqlite3_bind_blob(c->del, 1, key->b, 32, SQLITE_STATIC);
        sqlite3_step(c->del);
        sqlite3_reset(c->del);
        c->corrupt_dropped++;
        ev_log(EV_LOG_WARN, "embedding cache %s: dropped a corrupt entry (bad checksum)", c->path);
    }
    pthread_mutex_unlock(&c->mu);
    return st;
}

ev_status ev_cache_put_batch(ev_cache *c, const ev_hash *model, int n, const ev_hash *keys, const float *vecs,
                             int dim)
{
    if (!c || n < 0 || (n && (!keys || !vecs)) || dim <= 0 || dim > MAX_DIM) return EV_ERR_INVALID_ARG;
    if (n == 0) return EV_OK;
    uint8_t *le = malloc((size_t)dim * 4);
    if (!le) return EV_ERR_NOMEM;
    pthread_mutex_lock(&c->mu);
    ev_status st = EV_OK;
    if (exec(c, "BEGIN IMMEDIATE") != SQLITE_OK) {
        st = fail(c, EV_ERR_IO, "cannot begin a transaction");
    } else {
        int64_t now = (int64_t)time(NULL);
        for (int i = 0; i < n && st == EV_OK; i++) {
            to_le(vecs + (size_t)i * dim, dim, le);
            uint32_t crc = entry_crc(&keys[i], dim, le, (size_t)dim * 4);
            sqlite3_bind_blob(c->put, 1, keys[i].b, 32, SQLITE_STATIC);
            sqlite3_bind_blob(c->put, 2, model->b, 32, SQLITE_STATIC);
            sqlite3_bind_int(c->put, 3, dim);
            sqlite3_bind_blob(c->put, 4, le, dim * 4, SQLITE_STATIC);
            sqlite3_bind_int64(c->put, 5, (sqlite3_int64)crc);
            sqlite3_bind_int64(c->put, 6, now);
            if (sqlite3_step(c->put) != SQLITE_DONE) st = fail(c, EV_ERR_IO, "cannot store a vector");
            sqlite3_reset(c->put);
            sqlite3_clear_bindings(c->put);
        }
        if (st == EV_OK && exec(c, "COMMIT") != SQLITE_OK) st = fail(c, EV_ERR_IO, "cannot commit");
        if (st != EV_OK) exec(c, "ROLLBACK");
    }
    pthread_mutex_unlock(&c->mu);
    free(le);
    return st;
}

static int64_t file_size(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 ? (int64_t)st.st_size : 0;
}

ev_status ev_cache_stats_get(ev_cache *c, ev_cache_stats *out)
{
    if (!c || !out) return EV_ERR_INVALID_ARG;
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&c->mu);
    ev_status st = EV_OK;
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(c->db, "SELECT COUNT(*), COUNT(DISTINCT model), COALESCE(SUM(LENGTH(vec)), 0) FROM embeddings",
                           -1, &s, NULL) == SQLITE_OK &&
        sqlite3_step(s) == SQLITE_ROW) {
        out->entries = sqlite3_column_int64(s, 0);
        out->models = sqlite3_column_int64(s, 1);
        out->vector_bytes = sqlite3_column_int64(s, 2);
    } else {
        st = fail(c, EV_ERR_IO, "cannot read statistics");
    }
    sqlite3_finalize(s);
    out->corrupt_dropped = c->corrupt_dropped;
    char wal[4200];
    snprintf(wal, sizeof wal, "%s-wal", c->path);
    out->file_bytes = file_size(c->path) + file_size(wal);
    pthread_mutex_unlock(&c->mu);
    return st;
}

ev_status ev_cache_clear(ev_cache *c)
{
    if (!c) return EV_ERR_INVALID_ARG;
    pthread_mutex_lock(&c->mu);
    ev_status st = EV_OK;
    if (exec(c, "BEGIN IMMEDIATE") != SQLITE_OK || exec(c, "DELETE FROM embeddings") != SQLITE_OK ||
        exec(c, "DELETE FROM files") != SQLITE_OK || exec(c, "COMMIT") != SQLITE_OK) {
        st = fail(c, EV_ERR_IO, "cannot clear");
        exec(c, "ROLLBACK");
    } else {
        /* give the space back; both may fail harmlessly while another process reads */
        exec(c, "VACUUM");
        exec(c, "PRAGMA wal_checkpoint(TRUNCATE)");
    }
    pthread_mutex_unlock(&c->mu);
    return st;
}

ev_status ev_cache_verify(ev_cache *c, int64_t *bad)
{
    if (!c || !bad) return EV_ERR_INVALID_ARG;
    *bad = 0;
    pthread_mutex_lock(&c->mu);
    ev_status st = EV_OK;
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(c->db, "PRAGMA integrity_check", -1, &s, NULL) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW) {
        const char *r = (const char *)sqlite3_column_text(s, 0);
        if (!r || strcmp(r, "ok") != 0) {
            snprintf(c->errmsg, sizeof c->errmsg, "embedding cache %s: integrity check: %s", c->path, r ? r : "?");
            st = EV_ERR_FORMAT;
        }
    } else {
        st = fail(c, EV_ERR_IO, "integrity check failed");
    }
    sqlite3_finalize(s);
    s = NULL;
    if (st == EV_OK && sqlite3_prepare_v2(c->db, "SELECT key, dim, vec, crc FROM embeddings", -1, &s, NULL) == SQLITE_OK) {
        int rc;
        while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
            ev_hash k;
            const void *kb = sqlite3_column_blob(s, 0);
            int kl = sqlite3_column_bytes(s, 0);
            int d = sqlite3_column_int(s, 1);
            const void *vb = sqlite3_column_blob(s, 2);
            int vl = sqlite3_column_bytes(s, 2);
            uint32_t crc = (uint32_t)sqlite3_column_int64(s, 3);
            if (kl != 32 || !kb || d <= 0 || d > MAX_DIM || vl != 4 * d || !vb) {
                (*bad)++;
                continue;
            }
            memcpy(k.b, kb, 32);
            if (entry_crc(&k, d, vb, (size_t)vl) != crc) (*bad)++;
        }
        if (rc != SQLITE_DONE) st = fail(c, EV_ERR_IO, "scan failed");
    }
    sqlite3_finalize(s);
    pthread_mutex_unlock(&c->mu);
    return st;
}

static ev_status hash_model_files(const char *path, ev_hash *out, char *errbuf, size_t errlen)
{
    ev_hash h;
    EV_TRY(ev_sha256_file(path, &h, errbuf, errlen));
    char ext[4200];
    snprintf(ext, sizeof ext, "%s.data", path);
    struct stat st;
    if (stat(ext, &st) != 0) {
        *out = h;
        return EV_OK;
    }
    ev_hash h2;
    EV_TRY(ev_sha256_file(ext, &h2, errbuf, errlen));
    ev_sha256_ctx s;
    ev_sha256_init(&s);
    ev_sha256_update(&s, h.b, 32);
    ev_sha256_update(&s, h2.b, 32);
    ev_sha256_final(&s, out);
    return EV_OK;
}

ev_status ev_cache_file_hash(ev_cache *c, const char *path, ev_hash *out, char *errbuf, size_t errlen)
{
    struct stat st, st2;
    if (stat(path, &st) != 0) {
        if (errbuf && errlen) snprintf(errbuf, errlen, "cannot open %s: %s", path, strerror(errno));
        return EV_ERR_IO;
    }
    char ext[4200];
    snprintf(ext, sizeof ext, "%s.data", path);
    bool has_ext = stat(ext, &st2) == 0;
    if (!c || has_ext) return hash_model_files(path, out, errbuf, errlen); /* memo covers single files only */
    char *abs = realpath(path, NULL);
    if (!abs) return hash_model_files(path, out, errbuf, errlen);
    int64_t mt = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
    int64_t ct = (int64_t)st.st_ctim.tv_sec * 1000000000 + st.st_ctim.tv_nsec;
    bool hit = false;
    pthread_mutex_lock(&c->mu);
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(c->db, "SELECT sha FROM files WHERE path=?1 AND dev=?2 AND ino=?3 AND size=?4 AND mtime_ns=?5"
                                  " AND ctime_ns=?6",
                           -1, &s, NULL) == SQLITE_OK) {
        sqlite3_bind_text(s, 1, abs, -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 2, (sqlite3_int64)st.st_dev);
        sqlite3_bind_int64(s, 3, (sqlite3_int64)st.st_ino);
        sqlite3_bind_int64(s, 4, (sqlite3_int64)st.st_size);
        sqlite3_bind_int64(s, 5, mt);
        sqlite3_bind_int64(s, 6, ct);
        if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_bytes(s, 0) == 32) {
            memcpy(out->b, sqlite3_column_blob(s, 0), 32);
            hit = true;
        }
    }
    sqlite3_finalize(s);
    pthread_mutex_unlock(&c->mu);
    if (hit) {
        free(abs);
        return EV_OK;
    }
    ev_status r = hash_model_files(path, out, errbuf, errlen);
    /* memoise only if the file did not change while we read it */
    if (r == EV_OK && stat(path, &st2) == 0 && st2.st_mtim.tv_sec == st.st_mtim.tv_sec &&
        st2.st_mtim.tv_nsec == st.st_mtim.tv_nsec && st2.st_ctim.tv_sec == st.st_ctim.tv_sec &&
        st2.st_ctim.tv_nsec == st.st_ctim.tv_nsec && st2.st_size == st.st_size) {
        pthread_mutex_lock(&c->mu);
        s = NULL;
        if (sqlite3_prepare_v2(c->db, "INSERT OR REPLACE INTO files(path, dev, ino, size, mtime_ns, ctime_ns, sha)"
                                      " VALUES(?1,?2,?3,?4,?5,?6,?7)",
                               -1, &s, NULL) == SQLITE_OK) {
            sqlite3_bind_text(s, 1, abs, -1, SQLITE_STATIC);
            sqlite3_bind_int64(s, 2, (sqlite3_int64)st.st_dev);
            sqlite3_bind_int64(s, 3, (sqlite3_int64)st.st_ino);
            sqlite3_bind_int64(s, 4, (sqlite3_int64)st.st_size);
            sqlite3_bind_int64(s, 5, mt);
            sqlite3_bind_int64(s, 6, ct);
            sqlite3_bind_blob(s, 7, out->b, 32, SQLITE_STATIC);
            sqlite3_step(s); /* a failed memo only costs a re-hash next time */
        }
        sqlite3_finalize(s);
        pthread_mutex_unlock(&c->mu);
    }
    free(abs);
    return r;
}
