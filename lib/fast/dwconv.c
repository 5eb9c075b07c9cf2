/*
 * lib/fast/dwconv.c — depthwise convolution with fused input/output
 * activations and optional global mean, channels-last f32, AVX-512F
 * (see dwconv.h).
 *
 * Work split: units of (image, channel group); every unit keeps a ring of
 * k activated, zero-padded input rows laid out [16-channel block][padded
 * width][16] in its thread's work memory, filled as the output rows need
 * them (each input row is read and activated once per unit), and computes
 * up to 8 output pixels x 16 channels per register block.
 */
#include "fast/dwconv.h"

#include <omp.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#define EV_DW_X86 1
#include <immintrin.h>
#endif

#define BLK 16

int ev_dw_act_of(const ev_fpost *post, float *lo, float *hi)
{
    *lo = 0.0f;
    *hi = 0.0f;
    if (!post || post->n == 0) return EV_DW_NONE;
    if (post->n != 1 || post->op[0].kind != EV_FPO_ELTWISE || post->op[0].scale != 1.0f) return -1;
    const ev_fpo *o = &post->op[0];
    switch (o->alg) {
    case dnnl_eltwise_swish: return o->alpha == 1.0f ? EV_DW_SWISH : -1;
    case dnnl_eltwise_relu: return o->alpha == 0.0f ? EV_DW_RELU : -1;
    case dnnl_eltwise_hardswish: return EV_DW_HARDSWISH;
    case dnnl_eltwise_clip:
    case dnnl_eltwise_clip_v2:
        *lo = o->alpha;
        *hi = o->beta;
        return EV_DW_CLIP;
    case dnnl_eltwise_bounded_relu:
        *lo = 0.0f;
        *hi = o->alpha;
        return EV_DW_CLIP;
    default: return -1;
    }
}

int ev_dw_fits(const ev_fconv_spec *s)
{
    return s->groups == s->c && s->oc == s->c && s->c % BLK == 0 && s->kh == s->kw &&
           (s->kh == 3 || s->kh == 5) && s->stride[0] == s->stride[1] &&
           (s->stride[0] == 1 || s->stride[0] == 2) && s->dil[0] == 1 && s->dil[1] == 1 &&
           s->pad[0] >= 0 && s->pad[1] >= 0 && s->pad[2] >= 0 && s->pad[3] >= 0 &&
           s->pad[0] < s->kh && s->pad[1] < s->kw && s->pad[2] < s->kh && s->pad[3] < s->kw &&
           s->n > 0 && s->h > 0 && s->w > 0 && s->weights;
}

static int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

