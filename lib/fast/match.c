/*
 * lib/fast/match.c — pattern matching on a plan: groups of steps that the
 * oneDNN fast path runs as one fused operation (see fast.h for the list).
 *
 * Rules every pattern obeys:
 *   - a value internal to a group (produced and consumed inside it) has
 *     exactly one consumer and is not a graph output, so it can vanish;
 *   - a group executes at the position of its last step ("anchor"): every
 *     external input of the group is produced before that position in the
 *     plan's topological order;
 *   - constants (weights, BN statistics, scalars) are plan constants.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fast/fuse.h"

typedef struct mctx {
    ev_plan *p;
    const ev_graph *g;
    const ev_fast_opts *o;
    int ns, nv;
    int *prod;                    /* value -> producing step or -1            */
    int *ncons;                   /* value -> uses by steps                   */
    int *cstart, *clist;          /* CSR consumer steps (with repeats)         */
    unsigned char *is_out;
    fop_list *L;
} mctx;

static const ev_node *SN(const mctx *m, int s) { return m->p->steps[s].node; }

static int op_is(const ev_node *n, const char *t)
{
    return n && (!n->domain || !n->domain[0] || !strcmp(n->domain, "ai.onnx")) &&
           !strcmp(n->op_type, t);
}

static int step_free(const mctx *m, int s) { return s >= 0 && s < m->ns && m->L->claim[s] < 0; }

static const ev_tensor *VAL(const mctx *m, int v) { return &m->p->vals[v]; }

static int is_rt_float(const mctx *m, int v)
{
    if (v < 0 || v >= m->nv) return 0;
    unsigned st = m->p->state[v];
    return (st == EV_VS_RUNTIME || st == EV_VS_INPUT) && VAL(m, v)->dtype == EV_DT_FLOAT &&
           ev_tensor_numel(VAL(m, v)) > 0;
}

static int is_cfloat(const mctx *m, int v)
{
    return v >= 0 && v < m->nv && m->p->state[v] == EV_VS_CONST && VAL(m, v)->dtype == EV_DT_FLOAT &&
           VAL(m, v)->data != NULL;
}

static const float *CF(const mctx *m, int v) { return (const float *)VAL(m, v)->data; }

/* A constant scalar (any element count 1) of a numeric type, as double. */
static int const_scalar(const mctx *m, int v, double *out)
{
    if (v < 0 || v >= m->nv || m->p->state[v] != EV_VS_CONST) return 0;
    const ev_tensor *t = VAL(m, v);
    if (!t->data || ev_tensor_numel(t) != 1) return 0;
    switch (t->dtype) {
    case EV_DT_FLOAT: *out = *(const float *)t->data; return 1;
    case EV_DT_DOUBLE: *out = *(const double *)t->data; return 1;
    case EV_DT_INT64: *out = (double)*(const int64_t *)t->data; return 1;
    case EV_DT_INT32: *out = (double)*(const int32_t *)t->data; return 1;
    default: return 0;
    }
}

static int near(double a, double b, double tol) { return fabs(a - b) <= tol * (1.0 + fabs(b)); }

/* The only consumer step of v (unclaimed), or -1. */
static int sole(const mctx *m, int v)
{
    if (v < 0 || m->is_out[v] || m->ncons[v] != 1) return -1;
    int s = m->clist[m->cstart[v]];
    return step_free(m, s) ? s : -1;
}

static int same_dims(const ev_tensor *a, const ev_tensor *b)
{
    if (a->rank != b->rank) return 0;
    for (int i = 0; i < a->rank; i++)
        if (a->dims[i] != b->dims[i]) return 0;
    return 1;
}

/* Other input of a two-input node, given one of them. */
static int other_in(const ev_node *n, int v)
{
    if (n->n_in != 2) return -2;
    if (n->in[0] == v && n->in[1] != v) return n->in[1];
    if (n->in[1] == v && n->in[0] != v) return n->in[0];
    return -2;
}

/* Only output 0 of a node is used. */
static int only_out0(const mctx *m, const ev_node *n)
{
    if (n->n_out < 1 || n->out[0] < 0) return 0;
    for (int k = 1; k < n->n_out; k++) {
        int v = n->out[k];
        if (v >= 0 && (m->ncons[v] > 0 || m->is_out[v])) return 0;
    }
    return 1;
}

/* ---- activations ---------------------------------------------------------- */

typedef struct act {
    int n_steps;
    int steps[6];
    int out;
    int n;                        /* eltwise algorithms (1 or 2)               */
    dnnl_alg_kind_t alg[2];
    float alpha[2], beta[2];
} act;

static void act_set(act *a, dnnl_alg_kind_t alg, float alpha, float beta)
{
    a->alg[a->n] = alg;
    a->alpha[a->n] = alpha;
    a->beta[a->n] = beta;
    a->n++;
}

/* Clip bounds (attributes before opset 11, optional constant inputs after). */
static int clip_bounds(const mctx *m, const ev_node *n, float *lo, float *hi)
{
    *lo = -INFINITY;
    *hi = INFINITY;
    if (n->opset < 11) {
        *lo = ev_attr_float(n, "min", -3.4028234663852886e38f);
        *hi = ev_attr_float(n, "max", 3.4028234663852886e38f);
        return 1;
    }
    double d;
    if (n->n_in > 1 && n->in[1] >= 0) {
        if (!const_scalar(m, n->in[1], &d)) return 0;
        *lo = (float)d;
    }
    if (n->n_in > 2 && n->in[2] >= 0) {
        if (!const_scalar(m, n->in[2], &d)) return 0;
        *hi = (float)d;
    }
    return 1;
}

/* A one-node activation at step s reading v. */
static int simple_act(const mctx *m, int s, int v, act *a)
{
    const ev_node *n = SN(m, s);
    if (n->n_in < 1 || n->in[0] != v || !only_out0(m, n)) return 0;
    a->n = 0;
    if (op_is(n, "Relu")) act_set(a, dnnl_eltwise_relu, 0.0f, 0.0f);
    else if (op_is(n, "LeakyRelu")) act_set(a, dnnl_eltwise_relu, ev_attr_float(n, "alpha", 0.01f), 0.0f);
    else if (op_is(n, "Sigmoid")) act_set(a, dnnl_eltwise_logistic, 0.0f, 0.0f);
    else if (op_is(n, "Tanh")) act_set(a, dnnl_eltwise_tanh, 0.0f, 0.0f);
    else if (op_is(n, "HardSwish")) act_set(a, dnnl_eltwise_hardswish, 0.0f, 0.0f);
    else if (op_is(n, "HardSigmoid")) {
        act_set(a, dnnl_eltwise_linear, ev_attr_float(n, "alpha", 0.2f), ev_attr_float(n, "beta", 0.5f));
        act_set(a, dnnl_eltwise_clip_v2, 0.0f, 1.0f);
    } else if (op_is(n, "Clip")) {
        float lo, hi;
        if (!clip_bounds(m, n, &lo, &hi)) return 0;
        act_set(a, dnnl_eltwise_clip_v2, lo, hi);
    } else {
        return 0;
    }
    a->n_steps = 1;
    a->steps[0] = s;
    a->out = n->out[0];
    return 1;
}

