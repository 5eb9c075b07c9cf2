/* SHA-256 vectors, the SQLite embedding cache (hits, misses, corruption,
 * schema, clear, model-file hash memo) and kill -9 crash safety. */
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <time.h>

#include "embeval/cache.h"
#include "pipeline/tu.h"

static char dir[512];

static void hex_of(const char *s, size_t n, char out[65])
{
    ev_hash h;
    ev_sha256(s, n, &h);
    ev_hash_hex(&h, out);
}

static void test_sha256(void)
{
    char hex[65];
    hex_of("", 0, hex);
    CHECK(!strcmp(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
    hex_of("abc", 3, hex);
    CHECK(!strcmp(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
    const char *m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    hex_of(m, strlen(m), hex);
    CHECK(!strcmp(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"));
    /* one million 'a', fed in odd-sized pieces */
    ev_sha256_ctx c;
    ev_sha256_init(&c);
    char a[997];
    memset(a, 'a', sizeof a);
    size_t left = 1000000;
    while (left) {
        size_t n = left < sizeof a ? left : (left % 7) + 1 + (left % 990);
        if (n > left) n = left;
        if (n > sizeof a) n = sizeof a;
        ev_sha256_update(&c, a, n);
        left -= n;
    }
    ev_hash h;
    ev_sha256_final(&c, &h);
    ev_hash_hex(&h, hex);
    CHECK(!strcmp(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"));
    /* file hashing equals memory hashing */
    char p[1024];
    snprintf(p, sizeof p, "%s/m.txt", dir);
    tu_writes(p, m);
    ev_hash hf;
    char err[256];
    CHECK(ev_sha256_file(p, &hf, err, sizeof err) == EV_OK);
    ev_sha256(m, strlen(m), &h);
    CHECK(!memcmp(h.b, hf.b, 32));
}

static void fill(float *v, int dim, float base)
{
    for (int i = 0; i < dim; i++) v[i] = base + (float)i * 0.25f;
}

static void test_basic(void)
{
    char err[512], cdir[1024], buf[1200];
    CHECK(ev_cache_default_dir("/x/cache", "/home/u", buf, sizeof buf) == EV_OK && !strcmp(buf, "/x/cache/embeval"));
    CHECK(ev_cache_default_dir("relative", "/home/u", buf, sizeof buf) == EV_OK && !strcmp(buf, "/home/u/.cache/embeval"));
    CHECK(ev_cache_default_dir(NULL, "/home/u", buf, sizeof buf) == EV_OK && !strcmp(buf, "/home/u/.cache/embeval"));
    CHECK(ev_cache_default_dir(NULL, NULL, buf, sizeof buf) == EV_ERR_NOT_FOUND);

    snprintf(cdir, sizeof cdir, "%s/deep/er/cache", dir);
    ev_cache *c = NULL;
    CHECK_MSG(ev_cache_open(cdir, &c, err, sizeof err) == EV_OK, "%s", err);
    if (!c) return;
    CHECK(strstr(ev_cache_path(c), "deep/er/cache/embeddings.sqlite3") != NULL);
    ev_hash model, prep, img[3], keys[3];
    ev_sha256("model", 5, &model);
    ev_sha256("prep", 4, &prep);
    for (int i = 0; i < 3; i++) {
        char s[8];
        snprintf(s, sizeof s, "img%d", i);
        ev_sha256(s, strlen(s), &img[i]);
        ev_cache_key(&model, &prep, &img[i], &keys[i]);
    }
    /* keys differ when any component differs */
    ev_hash k2;
    ev_cache_key(&prep, &model, &img[0], &k2);
    CHECK(memcmp(k2.b, keys[0].b, 32) != 0);
    float v[3 * 5], got[8];
    for (int i = 0; i < 3; i++) fill(v + 5 * i, 5, (float)i * 10.0f);
    int dim = 0;
    CHECK(ev_cache_get(c, &keys[0], got, 8, &dim) == EV_ERR_NOT_FOUND);
    CHECK(ev_cache_put_batch(c, &model, 3, keys, v, 5) == EV_OK);
    CHECK(ev_cache_get(c, &keys[1], got, 8, &dim) == EV_OK && dim == 5);
    CHECK(!memcmp(got, v + 5, 5 * sizeof(float)));
    CHECK(ev_cache_get(c, &keys[2], got, 4, &dim) == EV_ERR_SHAPE && dim == 5);
    CHECK(ev_cache_put_batch(c, &model, 0, NULL, NULL, 5) == EV_OK);
    CHECK(ev_cache_put_batch(c, &model, 1, keys, v, 0) == EV_ERR_INVALID_ARG);
    ev_cache_stats s;
    CHECK(ev_cache_stats_get(c, &s) == EV_OK && s.entries == 3 && s.models == 1 && s.vector_bytes == 60);
    CHECK(s.file_bytes > 0);
    /* overwrite is fine (same key, same value) */
    CHECK(ev_cache_put_batch(c, &model, 1, keys, v, 5) == EV_OK);
    CHECK(ev_cache_stats_get(c, &s) == EV_OK && s.entries == 3);
    ev_cache_close(c);

    /* corrupt one stored vector behind the cache's back: detected, dropped, a miss */
    sqlite3 *db;
    char dbp[1200];
    snprintf(dbp, sizeof dbp, "%s/embeddings.sqlite3", cdir);
    CHECK(sqlite3_open(dbp, &db) == SQLITE_OK);
    sqlite3_stmt *st;
    sqlite3_prepare_v2(db, "UPDATE embeddings SET vec = ?2 WHERE key = ?1", -1, &st, NULL);
    float evil[5] = {9, 9, 9, 9, 9};
    sqlite3_bind_blob(st, 1, keys[1].b, 32, SQLITE_STATIC);
    sqlite3_bind_blob(st, 2, evil, sizeof evil, SQLITE_STATIC);
    CHECK(sqlite3_step(st) == SQLITE_DONE);
    sqlite3_finalize(st);
    /* and truncate another (a "torn" vector) */
    sqlite3_prepare_v2(db, "UPDATE embeddings SET vec = substr(vec, 1, 8) WHERE key = ?1", -1, &st, NULL);
    sqlite3_bind_blob(st, 1, keys[2].b, 32, SQLITE_STATIC);
    CHECK(sqlite3_step(st) == SQLITE_DONE);
    sqlite3_finalize(st);
    sqlite3_close(db);
    CHECK(ev_cache_open(cdir, &c, err, sizeof err) == EV_OK);
    int64_t bad = -1;
    CHECK(ev_cache_verify(c, &bad) == EV_OK && bad == 2);
    CHECK(ev_cache_get(c, &keys[1], got, 8, &dim) == EV_ERR_NOT_FOUND);
    CHECK(ev_cache_get(c, &keys[2], got, 8, &dim) == EV_ERR_NOT_FOUND);
    CHECK(ev_cache_get(c, &keys[0], got, 8, &dim) == EV_OK);
    CHECK(ev_cache_stats_get(c, &s) == EV_OK && s.entries == 1 && s.corrupt_dropped == 2);
    CHECK(ev_cache_verify(c, &bad) == EV_OK && bad == 0);
    CHECK(ev_cache_clear(c) == EV_OK);
    CHECK(ev_cache_stats_get(c, &s) == EV_OK && s.entries == 0);
    ev_cache_close(c);

    /* a newer schema is refused with advice; garbage is refused */
    CHECK(sqlite3_open(dbp, &db) == SQLITE_OK);
    CHECK(sqlite3_exec(db, "UPDATE meta SET value='99' WHERE key='schema'", NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(db);
    CHECK(ev_cache_open(cdir, &c, err, sizeof err) == EV_ERR_UNSUPPORTED);
    CHECK_HAS(err, "schema version 99");
    char gdir[1024], gfile[1100];
    snprintf(gdir, sizeof gdir, "%s/garbage", dir);
    tu_mkdir(gdir);
    snprintf(gfile, sizeof gfile, "%s/embeddings.sqlite3", gdir);
    char junk[4096];
    memset(junk, 'x', sizeof junk);
    tu_write(gfile, junk, sizeof junk);
    CHECK(ev_cache_open(gdir, &c, err, sizeof err) == EV_ERR_IO);
    CHECK_HAS(err, "embeddings.sqlite3");
    /* a file where the directory should be */
    CHECK(ev_cache_open(gfile, &c, err, sizeof err) == EV_ERR_IO);
    CHECK_HAS(err, "cannot create cache directory");
}

static void test_file_hash(void)
{
    char err[512], cdir[1024], p[1024];
    snprintf(cdir, sizeof cdir, "%s/memo", dir);
    snprintf(p, sizeof p, "%s/model.onnx", dir);
    tu_writes(p, "model bytes v1");
    ev_cache *c = NULL;
    CHECK(ev_cache_open(cdir, &c, err, sizeof err) == EV_OK);
    ev_hash a, b, d, ref;
    CHECK(ev_cache_file_hash(c, p, &a, err, sizeof err) == EV_OK);
    ev_sha256("model bytes v1", 14, &ref);
    CHECK(!memcmp(a.b, ref.b, 32));
    CHECK(ev_cache_file_hash(c, p, &b, err, sizeof err) == EV_OK && !memcmp(a.b, b.b, 32)); /* memo hit */
    /* same size, new content: a new hash (ctime/mtime changed) */
    struct timespec ts = {0, 2000000};
    nanosleep(&ts, NULL);
    tu_writes(p, "model bytes v2");
    CHECK(ev_cache_file_hash(c, p, &d, err, sizeof err) == EV_OK && memcmp(a.b, d.b, 32) != 0);
    ev_sha256("model bytes v2", 14, &ref);
    CHECK(!memcmp(d.b, ref.b, 32));
    /* external data is part of the model */
    char ext[1100];
    snprintf(ext, sizeof ext, "%s.data", p);
    tu_writes(ext, "weights");
    CHECK(ev_cache_file_hash(c, p, &b, err, sizeof err) == EV_OK && memcmp(b.b, d.b, 32) != 0);
    CHECK(ev_cache_file_hash(NULL, p, &a, err, sizeof err) == EV_OK && !memcmp(a.b, b.b, 32));
    unlink(ext);
    snprintf(p, sizeof p, "%s/absent.onnx", dir);
    CHECK(ev_cache_file_hash(c, p, &a, err, sizeof err) == EV_ERR_IO);
    ev_cache_close(c);
}

/* kill -9 at random moments while a child writes batches: afterwards every
 * batch the child reported committed is complete and exact, no batch is
 * partial, and the database is intact. */
#define KB 32   /* vectors per batch */
#define KD 128  /* dimension */

static void batch_keys(int b, ev_hash *keys)
{
    for (int i = 0; i < KB; i++) {
        char s[32];
        snprintf(s, sizeof s, "b%d-i%d", b, i);
        ev_sha256(s, strlen(s), &keys[i]);
    }
}

static void test_kill9(void)
{
    char err[512], cdir[1024];
    snprintf(cdir, sizeof cdir, "%s/crash", dir);
    ev_hash model;
    ev_sha256("m", 1, &model);
    srand((unsigned)time(NULL));
    int committed_max = -1;
    for (int round = 0; round < 6; round++) {
        int fds[2];
        if (pipe(fds) != 0) return;
        pid_t pid = fork();
        if (pid == 0) {
            close(fds[0]);
            ev_cache *c = NULL;
            if (ev_cache_open(cdir, &c, err, sizeof err) != EV_OK) _exit(3);
            static float v[KB * KD];
            ev_hash keys[KB];
            for (int b = round * 1000;; b++) {
                batch_keys(b, keys);
                for (int i = 0; i < KB * KD; i++) v[i] = (float)b + (float)i / 1024.0f;
                if (ev_cache_put_batch(c, &model, KB, keys, v, KD) != EV_OK) _exit(4);
                if (write(fds[1], &b, sizeof b) != sizeof b) _exit(5);
            }
        }
        close(fds[1]);
        /* let it commit a few batches, then kill at a random moment */
        int b, n = 0, last = -1, want = 3 + rand() % 20;
        while (n < want && read(fds[0], &b, sizeof b) == sizeof b) {
            last = b;
            n++;
        }
        struct timespec ts = {0, (rand() % 3000) * 1000L};
        nanosleep(&ts, NULL);
        kill(pid, SIGKILL);
        while (read(fds[0], &b, sizeof b) == sizeof b) last = b; /* reported before death */
        close(fds[0]);
        int ws;
        waitpid(pid, &ws, 0);
        CHECK(WIFSIGNALED(ws));
        ev_cache *c = NULL;
        CHECK_MSG(ev_cache_open(cdir, &c, err, sizeof err) == EV_OK, "%s", err);
        if (!c) return;
        int64_t bad = -1;
        CHECK(ev_cache_verify(c, &bad) == EV_OK && bad == 0);
        /* every reported batch complete and exact; the next one all-or-nothing */
        int complete = 1, partial = 0;
        float got[KD];
        ev_hash keys[KB];
        for (int bb = round * 1000; bb <= last + 1; bb++) {
            batch_keys(bb, keys);
            int present = 0;
            for (int i = 0; i < KB; i++) {
                int dim;
                if (ev_cache_get(c, &keys[i], got, KD, &dim) == EV_OK) {
                    present++;
                    if (dim != KD || got[0] != (float)bb + (float)(i * KD) / 1024.0f ||
                        got[KD - 1] != (float)bb + (float)(i * KD + KD - 1) / 1024.0f)
                        complete = 0;
                }
            }
            if (bb <= last && present != KB) complete = 0;
            if (present != 0 && present != KB) partial = 1;
        }
        CHECK_MSG(complete, "round %d: a committed batch is missing or wrong", round);
        CHECK_MSG(!partial, "round %d: a partial batch", round);
        committed_max = last;
        ev_cache_close(c);
    }
    CHECK(committed_max >= 0);
}

int main(void)
{
    tu_tmpdir(dir, sizeof dir, "cache");
    test_sha256();
    test_basic();
    test_file_hash();
    test_kill9();
    tu_rm_rf(dir);
    return tu_done("test_cache_store");
}
