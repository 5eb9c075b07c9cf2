/* lib/metrics/mx_common.c — prepared sets, GEMM, RNG, radix sort, helpers. */
#include "metrics/mx.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include <oneapi/dnnl/dnnl.h>

/* ---- threads ------------------------------------------------------------ */
int mx_threads(int requested)
{
    if (requested > 0) return requested;
    int n = omp_get_num_procs();
    return n > 0 ? n : 1;
}

void mx_thread_enter(void)
{
    /* oneDNN sizes its own parallel regions by omp_get_max_threads(): make
     * it 1 for GEMM calls issued from our workers (also for a team of one,
     * where omp_in_parallel() is false). */
    omp_set_num_threads(1);
}

/* ---- GEMM ------------------------------------------------------------------ */
ev_status mx_gemm_nt(int64_t m, int64_t n, int64_t k, const float *a, int64_t lda,
                     const float *b, int64_t ldb, float *c, int64_t ldc, ev_err *e)
{
    if (m <= 0 || n <= 0) return EV_OK;
    dnnl_status_t st = dnnl_sgemm('N', 'T', m, n, k, 1.0f, a, lda, b, ldb, 0.0f, c, ldc);
    if (st != dnnl_success)
        return ev_err_set(e, EV_ERR_BACKEND, "oneDNN sgemm failed (status %d, %lldx%lldx%lld)",
                          (int)st, (long long)m, (long long)n, (long long)k);
    return EV_OK;
}

/* ---- query planning ----------------------------------------------------- */
int64_t mx_relevant_counts(const mx_set *q, const mx_set *g, bool loo, bool want_rank,
                           int64_t *rel)
{
    int64_t excluded = 0;
    for (int64_t t = 0; t < q->n; t++) {
        int32_t c = q->y[q->members[t]];
        int64_t R = 0;
        if (want_rank && c < g->n_classes) {
            R = g->cstart[c + 1] - g->cstart[c];
            if (loo) R--;
        }
        if (R < 0) R = 0;
        if (want_rank && R == 0) excluded++;
        rel[t] = R;
    }
    return excluded;
}

int64_t mx_blocks(const int64_t *weight, int64_t n, int cap, int64_t budget, int64_t *bstart)
{
    int64_t nb = 0, cnt = 0, sum = 0;
    for (int64_t t = 0; t < n; t++) {
        if (cnt == 0 || cnt >= cap || sum + weight[t] > budget) {
            bstart[nb++] = t;
            cnt = 0;
            sum = 0;
        }
        cnt++;
        sum += weight[t];
    }
    bstart[nb] = n;
    return nb;
}

/* ---- prepared sets -------------------------------------------------------- */
void mx_set_free(mx_set *s)
{
    if (!s) return;
    free(s->inv);
    free(s->norm2);
    free(s->cstart);
    free(s->members);
    memset(s, 0, sizeof *s);
}

