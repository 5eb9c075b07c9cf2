/* lib/report/report.c — the report handle: load, parse, serialise, write the
 * output files. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "report/html.h"
#include "report/report_internal.h"

void ev_report_free(ev_report *r)
{
    if (!r) return;
    cJSON_Delete(r->doc);
    cJSON_Delete(r->items);
    free(r);
}

static ev_status check_doc(const cJSON *doc, const char *name, ev_err *e)
{
    EV_FAIL_IF(!cJSON_IsObject(doc), e, EV_ERR_FORMAT, "not a JSON object (%s)", name);
    EV_FAIL_IF(strcmp(evr_str(doc, "schema"), EVR_SCHEMA) != 0, e, EV_ERR_FORMAT,
               "not an embeval report: \"schema\" is not \"%s\" (%s)", EVR_SCHEMA, name);
    double v = evr_num(doc, "schema_version");
    EV_FAIL_IF(!isfinite(v) || v < 1 || v != floor(v), e, EV_ERR_FORMAT, "bad \"schema_version\" (%s)", name);
    EV_FAIL_IF(v > EV_REPORT_SCHEMA_VERSION, e, EV_ERR_UNSUPPORTED,
               "report schema version %d is newer than this embeval reads (%d) (%s)", (int)v,
               EV_REPORT_SCHEMA_VERSION, name);
    const cJSON *models = cJSON_GetObjectItemCaseSensitive(doc, "models");
    const cJSON *datasets = cJSON_GetObjectItemCaseSensitive(doc, "datasets");
    EV_FAIL_IF(!cJSON_IsArray(models) || !cJSON_IsArray(datasets), e, EV_ERR_FORMAT,
               "\"models\" and \"datasets\" must be arrays (%s)", name);
    int nm = cJSON_GetArraySize(models);
    const cJSON *d;
    cJSON_ArrayForEach(d, datasets)
    {
        const cJSON *res = cJSON_GetObjectItemCaseSensitive(d, "results");
        EV_FAIL_IF(!cJSON_IsArray(res) || cJSON_GetArraySize(res) != nm, e, EV_ERR_FORMAT,
                   "dataset \"%s\": \"results\" must have one entry per model (%s)", evr_str(d, "name"), name);
    }
    return EV_OK;
}

ev_status ev_report_parse(const char *json, size_t len, const char *name, ev_report **out, char *errbuf,
                          size_t errlen)
{
    ev_err e = {0};
    if (!json || !out) {
        ev_err_set(&e, EV_ERR_INVALID_ARG, "ev_report_parse: invalid arguments");
        ev_err_copy(&e, errbuf, errlen);
        return e.code;
    }
    *out = NULL;
    if (!name) name = "report";
    const char *end = NULL;
    cJSON *doc = cJSON_ParseWithLengthOpts(json, len, &end, 0);
    if (!doc) {
        size_t off = end && end >= json ? (size_t)(end - json) : 0;
        int line = 1;
        for (size_t i = 0; i < off && i < len; i++) line += json[i] == '\n';
        ev_err_set(&e, EV_ERR_FORMAT, "invalid JSON near line %d (%s)", line, name);
        ev_err_copy(&e, errbuf, errlen);
        return e.code;
    }
    ev_status st = check_doc(doc, name, &e);
    if (st != EV_OK) {
        cJSON_Delete(doc);
        ev_err_copy(&e, errbuf, errlen);
        return st;
    }
    ev_report *r = calloc(1, sizeof *r);
    if (!r) {
        cJSON_Delete(doc);
        ev_err_set(&e, EV_ERR_NOMEM, "out of memory");
        ev_err_copy(&e, errbuf, errlen);
        return e.code;
    }
    r->doc = doc;
    *out = r;
    return EV_OK;
}

ev_status ev_report_load(const char *path, ev_report **out, char *errbuf, size_t errlen)
{
    ev_err e = {0};
    char *text = NULL;
    size_t len = 0;
    if (!path || !out) {
        ev_err_set(&e, EV_ERR_INVALID_ARG, "ev_report_load: invalid arguments");
        ev_err_copy(&e, errbuf, errlen);
        return e.code;
    }
    ev_status st = ev_read_file(path, EVR_MAX_REPORT_BYTES, &text, &len, &e);
    if (st != EV_OK) {
        ev_err_copy(&e, errbuf, errlen);
        return st;
    }
    st = ev_report_parse(text, len, path, out, errbuf, errlen);
    free(text);
    if (st != EV_OK) return st;
    /* the per-item sidecar, next to the report */
    const char *items = evr_str((*out)->doc, "items_file");
    if (items[0] && !strchr(items, '/')) {
        const char *sl = strrchr(path, '/');
        size_t dl = sl ? (size_t)(sl - path) + 1 : 0;
        size_t n = dl + strlen(items) + 1;
        char *ip = malloc(n);
        if (ip) {
            snprintf(ip, n, "%.*s%s", (int)dl, path, items);
            if (ev_read_file(ip, EVR_MAX_REPORT_BYTES, &text, &len, NULL) == EV_OK) {
                cJSON *it = cJSON_ParseWithLength(text, len);
                if (it && !strcmp(evr_str(it, "schema"), EVR_ITEMS_SCHEMA) &&
                    cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(it, "datasets")))
                    (*out)->items = it;
                else
                    cJSON_Delete(it);
                free(text);
            }
            free(ip);
        }
    }
    return EV_OK;
}

