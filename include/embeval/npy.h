/*
 * embeval/npy.h — NumPy .npy files (format versions 1.0, 2.0, 3.0).
 *
 * Reading accepts little-endian float32 ('<f4'), float64 ('<f8', converted
 * to float32 only when asked), int64 ('<i8'), int32 ('<i4'), C order only.
 * The header is parsed strictly and every size is checked against the file
 * length before allocation. Writing always produces version 1.0, C order.
 */
#ifndef EMBEVAL_NPY_H
#define EMBEVAL_NPY_H

#include "embeval/common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ev_array {
    ev_dtype dtype;
    int rank;
    int64_t dims[EV_MAX_RANK];
    void *data;                  /* owned; free with ev_array_free            */
} ev_array;

/* Read `path`. If want != EV_DT_UNDEFINED the data is converted to it
 * (float64->float32, int32->int64, ...) or EV_ERR_FORMAT is returned when the
 * conversion is not allowed. errbuf (may be NULL) receives a one-line message
 * naming the file and the problem. */
EV_API ev_status ev_npy_read(const char *path, ev_dtype want, ev_array *out,
                             char *errbuf, size_t errlen);
/* Same from memory (for fuzzing). `name` is used in messages. */
EV_API ev_status ev_npy_parse(const void *buf, size_t len, const char *name, ev_dtype want,
                              ev_array *out, char *errbuf, size_t errlen);
/* Write a tensor as .npy (float32, int64, int32, uint8 or bool). The file is
 * written to a temporary name and renamed into place. */
EV_API ev_status ev_npy_write(const char *path, const ev_tensor *t, char *errbuf, size_t errlen);
/* Release data; the struct is reset. NULL is a no-op. */
EV_API void ev_array_free(ev_array *a);

#ifdef __cplusplus
}
#endif
#endif
