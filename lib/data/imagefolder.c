/*
 * lib/data/imagefolder.c — root/<class>/<image> and root/<split>/<class>/<image>.
 *
 * The split level is recognised when every (non-hidden) subdirectory of the
 * root is a split name (train, val, valid, validation, test). Class names
 * are directory names, sorted bytewise; images are found recursively inside
 * a class directory (symbolic links followed, depth limited by max_depth so
 * a link loop ends), visited in bytewise name order. Hidden entries (".x")
 * are skipped; files without an image extension are ignored and counted.
 */
#include "data/data_internal.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *const IMAGE_EXTS[] = {".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".webp", ".tif", ".tiff",
                                         ".gif", ".bmp",  ".ppm", ".pgm",  ".pbm", ".pnm"};

static bool is_image_name(const char *name)
{
    for (size_t i = 0; i < sizeof IMAGE_EXTS / sizeof IMAGE_EXTS[0]; i++)
        if (ds_has_suffix(name, IMAGE_EXTS[i])) return true;
    return false;
}

typedef struct {
    char **v;
    int n, cap;
} strvec;

static void sv_free(strvec *s)
{
    for (int i = 0; i < s->n; i++) free(s->v[i]);
    free(s->v);
    s->v = NULL;
    s->n = s->cap = 0;
}

static bool sv_push(strvec *s, const char *str)
{
    if (s->n == s->cap) {
        int cap = s->cap ? s->cap * 2 : 16;
        char **n = realloc(s->v, (size_t)cap * sizeof *n);
        if (!n) return false;
        s->v = n;
        s->cap = cap;
    }
    s->v[s->n] = ev_strdup(str);
    if (!s->v[s->n]) return false;
    s->n++;
    return true;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Sorted names of the non-hidden entries of dir. */
static ev_status list_dir(const char *dir, strvec *out, ev_err *e)
{
    DIR *d = opendir(dir);
    if (!d) return ev_err_set(e, EV_ERR_IO, "cannot read directory %s: %s", dir, strerror(errno));
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.') continue;
        if (!sv_push(out, de->d_name)) {
            closedir(d);
            return ev_err_set(e, EV_ERR_NOMEM, "out of memory listing %s", dir);
        }
        if (out->n > 50000000) {
            closedir(d);
            return ev_err_set(e, EV_ERR_LIMIT, "too many entries in %s", dir);
        }
    }
    closedir(d);
    if (out->n > 1) qsort(out->v, (size_t)out->n, sizeof *out->v, cmp_str);
    return EV_OK;
}

static char *join(const char *a, const char *b)
{
    size_t n = strlen(a) + strlen(b) + 2;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s%s%s", a, (*a && a[strlen(a) - 1] == '/') ? "" : "/", b);
    return p;
}

static bool is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

typedef struct {
    int64_t ignored;
    int64_t too_deep;
} walk_stats;

static ev_status walk(ev_dataset *ds, const char *dir, int depth, int label, ev_split split, int64_t *found,
                      walk_stats *ws, ev_err *e)
{
    strvec names = {0};
    ev_status st = list_dir(dir, &names, e);
    for (int i = 0; st == EV_OK && i < names.n; i++) {
        char *p = join(dir, names.v[i]);
        if (!p) { st = ev_err_set(e, EV_ERR_NOMEM, "out of memory"); break; }
        struct stat fs;
        if (stat(p, &fs) != 0) {
            /* dangling link: let the decoder report it like any unreadable image */
            if (is_image_name(names.v[i])) fs.st_mode = S_IFREG;
            else { ws->ignored++; free(p); continue; }
        }
        if (S_ISDIR(fs.st_mode)) {
            if (depth >= ds->opt.max_depth) ws->too_deep++;
            else st = walk(ds, p, depth + 1, label, split, found, ws, e);
        } else if (is_image_name(names.v[i])) {
            ds_item it = {0};
            it.path = ev_arena_strdup(&ds->arena, p);
            if (!it.path) st = ev_err_set(e, EV_ERR_NOMEM, "out of memory");
            else {
                it.name = it.path;
                it.label = label;
                it.split = (int8_t)split;
                st = ds_add_item(ds, &it, e);
                (*found)++;
            }
        } else {
            ws->ignored++;
        }
        free(p);
    }
    sv_free(&names);
    return st;
}

