/* lib/report/format.c — renderings of the report document: the terminal
 * table, Markdown and CSV. Everything is computed from the JSON document, so
 * a report read back from disk renders exactly like a fresh one. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report/report_internal.h"

#define RANDOM_MARK "\xe2\x80\xa0" /* U+2020 dagger */

/* ---- small helpers ---------------------------------------------------------------- */
static int display_width(const char *s)
{
    int w = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) w += (*p & 0xc0) != 0x80;
    return w;
}

/* Copy s into buf replacing control characters (terminal safety). */
static void clean(const char *s, char *buf, size_t len)
{
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p && o + 1 < len; p++)
        buf[o++] = (*p < 0x20 || *p == 0x7f) ? ' ' : (char)*p;
    buf[o] = 0;
}

static void fmt_frac(double v, char *b, size_t n)
{
    if (isfinite(v)) snprintf(b, n, "%.3f", v);
    else snprintf(b, n, "n/a");
}

static void fmt_ms(double v, char *b, size_t n)
{
    if (!isfinite(v)) snprintf(b, n, "n/a");
    else if (v < 1) snprintf(b, n, "%.3f", v);
    else if (v < 100) snprintf(b, n, "%.2f", v);
    else snprintf(b, n, "%.1f", v);
}

static void fmt_mib(double v, char *b, size_t n)
{
    if (!isfinite(v)) snprintf(b, n, "n/a");
    else if (v < 10) snprintf(b, n, "%.2f", v);
    else snprintf(b, n, "%.1f", v);
}

static void fmt_count(double v, char *b, size_t n)
{
    if (!isfinite(v)) {
        snprintf(b, n, "n/a");
        return;
    }
    char t[32];
    snprintf(t, sizeof t, "%.0f", v);
    size_t l = strlen(t), o = 0;
    for (size_t i = 0; i < l && o + 2 < n; i++) {
        b[o++] = t[i];
        size_t rest = l - i - 1;
        if (rest && rest % 3 == 0 && t[i] != '-' && o + 2 < n) b[o++] = ',';
    }
    b[o] = 0;
}

static const char *yesno(int v)
{
    return v == 1 ? "yes" : v == 0 ? "no" : "unknown";
}

/* ---- a text table ---------------------------------------------------------------------- */
#define MAXCOL 16

typedef struct table {
    int ncol, nrow, cap;
    const char *head[MAXCOL];
    int right[MAXCOL];
    char **cell;                 /* nrow x ncol, malloc'd strings (NULL = "")   */
    char **full;                 /* per row: a full-width line instead, or NULL */
} table;

static void t_init(table *t, int ncol, const char *const *head, const int *right)
{
    memset(t, 0, sizeof *t);
    t->ncol = ncol;
    for (int i = 0; i < ncol; i++) {
        t->head[i] = head[i];
        t->right[i] = right[i];
    }
}

static int t_row(table *t)
{
    if (t->nrow == t->cap) {
        int c = t->cap ? t->cap * 2 : 16;
        char **nc = realloc(t->cell, (size_t)c * (size_t)t->ncol * sizeof *nc);
        if (!nc) return -1;
        t->cell = nc;
        char **nf = realloc(t->full, (size_t)c * sizeof *nf);
        if (!nf) return -1;
        t->full = nf;
        t->cap = c;
    }
    for (int i = 0; i < t->ncol; i++) t->cell[t->nrow * t->ncol + i] = NULL;
    t->full[t->nrow] = NULL;
    return t->nrow++;
}

static void t_set(table *t, int r, int c, const char *s)
{
    if (r < 0) return;
    free(t->cell[r * t->ncol + c]);
    t->cell[r * t->ncol + c] = ev_strdup(s ? s : "");
}

static void t_free(table *t)
{
    for (int i = 0; i < t->nrow * t->ncol; i++) free(t->cell[i]);
    for (int i = 0; i < t->nrow; i++) free(t->full[i]);
    free(t->cell);
    free(t->full);
}

static void pad(ev_buf *b, int n)
{
    for (int i = 0; i < n; i++) ev_buf_append(b, " ", 1);
}

static void t_print_text(const table *t, ev_buf *b)
{
    int w[MAXCOL];
    for (int c = 0; c < t->ncol; c++) {
        w[c] = display_width(t->head[c]);
        for (int r = 0; r < t->nrow; r++) {
            if (t->full[r] && c > 0) continue;
            const char *s = t->cell[r * t->ncol + c];
            int l = s ? display_width(s) : 0;
            if (l > w[c]) w[c] = l;
        }
    }
    for (int c = 0; c < t->ncol; c++) {
        int l = display_width(t->head[c]);
        if (c) ev_buf_puts(b, "  ");
        if (t->right[c]) pad(b, w[c] - l);
        ev_buf_puts(b, t->head[c]);
        if (!t->right[c] && c + 1 < t->ncol) pad(b, w[c] - l);
    }
    ev_buf_puts(b, "\n");
    int total = 0;
    for (int c = 0; c < t->ncol; c++) total += w[c] + (c ? 2 : 0);
    for (int i = 0; i < total; i++) ev_buf_puts(b, "-");
    ev_buf_puts(b, "\n");
    for (int r = 0; r < t->nrow; r++) {
        if (t->full[r]) {
            const char *s0 = t->cell[r * t->ncol] ? t->cell[r * t->ncol] : "";
            ev_buf_puts(b, s0);
            pad(b, w[0] - display_width(s0) + 2);
            ev_buf_puts(b, t->full[r]);
            ev_buf_puts(b, "\n");
            continue;
        }
        for (int c = 0; c < t->ncol; c++) {
            const char *s = t->cell[r * t->ncol + c] ? t->cell[r * t->ncol + c] : "";
            int l = display_width(s);
            if (c) ev_buf_puts(b, "  ");
            if (t->right[c]) pad(b, w[c] - l);
            ev_buf_puts(b, s);
            if (!t->right[c] && c + 1 < t->ncol) pad(b, w[c] - l);
        }
        ev_buf_puts(b, "\n");
    }
}

