/*
 * lib/kernels/ref_matmul.c — the shared single-precision GEMM used by the
 * reference Conv/Gemm/MatMul, and the Gemm and MatMul operators.
 *
 * The GEMM is a plain-C blocked loop nest: B is packed in KC x NR panels,
 * a MR x NR block of C is accumulated in a local array that the compiler
 * keeps in vector registers (the unroll pragmas make every index a
 * constant, which is what lets GCC/Clang vectorise it at -O2 without
 * target-specific code). About 25-30 GFLOP/s per core with SSE2 only; the
 * oneDNN fast path exists for speed, this exists to be obviously right.
 */
#include "kernels/ref_nn.h"

#include <string.h>

#define MR 6     /* rows of C per micro-tile                                  */
#define NR 16    /* columns of C per micro-tile                               */
#define KC 256   /* depth of a packed B panel (KC*NR floats = 16 KiB, L1)     */
#define NCB 512  /* columns per parallel task (multiple of NR)                */

#if defined(__GNUC__) || defined(__clang__)
#define EV_PRAGMA(x) _Pragma(#x)
#define EV_UNROLL(n) EV_PRAGMA(GCC unroll n)
#define EV_INLINE static inline __attribute__((always_inline))
#else
#define EV_UNROLL(n)
#define EV_INLINE static inline
#endif

/* acc[r][j] = sum_k a[r][k*csa] * bp[k*NR + j] */
EV_INLINE void micro_tile(int64_t kc, const float *const *a, int64_t csa, const float *bp,
                          float acc[MR][NR])
{
    EV_UNROLL(16)
    for (int r = 0; r < MR; r++)
        EV_UNROLL(32)
        for (int j = 0; j < NR; j++) acc[r][j] = 0.0f;
    for (int64_t k = 0; k < kc; k++) {
        const float *b = bp + k * NR;
        EV_UNROLL(16)
        for (int r = 0; r < MR; r++) {
            float av = a[r][k * csa];
            EV_UNROLL(32)
            for (int j = 0; j < NR; j++) acc[r][j] += av * b[j];
        }
    }
}

/* Pack B[k0..k0+kc, j0..j0+nr] into bp (kc rows of NR, zero padded). */
static void pack_b(int64_t kc, int64_t nr, const float *B, int64_t rsb, int64_t csb, float *bp)
{
    if (csb == 1) {
        for (int64_t k = 0; k < kc; k++) {
            const float *s = B + k * rsb;
            float *d = bp + k * NR;
            int64_t j = 0;
            for (; j < nr; j++) d[j] = s[j];
            for (; j < NR; j++) d[j] = 0.0f;
        }
    } else {
        if (nr < NR) memset(bp, 0, sizeof(float) * (size_t)(kc * NR));
        for (int64_t j = 0; j < nr; j++) {
            const float *s = B + j * csb;
            for (int64_t k = 0; k < kc; k++) bp[k * NR + j] = s[k * rsb];
        }
    }
}

/* One task: rows [i0, i1) x columns [j0, j1) over the full depth K. */
static void gemm_block(int64_t i0, int64_t i1, int64_t j0, int64_t j1, int64_t K, float alpha,
                       const float *A, int64_t rsa, int64_t csa, const float *B, int64_t rsb,
                       int64_t csb, float *C, int64_t ldc, int accumulate)
{
    float bp[KC * NR] __attribute__((aligned(64)));
    float acc[MR][NR] __attribute__((aligned(64)));
    for (int64_t k0 = 0; k0 < K; k0 += KC) {
        int64_t kc = K - k0 < KC ? K - k0 : KC;
        int load = accumulate || k0 > 0;
        for (int64_t jt = j0; jt < j1; jt += NR) {
            int64_t nr = j1 - jt < NR ? j1 - jt : NR;
            pack_b(kc, nr, B + k0 * rsb + jt * csb, rsb, csb, bp);
            for (int64_t it = i0; it < i1; it += MR) {
                int64_t mr = i1 - it < MR ? i1 - it : MR;
                const float *ap[MR];
                /* Rows past the end re-read row `it` and are discarded. */
                for (int r = 0; r < MR; r++) ap[r] = A + (it + (r < mr ? r : 0)) * rsa + k0 * csa;
                micro_tile(kc, ap, csa, bp, acc);
                for (int64_t r = 0; r < mr; r++) {
                    float *c = C + (it + r) * ldc + jt;
                    if (load)
                        for (int64_t j = 0; j < nr; j++) c[j] += alpha * acc[r][j];
                    else
                        for (int64_t j = 0; j < nr; j++) c[j] = alpha * acc[r][j];
                }
            }
        }
    }
}