ev_status ev_dw_init(const ev_fconv_spec *s, int in_act, int out_act, float lo, float hi, int pool,
                     int nthr, ev_dwk **out, void **mem, ev_err *err)
{
    int64_t od[4];
    EV_FAIL_IF(!ev_dw_fits(s) || !ev_fconv_out_dims(s, od), err, EV_ERR_INTERNAL,
               "fast path: depthwise kernel does not fit the convolution");
    int64_t C = s->c, K = s->kh;
    size_t head = (sizeof(ev_dwk) + 63) / 64 * 64;
    size_t wbytes = (size_t)(C * K * K) * sizeof(float), bbytes = (size_t)C * sizeof(float);
    char *m = ev_malloc_aligned(head + wbytes + bbytes);
    EV_FAIL_IF(!m, err, EV_ERR_NOMEM, "fast path: out of memory");
    ev_dwk *k = (ev_dwk *)m;
    memset(k, 0, sizeof *k);
    float *wt = (float *)(m + head), *bias = (float *)(m + head + wbytes);
    /* weights [C,1,K,K] -> [C/16][K*K][16] */
    for (int64_t c = 0; c < C; c++)
        for (int64_t t = 0; t < K * K; t++) wt[((c / BLK) * K * K + t) * BLK + c % BLK] = s->weights[c * K * K + t];
    for (int64_t c = 0; c < C; c++) bias[c] = s->bias ? s->bias[c] : 0.0f;
    k->n = s->n;
    k->h = s->h;
    k->w = s->w;
    k->c = C;
    k->oh = od[2];
    k->ow = od[3];
    k->k = (int)K;
    k->s = (int)s->stride[0];
    k->pt = (int)s->pad[0];
    k->pl = (int)s->pad[1];
    k->in_act = in_act;
    k->out_act = out_act;
    k->lo = lo;
    k->hi = hi;
    k->pool = pool;
    int64_t need = (k->ow - 1) * k->s + K; /* columns read by the last output */
    k->wp = s->w + s->pad[1];
    if (k->wp < need) k->wp = need;
    int64_t nb = C / BLK;
    if (nthr < 1) nthr = 1;
    /* one unit per image when there are enough images; else every thread
     * takes a band of rows (contiguous memory; the k - 1 rows around a cut
     * are activated twice), or a group of channels when there are few rows */
    int groups = 1, chunks = 1;
    if (s->n < 2 * nthr) {
        if (k->oh >= 8 * nthr) chunks = nthr;
        else groups = (int)(nb < nthr ? nb : nthr);
    }
    if (groups < 1) groups = 1;
    k->groups = groups;
    k->chunks = chunks;
    k->cg = ceil_div(nb, groups) * BLK;
    k->wt = wt;
    k->bias = bias;
    *out = k;
    *mem = m;
    return EV_OK;
}

/* Per thread: the ring of k rows + k row tags + the pool sums of a group. */
static size_t thread_bytes(const ev_dwk *k)
{
    size_t rows = (size_t)k->k * (size_t)k->wp * (size_t)k->cg * sizeof(float);
    size_t sums = (size_t)k->cg * sizeof(float);
    return (rows + sums + 64 + 63) / 64 * 64;
}

/* Partial channel sums of every unit (row chunks of one image add up). */
static size_t partial_bytes(const ev_dwk *k)
{
    return (size_t)(k->n * k->groups * k->chunks) * (size_t)k->cg * sizeof(float);
}

size_t ev_dw_work_bytes(const ev_dwk *k, int nthr)
{
    return thread_bytes(k) * (size_t)(nthr < 1 ? 1 : nthr) + partial_bytes(k) + 64;
}

#ifdef EV_DW_X86

int ev_dw_available(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f");
}

#define TGT __attribute__((target("avx512f")))
#define AINL __attribute__((always_inline)) inline

/* x * sigmoid(x): exp(-x) = 2^k * p(r) (vscalefps), 1/(1 + e) by vrcp14ps
 * and one Newton step. |x| is clamped to 80 inside exp (the result for
 * x < -80 is ~x * 1.8e-35: zero for every purpose). */
