/* lib/report/run.c — ev_run(): models x datasets -> the report document.
 *
 * Order of work: every dataset is opened (and its query / memory subsets
 * selected and fingerprinted) first, because a dataset problem concerns
 * every model and should fail fast. Then, model by model: the card, the
 * model file's hash, for each dataset the embeddings of the queries and the
 * memory (through the embedding cache), the metrics (through the result
 * cache), and last the efficiency measurement, after the embeddings are
 * freed so that the memory high-water mark sees little but the model. */
#include <dirent.h>
#include <elf.h>
#include <errno.h>
#include <link.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "embeval/card.h"
#include "embeval/dataset.h"
#include "embeval/embed.h"
#include "report/report_internal.h"

#define MAX_SKIPPED_LISTED 100

ev_run_options ev_run_default_options(void)
{
    ev_run_options o;
    memset(&o, 0, sizeof o);
    o.limit = 2000;
    o.train_limit = 3000;
    o.batch = 32;
    o.mode = EV_IMAGE_EXACT;
    o.bootstrap = 1000;
    o.bench = 1;
    o.bench_warmup = 10;
    o.bench_runs = 50;
    o.bench_batch = 16;
    o.bench_throughput_runs = 5;
    return o;
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* ---- model discovery ---------------------------------------------------------------- */
static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcmp(s + a - b, suf);
}

/* Is this JSON file a model card? (cheap check of the first 64 KiB) */
static int looks_like_card(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    char buf[65536];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    return strstr(buf, "\"embeval_card\"") != NULL || strstr(buf, "\"preprocess\"") != NULL;
}

static int push(char ***v, int *n, int *cap, char *s)
{
    if (!s) return 0;
    if (*n + 2 > *cap) {
        int c = *cap ? *cap * 2 : 16;
        char **nv = realloc(*v, (size_t)c * sizeof *nv);
        if (!nv) {
            free(s);
            return 0;
        }
        *v = nv;
        *cap = c;
    }
    (*v)[(*n)++] = s;
    (*v)[*n] = NULL;
    return 1;
}

void ev_model_list_free(char **paths)
{
    if (!paths) return;
    for (char **p = paths; *p; p++) free(*p);
    free(paths);
}

ev_status ev_model_list(const char *dir, char ***paths, int *n, char ***orphans, int *n_orphans, char *errbuf,
                        size_t errlen)
{
    ev_err e = {0};
    if (!dir || !paths || !n) {
        ev_err_set(&e, EV_ERR_INVALID_ARG, "ev_model_list: invalid arguments");
        ev_err_copy(&e, errbuf, errlen);
        return e.code;
    }
    *paths = NULL;
    *n = 0;
    if (orphans) *orphans = NULL;
    if (n_orphans) *n_orphans = 0;
    DIR *d = opendir(dir);
    if (!d) {
        ev_err_set(&e, errno == ENOENT ? EV_ERR_NOT_FOUND : EV_ERR_IO, "cannot read the model directory: %s (%s)",
                   strerror(errno), dir);
        ev_err_copy(&e, errbuf, errlen);
        return e.code;
    }
    char **cards = NULL, **onnx = NULL;
    int nc = 0, cc = 0, no = 0, co = 0, ok = 1;
    struct dirent *de;
    while (ok && (de = readdir(d)) != NULL) {
        const char *nm = de->d_name;
        if (nm[0] == '.') continue;
        size_t l = strlen(dir) + strlen(nm) + 2;
        char *p = malloc(l);
        if (!p) {
            ok = 0;
            break;
        }
        snprintf(p, l, "%s/%s", dir, nm);
        struct stat sb;
        if (stat(p, &sb) != 0 || !S_ISREG(sb.st_mode)) {
            free(p);
            continue;
        }
        if (ends_with(nm, ".json") && !ends_with(nm, ".train.json") && strcmp(nm, "models.json") != 0 &&
            looks_like_card(p))
            ok = push(&cards, &nc, &cc, p);
        else if (ends_with(nm, ".onnx"))
            ok = push(&onnx, &no, &co, p);
        else
            free(p);
    }
    closedir(d);
    if (!ok) {
        ev_model_list_free(cards);
        ev_model_list_free(onnx);
        ev_err_set(&e, EV_ERR_NOMEM, "out of memory");
        ev_err_copy(&e, errbuf, errlen);
        return e.code;
    }
    if (nc > 1) qsort(cards, (size_t)nc, sizeof *cards, cmp_str);
    /* .onnx files that no card names (by "file") are orphans */
    char **named_files = calloc((size_t)nc + 1, sizeof *named_files);
    for (int c = 0; c < nc && named_files; c++) {
        ev_card *card = NULL;
        if (ev_card_load(cards[c], &card, NULL, 0) == EV_OK) {
            const char *mb = strrchr(card->model_path, '/');
            named_files[c] = ev_strdup(mb ? mb + 1 : card->model_path);
        }
        ev_card_free(card);
    }
    int nor = 0;
    for (int i = 0; i < no; i++) {
        int named = 0;
        const char *base = strrchr(onnx[i], '/');
        base = base ? base + 1 : onnx[i];
        for (int c = 0; c < nc && named_files && !named; c++) named = named_files[c] && !strcmp(named_files[c], base);
        if (named) free(onnx[i]);
        else onnx[nor++] = onnx[i];
    }
    for (int c = 0; c < nc && named_files; c++) free(named_files[c]);
    free(named_files);
    if (onnx) onnx[nor] = NULL;
    if (nor > 1) qsort(onnx, (size_t)nor, sizeof *onnx, cmp_str);
    if (!cards) {
        cards = calloc(1, sizeof *cards);
        if (!cards) {
            ev_model_list_free(onnx);
            ev_err_set(&e, EV_ERR_NOMEM, "out of memory");
            ev_err_copy(&e, errbuf, errlen);
            return e.code;
        }
    }
    *paths = cards;
    *n = nc;
    if (orphans) *orphans = onnx;
    else ev_model_list_free(onnx);
    if (n_orphans) *n_orphans = nor;
    return EV_OK;
}

/* ---- run state ------------------------------------------------------------------------ */
typedef struct dsctx {
    const char *spec;
    ev_dataset *q, *mem;         /* queries / memory selections              */
    ev_split qsplit;
    int has_memory;
    int n_classes;
    const char **class_names;
    cJSON *json, *results, *items_results;
    char fingerprint[65];
    double open_s, work_s;
} dsctx;

typedef struct runctx {
    const ev_run_options *o;
    int threads;
    ev_run_progress p;
    double phase_t0;
    dsctx *ds;
    int n_ds;
    const char *results_dir;
} runctx;

static void progress(runctx *rc, const char *phase, double frac, int finished, const char *detail)
{
    if (!rc->o->progress) return;
    if (!rc->p.phase || strcmp(rc->p.phase, phase) != 0) rc->phase_t0 = now_s();
    rc->p.phase = phase;
    rc->p.fraction = frac;
    rc->p.phase_finished = finished;
    rc->p.detail = detail;
    rc->p.elapsed = now_s() - rc->phase_t0;
    rc->o->progress(rc->o->progress_user, &rc->p);
}