/* Markdown cell text: escape what Markdown or inline HTML would interpret. */
static void md_escape(ev_buf *b, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '|': ev_buf_puts(b, "\\|"); break;
        case '<': ev_buf_puts(b, "&lt;"); break;
        case '>': ev_buf_puts(b, "&gt;"); break;
        case '&': ev_buf_puts(b, "&amp;"); break;
        case '\\': case '*': case '_': case '`': case '[': case ']': case '#': case '~':
            ev_buf_append(b, "\\", 1);
            ev_buf_append(b, p, 1);
            break;
        default:
            if (*p < 0x20 || *p == 0x7f) ev_buf_puts(b, " ");
            else ev_buf_append(b, p, 1);
        }
    }
}

static void t_print_md(const table *t, ev_buf *b)
{
    ev_buf_puts(b, "|");
    for (int c = 0; c < t->ncol; c++) {
        ev_buf_puts(b, " ");
        md_escape(b, t->head[c]);
        ev_buf_puts(b, " |");
    }
    ev_buf_puts(b, "\n|");
    for (int c = 0; c < t->ncol; c++) ev_buf_puts(b, t->right[c] ? "---:|" : "---|");
    ev_buf_puts(b, "\n");
    for (int r = 0; r < t->nrow; r++) {
        ev_buf_puts(b, "|");
        for (int c = 0; c < t->ncol; c++) {
            const char *s = t->cell[r * t->ncol + c];
            ev_buf_puts(b, " ");
            md_escape(b, s ? s : "");
            ev_buf_puts(b, " |");
        }
        ev_buf_puts(b, "\n");
    }
}

/* ---- the main table --------------------------------------------------------------------- */
typedef struct order {
    int m;
    double rank;
} order;

static int cmp_order(const void *a, const void *b)
{
    const order *x = a, *y = b;
    int fx = !isfinite(x->rank), fy = !isfinite(y->rank);
    if (fx != fy) return fx - fy;
    if (!fx && x->rank != y->rank) return x->rank < y->rank ? -1 : 1;
    return x->m - y->m;
}

/* Models of dataset d ordered by rank (unranked and failed last). */
static order *ranked(const cJSON *ds, int nm)
{
    order *o = calloc((size_t)(nm > 0 ? nm : 1), sizeof *o);
    if (!o) return NULL;
    for (int m = 0; m < nm; m++) o[m] = (order){m, evr_num(evr_at(ds, "results", m), "rank")};
    qsort(o, (size_t)nm, sizeof *o, cmp_order);
    return o;
}

static void model_label(const cJSON *mod, char *buf, size_t len)
{
    char nm[256];
    clean(evr_str(mod, "name"), nm, sizeof nm);
    snprintf(buf, len, "%s%s", nm, evr_bool(mod, "random_init") == 1 ? " " RANDOM_MARK : "");
}

static void main_table(const cJSON *doc, const cJSON *ds, table *t)
{
    static const char *const head[] = {"Model",    "mAP",        "R@1",          "R@5",       "P@5",
                                       "Silhouette", "Accuracy", "Linear probe", "Latency ms", "Size MiB",
                                       "License",  "Runs locally"};
    static const int right[] = {0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0};
    t_init(t, 12, head, right);
    const cJSON *models = cJSON_GetObjectItemCaseSensitive(doc, "models");
    int nm = cJSON_GetArraySize(models);
    order *o = ranked(ds, nm);
    if (!o) return;
    char knn[64];
    for (int i = 0; i < nm; i++) {
        int m = o[i].m;
        const cJSON *mod = cJSON_GetArrayItem(models, m), *res = evr_at(ds, "results", m);
        const cJSON *mx = cJSON_GetObjectItemCaseSensitive(res, "metrics");
        int r = t_row(t);
        if (r < 0) break;
        char b[512];
        model_label(mod, b, sizeof b);
        t_set(t, r, 0, b);
        if (strcmp(evr_str(res, "status"), "ok") != 0) {
            char e[400];
            clean(evr_str(res, "error"), e, sizeof e);
            snprintf(b, sizeof b, "FAILED (%s): %s", evr_str(res, "error_phase"), e);
            t_set(t, r, 1, b);
            for (int c = 2; c < 10; c++) t_set(t, r, c, "");
            t->full[r] = ev_strdup(b); /* text: one line, not a column */
        } else {
            evr_knn_key(mx, knn, sizeof knn);
            const char *keys[] = {"map", "recall_at_1", "recall_at_5", "precision_at_5", "silhouette", knn,
                                  "linear_probe_accuracy"};
            for (int k = 0; k < 7; k++) {
                fmt_frac(evr_num(mx, keys[k]), b, sizeof b);
                t_set(t, r, 1 + k, b);
            }
            fmt_ms(evr_num(mod, "bench.latency_ms.median"), b, sizeof b);
            t_set(t, r, 8, b);
            fmt_mib(evr_num(mod, "bench.size_mib"), b, sizeof b);
            t_set(t, r, 9, b);
        }
        clean(evr_str(mod, "license"), b, sizeof b);
        t_set(t, r, 10, b);
        t_set(t, r, 11, yesno(evr_bool(mod, "runs_locally")));
    }
    free(o);
}

