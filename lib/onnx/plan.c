/*
 * lib/onnx/plan.c — shape inference, constant folding and memory planning
 * for concrete input shapes (see plan.h), and the graph-level fold of nodes
 * whose inputs are all initializers/Constants (done once at load).
 */
#include "onnx/plan.h"
#include "onnx/weights.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EV_DEFAULT_MAX_TENSOR ((int64_t)2 << 30)
#define EV_DEFAULT_MAX_ARENA ((int64_t)16 << 30)

static void format_shape(const ev_tensor *t, char *buf, size_t len)
{
    size_t o = 0;
    if (!len) return;
    buf[0] = 0;
    if (t->rank < 0) { snprintf(buf, len, "[?]"); return; }
    o += (size_t)snprintf(buf, len, "[");
    for (int i = 0; i < t->rank && i < EV_MAX_RANK && o < len; i++) {
        if (t->dims[i] < 0) o += (size_t)snprintf(buf + o, len - o, "%s?", i ? "," : "");
        else o += (size_t)snprintf(buf + o, len - o, "%s%lld", i ? "," : "", (long long)t->dims[i]);
    }
    if (o < len) snprintf(buf + o, len - o, "]");
}

ev_status ev_check_inputs(const ev_graph *g, const ev_tensor *inputs, int n_inputs, ev_err *err)
{
    if (n_inputs != g->n_inputs)
        return ev_err_set(err, EV_ERR_INVALID_ARG, "the model has %d input%s, %d given", g->n_inputs,
                          g->n_inputs == 1 ? "" : "s", n_inputs);
    if (n_inputs && !inputs) return ev_err_set(err, EV_ERR_INVALID_ARG, "inputs is NULL");
    for (int i = 0; i < n_inputs; i++) {
        const ev_value *v = &g->values[g->inputs[i]];
        const ev_tensor *t = &inputs[i];
        const ev_tensor *d = &v->decl;
        char want[160], got[160];
        if (t->rank < 0 || t->rank > EV_MAX_RANK)
            return ev_err_set(err, EV_ERR_SHAPE, "input '%s': rank %d is out of range", v->name,
                              t->rank);
        if (ev_dtype_size(t->dtype) == 0)
            return ev_err_set(err, EV_ERR_UNSUPPORTED, "input '%s': element type %s is not supported",
                              v->name, ev_dtype_name(t->dtype));
        for (int k = 0; k < t->rank; k++)
            if (t->dims[k] < 0)
                return ev_err_set(err, EV_ERR_SHAPE, "input '%s': negative dimension", v->name);
        bool bad = (d->dtype != EV_DT_UNDEFINED && d->dtype != t->dtype) ||
                   (d->rank >= 0 && d->rank != t->rank);
        for (int k = 0; !bad && d->rank >= 0 && k < d->rank; k++)
            if (d->dims[k] >= 0 && d->dims[k] != t->dims[k]) bad = true;
        if (bad) {
            format_shape(d, want, sizeof want);
            format_shape(t, got, sizeof got);
            return ev_err_set(err, EV_ERR_SHAPE, "input '%s': expected %s %s, got %s %s", v->name,
                              d->dtype ? ev_dtype_name(d->dtype) : "any", want,
                              ev_dtype_name(t->dtype), got);
        }
    }
    return EV_OK;
}

ev_status ev_step_ref_run(const ev_plan_step *s, ev_exec_ctx *x)
{
    return s->node->op->run(s->node, s->in, s->out, x);
}