/* ---- dataset fingerprint ------------------------------------------------------------- */
static void hash_items(const ev_dataset *ds, ev_sha256_ctx *all, ev_hash *own)
{
    ev_sha256_ctx c;
    ev_sha256_init(&c);
    int64_t n = ev_dataset_count(ds);
    for (int64_t i = 0; i < n; i++) {
        ev_item it;
        if (ev_dataset_item(ds, i, &it) != EV_OK) continue;
        ev_hash h;
        if (it.path) {
            if (ev_sha256_file(it.path, &h, NULL, 0) != EV_OK) {
                char b[64];
                snprintf(b, sizeof b, "unreadable:");
                ev_sha256_ctx u;
                ev_sha256_init(&u);
                ev_sha256_update(&u, b, strlen(b));
                ev_sha256_update(&u, it.path, strlen(it.path));
                ev_sha256_final(&u, &h);
            }
        } else {
            char hdr[64];
            snprintf(hdr, sizeof hdr, "raw:%dx%dx%d:", it.width, it.height, it.channels);
            ev_sha256_ctx u;
            ev_sha256_init(&u);
            ev_sha256_update(&u, hdr, strlen(hdr));
            if (it.pixels)
                ev_sha256_update(&u, it.pixels, (size_t)it.width * (size_t)it.height * (size_t)it.channels);
            ev_sha256_final(&u, &h);
        }
        int32_t lab = it.label;
        ev_sha256_update(&c, &lab, sizeof lab);
        ev_sha256_update(&c, h.b, sizeof h.b);
        ev_sha256_update(all, &lab, sizeof lab);
        ev_sha256_update(all, h.b, sizeof h.b);
    }
    ev_sha256_final(&c, own);
}

static const char *split_word(ev_split s)
{
    return s == EV_SPLIT_TEST ? "test" : s == EV_SPLIT_VAL ? "val" : s == EV_SPLIT_TRAIN ? "train" : "all";
}

static ev_status open_dataset(runctx *rc, dsctx *d, ev_err *e)
{
    const ev_run_options *o = rc->o;
    char err[1024];
    double t0 = now_s();
    progress(rc, "open", -1, 0, NULL);
    ev_dataset_options dopt = ev_dataset_default_options();
    ev_status st = ev_dataset_open(d->spec, &dopt, &d->q, err, sizeof err);
    if (st != EV_OK) return ev_err_set(e, st, "%s", err);
    int64_t ntr = ev_dataset_split_count(d->q, EV_SPLIT_TRAIN), nte = ev_dataset_split_count(d->q, EV_SPLIT_TEST),
            nva = ev_dataset_split_count(d->q, EV_SPLIT_VAL), nno = ev_dataset_split_count(d->q, EV_SPLIT_NONE);
    d->qsplit = EV_SPLIT_ALL;
    if (ntr > 0 && (nte > 0 || nva > 0)) {
        d->qsplit = nte > 0 ? EV_SPLIT_TEST : EV_SPLIT_VAL;
        d->has_memory = 1;
    }
    st = ev_dataset_select(d->q, d->qsplit, o->limit, o->seed);
    if (st != EV_OK) return ev_err_set(e, st, "%s (dataset %s)", ev_dataset_errmsg(d->q), d->spec);
    d->n_classes = ev_dataset_num_classes(d->q);
    if (d->has_memory) {
        dopt.load_split = EV_SPLIT_TRAIN;
        st = ev_dataset_open(d->spec, &dopt, &d->mem, err, sizeof err);
        if (st != EV_OK) return ev_err_set(e, st, "%s", err);
        st = ev_dataset_select(d->mem, EV_SPLIT_TRAIN, o->train_limit, o->seed);
        if (st != EV_OK) return ev_err_set(e, st, "%s (dataset %s)", ev_dataset_errmsg(d->mem), d->spec);
        int same = ev_dataset_num_classes(d->mem) == d->n_classes;
        for (int c = 0; same && c < d->n_classes; c++)
            same = !strcmp(ev_dataset_class_name(d->mem, c), ev_dataset_class_name(d->q, c));
        if (!same)
            return ev_err_set(e, EV_ERR_DATA, "the train split has other classes than the whole dataset (dataset %s)",
                              d->spec);
    }
    d->class_names = calloc((size_t)(d->n_classes > 0 ? d->n_classes : 1), sizeof *d->class_names);
    if (!d->class_names) return ev_err_set(e, EV_ERR_NOMEM, "out of memory");
    for (int c = 0; c < d->n_classes; c++) d->class_names[c] = ev_dataset_class_name(d->q, c);

    /* fingerprint: protocol, classes, every query and memory item's label +
     * content hash */
    ev_sha256_ctx all;
    ev_sha256_init(&all);
    char proto[128];
    snprintf(proto, sizeof proto, "embeval-fingerprint/1 queries=%s memory=%s retrieval=leave-one-out\n",
             split_word(d->qsplit), d->has_memory ? "train" : "none");
    ev_sha256_update(&all, proto, strlen(proto));
    for (int c = 0; c < d->n_classes; c++) ev_sha256_update(&all, d->class_names[c], strlen(d->class_names[c]) + 1);
    ev_hash hq, hm, hall;
    hash_items(d->q, &all, &hq);
    if (d->has_memory) {
        ev_sha256_update(&all, "memory", 6);
        hash_items(d->mem, &all, &hm);
    }
    ev_sha256_final(&all, &hall);
    char hex[65];

    cJSON *j = d->json = cJSON_CreateObject();
    if (!j) return ev_err_set(e, EV_ERR_NOMEM, "out of memory");
    cJSON_AddStringToObject(j, "name", d->spec);
    cJSON_AddStringToObject(j, "format", ev_dataset_format_name(d->q));
    cJSON_AddStringToObject(j, "root", ev_dataset_root(d->q));
    ev_hash_hex(&hall, d->fingerprint);
    cJSON_AddStringToObject(j, "fingerprint", d->fingerprint);
    ev_hash_hex(&hq, hex);
    cJSON_AddStringToObject(j, "queries_sha256", hex);
    if (d->has_memory) {
        ev_hash_hex(&hm, hex);
        cJSON_AddStringToObject(j, "memory_sha256", hex);
    } else {
        cJSON_AddNullToObject(j, "memory_sha256");
    }
    cJSON *pr = cJSON_AddObjectToObject(j, "protocol");
    cJSON_AddStringToObject(pr, "queries", split_word(d->qsplit));
    evr_add_str(pr, "memory", d->has_memory ? "train" : NULL);
    cJSON_AddStringToObject(pr, "retrieval", "leave-one-out");
    cJSON_AddStringToObject(pr, "knn", d->has_memory ? "train-test" : "leave-one-out");
    evr_add_str(pr, "linear_probe", d->has_memory ? "train-test" : NULL);
    cJSON_AddNumberToObject(j, "n_classes", d->n_classes);
    cJSON_AddItemToObject(j, "class_names", cJSON_CreateStringArray(d->class_names, d->n_classes));
    cJSON_AddNumberToObject(j, "n_items_total", (double)ev_dataset_total(d->q));
    cJSON *sc = cJSON_AddObjectToObject(j, "split_counts");
    cJSON_AddNumberToObject(sc, "train", (double)ntr);
    cJSON_AddNumberToObject(sc, "val", (double)nva);
    cJSON_AddNumberToObject(sc, "test", (double)nte);
    cJSON_AddNumberToObject(sc, "none", (double)nno);
    cJSON_AddNumberToObject(j, "n_queries", (double)ev_dataset_count(d->q));
    cJSON_AddNumberToObject(j, "n_memory", d->has_memory ? (double)ev_dataset_count(d->mem) : 0);
    cJSON *w = cJSON_AddArrayToObject(j, "warnings");
    for (int i = 0; i < ev_dataset_num_warnings(d->q); i++)
        cJSON_AddItemToArray(w, cJSON_CreateString(ev_dataset_warning(d->q, i)));
    d->results = cJSON_AddArrayToObject(j, "results");
    d->open_s = now_s() - t0;
    progress(rc, "open", 1, 1, NULL);
    return EV_OK;
}