static void dataset_header(const cJSON *ds, ev_buf *b, int md)
{
    char name[512], fmt[64], root[1024];
    clean(evr_str(ds, "name"), name, sizeof name);
    clean(evr_str(ds, "format"), fmt, sizeof fmt);
    clean(evr_str(ds, "root"), root, sizeof root);
    char nq[32], nmem[32];
    fmt_count(evr_num(ds, "n_queries"), nq, sizeof nq);
    fmt_count(evr_num(ds, "n_memory"), nmem, sizeof nmem);
    const cJSON *pr = cJSON_GetObjectItemCaseSensitive(ds, "protocol");
    if (md) {
        ev_buf_puts(b, "## Dataset ");
        md_escape(b, name);
        ev_buf_puts(b, "\n\n");
        ev_buf_puts(b, "`");
        ev_buf_puts(b, fmt);
        ev_buf_puts(b, "` at ");
        md_escape(b, root);
        ev_buf_puts(b, ". ");
    } else {
        ev_buf_printf(b, "%s (%s, %s)\n", name, fmt, root);
    }
    if (!strcmp(evr_str(pr, "knn"), "train-test"))
        ev_buf_printf(b, "%s queries from the %s split; kNN memory and linear-probe training: %s items of the train "
                         "split; %d classes; fingerprint %.12s\n",
                      nq, evr_str(pr, "queries"), nmem, (int)evr_num(ds, "n_classes"), evr_str(ds, "fingerprint"));
    else
        ev_buf_printf(b, "%s items, every metric leave-one-out (no train split, no linear probe); %d classes; "
                         "fingerprint %.12s\n",
                      nq, (int)evr_num(ds, "n_classes"), evr_str(ds, "fingerprint"));
    if (md) ev_buf_puts(b, "\n");
}

static void legend(const cJSON *doc, const cJSON *ds, ev_buf *b, int md)
{
    const cJSON *models = cJSON_GetObjectItemCaseSensitive(doc, "models");
    int any_random = 0;
    const cJSON *m;
    cJSON_ArrayForEach(m, models) any_random |= evr_bool(m, "random_init") == 1;
    double k = evr_num(doc, "settings.knn_k"), temp = evr_num(doc, "settings.knn_temperature");
    const char *pre = md ? "" : "  ";
    ev_buf_printf(b, "%sR@K: hit rate (a relevant item in the top K); P@K: precision in the top K; mAP over the whole "
                     "ranking (leave-one-out among the queries).%s",
                  pre, md ? "  \n" : "\n");
    ev_buf_printf(b, "%sAccuracy: weighted %d-NN top-1 (T = %g)%s; linear probe: logistic regression on frozen "
                     "embeddings. Silhouette: cosine, in [-1, 1]. Latency: batch 1, inference only, median.%s",
                  pre, isfinite(k) ? (int)k : 20, isfinite(temp) ? temp : 0.07,
                  !strcmp(evr_str(cJSON_GetObjectItemCaseSensitive(ds, "protocol"), "knn"), "train-test")
                      ? " with the train items as memory"
                      : ", leave-one-out",
                  md ? "  \n" : "\n");
    if (any_random)
        ev_buf_printf(b, "%s" RANDOM_MARK " random-init weights: efficiency columns are exact for the architecture, "
                         "quality columns are a random-feature baseline.%s",
                      pre, md ? "  \n" : "\n");
    /* latencies measured while other processes took CPU time are inflated:
     * say so next to the table instead of letting the number stand alone */
    double worst = 0;
    const char *worst_name = NULL;
    int n_busy = 0;
    cJSON_ArrayForEach(m, models) {
        double sh = evr_num(m, "bench.other_cpu_share");
        if (isfinite(sh) && sh > 0.1) {
            n_busy++;
            if (sh > worst) {
                worst = sh;
                worst_name = evr_str(m, "name");
            }
        }
    }
    if (n_busy) {
        ev_buf_printf(b, "%sCaution: other processes used up to %.0f%% of the CPUs while latencies were measured "
                         "(%d model%s, worst ",
                      pre, 100.0 * worst, n_busy, n_busy == 1 ? "" : "s");
        if (md) md_escape(b, worst_name ? worst_name : "?");
        else ev_buf_puts(b, worst_name ? worst_name : "?");
        ev_buf_printf(b, "): those latencies are inflated; re-run on an idle machine.%s", md ? "  \n" : "\n");
    }
}

