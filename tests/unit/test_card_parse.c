/* Model cards: the six shipped cards, strict validation, warnings, defaults. */
#include "embeval/card.h"
#include "pipeline/tu.h"

#define MODELS_DIR EV_TEST_DATA_DIR "/../../models"

static ev_card *parse(const char *json, char *err, size_t errlen)
{
    ev_card *c = NULL;
    ev_card_parse(json, strlen(json), "t.json", "/cards", &c, err, errlen);
    return c;
}

static bool feq(float a, double b) { return a == (float)b; }

static void test_shipped(void)
{
    static const char *const names[] = {"resnet50", "efficientnet_b0", "efficientnet_lite0", "mobilenet_v3_small",
                                        "mobilenet_v3_large", "clip_vit_b32"};
    static const int dims[] = {2048, 1280, 1280, 576, 960, 512};
    char err[512], p[1024];
    for (int i = 0; i < 6; i++) {
        snprintf(p, sizeof p, "%s/%s.json", MODELS_DIR, names[i]);
        ev_card *c = NULL;
        CHECK_MSG(ev_card_load(p, &c, err, sizeof err) == EV_OK, "%s: %s", names[i], err);
        if (!c) continue;
        CHECK(!strcmp(c->name, names[i]));
        CHECK(c->n_warnings == 0);
        CHECK(!c->is_default);
        CHECK(!strcmp(c->input_name, "input") && !strcmp(c->output_name, "embedding"));
        CHECK(c->embedding_dim == dims[i]);
        char want[1100];
        snprintf(want, sizeof want, "%s/%s.onnx", MODELS_DIR, names[i]);
        CHECK(!strcmp(c->model_path, want));
        CHECK(*c->license && *c->source_url && *c->weights && c->n_citations >= 1 && c->runs_locally == 1);
        CHECK(strstr(c->weights, "random-init") != NULL);
        const ev_preprocess *pp = &c->preprocess;
        CHECK(pp->crop_h == 224 && pp->crop_w == 224 && pp->resize_mode == EV_RESIZE_SHORTER && pp->antialias);
        CHECK(pp->layout == EV_LAYOUT_NCHW && !pp->bgr && pp->range == 1.0f);
        if (i == 0 || i == 3 || i == 4) {
            CHECK(pp->resize_size == 256 && pp->interp == EV_INTERP_BILINEAR);
            CHECK(feq(pp->mean[0], 0.485) && feq(pp->std[2], 0.225));
            CHECK(!strcmp(c->license, "BSD-3-Clause") && !c->normalize);
        } else if (i == 1) {
            CHECK(pp->resize_size == 256 && pp->interp == EV_INTERP_BICUBIC);
        } else if (i == 2) {
            CHECK(pp->resize_size == 256 && pp->interp == EV_INTERP_BICUBIC); /* floor(224 / 0.875) */
            CHECK(feq(pp->mean[1], 0.5) && feq(pp->std[1], 0.5));
            CHECK(!strcmp(c->license, "Apache-2.0"));
        } else {
            CHECK(pp->resize_size == 224 && pp->interp == EV_INTERP_BICUBIC);
            CHECK(feq(pp->mean[0], 0.48145466) && feq(pp->std[2], 0.27577711));
            CHECK(!strcmp(c->license, "MIT") && c->normalize);
        }
        ev_card_free(c);
    }
}

static const char *MIN = "{\"name\": \"m\", \"file\": \"m.onnx\", \"license\": \"MIT\", \"preprocess\": {%s}%s}";

static ev_card *minimal(const char *pre, const char *extra, char *err, size_t errlen)
{
    char buf[2048];
    snprintf(buf, sizeof buf, MIN, pre, extra);
    return parse(buf, err, errlen);
}