/* ---- result cache ---------------------------------------------------------------------- */
static void hash_embeddings(ev_sha256_ctx *c, const ev_embeddings *E)
{
    int64_t hdr[2] = {E ? E->n : 0, E ? E->dim : 0};
    ev_sha256_update(c, hdr, sizeof hdr);
    if (!E || E->n == 0) return;
    ev_sha256_update(c, E->data, (size_t)E->n * (size_t)E->dim * sizeof(float));
    ev_sha256_update(c, E->labels, (size_t)E->n * sizeof(int32_t));
    ev_sha256_update(c, E->items, (size_t)E->n * sizeof(int64_t));
}

/* The GNU build ID of the binary or shared library holding this code: any
 * change to the code (a metrics fix) changes it, so results computed by
 * another build of embeval are never returned from the result cache. */
typedef struct build_id_search {
    uintptr_t addr;
    uint8_t id[64];
    size_t len;
} build_id_search;

static int build_id_cb(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    build_id_search *b = data;
    int mine = 0;
    for (int i = 0; i < info->dlpi_phnum && !mine; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
        mine = ph->p_type == PT_LOAD && b->addr >= lo && b->addr < lo + ph->p_memsz;
    }
    if (!mine) return 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_NOTE) continue;
        const uint8_t *p = (const uint8_t *)(info->dlpi_addr + ph->p_vaddr), *end = p + ph->p_memsz;
        while (p + sizeof(ElfW(Nhdr)) <= end) {
            const ElfW(Nhdr) *nh = (const ElfW(Nhdr) *)p;
            const uint8_t *name = p + sizeof *nh;
            const uint8_t *desc = name + ((nh->n_namesz + 3u) & ~3u);
            const uint8_t *next = desc + ((nh->n_descsz + 3u) & ~3u);
            if (next > end || next <= p) break;
            if (nh->n_type == NT_GNU_BUILD_ID && nh->n_namesz == 4 && !memcmp(name, "GNU", 4) &&
                nh->n_descsz <= sizeof b->id) {
                memcpy(b->id, desc, nh->n_descsz);
                b->len = nh->n_descsz;
                return 1;
            }
            p = next;
        }
    }
    return 1;
}

static void hash_build_id(ev_sha256_ctx *c)
{
    static build_id_search b;
    static int done;
    if (!done) { /* first use is on the run's thread, before any worker exists */
        b.addr = (uintptr_t)&hash_build_id;
        dl_iterate_phdr(build_id_cb, &b);
        done = 1;
    }
    if (b.len) {
        ev_sha256_update(c, b.id, b.len);
    } else {
        /* no build ID: the compile time of this file is a weaker stand-in */
        static const char when[] = __DATE__ " " __TIME__;
        ev_sha256_update(c, when, sizeof when);
    }
}

static void result_key(const ev_metrics_options *mo, const dsctx *d, const ev_embeddings *Eq,
                       const ev_embeddings *Em, char hex[65])
{
    ev_sha256_ctx c;
    ev_sha256_init(&c);
    hash_build_id(&c);
    /* every option, whatever fields metrics.h grows: the struct's bytes with
     * the fields that cannot change results (threads, progress) cleared */
    ev_metrics_options ko;
    memset(&ko, 0, sizeof ko);
    memcpy(&ko, mo, sizeof ko);
    ko.threads = 0;
    ko.progress = NULL;
    ko.progress_user = NULL;
    ev_sha256_update(&c, &ko, sizeof ko);
    char b[1024];
    int l = snprintf(b, sizeof b,
                     "embeval-results/1 version=%s what=%u ks=%d:%d,%d,%d boot=%d seed=%llu knn=%d T=%.17g "
                     "silm=%d sils=%lld kmr=%d kmi=%d pvf=%.17g peps=%.17g nc=%d\n",
                     ev_version(), mo->what, mo->n_ks, mo->ks[0], mo->ks[1], mo->ks[2], mo->bootstrap,
                     (unsigned long long)mo->seed, mo->knn_k, mo->knn_temperature, (int)mo->silhouette_metric,
                     (long long)mo->silhouette_sample, mo->kmeans_restarts, mo->kmeans_max_iter,
                     mo->probe_val_fraction, mo->probe_eps, d->n_classes);
    ev_sha256_update(&c, b, (size_t)(l > 0 && l < (int)sizeof b ? l : 0));
    for (int i = 0; i < mo->n_probe_c; i++) ev_sha256_update(&c, &mo->probe_c[i], sizeof(double));
    for (int i = 0; i < mo->n_ks; i++) ev_sha256_update(&c, &mo->ks[i], sizeof(int));
    for (int k = 0; k < d->n_classes; k++) ev_sha256_update(&c, d->class_names[k], strlen(d->class_names[k]) + 1);
    hash_embeddings(&c, Eq);
    ev_sha256_update(&c, "memory", 6);
    hash_embeddings(&c, Em);
    ev_hash h;
    ev_sha256_final(&c, &h);
    ev_hash_hex(&h, hex);
}

static char *result_path(const char *dir, const char *hex)
{
    size_t n = strlen(dir) + 80;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/%s.json", dir, hex);
    return p;
}

/* A cached {"metrics", "vectors"} or NULL. */
static cJSON *result_cache_get(const char *dir, const char *hex)
{
    if (!dir) return NULL;
    char *p = result_path(dir, hex);
    if (!p) return NULL;
    char *text = NULL;
    size_t len = 0;
    cJSON *j = NULL;
    if (ev_read_file(p, (size_t)256 << 20, &text, &len, NULL) == EV_OK) {
        j = cJSON_ParseWithLength(text, len);
        if (j && (!cJSON_IsObject(cJSON_GetObjectItem(j, "metrics")) ||
                  !cJSON_IsObject(cJSON_GetObjectItem(j, "vectors")) || strcmp(evr_str(j, "key"), hex) != 0)) {
            cJSON_Delete(j);
            j = NULL;
        }
    }
    free(text);
    free(p);
    return j;
}

static void result_cache_put(const char *dir, const char *hex, const cJSON *metrics, const cJSON *vectors)
{
    if (!dir) return;
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) return;
    cJSON *j = cJSON_CreateObject();
    if (!j) return;
    cJSON_AddStringToObject(j, "key", hex);
    cJSON_AddItemReferenceToObject(j, "metrics", (cJSON *)metrics);
    cJSON_AddItemReferenceToObject(j, "vectors", (cJSON *)vectors);
    char *text = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    char *p = result_path(dir, hex);
    if (text && p) ev_write_file_atomic(p, text, strlen(text), NULL);
    free(text);
    free(p);
}

