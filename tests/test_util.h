/* tests/test_util.h — minimal assertion helpers for C unit tests.
 * CHECK records a failure with file:line and continues; test_report prints
 * "N passed, M failed" and returns the process exit code. */
#ifndef EV_TEST_UTIL_H
#define EV_TEST_UTIL_H

#include <math.h>
#include <stdio.h>

static int ev_test_pass, ev_test_fail;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (cond) ev_test_pass++;                                                                  \
        else {                                                                                     \
            ev_test_fail++;                                                                        \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);               \
        }                                                                                          \
    } while (0)

#define CHECK_NEAR(a, b, tol)                                                                      \
    do {                                                                                           \
        double ev_a_ = (a), ev_b_ = (b);                                                           \
        if (fabs(ev_a_ - ev_b_) <= (tol)) ev_test_pass++;                                          \
        else {                                                                                     \
            ev_test_fail++;                                                                        \
            fprintf(stderr, "%s:%d: CHECK_NEAR failed: %s = %.9g, %s = %.9g (tol %g)\n", __FILE__, \
                    __LINE__, #a, ev_a_, #b, ev_b_, (double)(tol));                                \
        }                                                                                          \
    } while (0)

static inline int test_report(const char *name)
{
    printf("%s: %d passed, %d failed\n", name, ev_test_pass, ev_test_fail);
    return ev_test_fail ? 1 : 0;
}

#endif
