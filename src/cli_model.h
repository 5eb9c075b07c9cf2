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

/* "1,234,567" */
void cli_format_count(int64_t v, char *buf, size_t len);

#endif