/* ---- one model on one dataset ------------------------------------------------------------ */
typedef struct embed_prog {
    runctx *rc;
    const char *phase;
} embed_prog;

static void on_embed_progress(void *user, const ev_embed_progress *p)
{
    embed_prog *ep = user;
    runctx *rc = ep->rc;
    rc->p.done = p->done;
    rc->p.total = p->total;
    rc->p.cache_hits = p->cache_hits;
    progress(rc, ep->phase, p->total > 0 ? (double)p->done / (double)p->total : 1.0, p->finished, NULL);
}

static void on_metrics_progress(void *user, const char *stage, double f)
{
    runctx *rc = user;
    progress(rc, "metrics", f, 0, stage);
}

static cJSON *embed_stats_json(const ev_embeddings *E)
{
    cJSON *j = cJSON_CreateObject();
    if (!j || !E) return j;
    const ev_embed_stats *s = &E->stats;
    cJSON_AddNumberToObject(j, "items", (double)s->items);
    cJSON_AddNumberToObject(j, "embedded", (double)s->embedded);
    cJSON_AddNumberToObject(j, "cache_hits", (double)s->cache_hits);
    cJSON_AddNumberToObject(j, "computed", (double)s->computed);
    cJSON_AddNumberToObject(j, "skipped", (double)s->skipped);
    evr_add_num(j, "seconds", s->seconds);
    evr_add_num(j, "decode_seconds", s->decode_seconds);
    evr_add_num(j, "infer_seconds", s->infer_seconds);
    evr_add_num(j, "model_load_seconds", s->model_load_seconds);
    return j;
}

static void add_skipped(cJSON *arr, int *listed, const ev_embeddings *E, const char *set)
{
    for (int64_t i = 0; E && i < E->n_skipped && *listed < MAX_SKIPPED_LISTED; i++, (*listed)++) {
        cJSON *s = cJSON_CreateObject();
        if (!s) return;
        cJSON_AddStringToObject(s, "set", set);
        cJSON_AddStringToObject(s, "name", E->skipped[i].name ? E->skipped[i].name : "");
        cJSON_AddStringToObject(s, "reason", E->skipped[i].reason ? E->skipped[i].reason : "");
        cJSON_AddItemToArray(arr, s);
    }
}

static cJSON *failed_result(const char *model, const char *phase, const char *error)
{
    cJSON *r = cJSON_CreateObject();
    if (!r) return NULL;
    cJSON_AddStringToObject(r, "model", model);
    cJSON_AddStringToObject(r, "status", "failed");
    cJSON_AddStringToObject(r, "error", error);
    cJSON_AddStringToObject(r, "error_phase", phase);
    cJSON_AddNullToObject(r, "metrics");
    cJSON_AddNullToObject(r, "rank");
    cJSON *em = cJSON_AddObjectToObject(r, "embed");
    cJSON_AddNullToObject(em, "queries");
    cJSON_AddNullToObject(em, "memory");
    cJSON_AddNullToObject(em, "images_per_s");
    cJSON_AddNumberToObject(r, "n_skipped", 0);
    cJSON_AddArrayToObject(r, "skipped");
    cJSON *t = cJSON_AddObjectToObject(r, "timing");
    cJSON_AddNumberToObject(t, "embed_s", 0);
    cJSON_AddNumberToObject(t, "metrics_s", 0);
    cJSON_AddFalseToObject(t, "metrics_cached");
    return r;
}

static cJSON *items_entry(const char *model, const ev_embeddings *Eq, cJSON *vectors)
{
    cJSON *r = cJSON_CreateObject();
    if (!r) {
        cJSON_Delete(vectors);
        return NULL;
    }
    cJSON_AddStringToObject(r, "model", model);
    cJSON *it = cJSON_AddArrayToObject(r, "items");
    for (int64_t i = 0; Eq && it && i < Eq->n; i++) cJSON_AddItemToArray(it, cJSON_CreateNumber((double)Eq->items[i]));
    cJSON_AddItemToObject(r, "vectors", vectors ? vectors : cJSON_CreateObject());
    return r;
}

/* Evaluate one model on one dataset. Returns the result object (never NULL
 * except out of memory); *phase_failed names the failed phase. */