static TGT AINL __m512 v_swish(__m512 v)
{
    const __m512 log2e = _mm512_set1_ps(1.44269504f), ln2hi = _mm512_set1_ps(0.693359375f),
                 ln2lo = _mm512_set1_ps(-2.12194440e-4f), one = _mm512_set1_ps(1.0f);
    __m512 t = _mm512_min_ps(_mm512_max_ps(_mm512_sub_ps(_mm512_setzero_ps(), v), _mm512_set1_ps(-80.0f)),
                             _mm512_set1_ps(80.0f));
    __m512 kk = _mm512_roundscale_ps(_mm512_mul_ps(t, log2e), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(kk, ln2hi, t);
    r = _mm512_fnmadd_ps(kk, ln2lo, r);
    __m512 p = _mm512_fmadd_ps(_mm512_set1_ps(1.9875691500e-4f), r, _mm512_set1_ps(1.3981999507e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
    p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, one));
    __m512 d = _mm512_add_ps(_mm512_scalef_ps(p, kk), one);
    __m512 rc = _mm512_rcp14_ps(d);
    rc = _mm512_mul_ps(rc, _mm512_fnmadd_ps(d, rc, _mm512_set1_ps(2.0f)));
    return _mm512_mul_ps(v, rc);
}

static TGT AINL __m512 v_act(__m512 v, int act, __m512 lo, __m512 hi)
{
    switch (act) {
    case EV_DW_SWISH: return v_swish(v);
    case EV_DW_RELU: return _mm512_max_ps(v, _mm512_setzero_ps());
    case EV_DW_CLIP: return _mm512_min_ps(_mm512_max_ps(v, lo), hi);
    case EV_DW_HARDSWISH: {
        __m512 g = _mm512_fmadd_ps(v, _mm512_set1_ps(1.0f / 6.0f), _mm512_set1_ps(0.5f));
        g = _mm512_min_ps(_mm512_max_ps(g, _mm512_setzero_ps()), _mm512_set1_ps(1.0f));
        return _mm512_mul_ps(v, g);
    }
    default: return v;
    }
}

void ev_dw_swish16(const float *x, float *y) __attribute__((target("avx512f")));
void ev_dw_swish16(const float *x, float *y) { _mm512_storeu_ps(y, v_swish(_mm512_loadu_ps(x))); }

/* J output pixels x 16 channels of one output row: rows[i] = padded input
 * row i of the window (this channel block), wv = [K*K][16] weights. */
static TGT AINL void dw_block(const float *const *rows, const float *wv, __m512 b, float *yo, int64_t ystr,
                              int J, int K, int S, int act, __m512 lo, __m512 hi, __m512 *psum)
{
    __m512 acc[8];
#pragma GCC unroll 8
    for (int j = 0; j < J; j++) acc[j] = b;
#pragma GCC unroll 5
    for (int i = 0; i < K; i++) {
        const float *r = rows[i];
        /* every input vector of this kernel row loaded once (an output
         * pixel's taps overlap its neighbours'): J + K - 1 loads instead of
         * J * K for stride 1 */
        __m512 v[7 * 2 + 5];
#pragma GCC unroll 19
        for (int q = 0; q < (J - 1) * S + K; q++) v[q] = _mm512_load_ps(r + (int64_t)q * BLK);
#pragma GCC unroll 5
        for (int t = 0; t < K; t++) {
            __m512 wvec = _mm512_load_ps(wv + (i * K + t) * BLK);
#pragma GCC unroll 8
            for (int j = 0; j < J; j++) acc[j] = _mm512_fmadd_ps(v[j * S + t], wvec, acc[j]);
        }
    }
    __m512 ps = *psum;
#pragma GCC unroll 8
    for (int j = 0; j < J; j++) {
        __m512 v = v_act(acc[j], act, lo, hi);
        ps = _mm512_add_ps(ps, v);
        _mm512_storeu_ps(yo + (int64_t)j * ystr, v);
    }
    *psum = ps;
}

/* One output row of one channel block, specialised for K and S: blocks of
 * 8 pixels, the rest in one block of its exact width (8 independent
 * accumulation chains where possible: one chain is latency-bound). */
#define DW_TAIL(K, S, J)                                                                          \
    case J:                                                                                       \
        dw_block(rr, wv, b, yo + x * ystr, ystr, J, K, S, act, lo, hi, psum);                     \
        break;
#define DW_ROW_FN(K, S)                                                                           \
    static TGT void dw_row_##K##_##S(const float *const *rows, const float *wv, __m512 b, float *yo,   \
                                     int64_t ow, int64_t ystr, int act, __m512 lo, __m512 hi,      \
                                     __m512 *psum)                                                \
    {                                                                                             \
        int64_t x = 0;                                                                            \
        const float *rr[K];                                                                       \
        for (; x + 8 <= ow; x += 8) {                                                             \
            for (int i = 0; i < (K); i++) rr[i] = rows[i] + x * (S) * BLK;                        \
            dw_block(rr, wv, b, yo + x * ystr, ystr, 8, (K), (S), act, lo, hi, psum);             \
        }                                                                                         \
        if (x == ow) return;                                                                      \
        for (int i = 0; i < (K); i++) rr[i] = rows[i] + x * (S) * BLK;                            \
        switch ((int)(ow - x)) {                                                                  \
            DW_TAIL(K, S, 1)                                                                      \
            DW_TAIL(K, S, 2)                                                                      \
            DW_TAIL(K, S, 3)                                                                      \
            DW_TAIL(K, S, 4)                                                                      \
            DW_TAIL(K, S, 5)                                                                      \
            DW_TAIL(K, S, 6)                                                                      \
            DW_TAIL(K, S, 7)                                                                      \
        default: break;                                                                           \
        }                                                                                         \
    }