static void choose(const cJSON *doc, const cJSON *ds, ev_buf *b, int md)
{
    const cJSON *ch = cJSON_GetObjectItemCaseSensitive(ds, "choose");
    const cJSON *models = cJSON_GetObjectItemCaseSensitive(doc, "models");
    if (!ch) return;
    ev_buf_puts(b, md ? "### How to choose\n\n" : "How to choose (quality = mAP):\n");
    struct {
        const char *label, *key;
    } rows[] = {{"best quality", "best_quality"}, {"fastest", "fastest"}, {"smallest", "smallest"}};
    for (int i = 0; i < 3; i++) {
        const char *name = evr_str(ch, rows[i].key);
        if (!name[0]) continue;
        int m = -1;
        for (int k = 0; k < cJSON_GetArraySize(models); k++)
            if (!strcmp(evr_str(cJSON_GetArrayItem(models, k), "name"), name)) m = k;
        const cJSON *mod = cJSON_GetArrayItem(models, m), *res = evr_at(ds, "results", m);
        char v1[32], v2[32], v3[32], nm[512];
        fmt_frac(evr_num(res, "metrics.map"), v1, sizeof v1);
        fmt_ms(evr_num(mod, "bench.latency_ms.median"), v2, sizeof v2);
        fmt_mib(evr_num(mod, "bench.size_mib"), v3, sizeof v3);
        model_label(mod, nm, sizeof nm);
        if (md) {
            ev_buf_printf(b, "- **%s**: ", rows[i].label);
            md_escape(b, nm);
            ev_buf_printf(b, " (mAP %s, %s ms, %s MiB)\n", v1, v2, v3);
        } else {
            ev_buf_printf(b, "  %-13s %s (mAP %s, %s ms, %s MiB)\n", rows[i].label, nm, v1, v2, v3);
        }
        const cJSON *bv = cJSON_GetObjectItemCaseSensitive(ch, "best_vs_runner_up");
        if (i == 0 && cJSON_IsObject(bv)) {
            char ru[256];
            clean(evr_str(bv, "runner_up"), ru, sizeof ru);
            const cJSON *ci = cJSON_GetObjectItemCaseSensitive(bv, "ci95");
            double p = evr_num(bv, "p_value");
            char ps[32];
            if (p < 0.001) snprintf(ps, sizeof ps, "< 0.001");
            else snprintf(ps, sizeof ps, "= %.3f", p);
            ev_buf_puts(b, md ? "  - ahead of " : "                ahead of ");
            if (md) md_escape(b, ru);
            else ev_buf_puts(b, ru);
            ev_buf_printf(b, " by %+.3f mAP", evr_num(bv, "diff"));
            if (cJSON_GetArraySize(ci) == 2)
                ev_buf_printf(b, " [%.3f, %.3f]", cJSON_GetArrayItem(ci, 0)->valuedouble,
                              cJSON_GetArrayItem(ci, 1)->valuedouble);
            ev_buf_printf(b, ", paired bootstrap p %s (one-sided)\n", ps);
        }
    }
    const cJSON *par = cJSON_GetObjectItemCaseSensitive(ch, "pareto");
    if (cJSON_GetArraySize(par) > 0) {
        ev_buf_puts(b, md ? "- **quality/latency Pareto set** (faster to better): " : "  Pareto set    ");
        const cJSON *p;
        int first = 1;
        cJSON_ArrayForEach(p, par)
        {
            char nm[512];
            clean(cJSON_IsString(p) ? p->valuestring : "", nm, sizeof nm);
            if (!first) ev_buf_puts(b, md ? " → " : " -> ");
            if (md) md_escape(b, nm);
            else ev_buf_puts(b, nm);
            first = 0;
        }
        ev_buf_puts(b, md ? "\n" : "\n  (no other model is both faster and better on mAP than a member)\n");
    }
    if (md) ev_buf_puts(b, "\n");
}

static void failures(const cJSON *doc, ev_buf *b, int md)
{
    const cJSON *models = cJSON_GetObjectItemCaseSensitive(doc, "models");
    const cJSON *m;
    int any = 0;
    cJSON_ArrayForEach(m, models)
    {
        if (!strcmp(evr_str(m, "status"), "ok")) continue;
        if (!any) ev_buf_puts(b, md ? "## Failed models\n\n" : "Failed models:\n");
        any = 1;
        char nm[256], er[1024];
        clean(evr_str(m, "name"), nm, sizeof nm);
        clean(evr_str(m, "error"), er, sizeof er);
        if (md) {
            ev_buf_puts(b, "- **");
            md_escape(b, nm);
            ev_buf_printf(b, "** (%s): ", evr_str(m, "error_phase"));
            md_escape(b, er);
            ev_buf_puts(b, "\n");
        } else {
            ev_buf_printf(b, "  %s (%s): %s\n", nm, evr_str(m, "error_phase"), er);
        }
    }
    if (any) ev_buf_puts(b, "\n");
}

