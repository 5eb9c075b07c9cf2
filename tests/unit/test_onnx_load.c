/* tests/unit/test_onnx_load.c — the ONNX loader on hand-built models:
 * initializers (raw/typed/external), Constant nodes, opsets, validation
 * (dangling, duplicates, cycles, limits), topological order, Identity/Dropout
 * removal, unsupported ops, and hostile buffers (truncations, mutations). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "onnx/ir.h"
#include "onnx_builder.h"
#include "test_util.h"

static const int64_t D1x3[] = {1, 3};
static const int64_t D2x3[] = {2, 3};
static const int64_t Dn3[] = {-1, 3};

static ev_status load(Onnx__ModelProto *m, const ev_load_opts *o, const char *dir, ev_graph **g,
                      ev_err *err)
{
    size_t len;
    uint8_t *buf = ob_pack(m, &len);
    ev_status st = ev_graph_load_buffer(buf, len, "t.onnx", dir, o, g, err);
    free(buf);
    return st;
}

/* x[N,3] -> Relu -> r ; r + w -> y  (w initializer [1,3]) */
static Onnx__ModelProto *relu_add(int raw)
{
    Onnx__ModelProto *m = ob_model(13);
    ob_input(m, "x", 1, 2, Dn3);
    float w[3] = {1, 2, 3};
    if (raw) ob_init_raw(m, "w", 1, 2, D1x3, w, sizeof w);
    else {
        Onnx__TensorProto *t = ob_tensor("w", 1, 2, D1x3);
        ob_float_data(t, w, 3);
        OB_PUSH(m->graph->initializer, m->graph->n_initializer, t);
    }
    ob_node(m, "Relu", "relu", "x", "r");
    ob_node(m, "Add", "add", "r,w", "y");
    ob_output(m, "y");
    return m;
}

static int find_value(const ev_graph *g, const char *name)
{
    for (int v = 0; v < g->n_values; v++)
        if (!strcmp(g->values[v].name, name)) return v;
    return -1;
}

static void test_basic(void)
{
    for (int raw = 0; raw < 2; raw++) {
        Onnx__ModelProto *m = relu_add(raw);
        /* listing the initializer as a graph input too (IR < 4 style) */
        ob_input(m, "w", 1, 2, D1x3);
        ev_graph *g = NULL;
        ev_err err = {0};
        CHECK(load(m, NULL, NULL, &g, &err) == EV_OK);
        if (!g) { fprintf(stderr, "%s\n", err.msg); ob_free(m); continue; }
        CHECK(g->n_inputs == 1);
        CHECK(!strcmp(g->values[g->inputs[0]].name, "x"));
        CHECK(g->values[g->inputs[0]].decl.dims[0] == -1 && g->values[g->inputs[0]].decl.dims[1] == 3);
        CHECK(g->n_nodes == 2 && g->params == 3 && g->opset == 13);
        int w = find_value(g, "w");
        CHECK(w >= 0 && g->values[w].kind == EV_VAL_CONST);
        CHECK(w >= 0 && ((float *)g->values[w].decl.data)[2] == 3.0f);
        CHECK(((uintptr_t)g->values[w].decl.data % 64) == 0);
        CHECK(g->nodes[0].op != NULL && !strcmp(g->nodes[0].op_type, "Relu"));
        CHECK(g->n_outputs == 1 && g->values[g->outputs[0]].is_output);
        CHECK(g->n_op_counts == 2 && g->n_unsupported == 0);
        ev_graph_free(g);
        ob_free(m);
    }
}

