/*
 * lib/report/svg.c — escaping, number formatting and the SVG charts of the
 * HTML report. See svg.h for the safety contract.
 *
 * Layout is computed in "SVG pixels" of a fixed-width viewBox; the page
 * scales the drawing to its container. Text widths are estimated from the
 * number of code points (CHAR_W per character at the base font size),
 * which is close enough for sans-serif labels to avoid overlaps.
 */
#include "report/svg.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BAR_W 380.0        /* bar charts: labels above the bars */
#define SCATTER_W 480.0
#define HEAT_MIN_W 380.0
#define FONT 12.0
#define CHAR_W 6.7           /* average advance of a 12 px sans glyph */
#define LABEL_MAX 26         /* code points of a row label before "…" */
#define TEXT_DARK "#222"
#define TEXT_MUTED "#666"
#define FAIL_COLOR "#B00020"
#define GRID_COLOR "#e3e3e3"
#define AXIS_COLOR "#444"
/* a white outline behind text that may cross grid lines or bars */
#define HALO "paint-order=\"stroke\" stroke=\"#fff\" stroke-width=\"3\" stroke-linejoin=\"round\""
#define FONT_FAMILY "system-ui, -apple-system, &#39;Segoe UI&#39;, Roboto, &#39;DejaVu Sans&#39;, sans-serif"

/* ---- UTF-8 and escaping ------------------------------------------------- */

/* Decode one code point at s (NUL-terminated). Returns the bytes consumed
 * (>= 1) and sets *cp; invalid sequences consume one byte and give U+FFFD. */
static size_t utf8_next(const unsigned char *s, uint32_t *cp)
{
    unsigned c = s[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    size_t len;
    uint32_t v, min;
    if (c >= 0xC2 && c <= 0xDF) len = 2, v = c & 0x1F, min = 0x80;
    else if (c >= 0xE0 && c <= 0xEF) len = 3, v = c & 0x0F, min = 0x800;
    else if (c >= 0xF0 && c <= 0xF4) len = 4, v = c & 0x07, min = 0x10000;
    else {
        *cp = 0xFFFD;
        return 1;
    }
    for (size_t i = 1; i < len; i++) {
        unsigned d = s[i];          /* a NUL stops here: it is not 10xxxxxx */
        if ((d & 0xC0) != 0x80) {
            *cp = 0xFFFD;
            return 1;
        }
        v = (v << 6) | (d & 0x3F);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) {
        *cp = 0xFFFD;
        return 1;
    }
    *cp = v;
    return len;
}

static bool xml_allowed(uint32_t cp)
{
    if (cp == 0x9 || cp == 0xA || cp == 0xD) return true;
    if (cp < 0x20) return false;
    if (cp >= 0x7F && cp <= 0x9F) return false;   /* DEL + C1 controls */
    if (cp == 0xFFFE || cp == 0xFFFF) return false;
    return true;
}

static const char REPLACEMENT[] = "\xEF\xBF\xBD";

static bool escape_n(ev_buf *b, const char *s, size_t max_chars, bool ellipsis)
{
    if (!s) return !b->failed;
    const unsigned char *p = (const unsigned char *)s;
    size_t chars = 0;
    while (*p) {
        if (chars == max_chars) {
            if (ellipsis) ev_buf_puts(b, "\xE2\x80\xA6");
            break;
        }
        uint32_t cp;
        size_t n = utf8_next(p, &cp);
        switch (cp) {
        case '&': ev_buf_puts(b, "&amp;"); break;
        case '<': ev_buf_puts(b, "&lt;"); break;
        case '>': ev_buf_puts(b, "&gt;"); break;
        case '"': ev_buf_puts(b, "&quot;"); break;
        case '\'': ev_buf_puts(b, "&#39;"); break;
        default:
            if (cp == 0xFFFD || !xml_allowed(cp)) ev_buf_puts(b, REPLACEMENT);
            else ev_buf_append(b, p, n);
        }
        p += n;
        chars++;
    }
    return !b->failed;
}

bool ev_xml_escape(ev_buf *b, const char *s) { return escape_n(b, s, SIZE_MAX, false); }

bool ev_xml_escape_trunc(ev_buf *b, const char *s, size_t max_chars)
{
    if (max_chars == 0) return !b->failed;
    if (ev_utf8_chars(s) <= max_chars) return escape_n(b, s, SIZE_MAX, false);
    return escape_n(b, s, max_chars - 1, true);
}

size_t ev_utf8_chars(const char *s)
{
    if (!s) return 0;
    size_t n = 0;
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        uint32_t cp;
        p += utf8_next(p, &cp);
        n++;
    }
    return n;
}

/* ---- numbers ------------------------------------------------------------ */

/* snprintf honours LC_NUMERIC; the report must always use '.'. */
static void fix_decimal_point(char *buf)
{
    for (char *q = buf; *q; q++)
        if (*q == ',') *q = '.';
}

const char *ev_fmt_num(char *buf, size_t n, double v, int decimals)
{
    if (!isfinite(v)) {
        snprintf(buf, n, "n/a");
        return buf;
    }
    if (decimals < 0) {
        /* three significant digits, never an exponent */
        double a = fabs(v);
        if (a >= 1000 || a == 0) snprintf(buf, n, "%.0f", v);
        else if (a < 1e-4) snprintf(buf, n, "%.6f", v);
        else snprintf(buf, n, "%.3g", v);
        fix_decimal_point(buf);
        return buf;
    }
    if (decimals > 9) decimals = 9;
    snprintf(buf, n, "%.*f", decimals, v);
    fix_decimal_point(buf);
    /* "-0.000" reads as a sign error: print it as zero. */
    if (buf[0] == '-') {
        bool zero = true;
        for (const char *q = buf + 1; *q; q++)
            if (*q != '0' && *q != '.') zero = false;
        if (zero) memmove(buf, buf + 1, strlen(buf));
    }
    return buf;
}

const char *ev_fmt_coord(char *buf, size_t n, double v)
{
    if (!isfinite(v)) v = 0;
    if (v > 1e7) v = 1e7;
    if (v < -1e7) v = -1e7;
    snprintf(buf, n, "%.2f", v);
    fix_decimal_point(buf);
    /* trim trailing zeros: shorter files */
    char *dot = strchr(buf, '.');
    if (dot) {
        char *end = buf + strlen(buf) - 1;
        while (end > dot && *end == '0') *end-- = '\0';
        if (end == dot) *end = '\0';
    }
    if (strcmp(buf, "-0") == 0) snprintf(buf, n, "0");
    return buf;
}

