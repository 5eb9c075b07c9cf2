/* src/cmd_cache.c — `embeval cache stats|clear|verify`: the embedding cache. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

const char ev_cmd_cache_summary[] = "show, verify or clear the embedding cache";

static void help(void)
{
    printf("Usage: embeval cache stats|verify|clear [--cache-dir DIR] [--json]\n"
           "\n"
           "The embedding cache keeps every embedding embeval computed, keyed by the\n"
           "SHA-256 of the model file, of the preprocessing and of the image bytes, in\n"
           "one SQLite database (DIR/embeddings.sqlite3).\n"
           "\n"
           "Commands:\n"
           "  stats    entries, models, sizes\n"
           "  verify   check the database and every entry's checksum\n"
           "  clear    delete every entry\n"
           "\n"
           "Options:\n"
           "  --cache-dir DIR  the cache directory (default $EMBEVAL_CACHE_DIR, else\n"
           "                   $XDG_CACHE_HOME/embeval, else ~/.cache/embeval)\n"
           "  --json           machine-readable output (stats, verify)\n"
           "  -h, --help       show this help\n"
           "\n"
           "Exit status: 0 ok; 2 usage error; 3 verify found damage; 1 other failures.\n");
}

static int resolve_cache_dir(const char *opt, char *buf, size_t len)
{
    if (opt && *opt) {
        snprintf(buf, len, "%s", opt);
        return 0;
    }
    const char *env = getenv("EMBEVAL_CACHE_DIR");
    if (env && *env) {
        snprintf(buf, len, "%s", env);
        return 0;
    }
    return ev_cache_default_dir(getenv("XDG_CACHE_HOME"), getenv("HOME"), buf, len) == EV_OK ? 0 : -1;
}

static void json_str(const char *s)
{
    putchar('"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') printf("\\%c", *p);
        else if (*p < 0x20) printf("\\u%04x", *p);
        else putchar(*p);
    }
    putchar('"');
}

static void human(int64_t b, char *buf, size_t len)
{
    if (b < 1024) snprintf(buf, len, "%lld B", (long long)b);
    else if (b < ((int64_t)1 << 20)) snprintf(buf, len, "%.1f KiB", (double)b / 1024);
    else if (b < ((int64_t)1 << 30)) snprintf(buf, len, "%.1f MiB", (double)b / (1 << 20));
    else snprintf(buf, len, "%.2f GiB", (double)b / (1 << 30));
}

int ev_cmd_cache(int argc, char **argv)
{
    const char *sub = NULL, *dir_opt = NULL;
    bool json = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            help();
            return EV_EXIT_OK;
        }
        if (!strcmp(a, "--json")) json = true;
        else if (!strcmp(a, "--cache-dir")) {
            if (i + 1 >= argc) return cli_usage_error("cache", "--cache-dir needs a value");
            dir_opt = argv[++i];
        } else if (!strncmp(a, "--cache-dir=", 12)) dir_opt = a + 12;
        else if (a[0] == '-') return cli_usage_error("cache", "unknown option '%s'", a);
        else if (!sub) sub = a;
        else return cli_usage_error("cache", "unexpected argument '%s'", a);
    }
    if (!sub) return cli_usage_error("cache", "say stats, verify or clear");
    if (strcmp(sub, "stats") && strcmp(sub, "clear") && strcmp(sub, "verify"))
        return cli_usage_error("cache", "unknown cache command '%s' (stats, verify, clear)", sub);
    cli_setup_logging(0);
    char dir[4096], err[1024];
    if (resolve_cache_dir(dir_opt, dir, sizeof dir) != 0) {
        cli_error("no cache directory: set --cache-dir, EMBEVAL_CACHE_DIR, XDG_CACHE_HOME or HOME");
        return EV_EXIT_RUNTIME;
    }
    char db[4200];
    snprintf(db, sizeof db, "%s/embeddings.sqlite3", dir);
    struct stat st;
    if (stat(dir, &st) == 0 && !S_ISDIR(st.st_mode)) {
        cli_error("%s is not a directory (the cache directory)", dir);
        return EV_EXIT_RUNTIME;
    }
    if (stat(db, &st) != 0) {
        /* nothing to show or clear: do not create a cache just to say so */
        if (json) {
            printf("{\"path\": ");
            json_str(db);
            printf(", \"exists\": false, \"entries\": 0, \"models\": 0}\n");
        }
        else if (!strcmp(sub, "clear")) printf("cache %s: nothing to clear\n", db);
        else printf("cache %s: empty (not created yet)\n", db);
        return EV_EXIT_OK;
    }
    ev_cache *c = NULL;
    ev_status s = ev_cache_open(dir, &c, err, sizeof err);
    if (s != EV_OK) {
        cli_error("%s", err);
        return cli_exit_code(s) == EV_EXIT_INPUT ? EV_EXIT_INPUT : EV_EXIT_RUNTIME;
    }
    int rc = EV_EXIT_OK;
    ev_cache_stats cs;
    if (!strcmp(sub, "clear")) {
        ev_cache_stats_get(c, &cs);
        if (ev_cache_clear(c) != EV_OK) {
            cli_error("%s", ev_cache_errmsg(c));
            rc = EV_EXIT_RUNTIME;
        } else {
            printf("cache %s: removed %lld entries\n", ev_cache_path(c), (long long)cs.entries);
        }
    } else if (!strcmp(sub, "verify")) {
        int64_t bad = 0;
        s = ev_cache_verify(c, &bad);
        if (s != EV_OK) {
            cli_error("%s", ev_cache_errmsg(c));
            rc = s == EV_ERR_FORMAT ? EV_EXIT_INPUT : EV_EXIT_RUNTIME;
        } else {
            ev_cache_stats_get(c, &cs);
            if (json) {
                printf("{\"path\": ");
                json_str(ev_cache_path(c));
                printf(", \"entries\": %lld, \"bad\": %lld}\n", (long long)cs.entries, (long long)bad);
            }
            else printf("cache %s: %lld entries, %lld bad\n", ev_cache_path(c), (long long)cs.entries, (long long)bad);
            if (bad) rc = EV_EXIT_INPUT;
        }
    } else {
        if (ev_cache_stats_get(c, &cs) != EV_OK) {
            cli_error("%s", ev_cache_errmsg(c));
            rc = EV_EXIT_RUNTIME;
        } else if (json) {
            printf("{\"path\": ");
            json_str(ev_cache_path(c));
            printf(", \"exists\": true, \"entries\": %lld, \"models\": %lld, \"vector_bytes\": %lld, "
                   "\"file_bytes\": %lld}\n",
                   (long long)cs.entries, (long long)cs.models, (long long)cs.vector_bytes,
                   (long long)cs.file_bytes);
        } else {
            char vb[32], fb[32];
            human(cs.vector_bytes, vb, sizeof vb);
            human(cs.file_bytes, fb, sizeof fb);
            printf("cache:    %s\nentries:  %lld embeddings of %lld model%s\nvectors:  %s\non disk:  %s\n",
                   ev_cache_path(c), (long long)cs.entries, (long long)cs.models, cs.models == 1 ? "" : "s", vb, fb);
        }
    }
    ev_cache_close(c);
    return rc;
}
