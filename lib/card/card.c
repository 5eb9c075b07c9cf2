/*
 * lib/card/card.c — model cards (JSON, parsed with cJSON), strict
 * validation, and the default card for a bare .onnx file.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/util.h"
#include "embeval/card.h"

#define CARD_MAX_BYTES ((size_t)1 << 20)
#define CARD_MAX_WARNINGS 64
#define CARD_MAX_CITATIONS 64

typedef struct card_impl {
    ev_card pub;                 /* first: ev_card * <-> card_impl *          */
    ev_arena arena;
    const char *warn[CARD_MAX_WARNINGS];
    const char *cites[CARD_MAX_CITATIONS];
} card_impl;

typedef struct {
    card_impl *c;
    const char *name;            /* for messages                              */
    ev_err *e;
} ctx;

static card_impl *card_new(void)
{
    card_impl *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    ev_arena_init(&c->arena, 0);
    ev_card *p = &c->pub;
    p->card_path = p->name = p->architecture = p->file = p->model_path = p->input_name = p->output_name = "";
    p->license = p->license_url = p->source_url = p->runs_locally_why = p->weights = p->notes = "";
    p->training_json = "";
    p->runs_locally = -1;
    p->citations = c->cites;
    p->warnings = c->warn;
    p->preprocess = ev_preprocess_default();
    return c;
}

void ev_card_free(ev_card *card)
{
    if (!card) return;
    card_impl *c = (card_impl *)card;
    ev_arena_free(&c->arena);
    free(c);
}

static const char *dup(ctx *x, const char *s)
{
    const char *d = ev_arena_strdup(&x->c->arena, s);
    if (!d) ev_err_set(x->e, EV_ERR_NOMEM, "out of memory");
    return d;
}

static void warn(card_impl *c, const char *fmt, ...) EV_PRINTF(2, 3);
static void warn(card_impl *c, const char *fmt, ...)
{
    char msg[EV_ERRLEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    ev_log(EV_LOG_WARN, "%s", msg);
    if (c->pub.n_warnings < CARD_MAX_WARNINGS) {
        const char *d = ev_arena_strdup(&c->arena, msg);
        if (d) c->warn[c->pub.n_warnings++] = d;
    }
}

/* ---- typed getters: absent is fine (returns 0), wrong type is an error ---- */
static ev_status get_string(ctx *x, const cJSON *obj, const char *prefix, const char *key, const char **out,
                            bool required)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v || cJSON_IsNull(v)) {
        if (required) return ev_err_set(x->e, EV_ERR_FORMAT, "card %s: missing \"%s%s\"", x->name, prefix, key);
        return EV_OK;
    }
    if (!cJSON_IsString(v))
        return ev_err_set(x->e, EV_ERR_FORMAT, "card %s: \"%s%s\" must be a string", x->name, prefix, key);
    if (required && !*v->valuestring)
        return ev_err_set(x->e, EV_ERR_FORMAT, "card %s: \"%s%s\" must not be empty", x->name, prefix, key);
    *out = dup(x, v->valuestring);
    return *out ? EV_OK : EV_ERR_NOMEM;
}

static ev_status get_bool(ctx *x, const cJSON *obj, const char *prefix, const char *key, int *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v || cJSON_IsNull(v)) return EV_OK;
    if (!cJSON_IsBool(v))
        return ev_err_set(x->e, EV_ERR_FORMAT, "card %s: \"%s%s\" must be true or false", x->name, prefix, key);
    *out = cJSON_IsTrue(v) ? 1 : 0;
    return EV_OK;
}

static bool is_int(const cJSON *v, int lo, int hi)
{
    return cJSON_IsNumber(v) && v->valuedouble == floor(v->valuedouble) && v->valuedouble >= lo &&
           v->valuedouble <= hi;
}

