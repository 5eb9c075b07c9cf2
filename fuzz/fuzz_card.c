/* fuzz/fuzz_card.c — model card JSON: strict validation of every key, the
 * preprocessing block, and the one-line summary / canonical description of
 * an accepted card's preprocessing. */
#include <stdint.h>

#include "embeval/card.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ev_card *c = NULL;
    char err[512];
    if (ev_card_parse((const char *)data, size, "fuzz-card.json", "/fuzz/models", &c, err, sizeof err) != EV_OK)
        return 0;
    char buf[1024];
    ev_preprocess_summary(&c->preprocess, buf, sizeof buf);
    ev_decode_options d = ev_decode_default_options();
    ev_preprocess_describe(&c->preprocess, EV_IMAGE_EXACT, &d, buf, sizeof buf);
    int ch, h, w;
    if (ev_preprocess_validate(&c->preprocess, err, sizeof err) == EV_OK)
        ev_preprocess_output_size(&c->preprocess, &ch, &h, &w);
    ev_card_free(c);
    return 0;
}