const char *ev_fmt_si(char *buf, size_t n, double v)
{
    if (!isfinite(v)) {
        snprintf(buf, n, "n/a");
        return buf;
    }
    static const char *suffix[] = {"", " k", " M", " G", " T", " P"};
    double a = fabs(v);
    int k = 0;
    while (a >= 999.95 && k < 5) {
        a /= 1000.0;
        k++;
    }
    if (k == 0) snprintf(buf, n, "%.0f", v);
    else snprintf(buf, n, "%.*f%s", a >= 99.95 ? 0 : (a >= 9.995 ? 1 : 2), v < 0 ? -a : a,
                  suffix[k]);
    fix_decimal_point(buf);
    return buf;
}

/* ---- colours ------------------------------------------------------------ */

const char *ev_svg_color(size_t i)
{
    static const char *pal[] = {"#0072B2", "#E69F00", "#009E73", "#CC79A7",
                                "#56B4E9", "#D55E00", "#F0E442", "#000000"};
    return pal[i % (sizeof pal / sizeof pal[0])];
}

void ev_svg_seq_color(double t, char out[8], bool *light)
{
    /* viridis at t = 0, 1/8, ..., 1 */
    static const unsigned char stops[9][3] = {
        {68, 1, 84},    {71, 44, 122},  {59, 81, 139},  {44, 113, 142}, {33, 144, 141},
        {39, 173, 129}, {92, 200, 99},  {170, 220, 50}, {253, 231, 37}};
    if (!isfinite(t)) t = 0;
    if (t < 0) t = 0;
    if (t > 1) t = 1;
    double f = t * 8.0;
    int i = (int)f;
    if (i > 7) i = 7;
    double u = f - i;
    int rgb[3];
    for (int k = 0; k < 3; k++)
        rgb[k] = (int)lround(stops[i][k] + (stops[i + 1][k] - stops[i][k]) * u);
    snprintf(out, 8, "#%02x%02x%02x", rgb[0] & 255, rgb[1] & 255, rgb[2] & 255);
    /* relative luminance (sRGB approx.): dark text on the yellow-green end */
    double lum = (0.2126 * rgb[0] + 0.7152 * rgb[1] + 0.0722 * rgb[2]) / 255.0;
    if (light) *light = lum > 0.45;
}

/* ---- small drawing helpers ---------------------------------------------- */

typedef struct drawer {
    ev_buf *b;
    char t1[48], t2[48], t3[48], t4[48];
} drawer;

#define C1(v) ev_fmt_coord(d->t1, sizeof d->t1, (v))
#define C2(v) ev_fmt_coord(d->t2, sizeof d->t2, (v))
#define C3(v) ev_fmt_coord(d->t3, sizeof d->t3, (v))
#define C4(v) ev_fmt_coord(d->t4, sizeof d->t4, (v))

static void svg_open(drawer *d, double w, double h, const char *title)
{
    ev_buf_printf(d->b,
                  "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %s %s\" width=\"%s\" "
                  "height=\"%s\" role=\"img\" font-family=\"" FONT_FAMILY
                  "\" font-size=\"12\" fill=\"" TEXT_DARK "\">",
                  C1(w), C2(h), C3(w), C4(h));
    ev_buf_puts(d->b, "<title>");
    ev_xml_escape(d->b, title ? title : "chart");
    ev_buf_puts(d->b, "</title>");
    ev_buf_printf(d->b, "<rect x=\"0\" y=\"0\" width=\"%s\" height=\"%s\" fill=\"#fff\"/>", C1(w),
                  C2(h));
}

static void line(drawer *d, double x1, double y1, double x2, double y2, const char *stroke,
                 double width, const char *extra)
{
    ev_buf_printf(d->b,
                  "<line x1=\"%s\" y1=\"%s\" x2=\"%s\" y2=\"%s\" stroke=\"%s\" "
                  "stroke-width=\"%.1f\"%s/>",
                  C1(x1), C2(y1), C3(x2), C4(y2), stroke, width, extra ? extra : "");
}

/* <text> with escaped content; attrs is trusted constant markup. */
static void text(drawer *d, double x, double y, const char *anchor, const char *attrs,
                 const char *s, size_t max_chars)
{
    ev_buf_printf(d->b, "<text x=\"%s\" y=\"%s\"", C1(x), C2(y));
    if (anchor && strcmp(anchor, "start") != 0)
        ev_buf_printf(d->b, " text-anchor=\"%s\"", anchor);
    if (attrs) ev_buf_printf(d->b, " %s", attrs);
    ev_buf_puts(d->b, ">");
    if (max_chars) ev_xml_escape_trunc(d->b, s, max_chars);
    else ev_xml_escape(d->b, s);
    ev_buf_puts(d->b, "</text>");
}

/* Chart title at the top left. */
static void title_text(drawer *d, const char *s)
{
    text(d, 10, 22, "start", "font-size=\"15\" font-weight=\"bold\"", s, 80);
}

/* Word-wrapped note lines (ASCII spaces as break points); returns the
 * number of lines written. */
static int wrapped_text(drawer *d, double x, double y, double line_h, size_t width_chars,
                        const char *s, const char *attrs)
{
    if (!s || !*s) return 0;
    int lines = 0;
    const char *p = s;
    char chunk[512];
    while (*p && lines < 8) {
        size_t len = strlen(p), cut = len;
        if (ev_utf8_chars(p) > width_chars) {
            /* find the last space within width_chars code points */
            const unsigned char *q = (const unsigned char *)p;
            size_t chars = 0, last_space = 0;
            while (*q && chars < width_chars) {
                uint32_t cp;
                size_t n = utf8_next(q, &cp);
                if (cp == ' ') last_space = (size_t)((const char *)q - p);
                q += n;
                chars++;
            }
            cut = last_space ? last_space : (size_t)((const char *)q - p);
        }
        if (cut >= sizeof chunk) cut = sizeof chunk - 1;
        /* never cut inside a UTF-8 sequence */
        while (cut > 0 && ((unsigned char)p[cut] & 0xC0) == 0x80) cut--;
        if (cut == 0) break;
        memcpy(chunk, p, cut);
        chunk[cut] = '\0';
        text(d, x, y + lines * line_h, "start", attrs, chunk, 0);
        lines++;
        p += cut;
        while (*p == ' ') p++;
    }
    return lines;
}

