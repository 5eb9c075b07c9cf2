/*
 * lib/onnx/model.c — the public engine API (include/embeval/model.h):
 * a loaded graph plus a small LRU cache of plans keyed by input shapes and
 * one activation arena shared by the plans (grown to the largest).
 */
#include "embeval/model.h"

#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fast/fast.h"
#include "onnx/ir.h"
#include "onnx/plan.h"

#define EV_PLAN_CACHE 4

/* Debug log of the resident set after a load stage (where the peak comes from). */
static void log_rss(const char *stage)
{
    if (!ev_log_enabled()) return;
    int64_t kib = ev_mem_rss_kib();
    ev_log(EV_LOG_DEBUG, "memory: %s: VmRSS %.1f MiB (peak %.1f)", stage, (double)kib / 1024.0,
           (double)ev_mem_peak_kib() / 1024.0);
}

struct ev_model {
    ev_model_options opt;
    ev_err err;
    char *path;
    ev_graph *g;
    ev_plan *plans[EV_PLAN_CACHE];
    uint64_t tick;
    ev_plan *last;               /* plan of the last successful run          */
    int const_inputs;            /* plans key on small inputs' values         */
    void *arena;
    int64_t arena_cap;
    ev_op_count *op_counts;
    /* outputs that are graph inputs are copied here after a run */
    void **out_copy;
};

ev_model_options ev_model_default_options(void)
{
    ev_model_options o;
    memset(&o, 0, sizeof o);
    o.precision = EV_PRECISION_FP32;
    return o;
}

ev_model *ev_model_new(const ev_model_options *opt)
{
    ev_model *m = calloc(1, sizeof *m);
    if (!m) return NULL;
    m->opt = opt ? *opt : ev_model_default_options();
    return m;
}

static void model_reset(ev_model *m)
{
    for (int i = 0; i < EV_PLAN_CACHE; i++) {
        ev_plan_free(m->plans[i]);
        m->plans[i] = NULL;
    }
    m->last = NULL;
    if (m->g && m->out_copy)
        for (int i = 0; i < m->g->n_outputs; i++) free(m->out_copy[i]);
    free(m->out_copy);
    m->out_copy = NULL;
    ev_graph_free(m->g);
    m->g = NULL;
    ev_free_aligned(m->arena);
    m->arena = NULL;
    m->arena_cap = 0;
    free(m->op_counts);
    m->op_counts = NULL;
    free(m->path);
    m->path = NULL;
}

void ev_model_free(ev_model *m)
{
    if (!m) return;
    model_reset(m);
    free(m);
}

const char *ev_model_errmsg(const ev_model *m)
{
    return m ? m->err.msg : "no model handle";
}

static ev_status fail(ev_model *m, ev_status st, const char *msg)
{
    return ev_err_set(&m->err, st, "%s", msg);
}

ev_status ev_model_load(ev_model *m, const char *path)
{
    if (!m) return EV_ERR_INVALID_ARG;
    ev_err_clear(&m->err);
    if (!path) return fail(m, EV_ERR_INVALID_ARG, "ev_model_load: path is NULL");
    model_reset(m);
    ev_load_opts lo = {m->opt.max_file_bytes, m->opt.max_tensor_bytes, m->opt.max_nodes,
                       m->opt.allow_unsupported};
    ev_graph *g = NULL;
    EV_TRY(ev_graph_load(path, &lo, &g, &m->err));
    log_rss("graph loaded");
    ev_status st = ev_graph_fold_constants(g, &m->err);
    log_rss("constants folded");
    if (st != EV_OK) {
        char msg[EV_ERRLEN];
        snprintf(msg, sizeof msg, "%s", m->err.msg);
        ev_err_set(&m->err, st, "%s (%s)", msg, path);
        ev_graph_free(g);
        return st;
    }
    m->g = g;
    m->path = ev_strdup(path);
    m->op_counts = calloc((size_t)g->n_op_counts + 1, sizeof *m->op_counts);
    m->out_copy = calloc((size_t)g->n_outputs + 1, sizeof *m->out_copy);
    if (!m->path || !m->op_counts || !m->out_copy) {
        model_reset(m);
        return fail(m, EV_ERR_NOMEM, "out of memory");
    }
    for (int i = 0; i < g->n_op_counts; i++) {
        const ev_op_hist *h = &g->op_counts[i];
        const char *name = h->op_type;
        if (h->domain && h->domain[0]) {
            size_t len = strlen(h->domain) + strlen(h->op_type) + 2;
            char *s = ev_arena_alloc(&g->arena, len);
            if (s) {
                snprintf(s, len, "%s.%s", h->domain, h->op_type);
                name = s;
            }
        }
        m->op_counts[i] = (ev_op_count){name, h->count, h->supported};
    }
    return EV_OK;
}

