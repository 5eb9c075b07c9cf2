/*
 * tests/html/html_tool.c — driver for the HTML report tests.
 *
 *   html_tool unit OUT_DIR          C-level checks of the escaper, number
 *                                   formatting and Pareto front; writes SVG
 *                                   charts of tricky data to OUT_DIR/unit-*.svg
 *                                   (check_xml.py parses them afterwards)
 *   html_tool render REPORT.json OUT_DIR
 *                                   ev_report_write_html (exit 1 on failure)
 */
#include <errno.h>
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "report/html.h"
#include "report/svg.h"

static int failures;

#define CHECK(cond)                                                                            \
    do {                                                                                       \
        if (!(cond)) {                                                                         \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);           \
            failures++;                                                                        \
        }                                                                                      \
    } while (0)

static void check_esc(const char *in, const char *want)
{
    ev_buf b;
    ev_buf_init(&b, 0);
    CHECK(ev_xml_escape(&b, in));
    const char *got = b.data ? b.data : "";
    if (strcmp(got, want) != 0) {
        fprintf(stderr, "escape: got [%s] want [%s]\n", got, want);
        failures++;
    }
    ev_buf_free(&b);
}

static void check_trunc(const char *in, size_t max, const char *want)
{
    ev_buf b;
    ev_buf_init(&b, 0);
    CHECK(ev_xml_escape_trunc(&b, in, max));
    const char *got = b.data ? b.data : "";
    if (strcmp(got, want) != 0) {
        fprintf(stderr, "escape_trunc(%zu): got [%s] want [%s]\n", max, got, want);
        failures++;
    }
    ev_buf_free(&b);
}

static void check_str(const char *got, const char *want, const char *what)
{
    if (strcmp(got, want) != 0) {
        fprintf(stderr, "%s: got [%s] want [%s]\n", what, got, want);
        failures++;
    }
}

#define FFFD "\xEF\xBF\xBD"
#define EVIL "<img src=x onerror=alert(1)>"

static void unit_escape(void)
{
    check_esc(EVIL, "&lt;img src=x onerror=alert(1)&gt;");
    check_esc("a&b\"c'd", "a&amp;b&quot;c&#39;d");
    check_esc("&amp;", "&amp;amp;");
    check_esc("", "");
    check_esc("Sandale \xE2\x80\x93 \xC3\xA9t\xC3\xA9 \xE2\x9C\x93 \xF0\x9F\x91\x9F",
              "Sandale \xE2\x80\x93 \xC3\xA9t\xC3\xA9 \xE2\x9C\x93 \xF0\x9F\x91\x9F");
    check_esc("tab\there\nnl\rcr", "tab\there\nnl\rcr");
    check_esc("\x01x\x1f\x7f", FFFD "x" FFFD FFFD);
    check_esc("\xC2\x85", FFFD);                 /* C1 control NEL */
    check_esc("a\xFF" "b\xFE", "a" FFFD "b" FFFD);
    check_esc("\xC0\xAF", FFFD FFFD);            /* overlong '/' */
    check_esc("\xE0\x80\xAF", FFFD FFFD FFFD);   /* overlong, 3 bytes */
    check_esc("\xED\xA0\x80", FFFD FFFD FFFD);   /* UTF-16 surrogate */
    check_esc("\xF4\x90\x80\x80", FFFD FFFD FFFD FFFD); /* > U+10FFFF */
    check_esc("\xEF\xBF\xBE", FFFD);             /* U+FFFE */
    check_esc("end\xE2\x82", "end" FFFD FFFD);   /* truncated sequence */
    check_esc("\xE2<", FFFD "&lt;");             /* '<' is not swallowed */
    {
        ev_buf b;
        ev_buf_init(&b, 0);
        CHECK(ev_xml_escape(&b, NULL));
        CHECK(b.len == 0);
        ev_buf_free(&b);
    }
    check_trunc("abcdef", 4, "abc\xE2\x80\xA6");
    check_trunc("abcd", 4, "abcd");
    check_trunc("\xC3\xA9\xC3\xA9\xC3\xA9", 3, "\xC3\xA9\xC3\xA9\xC3\xA9");
    check_trunc("\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9", 3, "\xC3\xA9\xC3\xA9\xE2\x80\xA6");
    check_trunc("<<<<<", 3, "&lt;&lt;\xE2\x80\xA6");
    CHECK(ev_utf8_chars("\xC3\xA9t\xC3\xA9") == 3);
    CHECK(ev_utf8_chars(NULL) == 0);

    /* a capped buffer reports failure instead of writing past its cap */
    ev_buf b;
    ev_buf_init(&b, 16);
    CHECK(!ev_xml_escape(&b, "<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<"));
    CHECK(b.failed);
    ev_buf_free(&b);
}

