/*
 * lib/report/html.c — report.json -> one self-contained report.html plus
 * standalone charts/NAME.svg.
 *
 * The page is also well-formed XML (polyglot markup: void elements closed,
 * only the five XML entities and numeric references, no '<' or '&' in the
 * script or the style), so tests can parse it with any XML parser.
 *
 * Security: a Content-Security-Policy meta tag forbids every network load
 * (default-src 'none') and allows exactly one script, by its SHA-256 hash;
 * on top of that every data string is escaped (ev_xml_escape), so a class
 * named "<img src=x onerror=alert(1)>" is text twice over.
 *
 * Reading the document: the reader is lenient. Keys it does not know are
 * ignored, values of the wrong type are "n/a", and a few spellings are
 * accepted for the same fact (a metric as a number, null, or {"value": x};
 * efficiency numbers nested under "efficiency" or at the model's top level;
 * per-class rows named by "class" or "label").
 */
#include "report/html.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "report/svg.h"

#define HTML_MAX (256u << 20)     /* cap for the page (and each chart)      */
#define MAX_HEAT_COLS 400         /* wider heat maps are cut (and say so)   */
#define EV_HTML_SCHEMA_VERSION 1  /* docs/report-schema.md                  */

/* Table sorting. Must not contain '<' or '&' (the page is XML too). When
 * you change it, update ev_report_html_script_hash: the test html.xml_check
 * recomputes the hash and fails on a mismatch (and Chromium would refuse to
 * run the script, which html.chromium reports as a console error). */
const char ev_report_html_script[] =
    "\n(function () {\n"
    "  function key(td) {\n"
    "    var v = td.getAttribute('data-v');\n"
    "    if (v === null) return td.textContent.trim().toLowerCase();\n"
    "    if (v === '') return null;\n"
    "    return parseFloat(v);\n"
    "  }\n"
    "  function sortBy(table, th, col) {\n"
    "    var cur = th.getAttribute('aria-sort');\n"
    "    var first = th.getAttribute('data-first') || 'ascending';\n"
    "    var dir = cur === first ? (first === 'ascending' ? 'descending' : 'ascending') : first;\n"
    "    var body = table.tBodies[0];\n"
    "    var rows = Array.prototype.slice.call(body.rows);\n"
    "    rows.forEach(function (r, i) { r.setAttribute('data-i', String(i)); });\n"
    "    rows.sort(function (a, b) {\n"
    "      var x = key(a.cells[col]), y = key(b.cells[col]);\n"
    "      if (x === null || y === null) {\n"
    "        if (x !== y) return x === null ? 1 : -1;\n"
    "      } else if (x !== y) {\n"
    "        var c = x > y ? 1 : -1;\n"
    "        return dir === 'ascending' ? c : -c;\n"
    "      }\n"
    "      return Number(a.getAttribute('data-i')) - Number(b.getAttribute('data-i'));\n"
    "    });\n"
    "    rows.forEach(function (r) { body.appendChild(r); });\n"
    "    Array.prototype.forEach.call(th.parentNode.cells, function (h) {\n"
    "      h.removeAttribute('aria-sort');\n"
    "    });\n"
    "    th.setAttribute('aria-sort', dir);\n"
    "  }\n"
    "  Array.prototype.forEach.call(document.querySelectorAll('table.sortable'), function (t) {\n"
    "    if (!t.tHead || !t.tBodies.length) return;\n"
    "    Array.prototype.forEach.call(t.tHead.rows[0].cells, function (th, col) {\n"
    "      th.tabIndex = 0;\n"
    "      th.title = 'Sort by this column';\n"
    "      th.addEventListener('click', function () { sortBy(t, th, col); });\n"
    "      th.addEventListener('keydown', function (e) {\n"
    "        if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); sortBy(t, th, col); }\n"
    "      });\n"
    "    });\n"
    "    t.classList.add('js');\n"
    "  });\n"
    "})();\n";

const char ev_report_html_script_hash[] = "sha256-tFZRRZlN+a2EgTyZf5qcLGR5YD47F9Evaa/jZNXq6Kw=";

static const char CSS[] =
    ":root{--fg:#1d1d1f;--muted:#5f6368;--line:#dcdfe3;--accent:#0072B2;--bad:#B00020;"
    "--warn-bg:#fff6e0;--warn-line:#e0b050;--bg:#f5f6f8}\n"
    "*{box-sizing:border-box}\n"
    "html{-webkit-text-size-adjust:100%;text-size-adjust:100%}\n"
    "body{margin:0;font:15px/1.5 system-ui,-apple-system,'Segoe UI',Roboto,'DejaVu Sans',"
    "sans-serif;color:var(--fg);background:var(--bg)}\n"
    "header,main,footer{max-width:1320px;margin:0 auto;padding:0 14px}\n"
    "header{padding-top:14px}\n"
    "h1{font-size:1.6rem;margin:.2em 0}\n"
    "h2{font-size:1.3rem;margin:.2em 0 .4em}\n"
    "h3{font-size:1.05rem;margin:1em 0 .4em}\n"
    "section{background:#fff;border:1px solid var(--line);border-radius:8px;padding:12px 14px;"
    "margin:14px 0}\n"
    ".meta{color:var(--muted);font-size:.9rem;margin:.2em 0}\n"
    ".meta span{display:inline-block;margin-right:1em}\n"
    "nav{font-size:.95rem;margin:.4em 0}\n"
    "nav a{margin-right:1em;color:var(--accent);display:inline-block;white-space:nowrap}\n"
    ".note{background:var(--warn-bg);border:1px solid var(--warn-line);border-radius:6px;"
    "padding:8px 12px;margin:10px 0;font-size:.93rem}\n"
    ".note.bad{background:#fdecee;border-color:#e8a0a8}\n"
    ".note ul{margin:.3em 0;padding-left:1.3em}\n"
    ".scroll{overflow-x:auto;-webkit-overflow-scrolling:touch;margin:6px 0}\n"
    "table{border-collapse:collapse;font-size:.9rem}\n"
    "th,td{padding:5px 8px;border-bottom:1px solid var(--line);text-align:right;"
    "white-space:nowrap;vertical-align:top}\n"
    "th{background:#eef1f5;font-weight:600}\n"
    "th:first-child,td:first-child{text-align:left;position:sticky;left:0;background:#fff;"
    "z-index:1;max-width:24em;overflow:hidden;text-overflow:ellipsis}\n"
    "th{white-space:normal;min-width:4.5em}\n"
    "th:first-child{background:#eef1f5}\n"
    "td.t,th.t{text-align:left}\n"
    "td.wrap{white-space:normal;min-width:14em;max-width:32em}\n"
    "table.js th{cursor:pointer;user-select:none}\n"
    "table.js th:hover{background:#e0e6ee}\n"
    "th[aria-sort=ascending]::after{content:' \\25B2';font-size:.75em}\n"
    "th[aria-sort=descending]::after{content:' \\25BC';font-size:.75em}\n"
    "td.best{font-weight:700}\n"
    "td.na{color:var(--muted);font-style:italic}\n"
    ".ci{display:block;color:var(--muted);font-size:.78em}\n"
    "tr.failed td{color:var(--bad)}\n"
    ".tag{display:inline-block;font-size:.75em;border-radius:4px;padding:0 5px;margin-left:5px;"
    "vertical-align:1px;font-weight:600}\n"
    ".tag.rand{background:#fff1cc;color:#7a5200;border:1px solid #e0b050}\n"
    ".tag.fail{background:#fdecee;color:var(--bad);border:1px solid #e8a0a8}\n"
    ".charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(min(100%,360px),1fr));"
    "gap:14px;margin-top:10px;align-items:start}\n"
    "figure{margin:0;border:1px solid var(--line);border-radius:6px;padding:6px;background:#fff;"
    "min-width:0}\n"
    "figure svg{display:block;width:100%;max-width:600px;height:auto;margin:0 auto}\n"
    "figure.wide{grid-column:1/-1}\n"
    "figure.wide .scroll svg{width:auto;max-width:none;margin:0}\n"
    "figure.span{grid-column:1/-1}\n"
    "figure.span svg{max-width:620px;margin:0}\n"
    "figcaption{font-size:.8rem;color:var(--muted);padding:4px 2px 0}\n"
    "dl.kv{display:grid;grid-template-columns:max-content 1fr;gap:2px 12px;margin:.4em 0;"
    "font-size:.92rem}\n"
    "dl.kv dt{color:var(--muted)}\n"
    "dl.kv dd{margin:0;overflow-wrap:anywhere}\n"
    "details{margin:.5em 0;font-size:.92rem}\n"
    "details ul{margin:.3em 0;padding-left:1.3em;overflow-wrap:anywhere}\n"
    "code{font-size:.9em;overflow-wrap:anywhere}\n"
    "footer{color:var(--muted);font-size:.85rem;padding-bottom:24px}\n"
    "@media (max-width:600px){body{font-size:14px}section{padding:10px 8px}"
    "header,main,footer{padding:0 6px}th,td{padding:4px 5px}"
    "th:first-child,td:first-child{max-width:10.5em;white-space:normal;overflow-wrap:anywhere}"
    "td:first-child .tag{display:block;width:max-content;margin:2px 0 0}"
    "figure{padding:4px 2px}}\n";

/* ---- lenient JSON access ------------------------------------------------ */

static const cJSON *jget(const cJSON *o, const char *k)
{
    return cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, k) : NULL;
}

static const char *jstr(const cJSON *o, const char *k)
{
    const cJSON *v = jget(o, k);
    return cJSON_IsString(v) && v->valuestring ? v->valuestring : NULL;
}

/* number, {"value": number}, else NaN */
static double jval(const cJSON *v)
{
    if (cJSON_IsNumber(v)) return v->valuedouble;
    if (cJSON_IsObject(v)) {
        const cJSON *x = cJSON_GetObjectItemCaseSensitive(v, "value");
        if (cJSON_IsNumber(x)) return x->valuedouble;
    }
    return NAN;
}

