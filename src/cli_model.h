/*
 * src/cli_model.h — helpers shared by the model commands (inspect, infer):
 * shape formatting and `--shape NAME=d0,d1,...` parsing. Public API only.
 */
#ifndef EV_CLI_MODEL_H
#define EV_CLI_MODEL_H

#include <stddef.h>

#include "cli.h"

/* "[?, 3, 224, 224]" (dims < 0 print as '?'; rank < 0 prints "[unknown]"). */
void cli_format_dims(int rank, const int64_t *dims, char *buf, size_t len);

typedef struct cli_shape_arg {
    const char *name;            /* points into argv (not NUL-terminated at '=') */
    size_t name_len;
    int rank;
    int64_t dims[EV_MAX_RANK];
} cli_shape_arg;

/* Parse "NAME=d0,d1,..." (dims >= 0; "NAME=" alone is a scalar). */
bool cli_parse_shape_arg(const char *s, cli_shape_arg *out);

/* Engine resource limits on the command line (docs/limits.md):
 *   --max-tensor-mb N   per initializer and per activation (default 2048)
 *   --max-model-mb N    model file + external data (default 4096)
 *   --max-nodes N       graph nodes (default 100000)
 * If argv[*i] is one of them ("--opt N" or "--opt=N"), parse it into o,
 * advance *i past its value and return 1; return 0 if it is another
 * argument; on a bad value print a usage error for `cmd` and return -1. */
int cli_model_limit_option(const char *cmd, int argc, char **argv, int *i, ev_model_options *o);
/* Help text lines for the options above. */
#define CLI_MODEL_LIMITS_HELP \
    "  --max-tensor-mb N    refuse an initializer or activation over N MiB\n" \
    "                       (default 2048)\n" \
    "  --max-model-mb N     refuse a model file (+ external data) over N MiB\n" \
    "                       (default 4096)\n" \
    "  --max-nodes N        refuse a graph with more than N nodes (default 100000)\n"

/* "1,234,567" */
void cli_format_count(int64_t v, char *buf, size_t len);

#endif
