/*
 * lib/embed/sha256.c — SHA-256 (FIPS 180-4), used for content-addressed
 * cache keys. Straightforward and portable; checked against the FIPS test
 * vectors in tests/unit/test_cache_store.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/util.h"
#include "embeval/cache.h"

static const uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

static inline uint32_t ror(uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }

static void compress(uint32_t st[8], const uint8_t *blk)
{
    uint32_t w[64];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)blk[4 * i] << 24 | (uint32_t)blk[4 * i + 1] << 16 | (uint32_t)blk[4 * i + 2] << 8 |
               blk[4 * i + 3];
    for (int i = 16; i < 64; i++) {
        uint32_t s0 = ror(w[i - 15], 7) ^ ror(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 = ror(w[i - 2], 17) ^ ror(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = st[0], b = st[1], c = st[2], d = st[3], e = st[4], f = st[5], g = st[6], h = st[7];
    for (int i = 0; i < 64; i++) {
        uint32_t S1 = ror(e, 6) ^ ror(e, 11) ^ ror(e, 25);
        uint32_t ch = (e & f) ^ (~e & g);
        uint32_t t1 = h + S1 + ch + K[i] + w[i];
        uint32_t S0 = ror(a, 2) ^ ror(a, 13) ^ ror(a, 22);
        uint32_t mj = (a & b) ^ (a & c) ^ (b & c);
        uint32_t t2 = S0 + mj;
        h = g;
        g = f;
        f = e;
        e = d + t1;
        d = c;
        c = b;
        b = a;
        a = t1 + t2;
    }
    st[0] += a;
    st[1] += b;
    st[2] += c;
    st[3] += d;
    st[4] += e;
    st[5] += f;
    st[6] += g;
    st[7] += h;
}

void ev_sha256_init(ev_sha256_ctx *c)
{
    static const uint32_t H0[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                   0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    memcpy(c->state, H0, sizeof H0);
    c->bytes = 0;
    c->fill = 0;
}

void ev_sha256_update(ev_sha256_ctx *c, const void *data, size_t len)
{
    const uint8_t *p = data;
    c->bytes += len;
    if (c->fill) {
        size_t take = 64 - c->fill < len ? 64 - c->fill : len;
        memcpy(c->buf + c->fill, p, take);
        c->fill += (unsigned)take;
        p += take;
        len -= take;
        if (c->fill < 64) return;
        compress(c->state, c->buf);
        c->fill = 0;
    }
    while (len >= 64) {
        compress(c->state, p);
        p += 64;
        len -= 64;
    }
    if (len) {
        memcpy(c->buf, p, len);
        c->fill = (unsigned)len;
    }
}

void ev_sha256_final(ev_sha256_ctx *c, ev_hash *out)
{
    uint64_t bits = c->bytes * 8;
    uint8_t pad = 0x80;
    ev_sha256_update(c, &pad, 1);
    uint8_t zero = 0;
    while (c->fill != 56) ev_sha256_update(c, &zero, 1);
    uint8_t len[8];
    for (int i = 0; i < 8; i++) len[i] = (uint8_t)(bits >> (56 - 8 * i));
    ev_sha256_update(c, len, 8);
    for (int i = 0; i < 8; i++) {
        out->b[4 * i] = (uint8_t)(c->state[i] >> 24);
        out->b[4 * i + 1] = (uint8_t)(c->state[i] >> 16);
        out->b[4 * i + 2] = (uint8_t)(c->state[i] >> 8);
        out->b[4 * i + 3] = (uint8_t)c->state[i];
    }
}

void ev_sha256(const void *data, size_t len, ev_hash *out)
{
    ev_sha256_ctx c;
    ev_sha256_init(&c);
    ev_sha256_update(&c, data, len);
    ev_sha256_final(&c, out);
}

ev_status ev_sha256_file(const char *path, ev_hash *out, char *errbuf, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errbuf && errlen) snprintf(errbuf, errlen, "cannot open %s: %s", path, strerror(errno));
        return EV_ERR_IO;
    }
    ev_sha256_ctx c;
    ev_sha256_init(&c);
    size_t cap = (size_t)1 << 20;
    uint8_t *buf = malloc(cap);
    if (!buf) {
        close(fd);
        return EV_ERR_NOMEM;
    }
    for (;;) {
        ssize_t r = read(fd, buf, cap);
        if (r < 0) {
            if (errno == EINTR) continue;
            int er = errno;
            close(fd);
            free(buf);
            if (errbuf && errlen) snprintf(errbuf, errlen, "cannot read %s: %s", path, strerror(er));
            return EV_ERR_IO;
        }
        if (r == 0) break;
        ev_sha256_update(&c, buf, (size_t)r);
    }
    close(fd);
    free(buf);
    ev_sha256_final(&c, out);
    return EV_OK;
}

void ev_hash_hex(const ev_hash *h, char out[65])
{
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        out[2 * i] = hex[h->b[i] >> 4];
        out[2 * i + 1] = hex[h->b[i] & 15];
    }
    out[64] = 0;
}