static ev_status need_model(ev_model *m)
{
    if (!m) return EV_ERR_INVALID_ARG;
    ev_err_clear(&m->err);
    if (!m->g) return fail(m, EV_ERR_INVALID_ARG, "no model loaded");
    return EV_OK;
}

ev_status ev_model_get_info(ev_model *m, ev_model_info *out)
{
    EV_TRY(need_model(m));
    if (!out) return fail(m, EV_ERR_INVALID_ARG, "ev_model_get_info: out is NULL");
    const ev_graph *g = m->g;
    memset(out, 0, sizeof *out);
    out->producer = g->producer ? g->producer : "";
    out->ir_version = g->ir_version;
    out->opset = g->opset;
    out->file_bytes = g->file_bytes;
    out->params = g->params;
    out->n_nodes = g->n_file_nodes;
    out->n_ops = g->n_op_counts;
    out->op_counts = m->op_counts;
    out->n_unsupported = g->n_unsupported;
    return EV_OK;
}

int ev_model_num_inputs(const ev_model *m) { return m && m->g ? m->g->n_inputs : 0; }
int ev_model_num_outputs(const ev_model *m) { return m && m->g ? m->g->n_outputs : 0; }

static void value_info(const ev_value *v, ev_value_info *out)
{
    memset(out, 0, sizeof *out);
    out->name = v->name;
    out->dtype = v->decl.dtype;
    out->rank = v->decl.rank;
    for (int k = 0; k < EV_MAX_RANK; k++) out->dims[k] = -1;
    for (int k = 0; k < v->decl.rank && k < EV_MAX_RANK; k++) out->dims[k] = v->decl.dims[k];
}

ev_status ev_model_input_info(const ev_model *m, int i, ev_value_info *out)
{
    if (!m || !m->g || !out || i < 0 || i >= m->g->n_inputs) return EV_ERR_INVALID_ARG;
    value_info(&m->g->values[m->g->inputs[i]], out);
    return EV_OK;
}

ev_status ev_model_output_info(const ev_model *m, int i, ev_value_info *out)
{
    if (!m || !m->g || !out || i < 0 || i >= m->g->n_outputs) return EV_ERR_INVALID_ARG;
    value_info(&m->g->values[m->g->outputs[i]], out);
    return EV_OK;
}

#define EV_CONST_INPUT_MAX 64

static bool has_small_inputs(const ev_tensor *inputs, int n)
{
    for (int i = 0; i < n; i++)
        if (inputs[i].data && ev_tensor_numel(&inputs[i]) >= 0 &&
            ev_tensor_numel(&inputs[i]) <= EV_CONST_INPUT_MAX)
            return true;
    return false;
}

/* Find or build the plan for these input shapes. */
static ev_status get_plan(ev_model *m, const ev_tensor *inputs, int n_inputs, ev_plan **out)
{
    *out = NULL;
    for (int i = 0; i < EV_PLAN_CACHE; i++)
        if (m->plans[i] && ev_plan_matches(m->plans[i], inputs, n_inputs)) {
            m->plans[i]->last_used = ++m->tick;
            *out = m->plans[i];
            return EV_OK;
        }
    ev_plan_opts po;
    memset(&po, 0, sizeof po);
    po.max_tensor_bytes = m->opt.max_tensor_bytes;
    /* oneDNN fast path (lib/fast): fuses and replaces steps of the plan */
    ev_fast_opts fo = {m->opt.threads, m->opt.precision == EV_PRECISION_BF16, 0};
    if (!m->opt.reference_only) {
        po.pass = ev_fast_pass;
        po.pass_user = &fo;
    }
    po.const_inputs_max = m->const_inputs ? EV_CONST_INPUT_MAX : 0;
    ev_plan *p = NULL;
    ev_status st = ev_plan_build(m->g, inputs, n_inputs, &po, &p, &m->err);
    if (st == EV_ERR_UNSUPPORTED && !m->const_inputs && has_small_inputs(inputs, n_inputs)) {
        /* e.g. Reshape's shape fed as a graph input: retry with small inputs'
         * values as constants; keep the first message if that fails too */
        ev_err first = m->err;
        po.const_inputs_max = EV_CONST_INPUT_MAX;
        st = ev_plan_build(m->g, inputs, n_inputs, &po, &p, &m->err);
        if (st == EV_OK) m->const_inputs = 1;
        else {
            m->err = first;
            st = first.code;
        }
    }
    if (st != EV_OK) return st;
    log_rss("plan built");
    int slot = -1;
    for (int i = 0; i < EV_PLAN_CACHE && slot < 0; i++)
        if (!m->plans[i]) slot = i;
    if (slot < 0) { /* evict the least recently used plan (never the last run's) */
        for (int i = 0; i < EV_PLAN_CACHE; i++)
            if (m->plans[i] != m->last &&
                (slot < 0 || m->plans[i]->last_used < m->plans[slot]->last_used))
                slot = i;
        ev_plan_free(m->plans[slot]);
    }
    p->last_used = ++m->tick;
    m->plans[slot] = p;
    *out = p;
    return EV_OK;
}

