/* ImageFolder (flat and split level), CSV and JSONL manifests, spec detection. */
#include "embeval/dataset.h"
#include "pipeline/tu.h"

static char dir[512];

static void path(char *buf, size_t len, const char *rel) { snprintf(buf, len, "%s/%s", dir, rel); }

static void touch(const char *rel)
{
    char p[2048];
    path(p, sizeof p, rel);
    tu_writes(p, "x");
}

static void mk(const char *rel)
{
    char p[2048];
    path(p, sizeof p, rel);
    tu_mkdir(p);
}

static bool has_warning(const ev_dataset *ds, const char *needle)
{
    for (int i = 0; i < ev_dataset_num_warnings(ds); i++)
        if (strstr(ev_dataset_warning(ds, i), needle)) return true;
    return false;
}

static void test_imagefolder(void)
{
    char err[512], p[2048];
    ev_dataset *ds = NULL;
    mk("flat");
    mk("flat/dog");
    mk("flat/cat");
    mk("flat/cat/nested");
    mk("flat/empty");
    mk("flat/Émile, \"q\"");
    touch("flat/dog/b.jpg");
    touch("flat/dog/a.PNG");
    touch("flat/dog/notes.txt");
    touch("flat/dog/.hidden.jpg");
    touch("flat/cat/z.webp");
    touch("flat/cat/nested/y.tif");
    touch("flat/Émile, \"q\"/1.gif");
    touch("flat/README.md");
    path(p, sizeof p, "flat");
    CHECK_MSG(ev_dataset_open(p, NULL, &ds, err, sizeof err) == EV_OK, "%s", err);
    if (ds) {
        CHECK(!strcmp(ev_dataset_format_name(ds), "imagefolder"));
        CHECK(ev_dataset_num_classes(ds) == 4);
        /* bytewise order: "cat" < "dog" < "empty" < "Émile" (0xC3 > 'e') */
        CHECK(!strcmp(ev_dataset_class_name(ds, 0), "cat"));
        CHECK(!strcmp(ev_dataset_class_name(ds, 2), "empty"));
        CHECK(!strcmp(ev_dataset_class_name(ds, 3), "Émile, \"q\""));
        CHECK(ev_dataset_count(ds) == 5);
        ev_item it;
        ev_dataset_item(ds, 0, &it);
        CHECK(strstr(it.path, "flat/cat/nested/y.tif") && it.label == 0 && it.split == EV_SPLIT_NONE);
        ev_dataset_item(ds, 2, &it);
        CHECK(strstr(it.path, "flat/dog/a.PNG") && it.label == 1); /* sorted bytewise: 'a' < 'b' */
        ev_dataset_item(ds, 4, &it);
        CHECK(it.label == 3);
        CHECK(has_warning(ds, "empty class 'empty'"));
        CHECK(has_warning(ds, "ignored 1 files without an image extension"));
        CHECK(has_warning(ds, "directly under"));
        ev_dataset_free(ds);
    }
    /* split level */
    mk("split");
    mk("split/train");
    mk("split/train/a");
    mk("split/train/b");
    mk("split/val");
    mk("split/val/a");
    mk("split/test");
    mk("split/test/c");
    touch("split/train/a/1.jpg");
    touch("split/train/a/2.jpg");
    touch("split/train/b/1.jpg");
    touch("split/val/a/1.jpg");
    touch("split/test/c/1.jpg");
    path(p, sizeof p, "imagefolder:");
    char spec[2100];
    snprintf(spec, sizeof spec, "imagefolder:%s/split", dir);
    CHECK_MSG(ev_dataset_open(spec, NULL, &ds, err, sizeof err) == EV_OK, "%s", err);
    if (ds) {
        CHECK(ev_dataset_num_classes(ds) == 3);
        CHECK(ev_dataset_split_count(ds, EV_SPLIT_TRAIN) == 3);
        CHECK(ev_dataset_split_count(ds, EV_SPLIT_VAL) == 1);
        CHECK(ev_dataset_split_count(ds, EV_SPLIT_TEST) == 1);
        ev_item it;
        ev_dataset_item(ds, 4, &it);
        CHECK(it.split == EV_SPLIT_TEST && it.label == 2);
        CHECK(ev_dataset_select(ds, EV_SPLIT_VAL, 0, 1) == EV_OK && ev_dataset_count(ds) == 1);
        CHECK(ev_dataset_select(ds, EV_SPLIT_NONE, 0, 1) == EV_ERR_NOT_FOUND);
        CHECK_HAS(ev_dataset_errmsg(ds), "no items");
        ev_dataset_free(ds);
    }
    ev_dataset_options lo = ev_dataset_default_options();
    lo.load_split = EV_SPLIT_TRAIN;
    CHECK_MSG(ev_dataset_open(spec, &lo, &ds, err, sizeof err) == EV_OK, "%s", err);
    if (ds) {
        CHECK(ev_dataset_total(ds) == 3 && ev_dataset_num_classes(ds) == 3 && ev_dataset_num_warnings(ds) == 0);
        ev_dataset_free(ds);
    }
    /* no class directories, missing root, a file where a directory is expected */
    mk("noclass");
    touch("noclass/x.jpg");
    path(p, sizeof p, "noclass");
    CHECK(ev_dataset_open(p, NULL, &ds, err, sizeof err) == EV_ERR_DATA);
    CHECK_HAS(err, "no class subdirectories");
    path(p, sizeof p, "missing");
    CHECK(ev_dataset_open(p, NULL, &ds, err, sizeof err) == EV_ERR_IO);
    CHECK_HAS(err, "missing");
    snprintf(spec, sizeof spec, "imagefolder:%s/noclass/x.jpg", dir);
    CHECK(ev_dataset_open(spec, NULL, &ds, err, sizeof err) == EV_ERR_IO);
    /* only empty classes: no items */
    mk("allempty");
    mk("allempty/a");
    path(p, sizeof p, "allempty");
    CHECK(ev_dataset_open(p, NULL, &ds, err, sizeof err) == EV_ERR_DATA);
    CHECK_HAS(err, "no items");
    /* a symlink loop ends at max_depth */
    mk("loop");
    mk("loop/a");
    touch("loop/a/1.jpg");
    char target[2048];
    path(target, sizeof target, "loop/a");
    path(p, sizeof p, "loop/a/self");
    CHECK(symlink(target, p) == 0);
    path(p, sizeof p, "loop");
    ev_dataset_options o = ev_dataset_default_options();
    o.max_depth = 4;
    CHECK_MSG(ev_dataset_open(p, &o, &ds, err, sizeof err) == EV_OK, "%s", err);
    if (ds) {
        CHECK(ev_dataset_count(ds) == 4); /* 1.jpg, self/1.jpg, self/self/1.jpg, self/self/self/1.jpg */
        CHECK(has_warning(ds, "deeper than 4"));
        ev_dataset_free(ds);
    }
}