static double jnum(const cJSON *o, const char *k) { return jval(jget(o, k)); }

/* first found of several keys */
static double jnum2(const cJSON *o, const char *a, const char *b)
{
    double v = jnum(o, a);
    return isfinite(v) || !b ? v : jnum(o, b);
}

static const cJSON *jarr(const cJSON *o, const char *k)
{
    const cJSON *v = jget(o, k);
    return cJSON_IsArray(v) ? v : NULL;
}

/* ---- the report, read into plain structs -------------------------------- */

typedef struct rmodel {
    const cJSON *j;
    const char *name, *file, *license, *weights, *status, *error, *why;
    int runs_locally;                    /* -1 unknown */
    bool failed, random;
    double lat_med, lat_p90, lat_p99, lat_min, thr, load, rss, size, params, macs;
} rmodel;

typedef struct rdataset {
    const cJSON *j;
    const char *name;
    char slug[48];
    size_t n_classes;
    const char **classes;                /* n_classes (borrowed from JSON) */
} rdataset;

typedef struct rep {
    const cJSON *root;
    size_t nm, nd;
    rmodel *m;
    rdataset *d;
    ev_buf *h;
    ev_report_chart_fn chart_fn;
    void *user;
    ev_err *err;
    ev_status st;                        /* first chart callback failure */
    int knn_k;                           /* the headline weighted k-NN's k */
    char acc_key[32];                    /* "knn_<k>_accuracy" */
} rep;

/* Column keys are metric keys, except "knn_K_accuracy": the headline
 * accuracy, whose k comes from the report's settings. */
static const char *mkey(const rep *r, const char *key)
{
    return strcmp(key, "knn_K_accuracy") == 0 ? r->acc_key : key;
}

static bool contains_ci(const char *hay, const char *needle)
{
    if (!hay) return false;
    size_t n = strlen(needle);
    for (const char *p = hay; *p; p++)
        if (strncasecmp(p, needle, n) == 0) return true;
    return false;
}

static void read_model(rmodel *m, const cJSON *j)
{
    memset(m, 0, sizeof *m);
    m->j = j;
    m->name = jstr(j, "name");
    if (!m->name) m->name = jstr(j, "model");
    if (!m->name) m->name = "(unnamed model)";
    m->file = jstr(j, "file");
    m->license = jstr(j, "license");
    const cJSON *w = jget(j, "weights");
    m->weights = cJSON_IsString(w) ? w->valuestring : jstr(w, "provenance");
    if (!m->weights) m->weights = jstr(w, "kind");
    m->status = jstr(j, "status");
    m->error = jstr(j, "error");
    if (!m->error) m->error = jstr(jget(j, "error"), "message");
    const cJSON *rl = jget(j, "runs_locally");
    m->runs_locally = cJSON_IsBool(rl) ? cJSON_IsTrue(rl) : -1;
    m->why = jstr(j, "runs_locally_why");
    m->failed = (m->status && strcmp(m->status, "ok") != 0) || (!m->status && m->error);
    /* schema v1: random_init (boolean) and weights_kind; older or hand-made
     * documents: the card's weights text */
    const cJSON *ri = jget(j, "random_init");
    const char *wk = jstr(j, "weights_kind");
    if (cJSON_IsBool(ri)) m->random = cJSON_IsTrue(ri);
    else if (wk) m->random = strcmp(wk, "random-init") == 0;
    else m->random = contains_ci(m->weights, "random-init") ||
                     contains_ci(m->weights, "random init") ||
                     contains_ci(m->weights, "random_init");
    const cJSON *e = jget(j, "bench");
    if (!cJSON_IsObject(e)) e = jget(j, "efficiency");
    if (!cJSON_IsObject(e)) e = j;
    const cJSON *lat = jget(e, "latency_ms");
    m->lat_med = jnum(lat, "median");
    m->lat_p90 = jnum(lat, "p90");
    m->lat_p99 = jnum(lat, "p99");
    m->lat_min = jnum(lat, "min");
    if (!isfinite(m->lat_med)) m->lat_med = jnum(e, "latency_p50_ms");
    m->thr = jnum(e, "throughput_ips");
    m->load = jnum(e, "load_ms");
    m->rss = jnum(e, "peak_rss_mib");
    m->size = jnum(e, "size_mib");
    m->params = jnum(e, "params");
    m->macs = jnum(e, "macs");
}

/* file-name-safe slug: [a-z0-9-], at most 40 characters */
static void make_slug(char *out, size_t n, const char *name)
{
    size_t k = 0;
    bool dash = false;
    for (const unsigned char *p = (const unsigned char *)(name ? name : ""); *p && k + 1 < n && k < 40; p++) {
        if (isalnum(*p) && *p < 0x80) {
            out[k++] = (char)tolower(*p);
            dash = false;
        } else if (!dash && k > 0) {
            out[k++] = '-';
            dash = true;
        }
    }
    while (k > 0 && out[k - 1] == '-') k--;
    out[k] = '\0';
    if (k == 0) snprintf(out, n, "dataset");
}

/* The result object for (dataset, model mi), or NULL. Schema v1 nests the
 * results in the dataset, parallel to "models"; a top-level "results" array
 * with "dataset" keys is accepted too. */
static const cJSON *find_result(const rep *r, const rdataset *d, size_t mi)
{
    const rmodel *m = &r->m[mi];
    const cJSON *nested = d ? jarr(d->j, "results") : NULL, *it;
    if (nested) {
        it = mi < (size_t)INT_MAX ? cJSON_GetArrayItem(nested, (int)mi) : NULL;
        const char *mn = jstr(it, "model");
        if (cJSON_IsObject(it) && (!mn || strcmp(mn, m->name) == 0)) return it;
        cJSON_ArrayForEach(it, nested)
        {
            mn = jstr(it, "model");
            if (mn && strcmp(mn, m->name) == 0) return it;
        }
        return NULL;
    }
    const cJSON *res = jarr(r->root, "results");
    cJSON_ArrayForEach(it, res)
    {
        const char *dn = jstr(it, "dataset"), *mn = jstr(it, "model");
        if (!mn || strcmp(mn, m->name) != 0) continue;
        if (r->nd <= 1 && !dn) return it;
        if (dn && d && d->name && strcmp(dn, d->name) == 0) return it;
    }
    return NULL;
}

static const cJSON *metrics_of(const cJSON *res)
{
    const cJSON *m = jget(res, "metrics");
    return cJSON_IsObject(m) ? m : res;
}

static bool result_failed(const cJSON *res, const rmodel *m)
{
    if (m->failed) return true;
    if (!res) return false;
    const char *st = jstr(res, "status");
    return st && strcmp(st, "ok") != 0;
}

static const char *result_error(const cJSON *res, const rmodel *m)
{
    const char *e = jstr(res, "error");
    if (!e) e = jstr(jget(res, "error"), "message");
    return e ? e : m->error;
}

/* metric value, CI and reason */
typedef struct mval {
    double v, lo, hi;
    const char *reason;
} mval;

static mval metric(const cJSON *res, const char *key)
{
    mval r = {NAN, NAN, NAN, NULL};
    if (!res) return r;
    const cJSON *mt = metrics_of(res);
    const cJSON *raw = jget(mt, key);
    r.v = jval(raw);
    const cJSON *ci = jget(jget(mt, "ci95"), key);
    if (!ci && cJSON_IsObject(raw)) ci = jget(raw, "ci95");
    if (cJSON_IsArray(ci) && cJSON_GetArraySize(ci) == 2) {
        r.lo = jval(cJSON_GetArrayItem(ci, 0));
        r.hi = jval(cJSON_GetArrayItem(ci, 1));
    }
    r.reason = jstr(jget(mt, "reason"), key);
    if (!r.reason) r.reason = jstr(jget(mt, "reasons"), key);
    if (!r.reason && cJSON_IsObject(raw)) r.reason = jstr(raw, "reason");
    return r;
}

/* ---- HTML helpers ------------------------------------------------------- */

static void esc(rep *r, const char *s) { ev_xml_escape(r->h, s); }
static void puts_(rep *r, const char *s) { ev_buf_puts(r->h, s); }

/* data-v attribute value: a number the script can parse, '' for n/a */
static void data_v(rep *r, double v)
{
    char b[48];
    if (!isfinite(v)) {
        puts_(r, " data-v=\"\"");
        return;
    }
    snprintf(b, sizeof b, "%.10g", v);
    for (char *q = b; *q; q++)
        if (*q == ',') *q = '.';
    ev_buf_printf(r->h, " data-v=\"%s\"", b);
}

enum { FMT_FIX, FMT_SI };

/* <td> with a number, its CI under it, its reason as a hover title */
static void td_num(rep *r, double v, int dec, int fmt, double lo, double hi, const char *reason,
                   bool best)
{
    char b[48], l[48], h[48];
    puts_(r, "<td");
    data_v(r, v);
    if (!isfinite(v)) {
        puts_(r, " class=\"na\"");
        if (reason) {
            puts_(r, " title=\"");
            esc(r, reason);
            puts_(r, "\"");
        }
        puts_(r, ">n/a</td>");
        return;
    }
    if (best) puts_(r, " class=\"best\"");
    bool ci = isfinite(lo) && isfinite(hi);
    if (ci)
        ev_buf_printf(r->h, " title=\"95%% CI %s\xE2\x80\x93%s\"", ev_fmt_num(l, sizeof l, lo, dec),
                      ev_fmt_num(h, sizeof h, hi, dec));
    puts_(r, ">");
    puts_(r, fmt == FMT_SI ? ev_fmt_si(b, sizeof b, v) : ev_fmt_num(b, sizeof b, v, dec));
    if (ci)
        ev_buf_printf(r->h, "<span class=\"ci\">%s\xE2\x80\x93%s</span>", l, h);
    puts_(r, "</td>");
}