static void unit_numbers(void)
{
    char buf[64];
    check_str(ev_fmt_num(buf, sizeof buf, NAN, 3), "n/a", "fmt NaN");
    check_str(ev_fmt_num(buf, sizeof buf, INFINITY, 3), "n/a", "fmt inf");
    check_str(ev_fmt_num(buf, sizeof buf, 0.81249, 3), "0.812", "fmt 0.81249");
    check_str(ev_fmt_num(buf, sizeof buf, -0.0001, 3), "0.000", "fmt -0.0001");
    check_str(ev_fmt_num(buf, sizeof buf, -0.25, 2), "-0.25", "fmt -0.25");
    check_str(ev_fmt_coord(buf, sizeof buf, NAN), "0", "coord NaN");
    check_str(ev_fmt_coord(buf, sizeof buf, 1.5), "1.5", "coord 1.5");
    check_str(ev_fmt_coord(buf, sizeof buf, 12.0), "12", "coord 12");
    check_str(ev_fmt_coord(buf, sizeof buf, -0.001), "0", "coord -0.001");
    check_str(ev_fmt_coord(buf, sizeof buf, 1e300), "10000000", "coord huge");
    check_str(ev_fmt_si(buf, sizeof buf, 25557032), "25.6 M", "si 25557032");
    check_str(ev_fmt_si(buf, sizeof buf, 999), "999", "si 999");
    check_str(ev_fmt_si(buf, sizeof buf, 4.09e9), "4.09 G", "si 4.09e9");
    check_str(ev_fmt_si(buf, sizeof buf, 123456), "123 k", "si 123456");
    check_str(ev_fmt_si(buf, sizeof buf, NAN), "n/a", "si NaN");
    /* decimal separator stays '.' under a comma locale (if one is installed) */
    if (setlocale(LC_NUMERIC, "de_DE.UTF-8") || setlocale(LC_NUMERIC, "fr_FR.UTF-8")) {
        check_str(ev_fmt_num(buf, sizeof buf, 0.5, 2), "0.50", "fmt under comma locale");
        check_str(ev_fmt_coord(buf, sizeof buf, 2.25), "2.25", "coord under comma locale");
        setlocale(LC_NUMERIC, "C");
    }
    char col[8];
    bool light;
    ev_svg_seq_color(0, col, &light);
    check_str(col, "#440154", "viridis 0");
    CHECK(!light);
    ev_svg_seq_color(1, col, &light);
    check_str(col, "#fde725", "viridis 1");
    CHECK(light);
    ev_svg_seq_color(NAN, col, &light);
    check_str(col, "#440154", "viridis NaN");
}

static void unit_pareto(void)
{
    double x[] = {1, 2, 3, NAN, 2, 0.5};
    double y[] = {0.5, 0.7, 0.6, 0.9, 0.7, NAN};
    bool f[6];
    size_t n = ev_pareto_front(6, x, y, f);
    CHECK(n == 3);
    CHECK(f[0] && f[1] && !f[2] && !f[3] && f[4] && !f[5]);
    double x2[] = {5};
    double y2[] = {0.1};
    CHECK(ev_pareto_front(1, x2, y2, f) == 1 && f[0]);
    CHECK(ev_pareto_front(0, x2, y2, f) == 0);
}

static int write_svg(const char *dir, const char *name, ev_buf *b)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    ev_err e = {0};
    if (b->failed || !b->data || ev_write_file_atomic(path, b->data, b->len, &e) != EV_OK) {
        fprintf(stderr, "cannot write %s: %s\n", path, e.msg);
        failures++;
        return 1;
    }
    /* no raw non-finite numbers anywhere in the markup */
    static const char *bad[] = {"\"nan", "\"-nan", "\"inf", "\"-inf", " nan", " -nan",
                                ">nan", ">-nan", ">inf", ">-inf", "NaN", "Infinity"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (strstr(b->data, bad[i])) {
            fprintf(stderr, "%s: contains [%s]\n", name, bad[i]);
            failures++;
        }
    CHECK(!strstr(b->data, "<img"));
    return 0;
}

