/*
 * lib/embed/embed.c — the embedding pipeline (see embeval/embed.h).
 *
 * Threads and ownership:
 *   workers (opt.workers)  claim item indices in order (next_item), read +
 *                          hash, consult the cache, else decode+preprocess
 *                          into a free slot and queue it as ready;
 *   engine (caller)        takes up to `batch` ready slots, runs the model,
 *                          keeps the outputs, writes them to the cache in one
 *                          transaction, returns the slots to the free list.
 * Everything shared is guarded by job.mu; the slot tensors are owned by
 * whoever took the slot off a list. Invariant: every slot is in exactly one
 * of {free stack, ready ring, held by a worker, held by the engine}; there
 * are 2*batch + workers slots, so a worker can always eventually get one.
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/util.h"
#include "embeval/embed.h"
#include "image/image_internal.h"

#define MAX_BATCH 4096
#define MAX_WORKERS 256
#define MAX_DIM (1 << 20)
#define CLAIM_CHUNK 4

ev_embed_options ev_embed_default_options(void)
{
    ev_embed_options o;
    memset(&o, 0, sizeof o);
    o.batch = 32;
    o.workers = 2;
    o.mode = EV_IMAGE_EXACT;
    o.decode = ev_decode_default_options();
    o.progress_interval = 0.1;
    return o;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

typedef struct slot {
    float *tensor;
    int64_t item;
    ev_hash key;
} slot;

typedef struct job {
    const ev_card *card;
    const ev_dataset *ds;
    ev_embed_options o;
    int C, H, W;
    size_t tsize;                /* floats per image tensor                   */
    bool use_cache;              /* workers read the cache (set before they start) */
    bool cache_writes;           /* the engine writes it (engine thread only) */
    ev_hash model_hash, prep_hash;
    int64_t n;
    /* per item (selection index) */
    float **vec;                 /* raw model output, malloc'd                */
    int *vdim;
    char **skip_reason;
    ev_status *skip_code;
    /* sync */
    pthread_mutex_t mu;
    pthread_cond_t cv_engine, cv_worker;
    slot *slots;
    int n_slots;
    int *free_stack, n_free;
    int *ring, ring_head, ring_count;
    int64_t next_item;
    int workers_active;
    int fatal;
    ev_status fatal_code;
    char fatal_msg[2 * EV_ERRLEN];
    /* counters (under mu) */
    int64_t hits, skipped, computed;
    double decode_secs;
    double t0;
} job;

static void set_fatal_locked(job *j, ev_status code, const char *msg)
{
    if (!j->fatal) {
        j->fatal = 1;
        j->fatal_code = code;
        snprintf(j->fatal_msg, sizeof j->fatal_msg, "%s", msg);
    }
    pthread_cond_broadcast(&j->cv_worker);
    pthread_cond_broadcast(&j->cv_engine);
}

static void record_skip(job *j, int64_t i, ev_status code, const char *msg)
{
    char *r = ev_strdup(msg);
    pthread_mutex_lock(&j->mu);
    j->skip_code[i] = code;
    j->skip_reason[i] = r ? r : ev_strdup("out of memory");
    j->skipped++;
    if (j->o.strict) set_fatal_locked(j, code, msg); /* wakes everyone */
    pthread_mutex_unlock(&j->mu);
}

static void image_hash(const ev_item *it, const void *buf, size_t len, ev_hash *out)
{
    if (it->path) {
        ev_sha256(buf, len, out);
        return;
    }
    char hdr[64];
    int n = snprintf(hdr, sizeof hdr, "raw:%dx%dx%d:", it->width, it->height, it->channels);
    ev_sha256_ctx c;
    ev_sha256_init(&c);
    ev_sha256_update(&c, hdr, (size_t)n);
    ev_sha256_update(&c, it->pixels, (size_t)it->width * it->height * it->channels);
    ev_sha256_final(&c, out);
}