/* Validate a freshly inferred output. */
static ev_status check_output(const ev_node *n, const ev_tensor *t, int64_t max_bytes, int k,
                              int64_t *bytes, ev_err *err)
{
    char lb[200];
    if (t->rank < 0 || t->rank > EV_MAX_RANK || ev_dtype_size(t->dtype) == 0)
        return ev_err_set(err, EV_ERR_INTERNAL,
                          "node '%s' (%s): shape inference gave no valid type/rank for output %d",
                          ev_node_label(n, lb, sizeof lb), n->op_type, k);
    int64_t numel = ev_tensor_numel(t), b;
    if (numel < 0 || !ev_mul_i64(numel, (int64_t)ev_dtype_size(t->dtype), &b) || b > max_bytes) {
        char shp[160];
        format_shape(t, shp, sizeof shp);
        return ev_err_set(err, EV_ERR_LIMIT,
                          "node '%s' (%s): output %d %s %s exceeds the per-tensor limit of %lld bytes",
                          ev_node_label(n, lb, sizeof lb), n->op_type, k, ev_dtype_name(t->dtype),
                          shp, (long long)max_bytes);
    }
    *bytes = b;
    return EV_OK;
}

/* Shape + run one node whose data is available now; outputs allocated from
 * `mem`. in[]/out[] are pointer arrays of n->n_in / n->n_out entries. */
static ev_status fold_node(const ev_node *n, const ev_tensor *const *in, ev_tensor *const *out,
                           ev_arena *mem, int64_t max_bytes, ev_err *err)
{
    char lb[200];
    for (int k = 0; k < n->n_out; k++)
        if (out[k]) {
            int64_t bytes;
            EV_TRY(check_output(n, out[k], max_bytes, k, &bytes, err));
            out[k]->data = ev_arena_alloc(mem, bytes ? (size_t)bytes : 1);
            if (!out[k]->data)
                return ev_err_set(err, EV_ERR_NOMEM, "node '%s' (%s): out of memory folding a constant",
                                  ev_node_label(n, lb, sizeof lb), n->op_type);
        }
    ev_exec_ctx x = {1, err};
    ev_status st = n->op->run(n, in, out, &x);
    if (st != EV_OK && err && !strstr(err->msg, ev_node_label(n, lb, sizeof lb)))
        ev_err_prefix(err, "node '%s' (%s)", lb, n->op_type);
    return st;
}

ev_status ev_graph_fold_constants(ev_graph *g, ev_err *err)
{
    int64_t maxb = g->max_tensor_bytes > 0 ? g->max_tensor_bytes : EV_DEFAULT_MAX_TENSOR;
    const ev_tensor *inp[64];
    ev_tensor *outp[64];
    ev_tensor tmp[64];
    int kept = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        ev_node *n = &g->nodes[i];
        bool foldable = n->op && n->op->run && n->op->infer && n->n_in <= 64 && n->n_out <= 64 &&
                        n->n_out > 0;
        for (int k = 0; foldable && k < n->n_in; k++)
            if (n->in[k] >= 0 && g->values[n->in[k]].kind != EV_VAL_CONST) foldable = false;
        /* outputs that are graph outputs stay computed by the plan */
        for (int k = 0; foldable && k < n->n_out; k++)
            if (n->out[k] >= 0 && g->values[n->out[k]].is_output) foldable = false;
        if (foldable) {
            for (int k = 0; k < n->n_in; k++) inp[k] = n->in[k] >= 0 ? &g->values[n->in[k]].decl : NULL;
            for (int k = 0; k < n->n_out; k++) {
                memset(&tmp[k], 0, sizeof tmp[k]);
                outp[k] = n->out[k] >= 0 ? &tmp[k] : NULL;
            }
            ev_status st = n->op->infer(n, inp, outp, err);
            if (st == EV_ERR_UNSUPPORTED) {
                /* e.g. a dtype the kernel refuses: leave the node to the
                 * plan, which reports it (inspect can still describe the
                 * model) */
                ev_err_clear(err);
                foldable = false;
            } else if (st != EV_OK) {
                return st;
            }
        }
        if (foldable) {
            EV_TRY(fold_node(n, inp, outp, &g->arena, maxb, err));
            for (int k = 0; k < n->n_out; k++)
                if (n->out[k] >= 0) {
                    ev_value *v = &g->values[n->out[k]];
                    v->kind = EV_VAL_CONST;
                    v->decl = tmp[k];
                    v->producer = -1;
                }
            g->n_folded++;
            continue;
        }
        if (kept != i) g->nodes[kept] = *n;
        g->nodes[kept].index = kept;
        for (int k = 0; k < g->nodes[kept].n_out; k++)
            if (g->nodes[kept].out[k] >= 0) g->values[g->nodes[kept].out[k]].producer = kept;
        kept++;
    }
    g->n_nodes = kept;
    for (int v = 0; v < g->n_values; v++) g->values[v].n_consumers = 0;
    for (int i = 0; i < g->n_nodes; i++)
        for (int k = 0; k < g->nodes[i].n_in; k++)
            if (g->nodes[i].in[k] >= 0) g->values[g->nodes[i].in[k]].n_consumers++;
    return EV_OK;
}

