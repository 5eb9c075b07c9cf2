/* fuzz/fuzz_manifest.c — CSV and JSONL manifests (dataset records, quoting,
 * labels, splits, path checks). The last byte picks the format and options;
 * the whole input is parsed as the manifest. On success every item and class
 * name is read back and a stratified selection is made. */
#include <stdint.h>

#include "embeval/dataset.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) return 0;
    uint8_t sel = data[size - 1];
    ev_dataset_options o = ev_dataset_default_options();
    o.allow_absolute_paths = sel & 2;
    o.max_line_bytes = sel & 4 ? 64 : 0;  /* also exercise the line limit */
    o.max_items = 4096;
    ev_dataset *ds = NULL;
    char err[512];
    ev_dataset_format f = sel & 1 ? EV_DS_JSONL : EV_DS_CSV;
    if (ev_dataset_parse_manifest(data, size, "fuzz-manifest", "/fuzz/base", f, &o, &ds, err, sizeof err) != EV_OK)
        return 0;
    int64_t n = ev_dataset_count(ds);
    volatile size_t sink = 0;
    for (int64_t i = 0; i < n; i++) {
        ev_item it;
        if (ev_dataset_item(ds, i, &it) == EV_OK && it.path) sink += it.path[0];
    }
    for (int k = 0; k < ev_dataset_num_classes(ds); k++) sink += ev_dataset_class_name(ds, k)[0];
    for (int w = 0; w < ev_dataset_num_warnings(ds); w++) sink += ev_dataset_warning(ds, w)[0];
    ev_dataset_select(ds, EV_SPLIT_ALL, n / 2 + 1, 7);
    ev_dataset_select(ds, EV_SPLIT_TEST, 3, 1);
    ev_dataset_free(ds);
    return 0;
}
