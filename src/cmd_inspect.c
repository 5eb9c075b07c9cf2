/* src/cmd_inspect.c — `embeval inspect MODEL.onnx`: what is in a model. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_model.h"

const char ev_cmd_inspect_summary[] = "describe an ONNX model: inputs, outputs, ops, params, MACs";

static void help(void)
{
    printf("Usage: embeval inspect MODEL.onnx [--json] [--batch N] [--shape NAME=d0,d1,...]\n"
           "                      [--max-tensor-mb N] [--max-model-mb N] [--max-nodes N]\n"
           "\n"
           "Describe an ONNX model without running it: inputs and outputs with their\n"
           "shapes, the op histogram, the parameter count (elements of all floating-point\n"
           "initializers), the size on disk (model file plus external data files), and,\n"
           "from an execution plan built for concrete input shapes, the multiply-\n"
           "accumulates (Conv, ConvTranspose, Gemm, MatMul) per image and the size of\n"
           "the activation arena. Ops embeval cannot run are listed.\n"
           "\n"
           "Options:\n"
           "  --json               print one JSON object instead of text\n"
           "  --batch N            batch size of the plan (default 1): used for the first\n"
           "                       dimension of every input where it is dynamic. MACs\n"
           "                       are reported per image: total / the first dimension\n"
           "                       of the first input\n"
           "  --shape NAME=d0,d1,...\n"
           "                       concrete shape of input NAME (repeatable); needed when\n"
           "                       an input has dynamic dimensions other than the first\n"
           CLI_MODEL_LIMITS_HELP
           "  -h, --help           show this help\n"
           "\n"
           "Exit status: 0 ok; 2 usage error; 3 the model is malformed or uses ops\n"
           "embeval does not support (the report is still printed, the unsupported ops\n"
           "are listed and an error line names them); 1 other failures.\n");
}

typedef struct plan_result {
    int ok;
    int skipped;                 /* not attempted (unsupported ops) */
    ev_status st;
    char err[600];
    ev_plan_stats stats;
    ev_value_info *outs;
} plan_result;

static cJSON *json_dims(int rank, const int64_t *dims)
{
    if (rank < 0) return cJSON_CreateNull();
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; i < rank; i++) cJSON_AddItemToArray(a, cJSON_CreateNumber((double)dims[i]));
    return a;
}

static cJSON *json_value(const ev_value_info *vi)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", vi->name ? vi->name : "");
    cJSON_AddStringToObject(o, "dtype", vi->dtype ? ev_dtype_name(vi->dtype) : "unknown");
    cJSON_AddItemToObject(o, "shape", json_dims(vi->rank, vi->dims));
    return o;
}

