/* IDX (raw, gzip, hostile headers, the real Fashion-MNIST) and CIFAR batches. */
#include <zlib.h>

#include "embeval/dataset.h"
#include "pipeline/tu.h"

static char dir[512];

static size_t idx_images(uint8_t *buf, uint32_t n, uint32_t rows, uint32_t cols)
{
    uint8_t h[16] = {0, 0, 8, 3};
    uint32_t d[3] = {n, rows, cols};
    for (int i = 0; i < 3; i++) {
        h[4 + 4 * i] = (uint8_t)(d[i] >> 24);
        h[5 + 4 * i] = (uint8_t)(d[i] >> 16);
        h[6 + 4 * i] = (uint8_t)(d[i] >> 8);
        h[7 + 4 * i] = (uint8_t)d[i];
    }
    memcpy(buf, h, 16);
    return 16;
}

static size_t idx_labels(uint8_t *buf, uint32_t n)
{
    uint8_t h[8] = {0, 0, 8, 1, (uint8_t)(n >> 24), (uint8_t)(n >> 16), (uint8_t)(n >> 8), (uint8_t)n};
    memcpy(buf, h, 8);
    return 8;
}

static void write_gz(const char *path, const void *data, size_t len)
{
    gzFile g = gzopen(path, "wb");
    if (!g || gzwrite(g, data, (unsigned)len) != (int)len || gzclose(g) != Z_OK) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(2);
    }
}