static void mean_rank(const cJSON *doc, ev_buf *b, int md)
{
    const cJSON *datasets = cJSON_GetObjectItemCaseSensitive(doc, "datasets");
    int nd = cJSON_GetArraySize(datasets);
    if (nd < 2) return;
    const cJSON *mr = cJSON_GetObjectItemCaseSensitive(doc, "mean_rank");
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(mr, "models");
    int nm = cJSON_GetArraySize(arr);
    if (nd > MAXCOL - 2) nd = MAXCOL - 2;
    const char *head[MAXCOL];
    int right[MAXCOL];
    char hb[MAXCOL][64];
    head[0] = "Model";
    right[0] = 0;
    for (int d = 0; d < nd; d++) {
        clean(evr_str(cJSON_GetArrayItem(datasets, d), "name"), hb[d], sizeof hb[d]);
        head[1 + d] = hb[d];
        right[1 + d] = 1;
    }
    head[1 + nd] = "Mean rank";
    right[1 + nd] = 1;
    table t;
    t_init(&t, nd + 2, head, right);
    order *o = calloc((size_t)(nm > 0 ? nm : 1), sizeof *o);
    for (int m = 0; o && m < nm; m++) o[m] = (order){m, evr_num(cJSON_GetArrayItem(arr, m), "mean_rank")};
    if (o) qsort(o, (size_t)nm, sizeof *o, cmp_order);
    for (int i = 0; o && i < nm; i++) {
        const cJSON *e = cJSON_GetArrayItem(arr, o[i].m);
        int r = t_row(&t);
        char v[64];
        model_label(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(doc, "models"), o[i].m), v, sizeof v);
        t_set(&t, r, 0, v);
        for (int d = 0; d < nd; d++) {
            const cJSON *x = evr_at(e, "ranks", d);
            if (cJSON_IsNumber(x)) snprintf(v, sizeof v, "%g", x->valuedouble);
            else snprintf(v, sizeof v, "n/a");
            t_set(&t, r, 1 + d, v);
        }
        double mrv = evr_num(e, "mean_rank");
        if (isfinite(mrv)) snprintf(v, sizeof v, "%.2f", mrv);
        else snprintf(v, sizeof v, "n/a");
        t_set(&t, r, 1 + nd, v);
    }
    free(o);
    ev_buf_printf(b, md ? "## Generalization across datasets\n\nRank by mAP in each dataset (1 = best) and the "
                          "mean rank.\n\n"
                        : "Generalization across %d datasets: rank by mAP (1 = best) and mean rank\n",
                  nd);
    if (md) t_print_md(&t, b);
    else t_print_text(&t, b);
    ev_buf_puts(b, "\n");
    t_free(&t);
}

static void notes(const cJSON *doc, ev_buf *b, int md)
{
    const cJSON *n;
    int any = 0;
    cJSON_ArrayForEach(n, cJSON_GetObjectItemCaseSensitive(doc, "notes"))
    {
        if (!cJSON_IsString(n)) continue;
        if (!any && md) ev_buf_puts(b, "## Notes\n\n");
        any = 1;
        char c[2048];
        clean(n->valuestring, c, sizeof c);
        if (md) {
            ev_buf_puts(b, "- ");
            md_escape(b, c);
            ev_buf_puts(b, "\n");
        } else {
            ev_buf_printf(b, "Note: %s\n", c);
        }
    }
    if (any) ev_buf_puts(b, "\n");
}

char *ev_report_format_table(const ev_report *r, unsigned flags)
{
    (void)flags;
    if (!r || !r->doc) return NULL;
    ev_buf b;
    ev_buf_init(&b, 0);
    const cJSON *doc = r->doc, *ds;
    ev_buf_puts(&b, "");
    cJSON_ArrayForEach(ds, cJSON_GetObjectItemCaseSensitive(doc, "datasets"))
    {
        ev_buf_puts(&b, "\n");
        dataset_header(ds, &b, 0);
        ev_buf_puts(&b, "\n");
        table t;
        main_table(doc, ds, &t);
        t_print_text(&t, &b);
        t_free(&t);
        legend(doc, ds, &b, 0);
        ev_buf_puts(&b, "\n");
        choose(doc, ds, &b, 0);
        ev_buf_puts(&b, "\n");
    }
    mean_rank(doc, &b, 0);
    failures(doc, &b, 0);
    if (b.failed) {
        ev_buf_free(&b);
        return NULL;
    }
    return b.data;
}

/* ---- Markdown ------------------------------------------------------------------------------ */
static void ci_cell(const cJSON *mx, const char *key, char *buf, size_t len)
{
    double v = evr_num(mx, key);
    const cJSON *ci = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(mx, "ci95"), key);
    if (!isfinite(v)) snprintf(buf, len, "n/a");
    else if (cJSON_GetArraySize(ci) == 2 && cJSON_IsNumber(cJSON_GetArrayItem(ci, 0)))
        snprintf(buf, len, "%.3f [%.3f, %.3f]", v, cJSON_GetArrayItem(ci, 0)->valuedouble,
                 cJSON_GetArrayItem(ci, 1)->valuedouble);
    else snprintf(buf, len, "%.3f", v);
}