static cJSON *eval_one(runctx *rc, dsctx *d, const ev_card *card, const char *name, const char **phase_failed,
                       char *errmsg, size_t errlen, int *embed_dim)
{
    const ev_run_options *o = rc->o;
    char err[1024];
    ev_embeddings *Eq = NULL, *Em = NULL;
    ev_metrics_result *mr = NULL;
    cJSON *res = NULL;
    *phase_failed = NULL;
    double t0 = now_s();
    ev_embed_options eo = ev_embed_default_options();
    eo.batch = o->batch > 0 ? o->batch : 32;
    eo.engine_threads = rc->threads;
    eo.workers = o->workers > 0 ? o->workers : (rc->threads > 0 ? rc->threads : 2);
    eo.mode = o->mode;
    eo.cache = o->cache;
    eo.progress = on_embed_progress;
    eo.progress_interval = 0.2;
    embed_prog ep = {rc, "embed queries"};
    eo.progress_user = &ep;
    ev_status st = ev_embed(card, d->q, &eo, &Eq, err, sizeof err);
    if (st == EV_OK && Eq->n == 0) {
        st = EV_ERR_DATA;
        snprintf(err, sizeof err, "no query image could be embedded (%lld skipped) (dataset %s)",
                 (long long)Eq->n_skipped, d->spec);
    }
    if (st == EV_OK && d->has_memory) {
        ep.phase = "embed memory";
        st = ev_embed(card, d->mem, &eo, &Em, err, sizeof err);
        if (st == EV_OK && Em->n == 0) {
            st = EV_ERR_DATA;
            snprintf(err, sizeof err, "no train image could be embedded (%lld skipped) (dataset %s)",
                     (long long)Em->n_skipped, d->spec);
        }
    }
    rc->p.done = rc->p.total = rc->p.cache_hits = 0;
    double t_embed = now_s() - t0;
    if (st != EV_OK) {
        *phase_failed = "embed";
        snprintf(errmsg, errlen, "%s", err);
        progress(rc, "failed", -1, 1, errmsg);
        res = failed_result(name, "embed", errmsg);
        cJSON_AddItemToArray(d->items_results, items_entry(name, NULL, NULL));
        goto done;
    }
    *embed_dim = Eq->dim;

    /* metrics, through the result cache */
    double t1 = now_s();
    ev_metrics_options mo = ev_metrics_default_options();
    mo.threads = rc->threads;
    mo.bootstrap = o->bootstrap;
    mo.seed = o->seed;
    mo.progress = on_metrics_progress;
    mo.progress_user = rc;
    char key[65];
    result_key(&mo, d, Eq, Em, key);
    cJSON *cached = result_cache_get(rc->results_dir, key);
    cJSON *mj = NULL, *vec = NULL;
    int from_cache = 0;
    if (cached) {
        mj = cJSON_DetachItemFromObject(cached, "metrics");
        vec = cJSON_DetachItemFromObject(cached, "vectors");
        cJSON_Delete(cached);
        from_cache = mj && vec;
    }
    if (!from_cache) {
        cJSON_Delete(mj);
        cJSON_Delete(vec);
        mj = vec = NULL;
        progress(rc, "metrics", 0, 0, NULL);
        ev_metrics_input in;
        memset(&in, 0, sizeof in);
        in.eval = (ev_labeled_embeddings){Eq->data, Eq->n, Eq->dim, Eq->labels, "queries"};
        if (Em) in.train = (ev_labeled_embeddings){Em->data, Em->n, Em->dim, Em->labels, "memory"};
        in.n_classes = d->n_classes;
        in.class_names = d->class_names;
        st = ev_metrics_evaluate(&in, &mo, &mr, err, sizeof err);
        if (st != EV_OK) {
            *phase_failed = "metrics";
            snprintf(errmsg, errlen, "%s", err);
            progress(rc, "failed", -1, 1, errmsg);
            res = failed_result(name, "metrics", errmsg);
            cJSON_AddItemToArray(d->items_results, items_entry(name, NULL, NULL));
            goto done;
        }
        mj = evr_metrics_json(mr, &mo, Eq->n, Eq->dim, Em ? Em->n : 0, 0, d->class_names);
        vec = evr_metrics_vectors(mr, Eq->n);
        if (!mj || !vec) {
            cJSON_Delete(mj);
            cJSON_Delete(vec);
            *phase_failed = "metrics";
            snprintf(errmsg, errlen, "out of memory");
            res = failed_result(name, "metrics", errmsg);
            goto done;
        }
        result_cache_put(rc->results_dir, key, mj, vec);
    }
    progress(rc, "metrics", 1, 1, from_cache ? "cached" : NULL);
    double t_metrics = now_s() - t1;

    res = cJSON_CreateObject();
    if (!res) {
        cJSON_Delete(mj);
        cJSON_Delete(vec);
        goto done;
    }
    cJSON_AddStringToObject(res, "model", name);
    cJSON_AddStringToObject(res, "status", "ok");
    cJSON_AddNullToObject(res, "error");
    cJSON_AddNullToObject(res, "error_phase");
    cJSON_AddItemToObject(res, "metrics", mj);
    cJSON_AddNullToObject(res, "rank");
    cJSON *em = cJSON_AddObjectToObject(res, "embed");
    cJSON_AddItemToObject(em, "queries", embed_stats_json(Eq));
    if (Em) cJSON_AddItemToObject(em, "memory", embed_stats_json(Em));
    else cJSON_AddNullToObject(em, "memory");
    int64_t computed = Eq->stats.computed + (Em ? Em->stats.computed : 0);
    double secs = (Eq->stats.computed ? Eq->stats.seconds : 0) + (Em && Em->stats.computed ? Em->stats.seconds : 0);
    evr_add_num(em, "images_per_s", computed > 0 && secs > 0 ? (double)computed / secs : NAN);
    cJSON_AddNumberToObject(res, "n_skipped", (double)(Eq->n_skipped + (Em ? Em->n_skipped : 0)));
    cJSON *sk = cJSON_AddArrayToObject(res, "skipped");
    int listed = 0;
    add_skipped(sk, &listed, Eq, "queries");
    add_skipped(sk, &listed, Em, "memory");
    cJSON *t = cJSON_AddObjectToObject(res, "timing");
    evr_add_num(t, "embed_s", t_embed);
    evr_add_num(t, "metrics_s", t_metrics);
    cJSON_AddBoolToObject(t, "metrics_cached", from_cache);
    cJSON_AddItemToArray(d->items_results, items_entry(name, Eq, vec));
done:
    ev_metrics_result_free(mr);
    ev_embeddings_free(Eq);
    ev_embeddings_free(Em);
    return res;
}

/* ---- summaries ------------------------------------------------------------------------------ */
static const char *weights_kind(const ev_card *c)
{
    if (!c || c->is_default || !c->weights || !c->weights[0]) return "unknown";
    if (!strncmp(c->weights, "random-init", 11)) return "random-init";
    if (!strncmp(c->weights, "none", 4)) return "none";
    return "trained";
}

typedef struct rankv {
    int m;
    double v;
} rankv;

static int cmp_rank_desc(const void *a, const void *b)
{
    const rankv *x = a, *y = b;
    if (x->v != y->v) return x->v > y->v ? -1 : 1;
    return x->m - y->m;
}

/* Rank by mAP within each dataset (ties share the mean rank), choose, and
 * the mean rank across datasets. */