/* integer, or [h, w] of integers; *h = *w for a single integer */
static ev_status get_size(ctx *x, const cJSON *v, const char *key, int *h, int *w, bool *pair)
{
    *pair = false;
    if (is_int(v, 1, 16384)) {
        *h = *w = v->valueint;
        return EV_OK;
    }
    if (cJSON_IsArray(v) && cJSON_GetArraySize(v) == 2 && is_int(cJSON_GetArrayItem(v, 0), 1, 16384) &&
        is_int(cJSON_GetArrayItem(v, 1), 1, 16384)) {
        *h = cJSON_GetArrayItem(v, 0)->valueint;
        *w = cJSON_GetArrayItem(v, 1)->valueint;
        *pair = true;
        return EV_OK;
    }
    return ev_err_set(x->e, EV_ERR_FORMAT,
                      "card %s: \"preprocess.%s\" must be an integer in 1..16384 or [height, width]", x->name, key);
}

static ev_status get_triple(ctx *x, const cJSON *obj, const char *key, float *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v || cJSON_IsNull(v)) return EV_OK;
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) != 3)
        return ev_err_set(x->e, EV_ERR_FORMAT, "card %s: \"preprocess.%s\" must be an array of 3 numbers", x->name,
                          key);
    for (int i = 0; i < 3; i++) {
        const cJSON *n = cJSON_GetArrayItem(v, i);
        if (!cJSON_IsNumber(n) || !isfinite(n->valuedouble) || fabs(n->valuedouble) > 1e6)
            return ev_err_set(x->e, EV_ERR_FORMAT, "card %s: \"preprocess.%s\" must be an array of 3 finite numbers",
                              x->name, key);
        out[i] = (float)n->valuedouble;
    }
    return EV_OK;
}

static ev_status get_enum(ctx *x, const cJSON *obj, const char *key, const char *const *names, int n, int *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v || cJSON_IsNull(v)) return EV_OK;
    if (cJSON_IsString(v))
        for (int i = 0; i < n; i++)
            if (!strcasecmp(v->valuestring, names[i])) {
                *out = i;
                return EV_OK;
            }
    char list[256] = "";
    for (int i = 0; i < n; i++) {
        size_t l = strlen(list);
        snprintf(list + l, sizeof list - l, "%s%s", i ? ", " : "", names[i]);
    }
    return ev_err_set(x->e, EV_ERR_FORMAT, "card %s: \"preprocess.%s\" must be one of %s", x->name, key, list);
}

static void check_keys(ctx *x, const cJSON *obj, const char *prefix, const char *const *known, int n)
{
    for (const cJSON *it = obj->child; it; it = it->next) {
        bool ok = false;
        for (int i = 0; i < n && !ok; i++) ok = !strcmp(it->string, known[i]);
        if (!ok) warn(x->c, "card %s: unknown key \"%s%s\" ignored", x->name, prefix, it->string);
    }
}

