/* src/cli_model.c — helpers shared by `embeval inspect` and `embeval infer`. */
#include "cli_model.h"

#include <stdio.h>
#include <string.h>

void cli_format_dims(int rank, const int64_t *dims, char *buf, size_t len)
{
    if (!len) return;
    if (rank < 0) { snprintf(buf, len, "[unknown]"); return; }
    size_t o = (size_t)snprintf(buf, len, "[");
    for (int i = 0; i < rank && i < EV_MAX_RANK && o < len; i++) {
        if (dims[i] < 0) o += (size_t)snprintf(buf + o, len - o, "%s?", i ? ", " : "");
        else o += (size_t)snprintf(buf + o, len - o, "%s%lld", i ? ", " : "", (long long)dims[i]);
    }
    if (o < len) snprintf(buf + o, len - o, "]");
}

bool cli_parse_shape_arg(const char *s, cli_shape_arg *out)
{
    const char *eq = strrchr(s, '=');
    if (!eq || eq == s) return false;
    out->name = s;
    out->name_len = (size_t)(eq - s);
    out->rank = 0;
    const char *p = eq + 1;
    if (!*p) return true;
    for (;;) {
        if (out->rank >= EV_MAX_RANK) return false;
        char tmp[32];
        size_t n = strcspn(p, ",");
        if (n == 0 || n >= sizeof tmp) return false;
        memcpy(tmp, p, n);
        tmp[n] = 0;
        int64_t v;
        if (!cli_parse_int(tmp, 0, (int64_t)1 << 40, &v)) return false;
        out->dims[out->rank++] = v;
        p += n;
        if (!*p) return true;
        p++; /* ',' */
        if (!*p) return false;
    }
}

void cli_format_count(int64_t v, char *buf, size_t len)
{
    char tmp[32];
    snprintf(tmp, sizeof tmp, "%lld", (long long)(v < 0 ? -v : v));
    size_t n = strlen(tmp), o = 0;
    char out[48];
    if (v < 0) out[o++] = '-';
    for (size_t i = 0; i < n; i++) {
        if (i && (n - i) % 3 == 0) out[o++] = ',';
        out[o++] = tmp[i];
    }
    out[o] = 0;
    snprintf(buf, len, "%s", out);
}

int cli_model_limit_option(const char *cmd, int argc, char **argv, int *i, ev_model_options *o)
{
    static const struct {
        const char *name;
        int64_t max, scale;
    } opts[] = {{"--max-tensor-mb", (int64_t)1 << 30, (int64_t)1 << 20},
                {"--max-model-mb", (int64_t)1 << 30, (int64_t)1 << 20},
                {"--max-nodes", (int64_t)1 << 30, 1}};
    const char *a = argv[*i];
    for (size_t k = 0; k < sizeof opts / sizeof opts[0]; k++) {
        size_t n = strlen(opts[k].name);
        const char *v;
        if (!strcmp(a, opts[k].name)) {
            if (*i + 1 >= argc) {
                cli_usage_error(cmd, "%s needs a value", opts[k].name);
                return -1;
            }
            v = argv[++*i];
        } else if (!strncmp(a, opts[k].name, n) && a[n] == '=') {
            v = a + n + 1;
        } else {
            continue;
        }
        int64_t val;
        if (!cli_parse_int(v, 1, opts[k].max, &val)) {
            cli_usage_error(cmd, "%s must be an integer in 1..%lld, got '%s'", opts[k].name,
                            (long long)opts[k].max, v);
            return -1;
        }
        if (k == 0) o->max_tensor_bytes = val * opts[k].scale;
        else if (k == 1) o->max_file_bytes = val * opts[k].scale;
        else o->max_nodes = val;
        return 1;
    }
    return 0;
}