ev_status ds_open_imagefolder(ev_dataset *ds, const char *root, ev_err *e)
{
    strvec top = {0}, dirs = {0};
    EV_TRY(list_dir(root, &top, e));
    ev_status st = EV_OK;
    int64_t loose = 0;
    for (int i = 0; i < top.n && st == EV_OK; i++) {
        char *p = join(root, top.v[i]);
        if (!p) st = ev_err_set(e, EV_ERR_NOMEM, "out of memory");
        else if (is_dir(p)) { if (!sv_push(&dirs, top.v[i])) st = ev_err_set(e, EV_ERR_NOMEM, "out of memory"); }
        else loose++;
        free(p);
    }
    sv_free(&top);
    if (st != EV_OK) { sv_free(&dirs); return st; }
    if (dirs.n == 0) {
        sv_free(&dirs);
        return ev_err_set(e, EV_ERR_DATA, "%s has no class subdirectories (expected root/<class>/<image>)", root);
    }
    if (loose) ds_warn(ds, "ignored %lld files directly under %s (images belong in class directories)", (long long)loose, root);

    bool split_mode = true;
    for (int i = 0; i < dirs.n; i++) {
        ev_split sp;
        if (ds_parse_split(dirs.v[i], strlen(dirs.v[i]), &sp) != 0) split_mode = false;
    }

    /* (split, class dir) pairs and the union of class names */
    typedef struct { ev_split split; char *cls; char *dir; } entry;
    entry *ent = NULL;
    int n_ent = 0, cap_ent = 0;
    strvec classes = {0};
    int n_split_dirs = split_mode ? dirs.n : 1;
    for (int s = 0; s < n_split_dirs && st == EV_OK; s++) {
        ev_split sp = EV_SPLIT_NONE;
        char *base = NULL;
        strvec cls = {0};
        if (split_mode) {
            ds_parse_split(dirs.v[s], strlen(dirs.v[s]), &sp);
            base = join(root, dirs.v[s]);
            if (!base) { st = ev_err_set(e, EV_ERR_NOMEM, "out of memory"); break; }
            strvec all = {0};
            st = list_dir(base, &all, e);
            for (int i = 0; st == EV_OK && i < all.n; i++) {
                char *p = join(base, all.v[i]);
                if (!p) { st = ev_err_set(e, EV_ERR_NOMEM, "out of memory"); break; }
                if (is_dir(p)) { if (!sv_push(&cls, all.v[i])) st = ev_err_set(e, EV_ERR_NOMEM, "out of memory"); }
                else if (is_image_name(all.v[i])) ds_warn(ds, "ignored %s (not inside a class directory)", p);
                free(p);
            }
            sv_free(&all);
        } else {
            base = ev_strdup(root);
            for (int i = 0; i < dirs.n; i++)
                if (!sv_push(&cls, dirs.v[i])) st = ev_err_set(e, EV_ERR_NOMEM, "out of memory");
        }
        for (int i = 0; st == EV_OK && i < cls.n; i++) {
            if (!ds_label_ok(cls.v[i], strlen(cls.v[i]))) {
                st = ev_err_set(e, EV_ERR_DATA, "class directory name '%s' in %s is not valid UTF-8 or holds control characters",
                                cls.v[i], base);
                break;
            }
            if (n_ent == cap_ent) {
                int cap = cap_ent ? cap_ent * 2 : 32;
                entry *n = realloc(ent, (size_t)cap * sizeof *n);
                if (!n) { st = ev_err_set(e, EV_ERR_NOMEM, "out of memory"); break; }
                ent = n;
                cap_ent = cap;
            }
            ent[n_ent].split = sp;
            ent[n_ent].cls = ev_strdup(cls.v[i]);
            ent[n_ent].dir = join(base, cls.v[i]);
            n_ent++;
            if (!ent[n_ent - 1].cls || !ent[n_ent - 1].dir) st = ev_err_set(e, EV_ERR_NOMEM, "out of memory");
            if (st == EV_OK && !sv_push(&classes, cls.v[i])) st = ev_err_set(e, EV_ERR_NOMEM, "out of memory");
        }
        sv_free(&cls);
        free(base);
    }
    sv_free(&dirs);

    if (st == EV_OK) {
        if (classes.n > 1) qsort(classes.v, (size_t)classes.n, sizeof *classes.v, cmp_str);
        int u = 0;
        for (int i = 0; i < classes.n; i++) {
            if (u > 0 && !strcmp(classes.v[u - 1], classes.v[i])) { free(classes.v[i]); continue; }
            classes.v[u++] = classes.v[i];
        }
        classes.n = u;
        if (u == 0) st = ev_err_set(e, EV_ERR_DATA, "%s has no class directories", root);
        else st = ds_set_classes(ds, (const char *const *)classes.v, classes.n, e);
    }
    int64_t *per_class = st == EV_OK ? calloc((size_t)classes.n, sizeof *per_class) : NULL;
    if (st == EV_OK && !per_class) st = ev_err_set(e, EV_ERR_NOMEM, "out of memory");
    walk_stats ws = {0, 0};
    /* entries are already in split order (sorted split dir names: test < train < val);
       visit train, val, test, none for a stable, intuitive item order */
    static const ev_split order[] = {EV_SPLIT_TRAIN, EV_SPLIT_VAL, EV_SPLIT_TEST, EV_SPLIT_NONE};
    for (int o = 0; o < 4 && st == EV_OK; o++) {
        for (int i = 0; i < n_ent && st == EV_OK; i++) {
            if (ent[i].split != order[o] || !ds_wants_split(ds, ent[i].split)) continue;
            char **hit = bsearch(&ent[i].cls, classes.v, (size_t)classes.n, sizeof *classes.v, cmp_str);
            int label = (int)(hit - classes.v);
            int64_t found = 0;
            st = walk(ds, ent[i].dir, 1, label, ent[i].split, &found, &ws, e);
            per_class[label] += found;
            if (st == EV_OK && found == 0 && split_mode)
                ds_warn(ds, "class '%s' has no images in %s", ent[i].cls, ent[i].dir);
        }
    }
    if (st == EV_OK) {
        for (int c = 0; c < classes.n && ds->opt.load_split <= EV_SPLIT_NONE; c++)
            if (per_class[c] == 0) ds_warn(ds, "empty class '%s': no images at all", classes.v[c]);
        if (ws.ignored) ds_warn(ds, "ignored %lld files without an image extension under %s", (long long)ws.ignored, root);
        if (ws.too_deep)
            ds_warn(ds, "ignored %lld directories nested deeper than %d levels under %s", (long long)ws.too_deep,
                    ds->opt.max_depth, root);
    }
    free(per_class);
    for (int i = 0; i < n_ent; i++) { free(ent[i].cls); free(ent[i].dir); }
    free(ent);
    sv_free(&classes);
    return st;
}
