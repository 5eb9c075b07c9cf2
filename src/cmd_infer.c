/* src/cmd_infer.c — `embeval infer MODEL.onnx --input X.npy --output Y.npy`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_model.h"

const char ev_cmd_infer_summary[] = "run an ONNX model on NumPy .npy inputs, write an output .npy";

static void help(void)
{
    printf("Usage: embeval infer MODEL.onnx --input [NAME=]X.npy [--input ...] --output Y.npy\n"
           "                    [--output-name NAME] [--threads N] [--reference] [--bf16]\n"
           "                    [--max-tensor-mb N] [--max-model-mb N] [--max-nodes N]\n"
           "\n"
           "Run MODEL.onnx once on the arrays in the given .npy files and write one\n"
           "output to a .npy file (NumPy format 1.0, C order).\n"
           "\n"
           "Options:\n"
           "  --input [NAME=]FILE  an input array (repeatable). With NAME= it feeds the\n"
           "                       model input NAME; without, it feeds the next model\n"
           "                       input not named elsewhere, in the model's order.\n"
           "                       float32 inputs take '<f4' files ('<f8' is converted);\n"
           "                       int64 inputs take '<i8' (or '<i4', converted); int32\n"
           "                       inputs take '<i4'. Shapes must match the model's\n"
           "                       static dimensions; dynamic ones (e.g. the batch) are free.\n"
           "  --output FILE        where to write the output array (required)\n"
           "  --output-name NAME   which graph output to write (default: the first)\n"
           "  --threads N          threads for the kernels (default 0 = all cores)\n"
           "  --reference          run the plain-C reference kernels only (no oneDNN fast\n"
           "                       path): slower, the ground truth for comparisons\n"
           "  --bf16               bfloat16 weights/activations on the fast path (fp32\n"
           "                       accumulation); ignored with --reference\n"
           CLI_MODEL_LIMITS_HELP
           "  -h, --help           show this help\n"
           "\n"
           "Exit status: 0 ok; 2 usage error; 3 the model or an input file is invalid or\n"
           "unsupported (one error line names the file); 1 other failures (e.g. cannot\n"
           "write the output).\n");
}

#define MAX_INPUTS 64

int ev_cmd_infer(int argc, char **argv)
{
    const char *model_path = NULL, *out_path = NULL, *out_name = NULL;
    const char *in_args[MAX_INPUTS];
    int n_in_args = 0;
    int64_t threads = 0;
    int reference = 0, bf16 = 0;
    ev_model_options o = ev_model_default_options();
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = NULL;
        int lim = cli_model_limit_option("infer", argc, argv, &i, &o);
        if (lim < 0) return EV_EXIT_USAGE;
        if (lim) continue;
#define OPT(name) (!strcmp(a, name) || (!strncmp(a, name "=", sizeof(name)) && (v = a + sizeof(name))))
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { help(); return EV_EXIT_OK; }
        if (!strcmp(a, "--reference")) { reference = 1; continue; }
        if (!strcmp(a, "--bf16")) { bf16 = 1; continue; }
        if (OPT("--input") || OPT("--output") || OPT("--output-name") || OPT("--threads")) {
            const char *opt = a;
            if (!v) {
                if (i + 1 >= argc) return cli_usage_error("infer", "%s needs a value", a);
                v = argv[++i];
            }
            if (!strncmp(opt, "--input", 7) && (opt[7] == 0 || opt[7] == '=')) {
                if (n_in_args >= MAX_INPUTS) return cli_usage_error("infer", "too many --input options");
                in_args[n_in_args++] = v;
            } else if (!strncmp(opt, "--output-name", 13)) out_name = v;
            else if (!strncmp(opt, "--output", 8)) out_path = v;
            else if (!cli_parse_int(v, 0, 1024, &threads))
                return cli_usage_error("infer", "--threads must be an integer in 0..1024, got '%s'", v);
        } else if (a[0] == '-' && a[1]) {
            return cli_usage_error("infer", "unknown option '%s'", a);
        } else if (!model_path) model_path = a;
        else return cli_usage_error("infer", "unexpected argument '%s'", a);
#undef OPT
    }
    if (!model_path) return cli_usage_error("infer", "no model given");
    if (!n_in_args) return cli_usage_error("infer", "no --input given");
    if (!out_path) return cli_usage_error("infer", "no --output given");

    o.threads = (int)threads;
    o.reference_only = reference;
    o.precision = bf16 ? EV_PRECISION_BF16 : EV_PRECISION_FP32;
    ev_model *m = ev_model_new(&o);
    if (!m) { cli_error("out of memory"); return EV_EXIT_RUNTIME; }
    int rc = EV_EXIT_OK;
    ev_array arrays[MAX_INPUTS];
    ev_tensor feed[MAX_INPUTS];
    const char *files[MAX_INPUTS];
    memset(arrays, 0, sizeof arrays);
    memset(files, 0, sizeof files);
    ev_status st = ev_model_load(m, model_path);
    if (st != EV_OK) {
        cli_error("%s", ev_model_errmsg(m));
        rc = cli_exit_code(st);
        goto out;
    }
    int nin = ev_model_num_inputs(m), nout = ev_model_num_outputs(m);
    if (nin > MAX_INPUTS) {
        cli_error("the model has %d inputs, more than infer supports (%s)", nin, model_path);
        rc = EV_EXIT_INPUT;
        goto out;
    }
    /* assign --input arguments: NAME=FILE first, then positional */
    int positional[MAX_INPUTS], n_pos = 0;
    for (int k = 0; k < n_in_args; k++) {
        const char *eq = strchr(in_args[k], '=');
        int which = -1;
        for (int i = 0; eq && i < nin && which < 0; i++) {
            ev_value_info vi;
            ev_model_input_info(m, i, &vi);
            if (strlen(vi.name) == (size_t)(eq - in_args[k]) && !strncmp(vi.name, in_args[k], (size_t)(eq - in_args[k])))
                which = i;
        }
        if (which < 0) { positional[n_pos++] = k; continue; }
        if (files[which]) {
            rc = cli_usage_error("infer", "input '%.*s' is given twice", (int)(eq - in_args[k]), in_args[k]);
            goto out;
        }
        files[which] = eq + 1;
    }
    for (int p = 0, i = 0; p < n_pos; p++) {
        while (i < nin && files[i]) i++;
        if (i >= nin) {
            rc = cli_usage_error("infer", "too many --input files: the model has %d input%s (%s)", nin,
                                 nin == 1 ? "" : "s", model_path);
            goto out;
        }
        files[i] = in_args[positional[p]];
    }
    for (int i = 0; i < nin; i++) {
        ev_value_info vi;
        ev_model_input_info(m, i, &vi);
        if (!files[i]) {
            rc = cli_usage_error("infer", "no --input for model input '%s' (give --input %s=FILE.npy)",
                                 vi.name, vi.name);
            goto out;
        }
        ev_dtype want = vi.dtype;
        if (want != EV_DT_UNDEFINED && want != EV_DT_FLOAT && want != EV_DT_INT64 && want != EV_DT_INT32) {
            cli_error("model input '%s' has element type %s; infer reads float32, int64 and int32 inputs (%s)",
                      vi.name, ev_dtype_name(want), model_path);
            rc = EV_EXIT_INPUT;
            goto out;
        }
        char eb[512];
        st = ev_npy_read(files[i], want, &arrays[i], eb, sizeof eb);
        if (st != EV_OK) {
            cli_error("%s", eb);
            rc = cli_exit_code(st);
            goto out;
        }
        feed[i].dtype = arrays[i].dtype;
        feed[i].rank = arrays[i].rank;
        memcpy(feed[i].dims, arrays[i].dims, sizeof feed[i].dims);
        feed[i].data = arrays[i].data;
        /* check against the declared shape here, to name the file */
        int bad = vi.rank >= 0 && vi.rank != feed[i].rank;
        for (int k = 0; !bad && vi.rank >= 0 && k < vi.rank; k++)
            if (vi.dims[k] >= 0 && vi.dims[k] != feed[i].dims[k]) bad = 1;
        if (bad) {
            char want_s[160], got_s[160];
            cli_format_dims(vi.rank, vi.dims, want_s, sizeof want_s);
            cli_format_dims(feed[i].rank, feed[i].dims, got_s, sizeof got_s);
            cli_error("input '%s' must have shape %s, the array has %s (%s)", vi.name, want_s, got_s,
                      files[i]);
            rc = EV_EXIT_INPUT;
            goto out;
        }
    }
    int out_index = 0;
    if (out_name) {
        out_index = -1;
        for (int i = 0; i < nout; i++) {
            ev_value_info vi;
            ev_model_output_info(m, i, &vi);
            if (!strcmp(vi.name, out_name)) out_index = i;
        }
        if (out_index < 0) {
            rc = cli_usage_error("infer", "the model has no output named '%s' (%s)", out_name, model_path);
            goto out;
        }
    }
    st = ev_model_run(m, feed, nin);
    if (st != EV_OK) {
        cli_error("%s (%s)", ev_model_errmsg(m), model_path);
        rc = cli_exit_code(st);
        goto out;
    }
    ev_tensor y;
    st = ev_model_output(m, out_index, &y);
    if (st != EV_OK) {
        cli_error("%s (%s)", ev_model_errmsg(m), model_path);
        rc = EV_EXIT_RUNTIME;
        goto out;
    }
    char eb[512];
    st = ev_npy_write(out_path, &y, eb, sizeof eb);
    if (st != EV_OK) {
        cli_error("%s", eb);
        rc = EV_EXIT_RUNTIME;
        goto out;
    }
    {
        ev_value_info vi;
        char dims[160];
        ev_model_output_info(m, out_index, &vi);
        cli_format_dims(y.rank, y.dims, dims, sizeof dims);
        printf("%s: output '%s' %s %s\n", out_path, vi.name, ev_dtype_name(y.dtype), dims);
    }
out:
    for (int i = 0; i < MAX_INPUTS; i++) ev_array_free(&arrays[i]);
    ev_model_free(m);
    return rc;
}
