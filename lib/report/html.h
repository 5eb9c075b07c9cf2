/*
 * lib/report/html.h — the self-contained HTML report (internal header).
 *
 * Input: the report.json document written by `embeval run` (schema in
 * docs/report-schema.md). Output: OUT_DIR/report.html (one file: inline CSS,
 * inline SVG charts, a few lines of inline JavaScript for table sorting; no
 * network requests, no external assets) and OUT_DIR/charts/<name>.svg (the
 * same charts as standalone SVG files). Both are written atomically.
 *
 * Every string taken from the report (model, class, dataset and file names,
 * errors, licenses, machine description) is escaped; numbers are formatted
 * here. Missing, null or non-numeric values are shown as "n/a". A report
 * with no models, no datasets or unknown extra keys still renders.
 */
#ifndef EV_REPORT_HTML_H
#define EV_REPORT_HTML_H

#include <cjson/cJSON.h>

#include "common/util.h"

/* Parse report_json_text and write OUT_DIR/report.html and OUT_DIR/charts/.
 * out_dir must exist; charts/ is created if needed. On failure *err names
 * the file or the problem; files already written stay (each one complete).
 * A document whose "schema" is not "embeval.report" or whose schema_version
 * is newer than 1 is refused. */
ev_status ev_report_write_html(const char *report_json_text, const char *out_dir, ev_err *err);

/* Same, from an already parsed document. */
ev_status ev_report_write_html_json(const cJSON *report, const char *out_dir, ev_err *err);

/* Called once per chart with its file name ("quality-fashion-mnist.svg",
 * only [a-z0-9.-]) and its complete standalone SVG text. */
typedef ev_status (*ev_report_chart_fn)(void *user, const char *file_name, const char *svg,
                                        size_t len, ev_err *err);

/* Render the page into *html (initialised by the caller) and pass every
 * chart to chart_fn (may be NULL). Writes no files. */
ev_status ev_report_render_html(const cJSON *report, ev_buf *html, ev_report_chart_fn chart_fn,
                                void *user, ev_err *err);

/* The inline script of the page (sorting) and its CSP hash source
 * ("sha256-<base64>"), exposed for tests. */
extern const char ev_report_html_script[];
extern const char ev_report_html_script_hash[];

#endif