void ev_ref_sgemm(int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t rsa,
                  int64_t csa, const float *B, int64_t rsb, int64_t csb, float *C, int64_t ldc,
                  int accumulate, int threads)
{
    if (M <= 0 || N <= 0) return;
    if (K <= 0) {
        if (!accumulate)
            for (int64_t i = 0; i < M; i++) memset(C + i * ldc, 0, sizeof(float) * (size_t)N);
        return;
    }
    /* Tasks: column blocks of NCB, and row blocks when there are too few
     * column blocks to feed every thread. */
    int64_t nj = (N + NCB - 1) / NCB;
    int64_t ni = 1;
    double work = (double)M * (double)N * (double)K;
    if (threads > 1 && work < 2e5) threads = 1;
    if (threads > 1 && nj < 2 * threads) {
        int64_t want = (2 * threads + nj - 1) / nj, tiles = (M + MR - 1) / MR;
        ni = want < tiles ? want : tiles;
    }
    int64_t mc = (M + ni - 1) / ni;
    mc = (mc + MR - 1) / MR * MR;
    ni = (M + mc - 1) / mc;
    int64_t ntask = ni * nj;
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads) if (threads > 1 && ntask > 1)
    for (int64_t t = 0; t < ntask; t++) {
        int64_t bi = t / nj, bj = t % nj;
        int64_t i0 = bi * mc, i1 = i0 + mc < M ? i0 + mc : M;
        int64_t j0 = bj * NCB, j1 = j0 + NCB < N ? j0 + NCB : N;
        gemm_block(i0, i1, j0, j1, K, alpha, A, rsa, csa, B, rsb, csb, C, ldc, accumulate);
    }
}

/* ======================================================================== */
/* Gemm: Y = alpha * A' B' + beta * C  (A' = transA ? A^T : A, same for B)    */

typedef struct gemm_params {
    float alpha, beta;
    int trans_a, trans_b;
} gemm_params;

static ev_status gemm_prepare(ev_graph *g, ev_node *n, ev_err *err)
{
    /* C is required before opset 11. */
    EV_TRY(ev_ref_arity(n, n->opset < 11 ? 3 : 2, 3, 1, err));
    gemm_params *p = ev_ref_params(g, n, sizeof *p, err);
    if (!p) return err ? err->code : EV_ERR_NOMEM;
    p->alpha = ev_attr_float(n, "alpha", 1.0f);
    p->beta = ev_attr_float(n, "beta", 1.0f);
    p->trans_a = ev_attr_int(n, "transA", 0) != 0;
    p->trans_b = ev_attr_int(n, "transB", 0) != 0;
    n->params = p;
    return EV_OK;
}

static ev_status gemm_infer(const ev_node *n, const ev_tensor *const *in, ev_tensor *const *out,
                            ev_err *err)
{
    const gemm_params *p = n->params;
    const ev_tensor *a = in[0], *b = in[1], *c = ev_ref_in(n, in, 2);
    for (int i = 0; i < 3; i++) {
        const ev_tensor *t = ev_ref_in(n, in, i);
        if (t && t->dtype != EV_DT_FLOAT)
            return ev_ref_bad_dtype(n, i == 0 ? "input A" : i == 1 ? "input B" : "input C", t->dtype, err);
    }
    if (a->rank != 2 || b->rank != 2)
        return ev_err_set(err, EV_ERR_SHAPE, "Gemm node '%s': A and B must be 2-D (ranks %d, %d)",
                          EV_LABEL(n), a->rank, b->rank);
    int64_t M = p->trans_a ? a->dims[1] : a->dims[0], K = p->trans_a ? a->dims[0] : a->dims[1];
    int64_t Kb = p->trans_b ? b->dims[1] : b->dims[0], N = p->trans_b ? b->dims[0] : b->dims[1];
    if (K != Kb)
        return ev_err_set(err, EV_ERR_SHAPE, "Gemm node '%s': inner dimensions differ (%lld vs %lld)",
                          EV_LABEL(n), (long long)K, (long long)Kb);
    if (c) {
        /* Unidirectional broadcast of C to [M, N]. */
        if (c->rank > 2)
            return ev_err_set(err, EV_ERR_SHAPE, "Gemm node '%s': C has rank %d (at most 2)",
                              EV_LABEL(n), c->rank);
        int64_t want[2] = {M, N};
        for (int d = 0; d < c->rank; d++) {
            int64_t cd = c->dims[d], wd = want[2 - c->rank + d];
            if (cd != wd && cd != 1)
                return ev_err_set(err, EV_ERR_SHAPE,
                                  "Gemm node '%s': C does not broadcast to [%lld, %lld]", EV_LABEL(n),
                                  (long long)M, (long long)N);
        }
    }
    out[0]->dtype = EV_DT_FLOAT;
    out[0]->rank = 2;
    out[0]->dims[0] = M;
    out[0]->dims[1] = N;
    return EV_OK;
}