/* Mul node at step s multiplying v by w (either order)? */
static int is_mul_of(const mctx *m, int s, int v, int w)
{
    const ev_node *n = SN(m, s);
    return op_is(n, "Mul") && n->n_in == 2 && ((n->in[0] == v && n->in[1] == w) ||
                                               (n->in[0] == w && n->in[1] == v));
}

/* Activation applied to v: one node, or a multi-node pattern (SiLU,
 * x*HardSigmoid(x), QuickGELU, erf-GELU). */
static int match_act(const mctx *m, int v, act *a)
{
    memset(a, 0, sizeof *a);
    if (v < 0 || m->is_out[v]) return 0;
    if (m->ncons[v] == 1) {
        int s = m->clist[m->cstart[v]];
        return step_free(m, s) && simple_act(m, s, v, a);
    }
    if (m->ncons[v] != 2) return 0;
    int s1 = m->clist[m->cstart[v]], s2 = m->clist[m->cstart[v] + 1];
    if (s1 == s2 || !step_free(m, s1) || !step_free(m, s2)) return 0;
    for (int pass = 0; pass < 2; pass++) {
        int f = pass ? s2 : s1, mul = pass ? s1 : s2; /* f: the first node of the branch */
        const ev_node *n = SN(m, f);
        if (n->n_in < 1 || !only_out0(m, n)) continue;
        int w = n->out[0];
        /* x * Sigmoid(x) = swish(1); x * HardSigmoid(x; 1/6, 1/2) = hardswish */
        if ((op_is(n, "Sigmoid") || op_is(n, "HardSigmoid")) && n->in[0] == v &&
            sole(m, w) == mul && is_mul_of(m, mul, v, w) && only_out0(m, SN(m, mul))) {
            if (op_is(n, "Sigmoid")) {
                act_set(a, dnnl_eltwise_swish, 1.0f, 0.0f);
            } else {
                if (!near(ev_attr_float(n, "alpha", 0.2f), 1.0 / 6.0, 1e-5) ||
                    !near(ev_attr_float(n, "beta", 0.5f), 0.5, 1e-6))
                    continue;
                act_set(a, dnnl_eltwise_hardswish, 0.0f, 0.0f);
            }
            a->n_steps = 2;
            a->steps[0] = f;
            a->steps[1] = mul;
            a->out = SN(m, mul)->out[0];
            return 1;
        }
        /* QuickGELU: x * Sigmoid(c * x) = swish(c) */
        double c;
        if (op_is(n, "Mul") && other_in(n, v) >= 0 && const_scalar(m, other_in(n, v), &c)) {
            int sg = sole(m, w);
            if (sg < 0 || !op_is(SN(m, sg), "Sigmoid") || !only_out0(m, SN(m, sg))) continue;
            int w2 = SN(m, sg)->out[0];
            if (sole(m, w2) != mul || !is_mul_of(m, mul, v, w2) || !only_out0(m, SN(m, mul))) continue;
            act_set(a, dnnl_eltwise_swish, (float)c, 0.0f);
            a->n_steps = 3;
            a->steps[0] = f;
            a->steps[1] = sg;
            a->steps[2] = mul;
            a->out = SN(m, mul)->out[0];
            return 1;
        }
        /* erf-GELU: x * 0.5 * (1 + erf(x / sqrt(2))) exported as
         * Div(x, 1.414) -> Erf -> Add(1) -> Mul(x, .) -> Mul(., 0.5) */
        if ((op_is(n, "Div") || op_is(n, "Mul")) && n->n_in == 2 && n->in[0] == v &&
            const_scalar(m, n->in[1], &c) &&
            near(op_is(n, "Div") ? c : 1.0 / c, sqrt(2.0), 1e-4)) {
            int se = sole(m, w);
            if (se < 0 || !op_is(SN(m, se), "Erf") || !only_out0(m, SN(m, se))) continue;
            int e = SN(m, se)->out[0];
            int sa = sole(m, e);
            double one;
            if (sa < 0 || !op_is(SN(m, sa), "Add") || other_in(SN(m, sa), e) < 0 ||
                !const_scalar(m, other_in(SN(m, sa), e), &one) || !near(one, 1.0, 1e-6))
                continue;
            int ad = SN(m, sa)->out[0];
            if (sole(m, ad) != mul || !is_mul_of(m, mul, v, ad)) continue;
            int mv = SN(m, mul)->out[0];
            int sh = sole(m, mv);
            double half;
            if (sh < 0 || !op_is(SN(m, sh), "Mul") || other_in(SN(m, sh), mv) < 0 ||
                !const_scalar(m, other_in(SN(m, sh), mv), &half) || !near(half, 0.5, 1e-6) ||
                !only_out0(m, SN(m, sh)))
                continue;
            act_set(a, dnnl_eltwise_gelu_erf, 0.0f, 0.0f);
            a->n_steps = 5;
            a->steps[0] = f;
            a->steps[1] = se;
            a->steps[2] = sa;
            a->steps[3] = mul;
            a->steps[4] = sh;
            a->out = SN(m, sh)->out[0];
            return 1;
        }
    }
    return 0;
}

/* ---- fop bookkeeping ---------------------------------------------------------- */

static void fop_init(fop *f, fop_kind k)
{
    memset(f, 0, sizeof *f);
    f->kind = k;
    f->sum_in = -1;
    f->cst_pos = -1;
    f->drop_axis = -1;
    f->out = -1;
    f->scale = 1.0f;
}

static int fop_add_step(fop *f, int s)
{
    if (f->n_steps >= FOP_MAX_STEPS) return 0;
    f->steps[f->n_steps++] = s;
    return 1;
}

static int fop_add_act(fop *f, const act *a, int as_post)
{
    if (f->n_steps + a->n_steps > FOP_MAX_STEPS) return 0;
    if (as_post) {
        if (f->post.n + a->n > EV_FPO_MAX) return 0;
        for (int i = 0; i < a->n; i++) ev_fpost_eltwise(&f->post, a->alg[i], a->alpha[i], a->beta[i]);
    }
    for (int i = 0; i < a->n_steps; i++) f->steps[f->n_steps++] = a->steps[i];
    f->out = a->out;
    return 1;
}

static ev_status commit(mctx *m, fop *f, ev_err *err)
{
    fop_list *L = m->L;
    if (L->n == L->cap) {
        int nc = L->cap ? L->cap * 2 : 64;
        fop *nv = realloc(L->v, (size_t)nc * sizeof *nv);
        if (!nv) {
            free(f->w_own);
            free(f->b_own);
            return ev_err_set(err, EV_ERR_NOMEM, "fast path: out of memory");
        }
        L->v = nv;
        L->cap = nc;
    }
    f->anchor = -1;
    for (int i = 0; i < f->n_steps; i++) {
        if (f->steps[i] > f->anchor) f->anchor = f->steps[i];
        L->claim[f->steps[i]] = L->n;
    }
    f->label = SN(m, f->anchor)->name;
    L->v[L->n++] = *f;
    return EV_OK;
}

