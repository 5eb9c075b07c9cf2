/* lib/report/compare.c — `embeval compare` and `--fail-on`: differences
 * between reports, paired bootstrap p-values, thresholds. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report/report_internal.h"

ev_compare_options ev_compare_default_options(void)
{
    ev_compare_options o;
    memset(&o, 0, sizeof o);
    o.bootstrap = 1000;
    return o;
}

/* ---- --fail-on ------------------------------------------------------------------------- */
#define MAX_TERMS 32

typedef struct term {
    char metric[64];
    double limit;                /* signed                                    */
    int percent;
    char text[160];              /* as written                                */
} term;

static const char *const known_eff[] = {"latency_p50", "latency_median", "latency_p90", "latency_p99",
                                        "latency_min", "throughput",     "throughput_ips", "load_ms",
                                        "peak_rss_mib", "size_mib",      "params",      "macs"};

static int known_metric(const char *m)
{
    for (size_t i = 0; i < sizeof known_eff / sizeof known_eff[0]; i++)
        if (!strcmp(m, known_eff[i])) return 1;
    static const char *const q[] = {"map",        "map_at_r", "r_precision", "silhouette", "accuracy",
                                    "linear_probe_accuracy", "nmi", "ari", "knn_1_accuracy"};
    for (size_t i = 0; i < sizeof q / sizeof q[0]; i++)
        if (!strcmp(m, q[i])) return 1;
    int k;
    char tail[16];
    if (sscanf(m, "recall_at_%d%1s", &k, tail) == 1 && k > 0) return 1;
    if (sscanf(m, "precision_at_%d%1s", &k, tail) == 1 && k > 0) return 1;
    if (sscanf(m, "knn_%d_accuracy%1s", &k, tail) == 1 && k > 0) return 1;
    if (sscanf(m, "knn_%d_top5_accuracy%1s", &k, tail) == 1 && k > 0) return 1;
    return 0;
}

static ev_status parse_terms(const char *spec, term *t, int *n, ev_err *e)
{
    *n = 0;
    EV_FAIL_IF(!spec || !*spec, e, EV_ERR_INVALID_ARG, "empty --fail-on");
    const char *p = spec;
    while (*p) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        char buf[128];
        EV_FAIL_IF(len == 0 || len >= sizeof buf, e, EV_ERR_INVALID_ARG, "bad --fail-on term in '%s'", spec);
        EV_FAIL_IF(*n >= MAX_TERMS, e, EV_ERR_INVALID_ARG, "too many --fail-on terms (at most %d)", MAX_TERMS);
        memcpy(buf, p, len);
        buf[len] = 0;
        char *colon = strchr(buf, ':');
        EV_FAIL_IF(!colon, e, EV_ERR_INVALID_ARG, "--fail-on term '%s' must be METRIC:+LIMIT or METRIC:-LIMIT", buf);
        *colon = 0;
        char *lim = colon + 1;
        term *x = &t[*n];
        memset(x, 0, sizeof *x);
        snprintf(x->text, sizeof x->text, "%s:%s", buf, lim);
        EV_FAIL_IF(strlen(buf) >= sizeof x->metric || !known_metric(buf), e, EV_ERR_INVALID_ARG,
                   "--fail-on: unknown metric '%s' (e.g. map, recall_at_1, accuracy, linear_probe_accuracy, "
                   "silhouette, latency_p50, latency_p99, throughput, size_mib, peak_rss_mib, load_ms)",
                   buf);
        memcpy(x->metric, buf, strlen(buf) + 1); /* length checked above */
        EV_FAIL_IF(lim[0] != '+' && lim[0] != '-', e, EV_ERR_INVALID_ARG,
                   "--fail-on term '%s': the limit needs a sign: '-' fails on a drop, '+' on a rise", x->text);
        size_t ll = strlen(lim);
        if (ll > 1 && lim[ll - 1] == '%') {
            x->percent = 1;
            lim[ll - 1] = 0;
        }
        char *ep = NULL;
        double v = strtod(lim, &ep);
        EV_FAIL_IF(!ep || *ep || !isfinite(v) || ep == lim, e, EV_ERR_INVALID_ARG,
                   "--fail-on term '%s': bad number", x->text);
        x->limit = v;
        (*n)++;
        p += len;
        if (*p == ',') p++;
    }
    return EV_OK;
}

ev_status ev_fail_on_validate(const char *spec, char *errbuf, size_t errlen)
{
    ev_err e = {0};
    term t[MAX_TERMS];
    int n;
    ev_status st = parse_terms(spec, t, &n, &e);
    if (st != EV_OK) ev_err_copy(&e, errbuf, errlen);
    return st;
}