static ev_status gemm_run(const ev_node *n, const ev_tensor *const *in, ev_tensor *const *out,
                          ev_exec_ctx *ctx)
{
    const gemm_params *p = n->params;
    const ev_tensor *a = in[0], *b = in[1], *c = ev_ref_in(n, in, 2);
    float *y = out[0]->data;
    int64_t M = out[0]->dims[0], N = out[0]->dims[1];
    int64_t K = p->trans_a ? a->dims[0] : a->dims[1];
    int accumulate = 0;
    if (c && p->beta != 0.0f) {
        ev_tensor full = {.dtype = EV_DT_FLOAT, .rank = 2, .dims = {M, N}};
        int64_t st[2];
        ev_broadcast_strides(c, &full, st);
        const float *cd = c->data;
        for (int64_t i = 0; i < M; i++)
            for (int64_t j = 0; j < N; j++) y[i * N + j] = p->beta * cd[i * st[0] + j * st[1]];
        accumulate = 1;
    }
    const float *ad = a->data, *bd = b->data;
    int64_t rsa = p->trans_a ? 1 : K, csa = p->trans_a ? M : 1;
    int64_t rsb = p->trans_b ? 1 : N, csb = p->trans_b ? K : 1;
    ev_ref_sgemm(M, N, K, p->alpha, ad, rsa, csa, bd, rsb, csb, y, N, accumulate, ev_ref_threads(ctx));
    return EV_OK;
}

static int64_t gemm_macs(const ev_node *n, const ev_tensor *const *in, const ev_tensor *const *out)
{
    const gemm_params *p = n->params;
    int64_t K = p && p->trans_a ? in[0]->dims[0] : in[0]->dims[1];
    return out[0]->dims[0] * out[0]->dims[1] * K;
}

const ev_op_def ev_ref_op_gemm = {"Gemm", 7, 18, 0, gemm_prepare, gemm_infer, gemm_run, gemm_macs};

/* ======================================================================== */
/* MatMul: numpy matmul (batched, broadcast batch dims, 1-D operands).        */

static ev_status matmul_prepare(ev_graph *g, ev_node *n, ev_err *err)
{
    return ev_ref_arity(n, 2, 2, 1, err);
}

/* Shapes of the matrix view: a is [..., M, K], b is [..., K, N]. */
typedef struct mm_geom {
    int64_t M, N, K;
    int brank;                     /* rank of the broadcast batch shape       */
    int64_t bdims[EV_MAX_RANK];
    int64_t sa[EV_MAX_RANK], sb[EV_MAX_RANK]; /* batch strides in matrices   */
    int64_t batch;
} mm_geom;