ev_status mx_set_init(mx_set *s, const ev_labeled_embeddings *v, int32_t n_classes,
                      const char *name, int threads, ev_err *e)
{
    memset(s, 0, sizeof *s);
    EV_FAIL_IF(!v->x || !v->labels || v->n <= 0 || v->d <= 0, e, EV_ERR_INVALID_ARG,
               "%s: empty or missing embeddings/labels", name);
    EV_FAIL_IF(v->n > INT32_MAX - 1, e, EV_ERR_LIMIT, "%s: %lld rows (at most %d supported)", name,
               (long long)v->n, INT32_MAX - 1);
    EV_FAIL_IF(n_classes <= 0, e, EV_ERR_INVALID_ARG, "%s: n_classes must be positive", name);
    int64_t n = v->n, d = v->d;
    s->x = v->x;
    s->n = n;
    s->d = d;
    s->y = v->labels;
    s->n_classes = n_classes;
    s->inv = malloc((size_t)n * sizeof *s->inv);
    s->norm2 = malloc((size_t)n * sizeof *s->norm2);
    s->cstart = calloc((size_t)n_classes + 1, sizeof *s->cstart);
    s->members = malloc((size_t)n * sizeof *s->members);
    if (!s->inv || !s->norm2 || !s->cstart || !s->members) {
        mx_set_free(s);
        return ev_err_set(e, EV_ERR_NOMEM, "%s: out of memory preparing %lld rows", name,
                          (long long)n);
    }
    for (int64_t i = 0; i < n; i++) {
        int32_t c = v->labels[i];
        if (c < 0 || c >= n_classes) {
            mx_set_free(s);
            return ev_err_set(e, EV_ERR_INVALID_ARG, "label %d of row %lld is outside [0, %d) (%s)",
                              (int)c, (long long)i, (int)n_classes, name);
        }
        s->cstart[c + 1]++;
    }
    for (int32_t c = 0; c < n_classes; c++) s->cstart[c + 1] += s->cstart[c];
    {
        int64_t *pos = malloc((size_t)n_classes * sizeof *pos);
        if (!pos) {
            mx_set_free(s);
            return ev_err_set(e, EV_ERR_NOMEM, "%s: out of memory", name);
        }
        memcpy(pos, s->cstart, (size_t)n_classes * sizeof *pos);
        for (int64_t i = 0; i < n; i++) s->members[pos[v->labels[i]]++] = (int32_t)i;
        free(pos);
    }
    /* Norms (double) and the first bad row; per-row work, so any thread
     * count gives the same numbers. */
    int64_t first_bad = n, first_big = n;
    int nt = mx_threads(threads);
#pragma omp parallel for num_threads(nt) schedule(static) reduction(min : first_bad, first_big)
    for (int64_t i = 0; i < n; i++) {
        const float *r = v->x + i * d;
        double acc = 0;
        int ok = 1;
        for (int64_t j = 0; j < d; j++) {
            float f = r[j];
            if (!isfinite(f)) ok = 0;
            acc += (double)f * f;
        }
        if (!ok) {
            if (i < first_bad) first_bad = i;
            acc = 0;
        } else if (acc > 1e36) {
            if (i < first_big) first_big = i;
        }
        s->norm2[i] = acc;
        s->inv[i] = acc > 0 ? (float)(1.0 / sqrt(acc)) : 0.0f;
    }
    if (first_bad < n) {
        mx_set_free(s);
        return ev_err_set(e, EV_ERR_DATA, "row %lld (0-based) contains NaN or Inf (%s)",
                          (long long)first_bad, name);
    }
    if (first_big < n) {
        mx_set_free(s);
        return ev_err_set(e, EV_ERR_DATA,
                          "row %lld (0-based) has a norm above 1e18, float32 dot products would "
                          "overflow (%s)",
                          (long long)first_big, name);
    }
    return EV_OK;
}

void ev_embeddings_scan(const float *x, int64_t n, int64_t d, ev_embeddings_check *out)
{
    if (!out) return;
    out->first_nonfinite_row = -1;
    out->n_zero_rows = 0;
    out->first_zero_row = -1;
    if (!x || n <= 0 || d <= 0) return;
    for (int64_t i = 0; i < n; i++) {
        const float *r = x + i * d;
        int zero = 1, bad = 0;
        for (int64_t j = 0; j < d; j++) {
            if (!isfinite(r[j])) bad = 1;
            if (r[j] != 0.0f) zero = 0;
        }
        if (bad && out->first_nonfinite_row < 0) out->first_nonfinite_row = i;
        if (zero) {
            if (out->first_zero_row < 0) out->first_zero_row = i;
            out->n_zero_rows++;
        }
    }
}

/* ---- RNG --------------------------------------------------------------------- */
static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void mx_rng_seed(mx_rng *r, uint64_t seed, uint64_t stream)
{
    uint64_t x = seed ^ (stream * 0xd1342543de82ef95ull + 0x2545f4914f6cdd1dull);
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&x);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t mx_rng_next(mx_rng *r)
{
    uint64_t *s = r->s;
    uint64_t res = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return res;
}