/* "nice" tick step for a range split in about `target` intervals */
static double nice_step(double range, int target)
{
    if (!(range > 0) || !isfinite(range)) return 1;
    double raw = range / target;
    double mag = pow(10, floor(log10(raw)));
    double f = raw / mag;
    double nf = f <= 1 ? 1 : f <= 2 ? 2 : f <= 2.5 ? 2.5 : f <= 5 ? 5 : 10;
    return nf * mag;
}

static int step_decimals(double step)
{
    int dec = 0;
    while (dec < 6 && fabs(step * pow(10, dec) - round(step * pow(10, dec))) > 1e-6) dec++;
    return dec;
}

static double fin_min(double a, double b) { return isfinite(b) && b < a ? b : a; }
static double fin_max(double a, double b) { return isfinite(b) && b > a ? b : a; }

static size_t label_chars(size_t n, const ev_svg_item *items)
{
    size_t m = 4;
    for (size_t i = 0; i < n; i++) {
        size_t c = ev_utf8_chars(items[i].label) + ((items[i].flags & EV_SVG_RANDOM) ? 2 : 0);
        if (c > m) m = c;
    }
    return m > LABEL_MAX ? LABEL_MAX : m;
}

/* Row label, marked for random-init and failed rows. */
static void item_label(drawer *d, double x, double y, const ev_svg_item *it, const char *anchor,
                       size_t max)
{
    const char *attrs = (it->flags & EV_SVG_FAILED)   ? "fill=\"" FAIL_COLOR "\""
                        : (it->flags & EV_SVG_RANDOM) ? "fill=\"#555\" font-style=\"italic\""
                                                      : NULL;
    ev_buf_printf(d->b, "<text x=\"%s\" y=\"%s\" dominant-baseline=\"middle\" " HALO, C1(x),
                  C2(y));
    if (anchor && strcmp(anchor, "start") != 0)
        ev_buf_printf(d->b, " text-anchor=\"%s\"", anchor);
    if (attrs) ev_buf_printf(d->b, " %s", attrs);
    ev_buf_puts(d->b, "><title>");
    ev_xml_escape(d->b, it->label ? it->label : "(unnamed)");
    if (it->flags & EV_SVG_RANDOM) ev_buf_puts(d->b, " (random-init weights)");
    if (it->flags & EV_SVG_FAILED) ev_buf_puts(d->b, " (failed)");
    if (it->note && *it->note) {
        ev_buf_puts(d->b, ": ");
        ev_xml_escape(d->b, it->note);
    }
    ev_buf_puts(d->b, "</title>");
    if (it->flags & EV_SVG_RANDOM) {
        ev_buf_puts(d->b, "\xE2\x80\xA0 ");   /* † */
        if (max > 4) max -= 2;
    }
    ev_xml_escape_trunc(d->b, it->label ? it->label : "(unnamed)", max);
    ev_buf_puts(d->b, "</text>");
}

typedef struct legend_pos {
    double x, y, right;
} legend_pos;

/* Legend entry: kind 0 = square swatch, 1 = vertical line, 2 = diamond,
 * 3 = pale dashed swatch (random-init), 4 = circle, 5 = dashed line */
static void legend_entry(drawer *d, legend_pos *lp, int kind, const char *color, const char *name)
{
    double w = 22 + ev_utf8_chars(name) * CHAR_W * 0.92 + 14;
    if (lp->x + w > lp->right && lp->x > 12) {
        lp->x = 10;
        lp->y += 18;
    }
    double cy = lp->y;
    switch (kind) {
    case 0:
        ev_buf_printf(d->b, "<rect x=\"%s\" y=\"%s\" width=\"12\" height=\"12\" fill=\"%s\"/>",
                      C1(lp->x), C2(cy - 6), color);
        break;
    case 1:
        line(d, lp->x + 6, cy - 7, lp->x + 6, cy + 7, color, 2, NULL);
        break;
    case 2:
        ev_buf_printf(d->b, "<path d=\"M%s %sl4 4l-4 4l-4 -4z\" fill=\"%s\"/>", C1(lp->x + 6),
                      C2(cy - 4), color);
        break;
    case 3:
        ev_buf_printf(d->b,
                      "<rect x=\"%s\" y=\"%s\" width=\"12\" height=\"12\" fill=\"%s\" "
                      "fill-opacity=\"0.35\" stroke=\"%s\" stroke-dasharray=\"3 2\"/>",
                      C1(lp->x), C2(cy - 6), color, color);
        break;
    case 4:
        ev_buf_printf(d->b, "<circle cx=\"%s\" cy=\"%s\" r=\"5\" fill=\"%s\" fill-opacity=\"0.75\"/>",
                      C1(lp->x + 6), C2(cy), color);
        break;
    default:
        line(d, lp->x, cy, lp->x + 14, cy, color, 1.5, " stroke-dasharray=\"5 3\"");
        break;
    }
    ev_buf_printf(d->b, "<text x=\"%s\" y=\"%s\" dominant-baseline=\"middle\" font-size=\"11\">",
                  C1(lp->x + 18), C2(cy));
    ev_xml_escape(d->b, name);
    ev_buf_puts(d->b, "</text>");
    lp->x += w;
}

/* " (95% CI lo–hi)" if both bounds are finite */
static void ci_text(drawer *d, double lo, double hi, int dec)
{
    if (!isfinite(lo) || !isfinite(hi)) return;
    char a[40], b2[40];
    ev_buf_printf(d->b, " (95%% CI %s\xE2\x80\x93%s)", ev_fmt_num(a, sizeof a, lo, dec),
                  ev_fmt_num(b2, sizeof b2, hi, dec));
}

/* ---- bar chart ---------------------------------------------------------- */