static void test_validation(void)
{
    char err[512];
    ev_card *c = minimal("\"resize\": [300, 200], \"interpolation\": \"nearest\"", "", err, sizeof err);
    CHECK_MSG(c != NULL, "%s", err);
    if (c) {
        CHECK(c->preprocess.resize_mode == EV_RESIZE_EXACT && c->preprocess.resize_h == 300 && c->preprocess.resize_w == 200);
        CHECK(c->preprocess.crop_h == 0 && c->preprocess.interp == EV_INTERP_NEAREST);
        CHECK(!strcmp(c->model_path, "/cards/m.onnx"));
        CHECK(feq(c->preprocess.mean[0], 0.0) && feq(c->preprocess.std[0], 1.0)); /* defaults */
        CHECK(c->runs_locally == -1 && *c->notes == 0);
        ev_card_free(c);
    }
    c = minimal("\"resize\": 224, \"resize_mode\": \"exact\", \"channel_order\": \"BGR\", \"range\": \"0-255\", "
                "\"layout\": \"NHWC\", \"antialias\": false, \"crop\": [200, 100]",
                ", \"notes\": [\"a\", \"b\"], \"training\": {\"epochs\": 3}", err, sizeof err);
    CHECK_MSG(c != NULL, "%s", err);
    if (c) {
        CHECK(c->preprocess.resize_mode == EV_RESIZE_EXACT && c->preprocess.resize_h == 224);
        CHECK(c->preprocess.bgr && c->preprocess.range == 255.0f && c->preprocess.layout == EV_LAYOUT_NHWC);
        CHECK(!c->preprocess.antialias && c->preprocess.crop_h == 200 && c->preprocess.crop_w == 100);
        CHECK(!strcmp(c->notes, "a b") && !strcmp(c->training_json, "{\"epochs\":3}"));
        ev_card_free(c);
    }
    /* errors name the card and the key */
    CHECK(parse("{\"name\": \"m\", \"file\": \"m.onnx\", \"preprocess\": {\"crop\": 224}", err, sizeof err) == NULL);
    CHECK_HAS(err, "card t.json: invalid JSON at line 1");
    CHECK(parse("{\"name\": \"m\",\n \"file\": 3, \"preprocess\": {}}", err, sizeof err) == NULL);
    CHECK_HAS(err, "\"file\" must be a string");
    CHECK(parse("{\"file\": \"m.onnx\", \"preprocess\": {\"crop\": 224}}", err, sizeof err) == NULL);
    CHECK_HAS(err, "missing \"name\"");
    CHECK(parse("{\"name\": \"m\", \"file\": \"m.onnx\"}", err, sizeof err) == NULL);
    CHECK_HAS(err, "missing \"preprocess\"");
    CHECK(parse("[1]", err, sizeof err) == NULL);
    CHECK(parse("{\"name\": \"m\", \"file\": \"m.onnx\", \"preprocess\": {\"crop\": 224}} x", err, sizeof err) == NULL);
    CHECK_HAS(err, "text after");
    CHECK(minimal("\"crop\": 224, \"mean\": 0.5", "", err, sizeof err) == NULL);
    CHECK_HAS(err, "\"preprocess.mean\" must be an array of 3 numbers");
    CHECK(minimal("\"crop\": 224, \"mean\": [1, 2]", "", err, sizeof err) == NULL);
    CHECK(minimal("\"crop\": 224, \"std\": [1, 0, 2]", "", err, sizeof err) == NULL);
    CHECK_HAS(err, "must not contain 0");
    CHECK(minimal("\"crop\": \"224\"", "", err, sizeof err) == NULL);
    CHECK_HAS(err, "\"preprocess.crop\" must be an integer");
    CHECK(minimal("\"crop\": 224.5", "", err, sizeof err) == NULL);
    CHECK(minimal("\"crop\": 0", "", err, sizeof err) == NULL);
    CHECK(minimal("\"crop\": 224, \"resize\": [1, 2, 3]", "", err, sizeof err) == NULL);
    CHECK(minimal("\"crop\": 224, \"interpolation\": \"cubic\"", "", err, sizeof err) == NULL);
    CHECK_HAS(err, "must be one of nearest, lanczos, bilinear, bicubic, box, hamming");
    CHECK(minimal("\"crop\": 224, \"antialias\": \"yes\"", "", err, sizeof err) == NULL);
    CHECK_HAS(err, "\"preprocess.antialias\" must be true or false");
    CHECK(minimal("\"crop\": 224, \"resize\": 256, \"crop_pct\": 0.875", "", err, sizeof err) == NULL);
    CHECK_HAS(err, "either");
    CHECK(minimal("\"crop_pct\": 0.875", "", err, sizeof err) == NULL);
    CHECK_HAS(err, "needs \"preprocess.crop\"");
    CHECK(minimal("\"crop\": 224, \"crop_pct\": 1.5", "", err, sizeof err) == NULL);
    CHECK(minimal("\"crop\": 224, \"resize\": 256, \"resize_mode\": \"none\"", "", err, sizeof err) == NULL);
    CHECK_HAS(err, "does not match");
    CHECK(minimal("\"resize\": 256", "", err, sizeof err) == NULL);
    CHECK_HAS(err, "not fixed");
    CHECK(minimal("\"crop\": 224", ", \"normalize\": 1", err, sizeof err) == NULL);
    CHECK_HAS(err, "\"normalize\" must be true or false");
    CHECK(minimal("\"crop\": 224", ", \"embedding_dim\": -4", err, sizeof err) == NULL);
    CHECK(minimal("\"crop\": 224", ", \"citations\": \"x\"", err, sizeof err) == NULL);
    CHECK(minimal("\"crop\": 224", ", \"citations\": [\"x\", 2]", err, sizeof err) == NULL);
    CHECK(minimal("\"crop\": 224", ", \"embeval_card\": 2", err, sizeof err) == NULL);
    CHECK_HAS(err, "version must be 1");
    CHECK(minimal("\"crop\": 224", ", \"notes\": 5", err, sizeof err) == NULL);
    /* crop_pct: floor(224 / 0.9) = 248 */
    c = minimal("\"crop\": 224, \"crop_pct\": 0.9", "", err, sizeof err);
    CHECK(c && c->preprocess.resize_size == 248 && c->preprocess.resize_mode == EV_RESIZE_SHORTER);
    ev_card_free(c);
    /* unknown keys warn; a missing license warns */
    c = parse("{\"name\": \"m\", \"file\": \"m.onnx\", \"colour\": 1, \"preprocess\": {\"crop\": 224, \"zoom\": 2}}", err,
              sizeof err);
    CHECK_MSG(c != NULL, "%s", err);
    if (c) {
        CHECK(c->n_warnings == 3);
        CHECK(c->n_warnings >= 3 && strstr(c->warnings[0], "unknown key \"colour\""));
        CHECK(c->n_warnings >= 3 && strstr(c->warnings[1], "unknown key \"preprocess.zoom\""));
        CHECK(!strcmp(c->license, "unknown"));
        ev_card_free(c);
    }
}

