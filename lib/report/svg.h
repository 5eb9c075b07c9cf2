/*
 * lib/report/svg.h — SVG charts for the HTML report (internal, not installed).
 *
 * Every chart is written as one complete <svg> element (with xmlns, so the
 * same bytes are a standalone .svg file and an inline SVG inside HTML).
 * Charts use presentation attributes only (no CSS classes, no ids), so
 * several of them can be inlined in one page without clashes.
 *
 * Safety contract: every string that comes from data (model names, class
 * names, errors, ...) goes through ev_xml_escape(); every number goes through
 * ev_fmt_num() / ev_fmt_coord(). Non-finite values (NaN = "missing") are
 * drawn as "n/a", never as a coordinate. The output is well-formed XML even
 * for invalid UTF-8 or control characters in the input strings.
 *
 * All functions append to an ev_buf and return false when the buffer failed
 * (out of memory or over its cap); the buffer's `failed` flag is then set.
 */
#ifndef EV_REPORT_SVG_H
#define EV_REPORT_SVG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/util.h"

/* ---- escaping and number formatting ------------------------------------- */

/* Append s escaped for XML/HTML text and for double- or single-quoted
 * attribute values: & < > " ' become entities. Invalid UTF-8 (including
 * overlong forms and surrogates), U+FFFE/U+FFFF and control characters other
 * than tab/newline/CR become U+FFFD. s == NULL appends nothing. */
bool ev_xml_escape(ev_buf *b, const char *s);

/* Same, but at most max_chars code points; a longer string is cut at a code
 * point boundary and ends with an ellipsis (U+2026). */
bool ev_xml_escape_trunc(ev_buf *b, const char *s, size_t max_chars);

/* Number of code points ev_xml_escape would write for s (for layout). */
size_t ev_utf8_chars(const char *s);

/* Format v with `decimals` digits after the point ("n/a" if not finite).
 * decimals < 0: three significant digits, no exponent (0.00412, 1.18,
 * 38.7, 335, 1234). Always uses '.' as the decimal separator. Returns buf. */
const char *ev_fmt_num(char *buf, size_t n, double v, int decimals);

/* Coordinate for an SVG attribute: 2 decimals, non-finite -> "0". */
const char *ev_fmt_coord(char *buf, size_t n, double v);

/* Human-readable count with an SI suffix: 25557032 -> "25.6 M" ("n/a"). */
const char *ev_fmt_si(char *buf, size_t n, double v);

/* Okabe-Ito colour-blind-safe palette, cycled. */
const char *ev_svg_color(size_t i);

/* Sequential colour for t in [0,1] (viridis, approximated by interpolating
 * 9 stops) as "#rrggbb"; *light is set when dark text reads better on it. */
void ev_svg_seq_color(double t, char out[8], bool *light);

/* ---- chart inputs ------------------------------------------------------- */

enum {
    EV_SVG_FAILED = 1,      /* the model failed: drawn as "failed", note = error */
    EV_SVG_RANDOM = 2       /* random-init weights: drawn hatched/pale, marked † */
};

/* One labelled row (usually a model). */
typedef struct ev_svg_item {
    const char *label;
    int flags;
    const char *note;       /* extra hover text (e.g. the error), may be NULL */
} ev_svg_item;

/* Horizontal (grouped) bar chart: one group per item, one bar per series.
 * Values may be negative (the axis is drawn at zero). */
typedef struct ev_svg_bars {
    const char *title;
    const char *axis_label;         /* value axis, with unit */
    size_t n_items;
    const ev_svg_item *items;
    size_t n_series;                /* >= 1 */
    const char *const *series;      /* legend names [n_series] */
    const double *v;                /* [n_items * n_series], NaN = n/a */
    const double *lo, *hi;          /* CI bounds, same layout, may be NULL */
    const double *mark_a, *mark_b;  /* per-item marks on series 0 (e.g. p90,
                                       p99), may be NULL */
    const char *mark_a_name, *mark_b_name;
    int decimals;
    const char *unit;               /* appended to hover values, may be NULL */
    double fixed_min, fixed_max;    /* NaN = from data; data outside extends */
    const char *footnote;           /* text under the chart, may be NULL */
} ev_svg_bars;

/* Scatter of quality (y) against latency (x, log scale) with point area
 * proportional to size; the Pareto front (lower x, higher y) is drawn. */
typedef struct ev_svg_scatter {
    const char *title;
    const char *x_label, *y_label;
    size_t n_items;
    const ev_svg_item *items;
    const double *x;                /* > 0, NaN = not plotted */
    const double *y;
    const double *y_lo, *y_hi;      /* may be NULL */
    const double *size;             /* MiB, may be NULL or NaN */
    int x_decimals, y_decimals;
} ev_svg_scatter;

/* Heat map rows x cols of values in [0,1] (e.g. per-class Recall@1). */
typedef struct ev_svg_heat {
    const char *title;
    const char *value_name;         /* e.g. "Recall@1" */
    const char *row_kind, *col_kind;/* e.g. "model", "class" (hover text) */
    size_t n_rows, n_cols;
    const ev_svg_item *rows, *cols;
    const double *v;                /* [n_rows * n_cols], NaN = n/a */
    const double *lo, *hi;          /* may be NULL */
    const double *count;            /* items per cell (e.g. queries), may be NULL */
    int decimals;
} ev_svg_heat;

bool ev_svg_bar_chart(ev_buf *b, const ev_svg_bars *c);
bool ev_svg_scatter_chart(ev_buf *b, const ev_svg_scatter *c);
bool ev_svg_heatmap(ev_buf *b, const ev_svg_heat *c);

/* Pareto front for "lower x is better, higher y is better": on_front[i] is
 * set for every item with finite x, y that no other item dominates (another
 * item with x <= and y >= and one of them strict). Returns the count. */
size_t ev_pareto_front(size_t n, const double *x, const double *y, bool *on_front);

#endif
