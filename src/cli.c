/* src/cli.c — shared CLI helpers. */
#include "cli.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void vprint_line(const char *prefix, const char *fmt, va_list ap)
{
    char msg[2048];
    vsnprintf(msg, sizeof msg, fmt, ap);
    for (char *p = msg; *p; p++)
        if (*p == '\n' || *p == '\r') *p = ' ';
    fprintf(stderr, "embeval: %s: %s\n", prefix, msg);
}

void cli_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vprint_line("error", fmt, ap);
    va_end(ap);
}

void cli_warn(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vprint_line("warning", fmt, ap);
    va_end(ap);
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vprint_line("error", fmt, ap);
    va_end(ap);
    fprintf(stderr, "Try 'embeval %s --help'.\n", cmd);
    return EV_EXIT_USAGE;
}

int cli_exit_code(ev_status st)
{
    switch (st) {
    case EV_OK: return EV_EXIT_OK;
    case EV_ERR_FORMAT:
    case EV_ERR_UNSUPPORTED:
    case EV_ERR_SHAPE:
    case EV_ERR_LIMIT:
    case EV_ERR_DATA:
    case EV_ERR_NOT_FOUND:
    case EV_ERR_UNDEFINED:
        return EV_EXIT_INPUT;
    case EV_ERR_INVALID_ARG:
        return EV_EXIT_USAGE;
    default:
        return EV_EXIT_RUNTIME;
    }
}

static int g_verbosity;

static void log_cb(void *user, ev_log_level level, const char *msg)
{
    (void)user;
    if (level == EV_LOG_ERROR) fprintf(stderr, "embeval: error: %s\n", msg);
    else if (level == EV_LOG_WARN) fprintf(stderr, "embeval: warning: %s\n", msg);
    else if ((int)level <= g_verbosity + 1) fprintf(stderr, "embeval: %s\n", msg);
}

void cli_setup_logging(int verbosity)
{
    g_verbosity = verbosity;
    ev_set_log(log_cb, NULL);
}

bool cli_parse_int(const char *s, int64_t lo, int64_t hi, int64_t *out)
{
    if (!s || !*s) return false;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end || v < lo || v > hi) return false;
    *out = v;
    return true;
}

bool cli_parse_double(const char *s, double *out)
{
    if (!s || !*s) return false;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end || !isfinite(v)) return false;
    *out = v;
    return true;
}

bool cli_stderr_is_tty(void) { return isatty(STDERR_FILENO) && !getenv("EMBEVAL_NO_PROGRESS"); }
