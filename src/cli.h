/*
 * src/cli.h — helpers shared by the subcommands. The CLI is a client of the
 * public API only (include/embeval/); it never includes lib/ headers.
 *
 * A subcommand lives in src/cmd_<name>.c and defines
 *     const char ev_cmd_<name>_summary[] = "one line for `embeval --help`";
 *     int ev_cmd_<name>(int argc, char **argv);   // argv[0] = "<name>"
 * The build generates the command table from the file names.
 * Every subcommand handles --help (exit 0) and prints errors as
 *     embeval: error: <what> (<where>)
 */
#ifndef EV_CLI_H
#define EV_CLI_H

#include <stdbool.h>
#include <stdint.h>

#include "embeval/embeval.h"

/* Exit codes (ARCHITECTURE.md). */
enum {
    EV_EXIT_OK = 0,
    EV_EXIT_RUNTIME = 1,         /* runtime failure (I/O on outputs, ...)     */
    EV_EXIT_USAGE = 2,           /* bad command line                          */
    EV_EXIT_INPUT = 3,           /* invalid input data or model               */
    EV_EXIT_THRESHOLD = 4        /* a --fail-on threshold was crossed          */
};

/* "embeval: error: <msg>" on stderr (one line; newlines in msg are folded). */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void cli_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Usage error: prints the error and "Try 'embeval <cmd> --help'."; returns 2. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Exit code for a library status: data/model problems -> 3, others -> 1. */
int cli_exit_code(ev_status st);

/* Install the log callback (warnings always; info/debug with verbose). */
void cli_setup_logging(int verbosity);

/* Strict number parsing: the whole string must be a number in [lo, hi]. */
bool cli_parse_int(const char *s, int64_t lo, int64_t hi, int64_t *out);
bool cli_parse_double(const char *s, double *out);

/* True if stderr is a terminal (progress bars) and NO_COLOR-style opt-outs. */
bool cli_stderr_is_tty(void);

#endif