/* ---- memory planning ------------------------------------------------------ */
typedef struct mem_item {
    int64_t size;                /* rounded to EV_ALIGN */
    int def, last;               /* step interval, inclusive */
    int64_t offset;
    int64_t *dst;                /* where to store the offset */
} mem_item;

static int cmp_item_size(const void *a, const void *b)
{
    const mem_item *x = a, *y = b;
    if (x->size != y->size) return x->size > y->size ? -1 : 1;
    if (x->def != y->def) return x->def < y->def ? -1 : 1;
    return 0;
}

typedef struct span {
    int64_t lo, hi;
} span;

static int cmp_span(const void *a, const void *b)
{
    const span *x = a, *y = b;
    return x->lo < y->lo ? -1 : x->lo > y->lo;
}

/* Greedy by size: largest first, each at the lowest offset that does not
 * overlap (in address) any already placed item live at the same time. */
static ev_status assign_offsets(mem_item *it, int n, int64_t *total, ev_err *err)
{
    qsort(it, (size_t)n, sizeof *it, cmp_item_size);
    span *sp = malloc(((size_t)n + 1) * sizeof *sp);
    if (!sp) return ev_err_set(err, EV_ERR_NOMEM, "out of memory planning the arena");
    int64_t top = 0;
    for (int i = 0; i < n; i++) {
        int ns = 0;
        for (int j = 0; j < i; j++)
            if (it[j].size > 0 && it[j].def <= it[i].last && it[i].def <= it[j].last)
                sp[ns++] = (span){it[j].offset, it[j].offset + it[j].size};
        qsort(sp, (size_t)ns, sizeof *sp, cmp_span);
        int64_t cur = 0;
        for (int k = 0; k < ns; k++) {
            if (sp[k].lo - cur >= it[i].size) break;
            if (sp[k].hi > cur) cur = sp[k].hi;
        }
        it[i].offset = cur;
        *it[i].dst = cur;
        if (cur + it[i].size > top) top = cur + it[i].size;
    }
    free(sp);
    *total = top;
    return EV_OK;
}

static int64_t round_up(int64_t x)
{
    return (x + EV_ALIGN - 1) / EV_ALIGN * EV_ALIGN;
}

