/*
 * lib/onnx/weights.h — residency of a graph's large initializers (internal;
 * implemented in onnx_load.c).
 *
 * A model loaded from a file keeps the raw_data payloads of its large
 * initializers (>= 4 KiB) in place: the file is read once into one anonymous
 * mapping, the payloads are moved to 64-byte aligned offsets inside it and
 * the initializers point there (no second copy while parsing). Such a
 * payload is an "entry": after the oneDNN fast path has reordered a weight
 * into its own layout the plain copy can be *evicted* (its whole pages are
 * returned to the system with MADV_DONTNEED) and *restored* later from the
 * file (pread through the descriptor kept open since the load; the file's
 * size and modification time must not have changed).
 *
 * Rules (the caller's side of the contract):
 *   - data of an evicted entry must not be read: every reader of graph
 *     constants that runs after a plan pass may have evicted something calls
 *     ev_graph_const_restore() first (plan building restores everything);
 *   - ev_graph_const_need() marks an entry as read at run time by some plan
 *     (reference kernels, constants bound in place): it is restored and never
 *     evicted again while the graph lives;
 *   - eviction is only for data that every plan reads solely as the source
 *     of a weights reorder, and never for "needed" entries.
 * Pointers that are not the start of an entry (arena constants, buffers of
 * models loaded from memory) are ignored by all functions: they are always
 * resident.
 */
#ifndef EV_ONNX_WEIGHTS_H
#define EV_ONNX_WEIGHTS_H

#include "onnx/ir.h"

/* 1 if data is the start of an entry (an evictable initializer payload). */
int ev_graph_const_is_entry(const ev_graph *g, const void *data);
/* 1 if data is the start of an entry that is evicted now. */
int ev_graph_const_is_evicted(const ev_graph *g, const void *data);
/* Evict the entry starting at data unless it is needed; 1 if evicted now. */
int ev_graph_const_release(const ev_graph *g, const void *data);
/* Make the entry starting at data resident again (no-op otherwise). */
ev_status ev_graph_const_restore(const ev_graph *g, const void *data, ev_err *err);
/* Restore every evicted entry. */
ev_status ev_graph_const_restore_all(const ev_graph *g, ev_err *err);
/* Restore and pin: never evicted again. */
ev_status ev_graph_const_need(const ev_graph *g, const void *data, ev_err *err);

/* Statistics (tests, logs). */
typedef struct ev_graph_const_stats {
    int n_entries;
    int n_evicted;
    int64_t entry_bytes;          /* payload bytes of all entries              */
    int64_t evicted_bytes;        /* bytes returned to the system (pages)      */
} ev_graph_const_stats;
void ev_graph_const_stats_get(const ev_graph *g, ev_graph_const_stats *out);

#endif