/* ---- Conv (+ BN) (+ act) (+ residual Add) (+ act) ------------------------------ */

static int conv_geometry(const mctx *m, const ev_node *n, fop *f)
{
    const ev_tensor *x = VAL(m, n->in[0]), *w = VAL(m, n->in[1]), *y = VAL(m, n->out[0]);
    if (x->rank != 4 || w->rank != 4 || y->rank != 4) return 0;
    ev_fconv_spec *s = &f->conv;
    s->n = x->dims[0];
    s->c = x->dims[1];
    s->h = x->dims[2];
    s->w = x->dims[3];
    s->oc = w->dims[0];
    s->groups = ev_attr_int(n, "group", 1);
    s->kh = w->dims[2];
    s->kw = w->dims[3];
    if (s->groups < 1 || s->c != w->dims[1] * s->groups) return 0;
    int64_t cnt;
    const int64_t *ks = ev_attr_ints(n, "kernel_shape", &cnt);
    if (ks && (cnt != 2 || ks[0] != s->kh || ks[1] != s->kw)) return 0;
    const int64_t *st = ev_attr_ints(n, "strides", &cnt);
    if (st && cnt != 2) return 0;
    s->stride[0] = st ? st[0] : 1;
    s->stride[1] = st ? st[1] : 1;
    const int64_t *dl = ev_attr_ints(n, "dilations", &cnt);
    if (dl && cnt != 2) return 0;
    s->dil[0] = dl ? dl[0] : 1;
    s->dil[1] = dl ? dl[1] : 1;
    const char *ap = ev_attr_string(n, "auto_pad", "NOTSET");
    if (!strcmp(ap, "NOTSET") || !ap[0]) {
        const int64_t *pd = ev_attr_ints(n, "pads", &cnt);
        if (pd && cnt != 4) return 0;
        /* ONNX pads [x1_begin, x2_begin, x1_end, x2_end] = top, left, bottom, right */
        for (int i = 0; i < 4; i++) s->pad[i] = pd ? pd[i] : 0;
    } else if (!strcmp(ap, "VALID")) {
        memset(s->pad, 0, sizeof s->pad);
    } else if (!strcmp(ap, "SAME_UPPER") || !strcmp(ap, "SAME_LOWER")) {
        int64_t in[2] = {s->h, s->w}, k[2] = {s->kh, s->kw};
        for (int i = 0; i < 2; i++) {
            int64_t o = (in[i] + s->stride[i] - 1) / s->stride[i];
            int64_t tot = (o - 1) * s->stride[i] + (k[i] - 1) * s->dil[i] + 1 - in[i];
            if (tot < 0) tot = 0;
            int64_t small = tot / 2, big = tot - small;
            int upper = !strcmp(ap, "SAME_UPPER");
            s->pad[i] = upper ? small : big;
            s->pad[i + 2] = upper ? big : small;
        }
    } else {
        return 0;
    }
    for (int i = 0; i < 4; i++)
        if (s->pad[i] < 0) return 0;
    int64_t od[4];
    if (!ev_fconv_out_dims(s, od)) return 0;
    for (int i = 0; i < 4; i++)
        if (od[i] != y->dims[i]) return 0;
    return 1;
}

/* Fold BatchNormalization (step sb) into the conv's weights/bias. */
static int fold_bn(mctx *m, fop *f, int sb)
{
    const ev_node *b = SN(m, sb);
    if (b->n_in != 5 || !only_out0(m, b) || ev_attr_int(b, "training_mode", 0) != 0) return 0;
    for (int k = 1; k < 5; k++)
        if (!is_cfloat(m, b->in[k]) || ev_tensor_numel(VAL(m, b->in[k])) != f->conv.oc) return 0;
    double eps = ev_attr_float(b, "epsilon", 1e-5f);
    const float *gam = CF(m, b->in[1]), *bet = CF(m, b->in[2]), *mean = CF(m, b->in[3]),
                *var = CF(m, b->in[4]);
    int64_t oc = f->conv.oc, per = (f->conv.c / f->conv.groups) * f->conv.kh * f->conv.kw;
    float *w = malloc((size_t)(oc * per) * sizeof(float));
    float *bias = malloc((size_t)oc * sizeof(float));
    if (!w || !bias) {
        free(w);
        free(bias);
        return 0;
    }
    for (int64_t o = 0; o < oc; o++) {
        double sc = gam[o] / sqrt((double)var[o] + eps);
        for (int64_t i = 0; i < per; i++) w[o * per + i] = (float)(f->conv.weights[o * per + i] * sc);
        double b0 = f->conv.bias ? f->conv.bias[o] : 0.0;
        bias[o] = (float)((b0 - mean[o]) * sc + bet[o]);
    }
    free(f->w_own);
    free(f->b_own);
    f->w_own = w;
    f->b_own = bias;
    f->conv.weights = w;
    f->conv.bias = bias;
    return 1;
}

/* Residual Add of the current output `cur` (sole consumer at step sa). */
static int try_sum(mctx *m, fop *f, int *cur)
{
    int sa = sole(m, *cur);
    if (sa < 0 || f->sum_in >= 0 || f->n_in >= FOP_MAX_IN) return 0;
    const ev_node *a = SN(m, sa);
    if (!op_is(a, "Add") || !only_out0(m, a)) return 0;
    int r = other_in(a, *cur);
    if (r < 0 || !is_rt_float(m, r) || !same_dims(VAL(m, r), VAL(m, *cur)) ||
        !same_dims(VAL(m, a->out[0]), VAL(m, *cur)))
        return 0;
    if (f->post.n >= EV_FPO_MAX || !fop_add_step(f, sa)) return 0;
    ev_fpost_sum(&f->post, 1.0f);
    f->sum_in = f->n_in;
    f->in[f->n_in++] = r;
    *cur = a->out[0];
    f->out = *cur;
    return 1;
}

/* Activation after the current output, as post-ops. */
static int try_act(mctx *m, fop *f, int *cur)
{
    act a;
    if (!match_act(m, *cur, &a)) return 0;
    if (!fop_add_act(f, &a, 1)) return 0;
    *cur = a.out;
    return 1;
}

static ev_status match_conv(mctx *m, int s, ev_err *err)
{
    const ev_node *n = SN(m, s);
    if (!op_is(n, "Conv") || n->n_in < 2 || !only_out0(m, n) || !is_rt_float(m, n->in[0]) ||
        !is_cfloat(m, n->in[1]))
        return EV_OK;
    if (n->n_in > 2 && n->in[2] >= 0 && !is_cfloat(m, n->in[2])) return EV_OK;
    fop f;
    fop_init(&f, FOP_CONV);
    if (!conv_geometry(m, n, &f)) return EV_OK;
    f.conv.weights = CF(m, n->in[1]);
    f.conv.bias = n->n_in > 2 && n->in[2] >= 0 ? CF(m, n->in[2]) : NULL;
    if (f.conv.bias && ev_tensor_numel(VAL(m, n->in[2])) != f.conv.oc) return EV_OK;
    f.in[f.n_in++] = n->in[0];
    fop_add_step(&f, s);
    int cur = n->out[0];
    f.out = cur;
    int sb = sole(m, cur);
    if (sb >= 0 && op_is(SN(m, sb), "BatchNormalization") && !(m->o->disable & EV_FAST_NO_BNFOLD) &&
        SN(m, sb)->in[0] == cur && fold_bn(m, &f, sb)) {
        fop_add_step(&f, sb);
        cur = SN(m, sb)->out[0];
        f.out = cur;
    }
    if (!(m->o->disable & EV_FAST_NO_POSTOPS)) {
        try_act(m, &f, &cur);
        if (try_sum(m, &f, &cur)) try_act(m, &f, &cur);
    }
    return commit(m, &f, err);
}