bool ev_svg_bar_chart(ev_buf *b, const ev_svg_bars *c)
{
    drawer dd = {.b = b}, *d = &dd;
    size_t ns = c->n_series ? c->n_series : 1;
    bool any_random = false;
    for (size_t i = 0; i < c->n_items; i++)
        if (c->items[i].flags & EV_SVG_RANDOM) any_random = true;

    /* value domain: always includes zero */
    double lo = 0, hi = 0;
    for (size_t i = 0; i < c->n_items; i++) {
        if (c->items[i].flags & EV_SVG_FAILED) continue;
        for (size_t s = 0; s < ns; s++) {
            size_t k = i * ns + s;
            lo = fin_min(lo, c->v[k]);
            hi = fin_max(hi, c->v[k]);
            if (c->lo) lo = fin_min(lo, c->lo[k]);
            if (c->hi) hi = fin_max(hi, c->hi[k]);
        }
        if (c->mark_a) hi = fin_max(hi, c->mark_a[i]);
        if (c->mark_b) hi = fin_max(hi, c->mark_b[i]);
    }
    if (isfinite(c->fixed_min)) lo = fin_min(c->fixed_min, lo);
    if (isfinite(c->fixed_max)) hi = fin_max(c->fixed_max, hi);
    if (!(hi > lo)) hi = lo + 1;
    double step = nice_step(hi - lo, 4);
    if (!isfinite(c->fixed_min) || lo < c->fixed_min) lo = floor(lo / step + 1e-9) * step;
    if (!isfinite(c->fixed_max) || hi > c->fixed_max) hi = ceil(hi / step - 1e-9) * step;
    if (!(hi > lo)) hi = lo + step;
    int tick_dec = step_decimals(step);

    /* layout: each group is a label line with its bars under it, so long
     * model names need no left margin and the chart stays narrow enough to
     * be read on a phone without scaling */
    double left = 16, right = 52;
    double plot_w = BAR_W - left - right;
    double bar_h = ns == 1 ? 15 : 12;
    double label_h = 17;
    double group_gap = 9;
    double group_h = label_h + ns * bar_h + group_gap;

    /* legend goes after the title; rendered first to learn its height */
    bool want_legend = ns > 1 || c->mark_a || c->mark_b || any_random;
    double top = 34;
    ev_buf legend;
    ev_buf_init(&legend, 0);
    if (want_legend) {
        drawer ld = {.b = &legend};
        legend_pos lp = {10, top + 6, BAR_W - 6};
        if (ns > 1 || !(c->mark_a || c->mark_b))
            for (size_t s = 0; s < ns; s++)
                legend_entry(&ld, &lp, 0, ev_svg_color(s), c->series[s]);
        else legend_entry(&ld, &lp, 0, ev_svg_color(0), c->series[0]);
        if (c->mark_a) legend_entry(&ld, &lp, 1, "#111", c->mark_a_name ? c->mark_a_name : "");
        if (c->mark_b) legend_entry(&ld, &lp, 2, FAIL_COLOR, c->mark_b_name ? c->mark_b_name : "");
        if (any_random)
            legend_entry(&ld, &lp, 3, ev_svg_color(0), "\xE2\x80\xA0 random-init weights");
        top = lp.y + 14;
    }
    double plot_top = top + 2;
    double plot_h = c->n_items * group_h;
    if (c->n_items == 0) plot_h = 30;
    double axis_y = plot_top + plot_h;
    double height = axis_y + 42;
    char foot[400];
    foot[0] = '\0';
    if (c->footnote) snprintf(foot, sizeof foot, "%s", c->footnote);
    if (any_random) {
        size_t fl = strlen(foot);
        snprintf(foot + fl, sizeof foot - fl, "%s\xE2\x80\xA0 random-init weights: quality "
                 "values are a random-feature baseline.", fl ? " " : "");
    }
    size_t foot_chars = (size_t)((BAR_W - 20) / (CHAR_W * 0.92));
    ev_buf footbuf;
    ev_buf_init(&footbuf, 0);
    int foot_lines = 0;
    if (*foot) {
        drawer fd = {.b = &footbuf};
        foot_lines = wrapped_text(&fd, 10, axis_y + 50, 14, foot_chars, foot,
                                  "font-size=\"11\" fill=\"" TEXT_MUTED "\"");
        height += foot_lines * 14 + 4;
    }

    svg_open(d, BAR_W, height, c->title);
    title_text(d, c->title);
    if (want_legend) ev_buf_append(b, legend.data, legend.len);
    ev_buf_free(&legend);

#define XS(v) (left + ((v) - lo) / (hi - lo) * plot_w)
    /* grid and ticks */
    for (int t = 0; t < 64; t++) {
        double v = lo + t * step;
        if (v > hi + step * 1e-6) break;
        double x = XS(v);
        line(d, x, plot_top, x, axis_y, GRID_COLOR, 1, NULL);
        char tb[40];
        text(d, x, axis_y + 15, "middle", "font-size=\"11\" fill=\"" TEXT_MUTED "\"",
             ev_fmt_num(tb, sizeof tb, fabs(v) < step * 1e-9 ? 0 : v, tick_dec), 0);
    }
    line(d, left, axis_y, left + plot_w, axis_y, AXIS_COLOR, 1, NULL);
    line(d, XS(0), plot_top, XS(0), axis_y, AXIS_COLOR, 1.2, NULL);
    text(d, left + plot_w / 2, axis_y + 32, "middle", NULL, c->axis_label ? c->axis_label : "", 0);
    if (c->n_items == 0)
        text(d, left + 8, plot_top + 18, "start", "fill=\"" TEXT_MUTED "\"", "no data", 0);

    size_t label_max = (size_t)((BAR_W - 20) / CHAR_W);
    for (size_t i = 0; i < c->n_items; i++) {
        const ev_svg_item *it = &c->items[i];
        double gy = plot_top + i * group_h + 3;
        item_label(d, 10, gy + 7, it, "start", label_max);
        double by = gy + label_h - 3;
        if (it->flags & EV_SVG_FAILED) {
            ev_buf_puts(b, "<g><title>");
            ev_xml_escape(b, it->label);
            ev_buf_puts(b, ": failed");
            if (it->note && *it->note) {
                ev_buf_puts(b, ": ");
                ev_xml_escape(b, it->note);
            }
            ev_buf_puts(b, "</title>");
            text(d, XS(0) + 5, by + ns * bar_h / 2 + 4, "start",
                 "fill=\"" FAIL_COLOR "\" font-weight=\"bold\"", "failed", 0);
            ev_buf_puts(b, "</g>");
            continue;
        }
        for (size_t s = 0; s < ns; s++) {
            size_t k = i * ns + s;
            double v = c->v[k];
            double y = by + s * bar_h;
            double l = c->lo ? c->lo[k] : NAN, h = c->hi ? c->hi[k] : NAN;
            char vb[40];
            ev_buf_puts(b, "<g><title>");
            ev_xml_escape(b, it->label);
            ev_buf_puts(b, " \xE2\x80\x94 ");
            ev_xml_escape(b, c->series[s]);
            ev_buf_printf(b, ": %s", ev_fmt_num(vb, sizeof vb, v, c->decimals));
            if (isfinite(v) && c->unit) {
                ev_buf_puts(b, " ");
                ev_xml_escape(b, c->unit);
            }
            if (isfinite(v)) ci_text(d, l, h, c->decimals);
            if (s == 0 && c->mark_a && isfinite(c->mark_a[i])) {
                ev_buf_puts(b, "; ");
                ev_xml_escape(b, c->mark_a_name);
                ev_buf_printf(b, " %s", ev_fmt_num(vb, sizeof vb, c->mark_a[i], c->decimals));
            }
            if (s == 0 && c->mark_b && isfinite(c->mark_b[i])) {
                ev_buf_puts(b, "; ");
                ev_xml_escape(b, c->mark_b_name);
                ev_buf_printf(b, " %s", ev_fmt_num(vb, sizeof vb, c->mark_b[i], c->decimals));
            }
            if (it->flags & EV_SVG_RANDOM) ev_buf_puts(b, " (random-init weights)");
            ev_buf_puts(b, "</title>");
            if (!isfinite(v)) {
                text(d, XS(0) + 5, y + bar_h / 2 + 4, "start",
                     "font-size=\"11\" font-style=\"italic\" fill=\"" TEXT_MUTED "\"", "n/a", 0);
                ev_buf_puts(b, "</g>");
                continue;
            }
            double x0 = XS(0), x1 = XS(v);
            double rx = x0 < x1 ? x0 : x1, rw = fabs(x1 - x0);
            if (rw < 1) rw = 1;
            const char *col = ev_svg_color(s);
            ev_buf_printf(b, "<rect x=\"%s\" y=\"%s\" width=\"%s\" height=\"%s\" fill=\"%s\"",
                          C1(rx), C2(y + 1), C3(rw), C4(bar_h - 2), col);
            if (it->flags & EV_SVG_RANDOM)
                ev_buf_printf(b, " fill-opacity=\"0.35\" stroke=\"%s\" stroke-dasharray=\"3 2\"",
                              col);
            ev_buf_puts(b, "/>");
            double text_x = x1 > x0 ? x1 : x0;
            if (isfinite(l) && isfinite(h)) {
                double yl = y + bar_h / 2;
                line(d, XS(l), yl, XS(h), yl, "#111", 1.2, NULL);
                line(d, XS(l), yl - 3.5, XS(l), yl + 3.5, "#111", 1.2, NULL);
                line(d, XS(h), yl - 3.5, XS(h), yl + 3.5, "#111", 1.2, NULL);
                if (XS(h) > text_x) text_x = XS(h);
            }
            if (s == 0 && c->mark_a && isfinite(c->mark_a[i])) {
                double xm = XS(c->mark_a[i]);
                line(d, xm, y - 1, xm, y + bar_h + 1, "#111", 2, NULL);
                if (xm > text_x) text_x = xm;
            }
            if (s == 0 && c->mark_b && isfinite(c->mark_b[i])) {
                double xm = XS(c->mark_b[i]);
                ev_buf_printf(b, "<path d=\"M%s %sl4 4l-4 4l-4 -4z\" fill=\"" FAIL_COLOR "\"/>",
                              C1(xm), C2(y + bar_h / 2 - 4));
                if (xm + 4 > text_x) text_x = xm + 4;
            }
            /* value right of everything drawn for this bar (negative bars:
             * right of the zero line) */
            text(d, text_x + 4, y + bar_h / 2 + 4, "start",
                 ns > 1 ? "font-size=\"10\" " HALO : "font-size=\"11\" " HALO,
                 ev_fmt_num(vb, sizeof vb, v, c->decimals), 0);
            ev_buf_puts(b, "</g>");
        }
    }
#undef XS
    if (foot_lines) ev_buf_append(b, footbuf.data, footbuf.len);
    ev_buf_free(&footbuf);
    ev_buf_puts(b, "</svg>\n");
    return !b->failed;
}

