/*
 * tests/pipeline/tu.h — tiny test helpers for the pipeline unit tests
 * (datasets, images, cards, cache): CHECK macros that count failures, a
 * fresh temporary directory, file writers.
 */
#ifndef EV_TESTS_PIPELINE_TU_H
#define EV_TESTS_PIPELINE_TU_H

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int tu_failures;
static int tu_checks;

#define CHECK(cond)                                                                \
    do {                                                                           \
        tu_checks++;                                                               \
        if (!(cond)) {                                                             \
            tu_failures++;                                                         \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                          \
    } while (0)

#define CHECK_MSG(cond, ...)                                                       \
    do {                                                                           \
        tu_checks++;                                                               \
        if (!(cond)) {                                                             \
            tu_failures++;                                                         \
            fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                          \
            fputc('\n', stderr);                                                   \
        }                                                                          \
    } while (0)

/* err must contain needle */
#define CHECK_HAS(err, needle) CHECK_MSG(strstr((err), (needle)) != NULL, "'%s' lacks '%s'", (err), (needle))

static inline int tu_done(const char *name)
{
    if (tu_failures) {
        fprintf(stderr, "%s: %d of %d checks failed\n", name, tu_failures, tu_checks);
        return 1;
    }
    printf("%s: all %d checks passed\n", name, tu_checks);
    return 0;
}

/* A fresh directory under $TMPDIR (or /tmp); path in buf. */
static inline const char *tu_tmpdir(char *buf, size_t len, const char *tag)
{
    const char *t = getenv("TMPDIR");
    snprintf(buf, len, "%s/ev-%s-XXXXXX", t && *t ? t : "/tmp", tag);
    if (!mkdtemp(buf)) {
        perror("mkdtemp");
        exit(2);
    }
    return buf;
}

static inline void tu_write(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f || (len && fwrite(data, 1, len, f) != len) || fclose(f) != 0) {
        fprintf(stderr, "cannot write %s: %s\n", path, strerror(errno));
        exit(2);
    }
}

static inline void tu_writes(const char *path, const char *s) { tu_write(path, s, strlen(s)); }

static inline void tu_mkdir(const char *path)
{
    if (mkdir(path, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "cannot mkdir %s: %s\n", path, strerror(errno));
        exit(2);
    }
}

static inline void tu_rm_rf(const char *dir)
{
    char cmd[4200];
    if (strncmp(dir, "/tmp/", 5) && !getenv("TMPDIR")) return;
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "warning: could not remove %s\n", dir);
}

#endif