static ev_status parse_preprocess(ctx *x, const cJSON *pp, ev_preprocess *p)
{
    static const char *const KNOWN[] = {"resize", "resize_mode", "crop_pct", "interpolation", "antialias", "crop",
                                        "channel_order", "range", "mean", "std", "layout", "comment"};
    if (!cJSON_IsObject(pp)) return ev_err_set(x->e, EV_ERR_FORMAT, "card %s: \"preprocess\" must be an object", x->name);
    check_keys(x, pp, "preprocess.", KNOWN, (int)(sizeof KNOWN / sizeof KNOWN[0]));
    *p = ev_preprocess_default();
    p->interp = EV_INTERP_BILINEAR; /* torchvision's Resize default */
    p->mean[0] = p->mean[1] = p->mean[2] = 0.0f;
    p->std[0] = p->std[1] = p->std[2] = 1.0f;
    p->crop_h = p->crop_w = 0;
    p->resize_mode = EV_RESIZE_NONE;
    p->resize_size = 0;

    const cJSON *crop = cJSON_GetObjectItemCaseSensitive(pp, "crop");
    bool pair;
    if (crop && !cJSON_IsNull(crop)) EV_TRY(get_size(x, crop, "crop", &p->crop_h, &p->crop_w, &pair));

    const cJSON *rs = cJSON_GetObjectItemCaseSensitive(pp, "resize");
    const cJSON *cp = cJSON_GetObjectItemCaseSensitive(pp, "crop_pct");
    if (rs && !cJSON_IsNull(rs)) {
        int h, w;
        EV_TRY(get_size(x, rs, "resize", &h, &w, &pair));
        if (pair) {
            p->resize_mode = EV_RESIZE_EXACT;
            p->resize_h = h;
            p->resize_w = w;
        } else {
            p->resize_mode = EV_RESIZE_SHORTER;
            p->resize_size = h;
        }
        if (cp && !cJSON_IsNull(cp))
            return ev_err_set(x->e, EV_ERR_FORMAT, "card %s: give either \"preprocess.resize\" or \"preprocess.crop_pct\", not both",
                              x->name);
    } else if (cp && !cJSON_IsNull(cp)) {
        /* timm: scale_size = floor(crop / crop_pct), shorter side */
        if (!cJSON_IsNumber(cp) || !(cp->valuedouble > 0.0 && cp->valuedouble <= 1.0))
            return ev_err_set(x->e, EV_ERR_FORMAT, "card %s: \"preprocess.crop_pct\" must be a number in (0, 1]", x->name);
        if (!p->crop_h)
            return ev_err_set(x->e, EV_ERR_FORMAT, "card %s: \"preprocess.crop_pct\" needs \"preprocess.crop\"", x->name);
        if (p->crop_h != p->crop_w)
            return ev_err_set(x->e, EV_ERR_FORMAT, "card %s: \"preprocess.crop_pct\" needs a square crop", x->name);
        double s = floor(p->crop_h / cp->valuedouble);
        if (s > 16384) return ev_err_set(x->e, EV_ERR_FORMAT, "card %s: crop / crop_pct is too large", x->name);
        p->resize_mode = EV_RESIZE_SHORTER;
        p->resize_size = (int)s;
    }
    static const char *const MODES[] = {"none", "shorter", "exact"};
    int mode = -1;
    EV_TRY(get_enum(x, pp, "resize_mode", MODES, 3, &mode));
    if (mode >= 0 && mode != (int)p->resize_mode) {
        if (mode == EV_RESIZE_EXACT && p->resize_mode == EV_RESIZE_SHORTER && !(cp && !cJSON_IsNull(cp))) {
            /* "resize": 224 with "resize_mode": "exact" means 224x224 */
            p->resize_mode = EV_RESIZE_EXACT;
            p->resize_h = p->resize_w = p->resize_size;
        } else {
            return ev_err_set(x->e, EV_ERR_FORMAT, "card %s: \"preprocess.resize_mode\" \"%s\" does not match \"resize\"",
                              x->name, MODES[mode]);
        }
    }
    static const char *const INTERPS[] = {"nearest", "lanczos", "bilinear", "bicubic", "box", "hamming"};
    int ip = (int)p->interp;
    EV_TRY(get_enum(x, pp, "interpolation", INTERPS, 6, &ip));
    p->interp = (ev_interp)ip;
    EV_TRY(get_bool(x, pp, "preprocess.", "antialias", &p->antialias));
    static const char *const ORDERS[] = {"RGB", "BGR"};
    int order = 0;
    EV_TRY(get_enum(x, pp, "channel_order", ORDERS, 2, &order));
    p->bgr = order;
    static const char *const RANGES[] = {"0-1", "0-255"};
    int range = 0;
    EV_TRY(get_enum(x, pp, "range", RANGES, 2, &range));
    p->range = range ? 255.0f : 1.0f;
    EV_TRY(get_triple(x, pp, "mean", p->mean));
    EV_TRY(get_triple(x, pp, "std", p->std));
    for (int i = 0; i < 3; i++)
        if (p->std[i] == 0.0f) return ev_err_set(x->e, EV_ERR_FORMAT, "card %s: \"preprocess.std\" must not contain 0", x->name);
    static const char *const LAYOUTS[] = {"NCHW", "NHWC"};
    int layout = 0;
    EV_TRY(get_enum(x, pp, "layout", LAYOUTS, 2, &layout));
    p->layout = (ev_layout)layout;
    char msg[256];
    if (ev_preprocess_validate(p, msg, sizeof msg) != EV_OK)
        return ev_err_set(x->e, EV_ERR_FORMAT, "card %s: %s", x->name, msg);
    return EV_OK;
}

