/* src/cmd_embed.c — `embeval embed`: a dataset through a model into an
 * embedding matrix (.npy), with the labels, through the embedding cache. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

const char ev_cmd_embed_summary[] = "embed a dataset with a model into an .npy matrix (cached)";

static void help(void)
{
    printf("Usage: embeval embed --model CARD.json|MODEL.onnx --dataset DATASET --out E.npy\n"
           "                    [--labels-out L.txt] [--items-out I.txt] [--split S]\n"
           "                    [--limit N] [--seed N] [--batch B] [--threads N] [--workers N]\n"
           "                    [--mode exact|fast] [--no-cache] [--cache-dir DIR] [--strict]\n"
           "                    [--skipped-out F] [--allow-absolute-paths] [--max-pixels N]\n"
           "                    [--min-size N] [--json] [-q] [-v]\n"
           "\n"
           "Decode and preprocess the images of DATASET exactly as the model card says,\n"
           "run the model, and write one embedding per row of E.npy (float32, rows in\n"
           "dataset order, bad images left out). Embeddings already computed for the\n"
           "same model file, preprocessing and image bytes come from the cache.\n"
           "\n"
           "DATASET is one of:\n"
           "  fashion-mnist          the Debian package dataset-fashion-mnist (IDX)\n"
           "  DIR                    an ImageFolder (DIR/<class>/<image>, optionally\n"
           "                         DIR/{train,val,test}/<class>/<image>), a directory\n"
           "                         of IDX files, or of CIFAR-10/100 binary batches\n"
           "  FILE.csv, FILE.jsonl   a manifest of path,label[,split] (paths relative to it)\n"
           "  FILE-images-idx3-ubyte[.gz]  an IDX images file (its labels file is found)\n"
           "  FORMAT:PATH            force a format: imagefolder, csv, jsonl, idx, cifar10,\n"
           "                         cifar100\n"
           "\n"
           "Options:\n"
           "  --model M          a model card (.json) or a bare .onnx (timm's default\n"
           "                     preprocessing, with a warning)\n"
           "  --dataset D        the images (see above)\n"
           "  --out E.npy        the embeddings (required)\n"
           "  --labels-out L     the class name of each row, one per line (UTF-8)\n"
           "  --items-out I      the item (file path or <file>[index]) of each row\n"
           "  --split S          train, val, test or all (default all)\n"
           "  --limit N          a stratified subset of N items (0 = all; default 0)\n"
           "  --seed N           seed of the --limit draw (default 0)\n"
           "  --batch B          images per model run (default 32)\n"
           "  --threads N        model threads (default 0 = all cores)\n"
           "  --workers N        decode/preprocess threads (default: --threads, or 2)\n"
           "  --mode M           exact (match Pillow + torchvision; default) or fast\n"
           "                     (JPEG shrink-on-load; see docs/model-cards.md)\n"
           "  --no-cache         neither read nor write the embedding cache\n"
           "  --cache-dir DIR    the cache directory (default $EMBEVAL_CACHE_DIR, else\n"
           "                     $XDG_CACHE_HOME/embeval, else ~/.cache/embeval)\n"
           "  --strict           the first bad image is an error (default: skip, count\n"
           "                     and list bad images)\n"
           "  --skipped-out F    write every skipped item and its reason to F (TSV)\n"
           "  --allow-absolute-paths  manifests may name absolute paths or leave their\n"
           "                     directory\n"
           "  --max-pixels N     refuse larger images (default 100000000)\n"
           "  --min-size N       refuse images with a side below N pixels (default 8)\n"
           "  --json             print the summary as JSON on stdout\n"
           "  -q, --quiet        no progress output\n"
           "  -v, --verbose      more diagnostics\n"
           "  -h, --help         show this help\n"
           "\n"
           "Progress goes to stderr (a bar on a terminal, plain lines otherwise); the\n"
           "summary goes to stdout.\n"
           "Exit status: 0 ok; 2 usage error; 3 invalid dataset, model or card (or a bad\n"
           "image with --strict, or no image could be embedded); 1 other failures.\n");
}

/* ---- progress -------------------------------------------------------------- */
typedef struct {
    bool tty, quiet;
    double last_plain;
    int drawn;
} progress_state;