/* ---- Pareto front ------------------------------------------------------- */

size_t ev_pareto_front(size_t n, const double *x, const double *y, bool *on_front)
{
    size_t count = 0;
    for (size_t i = 0; i < n; i++) {
        on_front[i] = false;
        if (!isfinite(x[i]) || !isfinite(y[i])) continue;
        bool dominated = false;
        for (size_t j = 0; j < n && !dominated; j++) {
            if (j == i || !isfinite(x[j]) || !isfinite(y[j])) continue;
            if (x[j] <= x[i] && y[j] >= y[i] && (x[j] < x[i] || y[j] > y[i])) dominated = true;
        }
        if (!dominated) {
            on_front[i] = true;
            count++;
        }
    }
    return count;
}

/* ---- scatter ------------------------------------------------------------ */

typedef struct pt {
    size_t i;
    double r;
} pt;

static int by_radius_desc(const void *a, const void *b)
{
    const pt *p = a, *q = b;
    if (p->r != q->r) return p->r < q->r ? 1 : -1;
    return p->i < q->i ? -1 : (p->i > q->i);
}

typedef struct box {
    double x0, y0, x1, y1;
} box;

static bool box_hits(const box *a, size_t n, box b)
{
    for (size_t i = 0; i < n; i++)
        if (b.x0 < a[i].x1 && a[i].x0 < b.x1 && b.y0 < a[i].y1 && a[i].y0 < b.y1) return true;
    return false;
}

