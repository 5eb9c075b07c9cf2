/* fuzz/fuzz_idx.c — IDX (MNIST) images + labels pair. Layout of the input:
 * the first two bytes (little endian) give the length of the images part,
 * which follows; the rest is the labels file. */
#include <stdint.h>

#include "embeval/dataset.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2) return 0;
    size_t ni = (size_t)data[0] | (size_t)data[1] << 8;
    if (ni > size - 2) ni = size - 2;
    const uint8_t *img = data + 2, *lab = data + 2 + ni;
    size_t nl = size - 2 - ni;
    ev_dataset_options o = ev_dataset_default_options();
    o.max_file_bytes = 1 << 20;
    ev_dataset *ds = NULL;
    char err[512];
    if (ev_dataset_parse_idx(img, ni, lab, nl, "fuzz-idx", &o, &ds, err, sizeof err) != EV_OK) return 0;
    volatile unsigned sink = 0;
    for (int64_t i = 0; i < ev_dataset_count(ds); i++) {
        ev_item it;
        if (ev_dataset_item(ds, i, &it) == EV_OK && it.pixels)
            sink += it.pixels[(size_t)it.width * (size_t)it.height * (size_t)it.channels - 1];
    }
    for (int k = 0; k < ev_dataset_num_classes(ds); k++) sink += (unsigned)ev_dataset_class_name(ds, k)[0];
    ev_dataset_select(ds, EV_SPLIT_ALL, 5, 3);
    ev_dataset_free(ds);
    return 0;
}