static int print_json(const char *path, ev_model *m, const ev_model_info *info, int64_t batch,
                      const plan_result *pr)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "file", path);
    cJSON_AddStringToObject(root, "producer", info->producer);
    cJSON_AddNumberToObject(root, "ir_version", (double)info->ir_version);
    cJSON_AddNumberToObject(root, "opset", (double)info->opset);
    cJSON_AddNumberToObject(root, "file_bytes", (double)info->file_bytes);
    cJSON_AddNumberToObject(root, "size_mib", (double)info->file_bytes / (1024.0 * 1024.0));
    cJSON_AddNumberToObject(root, "params", (double)info->params);
    cJSON_AddNumberToObject(root, "nodes", (double)info->n_nodes);
    cJSON *ins = cJSON_AddArrayToObject(root, "inputs");
    for (int i = 0; i < ev_model_num_inputs(m); i++) {
        ev_value_info vi;
        ev_model_input_info(m, i, &vi);
        cJSON_AddItemToArray(ins, json_value(&vi));
    }
    cJSON *outs = cJSON_AddArrayToObject(root, "outputs");
    for (int i = 0; i < ev_model_num_outputs(m); i++) {
        ev_value_info vi;
        ev_model_output_info(m, i, &vi);
        cJSON_AddItemToArray(outs, json_value(&vi));
    }
    cJSON *ops = cJSON_AddArrayToObject(root, "ops");
    cJSON *uns = cJSON_AddArrayToObject(root, "unsupported_ops");
    for (int i = 0; i < info->n_ops; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "op", info->op_counts[i].op_type);
        cJSON_AddNumberToObject(o, "count", info->op_counts[i].count);
        cJSON_AddBoolToObject(o, "supported", info->op_counts[i].supported);
        cJSON_AddItemToArray(ops, o);
        if (!info->op_counts[i].supported)
            cJSON_AddItemToArray(uns, cJSON_CreateString(info->op_counts[i].op_type));
    }
    if (pr->ok) {
        cJSON *p = cJSON_AddObjectToObject(root, "plan");
        cJSON_AddNumberToObject(p, "batch", (double)batch);
        cJSON_AddNumberToObject(p, "macs", (double)pr->stats.macs);
        cJSON_AddNumberToObject(p, "macs_per_image", (double)pr->stats.macs / (double)batch);
        cJSON_AddNumberToObject(p, "arena_bytes", (double)pr->stats.arena_bytes);
        cJSON_AddNumberToObject(p, "exec_nodes", (double)pr->stats.n_exec_nodes);
        cJSON_AddNumberToObject(p, "folded_nodes", (double)pr->stats.n_folded_nodes);
        cJSON *os = cJSON_AddArrayToObject(p, "outputs");
        for (int i = 0; i < ev_model_num_outputs(m); i++) cJSON_AddItemToArray(os, json_value(&pr->outs[i]));
    } else {
        cJSON_AddNullToObject(root, "plan");
        cJSON_AddStringToObject(root, "plan_error", pr->skipped ? "model has unsupported ops" : pr->err);
    }
    char *s = cJSON_Print(root);
    cJSON_Delete(root);
    if (!s) return -1;
    printf("%s\n", s);
    free(s);
    return 0;
}

static void print_text(const char *path, ev_model *m, const ev_model_info *info, int64_t batch,
                       const plan_result *pr)
{
    char a[64], b[64], dims[256];
    printf("model     %s\n", path);
    printf("producer  %s (IR version %lld, opset %lld)\n", info->producer[0] ? info->producer : "unknown",
           (long long)info->ir_version, (long long)info->opset);
    cli_format_count(info->file_bytes, a, sizeof a);
    printf("size      %.2f MiB (%s bytes)\n", (double)info->file_bytes / (1024.0 * 1024.0), a);
    cli_format_count(info->params, a, sizeof a);
    printf("params    %s (%.2f M)\n", a, (double)info->params / 1e6);
    if (pr->ok) {
        double per = (double)pr->stats.macs / (double)batch;
        if (per >= 1e8)
            printf("MACs      %.3f G per image", per / 1e9);
        else
            printf("MACs      %.3f M per image", per / 1e6);
        cli_format_count(pr->stats.macs, a, sizeof a);
        printf(" (batch %lld: %s)\n", (long long)batch, a);
        printf("arena     %.2f MiB of activations at batch %lld\n",
               (double)pr->stats.arena_bytes / (1024.0 * 1024.0), (long long)batch);
        cli_format_count(info->n_nodes, a, sizeof a);
        cli_format_count(pr->stats.n_exec_nodes, b, sizeof b);
        printf("nodes     %s in the file, %s executed per run (%lld folded into constants)\n", a, b,
               (long long)pr->stats.n_folded_nodes);
    } else {
        printf("MACs      unavailable: %s\n", pr->skipped ? "the model has unsupported ops" : pr->err);
        cli_format_count(info->n_nodes, a, sizeof a);
        printf("nodes     %s\n", a);
    }
    printf("\ninputs\n");
    for (int i = 0; i < ev_model_num_inputs(m); i++) {
        ev_value_info vi;
        ev_model_input_info(m, i, &vi);
        cli_format_dims(vi.rank, vi.dims, dims, sizeof dims);
        printf("  %-24s %-8s %s\n", vi.name, vi.dtype ? ev_dtype_name(vi.dtype) : "?", dims);
    }
    printf("outputs\n");
    for (int i = 0; i < ev_model_num_outputs(m); i++) {
        ev_value_info vi;
        ev_model_output_info(m, i, &vi);
        cli_format_dims(vi.rank, vi.dims, dims, sizeof dims);
        printf("  %-24s %-8s %s", vi.name, vi.dtype ? ev_dtype_name(vi.dtype) : "?", dims);
        if (pr->ok) {
            cli_format_dims(pr->outs[i].rank, pr->outs[i].dims, dims, sizeof dims);
            printf("  (batch %lld: %s %s)", (long long)batch, ev_dtype_name(pr->outs[i].dtype), dims);
        }
        printf("\n");
    }
    printf("\nops (%d type%s)\n", info->n_ops, info->n_ops == 1 ? "" : "s");
    /* by count, descending (stable) */
    int *ord = malloc(sizeof *ord * (size_t)(info->n_ops + 1));
    if (ord) {
        for (int i = 0; i < info->n_ops; i++) ord[i] = i;
        for (int i = 1; i < info->n_ops; i++)
            for (int j = i; j > 0 && info->op_counts[ord[j - 1]].count < info->op_counts[ord[j]].count; j--) {
                int t = ord[j - 1]; ord[j - 1] = ord[j]; ord[j] = t;
            }
        for (int i = 0; i < info->n_ops; i++) {
            const ev_op_count *c = &info->op_counts[ord[i]];
            printf("  %-28s %6d%s\n", c->op_type, c->count, c->supported ? "" : "  UNSUPPORTED");
        }
        free(ord);
    }
    printf("\nunsupported ops: ");
    if (!info->n_unsupported) printf("none\n");
    else {
        int first = 1;
        for (int i = 0; i < info->n_ops; i++)
            if (!info->op_counts[i].supported) {
                printf("%s%s", first ? "" : ", ", info->op_counts[i].op_type);
                first = 0;
            }
        printf("\n");
    }
}