static void *worker_main(void *arg)
{
    job *j = arg;
    size_t cap = 4096;
    float *tmp = malloc(cap * sizeof *tmp);
    char err[2 * EV_ERRLEN];
    int64_t next_i = 0, chunk_end = 0;
    for (;;) {
        /* claim items a few at a time: fewer lock round trips per item */
        if (next_i >= chunk_end) {
            pthread_mutex_lock(&j->mu);
            if (j->fatal || j->next_item >= j->n) {
                pthread_mutex_unlock(&j->mu);
                break;
            }
            next_i = j->next_item;
            chunk_end = next_i + CLAIM_CHUNK < j->n ? next_i + CLAIM_CHUNK : j->n;
            j->next_item = chunk_end;
            pthread_mutex_unlock(&j->mu);
        } else if (j->o.strict) {
            pthread_mutex_lock(&j->mu); /* stop promptly after a strict failure */
            int f = j->fatal;
            pthread_mutex_unlock(&j->mu);
            if (f) break;
        }
        int64_t i = next_i++;
        double t0 = now_s();
        ev_item it;
        if (ev_dataset_item(j->ds, i, &it) != EV_OK) {
            record_skip(j, i, EV_ERR_INTERNAL, "dataset item out of range");
            continue;
        }
        char *buf = NULL;
        size_t len = 0;
        if (it.path) {
            ev_err e;
            ev_err_clear(&e);
            int64_t maxb = j->o.decode.max_file_bytes > 0 ? j->o.decode.max_file_bytes : ((int64_t)512 << 20);
            if (ev_read_file(it.path, (size_t)maxb, &buf, &len, &e) != EV_OK) {
                record_skip(j, i, e.code, e.msg);
                continue;
            }
        }
        ev_hash key;
        memset(&key, 0, sizeof key);
        if (j->use_cache) {
            ev_hash ih;
            image_hash(&it, buf, len, &ih);
            ev_cache_key(&j->model_hash, &j->prep_hash, &ih, &key);
            int dim = 0;
            ev_status st = tmp ? ev_cache_get(j->o.cache, &key, tmp, (int)cap, &dim) : EV_ERR_NOMEM;
            if (st == EV_ERR_SHAPE && dim > 0 && dim <= MAX_DIM) {
                float *t2 = realloc(tmp, (size_t)dim * sizeof *tmp);
                if (t2) {
                    tmp = t2;
                    cap = (size_t)dim;
                    st = ev_cache_get(j->o.cache, &key, tmp, (int)cap, &dim);
                }
            }
            if (st == EV_OK) {
                float *v = malloc((size_t)dim * sizeof *v);
                if (v) {
                    memcpy(v, tmp, (size_t)dim * sizeof *v);
                    free(buf);
                    pthread_mutex_lock(&j->mu);
                    j->vec[i] = v;
                    j->vdim[i] = dim;
                    j->hits++;
                    j->decode_secs += now_s() - t0;
                    /* no wake-up: the engine has nothing to do for a hit (it
                       polls for progress and is woken when workers finish) */
                    pthread_mutex_unlock(&j->mu);
                    continue;
                }
            }
        }
        /* a miss: take a slot (waiting for one is not decode time) */
        double t_wait = now_s();
        pthread_mutex_lock(&j->mu);
        while (j->n_free == 0 && !j->fatal) pthread_cond_wait(&j->cv_worker, &j->mu);
        t0 += now_s() - t_wait;
        if (j->fatal) {
            pthread_mutex_unlock(&j->mu);
            free(buf);
            break;
        }
        int s = j->free_stack[--j->n_free];
        pthread_mutex_unlock(&j->mu);
        float *t = j->slots[s].tensor;
        ev_status st;
        if (it.path) {
            st = ev_preprocess_encoded(&j->card->preprocess, j->o.mode, &j->o.decode, buf, len, it.name, t, err,
                                       sizeof err);
        } else {
            ev_err e;
            ev_err_clear(&e);
            st = ev_preprocess_pixels_internal(&j->card->preprocess, it.pixels, it.width, it.height, it.channels, t,
                                               &e);
            if (st != EV_OK) snprintf(err, sizeof err, "%s: %s", it.name, e.msg);
        }
        free(buf);
        if (st != EV_OK) {
            pthread_mutex_lock(&j->mu);
            j->free_stack[j->n_free++] = s;
            pthread_cond_broadcast(&j->cv_worker);
            pthread_mutex_unlock(&j->mu);
            record_skip(j, i, st, err);
            continue;
        }
        pthread_mutex_lock(&j->mu);
        j->slots[s].item = i;
        j->slots[s].key = key;
        j->ring[(j->ring_head + j->ring_count) % j->n_slots] = s;
        j->ring_count++;
        j->decode_secs += now_s() - t0;
        pthread_cond_broadcast(&j->cv_engine);
        pthread_mutex_unlock(&j->mu);
    }
    free(tmp);
    pthread_mutex_lock(&j->mu);
    j->workers_active--;
    pthread_cond_broadcast(&j->cv_engine);
    pthread_mutex_unlock(&j->mu);
    ev_image_thread_cleanup();
    return NULL;
}

