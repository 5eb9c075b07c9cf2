/*
 * lib/data/manifest.c — CSV (RFC 4180) and JSONL manifests.
 *
 * CSV: records end at LF or CRLF; a field starting with '"' is quoted and
 * may contain commas, newlines and doubled quotes (""); a quote inside an
 * unquoted field, text after a closing quote, a lone CR and NUL bytes are
 * errors naming the line. Blank records are skipped. Columns are
 * path,label[,split] unless the first record is a header whose first field
 * is "path" (then the columns named path, label and split are used,
 * others ignored). A UTF-8 byte order mark is skipped.
 *
 * JSONL: one JSON object per line with "path" (string), "label" (string or
 * integer) and optionally "split" (string or null); blank lines skipped.
 *
 * Both: a record longer than max_line_bytes is an error. Paths are resolved
 * against the manifest's directory; absolute paths and paths whose ".."
 * components climb above that directory are refused unless
 * allow_absolute_paths is set. (The check is lexical: a symbolic link
 * inside the directory may still point elsewhere.)
 */
#include "data/data_internal.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Normalise `rel` lexically and join it to base. Returns NULL (e set) if
 * it escapes and escaping is not allowed. */
static const char *resolve_path(ev_dataset *ds, const char *base, const char *rel, size_t line, const char *name,
                                ev_err *e)
{
    size_t n = strlen(rel);
    if (rel[0] == '/') {
        if (!ds->opt.allow_absolute_paths) {
            ev_err_set(e, EV_ERR_DATA, "%s:%zu: absolute path '%s' refused (allow absolute paths to use it)", name,
                       line, rel);
            return NULL;
        }
        return ev_arena_strdup(&ds->arena, rel);
    }
    /* component stack over a copy */
    char *tmp = malloc(n + 1), *out = malloc(n + 1);
    if (!tmp || !out) {
        free(tmp);
        free(out);
        ev_err_set(e, EV_ERR_NOMEM, "out of memory");
        return NULL;
    }
    memcpy(tmp, rel, n + 1);
    size_t olen = 0;
    int depth = 0;
    bool escapes = false;
    char *save = NULL;
    for (char *c = strtok_r(tmp, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
        if (!strcmp(c, ".")) continue;
        if (!strcmp(c, "..")) {
            if (depth == 0) {
                escapes = true;
                /* keep it literally (only reachable with allow_absolute_paths) */
                if (olen) out[olen++] = '/';
                memcpy(out + olen, "..", 2);
                olen += 2;
                continue;
            }
            /* pop the last component */
            while (olen > 0 && out[olen - 1] != '/') olen--;
            if (olen > 0) olen--;
            depth--;
            continue;
        }
        if (olen) out[olen++] = '/';
        size_t cl = strlen(c);
        memcpy(out + olen, c, cl);
        olen += cl;
        depth++;
    }
    out[olen] = 0;
    free(tmp);
    if (escapes && !ds->opt.allow_absolute_paths) {
        free(out);
        ev_err_set(e, EV_ERR_DATA, "%s:%zu: path '%s' escapes the manifest's directory (refused)", name, line, rel);
        return NULL;
    }
    if (olen == 0 || depth == 0) {
        free(out);
        ev_err_set(e, EV_ERR_DATA, "%s:%zu: '%s' does not name a file", name, line, rel);
        return NULL;
    }
    const char *res;
    if (escapes) {
        char *j = malloc(strlen(base) + olen + 2);
        if (j) snprintf(j, strlen(base) + olen + 2, "%s/%s", base, out);
        res = j ? ev_arena_strdup(&ds->arena, j) : NULL;
        free(j);
    } else if (!strcmp(base, ".") || !*base) {
        res = ev_arena_strdup(&ds->arena, out);
    } else {
        size_t bl = strlen(base);
        char *j = malloc(bl + olen + 2);
        if (j) snprintf(j, bl + olen + 2, "%s%s%s", base, base[bl - 1] == '/' ? "" : "/", out);
        res = j ? ev_arena_strdup(&ds->arena, j) : NULL;
        free(j);
    }
    free(out);
    if (!res) ev_err_set(e, EV_ERR_NOMEM, "out of memory");
    return res;
}

static ev_status add_record(ev_dataset *ds, const char *base, const char *name, size_t line, const char *path,
                            size_t path_len, const char *label, size_t label_len, const char *split,
                            size_t split_len, ev_err *e)
{
    if (path_len == 0) return ev_err_set(e, EV_ERR_DATA, "%s:%zu: empty path", name, line);
    if (memchr(path, 0, path_len)) return ev_err_set(e, EV_ERR_DATA, "%s:%zu: NUL byte in path", name, line);
    if (!ds_label_ok(label, label_len))
        return ev_err_set(e, EV_ERR_DATA, "%s:%zu: label is empty, not valid UTF-8 or holds control characters",
                          name, line);
    ev_split sp = EV_SPLIT_NONE;
    if (split && split_len && ds_parse_split(split, split_len, &sp) != 0)
        return ev_err_set(e, EV_ERR_DATA, "%s:%zu: unknown split '%.*s' (expected train, val or test)", name, line,
                          (int)(split_len > 40 ? 40 : split_len), split);
    char *p = ev_arena_strndup(&ds->arena, path, path_len);
    if (!p) return ev_err_set(e, EV_ERR_NOMEM, "out of memory");
    ds_item it = {0};
    it.path = resolve_path(ds, base, p, line, name, e);
    if (!it.path) return e ? e->code : EV_ERR_DATA;
    it.name = it.path;
    it.label_str = ev_arena_strndup(&ds->arena, label, label_len);
    if (!it.label_str) return ev_err_set(e, EV_ERR_NOMEM, "out of memory");
    it.split = (int8_t)sp;
    ev_status st = ds_add_item(ds, &it, e);
    if (st != EV_OK) return ev_err_prefix(e, "%s:%zu", name, line);
    return EV_OK;
}

/* ---- CSV ---------------------------------------------------------------- */
#define CSV_MAX_FIELDS 64

typedef struct {
    ev_buf text;                 /* field bytes, each followed by NUL         */
    size_t off[CSV_MAX_FIELDS], len[CSV_MAX_FIELDS];
    int n;
} csv_rec;

/* Parse one record starting at *pos. Returns EV_OK with rec->n == 0 at EOF. */
static ev_status csv_next(const char *buf, size_t len, size_t *pos, size_t *line, csv_rec *rec, int64_t max_rec,
                          const char *name, ev_err *e)
{
    size_t p = *pos, start = p;
    size_t first_line = *line;
    rec->n = 0;
    rec->text.len = 0;
    rec->text.failed = false;
    if (p >= len) return EV_OK;
    for (;;) {
        if (rec->n == CSV_MAX_FIELDS)
            return ev_err_set(e, EV_ERR_DATA, "%s:%zu: more than %d fields", name, first_line, CSV_MAX_FIELDS);
        rec->off[rec->n] = rec->text.len;
        if (p < len && buf[p] == '"') {
            p++;
            for (;;) {
                if (p >= len) return ev_err_set(e, EV_ERR_DATA, "%s:%zu: unterminated quoted field", name, first_line);
                char c = buf[p];
                if (c == '"') {
                    if (p + 1 < len && buf[p + 1] == '"') {
                        ev_buf_append(&rec->text, "\"", 1);
                        p += 2;
                        continue;
                    }
                    p++;
                    break;
                }
                if (c == 0) return ev_err_set(e, EV_ERR_DATA, "%s:%zu: NUL byte", name, *line);
                if (c == '\n') (*line)++;
                ev_buf_append(&rec->text, &c, 1);
                p++;
                if ((int64_t)(p - start) > max_rec) goto too_long;
            }
            if (p < len && buf[p] != ',' && buf[p] != '\n' && !(buf[p] == '\r' && p + 1 < len && buf[p + 1] == '\n'))
                return ev_err_set(e, EV_ERR_DATA, "%s:%zu: unexpected text after a closing quote", name, *line);
        } else {
            while (p < len && buf[p] != ',' && buf[p] != '\n') {
                char c = buf[p];
                if (c == '"')
                    return ev_err_set(e, EV_ERR_DATA, "%s:%zu: quote inside an unquoted field (quote the whole field)",
                                      name, *line);
                if (c == 0) return ev_err_set(e, EV_ERR_DATA, "%s:%zu: NUL byte", name, *line);
                if (c == '\r') {
                    if (p + 1 < len && buf[p + 1] == '\n') break;
                    return ev_err_set(e, EV_ERR_DATA, "%s:%zu: carriage return inside a field", name, *line);
                }
                ev_buf_append(&rec->text, &c, 1);
                p++;
                if ((int64_t)(p - start) > max_rec) goto too_long;
            }
        }
        if ((int64_t)(p - start) > max_rec) goto too_long;
        rec->len[rec->n] = rec->text.len - rec->off[rec->n];
        ev_buf_append(&rec->text, "", 1); /* NUL separator */
        rec->n++;
        if (rec->text.failed) return ev_err_set(e, EV_ERR_NOMEM, "out of memory");
        if (p >= len) break;
        if (buf[p] == ',') { p++; continue; }
        if (buf[p] == '\r') p++;
        if (p < len && buf[p] == '\n') { p++; (*line)++; }
        break;
    }
    *pos = p;
    return EV_OK;
too_long:
    return ev_err_set(e, EV_ERR_LIMIT, "%s:%zu: record longer than %lld bytes (the max line length)", name, first_line,
                      (long long)max_rec);
}

static ev_status parse_csv(ev_dataset *ds, const char *buf, size_t len, const char *name, const char *base, ev_err *e)
{
    size_t pos = 0, line = 1;
    if (len >= 3 && (unsigned char)buf[0] == 0xef && (unsigned char)buf[1] == 0xbb && (unsigned char)buf[2] == 0xbf)
        pos = 3;
    csv_rec rec;
    ev_buf_init(&rec.text, (size_t)ds->opt.max_line_bytes + 16);
    int col_path = 0, col_label = 1, col_split = 2, n_cols = -1;
    bool first = true;
    ev_status st = EV_OK;
    while (st == EV_OK) {
        size_t rec_line = line;
        st = csv_next(buf, len, &pos, &line, &rec, ds->opt.max_line_bytes, name, e);
        if (st != EV_OK || rec.n == 0) break;
        if (rec.n == 1 && rec.len[0] == 0) continue; /* blank line */
        const char *f[CSV_MAX_FIELDS] = {0};
        for (int i = 0; i < rec.n; i++) f[i] = rec.text.data + rec.off[i];
        if (first) {
            first = false;
            if (!strcasecmp(f[0], "path")) {
                col_path = 0;
                col_label = col_split = -1;
                for (int i = 1; i < rec.n; i++) {
                    if (!strcasecmp(f[i], "label")) col_label = i;
                    else if (!strcasecmp(f[i], "split")) col_split = i;
                }
                if (col_label < 0) {
                    st = ev_err_set(e, EV_ERR_DATA, "%s:%zu: header has no 'label' column", name, rec_line);
                    break;
                }
                n_cols = rec.n;
                continue;
            }
        }
        if (n_cols < 0) {
            if (rec.n < 2 || rec.n > 3) {
                st = ev_err_set(e, EV_ERR_DATA, "%s:%zu: %d fields, expected path,label[,split]", name, rec_line, rec.n);
                break;
            }
        } else if (rec.n != n_cols) {
            st = ev_err_set(e, EV_ERR_DATA, "%s:%zu: %d fields, the header has %d", name, rec_line, rec.n, n_cols);
            break;
        }
        const char *sp = (col_split >= 0 && col_split < rec.n) ? f[col_split] : NULL;
        size_t spl = sp ? rec.len[col_split] : 0;
        st = add_record(ds, base, name, rec_line, f[col_path], rec.len[col_path], f[col_label], rec.len[col_label], sp,
                        spl, e);
    }
    ev_buf_free(&rec.text);
    return st;
}

/* ---- JSONL -------------------------------------------------------------- */
static ev_status parse_jsonl(ev_dataset *ds, const char *buf, size_t len, const char *name, const char *base, ev_err *e)
{
    size_t pos = 0, line = 0;
    if (len >= 3 && (unsigned char)buf[0] == 0xef && (unsigned char)buf[1] == 0xbb && (unsigned char)buf[2] == 0xbf)
        pos = 3;
    char *tmp = malloc((size_t)ds->opt.max_line_bytes + 1);
    if (!tmp) return ev_err_set(e, EV_ERR_NOMEM, "out of memory");
    ev_status st = EV_OK;
    while (pos < len && st == EV_OK) {
        line++;
        const char *nl = memchr(buf + pos, '\n', len - pos);
        size_t l = nl ? (size_t)(nl - (buf + pos)) : len - pos;
        const char *s = buf + pos;
        pos += l + (nl ? 1 : 0);
        if (l && s[l - 1] == '\r') l--;
        if ((int64_t)l > ds->opt.max_line_bytes) {
            st = ev_err_set(e, EV_ERR_LIMIT, "%s:%zu: line longer than %lld bytes (the max line length)", name, line,
                            (long long)ds->opt.max_line_bytes);
            break;
        }
        size_t k = 0;
        while (k < l && (s[k] == ' ' || s[k] == '\t')) k++;
        if (k == l) continue;
        if (memchr(s, 0, l)) {
            st = ev_err_set(e, EV_ERR_DATA, "%s:%zu: NUL byte", name, line);
            break;
        }
        memcpy(tmp, s, l);
        tmp[l] = 0;
        const char *end = NULL;
        cJSON *obj = cJSON_ParseWithOpts(tmp, &end, 1);
        if (!obj) {
            st = ev_err_set(e, EV_ERR_DATA, "%s:%zu: invalid JSON near byte %ld", name, line,
                            end ? (long)(end - tmp) + 1 : 0L);
            break;
        }
        if (!cJSON_IsObject(obj)) {
            cJSON_Delete(obj);
            st = ev_err_set(e, EV_ERR_DATA, "%s:%zu: expected a JSON object", name, line);
            break;
        }
        cJSON *jp = cJSON_GetObjectItemCaseSensitive(obj, "path");
        cJSON *jl = cJSON_GetObjectItemCaseSensitive(obj, "label");
        cJSON *js = cJSON_GetObjectItemCaseSensitive(obj, "split");
        char numbuf[32];
        const char *lab = NULL;
        if (!cJSON_IsString(jp)) st = ev_err_set(e, EV_ERR_DATA, "%s:%zu: \"path\" must be a string", name, line);
        else if (cJSON_IsString(jl)) lab = jl->valuestring;
        else if (cJSON_IsNumber(jl)) {
            double v = jl->valuedouble;
            if (v < 0 || v > 9e15 || v != (double)(long long)v)
                st = ev_err_set(e, EV_ERR_DATA, "%s:%zu: numeric \"label\" must be a non-negative integer", name, line);
            else {
                snprintf(numbuf, sizeof numbuf, "%lld", (long long)v);
                lab = numbuf;
            }
        } else st = ev_err_set(e, EV_ERR_DATA, "%s:%zu: \"label\" must be a string or an integer", name, line);
        if (st == EV_OK && js && !cJSON_IsString(js) && !cJSON_IsNull(js))
            st = ev_err_set(e, EV_ERR_DATA, "%s:%zu: \"split\" must be a string", name, line);
        if (st == EV_OK) {
            const char *sp = cJSON_IsString(js) ? js->valuestring : NULL;
            st = add_record(ds, base, name, line, jp->valuestring, strlen(jp->valuestring), lab, strlen(lab), sp,
                            sp ? strlen(sp) : 0, e);
        }
        cJSON_Delete(obj);
    }
    free(tmp);
    return st;
}

ev_status ds_parse_manifest(ev_dataset *ds, const char *buf, size_t len, const char *name, const char *base_dir,
                            ev_dataset_format fmt, ev_err *e)
{
    ev_status st = fmt == EV_DS_CSV ? parse_csv(ds, buf, len, name, base_dir, e)
                                    : parse_jsonl(ds, buf, len, name, base_dir, e);
    if (st != EV_OK) return st;
    if (ds->n_items == 0) return ev_err_set(e, EV_ERR_DATA, "%s: manifest has no records", name);
    return ds_labels_from_strings(ds, e);
}

ev_status ds_open_manifest(ev_dataset *ds, const char *path, ev_dataset_format fmt, ev_err *e)
{
    char *buf = NULL;
    size_t len = 0;
    EV_TRY(ev_read_file(path, (size_t)ds->opt.max_file_bytes, &buf, &len, e));
    char *dir = ev_strdup(path);
    if (!dir) {
        free(buf);
        return ev_err_set(e, EV_ERR_NOMEM, "out of memory");
    }
    char *slash = strrchr(dir, '/');
    if (slash == dir) dir[1] = 0;
    else if (slash) *slash = 0;
    else { dir[0] = '.'; dir[1] = 0; }
    ev_status st = ds_parse_manifest(ds, buf, len, path, dir, fmt, e);
    free(dir);
    free(buf);
    return st;
}
