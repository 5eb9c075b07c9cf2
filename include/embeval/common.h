/*
 * embeval/common.h — status codes, logging hook, version, tensors.
 *
 * Every fallible call in libembeval returns an ev_status. The numeric values
 * below are part of the ABI: they are never renumbered or reused. Handles
 * keep a human-readable message about their last failure (ev_model_errmsg()
 * and friends); ev_strerror() names a code.
 *
 * The library never prints and never exits. Progress and diagnostics go
 * through the callback installed with ev_set_log(); without one they are
 * dropped.
 */
#ifndef EMBEVAL_COMMON_H
#define EMBEVAL_COMMON_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(EV_BUILDING_LIB) && defined(__GNUC__)
#define EV_API __attribute__((visibility("default")))
#else
#define EV_API
#endif

#define EV_VERSION_MAJOR 0
#define EV_VERSION_MINOR 1
#define EV_VERSION_PATCH 0
#define EV_VERSION_STRING "0.1.0"

typedef enum ev_status {
    EV_OK = 0,
    EV_ERR_INVALID_ARG = 1,   /* caller passed something invalid (API misuse)  */
    EV_ERR_NOMEM = 2,         /* allocation failed                            */
    EV_ERR_IO = 3,            /* open/read/write failed                       */
    EV_ERR_FORMAT = 4,        /* file is malformed (truncated, bad header...) */
    EV_ERR_UNSUPPORTED = 5,   /* valid but not supported (op, dtype, opset)   */
    EV_ERR_SHAPE = 6,         /* shapes/ranks/element counts do not agree     */
    EV_ERR_LIMIT = 7,         /* a configured resource limit was exceeded     */
    EV_ERR_DATA = 8,          /* bad data values (NaN/Inf, empty class, ...)  */
    EV_ERR_INTERNAL = 9,      /* a bug in embeval                             */
    EV_ERR_BACKEND = 10,      /* oneDNN / libvips / sqlite reported an error  */
    EV_ERR_NOT_FOUND = 11,    /* a named item (input, key, class) is missing  */
    EV_ERR_UNDEFINED = 12     /* a metric is undefined for this input         */
} ev_status;

/* Name of a status code ("invalid argument", ...). Never NULL. */
EV_API const char *ev_strerror(ev_status st);

/* Library version string, e.g. "0.1.0". */
EV_API const char *ev_version(void);

/* ---- logging ---------------------------------------------------------- */
typedef enum ev_log_level {
    EV_LOG_ERROR = 0,
    EV_LOG_WARN = 1,
    EV_LOG_INFO = 2,
    EV_LOG_DEBUG = 3
} ev_log_level;

typedef void (*ev_log_fn)(void *user, ev_log_level level, const char *msg);

/* Install a process-wide log callback (NULL removes it). Not thread-safe
 * with respect to concurrent logging: install it once at start-up. */
EV_API void ev_set_log(ev_log_fn fn, void *user);

/* ---- tensors ---------------------------------------------------------- */
/* Element types use the numeric values of ONNX TensorProto.DataType. */
typedef enum ev_dtype {
    EV_DT_UNDEFINED = 0,
    EV_DT_FLOAT = 1,
    EV_DT_UINT8 = 2,
    EV_DT_INT8 = 3,
    EV_DT_UINT16 = 4,
    EV_DT_INT16 = 5,
    EV_DT_INT32 = 6,
    EV_DT_INT64 = 7,
    EV_DT_STRING = 8,
    EV_DT_BOOL = 9,
    EV_DT_FLOAT16 = 10,
    EV_DT_DOUBLE = 11,
    EV_DT_UINT32 = 12,
    EV_DT_UINT64 = 13,
    EV_DT_BFLOAT16 = 16
} ev_dtype;

#define EV_MAX_RANK 8

/* A dense row-major tensor view. `data` is not owned by the struct. */
typedef struct ev_tensor {
    ev_dtype dtype;
    int rank;
    int64_t dims[EV_MAX_RANK];
    void *data;
} ev_tensor;

/* Bytes per element (0 for STRING/UNDEFINED/unknown). */
EV_API size_t ev_dtype_size(ev_dtype dt);
/* "float32", "int64", ... ("?" for unknown). */
EV_API const char *ev_dtype_name(ev_dtype dt);
/* Number of elements (product of dims; 1 for rank 0); -1 on overflow or a
 * negative dimension. */
EV_API int64_t ev_tensor_numel(const ev_tensor *t);

#ifdef __cplusplus
}
#endif
#endif