static void unit_charts(const char *dir)
{
    static const ev_svg_item items[] = {
        {EVIL, 0, NULL},
        {"quote \" & amp ' \xC3\xA9t\xC3\xA9", EV_SVG_RANDOM, NULL},
        {"failed-model", EV_SVG_FAILED, "error: <b>bad</b> & \"worse\""},
        {"neg", 0, NULL},
        {"a very long model name that goes on and on and on", 0, NULL},
        {"\xFF\xFE invalid utf8 \x01", EV_SVG_RANDOM, NULL},
    };
    static const char *series[] = {"mAP <x>", "R@1 & co", "R@5"};
    double v[6 * 3] = {0.8, 0.9, 0.95, NAN, 0.2, 0.3, 0.5, 0.5, 0.5, -0.2, -0.05, 0.1,
                       1.0, 1.0, 1.0, 0.0, NAN, INFINITY};
    double lo[6 * 3], hi[6 * 3];
    for (int i = 0; i < 18; i++) {
        lo[i] = v[i] - 0.03;
        hi[i] = v[i] + 0.03;
    }
    lo[4] = NAN;
    ev_buf b;

    ev_svg_bars bars = {.title = "Grouped <bars> & \"CI\"", .axis_label = "score (0\xE2\x80\x93" "1)",
                        .n_items = 6, .items = items, .n_series = 3, .series = series, .v = v,
                        .lo = lo, .hi = hi, .decimals = 3, .fixed_min = 0, .fixed_max = 1,
                        .footnote = "footnote with <angle> & ampersand"};
    ev_buf_init(&b, 0);
    CHECK(ev_svg_bar_chart(&b, &bars));
    CHECK(strstr(b.data, "&lt;img src=x onerror=alert(1)&gt;") != NULL);
    CHECK(strstr(b.data, ">n/a<") != NULL);
    CHECK(strstr(b.data, "failed") != NULL);
    CHECK(strstr(b.data, "&lt;b&gt;bad&lt;/b&gt;") != NULL);   /* error text, escaped */
    CHECK(strstr(b.data, "\xE2\x80\xA0") != NULL);               /* random-init mark */
    CHECK(strstr(b.data, "95% CI") != NULL);
    write_svg(dir, "unit-bars-grouped.svg", &b);
    ev_buf_free(&b);

    /* single series, negative values (silhouette), no fixed range */
    double sil[6] = {0.3, -0.4, NAN, -0.05, 0.0, 0.12};
    static const char *one[] = {"silhouette"};
    ev_svg_bars sb = {.title = "Silhouette", .axis_label = "silhouette", .n_items = 6,
                      .items = items, .n_series = 1, .series = one, .v = sil, .decimals = 3,
                      .fixed_min = NAN, .fixed_max = NAN};
    ev_buf_init(&b, 0);
    CHECK(ev_svg_bar_chart(&b, &sb));
    CHECK(strstr(b.data, ">-0.400<") != NULL);
    CHECK(strstr(b.data, ">-0.4<") != NULL || strstr(b.data, ">-0.5<") != NULL); /* tick < 0 */
    write_svg(dir, "unit-bars-negative.svg", &b);
    ev_buf_free(&b);

    /* latency-style marks, all values NaN, zero items, one item */
    double lat[6] = {1.2, NAN, 3.0, 0.004, 40, 2};
    double p90[6] = {1.3, NAN, 3.3, 0.005, 44, NAN};
    double p99[6] = {1.6, 9, 3.9, NAN, 51, 2.5};
    static const char *med[] = {"median"};
    ev_svg_bars lb = {.title = "Latency", .axis_label = "latency (ms)", .n_items = 6,
                      .items = items, .n_series = 1, .series = med, .v = lat, .mark_a = p90,
                      .mark_b = p99, .mark_a_name = "p90", .mark_b_name = "p99", .decimals = 2,
                      .unit = "ms", .fixed_min = 0, .fixed_max = NAN};
    ev_buf_init(&b, 0);
    CHECK(ev_svg_bar_chart(&b, &lb));
    write_svg(dir, "unit-bars-latency.svg", &b);
    ev_buf_free(&b);

    double allnan[6] = {NAN, NAN, NAN, NAN, NAN, NAN};
    sb.v = allnan;
    ev_buf_init(&b, 0);
    CHECK(ev_svg_bar_chart(&b, &sb));
    write_svg(dir, "unit-bars-allnan.svg", &b);
    ev_buf_free(&b);
    sb.n_items = 0;
    ev_buf_init(&b, 0);
    CHECK(ev_svg_bar_chart(&b, &sb));
    CHECK(strstr(b.data, "no data") != NULL);
    write_svg(dir, "unit-bars-empty.svg", &b);
    ev_buf_free(&b);
    sb.n_items = 1;
    sb.v = sil;
    ev_buf_init(&b, 0);
    CHECK(ev_svg_bar_chart(&b, &sb));
    write_svg(dir, "unit-bars-one.svg", &b);
    ev_buf_free(&b);

    /* scatter: NaN, zero and negative latencies are not plotted */
    double sx[6] = {1.2, 0, 3.0, -1, 40, NAN};
    double sy[6] = {0.8, 0.3, 0.85, 0.2, 0.9, 0.5};
    double sz[6] = {3.7, 11, NAN, 0.001, 335, 1};
    ev_svg_scatter sc = {.title = "Quality vs latency", .x_label = "latency (ms, log)",
                         .y_label = "mAP <q>", .n_items = 6, .items = items, .x = sx, .y = sy,
                         .y_lo = lo, .y_hi = hi, .size = sz, .x_decimals = 2, .y_decimals = 3};
    ev_buf_init(&b, 0);
    CHECK(ev_svg_scatter_chart(&b, &sc));
    CHECK(strstr(b.data, "not plotted") != NULL);
    CHECK(strstr(b.data, "Pareto front") != NULL);
    write_svg(dir, "unit-scatter.svg", &b);
    ev_buf_free(&b);
    sc.x = allnan;
    ev_buf_init(&b, 0);
    CHECK(ev_svg_scatter_chart(&b, &sc));
    CHECK(strstr(b.data, "no data to plot") != NULL);
    write_svg(dir, "unit-scatter-empty.svg", &b);
    ev_buf_free(&b);
    sc.x = sx;
    sc.n_items = 1;
    ev_buf_init(&b, 0);
    CHECK(ev_svg_scatter_chart(&b, &sc));
    write_svg(dir, "unit-scatter-one.svg", &b);
    ev_buf_free(&b);

    /* heat map with hostile class names and n/a cells */
    static const ev_svg_item cls[] = {{EVIL, 0, NULL}, {"Shirt \"& 'tie'\"", 0, NULL},
                                      {"\xC3\xA9t\xC3\xA9 \xE2\x9C\x93", 0, NULL}};
    double hv[6 * 3];
    for (int i = 0; i < 18; i++) hv[i] = (i % 7) / 6.0;
    hv[2] = NAN;
    hv[7] = -0.5;   /* out of range: clamped colour, exact value in the title */
    hv[8] = 1.5;
    ev_svg_heat hm = {.title = "Per-class Recall@1", .value_name = "Recall@1",
                      .row_kind = "model", .col_kind = "class", .n_rows = 6, .n_cols = 3,
                      .rows = items, .cols = cls, .v = hv, .lo = lo, .hi = hi, .count = lo,
                      .decimals = 3};
    ev_buf_init(&b, 0);
    CHECK(ev_svg_heatmap(&b, &hm));
    CHECK(strstr(b.data, "&lt;img src=x onerror=alert(1)&gt;") != NULL);
    write_svg(dir, "unit-heat.svg", &b);
    ev_buf_free(&b);
    hm.n_rows = 0;
    ev_buf_init(&b, 0);
    CHECK(ev_svg_heatmap(&b, &hm));
    write_svg(dir, "unit-heat-empty.svg", &b);
    ev_buf_free(&b);
}