static ev_dataset *csv(const char *text, const ev_dataset_options *o, char *err, size_t errlen)
{
    ev_dataset *ds = NULL;
    ev_dataset_parse_manifest(text, strlen(text), "m.csv", "/data", EV_DS_CSV, o, &ds, err, errlen);
    return ds;
}

static ev_dataset *jsonl(const char *text, const ev_dataset_options *o, char *err, size_t errlen)
{
    ev_dataset *ds = NULL;
    ev_dataset_parse_manifest(text, strlen(text), "m.jsonl", "/data", EV_DS_JSONL, o, &ds, err, errlen);
    return ds;
}

static void test_csv(void)
{
    char err[512];
    ev_item it;
    /* RFC 4180 quoting: commas, doubled quotes, newlines, UTF-8; CRLF; BOM */
    const char *t = "\xef\xbb\xbf"
                    "a.jpg,\"dog, big\"\r\n"
                    "sub/./b.jpg,\"say \"\"hi\"\"\",train\r\n"
                    "\r\n"
                    "\"c,1.jpg\",日本\n"
                    "d.jpg,\"dog, big\",test";
    ev_dataset *ds = csv(t, NULL, err, sizeof err);
    CHECK_MSG(ds != NULL, "%s", err);
    if (ds) {
        CHECK(ev_dataset_count(ds) == 4);
        CHECK(ev_dataset_num_classes(ds) == 3);
        CHECK(!strcmp(ev_dataset_class_name(ds, 0), "dog, big"));
        CHECK(!strcmp(ev_dataset_class_name(ds, 1), "say \"hi\""));
        CHECK(!strcmp(ev_dataset_class_name(ds, 2), "日本"));
        ev_dataset_item(ds, 1, &it);
        CHECK(!strcmp(it.path, "/data/sub/b.jpg") && it.label == 1 && it.split == EV_SPLIT_TRAIN);
        ev_dataset_item(ds, 2, &it);
        CHECK(!strcmp(it.path, "/data/c,1.jpg") && it.label == 2 && it.split == EV_SPLIT_NONE);
        ev_dataset_item(ds, 3, &it);
        CHECK(it.label == 0 && it.split == EV_SPLIT_TEST);
        ev_dataset_free(ds);
    }
    /* header with reordered and extra columns; a quoted newline inside a path */
    ds = csv("label,path,split\nx,1.jpg,val\n", NULL, err, sizeof err);
    CHECK(ds == NULL); /* header must start with path */
    ds = csv("path,extra,split,label\n\"multi\nline.jpg\",zz,val,cat\n2.jpg,,,dog\n", NULL, err, sizeof err);
    CHECK_MSG(ds != NULL, "%s", err);
    if (ds) {
        ev_dataset_item(ds, 0, &it);
        CHECK(!strcmp(it.path, "/data/multi\nline.jpg") && it.split == EV_SPLIT_VAL);
        CHECK(!strcmp(ev_dataset_class_name(ds, it.label), "cat"));
        ev_dataset_item(ds, 1, &it);
        CHECK(it.split == EV_SPLIT_NONE);
        ev_dataset_free(ds);
    }
    /* numeric labels sort numerically */
    ds = csv("a.jpg,10\nb.jpg,2\nc.jpg,0\n", NULL, err, sizeof err);
    if (ds) {
        CHECK(!strcmp(ev_dataset_class_name(ds, 0), "0") && !strcmp(ev_dataset_class_name(ds, 1), "2") &&
              !strcmp(ev_dataset_class_name(ds, 2), "10"));
        ev_dataset_free(ds);
    }
    /* errors name the line */
    CHECK(csv("a.jpg,x\nb.jpg,\"unterminated\n", NULL, err, sizeof err) == NULL);
    CHECK_HAS(err, "m.csv:2: unterminated");
    CHECK(csv("a.jpg,x\nb.jpg,ab\"c\n", NULL, err, sizeof err) == NULL);
    CHECK_HAS(err, "m.csv:2: quote inside");
    CHECK(csv("a.jpg,\"x\"y\n", NULL, err, sizeof err) == NULL);
    CHECK_HAS(err, "after a closing quote");
    CHECK(csv("a.jpg\n", NULL, err, sizeof err) == NULL);
    CHECK_HAS(err, "m.csv:1: 1 fields");
    CHECK(csv("a.jpg,x,train,4\n", NULL, err, sizeof err) == NULL);
    CHECK(csv("a.jpg,\n", NULL, err, sizeof err) == NULL);
    CHECK_HAS(err, "label is empty");
    CHECK(csv("a.jpg,\xff\xfe\n", NULL, err, sizeof err) == NULL);
    CHECK_HAS(err, "not valid UTF-8");
    CHECK(csv("a.jpg,\"tab\x01\"\n", NULL, err, sizeof err) == NULL);
    CHECK(csv(",x\n", NULL, err, sizeof err) == NULL);
    CHECK_HAS(err, "empty path");
    CHECK(csv("a.jpg,x,holdout\n", NULL, err, sizeof err) == NULL);
    CHECK_HAS(err, "unknown split 'holdout'");
    CHECK(csv("a.jpg,x\rb\n", NULL, err, sizeof err) == NULL);
    CHECK(csv("", NULL, err, sizeof err) == NULL);
    CHECK_HAS(err, "no records");
    char nul[] = "a.jpg,x\n\0b,y\n";
    ev_dataset *d2 = NULL;
    CHECK(ev_dataset_parse_manifest(nul, sizeof nul - 1, "n.csv", ".", EV_DS_CSV, NULL, &d2, err, sizeof err) == EV_ERR_DATA);
    /* path escapes and absolute paths */
    CHECK(csv("../x.jpg,a\n", NULL, err, sizeof err) == NULL);
    CHECK_HAS(err, "escapes");
    CHECK(csv("a/../../x.jpg,a\n", NULL, err, sizeof err) == NULL);
    CHECK(csv("/etc/passwd,a\n", NULL, err, sizeof err) == NULL);
    CHECK_HAS(err, "absolute path");
    CHECK(csv(".,a\n", NULL, err, sizeof err) == NULL);
    CHECK_HAS(err, "does not name a file");
    ds = csv("a/../b/x.jpg,a\n", NULL, err, sizeof err);
    CHECK(ds != NULL);
    if (ds) {
        ev_dataset_item(ds, 0, &it);
        CHECK(!strcmp(it.path, "/data/b/x.jpg"));
        ev_dataset_free(ds);
    }
    ev_dataset_options o = ev_dataset_default_options();
    o.allow_absolute_paths = 1;
    ds = csv("/abs/x.jpg,a\n../y.jpg,b\n", &o, err, sizeof err);
    CHECK_MSG(ds != NULL, "%s", err);
    if (ds) {
        ev_dataset_item(ds, 0, &it);
        CHECK(!strcmp(it.path, "/abs/x.jpg"));
        ev_dataset_item(ds, 1, &it);
        CHECK(!strcmp(it.path, "/data/../y.jpg"));
        ev_dataset_free(ds);
    }
    /* max line length */
    o = ev_dataset_default_options();
    o.max_line_bytes = 16;
    CHECK(csv("a.jpg,x\nthis/is/a/very/long/path.jpg,x\n", &o, err, sizeof err) == NULL);
    CHECK_HAS(err, "m.csv:2: record longer than 16");
    CHECK(csv("a.jpg,\"x\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\"\n", &o, err, sizeof err) == NULL);
    CHECK_HAS(err, "longer than");
}