DW_ROW_FN(3, 1)
DW_ROW_FN(3, 2)
DW_ROW_FN(5, 1)
DW_ROW_FN(5, 2)

typedef void (*dw_row_fn)(const float *const *, const float *, __m512, float *, int64_t, int64_t, int,
                          __m512, __m512, __m512 *);

/* Fill ring slot `buf` ([nb][wp][16]) with input row ih of image n,
 * channel blocks [b0, b0 + nb), activated; zeros outside the image. */
static TGT void fill_row(const ev_dwk *k, const float *x, int64_t n, int64_t ih, int64_t b0, int64_t nb,
                         float *buf)
{
    int64_t wp = k->wp;
    if (ih < 0 || ih >= k->h) {
        memset(buf, 0, (size_t)(nb * wp * BLK) * sizeof(float));
        return;
    }
    __m512 lo = _mm512_set1_ps(k->lo), hi = _mm512_set1_ps(k->hi), z = _mm512_setzero_ps();
    for (int64_t bb = 0; bb < nb; bb++) {
        float *d = buf + bb * wp * BLK;
        for (int64_t q = 0; q < k->pl; q++) _mm512_store_ps(d + q * BLK, z);
        for (int64_t q = k->pl + k->w; q < wp; q++) _mm512_store_ps(d + q * BLK, z);
    }
    const float *src = x + ((n * k->h + ih) * k->w) * k->c + b0 * BLK;
    for (int64_t iw = 0; iw < k->w; iw++) {
        const float *sp = src + iw * k->c;
        float *d = buf + (k->pl + iw) * BLK;
        for (int64_t bb = 0; bb < nb; bb++)
            _mm512_store_ps(d + bb * wp * BLK, v_act(_mm512_loadu_ps(sp + bb * BLK), k->in_act, lo, hi));
    }
}

static TGT void dw_unit(const ev_dwk *k, const float *x, float *y, float *part, int64_t n, int64_t b0,
                        int64_t nb, int64_t oh0, int64_t oh1, char *work)
{
    int K = k->k;
    int64_t wp = k->wp, slot_floats = nb * wp * BLK;
    float *ring = (float *)work;
    float *sums = (float *)(work + (size_t)K * (size_t)wp * (size_t)k->cg * sizeof(float));
    int64_t tag[5] = {INT64_MIN, INT64_MIN, INT64_MIN, INT64_MIN, INT64_MIN};
    dw_row_fn fn = K == 3 ? (k->s == 1 ? dw_row_3_1 : dw_row_3_2) : (k->s == 1 ? dw_row_5_1 : dw_row_5_2);
    __m512 lo = _mm512_set1_ps(k->lo), hi = _mm512_set1_ps(k->hi);
    for (int64_t bb = 0; bb < nb; bb++) _mm512_store_ps(sums + bb * BLK, _mm512_setzero_ps());
    for (int64_t oh = oh0; oh < oh1; oh++) {
        const float *rows[5];
        for (int i = 0; i < K; i++) {
            int64_t ih = oh * k->s - k->pt + i;
            int slot = (int)(((ih % K) + K) % K);
            if (tag[slot] != ih) {
                fill_row(k, x, n, ih, b0, nb, ring + slot * slot_floats);
                tag[slot] = ih;
            }
            rows[i] = ring + slot * slot_floats;
        }
        float *yrow = y + ((n * k->oh + oh) * k->ow) * k->c + b0 * BLK;
        for (int64_t bb = 0; bb < nb; bb++) {
            const float *rr[5];
            for (int i = 0; i < K; i++) rr[i] = rows[i] + bb * wp * BLK;
            __m512 ps = _mm512_load_ps(sums + bb * BLK);
            fn(rr, k->wt + (b0 + bb) * K * K * BLK, _mm512_loadu_ps(k->bias + (b0 + bb) * BLK), yrow + bb * BLK,
               k->ow, k->c, k->out_act, lo, hi, &ps);
            _mm512_store_ps(sums + bb * BLK, ps);
        }
    }
    if (part)
        for (int64_t bb = 0; bb < nb; bb++) _mm512_storeu_ps(part + bb * BLK, _mm512_load_ps(sums + bb * BLK));
}

