/* src/cmd_compare.c — `embeval compare A.json B.json [...]`: differences
 * between evaluation reports, with paired bootstrap p-values. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

const char ev_cmd_compare_summary[] = "compare evaluation reports (deltas, paired bootstrap p-values, --fail-on)";

static void help(void)
{
    printf("Usage: embeval compare BASELINE.json OTHER.json [OTHER.json ...] [--fail-on SPEC]\n"
           "                      [--bootstrap N] [--seed N] [--json]\n"
           "\n"
           "Compare reports written by `embeval run` against the first one: for every\n"
           "dataset (matched by name) and model (matched by name) in both, the quality\n"
           "metrics (mAP, R@1, R@5, P@5, silhouette, accuracy, linear probe) and the\n"
           "efficiency numbers (latency p50/p99, throughput, load time, peak RSS, size)\n"
           "side by side with the difference. When two reports evaluated the very same\n"
           "items (same dataset fingerprint) and their per-item sidecars\n"
           "(report.items.json, next to report.json) are present, each quality\n"
           "difference gets a two-sided paired bootstrap p-value over the queries.\n"
           "\n"
           "Options:\n"
           "  --fail-on SPEC   exit 4 when a change against the baseline crosses a limit:\n"
           "                   comma-separated METRIC:LIMIT, LIMIT signed ('-' fails on a\n"
           "                   drop, '+' on a rise), absolute or with %%, e.g.\n"
           "                   \"map:-0.01,latency_p50:+10%%\" (metrics: see embeval run --help)\n"
           "  --bootstrap N    paired bootstrap resamples (default 1000; 0 = no p-values)\n"
           "  --seed N         bootstrap seed (default 0)\n"
           "  --json           print the comparison as JSON\n"
           "  -h, --help       show this help\n"
           "\n"
           "Exit status: 0 ok; 4 a --fail-on threshold was crossed; 2 usage error;\n"
           "3 a report is unreadable or not an embeval report; 1 other failures.\n");
}

int ev_cmd_compare(int argc, char **argv)
{
    const char *fail_on = NULL;
    int64_t boot = 1000, seed = 0;
    int json = 0;
    const char **paths = calloc((size_t)argc + 1, sizeof *paths);
    int np = 0;
    if (!paths) {
        cli_error("out of memory");
        return EV_EXIT_RUNTIME;
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            help();
            free(paths);
            return EV_EXIT_OK;
        } else if (!strcmp(a, "--json")) {
            json = 1;
        } else if (!strcmp(a, "--fail-on") || !strcmp(a, "--bootstrap") || !strcmp(a, "--seed") ||
                   !strncmp(a, "--fail-on=", 10) || !strncmp(a, "--bootstrap=", 12) || !strncmp(a, "--seed=", 7)) {
            const char *eq = strchr(a, '=');
            if (eq) v = eq + 1;
            else if (i + 1 < argc) v = argv[++i];
            else {
                free(paths);
                return cli_usage_error("compare", "%s needs a value", a);
            }
            if (!strncmp(a, "--fail-on", 9)) fail_on = v;
            else if (!strncmp(a, "--bootstrap", 11)) {
                if (!cli_parse_int(v, 0, 1000000, &boot)) {
                    free(paths);
                    return cli_usage_error("compare", "--bootstrap must be an integer in 0..1000000, got '%s'", v);
                }
            } else if (!cli_parse_int(v, 0, INT64_MAX, &seed)) {
                free(paths);
                return cli_usage_error("compare", "--seed must be a non-negative integer, got '%s'", v);
            }
        } else if (a[0] == '-' && a[1]) {
            free(paths);
            return cli_usage_error("compare", "unknown option '%s'", a);
        } else {
            paths[np++] = a;
        }
    }
    if (np < 2) {
        free(paths);
        return cli_usage_error("compare", "give at least two reports (BASELINE.json OTHER.json ...)");
    }
    char err[1024];
    if (fail_on && ev_fail_on_validate(fail_on, err, sizeof err) != EV_OK) {
        free(paths);
        return cli_usage_error("compare", "%s", err);
    }
    cli_setup_logging(0);
    ev_report **reps = calloc((size_t)np, sizeof *reps);
    int rc = EV_EXIT_OK;
    if (!reps) {
        cli_error("out of memory");
        free(paths);
        return EV_EXIT_RUNTIME;
    }
    for (int i = 0; i < np && !rc; i++) {
        ev_status st = ev_report_load(paths[i], &reps[i], err, sizeof err);
        if (st != EV_OK) {
            cli_error("%s", err);
            rc = st == EV_ERR_NOMEM ? EV_EXIT_RUNTIME : EV_EXIT_INPUT;
        }
    }
    if (!rc) {
        ev_compare_options o = ev_compare_default_options();
        o.bootstrap = (int)boot;
        o.seed = (uint64_t)seed;
        o.fail_on = fail_on;
        o.json = json;
        char *text = NULL;
        int crossed = 0;
        ev_status st = ev_report_compare((const ev_report *const *)reps, paths, np, &o, &text, &crossed, err,
                                         sizeof err);
        if (st != EV_OK) {
            cli_error("%s", err);
            rc = cli_exit_code(st);
        } else {
            fputs(text, stdout);
            if (json) fputc('\n', stdout);
            if (crossed) rc = EV_EXIT_THRESHOLD;
        }
        free(text);
    }
    for (int i = 0; i < np; i++) ev_report_free(reps[i]);
    free(reps);
    free(paths);
    return rc;
}