/* ---- pairing ------------------------------------------------------------------------------ */
static const cJSON *items_result(const ev_report *r, const char *ds_name, const char *fp, const char *model)
{
    if (!r->items) return NULL;
    const cJSON *d;
    cJSON_ArrayForEach(d, cJSON_GetObjectItemCaseSensitive(r->items, "datasets"))
    {
        if (strcmp(evr_str(d, "name"), ds_name) != 0 || strcmp(evr_str(d, "fingerprint"), fp) != 0) continue;
        const cJSON *x;
        cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(d, "results"))
            if (!strcmp(evr_str(x, "model"), model)) return x;
    }
    return NULL;
}

/* Pair the per-item vectors `key` of two sidecar results by item id and run
 * the paired bootstrap of mean(a - b) (a = res_a). Returns 0 when there is
 * nothing to pair. */
int evr_paired(const cJSON *res_a, const cJSON *res_b, const char *key, int resamples, uint64_t seed,
               ev_paired_result *out, ev_paired_result *reverse)
{
    if (!res_a || !res_b || resamples <= 0) return 0;
    const cJSON *oi = cJSON_GetObjectItemCaseSensitive(res_b, "items"),
                *ni = cJSON_GetObjectItemCaseSensitive(res_a, "items");
    const cJSON *ov = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(res_b, "vectors"), key),
                *nv = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(res_a, "vectors"), key);
    int no = cJSON_GetArraySize(oi), nn = cJSON_GetArraySize(ni);
    if (no == 0 || nn == 0 || cJSON_GetArraySize(ov) != no || cJSON_GetArraySize(nv) != nn) return 0;
    /* item id -> position in b (ids are selection indices: bounded by the
     * selection size, but treat them as untrusted) */
    int64_t maxid = -1;
    const cJSON *x;
    cJSON_ArrayForEach(x, oi)
    {
        if (!cJSON_IsNumber(x) || x->valuedouble < 0 || x->valuedouble > 1e8) return 0;
        if ((int64_t)x->valuedouble > maxid) maxid = (int64_t)x->valuedouble;
    }
    int *pos = malloc((size_t)(maxid + 1) * sizeof *pos);
    double *a = malloc((size_t)nn * sizeof *a), *b = malloc((size_t)nn * sizeof *b);
    int ok = 0;
    if (!pos || !a || !b) goto out;
    for (int64_t i = 0; i <= maxid; i++) pos[i] = -1;
    int i = 0;
    cJSON_ArrayForEach(x, oi) pos[(int64_t)x->valuedouble] = i++;
    int64_t n = 0;
    const cJSON *nx = ni ? ni->child : NULL, *nvx = nv ? nv->child : NULL;
    for (; nx && nvx; nx = nx->next, nvx = nvx->next) {
        if (!cJSON_IsNumber(nx) || nx->valuedouble < 0 || nx->valuedouble > (double)maxid) continue;
        int k = pos[(int64_t)nx->valuedouble];
        if (k < 0) continue;
        const cJSON *ovx = cJSON_GetArrayItem(ov, k);
        a[n] = cJSON_IsNumber(nvx) ? nvx->valuedouble : NAN;
        b[n] = cJSON_IsNumber(ovx) ? ovx->valuedouble : NAN;
        n++;
    }
    if (n < 2) goto out;
    if (ev_paired_bootstrap(a, b, n, resamples, seed, out) != EV_OK) goto out;
    if (reverse && ev_paired_bootstrap(b, a, n, resamples, seed, reverse) != EV_OK) goto out;
    ok = 1;
out:
    free(pos);
    free(a);
    free(b);
    return ok;
}

/* Two-sided paired bootstrap p-value of mean(new - old) over the items both
 * have, or NaN. */
static double paired_p(const cJSON *old_r, const cJSON *new_r, const char *key, int resamples, uint64_t seed)
{
    ev_paired_result r1, r2;
    if (!evr_paired(new_r, old_r, key, resamples, seed, &r1, &r2)) return NAN;
    double p = 2.0 * (r1.p_value < r2.p_value ? r1.p_value : r2.p_value);
    return p > 1 ? 1 : p;
}

/* ---- compare ------------------------------------------------------------------------------- */
static const cJSON *find_named(const cJSON *arr, const char *name, int *idx)
{
    int i = 0;
    const cJSON *x;
    cJSON_ArrayForEach(x, arr)
    {
        if (!strcmp(evr_str(x, "name"), name)) {
            if (idx) *idx = i;
            return x;
        }
        i++;
    }
    return NULL;
}