static const char *resolve_file(ctx *x, const char *base_dir, const char *file)
{
    if (file[0] == '/' || !base_dir || !*base_dir || !strcmp(base_dir, ".")) return dup(x, file);
    size_t n = strlen(base_dir) + strlen(file) + 2;
    char *j = malloc(n);
    if (!j) {
        ev_err_set(x->e, EV_ERR_NOMEM, "out of memory");
        return NULL;
    }
    snprintf(j, n, "%s%s%s", base_dir, base_dir[strlen(base_dir) - 1] == '/' ? "" : "/", file);
    const char *r = dup(x, j);
    free(j);
    return r;
}

static ev_status parse_card(ctx *x, const cJSON *root, const char *base_dir)
{
    static const char *const KNOWN[] = {"embeval_card", "name", "architecture", "file", "input", "output",
                                        "embedding_dim", "normalize", "preprocess", "license", "license_url",
                                        "source_url", "runs_locally", "runs_locally_why", "weights", "citations",
                                        "notes", "training", "comment"};
    ev_card *p = &x->c->pub;
    if (!cJSON_IsObject(root)) return ev_err_set(x->e, EV_ERR_FORMAT, "card %s: expected a JSON object", x->name);
    const cJSON *ver = cJSON_GetObjectItemCaseSensitive(root, "embeval_card");
    if (ver && !is_int(ver, 1, 1))
        return ev_err_set(x->e, EV_ERR_UNSUPPORTED, "card %s: \"embeval_card\" version must be 1", x->name);
    check_keys(x, root, "", KNOWN, (int)(sizeof KNOWN / sizeof KNOWN[0]));
    EV_TRY(get_string(x, root, "", "name", &p->name, true));
    EV_TRY(get_string(x, root, "", "architecture", &p->architecture, false));
    EV_TRY(get_string(x, root, "", "file", &p->file, true));
    p->model_path = resolve_file(x, base_dir, p->file);
    if (!p->model_path) return EV_ERR_NOMEM;
    EV_TRY(get_string(x, root, "", "input", &p->input_name, false));
    EV_TRY(get_string(x, root, "", "output", &p->output_name, false));
    const cJSON *dim = cJSON_GetObjectItemCaseSensitive(root, "embedding_dim");
    if (dim && !cJSON_IsNull(dim)) {
        if (!is_int(dim, 1, 1 << 20))
            return ev_err_set(x->e, EV_ERR_FORMAT, "card %s: \"embedding_dim\" must be a positive integer", x->name);
        p->embedding_dim = dim->valueint;
    }
    EV_TRY(get_bool(x, root, "", "normalize", &p->normalize));
    const cJSON *pp = cJSON_GetObjectItemCaseSensitive(root, "preprocess");
    if (!pp) return ev_err_set(x->e, EV_ERR_FORMAT, "card %s: missing \"preprocess\"", x->name);
    EV_TRY(parse_preprocess(x, pp, &p->preprocess));
    EV_TRY(get_string(x, root, "", "license", &p->license, false));
    if (!*p->license) {
        p->license = "unknown";
        warn(x->c, "card %s: no \"license\": reported as unknown", x->name);
    }
    EV_TRY(get_string(x, root, "", "license_url", &p->license_url, false));
    EV_TRY(get_string(x, root, "", "source_url", &p->source_url, false));
    EV_TRY(get_bool(x, root, "", "runs_locally", &p->runs_locally));
    EV_TRY(get_string(x, root, "", "runs_locally_why", &p->runs_locally_why, false));
    EV_TRY(get_string(x, root, "", "weights", &p->weights, false));
    const cJSON *cit = cJSON_GetObjectItemCaseSensitive(root, "citations");
    if (cit && !cJSON_IsNull(cit)) {
        if (!cJSON_IsArray(cit))
            return ev_err_set(x->e, EV_ERR_FORMAT, "card %s: \"citations\" must be an array of strings", x->name);
        for (const cJSON *it = cit->child; it; it = it->next) {
            if (!cJSON_IsString(it))
                return ev_err_set(x->e, EV_ERR_FORMAT, "card %s: \"citations\" must be an array of strings", x->name);
            if (p->n_citations == CARD_MAX_CITATIONS)
                return ev_err_set(x->e, EV_ERR_LIMIT, "card %s: more than %d citations", x->name, CARD_MAX_CITATIONS);
            const char *d = dup(x, it->valuestring);
            if (!d) return EV_ERR_NOMEM;
            x->c->cites[p->n_citations++] = d;
        }
    }
    const cJSON *notes = cJSON_GetObjectItemCaseSensitive(root, "notes");
    if (notes && !cJSON_IsNull(notes)) {
        if (cJSON_IsString(notes)) {
            p->notes = dup(x, notes->valuestring);
        } else if (cJSON_IsArray(notes)) {
            ev_buf b;
            ev_buf_init(&b, 1 << 20);
            for (const cJSON *it = notes->child; it; it = it->next) {
                if (!cJSON_IsString(it)) {
                    ev_buf_free(&b);
                    return ev_err_set(x->e, EV_ERR_FORMAT, "card %s: \"notes\" must be a string or an array of strings",
                                      x->name);
                }
                if (b.len) ev_buf_puts(&b, " ");
                ev_buf_puts(&b, it->valuestring);
            }
            p->notes = dup(x, b.data ? b.data : "");
            ev_buf_free(&b);
        } else {
            return ev_err_set(x->e, EV_ERR_FORMAT, "card %s: \"notes\" must be a string or an array of strings", x->name);
        }
        if (!p->notes) return EV_ERR_NOMEM;
    }
    const cJSON *tr = cJSON_GetObjectItemCaseSensitive(root, "training");
    if (tr && !cJSON_IsNull(tr)) {
        char *s = cJSON_PrintUnformatted(tr);
        if (!s) return ev_err_set(x->e, EV_ERR_NOMEM, "out of memory");
        p->training_json = dup(x, s);
        cJSON_free(s);
        if (!p->training_json) return EV_ERR_NOMEM;
    }
    return EV_OK;
}