void ev_dw_run(const ev_dwk *k, const float *x, float *y, float *pool, void *work, int nthr)
{
    int64_t nb_all = k->c / BLK, per = ceil_div(nb_all, k->groups);
    int64_t gc = (int64_t)k->groups * k->chunks, units = k->n * gc;
    int64_t rows = ceil_div(k->oh, k->chunks);
    if (nthr < 1) nthr = 1;
    size_t tb = thread_bytes(k);
    char *w0 = (char *)(((uintptr_t)work + 63) & ~(uintptr_t)63);
    float *part = (float *)(w0 + tb * (size_t)nthr); /* [units][cg] */
    int pool_on = k->pool && pool;
#pragma omp parallel for num_threads(nthr) if (nthr > 1 && units > 1) schedule(static)
    for (int64_t u = 0; u < units; u++) {
        int64_t n = u / gc, g = (u % gc) / k->chunks, ch = u % k->chunks;
        int64_t b0 = g * per, nb = b0 + per <= nb_all ? per : nb_all - b0;
        int64_t oh0 = ch * rows, oh1 = oh0 + rows < k->oh ? oh0 + rows : k->oh;
        if (nb <= 0 || oh0 >= oh1) {
            if (pool_on && nb > 0) memset(part + u * k->cg, 0, (size_t)(nb * BLK) * sizeof(float));
            continue;
        }
        dw_unit(k, x, y, pool_on ? part + u * k->cg : NULL, n, b0, nb, oh0, oh1,
                w0 + tb * (size_t)omp_get_thread_num());
    }
    if (!pool_on) return;
    /* means: the row chunks of a (image, group) add up */
    float inv = 1.0f / (float)(k->oh * k->ow);
    for (int64_t n = 0; n < k->n; n++)
        for (int64_t g = 0; g < k->groups; g++) {
            int64_t b0 = g * per, nb = b0 + per <= nb_all ? per : nb_all - b0;
            for (int64_t c = 0; c < nb * BLK; c++) {
                float acc = 0.0f;
                for (int64_t ch = 0; ch < k->chunks; ch++) acc += part[((n * k->groups + g) * k->chunks + ch) * k->cg + c];
                pool[n * k->c + b0 * BLK + c] = acc * inv;
            }
        }
}

#else /* not x86-64 with GCC/Clang: never used */

int ev_dw_available(void) { return 0; }
void ev_dw_swish16(const float *x, float *y)
{
    for (int i = 0; i < 16; i++) y[i] = x[i] / (1.0f + expf(-x[i]));
}
void ev_dw_run(const ev_dwk *k, const float *x, float *y, float *pool, void *work, int nthr)
{
    (void)k, (void)x, (void)y, (void)pool, (void)work, (void)nthr;
}

#endif