static void summarise(cJSON *doc, const cJSON *items, int bootstrap, uint64_t seed)
{
    cJSON *models = cJSON_GetObjectItem(doc, "models");
    cJSON *datasets = cJSON_GetObjectItem(doc, "datasets");
    int nm = cJSON_GetArraySize(models), nd = cJSON_GetArraySize(datasets);
    rankv *rv = calloc((size_t)(nm > 0 ? nm : 1), sizeof *rv);
    double *ranks = calloc((size_t)(nm > 0 ? nm : 1) * (size_t)(nd > 0 ? nd : 1), sizeof *ranks);
    if (!rv || !ranks) {
        free(rv);
        free(ranks);
        return;
    }
    for (int i = 0; i < nm * nd; i++) ranks[i] = NAN;
    for (int d = 0; d < nd; d++) {
        cJSON *ds = cJSON_GetArrayItem(datasets, d);
        cJSON *results = cJSON_GetObjectItem(ds, "results");
        int n = 0;
        for (int m = 0; m < nm; m++) {
            cJSON *r = cJSON_GetArrayItem(results, m);
            double v = evr_num(r, "metrics.map");
            if (strcmp(evr_str(r, "status"), "ok") == 0 && isfinite(v)) rv[n++] = (rankv){m, v};
        }
        qsort(rv, (size_t)n, sizeof *rv, cmp_rank_desc);
        for (int i = 0; i < n;) {
            int j = i;
            while (j + 1 < n && rv[j + 1].v == rv[i].v) j++;
            double rk = (i + j) / 2.0 + 1.0;
            for (int k = i; k <= j; k++) {
                ranks[rv[k].m * nd + d] = rk;
                cJSON *r = cJSON_GetArrayItem(results, rv[k].m);
                cJSON_ReplaceItemInObject(r, "rank", cJSON_CreateNumber(rk));
            }
            i = j + 1;
        }
        /* how to choose */
        cJSON *ch = cJSON_CreateObject();
        cJSON_AddStringToObject(ch, "quality_metric", "map");
        int best = -1, fast = -1, small = -1;
        double bq = -INFINITY, bl = INFINITY, bs = INFINITY;
        for (int m = 0; m < nm; m++) {
            cJSON *r = cJSON_GetArrayItem(results, m), *mod = cJSON_GetArrayItem(models, m);
            if (strcmp(evr_str(r, "status"), "ok") != 0) continue;
            double q = evr_num(r, "metrics.map"), l = evr_num(mod, "bench.latency_ms.median"),
                   s = evr_num(mod, "bench.size_mib");
            if (isfinite(q) && q > bq) bq = q, best = m;
            if (isfinite(l) && l < bl) bl = l, fast = m;
            if (isfinite(s) && s < bs) bs = s, small = m;
        }
        const char *nmz[3] = {NULL, NULL, NULL};
        int idx[3] = {best, fast, small};
        for (int k = 0; k < 3; k++)
            if (idx[k] >= 0) nmz[k] = evr_str(cJSON_GetArrayItem(models, idx[k]), "name");
        evr_add_str(ch, "best_quality", nmz[0]);
        /* is the best really better than the runner-up? paired bootstrap on
         * the same queries */
        int second = -1;
        double sq = -INFINITY;
        for (int m = 0; m < nm; m++) {
            cJSON *r = cJSON_GetArrayItem(results, m);
            double q = evr_num(r, "metrics.map");
            if (m != best && !strcmp(evr_str(r, "status"), "ok") && isfinite(q) && q > sq) sq = q, second = m;
        }
        cJSON *bv = NULL;
        ev_paired_result pr;
        const cJSON *ires = cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(items, "datasets"), d), "results");
        if (best >= 0 && second >= 0 &&
            evr_paired(cJSON_GetArrayItem(ires, best), cJSON_GetArrayItem(ires, second), "map", bootstrap, seed, &pr,
                       NULL)) {
            bv = cJSON_CreateObject();
            cJSON_AddStringToObject(bv, "model", nmz[0]);
            cJSON_AddStringToObject(bv, "runner_up", evr_str(cJSON_GetArrayItem(models, second), "name"));
            cJSON_AddStringToObject(bv, "metric", "map");
            cJSON_AddNumberToObject(bv, "n", (double)pr.n);
            evr_add_num(bv, "diff", pr.diff);
            double ci[2] = {pr.ci_low, pr.ci_high};
            if (isfinite(ci[0]) && isfinite(ci[1])) cJSON_AddItemToObject(bv, "ci95", cJSON_CreateDoubleArray(ci, 2));
            else cJSON_AddNullToObject(bv, "ci95");
            evr_add_num(bv, "p_value", pr.p_value);
        }
        if (bv) cJSON_AddItemToObject(ch, "best_vs_runner_up", bv);
        else cJSON_AddNullToObject(ch, "best_vs_runner_up");
        evr_add_str(ch, "fastest", nmz[1]);
        evr_add_str(ch, "smallest", nmz[2]);
        /* Pareto set: not beaten on both quality and latency */
        cJSON *par = cJSON_AddArrayToObject(ch, "pareto");
        int np = 0;
        for (int m = 0; m < nm; m++) {
            cJSON *r = cJSON_GetArrayItem(results, m), *mod = cJSON_GetArrayItem(models, m);
            double q = evr_num(r, "metrics.map"), l = evr_num(mod, "bench.latency_ms.median");
            if (strcmp(evr_str(r, "status"), "ok") != 0 || !isfinite(q) || !isfinite(l)) continue;
            int dominated = 0;
            for (int k = 0; k < nm && !dominated; k++) {
                if (k == m) continue;
                cJSON *r2 = cJSON_GetArrayItem(results, k), *mod2 = cJSON_GetArrayItem(models, k);
                double q2 = evr_num(r2, "metrics.map"), l2 = evr_num(mod2, "bench.latency_ms.median");
                if (strcmp(evr_str(r2, "status"), "ok") != 0 || !isfinite(q2) || !isfinite(l2)) continue;
                dominated = q2 >= q && l2 <= l && (q2 > q || l2 < l);
            }
            if (!dominated) rv[np++] = (rankv){m, -l};
        }
        qsort(rv, (size_t)np, sizeof *rv, cmp_rank_desc); /* -latency descending = latency ascending */
        for (int k = 0; k < np; k++)
            cJSON_AddItemToArray(par, cJSON_CreateString(evr_str(cJSON_GetArrayItem(models, rv[k].m), "name")));
        cJSON_DeleteItemFromObjectCaseSensitive(ds, "choose");
        cJSON_AddItemToObject(ds, "choose", ch);
    }
    cJSON *mr = cJSON_CreateObject();
    cJSON_AddStringToObject(mr, "metric", "map");
    cJSON *arr = cJSON_AddArrayToObject(mr, "models");
    for (int m = 0; m < nm; m++) {
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "model", evr_str(cJSON_GetArrayItem(models, m), "name"));
        cJSON *ra = cJSON_AddArrayToObject(e, "ranks");
        double sum = 0;
        int cnt = 0;
        for (int d = 0; d < nd; d++) {
            double r = ranks[m * nd + d];
            cJSON_AddItemToArray(ra, isfinite(r) ? cJSON_CreateNumber(r) : cJSON_CreateNull());
            if (isfinite(r)) sum += r, cnt++;
        }
        evr_add_num(e, "mean_rank", cnt ? sum / cnt : NAN);
        cJSON_AddItemToArray(arr, e);
    }
    cJSON_DeleteItemFromObjectCaseSensitive(doc, "mean_rank");
    cJSON_AddItemToObject(doc, "mean_rank", mr);
    free(rv);
    free(ranks);
}

/* ---- ev_run ------------------------------------------------------------------------------------ */
static void model_fail(cJSON *mj, const char *phase, const char *msg)
{
    if (strcmp(evr_str(mj, "status"), "failed") == 0) return; /* keep the first error */
    cJSON_ReplaceItemInObject(mj, "status", cJSON_CreateString("failed"));
    cJSON_ReplaceItemInObject(mj, "error", cJSON_CreateString(msg));
    cJSON_ReplaceItemInObject(mj, "error_phase", cJSON_CreateString(phase));
}

static cJSON *model_json(const char *arg, const ev_card *c, const char *name)
{
    cJSON *j = cJSON_CreateObject();
    if (!j) return NULL;
    cJSON_AddStringToObject(j, "name", name);
    if (c && !c->is_default && c->card_path && c->card_path[0]) cJSON_AddStringToObject(j, "card", c->card_path);
    else if (!c && !ends_with(arg, ".onnx")) cJSON_AddStringToObject(j, "card", arg);
    else cJSON_AddNullToObject(j, "card");
    cJSON_AddStringToObject(j, "file", c ? c->model_path : arg);
    cJSON_AddNullToObject(j, "sha256");
    cJSON_AddStringToObject(j, "architecture", c && c->architecture ? c->architecture : "");
    cJSON_AddStringToObject(j, "license", c && c->license && c->license[0] ? c->license : "unknown");
    cJSON_AddStringToObject(j, "license_url", c && c->license_url ? c->license_url : "");
    cJSON_AddStringToObject(j, "source_url", c && c->source_url ? c->source_url : "");
    if (c && c->runs_locally >= 0) cJSON_AddBoolToObject(j, "runs_locally", c->runs_locally);
    else cJSON_AddNullToObject(j, "runs_locally");
    cJSON_AddStringToObject(j, "runs_locally_why", c && c->runs_locally_why ? c->runs_locally_why : "");
    cJSON_AddStringToObject(j, "weights", c && c->weights ? c->weights : "");
    const char *wk = weights_kind(c);
    cJSON_AddStringToObject(j, "weights_kind", wk);
    cJSON_AddBoolToObject(j, "random_init", !strcmp(wk, "random-init"));
    if (c && c->embedding_dim > 0) cJSON_AddNumberToObject(j, "embedding_dim", c->embedding_dim);
    else cJSON_AddNullToObject(j, "embedding_dim");
    cJSON_AddBoolToObject(j, "normalize", c && c->normalize);
    char pre[512] = "";
    if (c) ev_preprocess_summary(&c->preprocess, pre, sizeof pre);
    cJSON_AddStringToObject(j, "preprocess", pre);
    cJSON *tr = c && c->training_json && c->training_json[0] ? cJSON_Parse(c->training_json) : NULL;
    if (tr) cJSON_AddItemToObject(j, "training", tr);
    else cJSON_AddNullToObject(j, "training");
    cJSON_AddStringToObject(j, "status", "ok");
    cJSON_AddNullToObject(j, "error");
    cJSON_AddNullToObject(j, "error_phase");
    cJSON_AddNullToObject(j, "bench");
    cJSON *t = cJSON_AddObjectToObject(j, "timing");
    cJSON_AddNumberToObject(t, "bench_s", 0);
    return j;
}