static ev_status plan_memory(ev_plan *p, int64_t max_arena, ev_err *err)
{
    const ev_graph *g = p->g;
    int nv = g->n_values, ns = p->n_steps;
    int *def = malloc(((size_t)nv + 1) * sizeof *def);
    int *last = malloc(((size_t)nv + 1) * sizeof *last);
    mem_item *items = malloc(((size_t)nv + (size_t)ns + 1) * sizeof *items);
    ev_status rc = EV_OK;
    if (!def || !last || !items) { rc = ev_err_set(err, EV_ERR_NOMEM, "out of memory"); goto out; }
    for (int v = 0; v < nv; v++) { def[v] = -1; last[v] = -1; p->offset[v] = -1; }
    for (int s = 0; s < ns; s++) {
        const ev_plan_step *st = &p->steps[s];
        for (int k = 0; k < st->n_in; k++) {
            int v = st->in_v[k];
            if (v >= 0 && p->state[v] == EV_VS_RUNTIME && s > last[v]) last[v] = s;
        }
        for (int k = 0; k < st->n_out; k++) {
            int v = st->out_v[k];
            if (v < 0) continue;
            if (p->state[v] != EV_VS_RUNTIME || def[v] >= 0) {
                rc = ev_err_set(err, EV_ERR_INTERNAL, "plan: value '%s' is produced twice",
                                g->values[v].name);
                goto out;
            }
            def[v] = s;
            if (s > last[v]) last[v] = s;
        }
    }
    for (int i = 0; i < g->n_outputs; i++) {
        int v = g->outputs[i];
        if (p->state[v] == EV_VS_RUNTIME) last[v] = ns;
    }
    int n = 0;
    for (int v = 0; v < nv; v++) {
        if (p->state[v] != EV_VS_RUNTIME || last[v] < 0) continue;
        if (def[v] < 0) {
            rc = ev_err_set(err, EV_ERR_INTERNAL, "plan: value '%s' is used but never produced",
                            g->values[v].name);
            goto out;
        }
        int64_t b = ev_tensor_numel(&p->vals[v]) * (int64_t)ev_dtype_size(p->vals[v].dtype);
        items[n++] = (mem_item){round_up(b), def[v], last[v], 0, &p->offset[v]};
    }
    for (int s = 0; s < ns; s++) {
        ev_plan_step *st = &p->steps[s];
        st->scratch_offset = -1;
        if (st->scratch_bytes > 0) {
            if (st->scratch_bytes > max_arena) {
                rc = ev_err_set(err, EV_ERR_LIMIT, "plan: step scratch of %lld bytes is too large",
                                (long long)st->scratch_bytes);
                goto out;
            }
            items[n++] = (mem_item){round_up(st->scratch_bytes), s, s, 0, &st->scratch_offset};
        }
    }
    rc = assign_offsets(items, n, &p->arena_bytes, err);
    if (rc == EV_OK && p->arena_bytes > max_arena)
        rc = ev_err_set(err, EV_ERR_LIMIT,
                        "the activations need %lld bytes, over the limit of %lld",
                        (long long)p->arena_bytes, (long long)max_arena);
out:
    free(def);
    free(last);
    free(items);
    return rc;
}

/* ---- plan construction ------------------------------------------------------ */
bool ev_plan_matches(const ev_plan *p, const ev_tensor *inputs, int n_inputs)
{
    if (!p || n_inputs != p->n_inputs) return false;
    for (int i = 0; i < n_inputs; i++) {
        const ev_tensor *a = &p->key[i], *b = &inputs[i];
        if (a->dtype != b->dtype || a->rank != b->rank) return false;
        for (int k = 0; k < a->rank; k++)
            if (a->dims[k] != b->dims[k]) return false;
        if (p->key_const[i]) {
            size_t bytes = (size_t)ev_tensor_numel(a) * ev_dtype_size(a->dtype);
            if (bytes && (!b->data || memcmp(a->data, b->data, bytes))) return false;
        }
    }
    return true;
}

void ev_plan_free(ev_plan *p)
{
    if (!p) return;
    for (int s = 0; s < p->n_steps; s++)
        if (p->steps[s].ctx_free) p->steps[s].ctx_free(p->steps[s].ctx);
    ev_arena_free(&p->mem);
    free(p);
}

static ev_status bind_step_pointers(ev_plan *p, ev_err *err)
{
    for (int s = 0; s < p->n_steps; s++) {
        ev_plan_step *st = &p->steps[s];
        st->in = ev_arena_array(&p->mem, (size_t)st->n_in + 1, sizeof *st->in);
        st->out = ev_arena_array(&p->mem, (size_t)st->n_out + 1, sizeof *st->out);
        if (!st->in || !st->out) return ev_err_set(err, EV_ERR_NOMEM, "out of memory");
        for (int k = 0; k < st->n_in; k++) st->in[k] = st->in_v[k] >= 0 ? &p->vals[st->in_v[k]] : NULL;
        for (int k = 0; k < st->n_out; k++)
            st->out[k] = st->out_v[k] >= 0 ? &p->vals[st->out_v[k]] : NULL;
    }
    return EV_OK;
}