static void test_idx_synthetic(void)
{
    char err[512], p[1024], q[1024];
    uint8_t img[16 + 5 * 4 * 3], lab[8 + 5];
    size_t hi = idx_images(img, 5, 4, 3), hl = idx_labels(lab, 5);
    for (int i = 0; i < 5 * 12; i++) img[hi + i] = (uint8_t)i;
    for (int i = 0; i < 5; i++) lab[hl + i] = (uint8_t)(i * 2);

    /* in memory */
    ev_dataset *ds = NULL;
    CHECK(ev_dataset_parse_idx(img, sizeof img, lab, sizeof lab, "mem", NULL, &ds, err, sizeof err) == EV_OK);
    CHECK(ev_dataset_count(ds) == 5);
    ev_item it;
    CHECK(ev_dataset_item(ds, 3, &it) == EV_OK);
    CHECK(it.path == NULL && it.pixels && it.width == 3 && it.height == 4 && it.channels == 1);
    CHECK(it.label == 6 && it.pixels[0] == 36 && it.pixels[11] == 47);
    CHECK_HAS(it.name, "mem[3]");
    ev_dataset_free(ds);

    /* gzip'd pair in a directory: split from the file name; digits as class names */
    snprintf(p, sizeof p, "%s/idx", dir);
    tu_mkdir(p);
    snprintf(q, sizeof q, "%s/idx/train-images-idx3-ubyte.gz", dir);
    write_gz(q, img, sizeof img);
    snprintf(q, sizeof q, "%s/idx/train-labels-idx1-ubyte.gz", dir);
    write_gz(q, lab, sizeof lab);
    snprintf(q, sizeof q, "%s/idx/t10k-images-idx3-ubyte", dir); /* raw */
    tu_write(q, img, sizeof img);
    snprintf(q, sizeof q, "%s/idx/t10k-labels-idx1-ubyte", dir);
    tu_write(q, lab, sizeof lab);
    CHECK_MSG(ev_dataset_open(p, NULL, &ds, err, sizeof err) == EV_OK, "%s", err);
    CHECK(ds && !strcmp(ev_dataset_format_name(ds), "idx"));
    CHECK(ev_dataset_count(ds) == 10);
    CHECK(ev_dataset_split_count(ds, EV_SPLIT_TRAIN) == 5 && ev_dataset_split_count(ds, EV_SPLIT_TEST) == 5);
    CHECK(ev_dataset_num_classes(ds) == 10 && !strcmp(ev_dataset_class_name(ds, 7), "7"));
    ev_dataset_item(ds, 0, &it);
    CHECK(it.split == EV_SPLIT_TRAIN); /* train first */
    ev_dataset_item(ds, 9, &it);
    CHECK(it.split == EV_SPLIT_TEST && it.label == 8 && it.pixels[0] == 48);
    ev_dataset_free(ds);
    /* a single images file names its labels file */
    snprintf(q, sizeof q, "idx:%s/idx/t10k-images-idx3-ubyte", dir);
    CHECK_MSG(ev_dataset_open(q, NULL, &ds, err, sizeof err) == EV_OK, "%s", err);
    CHECK(ev_dataset_count(ds) == 5);
    ev_dataset_free(ds);

    /* hostile: header claims 1,000,000 images but 60 bytes follow */
    uint8_t big[16 + 60];
    memcpy(big, img, sizeof big);
    idx_images(big, 1000000, 4, 3);
    uint8_t lab2[8 + 5];
    memcpy(lab2, lab, sizeof lab2);
    idx_labels(lab2, 1000000);
    CHECK(ev_dataset_parse_idx(big, sizeof big, lab2, sizeof lab2, "big", NULL, &ds, err, sizeof err) == EV_ERR_FORMAT);
    CHECK(ds == NULL);
    CHECK_HAS(err, "big");
    /* huge sides */
    idx_images(big, 5, 100000, 3);
    CHECK(ev_dataset_parse_idx(big, sizeof big, lab, sizeof lab, "side", NULL, &ds, err, sizeof err) == EV_ERR_FORMAT);
    CHECK_HAS(err, "out of range");
    /* count mismatch */
    idx_images(big, 4, 4, 3);
    CHECK(ev_dataset_parse_idx(big, 16 + 48, lab, sizeof lab, "mm", NULL, &ds, err, sizeof err) == EV_ERR_FORMAT);
    CHECK_HAS(err, "4 images but 5 labels");
    /* trailing bytes */
    idx_images(big, 5, 4, 3);
    uint8_t trail[16 + 61] = {0};
    memcpy(trail, img, sizeof img);
    CHECK(ev_dataset_parse_idx(trail, sizeof trail, lab, sizeof lab, "tr", NULL, &ds, err, sizeof err) == EV_ERR_FORMAT);
    /* bad magic, bad type, short */
    uint8_t bad[16 + 60];
    memcpy(bad, img, sizeof bad);
    bad[0] = 0x1f;
    CHECK(ev_dataset_parse_idx(bad, sizeof bad, lab, sizeof lab, "m", NULL, &ds, err, sizeof err) == EV_ERR_FORMAT);
    CHECK_HAS(err, "not an IDX file");
    bad[0] = 0;
    bad[2] = 0x0d; /* float */
    CHECK(ev_dataset_parse_idx(bad, sizeof bad, lab, sizeof lab, "t", NULL, &ds, err, sizeof err) == EV_ERR_UNSUPPORTED);
    CHECK(ev_dataset_parse_idx(img, 3, lab, sizeof lab, "s", NULL, &ds, err, sizeof err) == EV_ERR_FORMAT);
    CHECK(ev_dataset_parse_idx(img, 10, lab, sizeof lab, "s", NULL, &ds, err, sizeof err) == EV_ERR_FORMAT);
    /* label out of range */
    uint8_t lab3[8 + 5];
    memcpy(lab3, lab, sizeof lab3);
    lab3[8 + 2] = 10;
    CHECK(ev_dataset_parse_idx(img, sizeof img, lab3, sizeof lab3, "l", NULL, &ds, err, sizeof err) == EV_ERR_DATA);
    CHECK_HAS(err, "item 2 has label 10");
    /* item limit */
    ev_dataset_options o = ev_dataset_default_options();
    o.max_items = 4;
    CHECK(ev_dataset_parse_idx(img, sizeof img, lab, sizeof lab, "lim", &o, &ds, err, sizeof err) == EV_ERR_LIMIT);

    /* truncated gzip stream */
    snprintf(p, sizeof p, "%s/trunc", dir);
    tu_mkdir(p);
    snprintf(q, sizeof q, "%s/trunc/train-images-idx3-ubyte.gz", dir);
    write_gz(q, img, sizeof img);
    FILE *f = fopen(q, "r+b");
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fclose(f);
    CHECK(truncate(q, sz - 12) == 0);
    snprintf(q, sizeof q, "%s/trunc/train-labels-idx1-ubyte.gz", dir);
    write_gz(q, lab, sizeof lab);
    CHECK(ev_dataset_open(p, NULL, &ds, err, sizeof err) == EV_ERR_FORMAT);
    CHECK_HAS(err, "train-images-idx3-ubyte.gz");
    /* decompressed size limit */
    snprintf(q, sizeof q, "%s/idx/train-images-idx3-ubyte.gz", dir);
    o = ev_dataset_default_options();
    o.max_file_bytes = 50;
    CHECK(ev_dataset_open(q, &o, &ds, err, sizeof err) == EV_ERR_LIMIT);
    /* missing labels file */
    snprintf(q, sizeof q, "%s/trunc/train-labels-idx1-ubyte.gz", dir);
    unlink(q);
    snprintf(q, sizeof q, "%s/trunc/train-images-idx3-ubyte.gz", dir);
    write_gz(q, img, sizeof img);
    CHECK(ev_dataset_open(q, NULL, &ds, err, sizeof err) == EV_ERR_IO);
    CHECK_HAS(err, "labels");
}