static void test_jsonl(void)
{
    char err[512];
    ev_item it;
    ev_dataset *ds = jsonl("{\"path\": \"a.jpg\", \"label\": \"x,\\\"y\\\"\", \"split\": \"train\", \"w\": 3}\r\n"
                           "\n"
                           "  \n"
                           "{\"label\": 7, \"path\": \"b/c.jpg\", \"split\": null}\n"
                           "{\"path\": \"d.jpg\", \"label\": \"\\u00e9t\\u00e9\"}",
                           NULL, err, sizeof err);
    CHECK_MSG(ds != NULL, "%s", err);
    if (ds) {
        CHECK(ev_dataset_count(ds) == 3);
        CHECK(ev_dataset_num_classes(ds) == 3);
        CHECK(!strcmp(ev_dataset_class_name(ds, 0), "7"));
        CHECK(!strcmp(ev_dataset_class_name(ds, 1), "x,\"y\""));
        CHECK(!strcmp(ev_dataset_class_name(ds, 2), "été"));
        ev_dataset_item(ds, 0, &it);
        CHECK(it.split == EV_SPLIT_TRAIN && it.label == 1);
        ev_dataset_item(ds, 1, &it);
        CHECK(!strcmp(it.path, "/data/b/c.jpg") && it.label == 0);
        ev_dataset_free(ds);
    }
    CHECK(jsonl("{\"path\": \"a.jpg\", \"label\": \"x\"}\n{\"path\": 3, \"label\": \"x\"}\n", NULL, err, sizeof err) == NULL);
    CHECK_HAS(err, "m.jsonl:2: \"path\" must be a string");
    CHECK(jsonl("{\"path\": \"a.jpg\", \"label\": 1.5}\n", NULL, err, sizeof err) == NULL);
    CHECK(jsonl("{\"path\": \"a.jpg\", \"label\": [1]}\n", NULL, err, sizeof err) == NULL);
    CHECK(jsonl("{\"path\": \"a.jpg\", \"label\": \"x\"} trailing\n", NULL, err, sizeof err) == NULL);
    CHECK_HAS(err, "invalid JSON");
    CHECK(jsonl("[1,2]\n", NULL, err, sizeof err) == NULL);
    CHECK_HAS(err, "expected a JSON object");
    CHECK(jsonl("{\"path\": \"../a.jpg\", \"label\": \"x\"}\n", NULL, err, sizeof err) == NULL);
    CHECK_HAS(err, "escapes");
    CHECK(jsonl("{\"path\": \"a.jpg\", \"label\": \"a\\nb\"}\n", NULL, err, sizeof err) == NULL);
    CHECK_HAS(err, "control characters");
    CHECK(jsonl("{\"path\": \"a.jpg\", \"label\": \"x\", \"split\": 3}\n", NULL, err, sizeof err) == NULL);
    ev_dataset_options o = ev_dataset_default_options();
    o.max_line_bytes = 20;
    CHECK(jsonl("{\"path\": \"a.jpg\", \"label\": \"x\"}\n", &o, err, sizeof err) == NULL);
    CHECK_HAS(err, "longer than 20");
    /* deep nesting is refused by cJSON's nesting limit, not a crash */
    char deep[5000];
    size_t n = 0;
    deep[n++] = '{';
    memcpy(deep + n, "\"a\":", 4);
    n += 4;
    for (int i = 0; i < 2000; i++) deep[n++] = '[';
    deep[n] = 0;
    CHECK(jsonl(deep, NULL, err, sizeof err) == NULL);
}