static void td_text(rep *r, const char *s, const char *cls)
{
    puts_(r, "<td class=\"");
    puts_(r, cls ? cls : "t");
    puts_(r, "\">");
    if (s && *s) esc(r, s);
    else puts_(r, "n/a");
    puts_(r, "</td>");
}

/* the model cell: name + tags */
static void td_model(rep *r, const rmodel *m, bool failed)
{
    puts_(r, "<td title=\"");
    esc(r, m->name);
    if (m->file) {
        puts_(r, " (");
        esc(r, m->file);
        puts_(r, ")");
    }
    puts_(r, "\">");
    esc(r, m->name);
    if (m->random) puts_(r, "<span class=\"tag rand\" title=\"random-init weights: quality is a "
                            "random-feature baseline\">random-init</span>");
    if (failed) puts_(r, "<span class=\"tag fail\">failed</span>");
    puts_(r, "</td>");
}

/* <th>: first = the first sort direction ("descending" for higher-is-better) */
static void th_(rep *r, const char *label, const char *first, const char *title, bool text_col)
{
    puts_(r, text_col ? "<th scope=\"col\" class=\"t\"" : "<th scope=\"col\"");
    if (first) ev_buf_printf(r->h, " data-first=\"%s\"", first);
    if (title) {
        puts_(r, " title=\"");
        esc(r, title);
        puts_(r, "\"");
    }
    puts_(r, ">");
    esc(r, label);
    puts_(r, "</th>");
}

static void th(rep *r, const char *label, const char *first, const char *title)
{
    th_(r, label, first, title, false);
}

static void th_t(rep *r, const char *label, const char *title) { th_(r, label, NULL, title, true); }

/* index of the best finite value (dir > 0: max, dir < 0: min), or SIZE_MAX */
static size_t best_of(size_t n, const double *v, const bool *skip, int dir)
{
    size_t best = SIZE_MAX;
    for (size_t i = 0; i < n; i++) {
        if ((skip && skip[i]) || !isfinite(v[i])) continue;
        if (best == SIZE_MAX || (dir > 0 ? v[i] > v[best] : v[i] < v[best])) best = i;
    }
    return best;
}

/* A JSON value as inline text: scalars; arrays and objects of scalars one
 * level deep ("a, b" / "k: v, k: v"); anything deeper is "…". */
static void inline_value(rep *r, const cJSON *it, int depth)
{
    if (cJSON_IsString(it)) esc(r, it->valuestring);
    else if (cJSON_IsBool(it)) puts_(r, cJSON_IsTrue(it) ? "yes" : "no");
    else if (cJSON_IsNumber(it)) {
        char b[48];
        double v = it->valuedouble;
        if (isfinite(v) && v == floor(v) && fabs(v) < 1e15) ev_fmt_num(b, sizeof b, v, 0);
        else ev_fmt_num(b, sizeof b, v, -1);
        puts_(r, b);
    } else if ((cJSON_IsArray(it) || cJSON_IsObject(it)) && depth < 1) {
        const cJSON *c;
        int n = 0;
        cJSON_ArrayForEach(c, it)
        {
            if (n++) puts_(r, ", ");
            if (n > 64) {
                puts_(r, "\xE2\x80\xA6");
                break;
            }
            if (c->string && cJSON_IsObject(it)) {
                esc(r, c->string);
                puts_(r, ": ");
            }
            inline_value(r, c, depth + 1);
        }
        if (!n) puts_(r, cJSON_IsArray(it) ? "none" : "\xE2\x80\x94");
    } else if (cJSON_IsArray(it) || cJSON_IsObject(it)) puts_(r, "\xE2\x80\xA6");
    else puts_(r, "n/a");
}

/* members of an object as a <dl> (keys and values escaped) */
static void kv_list(rep *r, const cJSON *o, const char *const *skip_keys)
{
    const cJSON *it;
    bool any = false;
    cJSON_ArrayForEach(it, o)
    {
        if (!it->string) continue;
        bool skip = false;
        for (const char *const *s = skip_keys; s && *s; s++)
            if (strcmp(*s, it->string) == 0) skip = true;
        if (skip) continue;
        if (!any) puts_(r, "<dl class=\"kv\">");
        any = true;
        puts_(r, "<dt>");
        esc(r, it->string);
        puts_(r, "</dt><dd>");
        inline_value(r, it, 0);
        puts_(r, "</dd>");
    }
    if (any) puts_(r, "</dl>");
}

/* An array of strings as a list: in a collapsed <details> ("details") or a
 * notice box ("note"). Non-strings are skipped; nothing for an empty list. */
static void string_list(rep *r, const cJSON *arr, const char *title, const char *kind)
{
    int n = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, arr) n += cJSON_IsString(it);
    if (n == 0) return;
    bool details = strcmp(kind, "details") == 0;
    if (details) {
        puts_(r, "<details><summary>");
        esc(r, title);
        ev_buf_printf(r->h, " (%d)</summary><ul>", n);
    } else {
        puts_(r, "<div class=\"note\"><b>");
        esc(r, title);
        puts_(r, "</b><ul>");
    }
    cJSON_ArrayForEach(it, arr)
    {
        if (!cJSON_IsString(it)) continue;
        puts_(r, "<li>");
        esc(r, it->valuestring);
        puts_(r, "</li>");
    }
    puts_(r, details ? "</ul></details>\n" : "</ul></div>\n");
}

/* ---- charts ------------------------------------------------------------- */

