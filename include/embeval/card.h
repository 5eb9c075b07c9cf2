/*
 * embeval/card.h — model cards: what a model is, where its file is, how its
 * inputs must be preprocessed, what it may be used for.
 *
 * A card is a JSON file (reference: docs/model-cards.md):
 *
 *   {
 *     "embeval_card": 1,
 *     "name": "mobilenet_v3_small",
 *     "file": "mobilenet_v3_small.onnx",       relative to the card
 *     "input": "input", "output": "embedding", "embedding_dim": 576,
 *     "normalize": true,                        L2-normalise embeddings
 *     "preprocess": {
 *       "resize": 256,                          shorter side; [h, w] = exact
 *       "interpolation": "bilinear", "antialias": true,
 *       "crop": 224,                            or [h, w]; or "crop_pct"
 *       "channel_order": "RGB", "range": "0-1",
 *       "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225],
 *       "layout": "NCHW"
 *     },
 *     "license": "BSD-3-Clause", "license_url": "...", "source_url": "...",
 *     "runs_locally": true, "runs_locally_why": "...",
 *     "weights": "random-init (no pretrained weights offline)",
 *     "citations": ["..."], "notes": "..."
 *   }
 *
 * Validation is strict: a wrong type or value is an error naming the card
 * and the key ("preprocess.mean must be an array of 3 numbers"); unknown
 * keys are warnings (kept in the card and sent to the log callback).
 *
 * A model given as a bare .onnx file gets a default card: timm's default
 * preprocessing (ev_preprocess_default: resize 256 bicubic, crop 224,
 * ImageNet mean/std), license "unknown", and a warning saying so.
 */
#ifndef EMBEVAL_CARD_H
#define EMBEVAL_CARD_H

#include "embeval/common.h"
#include "embeval/image.h"

#ifdef __cplusplus
extern "C" {
#endif

/* All strings are owned by the card; optional ones are "" when absent. */
typedef struct ev_card {
    const char *card_path;       /* the JSON file, "" for a default card      */
    const char *name;
    const char *architecture;
    const char *file;            /* as written in the card                    */
    const char *model_path;      /* file resolved against the card directory  */
    const char *input_name;      /* "" = the model's only input               */
    const char *output_name;     /* "" = the model's first output             */
    int embedding_dim;           /* 0 = not stated                            */
    int normalize;               /* 1: L2-normalise each embedding            */
    ev_preprocess preprocess;
    const char *license;         /* SPDX id where one exists, else free text  */
    const char *license_url;
    const char *source_url;
    int runs_locally;            /* 1, 0, or -1 when the card does not say    */
    const char *runs_locally_why;
    const char *weights;         /* provenance of the weights in the file     */
    int n_citations;
    const char *const *citations;
    const char *notes;
    const char *training_json;   /* "training" object re-serialised, or ""    */
    int is_default;              /* 1: made up for a bare .onnx file          */
    int n_warnings;
    const char *const *warnings;
} ev_card;

/* Load a card from a .json file, or make the default card for a .onnx file
 * (recognised by the extension). Warnings go to the card and the log. */
EV_API ev_status ev_card_load(const char *path, ev_card **out, char *errbuf, size_t errlen);
/* Parse a card held in memory; `name` is used in messages, `base_dir`
 * resolves "file". */
EV_API ev_status ev_card_parse(const char *json, size_t len, const char *name, const char *base_dir,
                               ev_card **out, char *errbuf, size_t errlen);
/* The default card for a model file (timm defaults, license unknown). */
EV_API ev_status ev_card_default(const char *model_path, ev_card **out, char *errbuf, size_t errlen);
EV_API void ev_card_free(ev_card *card);

/* Human-readable one-line summary of the preprocessing, e.g. "resize 256
 * (shorter side, bilinear, antialias), centre crop 224x224, RGB, [0,1],
 * mean 0.485,0.456,0.406 std 0.229,0.224,0.225, NCHW". */
EV_API ev_status ev_preprocess_summary(const ev_preprocess *p, char *buf, size_t len);

#ifdef __cplusplus
}
#endif
#endif