uint64_t mx_rng_below(mx_rng *r, uint64_t n)
{
    /* Lemire: multiply-shift with rejection of the biased low range. */
    unsigned __int128 m = (unsigned __int128)mx_rng_next(r) * n;
    uint64_t lo = (uint64_t)m;
    if (lo < n) {
        uint64_t t = (0 - n) % n;
        while (lo < t) {
            m = (unsigned __int128)mx_rng_next(r) * n;
            lo = (uint64_t)m;
        }
    }
    return (uint64_t)(m >> 64);
}

double mx_rng_double(mx_rng *r) { return (double)(mx_rng_next(r) >> 11) * 0x1.0p-53; }

/* ---- radix sort ---------------------------------------------------------------- */
void mx_sort_desc(float *score, int32_t *id, int64_t n, float *tmp_s, int32_t *tmp_i)
{
    if (n < 2) return;
    if (n <= 48) {
        /* stable insertion sort (descending by key) */
        for (int64_t i = 1; i < n; i++) {
            float s = score[i];
            int32_t v = id[i];
            uint32_t k = mx_float_key(s);
            int64_t j = i;
            while (j > 0 && mx_float_key(score[j - 1]) < k) {
                score[j] = score[j - 1];
                id[j] = id[j - 1];
                j--;
            }
            score[j] = s;
            id[j] = v;
        }
        return;
    }
    /* LSD radix, 3 passes of 11/11/10 bits on ~key (descending), stable. */
    static const int shift[3] = {0, 11, 22};
    static const uint32_t mask[3] = {0x7ff, 0x7ff, 0x3ff};
    uint32_t hist[3][2048];
    memset(hist, 0, sizeof hist);
    for (int64_t i = 0; i < n; i++) {
        uint32_t k = ~mx_float_key(score[i]);
        for (int p = 0; p < 3; p++) hist[p][(k >> shift[p]) & mask[p]]++;
    }
    float *src_s = score, *dst_s = tmp_s;
    int32_t *src_i = id, *dst_i = tmp_i;
    for (int p = 0; p < 3; p++) {
        uint32_t sum = 0;
        /* skip a pass where every key has the same digit */
        int trivial = 0;
        for (uint32_t b = 0; b <= mask[p]; b++) {
            if (hist[p][b] == (uint32_t)n) trivial = 1;
            uint32_t c = hist[p][b];
            hist[p][b] = sum;
            sum += c;
        }
        if (trivial) continue;
        for (int64_t i = 0; i < n; i++) {
            uint32_t k = ~mx_float_key(src_s[i]);
            uint32_t o = hist[p][(k >> shift[p]) & mask[p]]++;
            dst_s[o] = src_s[i];
            dst_i[o] = src_i[i];
        }
        float *ts = src_s;
        src_s = dst_s;
        dst_s = ts;
        int32_t *ti = src_i;
        src_i = dst_i;
        dst_i = ti;
    }
    if (src_s != score) {
        memcpy(score, src_s, (size_t)n * sizeof *score);
        memcpy(id, src_i, (size_t)n * sizeof *id);
    }
}

/* ---- metric helpers ---------------------------------------------------------- */
void mx_metric_set(ev_metric *m, double v)
{
    memset(m, 0, sizeof *m);
    m->value = v;
    m->defined = 1;
    m->reason = "";
    m->ci_low = m->ci_high = NAN;
}

void mx_metric_undef(ev_metric *m, const char *reason)
{
    memset(m, 0, sizeof *m);
    m->value = NAN;
    m->defined = 0;
    m->reason = reason;
    m->ci_low = m->ci_high = NAN;
}

double mx_mean_skip_nan(const double *x, int64_t n, int64_t *count)
{
    double s = 0;
    int64_t c = 0;
    for (int64_t i = 0; i < n; i++)
        if (!isnan(x[i])) {
            s += x[i];
            c++;
        }
    if (count) *count = c;
    return c ? s / (double)c : NAN;
}