static void fmt_dur(double s, char *buf, size_t len)
{
    if (s < 0 || s > 359999) {
        snprintf(buf, len, "--:--");
        return;
    }
    long t = (long)(s + 0.5);
    if (t >= 3600) snprintf(buf, len, "%ld:%02ld:%02ld", t / 3600, (t / 60) % 60, t % 60);
    else snprintf(buf, len, "%ld:%02ld", t / 60, t % 60);
}

static void on_progress(void *user, const ev_embed_progress *p)
{
    progress_state *ps = user;
    if (ps->quiet) return;
    double rate = p->elapsed > 0 ? (double)p->done / p->elapsed : 0;
    double eta = rate > 0 ? (double)(p->total - p->done) / rate : -1;
    char eta_s[32], el_s[32];
    fmt_dur(eta, eta_s, sizeof eta_s);
    fmt_dur(p->elapsed, el_s, sizeof el_s);
    int pct = p->total ? (int)(100 * p->done / p->total) : 100;
    if (ps->tty) {
        char bar[25];
        int fillc = p->total ? (int)(24 * p->done / p->total) : 24;
        for (int i = 0; i < 24; i++) bar[i] = i < fillc ? '#' : '.';
        bar[24] = 0;
        fprintf(stderr, "\r\033[2Kembed [%s] %lld/%lld %3d%% %.0f img/s ETA %s (cache %lld, skipped %lld)", bar,
                (long long)p->done, (long long)p->total, pct, rate, p->finished ? el_s : eta_s,
                (long long)p->cache_hits, (long long)p->skipped);
        if (p->finished) fputc('\n', stderr);
        fflush(stderr);
        ps->drawn = 1;
    } else if (p->finished || (p->done < p->total && p->elapsed - ps->last_plain >= 5.0)) {
        ps->last_plain = p->elapsed;
        fprintf(stderr, "embed: %lld/%lld items (%d%%), %.0f images/s, %s %s, %lld from cache, %lld skipped\n",
                (long long)p->done, (long long)p->total, pct, rate, p->finished ? "took" : "ETA",
                p->finished ? el_s : eta_s, (long long)p->cache_hits, (long long)p->skipped);
    }
}

/* ---- helpers ---------------------------------------------------------------- */
static int resolve_cache_dir(const char *opt, char *buf, size_t len)
{
    if (opt && *opt) {
        snprintf(buf, len, "%s", opt);
        return 0;
    }
    const char *env = getenv("EMBEVAL_CACHE_DIR");
    if (env && *env) {
        snprintf(buf, len, "%s", env);
        return 0;
    }
    return ev_cache_default_dir(getenv("XDG_CACHE_HOME"), getenv("HOME"), buf, len) == EV_OK ? 0 : -1;
}

/* Write lines atomically (temporary file + rename). */
static int write_lines(const char *path, const ev_dataset *ds, const ev_embeddings *E, int what)
{
    size_t n = strlen(path) + 32;
    char *tmp = malloc(n);
    if (!tmp) return -1;
    snprintf(tmp, n, "%s.tmp.%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "w");
    if (!f) {
        cli_error("cannot write %s: %s", path, strerror(errno));
        free(tmp);
        return -1;
    }
    for (int64_t r = 0; r < E->n; r++) {
        ev_item it;
        ev_dataset_item(ds, E->items[r], &it);
        const char *s = what == 0 ? ev_dataset_class_name(ds, E->labels[r]) : it.name;
        fputs(s ? s : "", f);
        fputc('\n', f);
    }
    int bad = ferror(f);
    if (fclose(f) != 0) bad = 1;
    if (bad || rename(tmp, path) != 0) {
        cli_error("cannot write %s: %s", path, strerror(errno));
        unlink(tmp);
        free(tmp);
        return -1;
    }
    free(tmp);
    return 0;
}

static int write_skipped(const char *path, const ev_embeddings *E)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        cli_error("cannot write %s: %s", path, strerror(errno));
        return -1;
    }
    fprintf(f, "item\tname\treason\n");
    for (int64_t i = 0; i < E->n_skipped; i++)
        fprintf(f, "%lld\t%s\t%s\n", (long long)E->skipped[i].item, E->skipped[i].name, E->skipped[i].reason);
    if (fclose(f) != 0) {
        cli_error("cannot write %s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') fprintf(f, "\\%c", *p);
        else if (*p < 0x20) fprintf(f, "\\u%04x", *p);
        else fputc(*p, f);
    }
    fputc('"', f);
}