static char *slurp(const char *path)
{
    char *data = NULL;
    size_t len;
    ev_err e = {0};
    if (ev_read_file(path, 64u << 20, &data, &len, &e) != EV_OK) {
        fprintf(stderr, "html_tool: %s\n", e.msg);
        return NULL;
    }
    return data;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "unit") == 0) {
        if (mkdir(argv[2], 0755) != 0 && errno != EEXIST) {
            perror(argv[2]);
            return 1;
        }
        unit_escape();
        unit_numbers();
        unit_pareto();
        unit_charts(argv[2]);
        /* bad input to the entry points */
        ev_err e = {0};
        CHECK(ev_report_write_html("{not json", argv[2], &e) == EV_ERR_FORMAT);
        CHECK(strstr(e.msg, "invalid JSON") != NULL);
        CHECK(ev_report_write_html("[1,2]", argv[2], &e) == EV_ERR_FORMAT);
        CHECK(ev_report_write_html(NULL, argv[2], &e) == EV_ERR_INVALID_ARG);
        CHECK(ev_report_write_html("{}", "/nonexistent/dir/for/html", &e) == EV_ERR_IO);
        CHECK(ev_report_write_html("{\"schema\": \"other\"}", argv[2], &e) == EV_ERR_FORMAT);
        CHECK(ev_report_write_html("{\"schema\": \"embeval.report\", \"schema_version\": 2}",
                                   argv[2], &e) == EV_ERR_UNSUPPORTED);
        CHECK(strstr(e.msg, "newer") != NULL);
        CHECK(ev_report_write_html("{}", argv[2], &e) == EV_OK);
        if (failures) {
            fprintf(stderr, "html_tool unit: %d check(s) failed\n", failures);
            return 1;
        }
        printf("html_tool unit: all checks passed\n");
        return 0;
    }
    if (argc == 4 && strcmp(argv[1], "render") == 0) {
        char *text = slurp(argv[2]);
        if (!text) return 1;
        ev_err e = {0};
        ev_status st = ev_report_write_html(text, argv[3], &e);
        free(text);
        if (st != EV_OK) {
            fprintf(stderr, "html_tool: %s\n", e.msg);
            return 1;
        }
        return 0;
    }
    fprintf(stderr, "usage: html_tool unit OUT_DIR | html_tool render REPORT.json OUT_DIR\n");
    return 2;
}