static void test_typed_fields(void)
{
    Onnx__ModelProto *m = ob_model(13);
    ob_input(m, "x", 1, 2, D2x3);
    Onnx__TensorProto *t = ob_tensor("i64", 7, 1, (int64_t[]){3});
    t->int64_data = malloc(3 * 8);
    t->int64_data[0] = -1; t->int64_data[1] = 5; t->int64_data[2] = 1LL << 40;
    t->n_int64_data = 3;
    OB_PUSH(m->graph->initializer, m->graph->n_initializer, t);
    t = ob_tensor("b", 9, 1, (int64_t[]){3});
    t->int32_data = malloc(3 * 4);
    t->int32_data[0] = 0; t->int32_data[1] = 1; t->int32_data[2] = 7;
    t->n_int32_data = 3;
    OB_PUSH(m->graph->initializer, m->graph->n_initializer, t);
    t = ob_tensor("i8", 3, 1, (int64_t[]){2});
    t->int32_data = malloc(2 * 4);
    t->int32_data[0] = -3; t->int32_data[1] = 100;
    t->n_int32_data = 2;
    OB_PUSH(m->graph->initializer, m->graph->n_initializer, t);
    t = ob_tensor("d", 11, 0, NULL);
    t->double_data = malloc(8);
    t->double_data[0] = 2.5;
    t->n_double_data = 1;
    OB_PUSH(m->graph->initializer, m->graph->n_initializer, t);
    ob_node(m, "Relu", "r", "x", "y");
    ob_output(m, "y");
    ev_graph *g = NULL;
    ev_err err = {0};
    CHECK(load(m, NULL, NULL, &g, &err) == EV_OK);
    if (g) {
        int v = find_value(g, "i64");
        CHECK(((int64_t *)g->values[v].decl.data)[2] == (1LL << 40));
        v = find_value(g, "b");
        CHECK(((uint8_t *)g->values[v].decl.data)[2] == 1);
        v = find_value(g, "i8");
        CHECK(((int8_t *)g->values[v].decl.data)[0] == -3);
        v = find_value(g, "d");
        CHECK(g->values[v].decl.rank == 0 && ((double *)g->values[v].decl.data)[0] == 2.5);
        CHECK(g->params == 1); /* the double scalar counts as a float initializer */
    }
    ev_graph_free(g);
    ob_free(m);
}

static void expect_fail(Onnx__ModelProto *m, const ev_load_opts *o, const char *dir, ev_status want,
                        const char *needle, const char *needle2)
{
    ev_graph *g = NULL;
    ev_err err = {0};
    ev_status st = load(m, o, dir, &g, &err);
    CHECK(st == want);
    CHECK(g == NULL);
    CHECK(strstr(err.msg, needle) != NULL);
    if (needle2) CHECK(strstr(err.msg, needle2) != NULL);
    CHECK(strstr(err.msg, "(t.onnx)") != NULL);
    if (st != want || !strstr(err.msg, needle) || (needle2 && !strstr(err.msg, needle2)))
        fprintf(stderr, "  got %d: %s\n", st, err.msg);
    ev_graph_free(g);
    ob_free(m);
}

