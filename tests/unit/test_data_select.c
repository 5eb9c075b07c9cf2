/* Stratified, seeded --limit subsets and split filters. */
#include "embeval/dataset.h"
#include "pipeline/tu.h"

static ev_dataset *make(int n, const int *labels)
{
    size_t ni = 16 + (size_t)n * 4, nl = 8 + (size_t)n;
    uint8_t *img = calloc(ni, 1), *lab = calloc(nl, 1);
    uint8_t hi[16] = {0, 0, 8, 3, (uint8_t)(n >> 24), (uint8_t)(n >> 16), (uint8_t)(n >> 8), (uint8_t)n, 0, 0, 0, 2, 0, 0, 0, 2};
    uint8_t hl[8] = {0, 0, 8, 1, (uint8_t)(n >> 24), (uint8_t)(n >> 16), (uint8_t)(n >> 8), (uint8_t)n};
    memcpy(img, hi, 16);
    memcpy(lab, hl, 8);
    for (int i = 0; i < n; i++) lab[8 + i] = (uint8_t)labels[i];
    ev_dataset *ds = NULL;
    char err[256];
    if (ev_dataset_parse_idx(img, ni, lab, nl, "sel", NULL, &ds, err, sizeof err) != EV_OK) {
        fprintf(stderr, "%s\n", err);
        exit(2);
    }
    free(img);
    free(lab);
    return ds;
}

static void counts(const ev_dataset *ds, int *per)
{
    memset(per, 0, 10 * sizeof *per);
    for (int64_t i = 0; i < ev_dataset_count(ds); i++) {
        ev_item it;
        ev_dataset_item(ds, i, &it);
        per[it.label]++;
    }
}

int main(void)
{
    /* classes 0..3 with 50, 30, 15, 5 items, interleaved */
    int labels[100], k = 0;
    int want[4] = {50, 30, 15, 5};
    while (k < 100)
        for (int c = 0; c < 4; c++)
            if (want[c]-- > 0) labels[k++] = c;
    ev_dataset *ds = make(100, labels);
    int per[10];

    CHECK(ev_dataset_select(ds, EV_SPLIT_ALL, 20, 7) == EV_OK);
    CHECK(ev_dataset_count(ds) == 20);
    counts(ds, per);
    CHECK(per[0] == 10 && per[1] == 6 && per[2] == 3 && per[3] == 1);

    /* largest remainder: 7 -> 3.5, 2.1, 1.05, 0.35 -> 4, 2, 1, 0 */
    CHECK(ev_dataset_select(ds, EV_SPLIT_ALL, 7, 7) == EV_OK);
    counts(ds, per);
    CHECK(ev_dataset_count(ds) == 7 && per[0] == 4 && per[1] == 2 && per[2] == 1 && per[3] == 0);

    /* deterministic per seed, ordered, distinct; another seed differs */
    int64_t a[30], b[30], c2[30];
    ev_dataset_select(ds, EV_SPLIT_ALL, 30, 123);
    for (int i = 0; i < 30; i++) { ev_item it; ev_dataset_item(ds, i, &it); a[i] = it.index; }
    ev_dataset_select(ds, EV_SPLIT_ALL, 30, 123);
    for (int i = 0; i < 30; i++) { ev_item it; ev_dataset_item(ds, i, &it); b[i] = it.index; }
    ev_dataset_select(ds, EV_SPLIT_ALL, 30, 124);
    for (int i = 0; i < 30; i++) { ev_item it; ev_dataset_item(ds, i, &it); c2[i] = it.index; }
    CHECK(!memcmp(a, b, sizeof a));
    CHECK(memcmp(a, c2, sizeof a) != 0);
    int sorted = 1;
    for (int i = 1; i < 30; i++) if (a[i] <= a[i - 1]) sorted = 0;
    CHECK(sorted);

    /* the draw is roughly uniform within a class: over many seeds every item of class 3 is chosen */
    int seen[100] = {0};
    for (uint64_t s = 0; s < 200; s++) {
        ev_dataset_select(ds, EV_SPLIT_ALL, 20, s);
        for (int64_t i = 0; i < ev_dataset_count(ds); i++) { ev_item it; ev_dataset_item(ds, i, &it); seen[it.index]++; }
    }
    int all_seen = 1;
    for (int i = 0; i < 100; i++) if (!seen[i]) all_seen = 0;
    CHECK(all_seen);
    /* class 0 items: each expected 200 * 10/50 = 40 times */
    int lo = 1000, hi = 0;
    for (int i = 0; i < 100; i++) if (labels[i] == 0) { if (seen[i] < lo) lo = seen[i]; if (seen[i] > hi) hi = seen[i]; }
    CHECK_MSG(lo >= 15 && hi <= 70, "lo %d hi %d", lo, hi);

    /* limit >= n or 0: everything */
    CHECK(ev_dataset_select(ds, EV_SPLIT_ALL, 1000, 1) == EV_OK && ev_dataset_count(ds) == 100);
    CHECK(ev_dataset_select(ds, EV_SPLIT_ALL, 0, 1) == EV_OK && ev_dataset_count(ds) == 100);
    /* no split in IDX memory parse */
    CHECK(ev_dataset_select(ds, EV_SPLIT_TEST, 0, 1) == EV_ERR_NOT_FOUND);
    CHECK(ev_dataset_count(ds) == 100); /* failed select keeps the old selection */
    CHECK(ev_dataset_select(ds, EV_SPLIT_NONE, 3, 1) == EV_OK && ev_dataset_count(ds) == 3);
    ev_dataset_free(ds);

    ev_split sp;
    CHECK(ev_split_parse("validation", &sp) == 0 && sp == EV_SPLIT_VAL);
    CHECK(ev_split_parse("TEST", &sp) == 0 && sp == EV_SPLIT_TEST);
    CHECK(ev_split_parse("all", &sp) == 0 && sp == EV_SPLIT_ALL);
    CHECK(ev_split_parse("dev", &sp) == -1);
    return tu_done("test_data_select");
}