/* ---- MatMul / Gemm with a constant B ----------------------------------------------- */

/* A bias Add after a matmul: constant of N elements broadcast on the last axis. */
static int try_bias(mctx *m, fop *f, int *cur)
{
    int sa = sole(m, *cur);
    if (sa < 0 || f->mm_bias) return 0;
    const ev_node *a = SN(m, sa);
    if (!op_is(a, "Add") || !only_out0(m, a)) return 0;
    int b = other_in(a, *cur);
    if (b < 0 || !is_cfloat(m, b)) return 0;
    const ev_tensor *bt = VAL(m, b), *ct = VAL(m, *cur);
    if (ev_tensor_numel(bt) != f->mm_n || bt->rank > ct->rank) return 0;
    if (bt->rank >= 1 && bt->dims[bt->rank - 1] != f->mm_n) return 0;
    if (!same_dims(VAL(m, a->out[0]), ct)) return 0;
    if (!fop_add_step(f, sa)) return 0;
    f->mm_bias = CF(m, b);
    *cur = a->out[0];
    f->out = *cur;
    return 1;
}

static ev_status match_matmul(mctx *m, int s, ev_err *err)
{
    const ev_node *n = SN(m, s);
    fop f;
    fop_init(&f, FOP_MATMUL);
    if (op_is(n, "MatMul")) {
        if (n->n_in != 2 || !is_rt_float(m, n->in[0]) || !is_cfloat(m, n->in[1])) return EV_OK;
        const ev_tensor *a = VAL(m, n->in[0]), *b = VAL(m, n->in[1]);
        if (a->rank < 2 || b->rank != 2 || a->dims[a->rank - 1] != b->dims[0]) return EV_OK;
        f.mm_k = b->dims[0];
        f.mm_n = b->dims[1];
        f.mm_b = CF(m, n->in[1]);
    } else if (op_is(n, "Gemm")) {
        if (n->n_in < 2 || !is_rt_float(m, n->in[0]) || !is_cfloat(m, n->in[1])) return EV_OK;
        if (ev_attr_int(n, "transA", 0) != 0) return EV_OK;
        const ev_tensor *a = VAL(m, n->in[0]), *b = VAL(m, n->in[1]);
        if (a->rank != 2 || b->rank != 2) return EV_OK;
        int tb = ev_attr_int(n, "transB", 0) != 0;
        int64_t K = tb ? b->dims[1] : b->dims[0], N = tb ? b->dims[0] : b->dims[1];
        if (a->dims[1] != K) return EV_OK;
        float alpha = ev_attr_float(n, "alpha", 1.0f), beta = ev_attr_float(n, "beta", 1.0f);
        const float *c = NULL;
        if (n->n_in > 2 && n->in[2] >= 0) {
            if (!is_cfloat(m, n->in[2])) return EV_OK;
            const ev_tensor *ct = VAL(m, n->in[2]);
            if (ev_tensor_numel(ct) != N || (ct->rank >= 1 && ct->dims[ct->rank - 1] != N)) return EV_OK;
            c = CF(m, n->in[2]);
        }
        f.w_own = malloc((size_t)(K * N) * sizeof(float));
        if (!f.w_own) return ev_err_set(err, EV_ERR_NOMEM, "fast path: out of memory");
        const float *B = CF(m, n->in[1]);
        for (int64_t k = 0; k < K; k++)
            for (int64_t j = 0; j < N; j++) f.w_own[k * N + j] = alpha * (tb ? B[j * K + k] : B[k * N + j]);
        if (c && beta != 0.0f) {
            f.b_own = malloc((size_t)N * sizeof(float));
            if (!f.b_own) {
                free(f.w_own);
                return ev_err_set(err, EV_ERR_NOMEM, "fast path: out of memory");
            }
            for (int64_t j = 0; j < N; j++) f.b_own[j] = beta * c[j];
            f.mm_bias = f.b_own;
        }
        f.mm_k = K;
        f.mm_n = N;
        f.mm_b = f.w_own;
    } else {
        return EV_OK;
    }
    if (!only_out0(m, n)) {
        free(f.w_own);
        free(f.b_own);
        return EV_OK;
    }
    f.in[f.n_in++] = n->in[0];
    fop_add_step(&f, s);
    int cur = n->out[0];
    f.out = cur;
    try_bias(m, &f, &cur);
    if (!(m->o->disable & EV_FAST_NO_POSTOPS)) {
        try_act(m, &f, &cur);
        if (try_sum(m, &f, &cur)) try_act(m, &f, &cur);
    }
    return commit(m, &f, err);
}

/* ---- batched MatMul of two runtime tensors (attention), scale folded ------------- */

/* v is Div/Mul(x, scalar) with v used only by the matmul: returns x and
 * multiplies *scale. */
static int scale_producer(mctx *m, int v, int *x, float *scale, int *step)
{
    int s = m->prod[v];
    if (s < 0 || !step_free(m, s) || m->ncons[v] != 1 || m->is_out[v]) return 0;
    const ev_node *n = SN(m, s);
    double c;
    if (n->n_in != 2 || !only_out0(m, n) || !is_rt_float(m, n->in[0])) return 0;
    if (op_is(n, "Div") && const_scalar(m, n->in[1], &c) && c != 0.0) *scale *= (float)(1.0 / c);
    else if (op_is(n, "Mul") && const_scalar(m, n->in[1], &c)) *scale *= (float)c;
    else return 0;
    if (!same_dims(VAL(m, n->in[0]), VAL(m, v))) return 0;
    *x = n->in[0];
    *step = s;
    return 1;
}