static void test_fashion_mnist(void)
{
    char err[512];
    ev_dataset *ds = NULL;
    if (access("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz", R_OK) != 0) {
        fprintf(stderr, "SKIP-PART: Fashion-MNIST not installed\n");
        return;
    }
    CHECK_MSG(ev_dataset_open("fashion-mnist", NULL, &ds, err, sizeof err) == EV_OK, "%s", err);
    if (!ds) return;
    CHECK(ev_dataset_count(ds) == 70000);
    CHECK(ev_dataset_split_count(ds, EV_SPLIT_TRAIN) == 60000);
    CHECK(ev_dataset_split_count(ds, EV_SPLIT_TEST) == 10000);
    CHECK(ev_dataset_num_classes(ds) == 10);
    CHECK(!strcmp(ev_dataset_class_name(ds, 0), "T-shirt/top"));
    CHECK(!strcmp(ev_dataset_class_name(ds, 9), "Ankle boot"));
    CHECK(ev_dataset_select(ds, EV_SPLIT_TEST, 0, 0) == EV_OK);
    CHECK(ev_dataset_count(ds) == 10000);
    int per[10] = {0};
    ev_item it;
    for (int64_t i = 0; i < 10000; i++) {
        ev_dataset_item(ds, i, &it);
        per[it.label]++;
    }
    for (int c = 0; c < 10; c++) CHECK(per[c] == 1000);
    ev_dataset_item(ds, 0, &it);
    /* the first test image is an ankle boot (label 9), 28x28 grey */
    CHECK(it.label == 9 && it.width == 28 && it.height == 28 && it.channels == 1);
    CHECK(it.index == 60000 && it.split == EV_SPLIT_TEST);
    ev_dataset_free(ds);
    /* reading only the test files */
    ev_dataset_options o = ev_dataset_default_options();
    o.load_split = EV_SPLIT_TEST;
    CHECK(ev_dataset_open("fashion-mnist", &o, &ds, err, sizeof err) == EV_OK);
    if (ds) {
        CHECK(ev_dataset_total(ds) == 10000 && ev_dataset_split_count(ds, EV_SPLIT_TRAIN) == 0);
        CHECK(!strcmp(ev_dataset_class_name(ds, 3), "Dress"));
        ev_dataset_free(ds);
    }
    o.load_split = EV_SPLIT_VAL;
    CHECK(ev_dataset_open("fashion-mnist", &o, &ds, err, sizeof err) == EV_ERR_DATA);
    CHECK_HAS(err, "no items in split 'val'");
}

static void cifar_record(uint8_t *r, int nlab, int l0, int l1, int seed)
{
    r[0] = (uint8_t)l0;
    if (nlab == 2) r[1] = (uint8_t)l1;
    for (int i = 0; i < 3072; i++) r[nlab + i] = (uint8_t)(i * 7 + seed);
}