static void test_manifest_files(void)
{
    char err[512], p[2048];
    ev_dataset *ds = NULL;
    mk("man");
    path(p, sizeof p, "man/list.csv");
    tu_writes(p, "img/a.jpg,x\nimg/b.jpg,y\n");
    CHECK_MSG(ev_dataset_open(p, NULL, &ds, err, sizeof err) == EV_OK, "%s", err);
    if (ds) {
        ev_item it;
        ev_dataset_item(ds, 1, &it);
        char want[2048];
        snprintf(want, sizeof want, "%s/man/img/b.jpg", dir);
        CHECK(!strcmp(it.path, want));
        CHECK(!strcmp(ev_dataset_format_name(ds), "csv"));
        ev_dataset_free(ds);
    }
    path(p, sizeof p, "man/list.jsonl");
    tu_writes(p, "{\"path\":\"a.jpg\",\"label\":\"x\"}\n");
    CHECK_MSG(ev_dataset_open(p, NULL, &ds, err, sizeof err) == EV_OK, "%s", err);
    if (ds) {
        CHECK(!strcmp(ev_dataset_format_name(ds), "jsonl"));
        ev_dataset_free(ds);
    }
    /* explicit format prefix on an odd name */
    path(p, sizeof p, "man/list.txt");
    tu_writes(p, "a.jpg,x\n");
    CHECK(ev_dataset_open(p, NULL, &ds, err, sizeof err) == EV_ERR_UNSUPPORTED);
    CHECK_HAS(err, "cannot tell");
    char spec[2100];
    snprintf(spec, sizeof spec, "csv:%s", p);
    CHECK_MSG(ev_dataset_open(spec, NULL, &ds, err, sizeof err) == EV_OK, "%s", err);
    ev_dataset_free(ds);
    CHECK(ev_dataset_open("", NULL, &ds, err, sizeof err) == EV_ERR_INVALID_ARG);
    CHECK(ev_dataset_open("csv:", NULL, &ds, err, sizeof err) == EV_ERR_INVALID_ARG);
}

int main(void)
{
    tu_tmpdir(dir, sizeof dir, "data-folder");
    test_imagefolder();
    test_csv();
    test_jsonl();
    test_manifest_files();
    tu_rm_rf(dir);
    return tu_done("test_data_folder");
}