static ev_status match_bmm(mctx *m, int s, ev_err *err)
{
    const ev_node *n = SN(m, s);
    if (!op_is(n, "MatMul") || n->n_in != 2 || !only_out0(m, n) || !is_rt_float(m, n->in[0]) ||
        !is_rt_float(m, n->in[1]))
        return EV_OK;
    const ev_tensor *a = VAL(m, n->in[0]), *b = VAL(m, n->in[1]);
    int r = a->rank;
    if (r < 2 || r > 4 || b->rank != r || a->dims[r - 1] != b->dims[r - 2]) return EV_OK;
    for (int i = 0; i < r - 2; i++)
        if (a->dims[i] != b->dims[i] && a->dims[i] != 1 && b->dims[i] != 1) return EV_OK;
    fop f;
    fop_init(&f, FOP_BMM);
    int xa = n->in[0], xb = n->in[1], st;
    float scale = 1.0f;
    if (scale_producer(m, xa, &xa, &scale, &st)) fop_add_step(&f, st);
    if (scale_producer(m, xb, &xb, &scale, &st)) fop_add_step(&f, st);
    fop_add_step(&f, s);
    int cur = n->out[0];
    int so = sole(m, cur);
    double c;
    if (so >= 0) {
        const ev_node *q = SN(m, so);
        if (q->n_in == 2 && q->in[0] == cur && only_out0(m, q) &&
            ((op_is(q, "Div") && const_scalar(m, q->in[1], &c) && c != 0.0) ||
             (op_is(q, "Mul") && const_scalar(m, q->in[1], &c))) &&
            same_dims(VAL(m, q->out[0]), VAL(m, cur))) {
            scale *= op_is(q, "Div") ? (float)(1.0 / c) : (float)c;
            fop_add_step(&f, so);
            cur = q->out[0];
        }
    }
    f.scale = scale;
    f.in[f.n_in++] = xa;
    f.in[f.n_in++] = xb;
    f.out = cur;
    return commit(m, &f, err);
}

/* ---- layer normalization ------------------------------------------------------------ */

static int reduce_last_axis(const mctx *m, const ev_node *n)
{
    if (!op_is(n, "ReduceMean") || !only_out0(m, n) || ev_attr_int(n, "keepdims", 1) != 1) return 0;
    int rank = VAL(m, n->in[0])->rank;
    int64_t cnt = 0, ax;
    const int64_t *axes = ev_attr_ints(n, "axes", &cnt);
    if (!axes && n->n_in > 1 && n->in[1] >= 0) {
        const ev_tensor *t = VAL(m, n->in[1]);
        if (m->p->state[n->in[1]] != EV_VS_CONST || t->dtype != EV_DT_INT64 || ev_tensor_numel(t) != 1)
            return 0;
        ax = *(const int64_t *)t->data;
    } else {
        if (!axes || cnt != 1) return 0;
        ax = axes[0];
    }
    if (ax < 0) ax += rank;
    return ax == rank - 1;
}

static ev_status match_lnorm_op(mctx *m, int s, ev_err *err)
{
    const ev_node *n = SN(m, s);
    if (!op_is(n, "LayerNormalization") || n->n_in < 2 || !only_out0(m, n) ||
        !is_rt_float(m, n->in[0]) || !is_cfloat(m, n->in[1]))
        return EV_OK;
    const ev_tensor *x = VAL(m, n->in[0]);
    int64_t axis = ev_attr_int(n, "axis", -1);
    if (axis < 0) axis += x->rank;
    int64_t C = x->dims[x->rank - 1];
    if (axis != x->rank - 1 || ev_tensor_numel(VAL(m, n->in[1])) != C) return EV_OK;
    if (n->n_in > 2 && n->in[2] >= 0 &&
        (!is_cfloat(m, n->in[2]) || ev_tensor_numel(VAL(m, n->in[2])) != C))
        return EV_OK;
    fop f;
    fop_init(&f, FOP_LNORM);
    f.eps = ev_attr_float(n, "epsilon", 1e-5f);
    f.gamma = CF(m, n->in[1]);
    f.beta_v = n->n_in > 2 && n->in[2] >= 0 ? CF(m, n->in[2]) : NULL;
    f.in[f.n_in++] = n->in[0];
    f.out = n->out[0];
    fop_add_step(&f, s);
    return commit(m, &f, err);
}

/* ReduceMean/Sub/Pow/ReduceMean/Add/Sqrt/Div/Mul/Add starting at the first
 * ReduceMean (step s1). */
static ev_status match_lnorm_pattern(mctx *m, int s1, ev_err *err)
{
    const ev_node *n1 = SN(m, s1);
    if (!reduce_last_axis(m, n1) || !is_rt_float(m, n1->in[0])) return EV_OK;
    int x = n1->in[0], mu = n1->out[0];
    const ev_tensor *xt = VAL(m, x);
    int64_t C = xt->dims[xt->rank - 1];
    int s2 = sole(m, mu);
    if (s2 < 0 || !op_is(SN(m, s2), "Sub") || SN(m, s2)->in[0] != x || SN(m, s2)->in[1] != mu) return EV_OK;
    int d = SN(m, s2)->out[0];
    if (m->is_out[d] || m->ncons[d] != 2) return EV_OK;
    int c1 = m->clist[m->cstart[d]], c2 = m->clist[m->cstart[d] + 1];
    int s3 = op_is(SN(m, c1), "Pow") ? c1 : c2, s7 = s3 == c1 ? c2 : c1;
    double two, eps;
    if (!step_free(m, s3) || !step_free(m, s7) || !op_is(SN(m, s3), "Pow") ||
        SN(m, s3)->in[0] != d || !const_scalar(m, SN(m, s3)->in[1], &two) || two != 2.0)
        return EV_OK;
    int s4 = sole(m, SN(m, s3)->out[0]);
    if (s4 < 0 || !reduce_last_axis(m, SN(m, s4))) return EV_OK;
    int var = SN(m, s4)->out[0];
    int s5 = sole(m, var);
    if (s5 < 0 || !op_is(SN(m, s5), "Add") || other_in(SN(m, s5), var) < 0 ||
        !const_scalar(m, other_in(SN(m, s5), var), &eps))
        return EV_OK;
    int s6 = sole(m, SN(m, s5)->out[0]);
    if (s6 < 0 || !op_is(SN(m, s6), "Sqrt")) return EV_OK;
    int sd = SN(m, s6)->out[0];
    if (sole(m, sd) != s7 || !op_is(SN(m, s7), "Div") || SN(m, s7)->in[0] != d ||
        SN(m, s7)->in[1] != sd)
        return EV_OK;
    int nrm = SN(m, s7)->out[0];
    fop f;
    fop_init(&f, FOP_LNORM);
    f.eps = (float)eps;
    int steps[9] = {s1, s2, s3, s4, s5, s6, s7, -1, -1};
    int cur = nrm;
    int s8 = sole(m, nrm);
    if (s8 >= 0 && op_is(SN(m, s8), "Mul") && other_in(SN(m, s8), nrm) >= 0 &&
        is_cfloat(m, other_in(SN(m, s8), nrm)) &&
        ev_tensor_numel(VAL(m, other_in(SN(m, s8), nrm))) == C &&
        same_dims(VAL(m, SN(m, s8)->out[0]), xt)) {
        f.gamma = CF(m, other_in(SN(m, s8), nrm));
        steps[7] = s8;
        cur = SN(m, s8)->out[0];
        int s9 = sole(m, cur);
        if (s9 >= 0 && op_is(SN(m, s9), "Add") && other_in(SN(m, s9), cur) >= 0 &&
            is_cfloat(m, other_in(SN(m, s9), cur)) &&
            ev_tensor_numel(VAL(m, other_in(SN(m, s9), cur))) == C &&
            same_dims(VAL(m, SN(m, s9)->out[0]), xt)) {
            f.beta_v = CF(m, other_in(SN(m, s9), cur));
            steps[8] = s9;
            cur = SN(m, s9)->out[0];
        }
    }
    if (!f.gamma) {
        /* gamma = 1: the builder needs a scale vector */
        f.w_own = malloc((size_t)C * sizeof(float));
        if (!f.w_own) return ev_err_set(err, EV_ERR_NOMEM, "fast path: out of memory");
        for (int64_t i = 0; i < C; i++) f.w_own[i] = 1.0f;
        f.gamma = f.w_own;
    }
    for (int i = 0; i < 9; i++)
        if (steps[i] >= 0) fop_add_step(&f, steps[i]);
    f.in[f.n_in++] = x;
    f.out = cur;
    return commit(m, &f, err);
}