/* ---- engine side ---------------------------------------------------------- */
typedef struct engine {
    ev_model *m;
    int in_idx, out_idx, n_inputs;
    int fixed_batch;             /* > 0: the model's static batch dimension   */
    float *batch_buf;
    size_t batch_cap;            /* floats                                    */
    ev_hash *keys;
    float *outbuf;
} engine;

static ev_status engine_load(job *j, engine *g, ev_embed_stats *stats, char *msg, size_t msglen)
{
    double t0 = now_s();
    ev_model_options mo = ev_model_default_options();
    mo.threads = j->o.engine_threads;
    mo.precision = j->o.precision;
    g->m = ev_model_new(&mo);
    if (!g->m) {
        snprintf(msg, msglen, "out of memory");
        return EV_ERR_NOMEM;
    }
    ev_status st = ev_model_load(g->m, j->card->model_path);
    if (st != EV_OK) {
        snprintf(msg, msglen, "%s", ev_model_errmsg(g->m));
        return st;
    }
    g->n_inputs = ev_model_num_inputs(g->m);
    const char *want = j->card->input_name;
    g->in_idx = -1;
    ev_value_info vi;
    for (int k = 0; k < g->n_inputs; k++) {
        if (ev_model_input_info(g->m, k, &vi) != EV_OK) continue;
        if ((want && *want && !strcmp(vi.name, want)) || ((!want || !*want) && g->n_inputs == 1)) g->in_idx = k;
    }
    if (g->in_idx < 0) {
        if (want && *want)
            snprintf(msg, msglen, "model %s has no input named '%s' (card %s)", j->card->model_path, want,
                     j->card->card_path);
        else
            snprintf(msg, msglen, "model %s has %d inputs: name the image input in a card", j->card->model_path,
                     g->n_inputs);
        return EV_ERR_NOT_FOUND;
    }
    if (g->n_inputs != 1) {
        snprintf(msg, msglen, "model %s has %d inputs; embeval feeds one image tensor", j->card->model_path,
                 g->n_inputs);
        return EV_ERR_UNSUPPORTED;
    }
    ev_model_input_info(g->m, g->in_idx, &vi);
    bool nhwc = j->card->preprocess.layout == EV_LAYOUT_NHWC;
    int64_t want_dims[4] = {-1, nhwc ? j->H : j->C, nhwc ? j->W : j->H, nhwc ? j->C : j->W};
    bool ok = vi.dtype == EV_DT_FLOAT && vi.rank == 4;
    for (int d = 1; ok && d < 4; d++)
        if (vi.dims[d] >= 0 && vi.dims[d] != want_dims[d]) ok = false;
    if (!ok) {
        char shp[128] = "";
        for (int d = 0; d < vi.rank && d < EV_MAX_RANK; d++) {
            size_t l = strlen(shp);
            snprintf(shp + l, sizeof shp - l, "%s%lld", d ? "," : "", (long long)vi.dims[d]);
        }
        snprintf(msg, msglen,
                 "model %s input '%s' is %s [%s], but the preprocessing (card %s) makes float32 [N,%lld,%lld,%lld]",
                 j->card->model_path, vi.name, ev_dtype_name(vi.dtype), shp,
                 *j->card->card_path ? j->card->card_path : "default", (long long)want_dims[1],
                 (long long)want_dims[2], (long long)want_dims[3]);
        return EV_ERR_SHAPE;
    }
    g->fixed_batch = vi.dims[0] > 0 ? (int)vi.dims[0] : 0;
    const char *oname = j->card->output_name;
    g->out_idx = (oname && *oname) ? -1 : 0;
    int n_out = ev_model_num_outputs(g->m);
    for (int k = 0; oname && *oname && k < n_out; k++)
        if (ev_model_output_info(g->m, k, &vi) == EV_OK && !strcmp(vi.name, oname)) g->out_idx = k;
    if (g->out_idx < 0 || n_out < 1) {
        snprintf(msg, msglen, "model %s has no output named '%s' (card %s)", j->card->model_path, oname,
                 j->card->card_path);
        return EV_ERR_NOT_FOUND;
    }
    stats->model_loaded = 1;
    stats->model_load_seconds = now_s() - t0;
    return EV_OK;
}