/* layout: 0 = grid cell, 1 = full row, scrolled at natural size, 2 = full row, scaled */
static void emit_chart(rep *r, const char *file, const char *caption, ev_buf *svg, int layout)
{
    if (svg->failed || !svg->data) {
        r->h->failed = true;
        return;
    }
    ev_buf_printf(r->h, "<figure%s>",
                  layout == 1 ? " class=\"wide\"" : layout == 2 ? " class=\"span\"" : "");
    if (layout == 1) puts_(r, "<div class=\"scroll\">");
    ev_buf_append(r->h, svg->data, svg->len);
    if (layout == 1) puts_(r, "</div>");
    puts_(r, "<figcaption>");
    esc(r, caption);
    puts_(r, " Also saved as <code>charts/");
    esc(r, file);
    puts_(r, "</code>.</figcaption></figure>\n");
    if (r->chart_fn && r->st == EV_OK) {
        /* a standalone file wants the XML declaration */
        ev_buf f;
        ev_buf_init(&f, HTML_MAX);
        ev_buf_puts(&f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        ev_buf_append(&f, svg->data, svg->len);
        if (f.failed) r->st = ev_err_set(r->err, EV_ERR_NOMEM, "chart %s: out of memory", file);
        else r->st = r->chart_fn(r->user, file, f.data, f.len, r->err);
        ev_buf_free(&f);
    }
}

static ev_svg_item *model_items(rep *r, const rdataset *d)
{
    ev_svg_item *it = calloc(r->nm ? r->nm : 1, sizeof *it);
    if (!it) return NULL;
    for (size_t i = 0; i < r->nm; i++) {
        const cJSON *res = d ? find_result(r, d, i) : NULL;
        bool failed = d ? result_failed(res, &r->m[i]) : r->m[i].failed;
        it[i].label = r->m[i].name;
        it[i].flags = (failed ? EV_SVG_FAILED : 0) | (r->m[i].random ? EV_SVG_RANDOM : 0);
        it[i].note = failed ? (d ? result_error(res, &r->m[i]) : r->m[i].error) : NULL;
    }
    return it;
}

/* bars for a list of metric keys on one dataset */
static void metric_bars(rep *r, const rdataset *d, const char *file, const char *title,
                        const char *axis, size_t ns, const char *const *keys,
                        const char *const *names, bool unit_range, const char *caption,
                        const char *footnote)
{
    size_t n = r->nm;
    ev_svg_item *items = model_items(r, d);
    double *v = calloc(n * ns + 1, sizeof *v), *lo = calloc(n * ns + 1, sizeof *lo),
           *hi = calloc(n * ns + 1, sizeof *hi);
    if (!items || !v || !lo || !hi) {
        r->h->failed = true;
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        const cJSON *res = find_result(r, d, i);
        for (size_t s = 0; s < ns; s++) {
            mval mv = metric(res, mkey(r, keys[s]));
            v[i * ns + s] = mv.v;
            lo[i * ns + s] = mv.lo;
            hi[i * ns + s] = mv.hi;
        }
    }
    ev_svg_bars c = {.title = title, .axis_label = axis, .n_items = n, .items = items,
                     .n_series = ns, .series = names, .v = v, .lo = lo, .hi = hi,
                     .decimals = 3, .fixed_min = unit_range ? 0 : NAN,
                     .fixed_max = unit_range ? 1 : NAN, .footnote = footnote};
    ev_buf svg;
    ev_buf_init(&svg, HTML_MAX);
    ev_svg_bar_chart(&svg, &c);
    emit_chart(r, file, caption, &svg, 0);
    ev_buf_free(&svg);
out:
    free(items);
    free(v);
    free(lo);
    free(hi);
}

static void scatter(rep *r, const rdataset *d, const char *file)
{
    size_t n = r->nm;
    ev_svg_item *items = model_items(r, d);
    double *x = calloc(n + 1, sizeof *x), *y = calloc(n + 1, sizeof *y),
           *lo = calloc(n + 1, sizeof *lo), *hi = calloc(n + 1, sizeof *hi),
           *sz = calloc(n + 1, sizeof *sz);
    if (!items || !x || !y || !lo || !hi || !sz) {
        r->h->failed = true;
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        const cJSON *res = find_result(r, d, i);
        mval mv = metric(res, "map");
        bool failed = items[i].flags & EV_SVG_FAILED;
        x[i] = failed ? NAN : r->m[i].lat_med;
        y[i] = failed ? NAN : mv.v;
        lo[i] = mv.lo;
        hi[i] = mv.hi;
        sz[i] = r->m[i].size;
    }
    ev_svg_scatter c = {.title = "Quality vs latency", .x_label = "latency per image, median (ms, log scale)",
                        .y_label = "mAP", .n_items = n, .items = items, .x = x, .y = y,
                        .y_lo = lo, .y_hi = hi, .size = sz, .x_decimals = -1, .y_decimals = 3};
    ev_buf svg;
    ev_buf_init(&svg, HTML_MAX);
    ev_svg_scatter_chart(&svg, &c);
    emit_chart(r, file,
               "mAP against median latency at batch 1. Models on the dashed line are the "
               "Pareto set: no other model is both faster and better.",
               &svg, 2);
    ev_buf_free(&svg);
out:
    free(items);
    free(x);
    free(y);
    free(lo);
    free(hi);
    free(sz);
}

/* per-class rows of a result */
static const cJSON *per_class_of(const cJSON *res)
{
    const cJSON *pc = jarr(metrics_of(res), "per_class");
    return pc ? pc : jarr(res, "per_class");
}

static const char *pc_name(const cJSON *row)
{
    const char *s = jstr(row, "class");
    if (!s) s = jstr(row, "label");
    if (!s) s = jstr(row, "name");
    return s;
}

static void heatmap(rep *r, const rdataset *d, const char *file)
{
    /* class list: the dataset's, else the first per-class table found */
    size_t nc = d->n_classes;
    const char **cls = d->classes;
    const char **own = NULL;
    if (nc == 0) {
        for (size_t i = 0; i < r->nm && nc == 0; i++) {
            const cJSON *pc = per_class_of(find_result(r, d, i));
            int k = pc ? cJSON_GetArraySize(pc) : 0;
            if (k <= 0) continue;
            own = calloc((size_t)k, sizeof *own);
            if (!own) {
                r->h->failed = true;
                return;
            }
            const cJSON *row;
            cJSON_ArrayForEach(row, pc) own[nc++] = pc_name(row) ? pc_name(row) : "(unnamed)";
            cls = own;
        }
    }
    if (nc == 0 || r->nm == 0) {
        puts_(r, "<p class=\"meta\">Per-class Recall@1: n/a (no per-class results in this report).</p>");
        free(own);
        return;
    }
    bool cut = nc > MAX_HEAT_COLS;
    if (cut) nc = MAX_HEAT_COLS;
    size_t nm = r->nm;
    ev_svg_item *mitems = model_items(r, d);
    ev_svg_item *citems = calloc(nc, sizeof *citems);
    double *v = malloc(nm * nc * sizeof *v), *lo = malloc(nm * nc * sizeof *lo),
           *hi = malloc(nm * nc * sizeof *hi), *cnt = malloc(nm * nc * sizeof *cnt);
    /* transposed copies when classes go down the side */
    double *tv = malloc(nm * nc * sizeof *tv), *tlo = malloc(nm * nc * sizeof *tlo),
           *thi = malloc(nm * nc * sizeof *thi), *tcnt = malloc(nm * nc * sizeof *tcnt);
    if (!mitems || !citems || !v || !lo || !hi || !cnt || !tv || !tlo || !thi || !tcnt) {
        r->h->failed = true;
        goto out;
    }
    for (size_t j = 0; j < nc; j++) citems[j].label = cls[j];
    for (size_t i = 0; i < nm; i++) {
        const cJSON *res = find_result(r, d, i);
        const cJSON *pc = (mitems[i].flags & EV_SVG_FAILED) ? NULL : per_class_of(res);
        int npc = pc ? cJSON_GetArraySize(pc) : 0;
        for (size_t j = 0; j < nc; j++) {
            size_t k = i * nc + j;
            v[k] = lo[k] = hi[k] = cnt[k] = NAN;
            if (!pc) continue;
            /* match by name; rows in class order are the common case */
            const cJSON *row = NULL;
            if ((int)j < npc) {
                const cJSON *cand = cJSON_GetArrayItem(pc, (int)j);
                const char *nm_ = pc_name(cand);
                if (nm_ && cls[j] && strcmp(nm_, cls[j]) == 0) row = cand;
            }
            if (!row) {
                const cJSON *cand;
                cJSON_ArrayForEach(cand, pc)
                {
                    const char *nm_ = pc_name(cand);
                    if (nm_ && cls[j] && strcmp(nm_, cls[j]) == 0) {
                        row = cand;
                        break;
                    }
                }
            }
            if (!row) continue;
            mval mv = metric(row, "recall_at_1");
            v[k] = mv.v;
            lo[k] = mv.lo;
            hi[k] = mv.hi;
            cnt[k] = jnum2(row, "n_queries", "n");
            if (!isfinite(cnt[k])) cnt[k] = jnum(row, "n_items");
        }
    }
    /* more classes than models (and more than fit across): classes as rows */
    bool transpose = nc > 16 && nc > nm;
    ev_svg_heat c = {.title = "Per-class Recall@1", .value_name = "Recall@1", .decimals = 3};
    if (!transpose) {
        c.row_kind = "model", c.col_kind = "class";
        c.n_rows = nm, c.n_cols = nc, c.rows = mitems, c.cols = citems;
        c.v = v, c.lo = lo, c.hi = hi, c.count = cnt;
    } else {
        for (size_t i = 0; i < nm; i++)
            for (size_t j = 0; j < nc; j++) {
                tv[j * nm + i] = v[i * nc + j];
                tlo[j * nm + i] = lo[i * nc + j];
                thi[j * nm + i] = hi[i * nc + j];
                tcnt[j * nm + i] = cnt[i * nc + j];
            }
        c.row_kind = "class", c.col_kind = "model";
        c.n_rows = nc, c.n_cols = nm, c.rows = citems, c.cols = mitems;
        c.v = tv, c.lo = tlo, c.hi = thi, c.count = tcnt;
    }
    ev_buf svg;
    ev_buf_init(&svg, HTML_MAX);
    ev_svg_heatmap(&svg, &c);
    char cap[200];
    snprintf(cap, sizeof cap,
             "Recall@1 of the queries of each class (hover a cell for the exact value and the "
             "number of queries).%s",
             cut ? " Only the first 400 classes are shown." : "");
    emit_chart(r, file, cap, &svg, 1);
    ev_buf_free(&svg);
out:
    free(own);
    free(mitems);
    free(citems);
    free(v);
    free(lo);
    free(hi);
    free(cnt);
    free(tv);
    free(tlo);
    free(thi);
    free(tcnt);
}

static void efficiency_charts(rep *r)
{
    size_t n = r->nm;
    ev_svg_item *items = model_items(r, NULL);
    double *v = calloc(n + 1, sizeof *v), *pa = calloc(n + 1, sizeof *pa),
           *pb = calloc(n + 1, sizeof *pb), *sz = calloc(n + 1, sizeof *sz);
    if (!items || !v || !pa || !pb || !sz) {
        r->h->failed = true;
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        v[i] = r->m[i].lat_med;
        pa[i] = r->m[i].lat_p90;
        pb[i] = r->m[i].lat_p99;
        sz[i] = r->m[i].size;
        /* a model that failed to load may still have a size: keep it */
        if (items[i].flags & EV_SVG_FAILED && (isfinite(sz[i]) || isfinite(v[i])))
            items[i].flags &= ~EV_SVG_FAILED;
        /* efficiency of random-init models is exact: drawn like the others */
        items[i].flags &= ~EV_SVG_RANDOM;
    }
    static const char *lat_series[] = {"median"};
    ev_svg_bars c = {.title = "Latency per image (batch 1)", .axis_label = "latency (ms)",
                     .n_items = n, .items = items, .n_series = 1, .series = lat_series, .v = v,
                     .mark_a = pa, .mark_b = pb, .mark_a_name = "p90", .mark_b_name = "p99",
                     .decimals = -1, .unit = "ms", .fixed_min = 0, .fixed_max = NAN};
    ev_buf svg;
    ev_buf_init(&svg, HTML_MAX);
    ev_svg_bar_chart(&svg, &c);
    emit_chart(r, "latency.svg",
               "Model inference only (no decoding or preprocessing), batch 1: bar = median, "
               "line = p90, diamond = p99.",
               &svg, 0);
    ev_buf_free(&svg);

    static const char *size_series[] = {"size"};
    ev_svg_bars s = {.title = "Model size on disk", .axis_label = "size (MiB)", .n_items = n,
                     .items = items, .n_series = 1, .series = size_series, .v = sz,
                     .decimals = -1, .unit = "MiB", .fixed_min = 0, .fixed_max = NAN};
    ev_buf_init(&svg, HTML_MAX);
    ev_svg_bar_chart(&svg, &s);
    emit_chart(r, "size.svg", "Model file plus external data, MiB (2^20 bytes).", &svg, 0);
    ev_buf_free(&svg);
out:
    free(items);
    free(v);
    free(pa);
    free(pb);
    free(sz);
}

/* ---- page sections ------------------------------------------------------ */

typedef struct col {
    const char *key, *label, *title;
    int dir;        /* +1 higher is better, -1 lower, 0 neither */
    int dec;
} col;

static const col MAIN_COLS[] = {
    {"map", "mAP", "mean average precision over queries (full ranking)", 1, 3},
    {"recall_at_1", "R@1", "Recall@1: share of queries whose nearest neighbour is relevant", 1, 3},
    {"recall_at_5", "R@5", "Recall@5 (hit rate in the top 5)", 1, 3},
    {"precision_at_5", "P@5", "Precision@5: relevant share of the top 5", 1, 3},
    {"silhouette", "Silhouette", "silhouette score (cosine), -1..1", 1, 3},
    {"knn_K_accuracy", "Accuracy", "weighted k-NN top-1 accuracy (DINO vote)", 1, 3},
    {"linear_probe_accuracy", "Linear probe", "logistic regression on frozen embeddings, top-1", 1, 3},
};

static const col MORE_COLS[] = {
    {"map_at_r", "MAP@R", "MAP@R (Musgrave et al. 2020)", 1, 3},
    {"r_precision", "R-precision", NULL, 1, 3},
    {"recall_at_10", "R@10", NULL, 1, 3},
    {"knn_1_accuracy", "1-NN acc.", NULL, 1, 3},
    {"nmi", "NMI", "k-means normalised mutual information", 1, 3},
    {"ari", "ARI", "k-means adjusted Rand index", 1, 3},
    {"n_queries", "Queries", "queries used", 0, 0},
    {"n_excluded", "Excluded", "queries excluded (no relevant item in the gallery)", 0, 0},
};

static void metric_table(rep *r, const rdataset *d, const col *cols, size_t ncols, bool with_eff)
{
    size_t n = r->nm;
    double *v = calloc(n + 1, sizeof *v);
    bool *skip = calloc(n + 1, sizeof *skip);
    size_t *best = calloc(ncols + 3, sizeof *best);
    if (!v || !skip || !best) {
        r->h->failed = true;
        goto out;
    }
    for (size_t i = 0; i < n; i++) skip[i] = result_failed(find_result(r, d, i), &r->m[i]);
    for (size_t c = 0; c < ncols; c++) {
        for (size_t i = 0; i < n; i++) v[i] = metric(find_result(r, d, i), mkey(r, cols[c].key)).v;
        best[c] = cols[c].dir ? best_of(n, v, skip, cols[c].dir) : SIZE_MAX;
    }
    if (with_eff) {
        for (size_t i = 0; i < n; i++) v[i] = r->m[i].lat_med;
        best[ncols] = best_of(n, v, skip, -1);
        for (size_t i = 0; i < n; i++) v[i] = r->m[i].size;
        best[ncols + 1] = best_of(n, v, skip, -1);
    }
    puts_(r, "<div class=\"scroll\"><table class=\"sortable\"><thead><tr>");
    th(r, "Model", NULL, NULL);
    for (size_t c = 0; c < ncols; c++)
        th(r, cols[c].label, cols[c].dir > 0 ? "descending" : NULL, cols[c].title);
    if (with_eff) {
        th(r, "Latency (ms)", NULL, "median per image, batch 1");
        th(r, "Size (MiB)", NULL, "file plus external data");
        th_t(r, "License", "from the model card");
        th_t(r, "Runs locally", "from the model card");
    }
    puts_(r, "</tr></thead><tbody>\n");
    for (size_t i = 0; i < n; i++) {
        const rmodel *m = &r->m[i];
        const cJSON *res = find_result(r, d, i);
        bool failed = skip[i];
        puts_(r, failed ? "<tr class=\"failed\">" : "<tr>");
        td_model(r, m, failed);
        for (size_t c = 0; c < ncols; c++) {
            mval mv = metric(res, mkey(r, cols[c].key));
            const char *why = mv.reason;
            if (failed) {
                mv.v = NAN;
                why = result_error(res, m);
            } else if (!res && !why) why = "no result for this model and dataset";
            td_num(r, mv.v, cols[c].dec, FMT_FIX, mv.lo, mv.hi, why, best[c] == i);
        }
        if (with_eff) {
            td_num(r, m->lat_med, -1, FMT_FIX, NAN, NAN, NULL, best[ncols] == i);
            td_num(r, m->size, -1, FMT_FIX, NAN, NAN, NULL, best[ncols + 1] == i);
            td_text(r, m->license ? m->license : "unknown", NULL);
            puts_(r, "<td class=\"t\"");
            if (m->why) {
                puts_(r, " title=\"");
                esc(r, m->why);
                puts_(r, "\"");
            }
            puts_(r, ">");
            puts_(r, m->runs_locally < 0 ? "n/a" : m->runs_locally ? "yes" : "no");
            puts_(r, "</td>");
        }
        puts_(r, "</tr>\n");
    }
    puts_(r, "</tbody></table></div>\n");
out:
    free(v);
    free(skip);
    free(best);
}

static void skipped_and_timing(rep *r, const rdataset *d)
{
    for (size_t i = 0; i < r->nm; i++) {
        const cJSON *res = find_result(r, d, i);
        const cJSON *sk = jarr(res, "skipped");
        if (!sk) sk = jarr(res, "skipped_images");
        int ns = sk ? cJSON_GetArraySize(sk) : 0;
        double total = jnum(res, "n_skipped");
        if (!isfinite(total) || total < ns) total = ns;
        if (total <= 0) continue;
        char tb[48];
        puts_(r, "<details><summary>");
        esc(r, r->m[i].name);
        ev_buf_printf(r->h, ": %s image%s could not be embedded</summary><ul>",
                      ev_fmt_num(tb, sizeof tb, total, 0), total == 1 ? "" : "s");
        int shown = 0;
        const cJSON *it;
        cJSON_ArrayForEach(it, sk)
        {
            if (shown == 100) break;
            shown++;
            puts_(r, "<li>");
            if (cJSON_IsString(it)) esc(r, it->valuestring);
            else {
                const char *p = jstr(it, "name"), *why = jstr(it, "reason");
                const char *set = jstr(it, "set");
                if (!p) p = jstr(it, "path");
                if (!why) why = jstr(it, "error");
                if (set) {
                    esc(r, set);
                    puts_(r, ": ");
                }
                esc(r, p ? p : "(unknown item)");
                if (why) {
                    puts_(r, ": ");
                    esc(r, why);
                }
            }
            puts_(r, "</li>");
        }
        if (total > shown)
            ev_buf_printf(r->h, "<li>\xE2\x80\xA6 and %s more</li>",
                          ev_fmt_num(tb, sizeof tb, total - shown, 0));
        puts_(r, "</ul></details>\n");
    }
}

static void dataset_section(rep *r, size_t di)
{
    const rdataset *d = &r->d[di];
    ev_buf_printf(r->h, "<section id=\"ds-%zu\"><h2>Dataset: ", di + 1);
    esc(r, d->name ? d->name : "(unnamed)");
    puts_(r, "</h2>\n");
    /* one line of the facts that matter, the rest folded away */
    char b[48];
    const cJSON *proto = jget(d->j, "protocol");
    double nq = jnum(d->j, "n_queries"), nmem = jnum(d->j, "n_memory");
    double ncl = jnum(d->j, "n_classes");
    if (!isfinite(ncl) && d->n_classes) ncl = (double)d->n_classes;
    puts_(r, "<p class=\"meta\">");
    ev_buf_printf(r->h, "<span>%s classes</span>", ev_fmt_num(b, sizeof b, ncl, 0));
    ev_buf_printf(r->h, "<span>%s queries", ev_fmt_num(b, sizeof b, nq, 0));
    if (jstr(proto, "queries")) {
        puts_(r, " (");
        esc(r, jstr(proto, "queries"));
        puts_(r, ")");
    }
    puts_(r, "</span>");
    if (isfinite(nmem) && nmem > 0) {
        ev_buf_printf(r->h, "<span>%s memory items", ev_fmt_num(b, sizeof b, nmem, 0));
        if (jstr(proto, "memory")) {
            puts_(r, " (");
            esc(r, jstr(proto, "memory"));
            puts_(r, ")");
        }
        puts_(r, "</span>");
    }
    static const char *const pk[] = {"retrieval", "knn", "linear_probe"};
    static const char *const pn[] = {"retrieval", "k-NN", "linear probe"};
    for (int k = 0; k < 3; k++) {
        const cJSON *pv = jget(proto, pk[k]);
        if (!pv) continue;
        ev_buf_printf(r->h, "<span>%s: ", pn[k]);
        if (cJSON_IsString(pv)) esc(r, pv->valuestring);
        else puts_(r, "not run");
        puts_(r, "</span>");
    }
    puts_(r, "</p>\n<details><summary>Dataset details</summary>");
    static const char *const skip[] = {"name",    "classes", "class_names", "results",
                                       "choose",  "warnings", NULL};
    kv_list(r, d->j, skip);
    if (d->n_classes) {
        ev_buf_printf(r->h, "<p><b>%zu class%s:</b> ", d->n_classes,
                      d->n_classes == 1 ? "" : "es");
        for (size_t c = 0; c < d->n_classes; c++) {
            if (c) puts_(r, ", ");
            esc(r, d->classes[c]);
        }
        puts_(r, "</p>");
    }
    puts_(r, "</details>\n");
    string_list(r, jarr(d->j, "warnings"), "Dataset warnings", "details");
    puts_(r, "<h3>Main table</h3>\n");
    metric_table(r, d, MAIN_COLS, sizeof MAIN_COLS / sizeof MAIN_COLS[0], true);
    puts_(r, "<p class=\"meta\">Click a column header to sort. Bold: best in the column. "
             "Small numbers under a value: 95% bootstrap confidence interval. "
             "Hover n/a for the reason.</p>\n");

    char f1[96], f2[96], f3[96], f4[96], f5[96];
    snprintf(f1, sizeof f1, "quality-%s.svg", d->slug);
    snprintf(f2, sizeof f2, "accuracy-%s.svg", d->slug);
    snprintf(f3, sizeof f3, "silhouette-%s.svg", d->slug);
    snprintf(f4, sizeof f4, "quality-latency-%s.svg", d->slug);
    snprintf(f5, sizeof f5, "per-class-recall-%s.svg", d->slug);
    puts_(r, "<div class=\"charts\">\n");
    static const char *const qk[] = {"map", "recall_at_1", "recall_at_5"};
    static const char *const qn[] = {"mAP", "R@1", "R@5"};
    metric_bars(r, d, f1, "Retrieval quality", "score (0\xE2\x80\x93" "1)", 3, qk, qn, true,
                "mAP, Recall@1 and Recall@5 (hit rate); whiskers: 95% bootstrap CI.", NULL);
    static const char *const ak[] = {"knn_K_accuracy", "linear_probe_accuracy"};
    char knn_name[48], knn_cap[160];
    snprintf(knn_name, sizeof knn_name, "weighted %d-NN", r->knn_k);
    snprintf(knn_cap, sizeof knn_cap,
             "Weighted %d-NN vote and a linear probe on frozen embeddings; whiskers: 95%% "
             "bootstrap CI.", r->knn_k);
    const char *const an[] = {knn_name, "linear probe"};
    metric_bars(r, d, f2, "Classification accuracy", "top-1 accuracy (0\xE2\x80\x93" "1)", 2, ak,
                an, true, knn_cap, NULL);
    static const char *const sk[] = {"silhouette"};
    static const char *const sn[] = {"silhouette"};
    metric_bars(r, d, f3, "Silhouette (cosine)", "silhouette (\xE2\x88\x92" "1 to 1)", 1, sk, sn,
                false, "Cluster separation of the classes; the axis is at zero, negative means "
                       "items sit closer to another class.",
                NULL);
    scatter(r, d, f4);
    heatmap(r, d, f5);
    puts_(r, "</div>\n");

    puts_(r, "<h3>More metrics</h3>\n");
    metric_table(r, d, MORE_COLS, sizeof MORE_COLS / sizeof MORE_COLS[0], false);
    skipped_and_timing(r, d);
    puts_(r, "</section>\n");
}

static void efficiency_section(rep *r)
{
    puts_(r, "<section id=\"efficiency\"><h2>Efficiency</h2>\n");
    size_t n = r->nm;
    double *v = calloc(n + 1, sizeof *v);
    bool *skip = calloc(n + 1, sizeof *skip);
    if (!v || !skip) {
        r->h->failed = true;
        free(v);
        free(skip);
        return;
    }
    for (size_t i = 0; i < n; i++) v[i] = r->m[i].lat_med;
    size_t b_lat = best_of(n, v, skip, -1);
    for (size_t i = 0; i < n; i++) v[i] = r->m[i].thr;
    size_t b_thr = best_of(n, v, skip, 1);
    for (size_t i = 0; i < n; i++) v[i] = r->m[i].size;
    size_t b_size = best_of(n, v, skip, -1);
    puts_(r, "<div class=\"scroll\"><table class=\"sortable\"><thead><tr>");
    th(r, "Model", NULL, NULL);
    th(r, "p50 (ms)", NULL, "median latency per image, batch 1");
    th(r, "p90 (ms)", NULL, NULL);
    th(r, "p99 (ms)", NULL, NULL);
    th(r, "min (ms)", NULL, NULL);
    th(r, "Throughput (img/s)", "descending", "images per second at the benchmark batch size");
    th(r, "Load (ms)", NULL, "cold model load");
    th(r, "Peak RSS (MiB)", NULL, "peak resident memory during inference");
    th(r, "Size (MiB)", NULL, NULL);
    th(r, "Params", NULL, "elements of all float initializers");
    th(r, "MACs", NULL, "multiply-accumulates per image (Conv, Gemm, MatMul)");
    puts_(r, "</tr></thead><tbody>\n");
    for (size_t i = 0; i < n; i++) {
        const rmodel *m = &r->m[i];
        puts_(r, m->failed ? "<tr class=\"failed\">" : "<tr>");
        td_model(r, m, m->failed);
        td_num(r, m->lat_med, -1, FMT_FIX, NAN, NAN, NULL, b_lat == i);
        td_num(r, m->lat_p90, -1, FMT_FIX, NAN, NAN, NULL, false);
        td_num(r, m->lat_p99, -1, FMT_FIX, NAN, NAN, NULL, false);
        td_num(r, m->lat_min, -1, FMT_FIX, NAN, NAN, NULL, false);
        td_num(r, m->thr, 0, FMT_FIX, NAN, NAN, NULL, b_thr == i);
        td_num(r, m->load, 0, FMT_FIX, NAN, NAN, NULL, false);
        td_num(r, m->rss, 0, FMT_FIX, NAN, NAN, NULL, false);
        td_num(r, m->size, -1, FMT_FIX, NAN, NAN, NULL, b_size == i);
        td_num(r, m->params, 0, FMT_SI, NAN, NAN, NULL, false);
        td_num(r, m->macs, 0, FMT_SI, NAN, NAN, NULL, false);
        puts_(r, "</tr>\n");
    }
    puts_(r, "</tbody></table></div>\n<div class=\"charts\">\n");
    efficiency_charts(r);
    puts_(r, "</div></section>\n");
    free(v);
    free(skip);
}

static void models_section(rep *r)
{
    puts_(r, "<section id=\"models\"><h2>Models</h2>\n<div class=\"scroll\"><table "
             "class=\"sortable\"><thead><tr>");
    th(r, "Model", NULL, NULL);
    th_t(r, "File", NULL);
    th_t(r, "License", NULL);
    th_t(r, "Runs locally", NULL);
    th_t(r, "Weights", "provenance of the weights (from the model card)");
    th_t(r, "Status", NULL);
    puts_(r, "</tr></thead><tbody>\n");
    for (size_t i = 0; i < r->nm; i++) {
        const rmodel *m = &r->m[i];
        puts_(r, m->failed ? "<tr class=\"failed\">" : "<tr>");
        td_model(r, m, m->failed);
        td_text(r, m->file, NULL);
        td_text(r, m->license ? m->license : "unknown", NULL);
        puts_(r, "<td class=\"t wrap\">");
        puts_(r, m->runs_locally < 0 ? "n/a" : m->runs_locally ? "yes" : "no");
        if (m->why) {
            puts_(r, ": ");
            esc(r, m->why);
        }
        puts_(r, "</td>");
        td_text(r, m->weights, "t wrap");
        puts_(r, "<td class=\"t wrap\">");
        if (m->failed) {
            puts_(r, "failed");
            if (m->error) {
                puts_(r, ": ");
                esc(r, m->error);
            }
        } else {
            esc(r, m->status ? m->status : "ok");
        }
        puts_(r, "</td></tr>\n");
    }
    puts_(r, "</tbody></table></div></section>\n");
}

/* index of the model named s, or SIZE_MAX */
static size_t model_index(const rep *r, const char *s)
{
    if (!s) return SIZE_MAX;
    for (size_t i = 0; i < r->nm; i++)
        if (strcmp(r->m[i].name, s) == 0) return i;
    return SIZE_MAX;
}

static void name_with_tag(rep *r, size_t i)
{
    esc(r, r->m[i].name);
    if (r->m[i].random) puts_(r, " <span class=\"tag rand\">random-init</span>");
}

/* "How to choose" per dataset (the run's datasets[d].choose when present,
 * else computed here the same way) and the mean rank across datasets. */
static void summary_section(rep *r)
{
    puts_(r, "<section id=\"summary\"><h2>How to choose</h2>\n");
    size_t n = r->nm;
    double *v = calloc(n + 1, sizeof *v), *x = calloc(n + 1, sizeof *x),
           *sz = calloc(n + 1, sizeof *sz);
    bool *skip = calloc(n + 1, sizeof *skip), *front = calloc(n + 1, sizeof *front);
    double *rank_sum = calloc(n + 1, sizeof *rank_sum);
    size_t *rank_n = calloc(n + 1, sizeof *rank_n);
    size_t *order = calloc(n + 1, sizeof *order);
    if (!v || !x || !sz || !skip || !front || !rank_sum || !rank_n || !order) {
        r->h->failed = true;
        goto out;
    }
    char b[48];
    for (size_t di = 0; di < r->nd; di++) {
        const rdataset *d = &r->d[di];
        const cJSON *ch = jget(d->j, "choose");
        const char *qkey = jstr(ch, "quality_metric");
        if (!qkey) qkey = "map";
        for (size_t i = 0; i < n; i++) {
            const cJSON *res = find_result(r, d, i);
            skip[i] = result_failed(res, &r->m[i]) || !res;
            v[i] = skip[i] ? NAN : metric(res, qkey).v;
            x[i] = skip[i] || !(r->m[i].lat_med > 0) ? NAN : r->m[i].lat_med;
            sz[i] = skip[i] ? NAN : r->m[i].size;
        }
        /* fallback mean rank by mAP (1 = best; ties share the mean rank) */
        for (size_t i = 0; i < n; i++) {
            if (!isfinite(v[i])) continue;
            size_t better = 0, equal = 0;
            for (size_t j = 0; j < n; j++) {
                if (!isfinite(v[j])) continue;
                if (v[j] > v[i]) better++;
                else if (v[j] == v[i]) equal++;
            }
            rank_sum[i] += (double)better + (1.0 + (double)equal) / 2.0;
            rank_n[i]++;
        }
        if (r->nd > 1) {
            puts_(r, "<h3>");
            esc(r, d->name ? d->name : "(unnamed)");
            puts_(r, "</h3>");
        }
        size_t bq, bf, bs, nf = 0;
        if (cJSON_IsObject(ch)) {
            bq = model_index(r, jstr(ch, "best_quality"));
            bf = model_index(r, jstr(ch, "fastest"));
            bs = model_index(r, jstr(ch, "smallest"));
            const cJSON *it;
            cJSON_ArrayForEach(it, jarr(ch, "pareto"))
            {
                size_t k = cJSON_IsString(it) ? model_index(r, it->valuestring) : SIZE_MAX;
                if (k != SIZE_MAX && nf < n) order[nf++] = k;
            }
        } else {
            bq = best_of(n, v, skip, 1);
            bf = best_of(n, x, skip, -1);
            bs = best_of(n, sz, skip, -1);
            ev_pareto_front(n, x, v, front);
            /* front members by latency */
            for (;;) {
                size_t pick = SIZE_MAX;
                for (size_t i = 0; i < n; i++)
                    if (front[i] && (pick == SIZE_MAX || x[i] < x[pick])) pick = i;
                if (pick == SIZE_MAX) break;
                front[pick] = false;
                order[nf++] = pick;
            }
        }
        puts_(r, "<ul><li><b>Best quality (");
        esc(r, strcmp(qkey, "map") == 0 ? "mAP" : qkey);
        puts_(r, "):</b> ");
        if (bq == SIZE_MAX) puts_(r, "n/a");
        else {
            name_with_tag(r, bq);
            ev_buf_printf(r->h, " (%s)", ev_fmt_num(b, sizeof b, v[bq], 3));
        }
        puts_(r, "</li><li><b>Fastest:</b> ");
        if (bf == SIZE_MAX) puts_(r, "n/a");
        else {
            name_with_tag(r, bf);
            ev_buf_printf(r->h, " (%s ms median)", ev_fmt_num(b, sizeof b, r->m[bf].lat_med, -1));
        }
        puts_(r, "</li><li><b>Smallest:</b> ");
        if (bs == SIZE_MAX) puts_(r, "n/a");
        else {
            name_with_tag(r, bs);
            ev_buf_printf(r->h, " (%s MiB)", ev_fmt_num(b, sizeof b, r->m[bs].size, -1));
        }
        puts_(r, "</li><li><b>Quality/latency Pareto set</b> (fastest first; no other model is "
                 "both faster and better): ");
        for (size_t k = 0; k < nf; k++) {
            size_t i = order[k];
            if (k) puts_(r, "; ");
            name_with_tag(r, i);
            ev_buf_printf(r->h, " (%s ", ev_fmt_num(b, sizeof b, v[i], 3));
            ev_buf_printf(r->h, "at %s ms)", ev_fmt_num(b, sizeof b, r->m[i].lat_med, -1));
        }
        if (!nf) puts_(r, "n/a");
        puts_(r, "</li></ul>\n");
    }
    if (r->nd > 1) {
        const cJSON *mr = jget(r->root, "mean_rank");
        const cJSON *mrm = jarr(mr, "models");
        const char *mkey_ = jstr(mr, "metric");
        puts_(r, "<h3>Mean rank across datasets (by ");
        esc(r, mrm ? (mkey_ ? mkey_ : "map") : "map");
        puts_(r, ", 1 = best)</h3><div class=\"scroll\"><table class=\"sortable\"><thead><tr>");
        th(r, "Model", NULL, NULL);
        th(r, "Mean rank", NULL, "mean over the datasets where the model was ranked");
        for (size_t di = 0; di < r->nd; di++) th(r, r->d[di].name ? r->d[di].name : "?", NULL, NULL);
        puts_(r, "</tr></thead><tbody>\n");
        for (size_t i = 0; i < n; i++) {
            puts_(r, "<tr>");
            td_model(r, &r->m[i], r->m[i].failed);
            const cJSON *row = NULL, *it;
            cJSON_ArrayForEach(it, mrm)
            {
                const char *mn = jstr(it, "model");
                if (mn && strcmp(mn, r->m[i].name) == 0) row = it;
            }
            if (mrm) {
                td_num(r, jnum(row, "mean_rank"), 2, FMT_FIX, NAN, NAN, "not ranked", false);
                const cJSON *ranks = jarr(row, "ranks");
                for (size_t di = 0; di < r->nd; di++)
                    td_num(r, ranks && di < (size_t)INT_MAX ? jval(cJSON_GetArrayItem(ranks, (int)di)) : NAN,
                           1, FMT_FIX, NAN, NAN, "not ranked", false);
            } else {
                td_num(r, rank_n[i] ? rank_sum[i] / (double)rank_n[i] : NAN, 2, FMT_FIX, NAN, NAN,
                       "no dataset with a mAP", false);
                for (size_t di = 0; di < r->nd; di++)
                    td_num(r, jnum(find_result(r, &r->d[di], i), "rank"), 1, FMT_FIX, NAN, NAN,
                           "not ranked", false);
            }
            puts_(r, "</tr>\n");
        }
        puts_(r, "</tbody></table></div>\n");
    }
    puts_(r, "</section>\n");
out:
    free(v);
    free(x);
    free(sz);
    free(skip);
    free(front);
    free(rank_sum);
    free(rank_n);
    free(order);
}

static void notices(rep *r)
{
    size_t nrand = 0, nfail = 0;
    for (size_t i = 0; i < r->nm; i++) {
        nrand += r->m[i].random;
        nfail += r->m[i].failed;
    }
    const cJSON *notes = jarr(r->root, "notes"), *it;
    int nnotes = 0;
    cJSON_ArrayForEach(it, notes) nnotes += cJSON_IsString(it);
    if (nnotes) {
        /* the run's own notes (they include the random-init notice) */
        puts_(r, "<div class=\"note\"><b>Notes</b><ul>");
        bool said = false;
        cJSON_ArrayForEach(it, notes) said |= cJSON_IsString(it) && contains_ci(it->valuestring, "random");
        if (nrand)
            puts_(r, said ? "<li><span class=\"tag rand\">random-init</span> (\xE2\x80\xA0 in the "
                            "charts) marks the models with random-init weights.</li>"
                          : "<li><span class=\"tag rand\">random-init</span> (\xE2\x80\xA0 in the "
                            "charts) marks models with random-init weights: their quality columns "
                            "are a random-feature baseline, their efficiency columns are "
                            "exact.</li>");
        cJSON_ArrayForEach(it, notes)
        {
            if (!cJSON_IsString(it)) continue;
            puts_(r, "<li>");
            esc(r, it->valuestring);
            puts_(r, "</li>");
        }
        puts_(r, "</ul></div>\n");
    } else if (nrand) {
        puts_(r, "<div class=\"note\"><b>Random-init weights.</b> ");
        ev_buf_printf(r->h, "%zu model%s ", nrand, nrand == 1 ? "" : "s");
        puts_(r, "marked <span class=\"tag rand\">random-init</span> (\xE2\x80\xA0 in the charts) "
                 "have no pretrained weights on this machine: their latency, size, parameter and "
                 "MAC numbers are exact for the architecture, their quality numbers are a "
                 "random-feature baseline. Put real weights in the same ONNX file to get real "
                 "numbers.</div>\n");
    }
    if (nfail) {
        puts_(r, "<div class=\"note bad\"><b>Failed models.</b> These models could not be "
                 "evaluated; the other models are not affected.<ul>");
        for (size_t i = 0; i < r->nm; i++) {
            if (!r->m[i].failed) continue;
            puts_(r, "<li><b>");
            esc(r, r->m[i].name);
            puts_(r, "</b>");
            const char *phase = jstr(r->m[i].j, "error_phase");
            if (phase) {
                puts_(r, " (");
                esc(r, phase);
                puts_(r, ")");
            }
            puts_(r, ": ");
            esc(r, r->m[i].error ? r->m[i].error : "no error message");
            puts_(r, "</li>");
        }
        puts_(r, "</ul></div>\n");
    }
    string_list(r, jarr(r->root, "warnings"), "Warnings", "details");
    /* results that failed for a model that otherwise worked */
    bool open = false;
    for (size_t di = 0; di < r->nd; di++)
        for (size_t i = 0; i < r->nm; i++) {
            if (r->m[i].failed) continue;
            const cJSON *res = find_result(r, &r->d[di], i);
            if (!result_failed(res, &r->m[i])) continue;
            if (!open) puts_(r, "<div class=\"note bad\"><b>Failed evaluations.</b><ul>");
            open = true;
            puts_(r, "<li><b>");
            esc(r, r->m[i].name);
            puts_(r, "</b> on ");
            esc(r, r->d[di].name);
            puts_(r, ": ");
            esc(r, result_error(res, &r->m[i]) ? result_error(res, &r->m[i]) : "no error message");
            puts_(r, "</li>");
        }
    if (open) puts_(r, "</ul></div>\n");
}

/* ---- entry points ------------------------------------------------------- */

static ev_status read_report(rep *r)
{
    const cJSON *models = jarr(r->root, "models"), *datasets = jarr(r->root, "datasets");
    int nm = models ? cJSON_GetArraySize(models) : 0;
    int nd = datasets ? cJSON_GetArraySize(datasets) : 0;
    r->nm = (size_t)nm;
    r->nd = (size_t)nd;
    double kk = jnum(jget(r->root, "settings"), "knn_k");
    r->knn_k = isfinite(kk) && kk >= 1 && kk <= 1e6 ? (int)kk : 20;
    snprintf(r->acc_key, sizeof r->acc_key, "knn_%d_accuracy", r->knn_k);
    r->m = calloc(r->nm + 1, sizeof *r->m);
    r->d = calloc(r->nd + 1, sizeof *r->d);
    if (!r->m || !r->d) return ev_err_set(r->err, EV_ERR_NOMEM, "report: out of memory");
    size_t i = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, models) read_model(&r->m[i++], it);
    i = 0;
    cJSON_ArrayForEach(it, datasets)
    {
        rdataset *d = &r->d[i];
        d->j = it;
        d->name = jstr(it, "name");
        make_slug(d->slug, sizeof d->slug, d->name);
        for (size_t k = 0; k < i; k++)
            if (strcmp(r->d[k].slug, d->slug) == 0) {
                size_t l = strlen(d->slug);
                snprintf(d->slug + l, sizeof d->slug - l, "-%zu", i + 1);
                break;
            }
        const cJSON *cl = jarr(it, "class_names");
        if (!cl) cl = jarr(it, "classes");
        int nc = cl ? cJSON_GetArraySize(cl) : 0;
        if (nc > 0) {
            d->classes = calloc((size_t)nc, sizeof *d->classes);
            if (!d->classes) return ev_err_set(r->err, EV_ERR_NOMEM, "report: out of memory");
            const cJSON *c;
            cJSON_ArrayForEach(c, cl)
            {
                /* a class may be a string or {"name": ...} */
                const char *s = cJSON_IsString(c) ? c->valuestring : jstr(c, "name");
                d->classes[d->n_classes++] = s ? s : "(unnamed)";
            }
        }
        i++;
    }
    return EV_OK;
}