/* ---- pooling ------------------------------------------------------------------------ */

static ev_status match_pool(mctx *m, int s, ev_err *err)
{
    const ev_node *n = SN(m, s);
    if (n->n_in < 1 || !is_rt_float(m, n->in[0]) || !only_out0(m, n)) return EV_OK;
    const ev_tensor *x = VAL(m, n->in[0]), *y = VAL(m, n->out[0]);
    if (x->rank != 4) return EV_OK;
    fop f;
    fop_init(&f, FOP_POOL);
    ev_fpool_spec *p = &f.pool;
    p->n = x->dims[0];
    p->c = x->dims[1];
    p->h = x->dims[2];
    p->w = x->dims[3];
    int keep4 = 1;
    if (op_is(n, "GlobalAveragePool") || op_is(n, "GlobalMaxPool")) {
        p->max = op_is(n, "GlobalMaxPool");
        p->kh = p->h;
        p->kw = p->w;
        p->stride[0] = p->stride[1] = 1;
        p->oh = p->ow = 1;
    } else if (op_is(n, "ReduceMean")) {
        int64_t cnt = 0;
        const int64_t *axes = ev_attr_ints(n, "axes", &cnt);
        int64_t buf[2];
        if (!axes && n->n_in > 1 && n->in[1] >= 0 && m->p->state[n->in[1]] == EV_VS_CONST &&
            VAL(m, n->in[1])->dtype == EV_DT_INT64 && ev_tensor_numel(VAL(m, n->in[1])) == 2) {
            memcpy(buf, VAL(m, n->in[1])->data, sizeof buf);
            axes = buf;
            cnt = 2;
        }
        if (!axes || cnt != 2) return EV_OK;
        int64_t a0 = axes[0] < 0 ? axes[0] + 4 : axes[0], a1 = axes[1] < 0 ? axes[1] + 4 : axes[1];
        if (!((a0 == 2 && a1 == 3) || (a0 == 3 && a1 == 2))) return EV_OK;
        keep4 = ev_attr_int(n, "keepdims", 1) != 0;
        p->kh = p->h;
        p->kw = p->w;
        p->stride[0] = p->stride[1] = 1;
        p->oh = p->ow = 1;
    } else if (op_is(n, "MaxPool") || op_is(n, "AveragePool")) {
        p->max = op_is(n, "MaxPool");
        if (p->max && (ev_attr_int(n, "storage_order", 0) != 0)) return EV_OK;
        int64_t cnt;
        const int64_t *ks = ev_attr_ints(n, "kernel_shape", &cnt);
        if (!ks || cnt != 2) return EV_OK;
        p->kh = ks[0];
        p->kw = ks[1];
        const int64_t *st = ev_attr_ints(n, "strides", &cnt);
        if (st && cnt != 2) return EV_OK;
        p->stride[0] = st ? st[0] : 1;
        p->stride[1] = st ? st[1] : 1;
        const int64_t *dl = ev_attr_ints(n, "dilations", &cnt);
        if (dl && (cnt != 2 || dl[0] != 1 || dl[1] != 1)) return EV_OK;
        const char *ap = ev_attr_string(n, "auto_pad", "NOTSET");
        if (strcmp(ap, "NOTSET") && strcmp(ap, "VALID") && ap[0]) return EV_OK;
        const int64_t *pd = ev_attr_ints(n, "pads", &cnt);
        if (pd && cnt != 4) return EV_OK;
        if (pd && strcmp(ap, "VALID"))
            for (int i = 0; i < 4; i++) p->pad[i] = pd[i];
        p->count_include_pad = !p->max && ev_attr_int(n, "count_include_pad", 0) != 0;
        if (y->rank != 4) return EV_OK;
        p->oh = y->dims[2];
        p->ow = y->dims[3];
    } else {
        return EV_OK;
    }
    if (keep4 && (y->rank != 4 || y->dims[2] != p->oh || y->dims[3] != p->ow)) return EV_OK;
    if (!keep4 && (y->rank != 2 || y->dims[0] != p->n || y->dims[1] != p->c)) return EV_OK;
    f.in[f.n_in++] = n->in[0];
    f.out = n->out[0];
    fop_add_step(&f, s);
    return commit(m, &f, err);
}

/* ---- element-wise, binary, softmax ------------------------------------------------------- */

static ev_status match_eltwise(mctx *m, int s, ev_err *err)
{
    const ev_node *n = SN(m, s);
    if (n->n_in < 1 || !is_rt_float(m, n->in[0])) return EV_OK;
    int v = n->in[0];
    act a;
    if (!match_act(m, v, &a)) {
        if (!simple_act(m, s, v, &a)) return EV_OK;
    }
    /* the pattern must include this step */
    int has = 0;
    for (int i = 0; i < a.n_steps; i++) has |= a.steps[i] == s;
    if (!has) return EV_OK;
    fop f;
    fop_init(&f, FOP_ELTWISE);
    f.n_alg = a.n;
    for (int i = 0; i < a.n; i++) {
        f.alg[i] = a.alg[i];
        f.alpha[i] = a.alpha[i];
        f.beta[i] = a.beta[i];
    }
    f.in[f.n_in++] = v;
    fop_add_act(&f, &a, 0);
    return commit(m, &f, err);
}

/* Right-align `t`'s dims to rank r (leading 1s). */
static int align_dims(const ev_tensor *t, int r, int64_t *out)
{
    if (t->rank > r) return 0;
    for (int i = 0; i < r; i++) out[i] = 1;
    for (int i = 0; i < t->rank; i++) out[r - t->rank + i] = t->dims[i];
    return 1;
}

