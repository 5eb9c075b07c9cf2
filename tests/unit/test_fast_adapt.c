/* tests/unit/test_fast_adapt.c — the adaptive-threads policy of the fast
 * path on simulated run times: quiet machine (never leaves full threads,
 * never explores), contention (switches to one thread within a few runs),
 * quiet again (switches back), no one-thread variant (never switches). */
#include "fast/fast.h"
#include "test_util.h"

/* Run n steps with the given wall times (CPU time = util x wall for full
 * runs); returns how many used one thread. */
static int simu(ev_fast_adapt *a, int n, double full_ms, double one_ms, double util, int alt_ok)
{
    int ones = 0;
    for (int i = 0; i < n; i++) {
        int one = ev_fast_adapt_choose(a);
        ones += one;
        double ms = one ? one_ms : full_ms;
        ev_fast_adapt_update(a, one, ms, one ? ms : ms * util, alt_ok);
    }
    return ones;
}

static int sim(ev_fast_adapt *a, int n, double full_ms, double one_ms, int alt_ok)
{
    return simu(a, n, full_ms, one_ms, full_ms > 20.0 ? 0.4 : 1.0, alt_ok);
}

int main(void)
{
    ev_fast_adapt a = {0};
    /* quiet: full 10 ms with jitter < 1.5x, one thread would be 18 ms */
    int ones = 0;
    for (int i = 0; i < 200; i++) {
        int one = ev_fast_adapt_choose(&a);
        ones += one;
        double ms = one ? 18.0 : 10.0 + (i % 5) * 0.8;
        ev_fast_adapt_update(&a, one, ms, ms * 0.98, 1);
    }
    CHECK(ones == 0);
    CHECK(a.mode == 0);
    /* contention: full 60 ms, one 22 ms -> one-thread mode within ~10 runs,
     * and afterwards only every 16th run (the 8th after the switch) tries
     * full again */
    ones = sim(&a, 100, 60.0, 22.0, 1);
    CHECK(a.mode == 1);
    CHECK(ones >= 75);
    /* quiet again: back to full threads within ~16 runs */
    sim(&a, 20, 10.0, 18.0, 1);
    CHECK(a.mode == 0);
    ones = sim(&a, 100, 10.0, 18.0, 1);
    CHECK(ones == 0);
    /* contention where one thread is no better: stays full, explores rarely */
    ev_fast_adapt b = {0};
    sim(&b, 10, 10.0, 18.0, 1);
    ones = sim(&b, 200, 40.0, 39.0, 1);
    CHECK(b.mode == 0);
    CHECK(ones <= 16);
    /* busy from the very first run (no quiet run to compare with): the
     * calling thread's low CPU share still reveals it */
    ev_fast_adapt d = {0};
    ones = simu(&d, 60, 100.0, 40.0, 0.3, 1);
    CHECK(d.mode == 1);
    CHECK(ones >= 40); /* ~9 runs to switch, full checked after 8 and 16 */
    /* no one-thread variant possible: never chosen */
    ev_fast_adapt c = {0};
    sim(&c, 10, 10.0, 5.0, 0);
    ones = sim(&c, 100, 60.0, 5.0, 0);
    CHECK(ones == 0);
    return test_report("test_fast_adapt");
}
