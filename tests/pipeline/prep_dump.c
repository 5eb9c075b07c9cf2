/*
 * tests/pipeline/prep_dump.c — test helper: decode / resize / preprocess one
 * image with libembeval and write the raw result for a Python comparison.
 *
 *   prep_dump decode IMAGE OUT.u8                  -> W H then RGB bytes
 *   prep_dump resize IMAGE W H INTERP AA OUT.u8    -> resized RGB bytes
 *   prep_dump prep MODE RESIZE INTERP CROP MEAN STD RANGE ORDER OUTPREFIX IMAGE...
 *        writes OUTPREFIX<i>.f32 for the i-th image (0-based)
 *        RESIZE: "s256" (shorter side), "e224x224" (exact HxW), "n" (none)
 *        CROP: "224" or "224x200" (HxW) or "0"; MEAN/STD: "a,b,c"
 *   prep_dump card CARD.json IMAGE MODE OUT.f32     (preprocessing of a card)
 * On error prints the library message and exits 3.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "embeval/embeval.h"

static ev_interp parse_interp(const char *s)
{
    if (!strcmp(s, "nearest")) return EV_INTERP_NEAREST;
    if (!strcmp(s, "bilinear")) return EV_INTERP_BILINEAR;
    if (!strcmp(s, "bicubic")) return EV_INTERP_BICUBIC;
    if (!strcmp(s, "lanczos")) return EV_INTERP_LANCZOS;
    if (!strcmp(s, "box")) return EV_INTERP_BOX;
    if (!strcmp(s, "hamming")) return EV_INTERP_HAMMING;
    fprintf(stderr, "unknown interpolation %s\n", s);
    exit(2);
}

static void write_out(const char *path, const void *d, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(d, 1, n, f) != n || fclose(f)) {
        perror(path);
        exit(1);
    }
}

static void parse3(const char *s, float *v)
{
    if (sscanf(s, "%f,%f,%f", &v[0], &v[1], &v[2]) != 3) {
        fprintf(stderr, "bad triple %s\n", s);
        exit(2);
    }
}

static int run_prep(const ev_preprocess *p, const char *image, const char *mode, const char *out)
{
    char err[1024];
    int c, h, w;
    if (ev_preprocess_output_size(p, &c, &h, &w) != EV_OK) {
        ev_preprocess_validate(p, err, sizeof err);
        fprintf(stderr, "%s\n", err);
        return 2;
    }
    float *t = malloc(sizeof(float) * (size_t)c * h * w);
    ev_image_mode m = !strcmp(mode, "fast") ? EV_IMAGE_FAST : EV_IMAGE_EXACT;
    FILE *f = fopen(image, "rb");
    if (!f) {
        perror(image);
        return 3;
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
        perror(image);
        return 3;
    }
    fclose(f);
    ev_decode_options d = ev_decode_default_options();
    d.min_side = 1;
    if (ev_preprocess_encoded(p, m, &d, buf, (size_t)n, image, t, err, sizeof err) != EV_OK) {
        fprintf(stderr, "%s\n", err);
        return 3;
    }
    write_out(out, t, sizeof(float) * (size_t)c * h * w);
    free(t);
    free(buf);
    return 0;
}

int main(int argc, char **argv)
{
    char err[1024];
    if (argc >= 4 && !strcmp(argv[1], "decode")) {
        ev_image img;
        ev_decode_options d = ev_decode_default_options();
        d.min_side = 1;
        if (ev_image_decode_file(argv[2], &d, &img, err, sizeof err) != EV_OK) {
            fprintf(stderr, "%s\n", err);
            return 3;
        }
        FILE *f = fopen(argv[3], "wb");
        fprintf(f, "%d %d\n", img.width, img.height);
        fwrite(img.data, 1, (size_t)img.width * img.height * 3, f);
        fclose(f);
        ev_image_free(&img);
        return 0;
    }
    if (argc >= 8 && !strcmp(argv[1], "resize")) {
        ev_image img, out;
        ev_decode_options d = ev_decode_default_options();
        d.min_side = 1;
        if (ev_image_decode_file(argv[2], &d, &img, err, sizeof err) != EV_OK) {
            fprintf(stderr, "%s\n", err);
            return 3;
        }
        if (ev_image_resize(&img, atoi(argv[3]), atoi(argv[4]), parse_interp(argv[5]), atoi(argv[6]), &out, err,
                            sizeof err) != EV_OK) {
            fprintf(stderr, "%s\n", err);
            return 3;
        }
        write_out(argv[7], out.data, (size_t)out.width * out.height * 3);
        ev_image_free(&img);
        ev_image_free(&out);
        return 0;
    }
    if (argc >= 12 && !strcmp(argv[1], "prep")) {
        ev_preprocess p = ev_preprocess_default();
        const char *rs = argv[3];
        if (rs[0] == 's') {
            p.resize_mode = EV_RESIZE_SHORTER;
            p.resize_size = atoi(rs + 1);
        } else if (rs[0] == 'e') {
            p.resize_mode = EV_RESIZE_EXACT;
            if (sscanf(rs + 1, "%dx%d", &p.resize_h, &p.resize_w) != 2) return 2;
        } else {
            p.resize_mode = EV_RESIZE_NONE;
        }
        p.interp = parse_interp(argv[4]);
        if (sscanf(argv[5], "%dx%d", &p.crop_h, &p.crop_w) != 2) p.crop_h = p.crop_w = atoi(argv[5]);
        parse3(argv[6], p.mean);
        parse3(argv[7], p.std);
        p.range = (float)atof(argv[8]);
        p.bgr = !strcmp(argv[9], "BGR");
        int worst = 0;
        for (int i = 11; i < argc; i++) {
            char out[4096];
            snprintf(out, sizeof out, "%s%d.f32", argv[10], i - 11);
            int r = run_prep(&p, argv[i], argv[2], out);
            if (r > worst) worst = r;
        }
        return worst;
    }
#ifdef EMBEVAL_CARD_H
    if (argc >= 6 && !strcmp(argv[1], "card")) {
        ev_card *card = NULL;
        if (ev_card_load(argv[2], &card, err, sizeof err) != EV_OK) {
            fprintf(stderr, "%s\n", err);
            return 3;
        }
        int r = run_prep(&card->preprocess, argv[3], argv[4], argv[5]);
        ev_card_free(card);
        return r;
    }
#endif
    fprintf(stderr, "usage: see tests/pipeline/prep_dump.c\n");
    return 2;
}