bool ev_svg_scatter_chart(ev_buf *b, const ev_svg_scatter *c)
{
    drawer dd = {.b = b}, *d = &dd;
    size_t n = c->n_items;
    bool *front = calloc(n ? n : 1, sizeof *front);
    pt *pts = calloc(n ? n : 1, sizeof *pts);
    double *px = calloc(n ? n : 1, sizeof *px), *rad = calloc(n ? n : 1, sizeof *rad);
    box *boxes = calloc(2 * n + 1, sizeof *boxes);
    if (!front || !pts || !px || !rad || !boxes) {
        free(front);
        free(pts);
        free(px);
        free(rad);
        free(boxes);
        b->failed = true;
        return false;
    }
    /* only positive finite x can go on a log axis */
    for (size_t i = 0; i < n; i++) {
        bool ok = isfinite(c->x[i]) && c->x[i] > 0 && isfinite(c->y[i]) &&
                  !(c->items[i].flags & EV_SVG_FAILED);
        px[i] = ok ? c->x[i] : NAN;
    }
    ev_pareto_front(n, px, c->y, front);

    double xmin = INFINITY, xmax = -INFINITY, ymin = 0, ymax = -INFINITY, smax = 0;
    size_t plotted = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(px[i])) continue;
        plotted++;
        xmin = fmin(xmin, px[i]);
        xmax = fmax(xmax, px[i]);
        ymin = fin_min(ymin, c->y[i]);
        ymax = fin_max(ymax, c->y[i]);
        if (c->y_lo) ymin = fin_min(ymin, c->y_lo[i]);
        if (c->y_hi) ymax = fin_max(ymax, c->y_hi[i]);
        if (c->size && isfinite(c->size[i]) && c->size[i] > smax) smax = c->size[i];
    }
    if (!plotted) {
        xmin = 1;
        xmax = 10;
        ymax = 1;
    }
    double lx0 = floor(log10(xmin / 1.3)), lx1 = ceil(log10(xmax * 1.3));
    if (lx1 <= lx0) lx1 = lx0 + 1;
    if (!(ymax > ymin)) ymax = ymin + 1;
    double ystep = nice_step(ymax - ymin, 5);
    double ylo = floor(ymin / ystep + 1e-9) * ystep, yhi = ceil(ymax / ystep - 1e-9) * ystep;
    if (!(yhi > ylo)) yhi = ylo + ystep;
    int ydec = step_decimals(ystep);

    double left = 50, right = 14, top = 54, plot_h = 270;
    double plot_w = SCATTER_W - left - right;
    double axis_y = top + plot_h;
    double height = axis_y + 66;
    bool missing_any = false;
    for (size_t i = 0; i < n; i++)
        if (!isfinite(px[i])) missing_any = true;
    if (missing_any) height += 14;

    svg_open(d, SCATTER_W, height, c->title);
    title_text(d, c->title);
    legend_pos lp = {10, 42, SCATTER_W - 6};
    legend_entry(d, &lp, 4, "#0072B2", "Pareto front (dashed line)");
    legend_entry(d, &lp, 4, "#E69F00", "dominated");

