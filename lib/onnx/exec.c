/* lib/onnx/exec.c — run a plan: bind inputs and arena, execute the steps. */
#include "onnx/plan.h"

#include <stdio.h>
#include <string.h>

ev_status ev_plan_execute(ev_plan *p, void *arena, const ev_tensor *inputs, int n_inputs,
                          ev_exec_ctx *x)
{
    const ev_graph *g = p->g;
    if (n_inputs != p->n_inputs)
        return ev_err_set(x->err, EV_ERR_INVALID_ARG, "the model has %d inputs, %d given",
                          p->n_inputs, n_inputs);
    if (p->arena_bytes > 0 && !arena)
        return ev_err_set(x->err, EV_ERR_INVALID_ARG, "no activation arena");
    for (int i = 0; i < n_inputs; i++) {
        if (!inputs[i].data && ev_tensor_numel(&inputs[i]) > 0)
            return ev_err_set(x->err, EV_ERR_INVALID_ARG, "input '%s' has no data",
                              g->values[g->inputs[i]].name);
        if (!p->key_const[i]) p->vals[g->inputs[i]].data = inputs[i].data;
    }
    for (int v = 0; v < g->n_values; v++)
        if (p->state[v] == EV_VS_RUNTIME)
            p->vals[v].data = p->offset[v] >= 0 ? (char *)arena + p->offset[v] : NULL;
    for (int s = 0; s < p->n_steps; s++) {
        ev_plan_step *st = &p->steps[s];
        st->scratch = st->scratch_offset >= 0 ? (char *)arena + st->scratch_offset : NULL;
    }
    for (int s = 0; s < p->n_steps; s++) {
        const ev_plan_step *st = &p->steps[s];
        ev_status rc = st->fn(st, x);
        if (rc != EV_OK) {
            char lb[200];
            const ev_node *n = st->node;
            ev_node_label(n, lb, sizeof lb);
            if (x->err && !x->err->msg[0])
                ev_err_set(x->err, rc, "kernel failed: %s", ev_strerror(rc));
            if (x->err && n && !strstr(x->err->msg, lb))
                ev_err_prefix(x->err, "node '%s' (%s)", lb, n->op_type);
            return rc;
        }
    }
    return EV_OK;
}