/* Run one batch of k slots; keep raw outputs; write them to the cache. */
static ev_status engine_run(job *j, engine *g, const int *sl, int k, int *dim_io, ev_embed_stats *stats, char *msg,
                            size_t msglen)
{
    int rb = g->fixed_batch > 0 ? g->fixed_batch : k; /* rows the model sees */
    size_t need = (size_t)rb * j->tsize;
    if (need > g->batch_cap) {
        free(g->batch_buf);
        g->batch_buf = ev_malloc_aligned(need * sizeof(float));
        g->batch_cap = g->batch_buf ? need : 0;
        if (!g->batch_buf) {
            snprintf(msg, msglen, "out of memory (batch of %d)", rb);
            return EV_ERR_NOMEM;
        }
    }
    for (int r = 0; r < k; r++) memcpy(g->batch_buf + (size_t)r * j->tsize, j->slots[sl[r]].tensor, j->tsize * sizeof(float));
    if (rb > k) memset(g->batch_buf + (size_t)k * j->tsize, 0, (size_t)(rb - k) * j->tsize * sizeof(float));
    ev_tensor x;
    memset(&x, 0, sizeof x);
    x.dtype = EV_DT_FLOAT;
    x.rank = 4;
    bool nhwc = j->card->preprocess.layout == EV_LAYOUT_NHWC;
    x.dims[0] = rb;
    x.dims[1] = nhwc ? j->H : j->C;
    x.dims[2] = nhwc ? j->W : j->H;
    x.dims[3] = nhwc ? j->C : j->W;
    x.data = g->batch_buf;
    double t0 = now_s();
    ev_status st = ev_model_run(g->m, &x, 1);
    stats->infer_seconds += now_s() - t0;
    if (st != EV_OK) {
        snprintf(msg, msglen, "%s", ev_model_errmsg(g->m));
        return st;
    }
    ev_tensor y;
    st = ev_model_output(g->m, g->out_idx, &y);
    if (st != EV_OK) {
        snprintf(msg, msglen, "%s", ev_model_errmsg(g->m));
        return st;
    }
    int64_t numel = ev_tensor_numel(&y);
    if (y.dtype != EV_DT_FLOAT || y.rank < 1 || y.dims[0] != rb || numel <= 0 || numel % rb != 0 ||
        numel / rb > MAX_DIM) {
        snprintf(msg, msglen, "model %s output is %s of rank %d with first dimension %lld; expected float32 [%d, D]",
                 j->card->model_path, ev_dtype_name(y.dtype), y.rank, y.rank > 0 ? (long long)y.dims[0] : -1LL, rb);
        return EV_ERR_SHAPE;
    }
    int D = (int)(numel / rb);
    if (*dim_io > 0 && *dim_io != D) {
        snprintf(msg, msglen, "model %s output has %d values per image, earlier %d", j->card->model_path, D, *dim_io);
        return EV_ERR_SHAPE;
    }
    if (j->card->embedding_dim > 0 && j->card->embedding_dim != D) {
        snprintf(msg, msglen, "model %s makes %d-dimensional embeddings, the card %s says %d", j->card->model_path, D,
                 j->card->card_path, j->card->embedding_dim);
        return EV_ERR_SHAPE;
    }
    *dim_io = D;
    const float *out = y.data;
    for (int r = 0; r < k; r++) {
        const float *row = out + (size_t)r * D;
        for (int d = 0; d < D; d++)
            if (!isfinite(row[d])) {
                ev_item it;
                ev_dataset_item(j->ds, j->slots[sl[r]].item, &it);
                snprintf(msg, msglen, "model %s produced a non-finite value for %s", j->card->model_path, it.name);
                return EV_ERR_DATA;
            }
    }
    if (j->cache_writes) {
        for (int r = 0; r < k; r++) g->keys[r] = j->slots[sl[r]].key;
        if (ev_cache_put_batch(j->o.cache, &j->model_hash, k, g->keys, out, D) != EV_OK) {
            ev_log(EV_LOG_WARN, "%s; continuing without writing to the cache", ev_cache_errmsg(j->o.cache));
            j->cache_writes = false;
        }
    }
    for (int r = 0; r < k; r++) {
        float *v = malloc((size_t)D * sizeof *v);
        if (!v) {
            snprintf(msg, msglen, "out of memory");
            return EV_ERR_NOMEM;
        }
        memcpy(v, out + (size_t)r * D, (size_t)D * sizeof *v);
        int64_t i = j->slots[sl[r]].item;
        j->vec[i] = v; /* item i is owned by the engine from now: no lock needed */
        j->vdim[i] = D;
    }
    stats->batches++;
    return EV_OK;
}