static void test_bad_initializers(void)
{
    float w[6] = {0};
    /* raw_data too short */
    Onnx__ModelProto *m = relu_add(1);
    ob_init_raw(m, "w2", 1, 2, D2x3, w, 20);
    expect_fail(m, NULL, NULL, EV_ERR_FORMAT, "initializer 'w2'", "raw_data has 20 bytes");
    /* float_data count */
    m = relu_add(1);
    Onnx__TensorProto *t = ob_tensor("w2", 1, 2, D2x3);
    ob_float_data(t, w, 5);
    OB_PUSH(m->graph->initializer, m->graph->n_initializer, t);
    expect_fail(m, NULL, NULL, EV_ERR_FORMAT, "initializer 'w2'", "float_data has 5 elements");
    /* no data at all */
    m = relu_add(1);
    t = ob_tensor("w2", 1, 2, D2x3);
    OB_PUSH(m->graph->initializer, m->graph->n_initializer, t);
    expect_fail(m, NULL, NULL, EV_ERR_FORMAT, "initializer 'w2'", "no data");
    /* rank 9 */
    m = relu_add(1);
    int64_t d9[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
    ob_init_raw(m, "w2", 1, 9, d9, w, 4);
    expect_fail(m, NULL, NULL, EV_ERR_LIMIT, "initializer 'w2'", "rank 9");
    /* negative dim */
    m = relu_add(1);
    ob_init_raw(m, "w2", 1, 2, (int64_t[]){-2, 3}, w, 24);
    expect_fail(m, NULL, NULL, EV_ERR_FORMAT, "initializer 'w2'", "negative");
    /* huge dims: overflow / limit before any allocation */
    m = relu_add(1);
    ob_init_raw(m, "w2", 1, 3, (int64_t[]){1LL << 40, 1LL << 40, 1LL << 40}, w, 24);
    expect_fail(m, NULL, NULL, EV_ERR_LIMIT, "initializer 'w2'", NULL);
    m = relu_add(1);
    ob_init_raw(m, "w2", 1, 1, (int64_t[]){1000}, w, 24);
    ev_load_opts o = {0, 1024, 0, 0};
    expect_fail(m, &o, NULL, EV_ERR_LIMIT, "initializer 'w2'", "per-tensor limit");
    /* string / bad dtype */
    m = relu_add(1);
    ob_init_raw(m, "w2", 8, 1, (int64_t[]){1}, w, 1);
    expect_fail(m, NULL, NULL, EV_ERR_UNSUPPORTED, "initializer 'w2'", "string");
    m = relu_add(1);
    ob_init_raw(m, "w2", 99, 1, (int64_t[]){1}, w, 1);
    expect_fail(m, NULL, NULL, EV_ERR_UNSUPPORTED, "initializer 'w2'", NULL);
    /* duplicate initializer */
    m = relu_add(1);
    ob_init_raw(m, "w", 1, 2, D1x3, w, 12);
    expect_fail(m, NULL, NULL, EV_ERR_FORMAT, "duplicate initializer 'w'", NULL);
}

static void test_external(void)
{
    char dir[] = "/tmp/ev-onnx-ext-XXXXXX";
    if (!mkdtemp(dir)) { CHECK(0); return; }
    char path[256];
    snprintf(path, sizeof path, "%s/w.bin", dir);
    float data[8] = {9, 9, 1, 2, 3, 4, 5, 6}; /* offset 8 bytes -> 1..6 */
    FILE *f = fopen(path, "wb");
    fwrite(data, 1, sizeof data, f);
    fclose(f);
    struct {
        const char *loc, *off, *len;
        ev_status want;
        const char *needle;
    } cases[] = {
        {"w.bin", "8", "24", EV_OK, NULL},
        {"w.bin", "8", NULL, EV_OK, NULL},
        {"./w.bin", "8", "24", EV_OK, NULL},
        {"/etc/passwd", "0", "24", EV_ERR_FORMAT, "relative path"},
        {"../w.bin", "0", "24", EV_ERR_FORMAT, "relative path"},
        {"sub/../../w.bin", "0", "24", EV_ERR_FORMAT, "relative path"},
        {"w.bin", "16", "24", EV_ERR_FORMAT, "outside"},
        {"w.bin", "99999999999999999999", "24", EV_ERR_FORMAT, "offset"},
        {"w.bin", "-1", "24", EV_ERR_FORMAT, "offset"},
        {"w.bin", "8", "20", EV_ERR_FORMAT, "length"},
        {"missing.bin", "0", "24", EV_ERR_IO, "cannot open"},
        {"", "0", "24", EV_ERR_FORMAT, "location"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        Onnx__ModelProto *m = relu_add(1);
        Onnx__TensorProto *t = ob_tensor("ext", 1, 2, D2x3);
        t->has_data_location = 1;
        t->data_location = ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
        ob_kv(t, "location", cases[c].loc);
        if (cases[c].off) ob_kv(t, "offset", cases[c].off);
        if (cases[c].len) ob_kv(t, "length", cases[c].len);
        OB_PUSH(m->graph->initializer, m->graph->n_initializer, t);
        ev_graph *g = NULL;
        ev_err err = {0};
        ev_status st = load(m, NULL, dir, &g, &err);
        CHECK(st == cases[c].want);
        if (st != cases[c].want) fprintf(stderr, "  external case %zu: %d %s\n", c, st, err.msg);
        if (cases[c].needle) CHECK(strstr(err.msg, cases[c].needle) && strstr(err.msg, "'ext'"));
        if (g) {
            int v = find_value(g, "ext");
            const float *p = g->values[v].decl.data;
            CHECK(p[0] == 1 && p[5] == 6);
            CHECK(g->file_bytes > (int64_t)sizeof data); /* model + the external file */
            CHECK(g->params == 9);
        }
        ev_graph_free(g);
        ob_free(m);
    }
    /* loaded from memory without a directory: refused */
    Onnx__ModelProto *m = relu_add(1);
    Onnx__TensorProto *t = ob_tensor("ext", 1, 2, D2x3);
    t->has_data_location = 1;
    t->data_location = ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
    ob_kv(t, "location", "w.bin");
    OB_PUSH(m->graph->initializer, m->graph->n_initializer, t);
    expect_fail(m, NULL, NULL, EV_ERR_UNSUPPORTED, "'ext'", "external");
    unlink(path);
    rmdir(dir);
}

static void test_constants(void)
{
    Onnx__ModelProto *m = ob_model(13);
    ob_input(m, "x", 1, 2, D1x3);
    Onnx__NodeProto *n = ob_node(m, "Constant", "c1", "", "c1");
    Onnx__AttributeProto *a = ob_attr(n, "value", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR);
    float v[3] = {4, 5, 6};
    a->t = ob_tensor("", 1, 2, D1x3);
    ob_raw(a->t, v, sizeof v);
    n = ob_node(m, "Constant", "c2", "", "c2");
    a = ob_attr(n, "value_float", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT);
    a->has_f = 1;
    a->f = 0.5f;
    n = ob_node(m, "Constant", "c3", "", "c3");
    ob_attr_ints(n, "value_ints", 2, (int64_t[]){7, -8});
    ob_node(m, "Add", "add", "x,c1", "y");
    ob_output(m, "y");
    ev_graph *g = NULL;
    ev_err err = {0};
    CHECK(load(m, NULL, NULL, &g, &err) == EV_OK);
    if (g) {
        CHECK(g->n_nodes == 1);
        int c1 = find_value(g, "c1"), c2 = find_value(g, "c2"), c3 = find_value(g, "c3");
        CHECK(g->values[c1].kind == EV_VAL_CONST && ((float *)g->values[c1].decl.data)[1] == 5);
        CHECK(g->values[c2].decl.rank == 0 && ((float *)g->values[c2].decl.data)[0] == 0.5f);
        CHECK(g->values[c3].decl.dtype == EV_DT_INT64 && g->values[c3].decl.dims[0] == 2 &&
              ((int64_t *)g->values[c3].decl.data)[1] == -8);
        CHECK(g->n_op_counts == 2 && !strcmp(g->op_counts[0].op_type, "Constant") &&
              g->op_counts[0].count == 3 && g->op_counts[0].supported);
        CHECK(g->params == 0); /* Constant nodes are not initializers */
    }
    ev_graph_free(g);
    ob_free(m);
    /* Constant without a value */
    m = ob_model(13);
    ob_input(m, "x", 1, 2, D1x3);
    ob_node(m, "Constant", "c1", "", "c1");
    ob_node(m, "Add", "add", "x,c1", "y");
    ob_output(m, "y");
    expect_fail(m, NULL, NULL, EV_ERR_FORMAT, "'c1'", "exactly one value");
}

static void test_opsets_and_ops(void)
{
    Onnx__ModelProto *m = relu_add(1);
    m->opset_import[0]->version = 6;
    expect_fail(m, NULL, NULL, EV_ERR_UNSUPPORTED, "opset 6", NULL);
    m = relu_add(1);
    m->opset_import[0]->version = 19;
    expect_fail(m, NULL, NULL, EV_ERR_UNSUPPORTED, "opset 19", NULL);
    m = relu_add(1);
    free(m->opset_import[0]->domain);
    m->opset_import[0]->domain = strdup("ai.onnx"); /* alias of "" */
    ev_graph *g = NULL;
    ev_err err = {0};
    CHECK(load(m, NULL, NULL, &g, &err) == EV_OK);
    ev_graph_free(g);
    ob_free(m);
    m = ob_model(0);
    ob_input(m, "x", 1, 2, D1x3);
    ob_node(m, "Relu", "r", "x", "y");
    ob_output(m, "y");
    expect_fail(m, NULL, NULL, EV_ERR_UNSUPPORTED, "no opset", NULL);

    /* unsupported op: refused with op, node and opset; kept with allow_unsupported */
    for (int allow = 0; allow < 2; allow++) {
        m = ob_model(13);
        ob_input(m, "x", 1, 2, D1x3);
        ob_node(m, "Relu", "r", "x", "a");
        Onnx__NodeProto *n = ob_node(m, "Foo", "foo_1", "a", "y");
        ob_attr_int(n, "k", 3);
        ob_output(m, "y");
        if (!allow) {
            expect_fail(m, NULL, NULL, EV_ERR_UNSUPPORTED, "unsupported op 'Foo' (node 'foo_1', opset 13)", NULL);
            continue;
        }
        ev_load_opts o = {0, 0, 0, 1};
        g = NULL;
        CHECK(load(m, &o, NULL, &g, &err) == EV_OK);
        if (g) {
            CHECK(g->n_nodes == 2 && g->nodes[1].op == NULL && g->n_unsupported == 1);
            CHECK(ev_attr_int(&g->nodes[1], "k", 0) == 3);
        }
        ev_graph_free(g);
        ob_free(m);
    }
    /* another domain */
    m = ob_model(13);
    ob_import(m, "com.example", 1);
    ob_input(m, "x", 1, 2, D1x3);
    Onnx__NodeProto *n = ob_node(m, "Relu", "r", "x", "y");
    n->domain = strdup("com.example");
    ob_output(m, "y");
    expect_fail(m, NULL, NULL, EV_ERR_UNSUPPORTED, "domain 'com.example'", "opset 1");
    /* subgraph attribute on a supported op */
    m = relu_add(1);
    Onnx__AttributeProto *a = ob_attr(m->graph->node[0], "body", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPH);
    a->g = OB_NEW(Onnx__GraphProto, ONNX__GRAPH_PROTO__INIT);
    expect_fail(m, NULL, NULL, EV_ERR_UNSUPPORTED, "subgraph attribute 'body'", "'relu'");
    /* sequence-typed input */
    m = relu_add(1);
    Onnx__TypeProto *tp = m->graph->input[0]->type;
    protobuf_c_message_free_unpacked(&tp->tensor_type->base, NULL);
    tp->value_case = ONNX__TYPE_PROTO__VALUE_SEQUENCE_TYPE;
    tp->sequence_type = OB_NEW(Onnx__TypeProto__Sequence, ONNX__TYPE_PROTO__SEQUENCE__INIT);
    expect_fail(m, NULL, NULL, EV_ERR_UNSUPPORTED, "graph input 'x'", "not a tensor");
}

static void test_structure(void)
{
    /* dangling */
    Onnx__ModelProto *m = relu_add(1);
    ob_node(m, "Relu", "late", "nowhere", "z");
    expect_fail(m, NULL, NULL, EV_ERR_FORMAT, "node 'late' (Relu): input 'nowhere'", NULL);
    /* duplicate producer */
    m = relu_add(1);
    ob_node(m, "Relu", "again", "x", "r");
    expect_fail(m, NULL, NULL, EV_ERR_FORMAT, "node 'again'", "output 'r'");
    /* output named like an input / initializer */
    m = relu_add(1);
    ob_node(m, "Relu", "shadow", "x", "w");
    expect_fail(m, NULL, NULL, EV_ERR_FORMAT, "node 'shadow'", "initializer");
    /* cycle */
    m = ob_model(13);
    ob_input(m, "x", 1, 2, D1x3);
    ob_node(m, "Add", "first", "x,b", "a");
    ob_node(m, "Relu", "second", "a", "b");
    ob_node(m, "Relu", "third", "a", "y");
    ob_output(m, "y");
    expect_fail(m, NULL, NULL, EV_ERR_FORMAT, "cycle", NULL);
    /* self loop */
    m = ob_model(13);
    ob_input(m, "x", 1, 2, D1x3);
    ob_node(m, "Add", "self", "x,s", "s");
    ob_node(m, "Relu", "r", "s", "y");
    ob_output(m, "y");
    expect_fail(m, NULL, NULL, EV_ERR_FORMAT, "cycle through node 'self'", NULL);
    /* missing graph output */
    m = relu_add(1);
    ob_output(m, "ghost");
    expect_fail(m, NULL, NULL, EV_ERR_FORMAT, "graph output 'ghost'", NULL);
    /* node limit */
    m = relu_add(1);
    ev_load_opts o = {0, 0, 1, 0};
    expect_fail(m, &o, NULL, EV_ERR_LIMIT, "2 nodes", NULL);
    /* no graph / empty file */
    ev_graph *g = NULL;
    ev_err err = {0};
    CHECK(ev_graph_load_buffer("", 0, "e.onnx", NULL, NULL, &g, &err) == EV_ERR_FORMAT && !g);
    CHECK(strstr(err.msg, "(e.onnx)") != NULL);

    /* unsorted file order is sorted; file order kept where possible */
    m = ob_model(13);
    ob_input(m, "x", 1, 2, D1x3);
    ob_node(m, "Add", "n2", "a,b", "y");
    ob_node(m, "Relu", "n1b", "x", "b");
    ob_node(m, "Relu", "n1a", "x", "a");
    ob_output(m, "y");
    g = NULL;
    CHECK(load(m, NULL, NULL, &g, &err) == EV_OK);
    if (g) {
        CHECK(g->n_nodes == 3);
        CHECK(!strcmp(g->nodes[0].name, "n1b") && !strcmp(g->nodes[1].name, "n1a") &&
              !strcmp(g->nodes[2].name, "n2"));
        for (int i = 0; i < g->n_nodes; i++) {
            CHECK(g->nodes[i].index == i);
            for (int k = 0; k < g->nodes[i].n_in; k++) {
                int p = g->values[g->nodes[i].in[k]].producer;
                CHECK(p < i);
            }
        }
    }
    ev_graph_free(g);
    ob_free(m);

    /* omitted optional input -> -1 */
    m = ob_model(13);
    ob_input(m, "x", 1, 2, D1x3);
    ob_node(m, "Clip", "clip", "x,,", "y");
    ob_output(m, "y");
    g = NULL;
    CHECK(load(m, NULL, NULL, &g, &err) == EV_OK);
    if (g) CHECK(g->nodes[0].n_in == 3 && g->nodes[0].in[1] == -1 && g->nodes[0].in[2] == -1);
    ev_graph_free(g);
    ob_free(m);
}

static void test_identity_removal(void)
{
    Onnx__ModelProto *m = ob_model(13);
    ob_input(m, "x", 1, 2, D1x3);
    ob_node(m, "Identity", "id1", "x", "a");
    ob_node(m, "Dropout", "drop", "a", "b");
    ob_node(m, "Relu", "relu", "b", "c");
    ob_node(m, "Identity", "id_out", "c", "y");     /* graph output: kept */
    ob_node(m, "Dropout", "drop_mask", "c", "d,mask"); /* mask is an output: kept */
    ob_output(m, "y");
    ob_output(m, "mask");
    ev_graph *g = NULL;
    ev_err err = {0};
    CHECK(load(m, NULL, NULL, &g, &err) == EV_OK);
    if (g) {
        CHECK(g->n_nodes == 3);
        CHECK(!strcmp(g->nodes[0].op_type, "Relu") && g->nodes[0].in[0] == g->inputs[0]);
        CHECK(!strcmp(g->nodes[1].name, "id_out") && !strcmp(g->nodes[2].name, "drop_mask"));
        CHECK(g->n_file_nodes == 5);
        int x = g->inputs[0];
        CHECK(g->values[x].n_consumers == 1);
    }
    ev_graph_free(g);
    ob_free(m);
}

static void test_hostile_buffers(void)
{
    Onnx__ModelProto *m = relu_add(1);
    size_t len;
    uint8_t *buf = ob_pack(m, &len);
    ob_free(m);
    int ok = 0;
    for (size_t cut = 0; cut < len; cut++) {
        ev_graph *g = NULL;
        ev_err err = {0};
        ev_status st = ev_graph_load_buffer(buf, cut, "cut.onnx", NULL, NULL, &g, &err);
        if (st == EV_OK) ok++;
        CHECK(st == EV_OK || (g == NULL && err.msg[0] && strstr(err.msg, "cut.onnx")));
        ev_graph_free(g);
    }
    CHECK(ok == 0); /* no proper prefix of this model is a valid model */
    /* byte mutations: never crash (ASan build checks memory safety) */
    unsigned seed = 12345;
    uint8_t *mut = malloc(len);
    int loaded = 0;
    for (int it = 0; it < 3000; it++) {
        memcpy(mut, buf, len);
        int nflip = 1 + it % 5;
        for (int k = 0; k < nflip; k++) {
            seed = seed * 1103515245u + 12345u;
            size_t pos = (seed >> 8) % len;
            seed = seed * 1103515245u + 12345u;
            mut[pos] = (uint8_t)(seed >> 16);
        }
        ev_graph *g = NULL;
        ev_err err = {0};
        if (ev_graph_load_buffer(mut, len, "mut.onnx", NULL, NULL, &g, &err) == EV_OK) {
            loaded++;
            CHECK(g != NULL);
            ev_graph_fold_constants(g, &err);
        }
        ev_graph_free(g);
    }
    printf("mutations: %d of 3000 still load\n", loaded);
    free(mut);
    free(buf);
}

static void test_tensor_pb(void)
{
    Onnx__TensorProto *t = ob_tensor("x", 1, 2, D1x3);
    float v[3] = {1, -2, 3};
    ob_raw(t, v, sizeof v);
    size_t len = onnx__tensor_proto__get_packed_size(t);
    uint8_t *buf = malloc(len);
    onnx__tensor_proto__pack(t, buf);
    ev_arena a;
    ev_arena_init(&a, 0);
    ev_tensor out;
    ev_err err = {0};
    CHECK(ev_tensor_from_pb(buf, len, "x.pb", &a, 0, &out, &err) == EV_OK);
    CHECK(out.dtype == EV_DT_FLOAT && out.rank == 2 && out.dims[1] == 3 && ((float *)out.data)[1] == -2);
    CHECK(ev_tensor_from_pb(buf, len - 3, "x.pb", &a, 0, &out, &err) != EV_OK);
    ev_arena_free(&a);
    free(buf);
    protobuf_c_message_free_unpacked(&t->base, NULL);
}

int main(void)
{
    test_basic();
    test_typed_fields();
    test_bad_initializers();
    test_external();
    test_constants();
    test_opsets_and_ops();
    test_structure();
    test_identity_removal();
    test_hostile_buffers();
    test_tensor_pb();
    return test_report("test_onnx_load");
}