static void iso_now(char *buf, size_t len)
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void bench_phase(runctx *rc, cJSON *mj, const ev_card *card)
{
    const ev_run_options *o = rc->o;
    progress(rc, "bench", -1, 0, NULL);
    ev_bench_options bo = ev_bench_default_options();
    bo.threads = rc->threads;
    bo.warmup = o->bench_warmup;
    bo.runs = o->bench_runs > 0 ? o->bench_runs : 1;
    bo.batch = o->bench_batch;
    bo.throughput_runs = o->bench_throughput_runs;
    /* a card may name the image input among several: give the others' shapes?
     * Models with one image input are the norm; others fail with a message. */
    ev_bench_result br;
    char err[1024];
    ev_status st = ev_bench_model(card->model_path, &bo, &br, err, sizeof err);
    cJSON *t = cJSON_GetObjectItem(mj, "timing");
    cJSON_ReplaceItemInObject(t, "bench_s", cJSON_CreateNumber(br.seconds));
    if (st != EV_OK) {
        model_fail(mj, "bench", err);
        progress(rc, "failed", -1, 1, err);
        return;
    }
    cJSON_ReplaceItemInObject(mj, "bench", evr_bench_json(&br, NULL));
    progress(rc, "bench", 1, 1, NULL);
}

ev_status ev_run(const ev_run_options *opt, ev_report **out, char *errbuf, size_t errlen)
{
    ev_err e = {0};
    if (errbuf && errlen) errbuf[0] = 0;
    if (!opt || !out || opt->n_models < 1 || !opt->models || opt->n_datasets < 0 ||
        (opt->n_datasets > 0 && !opt->datasets) || opt->limit < 0 || opt->train_limit < 0 || opt->bootstrap < 0 ||
        opt->bench_runs < 0 || opt->bench_warmup < 0 || opt->bench_batch < 0 || opt->threads < 0) {
        ev_err_set(&e, EV_ERR_INVALID_ARG, "ev_run: invalid options (at least one model is needed)");
        ev_err_copy(&e, errbuf, errlen);
        return e.code;
    }
    *out = NULL;
    double t_start = now_s();
    runctx rc;
    memset(&rc, 0, sizeof rc);
    rc.o = opt;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    rc.threads = opt->threads > 0 ? opt->threads : (int)(ncpu > 0 ? ncpu : 1);
    rc.results_dir = opt->results_cache_dir;
    static const char *const default_ds[] = {"fashion-mnist"};
    const char *const *specs = opt->n_datasets > 0 ? opt->datasets : default_ds;
    rc.n_ds = opt->n_datasets > 0 ? opt->n_datasets : 1;
    rc.p.n_datasets = rc.n_ds;
    rc.p.n_models = opt->n_models;
    rc.p.model = -1;
    ev_status st = EV_OK;
    ev_report *rep = calloc(1, sizeof *rep);
    rc.ds = calloc((size_t)rc.n_ds, sizeof *rc.ds);
    cJSON *doc = cJSON_CreateObject(), *items = cJSON_CreateObject();
    ev_card **cards = calloc((size_t)opt->n_models, sizeof *cards);
    if (!rep || !rc.ds || !doc || !items || !cards) {
        st = ev_err_set(&e, EV_ERR_NOMEM, "out of memory");
        goto fail;
    }
    rep->doc = doc;
    rep->items = items;

    cJSON_AddStringToObject(doc, "schema", EVR_SCHEMA);
    cJSON_AddNumberToObject(doc, "schema_version", EV_REPORT_SCHEMA_VERSION);
    cJSON_AddStringToObject(doc, "embeval_version", ev_version());
    char ts[32];
    iso_now(ts, sizeof ts);
    cJSON_AddStringToObject(doc, "created_utc", ts);
    cJSON *cmd = cJSON_AddArrayToObject(doc, "command");
    for (int i = 0; i < opt->argc && opt->argv; i++)
        cJSON_AddItemToArray(cmd, cJSON_CreateString(opt->argv[i] ? opt->argv[i] : ""));
    cJSON_AddStringToObject(doc, "status", "ok");
    cJSON_AddItemToObject(doc, "machine", evr_machine_json());
    cJSON *set = cJSON_AddObjectToObject(doc, "settings");
    cJSON_AddNumberToObject(set, "threads", rc.threads);
    cJSON_AddNumberToObject(set, "limit", (double)opt->limit);
    cJSON_AddNumberToObject(set, "train_limit", (double)opt->train_limit);
    cJSON_AddNumberToObject(set, "seed", (double)opt->seed);
    cJSON_AddNumberToObject(set, "bootstrap", opt->bootstrap);
    ev_metrics_options mdef = ev_metrics_default_options();
    cJSON_AddItemToObject(set, "ks", cJSON_CreateIntArray(mdef.ks, mdef.n_ks));
    cJSON_AddNumberToObject(set, "knn_k", mdef.knn_k);
    cJSON_AddNumberToObject(set, "knn_temperature", mdef.knn_temperature);
    cJSON_AddStringToObject(set, "mode", opt->mode == EV_IMAGE_FAST ? "fast" : "exact");
    cJSON_AddBoolToObject(set, "cache", opt->cache != NULL);
    cJSON *bs = cJSON_AddObjectToObject(set, "bench");
    cJSON_AddBoolToObject(bs, "enabled", opt->bench);
    cJSON_AddNumberToObject(bs, "warmup", opt->bench_warmup);
    cJSON_AddNumberToObject(bs, "runs", opt->bench_runs);
    cJSON_AddNumberToObject(bs, "batch", opt->bench_batch);
    cJSON_AddNumberToObject(bs, "throughput_runs", opt->bench_throughput_runs);
    cJSON *models = cJSON_AddArrayToObject(doc, "models");
    cJSON *datasets = cJSON_AddArrayToObject(doc, "datasets");
    cJSON_AddObjectToObject(doc, "mean_rank");
    cJSON *notes = cJSON_AddArrayToObject(doc, "notes");
    cJSON *warnings = cJSON_AddArrayToObject(doc, "warnings");
    cJSON *timing = cJSON_AddObjectToObject(doc, "timing");
    cJSON_AddStringToObject(doc, "items_file", EVR_ITEMS_FILE);
    cJSON_AddStringToObject(items, "schema", EVR_ITEMS_SCHEMA);
    cJSON_AddNumberToObject(items, "schema_version", EV_REPORT_SCHEMA_VERSION);
    cJSON *items_ds = cJSON_AddArrayToObject(items, "datasets");

    /* datasets first: a dataset problem concerns every model */
    for (int d = 0; d < rc.n_ds; d++) {
        rc.ds[d].spec = specs[d];
        rc.p.dataset = d;
        rc.p.dataset_name = specs[d];
        if ((st = open_dataset(&rc, &rc.ds[d], &e)) != EV_OK) goto fail;
        cJSON_AddItemToArray(datasets, rc.ds[d].json);
        cJSON *ie = cJSON_CreateObject();
        cJSON_AddStringToObject(ie, "name", specs[d]);
        cJSON_AddStringToObject(ie, "fingerprint", rc.ds[d].fingerprint);
        rc.ds[d].items_results = cJSON_AddArrayToObject(ie, "results");
        cJSON_AddItemToArray(items_ds, ie);
    }

    for (int m = 0; m < opt->n_models; m++) {
        const char *arg = opt->models[m];
        rc.p.model = m;
        rc.p.model_name = arg;
        rc.p.dataset = 0;
        rc.p.dataset_name = specs[0];
        char err[1024] = "";
        ev_card *card = NULL;
        ev_status cst = ev_card_load(arg, &card, err, sizeof err);
        cards[m] = card;
        /* a unique display name */
        char name[256];
        const char *base = card ? card->name : arg;
        if (!card) {
            const char *sl = strrchr(arg, '/');
            base = sl ? sl + 1 : arg;
        }
        snprintf(name, sizeof name, "%s", base);
        for (int k = 2;; k++) {
            int clash = 0;
            for (int i = 0; i < cJSON_GetArraySize(models) && !clash; i++)
                clash = !strcmp(evr_str(cJSON_GetArrayItem(models, i), "name"), name);
            if (!clash) break;
            snprintf(name, sizeof name, "%s#%d", base, k);
        }
        rc.p.model_name = name;
        cJSON *mj = model_json(arg, card, name);
        if (!mj) {
            st = ev_err_set(&e, EV_ERR_NOMEM, "out of memory");
            goto fail;
        }
        cJSON_AddItemToArray(models, mj);
        if (card)
            for (int w = 0; w < card->n_warnings; w++) {
                char wb[1200];
                snprintf(wb, sizeof wb, "%s: %s", name, card->warnings[w]);
                cJSON_AddItemToArray(warnings, cJSON_CreateString(wb));
            }
        const char *fail_phase = NULL;
        if (cst != EV_OK) {
            fail_phase = "card";
        } else {
            ev_hash h;
            if (ev_cache_file_hash(opt->cache, card->model_path, &h, err, sizeof err) != EV_OK) {
                fail_phase = "load";
            } else {
                char hex[65];
                ev_hash_hex(&h, hex);
                cJSON_ReplaceItemInObject(mj, "sha256", cJSON_CreateString(hex));
            }
        }
        if (fail_phase) {
            model_fail(mj, fail_phase, err);
            progress(&rc, "failed", -1, 1, err);
            for (int d = 0; d < rc.n_ds; d++) {
                cJSON_AddItemToArray(rc.ds[d].results, failed_result(name, fail_phase, err));
                cJSON_AddItemToArray(rc.ds[d].items_results, items_entry(name, NULL, NULL));
            }
            continue;
        }
        int n_ok = 0, dim = 0;
        for (int d = 0; d < rc.n_ds; d++) {
            rc.p.dataset = d;
            rc.p.dataset_name = specs[d];
            const char *ph = NULL;
            double t0 = now_s();
            cJSON *r = eval_one(&rc, &rc.ds[d], card, name, &ph, err, sizeof err, &dim);
            rc.ds[d].work_s += now_s() - t0;
            if (!r) {
                st = ev_err_set(&e, EV_ERR_NOMEM, "out of memory");
                goto fail;
            }
            cJSON_AddItemToArray(rc.ds[d].results, r);
            if (ph) model_fail(mj, ph, err);
            else n_ok++;
        }
        if (dim > 0) cJSON_ReplaceItemInObject(mj, "embedding_dim", cJSON_CreateNumber(dim));
        /* a model that could not embed anything would fail the same way here */
        if (opt->bench && n_ok > 0) bench_phase(&rc, mj, card);
        progress(&rc, "done", 1, 1, NULL);
        ev_card_free(card);
        cards[m] = NULL;
    }

    /* summaries */
    summarise(doc, items, opt->bootstrap, opt->seed);
    ev_report_counts cnt;
    ev_report_counts_get(rep, &cnt);
    cJSON_ReplaceItemInObject(doc, "status", cJSON_CreateString(cnt.results_ok == 0 ? "failed"
                                                               : cnt.models_failed ? "partial"
                                                                                   : "ok"));
    if (cnt.random_init > 0)
        cJSON_AddItemToArray(notes,
                             cJSON_CreateString(
                                 "Models marked random-init have seeded random weights (no pretrained weights were "
                                 "available offline): their efficiency columns (latency, throughput, load time, "
                                 "memory, size, parameters, MACs) are exact for the architecture, their quality "
                                 "columns are a random-feature baseline, not the published model's quality. Export "
                                 "real weights into the same file name to get real numbers."));
    for (int d = 0; d < rc.n_ds; d++) {
        cJSON *t = cJSON_AddObjectToObject(rc.ds[d].json, "timing");
        evr_add_num(t, "open_s", rc.ds[d].open_s);
        evr_add_num(t, "total_s", rc.ds[d].open_s + rc.ds[d].work_s);
        if (rc.ds[d].has_memory) {
            char nb[512];
            snprintf(nb, sizeof nb,
                     "%s: queries are %lld items of the %s split, the kNN memory and linear-probe training set "
                     "%lld items of the train split (stratified, seed %llu).",
                     rc.ds[d].spec, (long long)ev_dataset_count(rc.ds[d].q), split_word(rc.ds[d].qsplit),
                     (long long)ev_dataset_count(rc.ds[d].mem), (unsigned long long)opt->seed);
            cJSON_AddItemToArray(notes, cJSON_CreateString(nb));
        }
    }
    evr_add_num(timing, "total_s", now_s() - t_start);

    for (int d = 0; d < rc.n_ds; d++) {
        ev_dataset_free(rc.ds[d].q);
        ev_dataset_free(rc.ds[d].mem);
        free(rc.ds[d].class_names);
    }
    free(rc.ds);
    free(cards);
    *out = rep;
    return EV_OK;

fail:
    if (rc.ds)
        for (int d = 0; d < rc.n_ds; d++) {
            ev_dataset_free(rc.ds[d].q);
            ev_dataset_free(rc.ds[d].mem);
            free(rc.ds[d].class_names);
        }
    if (cards)
        for (int m = 0; m < opt->n_models; m++) ev_card_free(cards[m]);
    free(cards);
    free(rc.ds);
    if (rep) {
        rep->doc = NULL;
        rep->items = NULL;
        free(rep);
    }
    cJSON_Delete(doc);
    cJSON_Delete(items);
    ev_err_copy(&e, errbuf, errlen);
    return st;
}
