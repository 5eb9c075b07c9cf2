/* fuzz/fuzz_npy.c — the .npy parser must reject or accept any bytes without
 * crashing, leaking or reading out of bounds. */
#include <stddef.h>
#include <stdint.h>

#include "embeval/npy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256];
    ev_array a;
    if (ev_npy_parse(data, size, "fuzz.npy", EV_DT_UNDEFINED, &a, err, sizeof err) == EV_OK) ev_array_free(&a);
    if (ev_npy_parse(data, size, "fuzz.npy", EV_DT_FLOAT, &a, err, sizeof err) == EV_OK) ev_array_free(&a);
    return 0;
}