int ev_cmd_embed(int argc, char **argv)
{
    const char *model = NULL, *dataset = NULL, *out = NULL, *labels_out = NULL, *items_out = NULL, *split_s = NULL,
               *cache_dir_opt = NULL, *mode_s = NULL, *skipped_out = NULL;
    int64_t limit = 0, seed = 0, batch = 32, threads = 0, workers = -1, max_pixels = 0, min_size = -1;
    bool no_cache = false, strict = false, json = false, quiet = false, allow_abs = false;
    int verbose = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            help();
            return EV_EXIT_OK;
        }
        if (!strcmp(a, "--no-cache")) { no_cache = true; continue; }
        if (!strcmp(a, "--strict")) { strict = true; continue; }
        if (!strcmp(a, "--json")) { json = true; continue; }
        if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) { quiet = true; continue; }
        if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) { verbose++; continue; }
        if (!strcmp(a, "--allow-absolute-paths")) { allow_abs = true; continue; }
        static const char *const with_value[] = {"--model", "--dataset", "--out", "--labels-out", "--items-out",
                                                 "--split", "--limit", "--seed", "--batch", "--threads", "--workers",
                                                 "--mode", "--cache-dir", "--skipped-out", "--max-pixels",
                                                 "--min-size"};
        const char *opt = NULL, *v = NULL;
        for (size_t k = 0; k < sizeof with_value / sizeof with_value[0]; k++) {
            size_t l = strlen(with_value[k]);
            if (!strcmp(a, with_value[k])) {
                opt = with_value[k];
                if (i + 1 >= argc) return cli_usage_error("embed", "%s needs a value", a);
                v = argv[++i];
                break;
            }
            if (!strncmp(a, with_value[k], l) && a[l] == '=') {
                opt = with_value[k];
                v = a + l + 1;
                break;
            }
        }
        if (!opt) {
            if (a[0] == '-') return cli_usage_error("embed", "unknown option '%s'", a);
            return cli_usage_error("embed", "unexpected argument '%s'", a);
        }
        if (!strcmp(opt, "--model")) model = v;
        else if (!strcmp(opt, "--dataset")) dataset = v;
        else if (!strcmp(opt, "--out")) out = v;
        else if (!strcmp(opt, "--labels-out")) labels_out = v;
        else if (!strcmp(opt, "--items-out")) items_out = v;
        else if (!strcmp(opt, "--split")) split_s = v;
        else if (!strcmp(opt, "--mode")) mode_s = v;
        else if (!strcmp(opt, "--cache-dir")) cache_dir_opt = v;
        else if (!strcmp(opt, "--skipped-out")) skipped_out = v;
        else {
            int64_t lo = 0, hi = INT64_MAX, *dst = NULL;
            if (!strcmp(opt, "--limit")) dst = &limit;
            else if (!strcmp(opt, "--seed")) dst = &seed;
            else if (!strcmp(opt, "--batch")) { dst = &batch; lo = 1; hi = 4096; }
            else if (!strcmp(opt, "--threads")) { dst = &threads; hi = 1024; }
            else if (!strcmp(opt, "--workers")) { dst = &workers; lo = 1; hi = 256; }
            else if (!strcmp(opt, "--max-pixels")) { dst = &max_pixels; lo = 1; }
            else if (!strcmp(opt, "--min-size")) { dst = &min_size; lo = 1; hi = 16384; }
            if (!dst || !cli_parse_int(v, lo, hi, dst))
                return cli_usage_error("embed", "%s must be an integer in %lld..%lld, got '%s'", opt, (long long)lo,
                                       (long long)hi, v);
        }
    }
    if (!model) return cli_usage_error("embed", "no --model given");
    if (!dataset) return cli_usage_error("embed", "no --dataset given");
    if (!out) return cli_usage_error("embed", "no --out given");
    ev_split split = EV_SPLIT_ALL;
    if (split_s && ev_split_parse(split_s, &split) != 0)
        return cli_usage_error("embed", "--split must be train, val, test or all, got '%s'", split_s);
    ev_image_mode mode = EV_IMAGE_EXACT;
    if (mode_s) {
        if (!strcmp(mode_s, "fast")) mode = EV_IMAGE_FAST;
        else if (strcmp(mode_s, "exact") != 0)
            return cli_usage_error("embed", "--mode must be exact or fast, got '%s'", mode_s);
    }
    cli_setup_logging(verbose);
    /* fail before the work, not after it: the output directories must be writable */
    const char *outs[3] = {out, labels_out, items_out};
    for (int k = 0; k < 3; k++) {
        if (!outs[k]) continue;
        char d[4096];
        snprintf(d, sizeof d, "%s", outs[k]);
        char *slash = strrchr(d, '/');
        if (slash == d) d[1] = 0;
        else if (slash) *slash = 0;
        else snprintf(d, sizeof d, ".");
        if (access(d, W_OK) != 0) {
            cli_error("cannot write %s: %s", outs[k], strerror(errno));
            return EV_EXIT_RUNTIME;
        }
    }

    char err[1024];
    int rc = EV_EXIT_OK;
    ev_card *card = NULL;
    ev_dataset *ds = NULL;
    ev_cache *cache = NULL;
    ev_embeddings *E = NULL;
    ev_status st = ev_card_load(model, &card, err, sizeof err);
    if (st != EV_OK) {
        cli_error("%s", err);
        return cli_exit_code(st);
    }
    ev_dataset_options dopt = ev_dataset_default_options();
    dopt.allow_absolute_paths = allow_abs;
    dopt.load_split = split; /* formats with split files skip reading the others */
    st = ev_dataset_open(dataset, &dopt, &ds, err, sizeof err);
    if (st != EV_OK) {
        cli_error("%s", err);
        rc = cli_exit_code(st);
        goto done;
    }
    for (int w = 0; w < ev_dataset_num_warnings(ds) && w < 20; w++) cli_warn("%s", ev_dataset_warning(ds, w));
    if (ev_dataset_num_warnings(ds) > 20) cli_warn("... and %d more dataset warnings", ev_dataset_num_warnings(ds) - 20);
    st = ev_dataset_select(ds, split, limit, (uint64_t)seed);
    if (st != EV_OK) {
        cli_error("%s (dataset %s)", ev_dataset_errmsg(ds), dataset);
        rc = cli_exit_code(st);
        goto done;
    }
    if (!no_cache) {
        char cdir[4096];
        if (resolve_cache_dir(cache_dir_opt, cdir, sizeof cdir) != 0) {
            cli_warn("no cache directory (set --cache-dir or HOME): continuing without the cache");
        } else if (ev_cache_open(cdir, &cache, err, sizeof err) != EV_OK) {
            if (cache_dir_opt) {
                cli_error("%s", err);
                rc = EV_EXIT_RUNTIME;
                goto done;
            }
            cli_warn("%s: continuing without the cache", err);
            cache = NULL;
        }
    }
    ev_embed_options o = ev_embed_default_options();
    o.batch = (int)batch;
    o.engine_threads = (int)threads;
    o.workers = workers > 0 ? (int)workers : (threads > 0 ? (int)threads : 2);
    o.mode = mode;
    o.strict = strict;
    o.cache = cache;
    if (max_pixels > 0) o.decode.max_pixels = max_pixels;
    if (min_size > 0) o.decode.min_side = (int)min_size;
    progress_state ps = {cli_stderr_is_tty(), quiet, 0, 0};
    o.progress = on_progress;
    o.progress_user = &ps;
    if (!quiet && !ps.tty)
        fprintf(stderr, "embed: %s on %lld items of %s (%s, split %s)\n", card->name,
                (long long)ev_dataset_count(ds), ev_dataset_root(ds), ev_dataset_format_name(ds),
                ev_split_name(split));
    st = ev_embed(card, ds, &o, &E, err, sizeof err);
    if (st != EV_OK) {
        if (ps.drawn) fputc('\n', stderr);
        cli_error("%s", err);
        rc = cli_exit_code(st);
        goto done;
    }
    if (E->n_skipped) {
        fprintf(stderr, "embeval: skipped %lld bad item%s:\n", (long long)E->n_skipped, E->n_skipped == 1 ? "" : "s");
        int64_t show = verbose ? E->n_skipped : (E->n_skipped < 20 ? E->n_skipped : 20);
        for (int64_t i = 0; i < show; i++) fprintf(stderr, "  %s\n", E->skipped[i].reason);
        if (show < E->n_skipped)
            fprintf(stderr, "  ... and %lld more (--skipped-out FILE lists all, -v shows all)\n",
                    (long long)(E->n_skipped - show));
    }
    if (skipped_out && write_skipped(skipped_out, E) != 0) {
        rc = EV_EXIT_RUNTIME;
        goto done;
    }
    if (E->n == 0) {
        cli_error("no image could be embedded (%lld items, %lld skipped) (dataset %s)", (long long)E->stats.items,
                  (long long)E->n_skipped, dataset);
        rc = EV_EXIT_INPUT;
        goto done;
    }
    ev_tensor t;
    memset(&t, 0, sizeof t);
    t.dtype = EV_DT_FLOAT;
    t.rank = 2;
    t.dims[0] = E->n;
    t.dims[1] = E->dim;
    t.data = E->data;
    st = ev_npy_write(out, &t, err, sizeof err);
    if (st != EV_OK) {
        cli_error("%s", err);
        rc = EV_EXIT_RUNTIME;
        goto done;
    }
    if (labels_out && write_lines(labels_out, ds, E, 0) != 0) rc = EV_EXIT_RUNTIME;
    if (items_out && write_lines(items_out, ds, E, 1) != 0) rc = EV_EXIT_RUNTIME;
    if (rc != EV_EXIT_OK) goto done;
    const ev_embed_stats *s = &E->stats;
    if (json) {
        printf("{\"model\": ");
        json_str(stdout, card->name);
        printf(", \"dataset\": ");
        json_str(stdout, ev_dataset_root(ds));
        printf(", \"out\": ");
        json_str(stdout, out);
        printf(", \"items\": %lld, \"embedded\": %lld, \"dim\": %d, \"cache_hits\": %lld, \"computed\": %lld, "
               "\"skipped\": %lld, \"seconds\": %.3f, \"model_load_seconds\": %.3f, \"infer_seconds\": %.3f, "
               "\"decode_seconds\": %.3f, \"hash_seconds\": %.3f, \"model_sha256\": \"%s\", \"mode\": \"%s\", "
               "\"skipped_items\": [",
               (long long)s->items, (long long)s->embedded, E->dim, (long long)s->cache_hits, (long long)s->computed,
               (long long)s->skipped, s->seconds, s->model_load_seconds, s->infer_seconds, s->decode_seconds,
               s->hash_seconds, E->model_hash, mode == EV_IMAGE_FAST ? "fast" : "exact");
        for (int64_t i = 0; i < E->n_skipped; i++) {
            printf("%s{\"name\": ", i ? ", " : "");
            json_str(stdout, E->skipped[i].name);
            printf(", \"reason\": ");
            json_str(stdout, E->skipped[i].reason);
            printf("}");
        }
        printf("]}\n");
    } else {
        printf("embedded %lld of %lld items with %s (dim %d) in %.2f s: %lld computed, %lld from cache, %lld "
               "skipped -> %s\n",
               (long long)s->embedded, (long long)s->items, card->name, E->dim, s->seconds, (long long)s->computed,
               (long long)s->cache_hits, (long long)s->skipped, out);
    }
done:
    ev_embeddings_free(E);
    ev_cache_close(cache);
    ev_dataset_free(ds);
    ev_card_free(card);
    return rc;
}