ev_status ev_model_plan_stats(ev_model *m, const ev_tensor *inputs, int n_inputs,
                              ev_plan_stats *stats, ev_value_info *out_info)
{
    EV_TRY(need_model(m));
    ev_plan *p;
    EV_TRY(get_plan(m, inputs, n_inputs, &p));
    if (stats) {
        stats->macs = p->macs;
        stats->arena_bytes = p->arena_bytes;
        stats->n_exec_nodes = p->n_steps;
        stats->n_folded_nodes = p->n_folded + m->g->n_folded;
    }
    if (out_info)
        for (int i = 0; i < m->g->n_outputs; i++) {
            int v = m->g->outputs[i];
            const ev_tensor *t = &p->vals[v];
            memset(&out_info[i], 0, sizeof out_info[i]);
            out_info[i].name = m->g->values[v].name;
            out_info[i].dtype = t->dtype;
            out_info[i].rank = t->rank;
            for (int k = 0; k < EV_MAX_RANK; k++) out_info[i].dims[k] = k < t->rank ? t->dims[k] : -1;
        }
    return EV_OK;
}

ev_status ev_model_run(ev_model *m, const ev_tensor *inputs, int n_inputs)
{
    EV_TRY(need_model(m));
    m->last = NULL;
    ev_plan *p;
    EV_TRY(get_plan(m, inputs, n_inputs, &p));
    if (p->arena_bytes > m->arena_cap) {
        ev_free_aligned(m->arena);
        m->arena = ev_malloc_aligned((size_t)p->arena_bytes);
        m->arena_cap = m->arena ? p->arena_bytes : 0;
        if (!m->arena)
            return ev_err_set(&m->err, EV_ERR_NOMEM, "out of memory for activations (%lld bytes)",
                              (long long)p->arena_bytes);
    }
    ev_exec_ctx x;
    x.threads = m->opt.threads > 0 ? m->opt.threads : omp_get_max_threads();
    x.err = &m->err;
    EV_TRY(ev_plan_execute(p, m->arena, inputs, n_inputs, &x));
    /* outputs that are graph inputs: copy, the caller's buffer may go away */
    const ev_graph *g = m->g;
    for (int i = 0; i < g->n_outputs; i++) {
        int v = g->outputs[i];
        if (p->state[v] != EV_VS_INPUT) continue;
        size_t bytes = (size_t)ev_tensor_numel(&p->vals[v]) * ev_dtype_size(p->vals[v].dtype);
        free(m->out_copy[i]);
        m->out_copy[i] = malloc(bytes ? bytes : 1);
        if (!m->out_copy[i]) return fail(m, EV_ERR_NOMEM, "out of memory");
        if (bytes) memcpy(m->out_copy[i], p->vals[v].data, bytes);
    }
    m->last = p;
    return EV_OK;
}

ev_status ev_model_output(ev_model *m, int i, ev_tensor *out)
{
    EV_TRY(need_model(m));
    if (!out || i < 0 || i >= m->g->n_outputs)
        return fail(m, EV_ERR_INVALID_ARG, "ev_model_output: bad output index");
    if (!m->last) return fail(m, EV_ERR_INVALID_ARG, "ev_model_output: no successful run");
    int v = m->g->outputs[i];
    *out = m->last->vals[v];
    if (m->last->state[v] == EV_VS_INPUT) out->data = m->out_copy[i];
    return EV_OK;
}