static ev_status match_binary(mctx *m, int s, ev_err *err)
{
    const ev_node *n = SN(m, s);
    dnnl_alg_kind_t alg;
    if (op_is(n, "Add")) alg = dnnl_binary_add;
    else if (op_is(n, "Mul")) alg = dnnl_binary_mul;
    else if (op_is(n, "Sub")) alg = dnnl_binary_sub;
    else if (op_is(n, "Div")) alg = dnnl_binary_div;
    else return EV_OK;
    if (n->n_in != 2 || !only_out0(m, n)) return EV_OK;
    const ev_tensor *y = VAL(m, n->out[0]);
    if (y->dtype != EV_DT_FLOAT || y->rank < 1 || y->rank > 6) return EV_OK;
    int a = n->in[0], b = n->in[1];
    int ca = is_cfloat(m, a), cb = is_cfloat(m, b);
    if ((!ca && !is_rt_float(m, a)) || (!cb && !is_rt_float(m, b)) || (ca && cb)) return EV_OK;
    int64_t da[EV_MAX_RANK], db[EV_MAX_RANK];
    if (!align_dims(VAL(m, a), y->rank, da) || !align_dims(VAL(m, b), y->rank, db)) return EV_OK;
    int a_full = 1, b_full = 1;
    for (int i = 0; i < y->rank; i++) {
        if (da[i] != y->dims[i]) a_full = 0;
        if (db[i] != y->dims[i]) b_full = 0;
    }
    fop f;
    fop_init(&f, FOP_BINARY);
    f.balg = alg;
    int swap = 0;
    if (!a_full || ca) {
        /* src0 must be the full-shape runtime tensor */
        if (!b_full || cb || (alg != dnnl_binary_add && alg != dnnl_binary_mul)) return EV_OK;
        swap = 1;
    }
    int x0 = swap ? b : a, x1 = swap ? a : b;
    f.in[f.n_in++] = x0;
    if (is_cfloat(m, x1)) {
        f.cst_pos = 1;
        f.cst = *VAL(m, x1);
        f.in[f.n_in++] = -1;
    } else {
        f.in[f.n_in++] = x1;
    }
    fop_add_step(&f, s);
    int cur = n->out[0];
    f.out = cur;
    if (!(m->o->disable & EV_FAST_NO_POSTOPS)) try_act(m, &f, &cur);
    return commit(m, &f, err);
}

static ev_status match_softmax(mctx *m, int s, ev_err *err)
{
    const ev_node *n = SN(m, s);
    if (!op_is(n, "Softmax") || n->n_in != 1 || !is_rt_float(m, n->in[0]) || !only_out0(m, n))
        return EV_OK;
    int r = VAL(m, n->in[0])->rank;
    int64_t axis = ev_attr_int(n, "axis", n->opset >= 13 ? -1 : 1);
    if (axis < 0) axis += r;
    if (axis != r - 1) return EV_OK;
    fop f;
    fop_init(&f, FOP_SOFTMAX);
    f.axis = (int)axis;
    f.in[f.n_in++] = n->in[0];
    f.out = n->out[0];
    fop_add_step(&f, s);
    return commit(m, &f, err);
}

/* ---- views and copies ------------------------------------------------------------------------ */

static int is_const_float(const mctx *m, int v) { return is_cfloat(m, v) && ev_tensor_numel(VAL(m, v)) > 0; }

static ev_status match_view(mctx *m, int s, ev_err *err)
{
    const ev_node *n = SN(m, s);
    if (n->n_in < 1 || n->n_out < 1 || n->out[0] < 0) return EV_OK;
    if (op_is(n, "Concat")) {
        /* runtime and constant inputs (e.g. an expanded class token) */
        const ev_tensor *y = VAL(m, n->out[0]);
        if (!only_out0(m, n) || y->dtype != EV_DT_FLOAT || n->n_in > FOP_MAX_IN) return EV_OK;
        fop f;
        fop_init(&f, FOP_CONCAT);
        int64_t ax = ev_attr_int(n, "axis", 1);
        if (ax < 0) ax += y->rank;
        if (ax < 0 || ax >= y->rank) return EV_OK;
        f.axis = (int)ax;
        int n_rt = 0;
        for (int k = 0; k < n->n_in; k++) {
            int v = n->in[k];
            if (is_rt_float(m, v)) n_rt++;
            else if (!is_const_float(m, v)) return EV_OK;
            if (VAL(m, v)->rank != y->rank) return EV_OK;
            f.in[f.n_in++] = v;
        }
        if (n_rt == 0) return EV_OK;
        f.out = n->out[0];
        fop_add_step(&f, s);
        return commit(m, &f, err);
    }
    if (!is_rt_float(m, n->in[0])) return EV_OK;
    if (!op_is(n, "Split") && !only_out0(m, n)) return EV_OK;
    const ev_tensor *x = VAL(m, n->in[0]), *y = VAL(m, n->out[0]);
    if (y->dtype != EV_DT_FLOAT || ev_tensor_numel(y) <= 0) return EV_OK;
    fop f;
    if (op_is(n, "Reshape") || op_is(n, "Flatten") || op_is(n, "Squeeze") || op_is(n, "Unsqueeze")) {
        for (int k = 1; k < n->n_in; k++)
            if (n->in[k] >= 0 && m->p->state[n->in[k]] != EV_VS_CONST) return EV_OK;
        if (ev_tensor_numel(x) != ev_tensor_numel(y)) return EV_OK;
        fop_init(&f, FOP_RESHAPE);
    } else if (op_is(n, "Transpose")) {
        fop_init(&f, FOP_TRANSPOSE);
        int64_t cnt;
        const int64_t *perm = ev_attr_ints(n, "perm", &cnt);
        if (perm && cnt != x->rank) return EV_OK;
        for (int i = 0; i < x->rank; i++) {
            f.perm[i] = perm ? (int)perm[i] : x->rank - 1 - i;
            if (f.perm[i] < 0 || f.perm[i] >= x->rank || y->dims[i] != x->dims[f.perm[i]]) return EV_OK;
        }
    } else if (op_is(n, "Slice")) {
        fop_init(&f, FOP_SLICE);
        if (n->opset < 10 || n->n_in < 3 || x->rank != y->rank) return EV_OK;
        for (int k = 1; k < n->n_in; k++)
            if (n->in[k] >= 0 && m->p->state[n->in[k]] != EV_VS_CONST) return EV_OK;
        for (int i = 0; i < x->rank; i++) {
            f.sl_start[i] = 0;
            f.sl_step[i] = 1;
        }
        const ev_tensor *st = VAL(m, n->in[1]), *en = VAL(m, n->in[2]);
        int64_t na = ev_tensor_numel(st);
        if (na != ev_tensor_numel(en) || na < 1 || na > x->rank) return EV_OK;
        for (int64_t i = 0; i < na; i++) {
            int64_t ax = n->n_in > 3 && n->in[3] >= 0 ? ev_tensor_get_int(VAL(m, n->in[3]), i) : i;
            int64_t stp = n->n_in > 4 && n->in[4] >= 0 ? ev_tensor_get_int(VAL(m, n->in[4]), i) : 1;
            if (ax < 0) ax += x->rank;
            if (ax < 0 || ax >= x->rank || stp < 1) return EV_OK;
            int64_t d = x->dims[ax], b = ev_tensor_get_int(st, i);
            if (b < 0) b += d;
            if (b < 0) b = 0;
            if (b > d) b = d;
            f.sl_start[ax] = b;
            f.sl_step[ax] = stp;
        }
        for (int i = 0; i < x->rank; i++)
            if (y->dims[i] < 1 || f.sl_start[i] + (y->dims[i] - 1) * f.sl_step[i] >= x->dims[i]) return EV_OK;
    } else if (op_is(n, "Gather")) {
        fop_init(&f, FOP_SLICE);
        if (n->n_in != 2 || m->p->state[n->in[1]] != EV_VS_CONST) return EV_OK;
        const ev_tensor *ix = VAL(m, n->in[1]);
        if ((ix->dtype != EV_DT_INT64 && ix->dtype != EV_DT_INT32) || ev_tensor_numel(ix) != 1 || ix->rank > 1)
            return EV_OK;
        int64_t ax = ev_attr_int(n, "axis", 0);
        if (ax < 0) ax += x->rank;
        if (ax < 0 || ax >= x->rank) return EV_OK;
        int64_t idx = ev_tensor_get_int(ix, 0);
        if (idx < 0) idx += x->dims[ax];
        if (idx < 0 || idx >= x->dims[ax]) return EV_OK;
        for (int i = 0; i < x->rank; i++) {
            f.sl_start[i] = 0;
            f.sl_step[i] = 1;
        }
        f.sl_start[ax] = idx;
        if (ix->rank == 0) f.drop_axis = (int)ax;
        if (y->rank != x->rank - (ix->rank == 0)) return EV_OK;
    } else if (op_is(n, "Split")) {
        fop_init(&f, FOP_SPLIT);
        if (n->n_out < 1 || n->n_out > FOP_MAX_IN) return EV_OK;
        for (int k = 1; k < n->n_in; k++)
            if (n->in[k] >= 0 && m->p->state[n->in[k]] != EV_VS_CONST) return EV_OK;
        int64_t ax = ev_attr_int(n, "axis", 0);
        if (ax < 0) ax += x->rank;
        if (ax < 0 || ax >= x->rank) return EV_OK;
        int64_t sum = 0;
        for (int k = 0; k < n->n_out; k++) {
            int v = n->out[k];
            if (v < 0) return EV_OK; /* sizes of omitted outputs are unknown here */
            const ev_tensor *t = VAL(m, v);
            if (t->rank != x->rank || t->dtype != EV_DT_FLOAT) return EV_OK;
            for (int i = 0; i < x->rank; i++)
                if (i != ax && t->dims[i] != x->dims[i]) return EV_OK;
            sum += t->dims[ax];
            f.xout[f.n_xout++] = v;
        }
        if (sum != x->dims[ax]) return EV_OK;
        f.axis = (int)ax;
        f.in[f.n_in++] = n->in[0];
        f.out = f.xout[0];
        fop_add_step(&f, s);
        return commit(m, &f, err);
    } else {
        return EV_OK;
    }
    f.in[f.n_in++] = n->in[0];
    f.out = n->out[0];
    fop_add_step(&f, s);
    return commit(m, &f, err);
}