/* command line, settings, machine */
static void run_section(rep *r)
{
    puts_(r, "<section id=\"run\"><h2>Run</h2>\n");
    const cJSON *cmd = jarr(r->root, "command"), *it;
    if (cmd && cJSON_GetArraySize(cmd) > 0) {
        puts_(r, "<p>Command: <code>");
        int n = 0;
        cJSON_ArrayForEach(it, cmd)
        {
            if (!cJSON_IsString(it)) continue;
            if (n++) puts_(r, " ");
            esc(r, it->valuestring);
        }
        puts_(r, "</code></p>\n");
    }
    const char *version = jstr(r->root, "embeval_version");
    double sv = jnum(r->root, "schema_version");
    char b[48];
    puts_(r, "<dl class=\"kv\"><dt>embeval</dt><dd>");
    esc(r, version ? version : "n/a");
    ev_buf_printf(r->h, "</dd><dt>report schema</dt><dd>%s</dd></dl>\n",
                  ev_fmt_num(b, sizeof b, sv, 0));
    const cJSON *set = jget(r->root, "settings");
    if (cJSON_IsObject(set)) {
        puts_(r, "<h3>Settings</h3>\n");
        kv_list(r, set, NULL);
    }
    puts_(r, "<h3>Machine</h3>\n");
    const cJSON *mach = jget(r->root, "machine");
    if (cJSON_IsObject(mach)) kv_list(r, mach, NULL);
    else puts_(r, "<p>n/a</p>");
    puts_(r, "</section>\n");
}