static void test_cifar(void)
{
    char err[512], p[1024], q[2048];
    ev_dataset *ds = NULL;
    /* CIFAR-10 directory: two train batches + test, names from batches.meta.txt */
    snprintf(p, sizeof p, "%s/cifar-10-batches-bin", dir);
    tu_mkdir(p);
    uint8_t *buf = malloc(3073 * 4);
    for (int i = 0; i < 4; i++) cifar_record(buf + i * 3073, 1, i + 1, 0, i);
    snprintf(q, sizeof q, "%s/data_batch_1.bin", p);
    tu_write(q, buf, 3073 * 4);
    snprintf(q, sizeof q, "%s/data_batch_2.bin", p);
    tu_write(q, buf, 3073 * 2);
    snprintf(q, sizeof q, "%s/test_batch.bin", p);
    tu_write(q, buf, 3073 * 3);
    snprintf(q, sizeof q, "%s/batches.meta.txt", p);
    tu_writes(q, "plane\ncar\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n\n");
    CHECK_MSG(ev_dataset_open(p, NULL, &ds, err, sizeof err) == EV_OK, "%s", err);
    if (ds) {
        CHECK(!strcmp(ev_dataset_format_name(ds), "cifar10"));
        CHECK(ev_dataset_count(ds) == 9);
        CHECK(ev_dataset_split_count(ds, EV_SPLIT_TRAIN) == 6 && ev_dataset_split_count(ds, EV_SPLIT_TEST) == 3);
        CHECK(!strcmp(ev_dataset_class_name(ds, 1), "car"));
        ev_item it;
        ev_dataset_item(ds, 2, &it);
        CHECK(it.label == 3 && it.width == 32 && it.height == 32 && it.channels == 3);
        /* HWC: pixel (0,1) red = plane byte 1, green = plane byte 1025 */
        CHECK(it.pixels[3] == (uint8_t)(1 * 7 + 2) && it.pixels[4] == (uint8_t)(1025 * 7 + 2) &&
              it.pixels[5] == (uint8_t)(2049 * 7 + 2));
        ev_dataset_free(ds);
    }
    /* a size that is not a whole number of records */
    snprintf(q, sizeof q, "cifar10:%s/bad.bin", dir);
    tu_write(q + 8, buf, 3073 + 5);
    CHECK(ev_dataset_open(q, NULL, &ds, err, sizeof err) == EV_ERR_FORMAT);
    CHECK_HAS(err, "bad.bin");
    /* label out of range */
    buf[0] = 10;
    CHECK(ev_dataset_parse_cifar(buf, 3073, "x", EV_DS_CIFAR10, NULL, &ds, err, sizeof err) == EV_ERR_DATA);
    CHECK(ev_dataset_parse_cifar(buf, 0, "x", EV_DS_CIFAR10, NULL, &ds, err, sizeof err) == EV_ERR_FORMAT);
    free(buf);

    /* CIFAR-100: fine labels by default, coarse on request, numeric names without meta */
    buf = malloc(3074 * 3);
    for (int i = 0; i < 3; i++) cifar_record(buf + i * 3074, 2, 19 - i, 99 - i, i);
    CHECK(ev_dataset_parse_cifar(buf, 3074 * 3, "c100", EV_DS_CIFAR100, NULL, &ds, err, sizeof err) == EV_OK);
    if (ds) {
        ev_item it;
        ev_dataset_item(ds, 1, &it);
        CHECK(it.label == 98 && ev_dataset_num_classes(ds) == 100);
        CHECK(!strcmp(ev_dataset_class_name(ds, 98), "98"));
        ev_dataset_free(ds);
    }
    ev_dataset_options o = ev_dataset_default_options();
    o.cifar100_coarse = 1;
    CHECK(ev_dataset_parse_cifar(buf, 3074 * 3, "c100", EV_DS_CIFAR100, &o, &ds, err, sizeof err) == EV_OK);
    if (ds) {
        ev_item it;
        ev_dataset_item(ds, 1, &it);
        CHECK(it.label == 18 && ev_dataset_num_classes(ds) == 20);
        ev_dataset_free(ds);
    }
    snprintf(p, sizeof p, "%s/cifar-100-binary", dir);
    tu_mkdir(p);
    snprintf(q, sizeof q, "%s/test.bin", p);
    tu_write(q, buf, 3074 * 3);
    snprintf(q, sizeof q, "%s/fine_label_names.txt", p);
    FILE *f = fopen(q, "w");
    for (int i = 0; i < 100; i++) fprintf(f, "class_%d\n", i);
    fclose(f);
    CHECK_MSG(ev_dataset_open(p, NULL, &ds, err, sizeof err) == EV_OK, "%s", err);
    if (ds) {
        CHECK(!strcmp(ev_dataset_format_name(ds), "cifar100"));
        CHECK(ev_dataset_split_count(ds, EV_SPLIT_TEST) == 3);
        CHECK(!strcmp(ev_dataset_class_name(ds, 97), "class_97"));
        ev_dataset_free(ds);
    }
    free(buf);
}

int main(void)
{
    tu_tmpdir(dir, sizeof dir, "data-bin");
    test_idx_synthetic();
    test_fashion_mnist();
    test_cifar();
    tu_rm_rf(dir);
    return tu_done("test_data_binary");
}