#define SX(v) (left + (log10(v) - lx0) / (lx1 - lx0) * plot_w)
#define SY(v) (axis_y - ((v) - ylo) / (yhi - ylo) * plot_h)
    /* x grid: 1, 2, 5 per decade (labels on decades only when there are many) */
    bool minor_labels = lx1 - lx0 <= 3;
    for (double e = lx0; e <= lx1 + 1e-9; e += 1) {
        static const double mult[] = {1, 2, 5};
        for (int m = 0; m < 3; m++) {
            double v = mult[m] * pow(10, e);
            if (log10(v) > lx1 + 1e-9) break;
            double x = SX(v);
            line(d, x, top, x, axis_y, GRID_COLOR, m == 0 ? 1.2 : 0.7, NULL);
            if (m > 0 && !minor_labels) continue;
            char tb[40];
            int dec = e < 0 ? (int)-e : 0;
            text(d, x, axis_y + 15, "middle", "font-size=\"11\" fill=\"" TEXT_MUTED "\"",
                 ev_fmt_num(tb, sizeof tb, v, dec), 0);
        }
    }
    for (int t = 0; t < 64; t++) {
        double v = ylo + t * ystep;
        if (v > yhi + ystep * 1e-6) break;
        double y = SY(v);
        line(d, left, y, left + plot_w, y, GRID_COLOR, 1, NULL);
        char tb[40];
        text(d, left - 6, y + 4, "end", "font-size=\"11\" fill=\"" TEXT_MUTED "\"",
             ev_fmt_num(tb, sizeof tb, fabs(v) < ystep * 1e-9 ? 0 : v, ydec), 0);
    }
    line(d, left, axis_y, left + plot_w, axis_y, AXIS_COLOR, 1, NULL);
    line(d, left, top, left, axis_y, AXIS_COLOR, 1, NULL);
    text(d, left + plot_w / 2, axis_y + 33, "middle", NULL, c->x_label ? c->x_label : "", 0);
    ev_buf_printf(b, "<text x=\"14\" y=\"%s\" text-anchor=\"middle\" transform=\"rotate(-90 14 %s)\">",
                  C1(top + plot_h / 2), C2(top + plot_h / 2));
    ev_xml_escape(b, c->y_label ? c->y_label : "");
    ev_buf_puts(b, "</text>");

    /* Pareto front as a step line through the front points sorted by x */
    size_t nf = 0;
    for (size_t i = 0; i < n; i++)
        if (front[i]) pts[nf++] = (pt){i, px[i]};
    for (size_t a = 1; a < nf; a++) /* insertion sort by x (then y) */
        for (size_t k = a; k > 0; k--) {
            pt p = pts[k - 1], q = pts[k];
            bool swap = p.r > q.r || (p.r == q.r && c->y[p.i] > c->y[q.i]);
            if (!swap) break;
            pts[k - 1] = q;
            pts[k] = p;
        }
    if (nf > 1) {
        ev_buf_printf(b, "<path d=\"M%s %s", C1(SX(px[pts[0].i])), C2(SY(c->y[pts[0].i])));
        for (size_t k = 1; k < nf; k++)
            ev_buf_printf(b, "H%sV%s", C1(SX(px[pts[k].i])), C2(SY(c->y[pts[k].i])));
        ev_buf_puts(b, "\" fill=\"none\" stroke=\"#0072B2\" stroke-width=\"1.5\" "
                       "stroke-dasharray=\"5 3\"/>");
    }

    /* points, largest first so small ones stay visible on top */
    size_t np = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(px[i])) continue;
        double r = 5;
        if (c->size && isfinite(c->size[i]) && c->size[i] >= 0 && smax > 0)
            r = 3.5 + 12 * sqrt(c->size[i] / smax);
        rad[i] = r;
        pts[np++] = (pt){i, r};
    }
    qsort(pts, np, sizeof *pts, by_radius_desc);
    for (size_t k = 0; k < np; k++) {
        size_t i = pts[k].i;
        const ev_svg_item *it = &c->items[i];
        double x = SX(px[i]), y = SY(c->y[i]), r = pts[k].r;
        char vb[40];
        ev_buf_puts(b, "<g><title>");
        ev_xml_escape(b, it->label);
        ev_buf_puts(b, ": ");
        ev_xml_escape(b, c->y_label);
        ev_buf_printf(b, " %s", ev_fmt_num(vb, sizeof vb, c->y[i], c->y_decimals));
        ci_text(d, c->y_lo ? c->y_lo[i] : NAN, c->y_hi ? c->y_hi[i] : NAN, c->y_decimals);
        ev_buf_printf(b, "; latency %s ms", ev_fmt_num(vb, sizeof vb, px[i], c->x_decimals));
        if (c->size) ev_buf_printf(b, "; size %s MiB", ev_fmt_num(vb, sizeof vb, c->size[i], -1));
        ev_buf_puts(b, front[i] ? "; on the Pareto front" : "; dominated");
        if (it->flags & EV_SVG_RANDOM) ev_buf_puts(b, " (random-init weights)");
        ev_buf_puts(b, "</title>");
        if (c->y_lo && c->y_hi && isfinite(c->y_lo[i]) && isfinite(c->y_hi[i]))
            line(d, x, SY(c->y_lo[i]), x, SY(c->y_hi[i]), "#333", 1, NULL);
        const char *col = front[i] ? "#0072B2" : "#E69F00";
        ev_buf_printf(b, "<circle cx=\"%s\" cy=\"%s\" r=\"%s\" fill=\"%s\" stroke=\"%s\"", C1(x),
                      C2(y), C3(r), col, front[i] ? "#00466e" : "#8a5f00");
        if (it->flags & EV_SVG_RANDOM)
            ev_buf_puts(b, " fill-opacity=\"0.25\" stroke-dasharray=\"3 2\"");
        else ev_buf_puts(b, " fill-opacity=\"0.7\"");
        if (!(c->size && isfinite(c->size[i]))) ev_buf_puts(b, " stroke-width=\"2\"");
        ev_buf_puts(b, "/>");
        ev_buf_puts(b, "</g>");
    }

    /* labels after all points: front points first (by x), then the rest;
     * each goes right, above-right, below-right, left, ... of its point,
     * wherever it overlaps no earlier label; else it is left out (the
     * point's hover title still names it) */
    size_t nb = 0, order_n = 0;
    for (int pass = 0; pass < 2; pass++) {
        size_t first = order_n;
        for (size_t i = 0; i < n; i++)
            if (isfinite(px[i]) && front[i] == (pass == 0)) pts[order_n++] = (pt){i, px[i]};
        /* front points in x order; the others in item order */
        if (pass == 0)
            for (size_t a = first + 1; a < order_n; a++)
                for (size_t k = a; k > first && pts[k - 1].r > pts[k].r; k--) {
                    pt t = pts[k - 1];
                    pts[k - 1] = pts[k];
                    pts[k] = t;
                }
    }
    /* boxes[i] (i < n) is item i's circle, an obstacle for other labels */
    for (size_t i = 0; i < n; i++)
        boxes[i] = isfinite(px[i]) ? (box){SX(px[i]) - rad[i] * 0.6, SY(c->y[i]) - rad[i] * 0.6,
                                           SX(px[i]) + rad[i] * 0.6, SY(c->y[i]) + rad[i] * 0.6}
                                   : (box){-1, -1, -1, -1};
    nb = n;
    for (size_t k = 0; k < order_n; k++) {
        size_t i = pts[k].i;
        const ev_svg_item *it = &c->items[i];
        double x = SX(px[i]), y = SY(c->y[i]), r = rad[i];
        size_t chars = ev_utf8_chars(it->label);
        if (chars > 20) chars = 20;
        double tw = (chars + ((it->flags & EV_SVG_RANDOM) ? 2 : 0)) * CHAR_W * 0.9;
        static const double dys[] = {0, -12, 12, -22, 22};
        bool placed = false;
        for (int side = 0; side < 2 && !placed; side++)
            for (int t = 0; t < 5 && !placed; t++) {
                double tx = side == 0 ? x + r + 3 : x - r - 3 - tw;
                double ty = y + dys[t];
                box bx = {tx, ty - 8, tx + tw, ty + 3};
                if (bx.x0 < left + 2 || bx.x1 > SCATTER_W - 2 || bx.y0 < top - 4 ||
                    bx.y1 > axis_y - 1)
                    continue;
                /* the point's own circle is no obstacle for its label */
                box own = boxes[i];
                boxes[i] = (box){-1, -1, -1, -1};
                bool hit = box_hits(boxes, nb, bx);
                boxes[i] = own;
                if (hit) continue;
                boxes[nb++] = bx;
                placed = true;
                ev_buf_printf(b, "<text x=\"%s\" y=\"%s\" font-size=\"11\" " HALO "%s>", C1(tx), C2(ty),
                              (it->flags & EV_SVG_RANDOM) ? " font-style=\"italic\" fill=\"#555\""
                                                          : "");
                ev_buf_puts(b, "<title>");
                ev_xml_escape(b, it->label);
                ev_buf_puts(b, "</title>");
                if (it->flags & EV_SVG_RANDOM) ev_buf_puts(b, "\xE2\x80\xA0 ");
                ev_xml_escape_trunc(b, it->label, 20);
                ev_buf_puts(b, "</text>");
            }
    }
    if (!plotted)
        text(d, left + 10, top + 20, "start", "fill=\"" TEXT_MUTED "\"", "no data to plot", 0);

    /* the reading guide, and what could not be plotted */
    double fy = axis_y + 52;
    text(d, 10, fy, "start", "font-size=\"11\" fill=\"" TEXT_MUTED "\"",
         "Circle area \xE2\x88\x9D size (MiB); thick outline: size n/a. Log latency axis.", 0);
    if (missing_any) {
        ev_buf note;
        ev_buf_init(&note, 1 << 16);
        size_t missing = 0;
        for (size_t i = 0; i < n; i++) {
            if (isfinite(px[i])) continue;
            ev_buf_puts(&note, missing ? ", " : "not plotted (n/a or failed): ");
            ev_buf_puts(&note, c->items[i].label ? c->items[i].label : "(unnamed)");
            missing++;
        }
        if (note.data)
            text(d, 10, fy + 14, "start", "font-size=\"11\" fill=\"" FAIL_COLOR "\"", note.data,
                 72);
        ev_buf_free(&note);
    }
