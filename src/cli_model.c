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