static void free_report(rep *r)
{
    for (size_t i = 0; i < r->nd; i++) free(r->d[i].classes);
    free(r->d);
    free(r->m);
}

ev_status ev_report_render_html(const cJSON *report, ev_buf *html, ev_report_chart_fn chart_fn,
                                void *user, ev_err *err)
{
    if (!cJSON_IsObject(report))
        return ev_err_set(err, EV_ERR_FORMAT, "report: the document is not a JSON object");
    const char *schema = jstr(report, "schema");
    if (schema && strcmp(schema, "embeval.report") != 0)
        return ev_err_set(err, EV_ERR_FORMAT, "report: \"schema\" is not \"embeval.report\"");
    double version_num = jnum(report, "schema_version");
    if (isfinite(version_num) && version_num > EV_HTML_SCHEMA_VERSION)
        return ev_err_set(err, EV_ERR_UNSUPPORTED,
                          "report: schema_version %.0f is newer than this embeval reads (%d)",
                          version_num, EV_HTML_SCHEMA_VERSION);
    rep r = {.root = report, .h = html, .chart_fn = chart_fn, .user = user, .err = err};
    ev_status st = read_report(&r);
    if (st != EV_OK) {
        free_report(&r);
        return st;
    }
    const char *created = jstr(report, "created_utc");
    if (!created) created = jstr(report, "created");
    const char *version = jstr(report, "embeval_version");

    puts_(&r, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n");
    ev_buf_printf(html,
                  "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
                  "style-src 'unsafe-inline'; img-src data:; script-src '%s'; base-uri 'none'; "
                  "form-action 'none'\"/>\n",
                  ev_report_html_script_hash);
    puts_(&r, "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\n"
              "<meta name=\"color-scheme\" content=\"light\"/>\n<meta name=\"generator\" "
              "content=\"embeval\"/>\n<title>embeval report");
    if (r.nd) {
        puts_(&r, ": ");
        for (size_t i = 0; i < r.nd; i++) {
            if (i) puts_(&r, ", ");
            esc(&r, r.d[i].name);
        }
    }
    puts_(&r, "</title>\n<style>\n");
    puts_(&r, CSS);
    puts_(&r, "</style>\n</head>\n<body>\n<header>\n<h1>embeval report</h1>\n<p class=\"meta\">");
    ev_buf_printf(html, "<span>%zu model%s</span><span>%zu dataset%s</span>", r.nm,
                  r.nm == 1 ? "" : "s", r.nd, r.nd == 1 ? "" : "s");
    if (created) {
        puts_(&r, "<span>created ");
        esc(&r, created);
        puts_(&r, "</span>");
    }
    puts_(&r, "<span>embeval ");
    esc(&r, version ? version : "(version unknown)");
    puts_(&r, "</span>");
    char b[48];
    double total_s = jnum(jget(report, "timing"), "total_s");
    if (isfinite(total_s))
        ev_buf_printf(html, "<span>run time %s s</span>", ev_fmt_num(b, sizeof b, total_s, 1));
    const char *status = jstr(report, "status");
    if (status) {
        puts_(&r, strcmp(status, "ok") == 0 ? "<span>status ok</span>"
                                             : "<span class=\"tag fail\">status ");
        if (strcmp(status, "ok") != 0) {
            esc(&r, status);
            puts_(&r, "</span>");
        }
    }
    puts_(&r, "</p>\n<nav>");
    for (size_t i = 0; i < r.nd; i++) {
        ev_buf_printf(html, "<a href=\"#ds-%zu\">", i + 1);
        esc(&r, r.d[i].name ? r.d[i].name : "(unnamed)");
        puts_(&r, "</a>");
    }
    puts_(&r, "<a href=\"#summary\">How to choose</a><a href=\"#efficiency\">Efficiency</a>"
              "<a href=\"#models\">Models</a><a href=\"#run\">Run</a></nav>\n");
    notices(&r);
    puts_(&r, "</header>\n<main>\n");
    if (r.nm == 0)
        puts_(&r, "<section><p>This report has no models.</p></section>\n");
    if (r.nd == 0)
        puts_(&r, "<section><p>This report has no datasets.</p></section>\n");
    for (size_t i = 0; i < r.nd && !html->failed && r.st == EV_OK; i++) dataset_section(&r, i);
    summary_section(&r);
    efficiency_section(&r);
    models_section(&r);
    run_section(&r);
    puts_(&r, "</main>\n<footer><p>Generated by embeval. Metric definitions: "
              "docs/METRICS.md in the embeval sources. Retrieval uses cosine similarity on "
              "L2-normalised embeddings; Recall@K is the hit rate (at least one relevant item "
              "in the top K); Precision@K is the relevant share of the top K. Confidence "
              "intervals: 95% bootstrap over queries (retrieval) or test items "
              "(classification). Latency: inference only, batch 1.</p></footer>\n<script>");
    puts_(&r, ev_report_html_script);
    puts_(&r, "</script>\n</body>\n</html>\n");
    free_report(&r);
    if (r.st != EV_OK) return r.st;
    if (html->failed)
        return ev_err_set(err, EV_ERR_NOMEM, "report.html: out of memory or over %u MiB",
                          HTML_MAX >> 20);
    return EV_OK;
}

typedef struct dir_ctx {
    const char *charts_dir;
} dir_ctx;

static ev_status write_chart(void *user, const char *file_name, const char *svg, size_t len,
                             ev_err *err)
{
    dir_ctx *c = user;
    size_t n = strlen(c->charts_dir) + strlen(file_name) + 2;
    char *path = malloc(n);
    if (!path) return ev_err_set(err, EV_ERR_NOMEM, "out of memory");
    snprintf(path, n, "%s/%s", c->charts_dir, file_name);
    ev_status st = ev_write_file_atomic(path, svg, len, err);
    free(path);
    return st;
}

ev_status ev_report_write_html_json(const cJSON *report, const char *out_dir, ev_err *err)
{
    if (!out_dir || !*out_dir)
        return ev_err_set(err, EV_ERR_INVALID_ARG, "report.html: no output directory");
    size_t n = strlen(out_dir) + 32;
    char *charts = malloc(n), *page = malloc(n);
    if (!charts || !page) {
        free(charts);
        free(page);
        return ev_err_set(err, EV_ERR_NOMEM, "out of memory");
    }
    snprintf(charts, n, "%s/charts", out_dir);
    snprintf(page, n, "%s/report.html", out_dir);
    ev_status st = EV_OK;
    struct stat cst;
    if (mkdir(charts, 0755) != 0 && errno != EEXIST)
        st = ev_err_set(err, EV_ERR_IO, "cannot create %s: %s", charts, strerror(errno));
    else if (lstat(charts, &cst) != 0 || !S_ISDIR(cst.st_mode))
        /* never write through a symlink (or into anything but our own
         * directory) out of the output directory */
        st = ev_err_set(err, EV_ERR_IO, "%s exists and is not a directory (a symlink?): remove it", charts);
    ev_buf h;
    ev_buf_init(&h, HTML_MAX);
    if (st == EV_OK) {
        dir_ctx ctx = {charts};
        st = ev_report_render_html(report, &h, write_chart, &ctx, err);
    }
    if (st == EV_OK) st = ev_write_file_atomic(page, h.data, h.len, err);
    ev_buf_free(&h);
    free(charts);
    free(page);
    return st;
}

ev_status ev_report_write_html(const char *report_json_text, const char *out_dir, ev_err *err)
{
    if (!report_json_text)
        return ev_err_set(err, EV_ERR_INVALID_ARG, "report.html: no report JSON");
    cJSON *root = cJSON_Parse(report_json_text);
    if (!root) {
        const char *at = cJSON_GetErrorPtr();
        size_t off = at && at >= report_json_text ? (size_t)(at - report_json_text) : 0;
        return ev_err_set(err, EV_ERR_FORMAT, "report JSON: invalid JSON near byte %zu", off);
    }
    ev_status st = ev_report_write_html_json(root, out_dir, err);
    cJSON_Delete(root);
    return st;
}