ev_status ev_card_parse(const char *json, size_t len, const char *name, const char *base_dir, ev_card **out,
                        char *errbuf, size_t errlen)
{
    ev_err e;
    ev_err_clear(&e);
    *out = NULL;
    if (!name) name = "<memory>";
    card_impl *c = card_new();
    if (!c) return EV_ERR_NOMEM;
    ctx x = {c, name, &e};
    ev_status st;
    const char *end = NULL;
    cJSON *root = NULL;
    if (len > CARD_MAX_BYTES) {
        st = ev_err_set(&e, EV_ERR_LIMIT, "card %s: larger than %zu bytes", name, CARD_MAX_BYTES);
    } else {
        root = cJSON_ParseWithLengthOpts(json, len, &end, 0);
        if (!root) {
            long at = end ? (long)(end - json) : 0;
            int line = 1;
            for (long i = 0; i < at && i < (long)len; i++)
                if (json[i] == '\n') line++;
            st = ev_err_set(&e, EV_ERR_FORMAT, "card %s: invalid JSON at line %d (byte %ld)", name, line, at + 1);
        } else {
            /* only whitespace may follow the object */
            size_t used = end ? (size_t)(end - json) : len;
            bool trailing = false;
            for (size_t i = used; i < len; i++)
                if (json[i] != ' ' && json[i] != '\n' && json[i] != '\r' && json[i] != '\t' && json[i] != 0) trailing = true;
            st = trailing ? ev_err_set(&e, EV_ERR_FORMAT, "card %s: text after the JSON object", name)
                          : parse_card(&x, root, base_dir);
        }
    }
    cJSON_Delete(root);
    if (st == EV_OK) {
        c->pub.card_path = ev_arena_strdup(&c->arena, name);
        if (!c->pub.card_path) st = ev_err_set(&e, EV_ERR_NOMEM, "out of memory");
    }
    if (st != EV_OK) {
        ev_err_copy(&e, errbuf, errlen);
        ev_card_free(&c->pub);
        return st;
    }
    *out = &c->pub;
    return EV_OK;
}

static bool has_ext(const char *s, const char *ext)
{
    size_t n = strlen(s), m = strlen(ext);
    return n >= m && !strcasecmp(s + n - m, ext);
}