static void md_dataset(const cJSON *doc, const cJSON *ds, ev_buf *b)
{
    const cJSON *models = cJSON_GetObjectItemCaseSensitive(doc, "models");
    int nm = cJSON_GetArraySize(models);
    dataset_header(ds, b, 1);
    table t;
    main_table(doc, ds, &t);
    t_print_md(&t, b);
    t_free(&t);
    ev_buf_puts(b, "\n");
    legend(doc, ds, b, 1);
    ev_buf_puts(b, "\n");
    choose(doc, ds, b, 1);

    /* CIs */
    static const char *const h1[] = {"Model", "mAP", "MAP@R", "R@1", "R@5", "P@5", "Accuracy", "Linear probe",
                                     "NMI", "ARI"};
    static const int r1[] = {0, 1, 1, 1, 1, 1, 1, 1, 1, 1};
    t_init(&t, 10, h1, r1);
    order *o = ranked(ds, nm);
    for (int i = 0; o && i < nm; i++) {
        const cJSON *res = evr_at(ds, "results", o[i].m);
        if (strcmp(evr_str(res, "status"), "ok") != 0) continue;
        const cJSON *mx = cJSON_GetObjectItemCaseSensitive(res, "metrics");
        char knn[64], v[128];
        evr_knn_key(mx, knn, sizeof knn);
        const char *keys[] = {"map", "map_at_r", "recall_at_1", "recall_at_5", "precision_at_5", knn,
                              "linear_probe_accuracy", "nmi", "ari"};
        int r = t_row(&t);
        model_label(cJSON_GetArrayItem(models, o[i].m), v, sizeof v);
        t_set(&t, r, 0, v);
        for (int k = 0; k < 9; k++) {
            ci_cell(mx, keys[k], v, sizeof v);
            t_set(&t, r, 1 + k, v);
        }
    }
    ev_buf_puts(b, "### Quality with 95% bootstrap confidence intervals\n\n");
    t_print_md(&t, b);
    t_free(&t);
    ev_buf_puts(b, "\n");

    /* efficiency detail */
    static const char *const h2[] = {"Model",        "p50 ms",       "p90 ms",  "p99 ms", "min ms",
                                     "Throughput img/s", "Load ms", "Peak RSS MiB", "Params", "GMACs",
                                     "Embed img/s (end-to-end)"};
    static const int r2[] = {0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
    t_init(&t, 11, h2, r2);
    for (int i = 0; o && i < nm; i++) {
        const cJSON *mod = cJSON_GetArrayItem(models, o[i].m), *res = evr_at(ds, "results", o[i].m);
        if (!cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(mod, "bench"))) continue;
        char v[128];
        int r = t_row(&t);
        model_label(mod, v, sizeof v);
        t_set(&t, r, 0, v);
        const char *lk[] = {"bench.latency_ms.median", "bench.latency_ms.p90", "bench.latency_ms.p99",
                            "bench.latency_ms.min"};
        for (int k = 0; k < 4; k++) {
            fmt_ms(evr_num(mod, lk[k]), v, sizeof v);
            t_set(&t, r, 1 + k, v);
        }
        double tp = evr_num(mod, "bench.throughput_ips");
        snprintf(v, sizeof v, isfinite(tp) ? "%.1f (B=%d)" : "n/a", tp, (int)evr_num(mod, "bench.throughput_batch"));
        t_set(&t, r, 5, v);
        fmt_ms(evr_num(mod, "bench.load_ms"), v, sizeof v);
        t_set(&t, r, 6, v);
        fmt_mib(evr_num(mod, "bench.peak_rss_mib"), v, sizeof v);
        t_set(&t, r, 7, v);
        fmt_count(evr_num(mod, "bench.params"), v, sizeof v);
        t_set(&t, r, 8, v);
        double g = evr_num(mod, "bench.macs") * 1e-9;
        snprintf(v, sizeof v, isfinite(g) ? "%.3f" : "n/a", g);
        t_set(&t, r, 9, v);
        double e2e = evr_num(res, "embed.images_per_s");
        snprintf(v, sizeof v, isfinite(e2e) ? "%.1f" : "cached", e2e);
        t_set(&t, r, 10, v);
    }
    if (t.nrow) {
        ev_buf_puts(b, "### Efficiency\n\nLatency: batch 1, inference only; peak RSS: the whole process while the "
                       "model was loaded and run.\n\n");
        t_print_md(&t, b);
        ev_buf_puts(b, "\n");
    }
    t_free(&t);

    /* per-class Recall@1 */
    const cJSON *names = cJSON_GetObjectItemCaseSensitive(ds, "class_names");
    int nc = cJSON_GetArraySize(names), ncols = 0;
    int cols[MAXCOL - 1];
    for (int i = 0; o && i < nm && ncols < MAXCOL - 1; i++)
        if (!strcmp(evr_str(evr_at(ds, "results", o[i].m), "status"), "ok")) cols[ncols++] = o[i].m;
    if (ncols && nc) {
        const char *h3[MAXCOL];
        int r3[MAXCOL];
        char hb[MAXCOL][128];
        h3[0] = "Class";
        r3[0] = 0;
        for (int c = 0; c < ncols; c++) {
            model_label(cJSON_GetArrayItem(models, cols[c]), hb[c], sizeof hb[c]);
            h3[1 + c] = hb[c];
            r3[1 + c] = 1;
        }
        t_init(&t, ncols + 1, h3, r3);
        for (int k = 0; k < nc; k++) {
            int r = t_row(&t);
            const cJSON *cn = cJSON_GetArrayItem(names, k);
            t_set(&t, r, 0, cJSON_IsString(cn) ? cn->valuestring : "");
            for (int c = 0; c < ncols; c++) {
                const cJSON *pc = cJSON_GetArrayItem(
                    cJSON_GetObjectItemCaseSensitive(
                        cJSON_GetObjectItemCaseSensitive(evr_at(ds, "results", cols[c]), "metrics"), "per_class"),
                    k);
                char v[32];
                fmt_frac(evr_num(pc, "recall_at_1"), v, sizeof v);
                t_set(&t, r, 1 + c, v);
            }
        }
        ev_buf_puts(b, "### Recall@1 per class\n\n");
        t_print_md(&t, b);
        ev_buf_puts(b, "\n");
        t_free(&t);
    }
    free(o);

    /* skipped images */
    int any = 0;
    for (int m = 0; m < nm; m++) {
        const cJSON *res = evr_at(ds, "results", m);
        double ns = evr_num(res, "n_skipped");
        if (!(ns > 0)) continue;
        if (!any) ev_buf_puts(b, "### Skipped images\n\n");
        any = 1;
        ev_buf_puts(b, "- ");
        md_escape(b, evr_str(res, "model"));
        ev_buf_printf(b, ": %.0f skipped", ns);
        const cJSON *s;
        int shown = 0;
        cJSON_ArrayForEach(s, cJSON_GetObjectItemCaseSensitive(res, "skipped"))
        {
            if (shown++ >= 5) break;
            ev_buf_puts(b, shown == 1 ? " — " : "; ");
            md_escape(b, evr_str(s, "reason"));
        }
        ev_buf_puts(b, "\n");
    }
    if (any) ev_buf_puts(b, "\n");
}

