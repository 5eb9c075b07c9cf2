/* fuzz/fuzz_cifar.c — one CIFAR-10 or CIFAR-100 binary batch (the last byte
 * picks the format). Every item's pixels are read back. */
#include <stdint.h>

#include "embeval/dataset.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) return 0;
    ev_dataset_format f = data[size - 1] & 1 ? EV_DS_CIFAR100 : EV_DS_CIFAR10;
    ev_dataset_options o = ev_dataset_default_options();
    o.cifar100_coarse = (data[size - 1] & 2) != 0;
    o.max_file_bytes = 1 << 22;
    ev_dataset *ds = NULL;
    char err[512];
    if (ev_dataset_parse_cifar(data, size - 1, "fuzz-cifar.bin", f, &o, &ds, err, sizeof err) != EV_OK) return 0;
    volatile unsigned sink = 0;
    for (int64_t i = 0; i < ev_dataset_count(ds); i++) {
        ev_item it;
        if (ev_dataset_item(ds, i, &it) == EV_OK && it.pixels)
            sink += it.pixels[(size_t)it.width * (size_t)it.height * (size_t)it.channels - 1] + (unsigned)it.label;
    }
    for (int k = 0; k < ev_dataset_num_classes(ds); k++) sink += (unsigned)ev_dataset_class_name(ds, k)[0];
    ev_dataset_free(ds);
    return 0;
}