static void num_text(double v, const char *metric, char *b, size_t n)
{
    if (!isfinite(v)) snprintf(b, n, "n/a");
    else if (!strcmp(metric, "params")) snprintf(b, n, "%.0f", v);
    else if (!strcmp(metric, "macs")) snprintf(b, n, "%.4g", v);
    else if (fabs(v) >= 100) snprintf(b, n, "%.1f", v);
    else snprintf(b, n, "%.4f", v);
}

static void clean(const char *s, char *buf, size_t len)
{
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p && o + 1 < len; p++)
        buf[o++] = (*p < 0x20 || *p == 0x7f) ? ' ' : (char)*p;
    buf[o] = 0;
}

ev_status ev_report_compare(const ev_report *const *reports, const char *const *names, int n,
                            const ev_compare_options *opt, char **text_out, int *crossed, char *errbuf,
                            size_t errlen)
{
    ev_err e = {0};
    if (errbuf && errlen) errbuf[0] = 0;
    if (!reports || n < 2 || !text_out) {
        ev_err_set(&e, EV_ERR_INVALID_ARG, "compare needs at least two reports");
        ev_err_copy(&e, errbuf, errlen);
        return e.code;
    }
    for (int i = 0; i < n; i++)
        if (!reports[i] || !reports[i]->doc) {
            ev_err_set(&e, EV_ERR_INVALID_ARG, "compare: report %d is missing", i);
            ev_err_copy(&e, errbuf, errlen);
            return e.code;
        }
    ev_compare_options o = opt ? *opt : ev_compare_default_options();
    term terms[MAX_TERMS];
    int nt = 0;
    if (o.fail_on) {
        ev_status st = parse_terms(o.fail_on, terms, &nt, &e);
        if (st != EV_OK) {
            ev_err_copy(&e, errbuf, errlen);
            return st;
        }
    }
    *text_out = NULL;
    if (crossed) *crossed = 0;
    int n_crossed = 0;
    ev_buf b;
    ev_buf_init(&b, 0);
    ev_buf_puts(&b, "");
    cJSON *jroot = o.json ? cJSON_CreateObject() : NULL;
    cJSON *jcmp = jroot ? cJSON_AddArrayToObject(jroot, "comparisons") : NULL;
    cJSON *jthr = jroot ? cJSON_AddArrayToObject(jroot, "thresholds") : NULL;
    const ev_report *base = reports[0];
    char bname[512];
    clean(names && names[0] ? names[0] : "report 1", bname, sizeof bname);
    if (jroot) cJSON_AddStringToObject(jroot, "baseline", names && names[0] ? names[0] : "report 1");

    static const char *const qkeys[] = {"map", "recall_at_1", "recall_at_5", "precision_at_5", "silhouette",
                                        "accuracy", "linear_probe_accuracy"};
    static const char *const ekeys[] = {"latency_p50", "latency_p99", "throughput", "load_ms", "peak_rss_mib",
                                        "size_mib"};
    const cJSON *bmodels = cJSON_GetObjectItemCaseSensitive(base->doc, "models");
    for (int j = 1; j < n; j++) {
        const ev_report *cur = reports[j];
        char cname[512];
        char fallback[32];
        snprintf(fallback, sizeof fallback, "report %d", j + 1);
        clean(names && names[j] ? names[j] : fallback, cname, sizeof cname);
        ev_buf_printf(&b, "\n%s  vs  baseline %s\n", cname, bname);
        cJSON *jc = NULL, *jds = NULL;
        if (jcmp) {
            jc = cJSON_CreateObject();
            cJSON_AddStringToObject(jc, "report", names && names[j] ? names[j] : fallback);
            jds = cJSON_AddArrayToObject(jc, "datasets");
            cJSON_AddItemToArray(jcmp, jc);
        }
        const cJSON *cmodels = cJSON_GetObjectItemCaseSensitive(cur->doc, "models");
        const cJSON *cds;
        cJSON_ArrayForEach(cds, cJSON_GetObjectItemCaseSensitive(cur->doc, "datasets"))
        {
            const char *dname = evr_str(cds, "name");
            const cJSON *bds = find_named(cJSON_GetObjectItemCaseSensitive(base->doc, "datasets"), dname, NULL);
            char dn[512];
            clean(dname, dn, sizeof dn);
            if (!bds) {
                ev_buf_printf(&b, "\n  dataset %s: not in the baseline\n", dn);
                continue;
            }
            int same_fp = !strcmp(evr_str(bds, "fingerprint"), evr_str(cds, "fingerprint")) &&
                          evr_str(cds, "fingerprint")[0];
            int paired = same_fp && base->items && cur->items;
            ev_buf_printf(&b, "\n  dataset %s: %s\n", dn,
                          paired    ? "same items (fingerprint match): p = two-sided paired bootstrap p-value"
                          : same_fp ? "same items, but a per-item sidecar is missing: no p-values"
                                    : "different items or protocol (fingerprints differ): deltas only, no p-values");
            ev_buf_printf(&b, "  %-24s %-22s %12s %12s %12s %9s %8s\n", "model", "metric", "baseline", "this",
                          "delta", "delta %", "p");
            cJSON *jd = NULL, *jms = NULL;
            if (jds) {
                jd = cJSON_CreateObject();
                cJSON_AddStringToObject(jd, "name", dname);
                cJSON_AddBoolToObject(jd, "same_items", same_fp);
                cJSON_AddBoolToObject(jd, "paired", paired);
                jms = cJSON_AddArrayToObject(jd, "models");
                cJSON_AddItemToArray(jds, jd);
            }
            int nm = cJSON_GetArraySize(cmodels);
            for (int m = 0; m < nm; m++) {
                const cJSON *cm = cJSON_GetArrayItem(cmodels, m);
                const cJSON *cres = evr_at(cds, "results", m);
                const char *mname = evr_str(cm, "name");
                int bi = -1;
                const cJSON *bm = find_named(bmodels, mname, &bi);
                char mn[256];
                clean(mname, mn, sizeof mn);
                if (!bm) {
                    ev_buf_printf(&b, "  %-24s (not in the baseline)\n", mn);
                    continue;
                }
                const cJSON *bres = evr_at(bds, "results", bi);
                const cJSON *bir = paired ? items_result(base, dname, evr_str(bds, "fingerprint"), mname) : NULL;
                const cJSON *cir = paired ? items_result(cur, dname, evr_str(cds, "fingerprint"), mname) : NULL;
                cJSON *jm = NULL, *jmv = NULL;
                if (jms) {
                    jm = cJSON_CreateObject();
                    cJSON_AddStringToObject(jm, "model", mname);
                    cJSON_AddStringToObject(jm, "baseline_status", evr_str(bres, "status"));
                    cJSON_AddStringToObject(jm, "status", evr_str(cres, "status"));
                    jmv = cJSON_AddObjectToObject(jm, "metrics");
                    cJSON_AddItemToArray(jms, jm);
                }
                int first_row = 1;
                for (int q = 0; q < 2; q++) {
                    const char *const *keys = q == 0 ? qkeys : ekeys;
                    int nk = q == 0 ? (int)(sizeof qkeys / sizeof qkeys[0]) : (int)(sizeof ekeys / sizeof ekeys[0]);
                    for (int k = 0; k < nk; k++) {
                        int hb, isq;
                        double vb = evr_metric_value(bres, bm, keys[k], &hb, &isq);
                        double vc = evr_metric_value(cres, cm, keys[k], &hb, &isq);
                        if (!isfinite(vb) && !isfinite(vc)) continue;
                        double d = vc - vb, rel = isfinite(d) && vb != 0 ? 100.0 * d / fabs(vb) : NAN;
                        double p = NAN;
                        if (isq && bir && cir) {
                            char vkey[64];
                            if (!strcmp(keys[k], "accuracy"))
                                evr_knn_key(cJSON_GetObjectItemCaseSensitive(cres, "metrics"), vkey, sizeof vkey);
                            else snprintf(vkey, sizeof vkey, "%s", keys[k]);
                            p = paired_p(bir, cir, vkey, o.bootstrap, o.seed);
                        }
                        char s1[32], s2[32], s3[32], s4[32], s5[32];
                        num_text(vb, keys[k], s1, sizeof s1);
                        num_text(vc, keys[k], s2, sizeof s2);
                        if (isfinite(d)) snprintf(s3, sizeof s3, "%+.4g", d);
                        else snprintf(s3, sizeof s3, "n/a");
                        if (isfinite(rel)) snprintf(s4, sizeof s4, "%+.1f%%", rel);
                        else s4[0] = 0;
                        if (isfinite(p)) snprintf(s5, sizeof s5, p < 0.001 ? "<0.001" : "%.3f", p);
                        else s5[0] = 0;
                        ev_buf_printf(&b, "  %-24s %-22s %12s %12s %12s %9s %8s\n", first_row ? mn : "", keys[k], s1,
                                      s2, s3, s4, s5);
                        first_row = 0;
                        if (jmv) {
                            cJSON *x = cJSON_AddObjectToObject(jmv, keys[k]);
                            evr_add_num(x, "baseline", vb);
                            evr_add_num(x, "value", vc);
                            evr_add_num(x, "delta", d);
                            evr_add_num(x, "delta_percent", rel);
                            evr_add_num(x, "p_value", p);
                        }
                    }
                }
                if (first_row)
                    ev_buf_printf(&b, "  %-24s baseline %s, this %s\n", mn, evr_str(bres, "status"),
                                  evr_str(cres, "status"));
                /* thresholds */
                for (int t = 0; t < nt; t++) {
                    int hb, isq;
                    double vb = evr_metric_value(bres, bm, terms[t].metric, &hb, &isq);
                    double vc = evr_metric_value(cres, cm, terms[t].metric, &hb, &isq);
                    if (!isfinite(vb)) continue; /* nothing to hold it to */
                    int cross = 0;
                    double d = vc - vb, amount = d;
                    char why[256] = "";
                    if (strcmp(evr_str(cres, "status"), "ok") != 0 && isq) {
                        cross = 1;
                        snprintf(why, sizeof why, "the model failed");
                    } else if (!isfinite(vc)) {
                        cross = 1;
                        snprintf(why, sizeof why, "not available in this report");
                    } else {
                        if (terms[t].percent) amount = vb != 0 ? 100.0 * d / fabs(vb) : (d == 0 ? 0 : INFINITY * d);
                        cross = terms[t].limit < 0 ? amount < terms[t].limit : amount > terms[t].limit;
                        snprintf(why, sizeof why, "%.6g -> %.6g (%+.4g%s)", vb, vc, amount,
                                 terms[t].percent ? "%" : "");
                    }
                    if (cross) {
                        n_crossed++;
                        char dn2[128];
                        clean(dname, dn2, sizeof dn2);
                        ev_buf_printf(&b, "  THRESHOLD CROSSED %s: %s on %s: %s\n", terms[t].text, mn, dn2, why);
                    }
                    if (jthr) {
                        cJSON *x = cJSON_CreateObject();
                        cJSON_AddStringToObject(x, "report", names && names[j] ? names[j] : fallback);
                        cJSON_AddStringToObject(x, "dataset", dname);
                        cJSON_AddStringToObject(x, "model", mname);
                        cJSON_AddStringToObject(x, "term", terms[t].text);
                        evr_add_num(x, "baseline", vb);
                        evr_add_num(x, "value", vc);
                        evr_add_num(x, "change", isfinite(vc) ? amount : NAN);
                        cJSON_AddBoolToObject(x, "crossed", cross);
                        cJSON_AddItemToArray(jthr, x);
                    }
                }
            }
        }
        /* baseline models missing from this report */
        const cJSON *bm;
        cJSON_ArrayForEach(bm, bmodels)
        {
            if (!find_named(cmodels, evr_str(bm, "name"), NULL)) {
                char mn[256];
                clean(evr_str(bm, "name"), mn, sizeof mn);
                ev_buf_printf(&b, "  (baseline model %s is not in %s)\n", mn, cname);
            }
        }
    }
    if (nt) {
        if (n_crossed) ev_buf_printf(&b, "\n%d threshold%s crossed (--fail-on %s)\n", n_crossed,
                                     n_crossed == 1 ? "" : "s", o.fail_on);
        else ev_buf_printf(&b, "\nno threshold crossed (--fail-on %s)\n", o.fail_on);
    }
    if (crossed) *crossed = n_crossed;
    if (jroot) {
        cJSON_AddNumberToObject(jroot, "crossed", n_crossed);
        char *s = cJSON_Print(jroot);
        cJSON_Delete(jroot);
        ev_buf_free(&b);
        if (!s) {
            ev_err_set(&e, EV_ERR_NOMEM, "out of memory");
            ev_err_copy(&e, errbuf, errlen);
            return e.code;
        }
        *text_out = s;
        return EV_OK;
    }
    if (b.failed) {
        ev_buf_free(&b);
        ev_err_set(&e, EV_ERR_NOMEM, "out of memory");
        ev_err_copy(&e, errbuf, errlen);
        return e.code;
    }
    *text_out = b.data;
    return EV_OK;
}