char *ev_report_format_markdown(const ev_report *r)
{
    if (!r || !r->doc) return NULL;
    const cJSON *doc = r->doc, *ds;
    ev_buf b;
    ev_buf_init(&b, 0);
    ev_buf_puts(&b, "# embeval report\n\n");
    const cJSON *mach = cJSON_GetObjectItemCaseSensitive(doc, "machine");
    ev_buf_printf(&b, "embeval %s, %s. Machine: ", evr_str(doc, "embeval_version"), evr_str(doc, "created_utc"));
    md_escape(&b, evr_str(mach, "cpu"));
    ev_buf_printf(&b, ", %d logical CPUs, %.0f MiB RAM, ", (int)evr_num(mach, "logical_cpus"),
                  evr_num(mach, "memory_mib"));
    md_escape(&b, evr_str(mach, "os"));
    ev_buf_printf(&b, "; %d threads. Wall time %.1f s.\n\n", (int)evr_num(doc, "settings.threads"),
                  evr_num(doc, "timing.total_s"));
    const cJSON *cmd = cJSON_GetObjectItemCaseSensitive(doc, "command");
    if (cJSON_GetArraySize(cmd) > 0) {
        ev_buf_puts(&b, "Command: `");
        const cJSON *a;
        int first = 1;
        cJSON_ArrayForEach(a, cmd)
        {
            if (!first) ev_buf_puts(&b, " ");
            first = 0;
            for (const char *p = cJSON_IsString(a) ? a->valuestring : ""; *p; p++)
                ev_buf_append(&b, *p == '`' || (unsigned char)*p < 0x20 ? "'" : p, 1);
        }
        ev_buf_puts(&b, "`\n\n");
    }
    cJSON_ArrayForEach(ds, cJSON_GetObjectItemCaseSensitive(doc, "datasets")) md_dataset(doc, ds, &b);
    mean_rank(doc, &b, 1);
    failures(doc, &b, 1);
    notes(doc, &b, 1);
    if (b.failed) {
        ev_buf_free(&b);
        return NULL;
    }
    return b.data;
}

/* ---- CSV ------------------------------------------------------------------------------------ */
static void csv_str(ev_buf *b, const char *s)
{
    /* a leading = + - @ would be a formula to a spreadsheet: prefix ' */
    int formula = s[0] == '=' || s[0] == '+' || s[0] == '-' || s[0] == '@' || s[0] == '\t' || s[0] == '\r';
    int quote = formula || strpbrk(s, ",\"\r\n") != NULL;
    if (quote) ev_buf_puts(b, "\"");
    if (formula) ev_buf_puts(b, "'");
    for (const char *p = s; *p; p++) {
        if (*p == '"') ev_buf_puts(b, "\"\"");
        else ev_buf_append(b, p, 1);
    }
    if (quote) ev_buf_puts(b, "\"");
}

static void csv_num(ev_buf *b, double v)
{
    if (!isfinite(v)) return;
    char t[40];
    snprintf(t, sizeof t, "%.10g", v);
    ev_buf_puts(b, t);
}