#undef SX
#undef SY
    ev_buf_puts(b, "</svg>\n");
    free(front);
    free(pts);
    free(px);
    free(rad);
    free(boxes);
    return !b->failed;
}

/* ---- heat map ----------------------------------------------------------- */

bool ev_svg_heatmap(ev_buf *b, const ev_svg_heat *c)
{
    drawer dd = {.b = b}, *d = &dd;
    size_t nr = c->n_rows, nc = c->n_cols;
    double left = 16 + label_chars(nr, c->rows) * CHAR_W;
    if (left < 70) left = 70;
    size_t col_chars = label_chars(nc, c->cols);
    if (col_chars > 22) col_chars = 22;
    double col_label_h = col_chars * CHAR_W * 0.92 * 0.7071 + 14;
    /* drawn at its natural size (the page scrolls it sideways when needed):
     * cells wide enough for their values while that stays reasonable */
    double cell_w = nc <= 14 ? 46 : nc <= 40 ? 28 : 18;
    double cell_h = 22;
    double top = 40 + col_label_h;
    double grid_w = nc * cell_w;
    double width = left + grid_w + col_chars * CHAR_W * 0.92 * 0.7071 + 10;
    if (width < HEAT_MIN_W) width = HEAT_MIN_W;
    double height = top + nr * cell_h + 56;

    svg_open(d, width, height, c->title);
    title_text(d, c->title);

    /* column labels, rotated -45 degrees, anchored at the column centre */
    for (size_t j = 0; j < nc; j++) {
        double x = left + (j + 0.5) * cell_w, y = top - 6;
        ev_buf_printf(b, "<text x=\"%s\" y=\"%s\" font-size=\"11\" transform=\"rotate(-45 %s %s)\"",
                      C1(x), C2(y), C3(x), C4(y));
        if (c->cols[j].flags & EV_SVG_FAILED) ev_buf_puts(b, " fill=\"" FAIL_COLOR "\"");
        else if (c->cols[j].flags & EV_SVG_RANDOM) ev_buf_puts(b, " fill=\"#555\" font-style=\"italic\"");
        ev_buf_puts(b, "><title>");
        ev_xml_escape(b, c->cols[j].label);
        if (c->cols[j].note && *c->cols[j].note) {
            ev_buf_puts(b, ": ");
            ev_xml_escape(b, c->cols[j].note);
        }
        ev_buf_puts(b, "</title>");
        if (c->cols[j].flags & EV_SVG_RANDOM) ev_buf_puts(b, "\xE2\x80\xA0 ");
        ev_xml_escape_trunc(b, c->cols[j].label, 22);
        ev_buf_puts(b, "</text>");
    }
    bool show_values = cell_w >= 34;
    for (size_t i = 0; i < nr; i++) {
        double y = top + i * cell_h;
        item_label(d, left - 8, y + cell_h / 2, &c->rows[i], "end", LABEL_MAX);
        for (size_t j = 0; j < nc; j++) {
            size_t k = i * nc + j;
            double v = c->v[k];
            double x = left + j * cell_w;
            char col[8], vb[40];
            bool light = true;
            if (isfinite(v)) ev_svg_seq_color(v, col, &light);
            else snprintf(col, sizeof col, "#eeeeee");
            ev_buf_puts(b, "<g><title>");
            ev_xml_escape(b, c->rows[i].label);
            ev_buf_puts(b, " \xC2\xB7 ");
            ev_xml_escape(b, c->cols[j].label);
            ev_buf_puts(b, ": ");
            ev_xml_escape(b, c->value_name);
            ev_buf_printf(b, " %s", ev_fmt_num(vb, sizeof vb, v, c->decimals));
            if (isfinite(v)) ci_text(d, c->lo ? c->lo[k] : NAN, c->hi ? c->hi[k] : NAN, c->decimals);
            if (c->count && isfinite(c->count[k]))
                ev_buf_printf(b, " (n=%s)", ev_fmt_num(vb, sizeof vb, c->count[k], 0));
            ev_buf_puts(b, "</title>");
            ev_buf_printf(b, "<rect x=\"%s\" y=\"%s\" width=\"%s\" height=\"%s\" fill=\"%s\" "
                             "stroke=\"#fff\"/>",
                          C1(x), C2(y), C3(cell_w), C4(cell_h), col);
            if (show_values || !isfinite(v))
                ev_buf_printf(b, "<text x=\"%s\" y=\"%s\" text-anchor=\"middle\" font-size=\"%s\" "
                                 "fill=\"%s\">%s</text>",
                              C1(x + cell_w / 2), C2(y + cell_h / 2 + 4),
                              show_values ? "10" : "8",
                              !isfinite(v) ? TEXT_MUTED : light ? "#111" : "#fff",
                              ev_fmt_num(vb, sizeof vb, v, cell_w >= 40 ? c->decimals : 2));
            ev_buf_puts(b, "</g>");
        }
    }
    /* colour scale */
    double ly = top + nr * cell_h + 18;
    text(d, 10, ly + 11, "start", "font-size=\"11\"", c->value_name ? c->value_name : "", 0);
    double lx = 10 + (ev_utf8_chars(c->value_name) + 1) * CHAR_W;
    for (int s = 0; s < 10; s++) {
        char col[8];
        ev_svg_seq_color((s + 0.5) / 10.0, col, NULL);
        ev_buf_printf(b, "<rect x=\"%s\" y=\"%s\" width=\"18\" height=\"14\" fill=\"%s\"/>",
                      C1(lx + 8 + s * 18), C2(ly), col);
    }
    text(d, lx + 8, ly + 28, "middle", "font-size=\"10\" fill=\"" TEXT_MUTED "\"", "0", 0);
    text(d, lx + 8 + 90, ly + 28, "middle", "font-size=\"10\" fill=\"" TEXT_MUTED "\"", "0.5", 0);
    text(d, lx + 8 + 180, ly + 28, "middle", "font-size=\"10\" fill=\"" TEXT_MUTED "\"", "1", 0);
    ev_buf_printf(b, "<rect x=\"%s\" y=\"%s\" width=\"18\" height=\"14\" fill=\"#eeeeee\"/>",
                  C1(lx + 206), C2(ly));
    text(d, lx + 228, ly + 11, "start", "font-size=\"11\" fill=\"" TEXT_MUTED "\"", "n/a", 0);
    ev_buf_puts(b, "</svg>\n");
    return !b->failed;
}
