/* The embed pipeline's cache path without a model: every good image is a
 * cache hit (so the model is never loaded), bad images are skipped and
 * listed, --strict fails on the first, normalisation is applied after the
 * cache, and a miss with a broken model file fails with the model's error. */
#include <math.h>
#include <vips/vips.h>

#include "embeval/embed.h"
#include "pipeline/tu.h"

static char dir[512];

static void write_png(const char *path, int w, int h, int seed)
{
    uint8_t *px = malloc((size_t)w * h * 3);
    for (int i = 0; i < w * h * 3; i++) px[i] = (uint8_t)(i * 31 + seed * 17);
    VipsImage *im = vips_image_new_from_memory_copy(px, (size_t)w * h * 3, w, h, 3, VIPS_FORMAT_UCHAR);
    void *buf;
    size_t len;
    if (vips_pngsave_buffer(im, &buf, &len, NULL) != 0) exit(2);
    tu_write(path, buf, len);
    g_free(buf);
    g_object_unref(im);
    free(px);
}

static void file_hash(const char *path, ev_hash *h)
{
    char err[256];
    if (ev_sha256_file(path, h, err, sizeof err) != EV_OK) {
        fprintf(stderr, "%s\n", err);
        exit(2);
    }
}

typedef struct {
    int calls, finished;
    int64_t last_done;
} prog;

static void on_prog(void *u, const ev_embed_progress *p)
{
    prog *pr = u;
    pr->calls++;
    pr->last_done = p->done;
    if (p->finished) pr->finished++;
}