static ev_status mm_geometry(const ev_node *n, const ev_tensor *a, const ev_tensor *b, mm_geom *gm,
                             ev_err *err)
{
    if (a->rank < 1 || b->rank < 1)
        return ev_err_set(err, EV_ERR_SHAPE, "MatMul node '%s': operands must have rank >= 1",
                          EV_LABEL(n));
    gm->M = a->rank == 1 ? 1 : a->dims[a->rank - 2];
    gm->K = a->dims[a->rank - 1];
    int64_t kb = b->rank == 1 ? b->dims[0] : b->dims[b->rank - 2];
    gm->N = b->rank == 1 ? 1 : b->dims[b->rank - 1];
    if (gm->K != kb)
        return ev_err_set(err, EV_ERR_SHAPE, "MatMul node '%s': inner dimensions differ (%lld vs %lld)",
                          EV_LABEL(n), (long long)gm->K, (long long)kb);
    ev_tensor ba = {0}, bb = {0};
    ba.rank = a->rank > 2 ? a->rank - 2 : 0;
    bb.rank = b->rank > 2 ? b->rank - 2 : 0;
    for (int d = 0; d < ba.rank; d++) ba.dims[d] = a->dims[d];
    for (int d = 0; d < bb.rank; d++) bb.dims[d] = b->dims[d];
    const ev_tensor *both[2] = {&ba, &bb};
    ev_tensor bo = {0};
    ev_status st = ev_broadcast_shapes(both, 2, &bo, err);
    if (st) return ev_err_prefix(err, "MatMul node '%s'", EV_LABEL(n));
    gm->brank = bo.rank;
    gm->batch = 1;
    for (int d = 0; d < bo.rank; d++) {
        gm->bdims[d] = bo.dims[d];
        gm->batch *= bo.dims[d];
    }
    ev_broadcast_strides(&ba, &bo, gm->sa);
    ev_broadcast_strides(&bb, &bo, gm->sb);
    return EV_OK;
}

static ev_status matmul_infer(const ev_node *n, const ev_tensor *const *in, ev_tensor *const *out,
                              ev_err *err)
{
    for (int i = 0; i < 2; i++)
        if (in[i]->dtype != EV_DT_FLOAT) return ev_ref_bad_dtype(n, i ? "input B" : "input A", in[i]->dtype, err);
    mm_geom gm;
    EV_TRY(mm_geometry(n, in[0], in[1], &gm, err));
    ev_tensor *o = out[0];
    o->dtype = EV_DT_FLOAT;
    o->rank = 0;
    for (int d = 0; d < gm.brank; d++) o->dims[o->rank++] = gm.bdims[d];
    if (in[0]->rank > 1) o->dims[o->rank++] = gm.M;
    if (in[1]->rank > 1) o->dims[o->rank++] = gm.N;
    if (o->rank > EV_MAX_RANK)
        return ev_err_set(err, EV_ERR_SHAPE, "MatMul node '%s': result rank too large", EV_LABEL(n));
    return EV_OK;
}

static ev_status matmul_run(const ev_node *n, const ev_tensor *const *in, ev_tensor *const *out,
                            ev_exec_ctx *ctx)
{
    const ev_tensor *a = in[0], *b = in[1];
    mm_geom gm;
    EV_TRY(mm_geometry(n, a, b, &gm, ctx->err));
    const float *ad = a->data, *bd = b->data;
    float *y = out[0]->data;
    int64_t M = gm.M, N = gm.N, K = gm.K, MK = M * K, KN = K * N, MN = M * N;
    int threads = ev_ref_threads(ctx);
    if (gm.batch == 0 || MN == 0) return EV_OK;
    /* B without batch dims, A's batch contiguous: one tall GEMM. */
    if (b->rank <= 2 && a->rank >= 2) {
        ev_ref_sgemm(gm.batch * M, N, K, 1.0f, ad, K, 1, bd, N, 1, y, N, 0, threads);
        return EV_OK;
    }
    int outer = gm.batch >= threads && threads > 1;
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads) if (outer)
    for (int64_t bi = 0; bi < gm.batch; bi++) {
        int64_t oa = 0, ob = 0, rem = bi;
        for (int d = gm.brank - 1; d >= 0; d--) {
            int64_t idx = rem % gm.bdims[d];
            rem /= gm.bdims[d];
            oa += idx * gm.sa[d];
            ob += idx * gm.sb[d];
        }
        ev_ref_sgemm(M, N, K, 1.0f, ad + oa * MK, K, 1, bd + ob * KN, N, 1, y + bi * MN, N, 0,
                     outer ? 1 : threads);
    }
    return EV_OK;
}

static int64_t matmul_macs(const ev_node *n, const ev_tensor *const *in, const ev_tensor *const *out)
{
    mm_geom gm;
    if (mm_geometry(n, in[0], in[1], &gm, NULL) != EV_OK) return 0;
    return gm.batch * gm.M * gm.N * gm.K;
}

const ev_op_def ev_ref_op_matmul = {"MatMul", 7, 18, 0, matmul_prepare, matmul_infer, matmul_run,
                                    matmul_macs};