char *ev_report_format_csv(const ev_report *r)
{
    if (!r || !r->doc) return NULL;
    const cJSON *doc = r->doc;
    const cJSON *models = cJSON_GetObjectItemCaseSensitive(doc, "models");
    ev_buf b;
    ev_buf_init(&b, 0);
    static const char *const qual[] = {"map",          "map_at_r",       "r_precision",   "recall_at_1",
                                       "recall_at_5",  "recall_at_10",   "precision_at_1", "precision_at_5",
                                       "precision_at_10", "silhouette",  "knn_1_accuracy", "accuracy",
                                       "knn_top5_accuracy", "linear_probe_accuracy", "nmi", "ari"};
    static const int with_ci[] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 0, 0};
    const int nq = (int)(sizeof qual / sizeof qual[0]);
    static const char *const eff[][2] = {{"latency_p50_ms", "bench.latency_ms.median"},
                                         {"latency_p90_ms", "bench.latency_ms.p90"},
                                         {"latency_p99_ms", "bench.latency_ms.p99"},
                                         {"latency_min_ms", "bench.latency_ms.min"},
                                         {"throughput_ips", "bench.throughput_ips"},
                                         {"load_ms", "bench.load_ms"},
                                         {"peak_rss_mib", "bench.peak_rss_mib"},
                                         {"size_mib", "bench.size_mib"},
                                         {"params", "bench.params"},
                                         {"macs", "bench.macs"}};
    const int ne = (int)(sizeof eff / sizeof eff[0]);
    ev_buf_puts(&b, "dataset,model,status,rank,n_queries,n_memory");
    for (int k = 0; k < nq; k++) {
        ev_buf_printf(&b, ",%s", qual[k]);
        if (with_ci[k]) ev_buf_printf(&b, ",%s_ci_low,%s_ci_high", qual[k], qual[k]);
    }
    for (int k = 0; k < ne; k++) ev_buf_printf(&b, ",%s", eff[k][0]);
    ev_buf_puts(&b, ",embed_images_per_s,n_skipped,license,runs_locally,weights_kind,error\r\n");
    const cJSON *ds;
    cJSON_ArrayForEach(ds, cJSON_GetObjectItemCaseSensitive(doc, "datasets"))
    {
        int nm = cJSON_GetArraySize(models);
        for (int m = 0; m < nm; m++) {
            const cJSON *mod = cJSON_GetArrayItem(models, m), *res = evr_at(ds, "results", m);
            const cJSON *mx = cJSON_GetObjectItemCaseSensitive(res, "metrics");
            const cJSON *ci = cJSON_GetObjectItemCaseSensitive(mx, "ci95");
            csv_str(&b, evr_str(ds, "name"));
            ev_buf_puts(&b, ",");
            csv_str(&b, evr_str(mod, "name"));
            ev_buf_puts(&b, ",");
            csv_str(&b, evr_str(res, "status"));
            ev_buf_puts(&b, ",");
            csv_num(&b, evr_num(res, "rank"));
            ev_buf_puts(&b, ",");
            csv_num(&b, evr_num(ds, "n_queries"));
            ev_buf_puts(&b, ",");
            csv_num(&b, evr_num(ds, "n_memory"));
            char knn[64], key[80];
            evr_knn_key(mx, knn, sizeof knn);
            for (int k = 0; k < nq; k++) {
                if (!strcmp(qual[k], "accuracy")) snprintf(key, sizeof key, "%s", knn);
                else if (!strcmp(qual[k], "knn_top5_accuracy"))
                    snprintf(key, sizeof key, "knn_%d_top5_accuracy", (int)evr_num(mx, "knn_k"));
                else snprintf(key, sizeof key, "%s", qual[k]);
                ev_buf_puts(&b, ",");
                csv_num(&b, evr_num(mx, key));
                if (with_ci[k]) {
                    const cJSON *c = cJSON_GetObjectItemCaseSensitive(ci, key);
                    ev_buf_puts(&b, ",");
                    if (cJSON_GetArraySize(c) == 2) csv_num(&b, cJSON_GetArrayItem(c, 0)->valuedouble);
                    ev_buf_puts(&b, ",");
                    if (cJSON_GetArraySize(c) == 2) csv_num(&b, cJSON_GetArrayItem(c, 1)->valuedouble);
                }
            }
            for (int k = 0; k < ne; k++) {
                ev_buf_puts(&b, ",");
                csv_num(&b, evr_num(mod, eff[k][1]));
            }
            ev_buf_puts(&b, ",");
            csv_num(&b, evr_num(res, "embed.images_per_s"));
            ev_buf_puts(&b, ",");
            csv_num(&b, evr_num(res, "n_skipped"));
            ev_buf_puts(&b, ",");
            csv_str(&b, evr_str(mod, "license"));
            int rl = evr_bool(mod, "runs_locally");
            ev_buf_puts(&b, rl == 1 ? ",true," : rl == 0 ? ",false," : ",,");
            csv_str(&b, evr_str(mod, "weights_kind"));
            ev_buf_puts(&b, ",");
            const char *err = evr_str(res, "error");
            if (!err[0]) err = evr_str(mod, "error");
            csv_str(&b, err);
            ev_buf_puts(&b, "\r\n");
        }
    }
    if (b.failed) {
        ev_buf_free(&b);
        return NULL;
    }
    return b.data;
}