int main(void)
{
    char err[1024], p[1024], cdir[1024], model[1024], cardp[1024];
    tu_tmpdir(dir, sizeof dir, "embed");
    if (ev_image_init(err, sizeof err) != EV_OK) return 1;
    /* three good images, four bad ones */
    const char *good[3] = {"a.png", "b.png", "c.png"};
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, good[i]);
        write_png(p, 40 + i, 30, i);
    }
    snprintf(p, sizeof p, "%s/empty.jpg", dir);
    tu_write(p, "", 0);
    snprintf(p, sizeof p, "%s/text.jpg", dir);
    tu_writes(p, "not an image");
    snprintf(p, sizeof p, "%s/tiny.png", dir);
    write_png(p, 1, 1, 9);
    snprintf(p, sizeof p, "%s/list.csv", dir);
    tu_writes(p, "path,label\na.png,cat\nempty.jpg,cat\nb.png,dog\ntext.jpg,dog\nmissing.png,cat\nc.png,\"cat, big\"\ntiny.png,dog\n");
    /* a "model" file: only its bytes matter while everything is a hit */
    snprintf(model, sizeof model, "%s/m.onnx", dir);
    tu_writes(model, "definitely not an ONNX model");
    snprintf(cardp, sizeof cardp, "%s/m.json", dir);
    tu_writes(cardp, "{\"name\": \"m\", \"file\": \"m.onnx\", \"license\": \"MIT\", \"normalize\": true, \"embedding_dim\": 4,"
                     " \"preprocess\": {\"resize\": 32, \"crop\": 32, \"interpolation\": \"bicubic\"}}");
    ev_card *card = NULL;
    CHECK_MSG(ev_card_load(cardp, &card, err, sizeof err) == EV_OK, "%s", err);
    ev_dataset *ds = NULL;
    CHECK_MSG(ev_dataset_open(p, NULL, &ds, err, sizeof err) == EV_OK, "%s", err);
    if (!card || !ds) return tu_done("test_cache_embed");

    /* pre-populate the cache exactly as the pipeline keys it */
    snprintf(cdir, sizeof cdir, "%s/cache", dir);
    ev_cache *cache = NULL;
    CHECK(ev_cache_open(cdir, &cache, err, sizeof err) == EV_OK);
    ev_embed_options o = ev_embed_default_options();
    o.cache = cache;
    o.batch = 2;
    o.workers = 3;
    prog pr = {0, 0, 0};
    o.progress = on_prog;
    o.progress_user = &pr;
    char desc[512];
    CHECK(ev_preprocess_describe(&card->preprocess, EV_IMAGE_EXACT, &o.decode, desc, sizeof desc) == EV_OK);
    ev_hash mh, ph, ih[3], keys[3];
    file_hash(model, &mh);
    ev_sha256(desc, strlen(desc), &ph);
    float vec[3][4] = {{3, 4, 0, 0}, {0, 0, 0, 2}, {1, 1, 1, 1}};
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, good[i]);
        file_hash(p, &ih[i]);
        ev_cache_key(&mh, &ph, &ih[i], &keys[i]);
    }
    CHECK(ev_cache_put_batch(cache, &mh, 3, keys, &vec[0][0], 4) == EV_OK);

    ev_embeddings *E = NULL;
    CHECK_MSG(ev_embed(card, ds, &o, &E, err, sizeof err) == EV_OK, "%s", err);
    if (E) {
        CHECK(E->n == 3 && E->dim == 4);
        CHECK(E->stats.cache_hits == 3 && E->stats.computed == 0 && E->stats.skipped == 4);
        CHECK(E->stats.model_loaded == 0);
        CHECK(E->items[0] == 0 && E->items[1] == 2 && E->items[2] == 5);
        /* labels: "cat" 0, "cat, big" 1, "dog" 2 */
        CHECK(E->labels[0] == 0 && E->labels[1] == 2 && E->labels[2] == 1);
        /* L2-normalised after the cache */
        CHECK(fabsf(E->data[0] - 0.6f) < 1e-6f && fabsf(E->data[1] - 0.8f) < 1e-6f);
        CHECK(fabsf(E->data[4 + 3] - 1.0f) < 1e-6f && fabsf(E->data[8] - 0.5f) < 1e-6f);
        CHECK(E->n_skipped == 4);
        if (E->n_skipped == 4) {
            CHECK(E->skipped[0].item == 1 && strstr(E->skipped[0].reason, "empty.jpg: empty file"));
            CHECK(E->skipped[1].item == 3 && strstr(E->skipped[1].reason, "text.jpg: not a supported image"));
            CHECK(E->skipped[2].item == 4 && strstr(E->skipped[2].reason, "missing.png") &&
                  E->skipped[2].code == EV_ERR_IO);
            CHECK(E->skipped[3].item == 6 && strstr(E->skipped[3].reason, "tiny.png: image is 1x1"));
        }
        char hex[65];
        ev_hash_hex(&mh, hex);
        CHECK(!strcmp(E->model_hash, hex));
        CHECK(strstr(E->preprocess, "resize=shorter:32 interp=bicubic") != NULL);
        CHECK(pr.finished == 1 && pr.last_done == 7);
        ev_embeddings_free(E);
    }
    /* strict: the first bad image is the error */
    o.strict = 1;
    o.workers = 1;
    CHECK(ev_embed(card, ds, &o, &E, err, sizeof err) == EV_ERR_FORMAT && E == NULL);
    CHECK_HAS(err, "empty.jpg");
    o.strict = 0;
    o.workers = 2;
    /* fast mode is another preprocessing: every image misses, and the broken
       model file fails the run with the loader's message */
    o.mode = EV_IMAGE_FAST;
    ev_status st = ev_embed(card, ds, &o, &E, err, sizeof err);
    CHECK(st != EV_OK && E == NULL);
    CHECK_HAS(err, "m.onnx");
    /* no cache: same */
    o.mode = EV_IMAGE_EXACT;
    o.cache = NULL;
    CHECK(ev_embed(card, ds, &o, &E, err, sizeof err) != EV_OK);
    /* a dataset of only bad images: zero rows, no model needed */
    snprintf(p, sizeof p, "%s/bad.csv", dir);
    tu_writes(p, "empty.jpg,x\ntext.jpg,y\n");
    ev_dataset *bad = NULL;
    CHECK(ev_dataset_open(p, NULL, &bad, err, sizeof err) == EV_OK);
    CHECK(ev_embed(card, bad, &o, &E, err, sizeof err) == EV_OK);
    if (E) {
        CHECK(E->n == 0 && E->n_skipped == 2 && E->dim == 4 && E->data == NULL);
        ev_embeddings_free(E);
    }
    ev_dataset_free(bad);
    ev_cache_close(cache);
    ev_dataset_free(ds);
    ev_card_free(card);
    tu_rm_rf(dir);
    return tu_done("test_cache_embed");
}