static ev_status build(ev_plan *p, const ev_graph *g, const ev_tensor *inputs, int n_inputs,
                       const ev_plan_opts *o, ev_err *err)
{
    int64_t maxb = o && o->max_tensor_bytes > 0 ? o->max_tensor_bytes : EV_DEFAULT_MAX_TENSOR;
    int64_t maxa = o && o->max_arena_bytes > 0 ? o->max_arena_bytes : EV_DEFAULT_MAX_ARENA;
    ev_arena *M = &p->mem;
    int nv = g->n_values;
    char lb[200];
    EV_TRY(ev_check_inputs(g, inputs, n_inputs, err));
    /* another plan's pass may have evicted weights it had reordered
     * (onnx/weights.h): this plan folds, matches and reorders from them */
    EV_TRY(ev_graph_const_restore_all(g, err));
    p->g = g;
    p->n_inputs = n_inputs;
    p->key = ev_arena_array(M, (size_t)n_inputs + 1, sizeof *p->key);
    p->key_const = ev_arena_array(M, (size_t)n_inputs + 1, 1);
    p->vals = ev_arena_array(M, (size_t)nv + 1, sizeof *p->vals);
    p->state = ev_arena_array(M, (size_t)nv + 1, 1);
    p->offset = ev_arena_array(M, (size_t)nv + 1, sizeof *p->offset);
    p->steps = ev_arena_array(M, (size_t)g->n_nodes + 1, sizeof *p->steps);
    if (!p->key || !p->key_const || !p->vals || !p->state || !p->offset || !p->steps)
        return ev_err_set(err, EV_ERR_NOMEM, "out of memory");
    for (int v = 0; v < nv; v++) {
        p->vals[v].rank = -1;
        if (g->values[v].kind == EV_VAL_CONST) {
            p->vals[v] = g->values[v].decl;
            p->state[v] = EV_VS_CONST;
        }
    }
    int64_t cmax = o ? o->const_inputs_max : 0;
    for (int i = 0; i < n_inputs; i++) {
        p->key[i] = inputs[i];
        p->key[i].data = NULL;
        int64_t numel = ev_tensor_numel(&inputs[i]);
        if (cmax > 0 && inputs[i].data && numel <= cmax) {
            size_t bytes = (size_t)numel * ev_dtype_size(inputs[i].dtype);
            p->key[i].data = ev_arena_alloc(M, bytes ? bytes : 1);
            if (!p->key[i].data) return ev_err_set(err, EV_ERR_NOMEM, "out of memory");
            if (bytes) memcpy(p->key[i].data, inputs[i].data, bytes);
            p->key_const[i] = 1;
            p->vals[g->inputs[i]] = p->key[i];
            p->state[g->inputs[i]] = EV_VS_CONST;
            continue;
        }
        p->vals[g->inputs[i]] = p->key[i];
        p->state[g->inputs[i]] = EV_VS_INPUT;
    }
    for (int i = 0; i < g->n_nodes; i++) {
        const ev_node *n = &g->nodes[i];
        if (!n->op)
            return ev_err_set(err, EV_ERR_UNSUPPORTED, "unsupported op '%s' (node '%s', opset %lld)",
                              n->op_type, ev_node_label(n, lb, sizeof lb), (long long)n->opset);
        if (!n->op->infer || !n->op->run)
            return ev_err_set(err, EV_ERR_INTERNAL, "op '%s' has no infer/run function", n->op_type);
        const ev_tensor **in = ev_arena_array(M, (size_t)n->n_in + 1, sizeof *in);
        ev_tensor **out = ev_arena_array(M, (size_t)n->n_out + 1, sizeof *out);
        if (!in || !out) return ev_err_set(err, EV_ERR_NOMEM, "out of memory");
        bool all_const = true;
        for (int k = 0; k < n->n_in; k++) {
            int v = n->in[k];
            if (v < 0) { in[k] = NULL; continue; }
            if (p->state[v] == EV_VS_NONE)
                return ev_err_set(err, EV_ERR_INTERNAL, "node '%s' (%s): input '%s' has no value",
                                  ev_node_label(n, lb, sizeof lb), n->op_type, g->values[v].name);
            if (p->state[v] != EV_VS_CONST) all_const = false;
            in[k] = &p->vals[v];
        }
        for (int k = 0; k < n->n_out; k++) {
            int v = n->out[k];
            if (v < 0) { out[k] = NULL; continue; }
            memset(&p->vals[v], 0, sizeof p->vals[v]);
            out[k] = &p->vals[v];
        }
        ev_status st = n->op->infer(n, in, out, err);
        if (st != EV_OK) {
            if (err && !strstr(err->msg, ev_node_label(n, lb, sizeof lb)))
                ev_err_prefix(err, "node '%s' (%s)", lb, n->op_type);
            return st;
        }
        int64_t bytes;
        for (int k = 0; k < n->n_out; k++)
            if (out[k]) EV_TRY(check_output(n, out[k], maxb, k, &bytes, err));
        if (all_const || (n->op->flags & EV_OP_SHAPE_ONLY)) {
            EV_TRY(fold_node(n, in, out, M, maxb, err));
            for (int k = 0; k < n->n_out; k++)
                if (n->out[k] >= 0) p->state[n->out[k]] = EV_VS_CONST;
            p->n_folded++;
            continue;
        }
        for (int k = 0; k < n->n_out; k++)
            if (n->out[k] >= 0) p->state[n->out[k]] = EV_VS_RUNTIME;
        if (n->op->macs) {
            int64_t m = n->op->macs(n, in, (const ev_tensor *const *)out);
            if (m > 0 && !ev_add_i64(p->macs, m, &p->macs)) p->macs = INT64_MAX;
        }
        ev_plan_step *s = &p->steps[p->n_steps++];
        s->node = n;
        s->fn = ev_step_ref_run;
        s->n_in = n->n_in;
        s->n_out = n->n_out;
        s->in_v = n->in;
        s->out_v = n->out;
    }
    for (int i = 0; i < g->n_outputs; i++)
        if (p->state[g->outputs[i]] == EV_VS_NONE)
            return ev_err_set(err, EV_ERR_INTERNAL, "graph output '%s' is not computed",
                              g->values[g->outputs[i]].name);
    if (o && o->pass) EV_TRY(o->pass(p, o->pass_user, err));
    /* constants read by reference kernels at run time stay resident */
    for (int i = 0; i < p->n_steps; i++) {
        const ev_plan_step *st = &p->steps[i];
        if (st->fn != ev_step_ref_run) continue;
        for (int k = 0; k < st->n_in; k++)
            if (st->in_v[k] >= 0 && p->state[st->in_v[k]] == EV_VS_CONST)
                EV_TRY(ev_graph_const_need(g, p->vals[st->in_v[k]].data, err));
    }
    EV_TRY(plan_memory(p, maxa, err));
    return bind_step_pointers(p, err);
}

ev_status ev_plan_build(const ev_graph *g, const ev_tensor *inputs, int n_inputs,
                        const ev_plan_opts *o, ev_plan **out, ev_err *err)
{
    if (!g || !out) return ev_err_set(err, EV_ERR_INVALID_ARG, "ev_plan_build: NULL argument");
    *out = NULL;
    ev_plan *p = calloc(1, sizeof *p);
    if (!p) return ev_err_set(err, EV_ERR_NOMEM, "out of memory");
    ev_arena_init(&p->mem, 0);
    ev_status st = build(p, g, inputs, n_inputs, o, err);
    if (st != EV_OK) {
        ev_plan_free(p);
        return st;
    }
    *out = p;
    return EV_OK;
}