int ev_cmd_inspect(int argc, char **argv)
{
    const char *path = NULL;
    int json = 0;
    int64_t batch = 1;
    cli_shape_arg shapes[64];
    int n_shapes = 0;
    ev_model_options o = ev_model_default_options();
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int lim = cli_model_limit_option("inspect", argc, argv, &i, &o);
        if (lim < 0) return EV_EXIT_USAGE;
        if (lim) continue;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { help(); return EV_EXIT_OK; }
        else if (!strcmp(a, "--json")) json = 1;
        else if (!strcmp(a, "--batch") || !strncmp(a, "--batch=", 8)) {
            const char *v = a[7] == '=' ? a + 8 : (i + 1 < argc ? argv[++i] : NULL);
            if (!v) return cli_usage_error("inspect", "--batch needs a value");
            if (!cli_parse_int(v, 1, 1 << 20, &batch))
                return cli_usage_error("inspect", "--batch must be an integer in 1..1048576, got '%s'", v);
        } else if (!strcmp(a, "--shape") || !strncmp(a, "--shape=", 8)) {
            const char *v = a[7] == '=' ? a + 8 : (i + 1 < argc ? argv[++i] : NULL);
            if (!v) return cli_usage_error("inspect", "--shape needs NAME=d0,d1,...");
            if (n_shapes >= 64) return cli_usage_error("inspect", "too many --shape options");
            if (!cli_parse_shape_arg(v, &shapes[n_shapes]))
                return cli_usage_error("inspect", "bad --shape '%s': expected NAME=d0,d1,... with non-negative integers", v);
            n_shapes++;
        } else if (a[0] == '-' && a[1]) {
            return cli_usage_error("inspect", "unknown option '%s'", a);
        } else if (!path) path = a;
        else return cli_usage_error("inspect", "unexpected argument '%s' (one model at a time)", a);
    }
    if (!path) return cli_usage_error("inspect", "no model given");

    o.allow_unsupported = 1;
    o.threads = 1;
    /* describe the graph as written: the reference plan (the fast path would
     * fuse steps and build oneDNN primitives, which inspect does not need) */
    o.reference_only = 1;
    ev_model *m = ev_model_new(&o);
    if (!m) { cli_error("out of memory"); return EV_EXIT_RUNTIME; }
    ev_status st = ev_model_load(m, path);
    if (st != EV_OK) {
        cli_error("%s", ev_model_errmsg(m));
        ev_model_free(m);
        return cli_exit_code(st);
    }
    ev_model_info info;
    ev_model_get_info(m, &info);
    int nin = ev_model_num_inputs(m), nout = ev_model_num_outputs(m);
    int rc = EV_EXIT_OK;

    /* concrete input shapes for the plan */
    ev_tensor *inputs = calloc((size_t)nin + 1, sizeof *inputs);
    plan_result pr;
    memset(&pr, 0, sizeof pr);
    pr.outs = calloc((size_t)nout + 1, sizeof *pr.outs);
    if (!inputs || !pr.outs) { cli_error("out of memory"); rc = EV_EXIT_RUNTIME; goto out; }
    for (int s = 0; s < n_shapes; s++) {
        int found = 0;
        for (int i = 0; i < nin && !found; i++) {
            ev_value_info vi;
            ev_model_input_info(m, i, &vi);
            found = strlen(vi.name) == shapes[s].name_len && !strncmp(vi.name, shapes[s].name, shapes[s].name_len);
        }
        if (!found) {
            rc = cli_usage_error("inspect", "--shape names '%.*s', which is not an input of %s",
                                 (int)shapes[s].name_len, shapes[s].name, path);
            goto out;
        }
    }
    for (int i = 0; i < nin; i++) {
        ev_value_info vi;
        ev_model_input_info(m, i, &vi);
        ev_tensor *t = &inputs[i];
        t->dtype = vi.dtype ? vi.dtype : EV_DT_FLOAT;
        const cli_shape_arg *sa = NULL;
        for (int s = 0; s < n_shapes; s++)
            if (strlen(vi.name) == shapes[s].name_len && !strncmp(vi.name, shapes[s].name, shapes[s].name_len))
                sa = &shapes[s];
        if (sa) {
            t->rank = sa->rank;
            memcpy(t->dims, sa->dims, sizeof t->dims);
            continue;
        }
        if (vi.rank < 0) {
            rc = cli_usage_error("inspect", "input '%s' has no declared shape: give --shape %s=d0,d1,... (%s)",
                                 vi.name, vi.name, path);
            goto out;
        }
        t->rank = vi.rank;
        for (int k = 0; k < vi.rank; k++) {
            if (vi.dims[k] >= 0) t->dims[k] = vi.dims[k];
            else if (k == 0) t->dims[k] = batch;
            else {
                rc = cli_usage_error("inspect",
                                     "input '%s' has dynamic dimension %d: give --shape %s=d0,d1,... (%s)",
                                     vi.name, k, vi.name, path);
                goto out;
            }
        }
    }
    /* images per plan: the first dimension of the first input (a static
     * batch dimension wins over --batch) */
    if (nin > 0 && inputs[0].rank > 0 && inputs[0].dims[0] > 0) batch = inputs[0].dims[0];
    if (info.n_unsupported) {
        pr.skipped = 1;
    } else {
        st = ev_model_plan_stats(m, inputs, nin, &pr.stats, pr.outs);
        if (st == EV_OK) pr.ok = 1;
        else {
            pr.st = st;
            snprintf(pr.err, sizeof pr.err, "%s", ev_model_errmsg(m));
        }
    }
    if (json) {
        if (print_json(path, m, &info, batch, &pr) != 0) { cli_error("out of memory"); rc = EV_EXIT_RUNTIME; goto out; }
    } else {
        print_text(path, m, &info, batch, &pr);
    }
    fflush(stdout);
    if (pr.skipped && (info.opset < 7 || info.opset > 18)) {
        cli_error("opset %lld of the default domain is not supported (opsets 7..18 are) (%s)",
                  (long long)info.opset, path);
        rc = EV_EXIT_INPUT;
    } else if (pr.skipped) {
        char list[512] = "";
        size_t o2 = 0;
        for (int i = 0; i < info.n_ops && o2 < sizeof list; i++)
            if (!info.op_counts[i].supported)
                o2 += (size_t)snprintf(list + o2, sizeof list - o2, "%s%s", o2 ? ", " : "", info.op_counts[i].op_type);
        cli_error("the model uses %d op type%s embeval cannot run: %s (%s)", info.n_unsupported,
                  info.n_unsupported == 1 ? "" : "s", list, path);
        rc = EV_EXIT_INPUT;
    } else if (!pr.ok) {
        cli_error("cannot plan the model at batch %lld: %s (%s)", (long long)batch, pr.err, path);
        rc = cli_exit_code(pr.st);
    }
out:
    free(inputs);
    free(pr.outs);
    ev_model_free(m);
    return rc;
}
