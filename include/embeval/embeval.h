/*
 * embeval.h — umbrella header of libembeval.
 *
 * libembeval evaluates image embedding models: it runs ONNX models on the CPU
 * (model.h), reads and writes NumPy arrays (npy.h), and computes retrieval,
 * clustering and classification metrics. Every sub-header can be included on
 * its own; this one includes them all.
 */
#ifndef EMBEVAL_H
#define EMBEVAL_H

#include "embeval/common.h"
#include "embeval/model.h"
#include "embeval/npy.h"
#include "embeval/metrics.h"
#include "embeval/dataset.h"
#include "embeval/image.h"
#include "embeval/card.h"
#include "embeval/cache.h"
#include "embeval/embed.h"
#include "embeval/bench.h"
#include "embeval/report.h"

#endif