ev_status ev_card_default(const char *model_path, ev_card **out, char *errbuf, size_t errlen)
{
    ev_err e;
    ev_err_clear(&e);
    *out = NULL;
    card_impl *c = card_new();
    if (!c) return EV_ERR_NOMEM;
    ctx x = {c, model_path, &e};
    const char *base = strrchr(model_path, '/');
    base = base ? base + 1 : model_path;
    char name[256];
    snprintf(name, sizeof name, "%s", base);
    if (has_ext(name, ".onnx")) name[strlen(name) - 5] = 0;
    ev_card *p = &c->pub;
    p->name = dup(&x, name);
    p->file = dup(&x, model_path);
    p->model_path = p->file;
    p->license = "unknown";
    p->weights = "unknown (no model card)";
    p->runs_locally = 1;
    p->runs_locally_why = "the ONNX file is on this machine";
    p->preprocess = ev_preprocess_default();
    p->is_default = 1;
    if (!p->name || !p->file) {
        ev_card_free(p);
        ev_err_copy(&e, errbuf, errlen);
        return EV_ERR_NOMEM;
    }
    warn(c, "no model card for %s: using timm's default preprocessing (shorter side 256 bicubic, centre crop 224, "
            "ImageNet mean/std); write a card if the model was trained differently (docs/model-cards.md)",
         model_path);
    *out = p;
    return EV_OK;
}

ev_status ev_card_load(const char *path, ev_card **out, char *errbuf, size_t errlen)
{
    *out = NULL;
    if (!path || !*path) {
        if (errbuf && errlen) snprintf(errbuf, errlen, "empty model path");
        return EV_ERR_INVALID_ARG;
    }
    if (has_ext(path, ".onnx")) {
        FILE *f = fopen(path, "rb");
        if (!f) {
            if (errbuf && errlen) snprintf(errbuf, errlen, "cannot open model %s: %s", path, strerror(errno));
            return EV_ERR_IO;
        }
        fclose(f);
        return ev_card_default(path, out, errbuf, errlen);
    }
    ev_err e;
    ev_err_clear(&e);
    char *buf = NULL;
    size_t len = 0;
    if (ev_read_file(path, CARD_MAX_BYTES, &buf, &len, &e) != EV_OK) {
        ev_err_prefix(&e, "card");
        ev_err_copy(&e, errbuf, errlen);
        return e.code;
    }
    char *dir = ev_strdup(path);
    if (!dir) {
        free(buf);
        return EV_ERR_NOMEM;
    }
    char *slash = strrchr(dir, '/');
    if (slash == dir) dir[1] = 0;
    else if (slash) *slash = 0;
    else { dir[0] = '.'; dir[1] = 0; } /* path is non-empty: 2 bytes exist */
    ev_status st = ev_card_parse(buf, len, path, dir, out, errbuf, errlen);
    free(dir);
    free(buf);
    return st;
}

static const char *interp_str(ev_interp i)
{
    static const char *const n[] = {"nearest", "lanczos", "bilinear", "bicubic", "box", "hamming"};
    return (i >= 0 && i <= 5) ? n[i] : "?";
}

ev_status ev_preprocess_summary(const ev_preprocess *p, char *buf, size_t len)
{
    if (ev_preprocess_validate(p, buf, len) != EV_OK) return EV_ERR_INVALID_ARG;
    char rs[96] = "", cs[48] = "";
    if (p->resize_mode == EV_RESIZE_SHORTER)
        snprintf(rs, sizeof rs, "resize %d (shorter side, %s%s), ", p->resize_size, interp_str(p->interp),
                 p->antialias ? ", antialias" : "");
    else if (p->resize_mode == EV_RESIZE_EXACT)
        snprintf(rs, sizeof rs, "resize %dx%d (%s%s), ", p->resize_h, p->resize_w, interp_str(p->interp),
                 p->antialias ? ", antialias" : "");
    if (p->crop_h) snprintf(cs, sizeof cs, "centre crop %dx%d, ", p->crop_h, p->crop_w);
    int n = snprintf(buf, len, "%s%s%s, [0,%s], mean %g,%g,%g std %g,%g,%g, %s", rs, cs, p->bgr ? "BGR" : "RGB",
                     p->range == 1.0f ? "1" : "255", (double)p->mean[0], (double)p->mean[1], (double)p->mean[2],
                     (double)p->std[0], (double)p->std[1], (double)p->std[2],
                     p->layout == EV_LAYOUT_NHWC ? "NHWC" : "NCHW");
    return (n > 0 && (size_t)n < len) ? EV_OK : EV_ERR_INVALID_ARG;
}