static void test_default(void)
{
    char err[512], dir[512], p[1024];
    tu_tmpdir(dir, sizeof dir, "card");
    snprintf(p, sizeof p, "%s/my model.onnx", dir);
    tu_writes(p, "not really onnx");
    ev_card *c = NULL;
    CHECK(ev_card_load(p, &c, err, sizeof err) == EV_OK);
    if (c) {
        CHECK(c->is_default && !strcmp(c->name, "my model") && !strcmp(c->model_path, p));
        CHECK(c->n_warnings == 1 && strstr(c->warnings[0], "timm's default preprocessing"));
        ev_preprocess d = ev_preprocess_default();
        CHECK(!memcmp(&d, &c->preprocess, sizeof d));
        CHECK(!strcmp(c->license, "unknown"));
        char s[512];
        CHECK(ev_preprocess_summary(&c->preprocess, s, sizeof s) == EV_OK);
        CHECK_HAS(s, "resize 256 (shorter side, bicubic, antialias), centre crop 224x224, RGB, [0,1]");
        ev_card_free(c);
    }
    snprintf(p, sizeof p, "%s/missing.onnx", dir);
    CHECK(ev_card_load(p, &c, err, sizeof err) == EV_ERR_IO);
    CHECK_HAS(err, "missing.onnx");
    snprintf(p, sizeof p, "%s/missing.json", dir);
    CHECK(ev_card_load(p, &c, err, sizeof err) == EV_ERR_IO);
    CHECK_HAS(err, "card");
    snprintf(p, sizeof p, "%s/empty.json", dir);
    tu_writes(p, "");
    CHECK(ev_card_load(p, &c, err, sizeof err) == EV_ERR_FORMAT);
    CHECK_HAS(err, "empty.json");
    ev_card_free(NULL);
    tu_rm_rf(dir);
}

int main(void)
{
    test_shipped();
    test_validation();
    test_default();
    return tu_done("test_card_parse");
}