static void report(job *j, double *last, int finished)
{
    if (!j->o.progress) return;
    double t = now_s();
    if (!finished && t - *last < j->o.progress_interval) return;
    *last = t;
    ev_embed_progress p;
    pthread_mutex_lock(&j->mu);
    p.cache_hits = j->hits;
    p.skipped = j->skipped;
    p.done = j->hits + j->skipped + j->computed;
    pthread_mutex_unlock(&j->mu);
    p.total = j->n;
    p.elapsed = t - j->t0;
    p.finished = finished;
    j->o.progress(j->o.progress_user, &p);
}

void ev_embeddings_free(ev_embeddings *e)
{
    if (!e) return;
    for (int64_t i = 0; i < e->n_skipped; i++) free((char *)e->skipped[i].reason);
    free(e->skipped);
    free(e->data);
    free(e->items);
    free(e->labels);
    free(e);
}

static ev_status fail_out(ev_status st, const char *msg, char *errbuf, size_t errlen)
{
    if (errbuf && errlen) snprintf(errbuf, errlen, "%s", msg);
    return st;
}

ev_status ev_embed(const ev_card *card, const ev_dataset *ds, const ev_embed_options *opt, ev_embeddings **out,
                   char *errbuf, size_t errlen)
{
    *out = NULL;
    char msg[2 * EV_ERRLEN];
    if (!card || !ds) return fail_out(EV_ERR_INVALID_ARG, "ev_embed: no card or dataset", errbuf, errlen);
    job J;
    memset(&J, 0, sizeof J);
    job *j = &J;
    j->t0 = now_s();
    j->card = card;
    j->ds = ds;
    j->o = opt ? *opt : ev_embed_default_options();
    if (j->o.batch <= 0) j->o.batch = 32;
    if (j->o.batch > MAX_BATCH) j->o.batch = MAX_BATCH;
    if (j->o.workers <= 0) j->o.workers = 2;
    if (j->o.workers > MAX_WORKERS) j->o.workers = MAX_WORKERS;
    if (j->o.progress_interval <= 0) j->o.progress_interval = 0.1;
    if (j->o.decode.max_pixels == 0 && j->o.decode.min_side == 0 && j->o.decode.max_file_bytes == 0)
        j->o.decode = ev_decode_default_options();
    if (ev_preprocess_output_size(&card->preprocess, &j->C, &j->H, &j->W) != EV_OK) {
        ev_preprocess_validate(&card->preprocess, msg, sizeof msg);
        return fail_out(EV_ERR_INVALID_ARG, msg, errbuf, errlen);
    }
    if (ev_image_init(msg, sizeof msg) != EV_OK) return fail_out(EV_ERR_BACKEND, msg, errbuf, errlen);
    j->tsize = (size_t)j->C * j->H * j->W;
    j->n = ev_dataset_count(ds);

    ev_embeddings *E = calloc(1, sizeof *E);
    if (!E) return fail_out(EV_ERR_NOMEM, "out of memory", errbuf, errlen);
    ev_preprocess_describe(&card->preprocess, j->o.mode, &j->o.decode, E->preprocess, sizeof E->preprocess);
    ev_sha256(E->preprocess, strlen(E->preprocess), &j->prep_hash);
    if (j->o.cache) {
        double t0 = now_s();
        ev_status st = ev_cache_file_hash(j->o.cache, card->model_path, &j->model_hash, msg, sizeof msg);
        E->stats.hash_seconds = now_s() - t0;
        if (st != EV_OK) {
            free(E);
            return fail_out(st, msg, errbuf, errlen);
        }
        ev_hash_hex(&j->model_hash, E->model_hash);
        j->use_cache = true;
        j->cache_writes = true;
    }

    ev_status st = EV_OK;
    bool sync_init = false;
    engine g;
    memset(&g, 0, sizeof g);
    pthread_t *th = NULL;
    int n_threads = 0;
    size_t n = (size_t)(j->n > 0 ? j->n : 1);
    j->vec = calloc(n, sizeof *j->vec);
    j->vdim = calloc(n, sizeof *j->vdim);
    j->skip_reason = calloc(n, sizeof *j->skip_reason);
    j->skip_code = calloc(n, sizeof *j->skip_code);
    j->n_slots = 2 * j->o.batch + j->o.workers;
    j->slots = calloc((size_t)j->n_slots, sizeof *j->slots);
    j->free_stack = calloc((size_t)j->n_slots, sizeof *j->free_stack);
    j->ring = calloc((size_t)j->n_slots, sizeof *j->ring);
    g.keys = calloc((size_t)(j->o.batch > 0 ? j->o.batch : 1), sizeof *g.keys);
    th = calloc((size_t)j->o.workers, sizeof *th);
    if (!j->vec || !j->vdim || !j->skip_reason || !j->skip_code || !j->slots || !j->free_stack || !j->ring || !g.keys ||
        !th) {
        st = EV_ERR_NOMEM;
        snprintf(msg, sizeof msg, "out of memory");
        goto cleanup;
    }
    for (int s = 0; s < j->n_slots; s++) {
        j->slots[s].tensor = ev_malloc_aligned(j->tsize * sizeof(float));
        if (!j->slots[s].tensor) {
            st = EV_ERR_NOMEM;
            snprintf(msg, sizeof msg, "out of memory (image tensors)");
            goto cleanup;
        }
        j->free_stack[j->n_free++] = s;
    }
    pthread_mutex_init(&j->mu, NULL);
    pthread_cond_init(&j->cv_engine, NULL);
    pthread_cond_init(&j->cv_worker, NULL);
    sync_init = true;
    j->workers_active = j->o.workers;
    for (int w = 0; w < j->o.workers; w++) {
        if (pthread_create(&th[w], NULL, worker_main, j) != 0) {
            pthread_mutex_lock(&j->mu);
            j->workers_active -= j->o.workers - w;
            set_fatal_locked(j, EV_ERR_INTERNAL, "cannot start worker threads");
            pthread_mutex_unlock(&j->mu);
            break;
        }
        n_threads++;
    }

    int dim = 0, batch = j->o.batch;
    double last = 0;
    int *take = calloc((size_t)j->n_slots, sizeof *take);
    if (!take) {
        pthread_mutex_lock(&j->mu);
        set_fatal_locked(j, EV_ERR_NOMEM, "out of memory");
        pthread_mutex_unlock(&j->mu);
    }
    for (;;) {
        pthread_mutex_lock(&j->mu);
        while (!j->fatal && j->ring_count < batch && j->workers_active > 0) {
            if (g.m == NULL && j->ring_count > 0) break; /* load the model early */
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            long ns = ts.tv_nsec + (long)(j->o.progress_interval * 1e9);
            ts.tv_sec += ns / 1000000000L;
            ts.tv_nsec = ns % 1000000000L;
            pthread_cond_timedwait(&j->cv_engine, &j->mu, &ts);
            pthread_mutex_unlock(&j->mu);
            report(j, &last, 0);
            pthread_mutex_lock(&j->mu);
        }
        if (j->fatal || !take) {
            pthread_mutex_unlock(&j->mu);
            break;
        }
        if (j->ring_count > 0 && g.m == NULL) {
            pthread_mutex_unlock(&j->mu);
            ev_status ls = engine_load(j, &g, &E->stats, msg, sizeof msg);
            pthread_mutex_lock(&j->mu);
            if (ls != EV_OK) {
                set_fatal_locked(j, ls, msg);
                pthread_mutex_unlock(&j->mu);
                break;
            }
            /* a fixed batch dimension: never collect more (a smaller batch is
               zero-padded by engine_run; more than the slots could deadlock) */
            if (g.fixed_batch > 0 && g.fixed_batch < batch) batch = g.fixed_batch;
            pthread_mutex_unlock(&j->mu);
            continue;
        }
        int k = 0;
        while (k < batch && j->ring_count > 0) {
            take[k++] = j->ring[j->ring_head];
            j->ring_head = (j->ring_head + 1) % j->n_slots;
            j->ring_count--;
        }
        bool done = k == 0 && j->workers_active == 0;
        pthread_mutex_unlock(&j->mu);
        if (done) break;
        if (k == 0) continue;
        ev_status rs = engine_run(j, &g, take, k, &dim, &E->stats, msg, sizeof msg);
        pthread_mutex_lock(&j->mu);
        for (int r = 0; r < k; r++) j->free_stack[j->n_free++] = take[r];
        if (rs == EV_OK) j->computed += k;
        else set_fatal_locked(j, rs, msg);
        pthread_cond_broadcast(&j->cv_worker);
        pthread_mutex_unlock(&j->mu);
        if (rs != EV_OK) break;
        report(j, &last, 0);
    }
    free(take);
    pthread_mutex_lock(&j->mu);
    if (!j->fatal && j->next_item < j->n) set_fatal_locked(j, EV_ERR_INTERNAL, "pipeline stopped early");
    if (j->fatal) pthread_cond_broadcast(&j->cv_worker);
    pthread_mutex_unlock(&j->mu);
    for (int w = 0; w < n_threads; w++) pthread_join(th[w], NULL);
    if (j->fatal) {
        st = j->fatal_code ? j->fatal_code : EV_ERR_INTERNAL;
        _Static_assert(sizeof msg == sizeof j->fatal_msg, "message buffers");
        memcpy(msg, j->fatal_msg, sizeof msg);
        goto cleanup;
    }

    /* assemble: rows in selection order */
    int64_t rows = 0;
    for (int64_t i = 0; i < j->n; i++) {
        if (!j->vec[i]) continue;
        if (dim == 0) dim = j->vdim[i];
        if (j->vdim[i] != dim) {
            st = EV_ERR_INTERNAL;
            snprintf(msg, sizeof msg, "cached embeddings of %d values do not match the model's %d (cache %s)",
                     j->vdim[i], dim, j->o.cache ? ev_cache_path(j->o.cache) : "");
            goto cleanup;
        }
        rows++;
    }
    E->n = rows;
    E->dim = dim > 0 ? dim : card->embedding_dim;
    if (rows > 0) {
        E->data = malloc((size_t)rows * dim * sizeof(float));
        E->items = malloc((size_t)rows * sizeof *E->items);
        E->labels = malloc((size_t)rows * sizeof *E->labels);
    }
    int64_t nskip = 0;
    for (int64_t i = 0; i < j->n; i++)
        if (j->skip_reason[i]) nskip++;
    if (nskip) E->skipped = calloc((size_t)nskip, sizeof *E->skipped);
    if ((rows && (!E->data || !E->items || !E->labels)) || (nskip && !E->skipped)) {
        st = EV_ERR_NOMEM;
        snprintf(msg, sizeof msg, "out of memory (result)");
        goto cleanup;
    }
    int64_t r = 0;
    for (int64_t i = 0; i < j->n; i++) {
        ev_item it;
        ev_dataset_item(ds, i, &it);
        if (j->vec[i]) {
            float *d = E->data + (size_t)r * dim;
            memcpy(d, j->vec[i], (size_t)dim * sizeof(float));
            if (card->normalize) {
                double ss = 0;
                for (int k = 0; k < dim; k++) ss += (double)d[k] * d[k];
                if (ss > 0) {
                    float inv = (float)(1.0 / sqrt(ss));
                    for (int k = 0; k < dim; k++) d[k] *= inv;
                }
            }
            E->items[r] = i;
            E->labels[r] = it.label;
            r++;
        } else if (j->skip_reason[i]) {
            ev_embed_skip *s = &E->skipped[E->n_skipped++];
            s->item = i;
            s->name = it.name;
            s->code = j->skip_code[i];
            s->reason = j->skip_reason[i];
            j->skip_reason[i] = NULL; /* moved */
        }
    }
    E->stats.items = j->n;
    E->stats.embedded = rows;
    E->stats.cache_hits = j->hits;
    E->stats.computed = j->computed;
    E->stats.skipped = j->skipped;
    E->stats.decode_seconds = j->decode_secs;

cleanup:
    if (st == EV_OK) {
        E->stats.seconds = now_s() - j->t0;
        report(j, &last, 1);
    }
    if (j->slots)
        for (int s = 0; s < j->n_slots; s++) ev_free_aligned(j->slots[s].tensor);
    if (j->vec)
        for (int64_t i = 0; i < j->n; i++) free(j->vec[i]);
    if (j->skip_reason)
        for (int64_t i = 0; i < j->n; i++) free(j->skip_reason[i]);
    free(j->vec);
    free(j->vdim);
    free(j->skip_reason);
    free(j->skip_code);
    free(j->slots);
    free(j->free_stack);
    free(j->ring);
    free(th);
    free(g.keys);
    ev_free_aligned(g.batch_buf);
    ev_model_free(g.m);
    if (sync_init) {
        pthread_cond_destroy(&j->cv_worker);
        pthread_cond_destroy(&j->cv_engine);
        pthread_mutex_destroy(&j->mu);
    }
    if (st != EV_OK) {
        ev_embeddings_free(E);
        return fail_out(st, msg, errbuf, errlen);
    }
    *out = E;
    if (errbuf && errlen) errbuf[0] = 0;
    return EV_OK;
}