char *ev_report_json(const ev_report *r)
{
    if (!r || !r->doc) return NULL;
    return cJSON_Print(r->doc);
}

void ev_report_counts_get(const ev_report *r, ev_report_counts *out)
{
    memset(out, 0, sizeof *out);
    if (!r || !r->doc) return;
    const cJSON *models = cJSON_GetObjectItemCaseSensitive(r->doc, "models");
    const cJSON *datasets = cJSON_GetObjectItemCaseSensitive(r->doc, "datasets");
    out->models = cJSON_GetArraySize(models);
    out->datasets = cJSON_GetArraySize(datasets);
    for (int m = 0; m < out->models; m++) {
        const cJSON *mj = cJSON_GetArrayItem(models, m);
        int failed = strcmp(evr_str(mj, "status"), "ok") != 0;
        for (int d = 0; d < out->datasets; d++) {
            const cJSON *res = evr_at(cJSON_GetArrayItem(datasets, d), "results", m);
            if (!strcmp(evr_str(res, "status"), "ok")) out->results_ok++;
            else {
                out->results_failed++;
                failed = 1;
            }
        }
        out->models_failed += failed;
        out->random_init += evr_bool(mj, "random_init") == 1;
    }
}

static ev_status mkdir_p(const char *dir, ev_err *e)
{
    char buf[4096];
    size_t n = strlen(dir);
    EV_FAIL_IF(n == 0 || n >= sizeof buf, e, EV_ERR_INVALID_ARG, "bad output directory '%s'", dir);
    memcpy(buf, dir, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] != '/' && buf[i] != 0) continue;
        char c = buf[i];
        buf[i] = 0;
        if (mkdir(buf, 0777) != 0 && errno != EEXIST)
            return ev_err_set(e, EV_ERR_IO, "cannot create directory: %s (%s)", strerror(errno), buf);
        buf[i] = c;
    }
    struct stat sb;
    EV_FAIL_IF(stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode), e, EV_ERR_IO, "not a directory (%s)", dir);
    return EV_OK;
}

ev_status ev_report_write(const ev_report *r, const char *dir, unsigned what, char *errbuf, size_t errlen)
{
    ev_err e = {0};
    if (!r || !r->doc || !dir) {
        ev_err_set(&e, EV_ERR_INVALID_ARG, "ev_report_write: invalid arguments");
        ev_err_copy(&e, errbuf, errlen);
        return e.code;
    }
    ev_status st = mkdir_p(dir, &e), first = EV_OK;
    ev_err first_err = {0};
    if (st != EV_OK) {
        ev_err_copy(&e, errbuf, errlen);
        return st;
    }
    char *text = NULL;
#define KEEP(expr)                                                                                 \
    do {                                                                                           \
        ev_status s_ = (expr);                                                                     \
        if (s_ != EV_OK && first == EV_OK) {                                                       \
            first = s_;                                                                            \
            first_err = e;                                                                         \
        }                                                                                          \
    } while (0)
    if ((what & EV_REPORT_OUT_ITEMS) && r->items) {
        text = cJSON_PrintUnformatted(r->items);
        KEEP(text ? evr_write_text(dir, EVR_ITEMS_FILE, text, &e) : ev_err_set(&e, EV_ERR_NOMEM, "out of memory"));
        free(text);
    }
    char *json = cJSON_Print(r->doc);
    if (!json) KEEP(ev_err_set(&e, EV_ERR_NOMEM, "out of memory"));
    if ((what & EV_REPORT_OUT_JSON) && json) KEEP(evr_write_text(dir, "report.json", json, &e));
    if (what & EV_REPORT_OUT_MD) {
        text = ev_report_format_markdown(r);
        KEEP(text ? evr_write_text(dir, "report.md", text, &e) : ev_err_set(&e, EV_ERR_NOMEM, "out of memory"));
        free(text);
    }
    if (what & EV_REPORT_OUT_CSV) {
        text = ev_report_format_csv(r);
        KEEP(text ? evr_write_text(dir, "report.csv", text, &e) : ev_err_set(&e, EV_ERR_NOMEM, "out of memory"));
        free(text);
    }
    if ((what & EV_REPORT_OUT_HTML) && json) KEEP(ev_report_write_html_json(r->doc, dir, &e));
#undef KEEP
    free(json);
    if (first != EV_OK) ev_err_copy(&first_err, errbuf, errlen);
    return first;
}
