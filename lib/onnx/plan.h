/*
 * lib/onnx/plan.h — execution plans (internal).
 *
 * A plan binds a graph to concrete input shapes:
 *
 *   1. op->infer() in topological order gives every value a dtype and shape;
 *   2. nodes whose inputs are all known constants, or whose op is
 *      EV_OP_SHAPE_ONLY, are run at plan time (constant folding; the results
 *      live in the plan's arena);
 *   3. every other node becomes a *step*: a function pointer + context over
 *      value indices. By default fn = ev_step_ref_run (the node's reference
 *      kernel). A pass (ev_plan_pass_fn, e.g. the oneDNN fast path) may then
 *      replace a step's fn/ctx, or replace a run of steps by one fused step
 *      whose in_v/out_v are the group's external inputs/outputs (values only
 *      used inside the group then get no memory);
 *   4. liveness-based memory planning over the final steps: each runtime
 *      activation (and each step's scratch) gets an offset in one 64-byte
 *      aligned arena (greedy by size; a value is live from its producing step
 *      to its last consuming step; graph outputs to the end).
 *
 * At run time (exec.c) activation data pointers are set to arena + offset and
 * the steps are executed in order.
 */
#ifndef EV_PLAN_H
#define EV_PLAN_H

#include "onnx/ir.h"

struct ev_plan;
struct ev_plan_step;

/* A step's function: read s->in, write s->out (all shaped and with data). */
typedef ev_status (*ev_step_fn)(const struct ev_plan_step *s, ev_exec_ctx *x);

typedef struct ev_plan_step {
    const ev_node *node;          /* node for messages (first node of a group) */
    ev_step_fn fn;
    void *ctx;                    /* fn's private state                        */
    void (*ctx_free)(void *ctx);  /* called when the plan is freed (may be NULL) */
    int n_in, n_out;
    int *in_v, *out_v;            /* value indices, -1 = omitted               */
    const ev_tensor **in;         /* &plan->vals[in_v[i]] or NULL              */
    ev_tensor **out;              /* &plan->vals[out_v[i]] or NULL             */
    int64_t scratch_bytes;        /* per-step scratch requested by fn          */
    void *scratch;                /* set at run time (arena), NULL if none     */
    int64_t scratch_offset;
} ev_plan_step;

typedef enum ev_val_state {
    EV_VS_NONE = 0,               /* not computed by this plan                 */
    EV_VS_CONST = 1,              /* data known at plan time                   */
    EV_VS_INPUT = 2,              /* graph input, data set per run             */
    EV_VS_RUNTIME = 3             /* produced by a step, data in the arena     */
} ev_val_state;

typedef struct ev_plan {
    ev_arena mem;                 /* the plan's own arrays + folded tensors   */
    const ev_graph *g;
    int n_inputs;
    ev_tensor *key;               /* input dtypes/shapes this plan is for      */
    unsigned char *key_const;     /* per input: 1 = its *values* are part of
                                     the key (a constant in this plan)         */
    ev_tensor *vals;              /* per value: concrete dtype/shape (+data)   */
    unsigned char *state;         /* per value: ev_val_state                   */
    int64_t *offset;              /* per value: arena offset or -1             */
    int n_steps;
    ev_plan_step *steps;
    int64_t arena_bytes;
    int64_t macs;
    int64_t n_folded;             /* nodes evaluated at plan time              */
    uint64_t last_used;           /* LRU tick of the model's plan cache        */
} ev_plan;

/* A pass over a freshly built plan (before memory planning). */
typedef ev_status (*ev_plan_pass_fn)(ev_plan *p, void *user, ev_err *err);

typedef struct ev_plan_opts {
    int64_t max_tensor_bytes;     /* per value; 0 = 2 GiB                      */
    int64_t max_arena_bytes;      /* 0 = 16 GiB                                */
    /* Inputs with data and at most this many elements are treated as
     * constants (their values become part of the plan key), so that shape
     * tensors fed as graph inputs (e.g. Reshape's shape) can be folded.
     * 0 = never. The model retries with this set only when a plan fails. */
    int64_t const_inputs_max;
    ev_plan_pass_fn pass;         /* optional                                  */
    void *pass_user;
} ev_plan_opts;

/* Build a plan for inputs[0..n_inputs) (only dtype/rank/dims are read;
 * n_inputs must equal g->n_inputs; shapes must match declared static dims). */
ev_status ev_plan_build(const ev_graph *g, const ev_tensor *inputs, int n_inputs,
                        const ev_plan_opts *o, ev_plan **out, ev_err *err);
void ev_plan_free(ev_plan *p);
/* True if the plan was built for exactly these input dtypes/shapes (and
 * values, for inputs the plan treats as constants). */
bool ev_plan_matches(const ev_plan *p, const ev_tensor *inputs, int n_inputs);

/* The default step function: the node's reference kernel. */
ev_status ev_step_ref_run(const ev_plan_step *s, ev_exec_ctx *x);

/* Execute (exec.c): arena must hold p->arena_bytes (64-byte aligned);
 * inputs' data are read in place. Failures name the node. */
ev_status ev_plan_execute(ev_plan *p, void *arena, const ev_tensor *inputs, int n_inputs,
                          ev_exec_ctx *x);

/* Input check shared by plan and run: dtype/rank/static dims against the
 * graph's declared inputs; message names the input. */
ev_status ev_check_inputs(const ev_graph *g, const ev_tensor *inputs, int n_inputs, ev_err *err);

#endif