/* ---- driver --------------------------------------------------------------------------------- */

void ev_fast_fops_free(fop_list *L)
{
    if (!L) return;
    for (int i = 0; i < L->n; i++) {
        free(L->v[i].w_own);
        free(L->v[i].b_own);
    }
    free(L->v);
    free(L->claim);
    memset(L, 0, sizeof *L);
}

typedef ev_status (*matcher)(mctx *m, int s, ev_err *err);

static ev_status run_matcher(mctx *m, matcher fn, ev_err *err)
{
    for (int s = 0; s < m->ns; s++)
        if (step_free(m, s)) EV_TRY(fn(m, s, err));
    return EV_OK;
}

ev_status ev_fast_match(ev_plan *p, const ev_fast_opts *o, fop_list *L, ev_err *err)
{
    memset(L, 0, sizeof *L);
    mctx m;
    memset(&m, 0, sizeof m);
    m.p = p;
    m.g = p->g;
    m.o = o;
    m.ns = p->n_steps;
    m.nv = p->g->n_values;
    m.L = L;
    size_t nv = (size_t)m.nv + 1, ns = (size_t)m.ns + 1;
    m.prod = malloc(nv * sizeof *m.prod);
    m.ncons = calloc(nv, sizeof *m.ncons);
    m.cstart = calloc(nv + 1, sizeof *m.cstart);
    m.is_out = calloc(nv, 1);
    L->claim = malloc(ns * sizeof *L->claim);
    ev_status st = EV_OK;
    int total = 0;
    if (!m.prod || !m.ncons || !m.cstart || !m.is_out || !L->claim) {
        st = ev_err_set(err, EV_ERR_NOMEM, "fast path: out of memory");
        goto out;
    }
    for (int v = 0; v < m.nv; v++) m.prod[v] = -1;
    for (int s = 0; s < m.ns; s++) {
        const ev_plan_step *ps = &p->steps[s];
        L->claim[s] = -1;
        for (int k = 0; k < ps->n_out; k++)
            if (ps->out_v[k] >= 0) m.prod[ps->out_v[k]] = s;
        for (int k = 0; k < ps->n_in; k++)
            if (ps->in_v[k] >= 0) {
                m.ncons[ps->in_v[k]]++;
                total++;
            }
    }
    for (int i = 0; i < m.g->n_outputs; i++) m.is_out[m.g->outputs[i]] = 1;
    m.clist = malloc(((size_t)total + 1) * sizeof *m.clist);
    if (!m.clist) {
        st = ev_err_set(err, EV_ERR_NOMEM, "fast path: out of memory");
        goto out;
    }
    for (int v = 0; v < m.nv; v++) m.cstart[v + 1] = m.cstart[v] + m.ncons[v];
    {
        int *fill = calloc(nv, sizeof *fill);
        if (!fill) {
            st = ev_err_set(err, EV_ERR_NOMEM, "fast path: out of memory");
            goto out;
        }
        for (int s = 0; s < m.ns; s++) {
            const ev_plan_step *ps = &p->steps[s];
            for (int k = 0; k < ps->n_in; k++) {
                int v = ps->in_v[k];
                if (v >= 0) m.clist[m.cstart[v] + fill[v]++] = s;
            }
        }
        free(fill);
    }
    /* Order matters: the most specific patterns first. */
    if (!(o->disable & EV_FAST_NO_LNORM)) {
        if ((st = run_matcher(&m, match_lnorm_op, err)) != EV_OK) goto out;
        if ((st = run_matcher(&m, match_lnorm_pattern, err)) != EV_OK) goto out;
    }
    if ((st = run_matcher(&m, match_conv, err)) != EV_OK) goto out;
    if ((st = run_matcher(&m, match_matmul, err)) != EV_OK) goto out;
    if ((st = run_matcher(&m, match_bmm, err)) != EV_OK) goto out;
    if ((st = run_matcher(&m, match_pool, err)) != EV_OK) goto out;
    if ((st = run_matcher(&m, match_eltwise, err)) != EV_OK) goto out;
    if ((st = run_matcher(&m, match_softmax, err)) != EV_OK) goto out;
    if ((st = run_matcher(&m, match_binary, err)) != EV_OK) goto out;
    if (!(o->disable & EV_FAST_NO_VIEWS))
        if ((st = run_matcher(&m, match_view, err)) != EV_OK) goto out;
out:
    free(m.prod);
    free(m.ncons);
    free(m.cstart);
    free(m.clist);
    free(m.is_out);
    if (st != EV_OK) ev_fast_fops_free(L);
    return st;
}
