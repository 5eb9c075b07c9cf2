/* tests/unit/test_npy.c — .npy reader/writer: round trip, files written by
 * NumPy itself (the oracle, through Debian's /usr/bin/python3), and hostile
 * headers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "embeval/npy.h"
#include "test_util.h"

static char tmpdir[256];

static void path_in(char *buf, size_t n, const char *name) { snprintf(buf, n, "%s/%s", tmpdir, name); }

static void test_roundtrip_via_numpy(void)
{
    float data[6] = {0.5f, -1.25f, 3.0f, 1e-7f, -0.0f, 42.0f};
    ev_tensor t = {EV_DT_FLOAT, 2, {2, 3}, data};
    char p[512], err[256];
    path_in(p, sizeof p, "rt.npy");
    CHECK(ev_npy_write(p, &t, err, sizeof err) == EV_OK);
    ev_array a;
    CHECK(ev_npy_read(p, EV_DT_FLOAT, &a, err, sizeof err) == EV_OK);
    CHECK(a.rank == 2 && a.dims[0] == 2 && a.dims[1] == 3);
    CHECK(memcmp(a.data, data, sizeof data) == 0);
    ev_array_free(&a);
    /* NumPy must read what we wrote, with the same values */
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "/usr/bin/python3 -c \"import numpy as np,sys; a=np.load('%s'); "
             "sys.exit(0 if a.dtype==np.float32 and a.shape==(2,3) and "
             "a.ravel().tolist()==[0.5,-1.25,3.0,np.float32(1e-7).item(),-0.0,42.0] else 1)\"",
             p);
    CHECK(system(cmd) == 0);
    /* rank 1 and rank 0 */
    int64_t iv[3] = {7, -8, 9};
    ev_tensor t1 = {EV_DT_INT64, 1, {3}, iv};
    path_in(p, sizeof p, "r1.npy");
    CHECK(ev_npy_write(p, &t1, err, sizeof err) == EV_OK);
    snprintf(cmd, sizeof cmd,
             "/usr/bin/python3 -c \"import numpy as np,sys; a=np.load('%s'); "
             "sys.exit(0 if a.dtype==np.int64 and a.shape==(3,) and a.tolist()==[7,-8,9] else 1)\"",
             p);
    CHECK(system(cmd) == 0);
}

static void test_files_from_numpy(void)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "/usr/bin/python3 -c \"import numpy as np; d='%s'; "
             "np.save(d+'/f4.npy', np.arange(12, dtype=np.float32).reshape(3,4)/4); "
             "np.save(d+'/f8.npy', np.arange(6, dtype=np.float64)/8); "
             "np.save(d+'/be.npy', np.arange(5, dtype='>f4')); "
             "np.save(d+'/i4.npy', np.arange(4, dtype=np.int32)-2); "
             "np.save(d+'/fo.npy', np.asfortranarray(np.ones((2,3),np.float32))); "
             "np.save(d+'/c8.npy', np.ones(3, np.complex64)); "
             "np.save(d+'/big8.npy', np.arange(2500000, dtype=np.float64)*0.5); "
             "np.save(d+'/bigbe.npy', np.arange(2500000, dtype='>f4')); "
             "np.lib.format.write_array(open(d+'/v2.npy','wb'), np.ones((2,2),np.float32), version=(2,0))\"",
             tmpdir);
    if (system(cmd) != 0) {
        fprintf(stderr, "numpy oracle unavailable\n");
        CHECK(0);
        return;
    }
    char p[512], err[256];
    ev_array a;
    path_in(p, sizeof p, "f4.npy");
    CHECK(ev_npy_read(p, EV_DT_FLOAT, &a, err, sizeof err) == EV_OK);
    CHECK(a.rank == 2 && a.dims[0] == 3 && a.dims[1] == 4);
    for (int i = 0; i < 12; i++) CHECK(((float *)a.data)[i] == i / 4.0f);
    ev_array_free(&a);

    path_in(p, sizeof p, "f8.npy");
    CHECK(ev_npy_read(p, EV_DT_FLOAT, &a, err, sizeof err) == EV_OK);
    for (int i = 0; i < 6; i++) CHECK(((float *)a.data)[i] == i / 8.0f);
    ev_array_free(&a);

    path_in(p, sizeof p, "be.npy");
    CHECK(ev_npy_read(p, EV_DT_FLOAT, &a, err, sizeof err) == EV_OK);
    for (int i = 0; i < 5; i++) CHECK(((float *)a.data)[i] == (float)i);
    ev_array_free(&a);

    path_in(p, sizeof p, "i4.npy");
    CHECK(ev_npy_read(p, EV_DT_INT64, &a, err, sizeof err) == EV_OK);
    for (int i = 0; i < 4; i++) CHECK(((int64_t *)a.data)[i] == i - 2);
    ev_array_free(&a);
    /* int32 is not silently turned into float embeddings */
    CHECK(ev_npy_read(p, EV_DT_FLOAT, &a, err, sizeof err) == EV_ERR_FORMAT);
    CHECK(strstr(err, "i4.npy") != NULL);

    path_in(p, sizeof p, "v2.npy");
    CHECK(ev_npy_read(p, EV_DT_FLOAT, &a, err, sizeof err) == EV_OK);
    CHECK(a.rank == 2 && ((float *)a.data)[3] == 1.0f);
    ev_array_free(&a);

    /* larger than the reader's 8 MiB conversion buffer: several chunks */
    path_in(p, sizeof p, "big8.npy");
    CHECK(ev_npy_read(p, EV_DT_FLOAT, &a, err, sizeof err) == EV_OK);
    CHECK(a.rank == 1 && a.dims[0] == 2500000);
    if (a.data) {
        int bad = 0;
        for (int i = 0; i < 2500000; i++) bad += ((float *)a.data)[i] != i * 0.5f;
        CHECK(bad == 0);
    }
    ev_array_free(&a);
    path_in(p, sizeof p, "bigbe.npy");
    CHECK(ev_npy_read(p, EV_DT_FLOAT, &a, err, sizeof err) == EV_OK);
    if (a.data) {
        int bad = 0;
        for (int i = 0; i < 2500000; i++) bad += ((float *)a.data)[i] != (float)i;
        CHECK(bad == 0);
    }
    ev_array_free(&a);
    /* the same file cut short in its last chunk: truncated, named */
    snprintf(cmd, sizeof cmd, "head -c 9000000 %s/bigbe.npy > %s/cut.npy", tmpdir, tmpdir);
    CHECK(system(cmd) == 0);
    path_in(p, sizeof p, "cut.npy");
    CHECK(ev_npy_read(p, EV_DT_FLOAT, &a, err, sizeof err) == EV_ERR_FORMAT);
    CHECK(strstr(err, "truncated") != NULL && strstr(err, "cut.npy") != NULL);

    path_in(p, sizeof p, "fo.npy");
    CHECK(ev_npy_read(p, EV_DT_FLOAT, &a, err, sizeof err) == EV_ERR_UNSUPPORTED);
    CHECK(strstr(err, "Fortran") != NULL);
    path_in(p, sizeof p, "c8.npy");
    CHECK(ev_npy_read(p, EV_DT_FLOAT, &a, err, sizeof err) == EV_ERR_FORMAT);
    CHECK(strstr(err, "dtype") != NULL);
}

static ev_status parse_str(const char *hdr, size_t data_bytes, char *err, size_t errlen)
{
    size_t hl = strlen(hdr);
    size_t len = 10 + hl + data_bytes;
    unsigned char *b = calloc(1, len);
    memcpy(b, "\x93NUMPY\x01\x00", 8);
    b[8] = (unsigned char)(hl & 0xff);
    b[9] = (unsigned char)(hl >> 8);
    memcpy(b + 10, hdr, hl);
    ev_array a;
    ev_status st = ev_npy_parse(b, len, "x.npy", EV_DT_FLOAT, &a, err, errlen);
    if (st == EV_OK) ev_array_free(&a);
    free(b);
    return st;
}

static void test_hostile(void)
{
    char err[256];
    ev_array a;
    CHECK(ev_npy_parse("", 0, "e.npy", EV_DT_FLOAT, &a, err, sizeof err) == EV_ERR_FORMAT);
    CHECK(strstr(err, "e.npy") != NULL);
    CHECK(ev_npy_parse("hello world, not npy", 20, "t.npy", EV_DT_FLOAT, &a, err, sizeof err) == EV_ERR_FORMAT);
    /* good header, data present */
    CHECK(parse_str("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }\n", 16, err, sizeof err) == EV_OK);
    /* data truncated */
    CHECK(parse_str("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }\n", 15, err, sizeof err) ==
          EV_ERR_FORMAT);
    CHECK(strstr(err, "truncated") != NULL);
    /* enormous shape must not allocate */
    CHECK(parse_str("{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904, 4), }\n", 0, err,
                    sizeof err) == EV_ERR_FORMAT);
    CHECK(parse_str("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999999, ), }\n", 0, err,
                    sizeof err) == EV_ERR_FORMAT);
    /* missing keys, garbage, duplicate keys, too many dims */
    CHECK(parse_str("{'descr': '<f4', 'shape': (2,), }\n", 8, err, sizeof err) == EV_ERR_FORMAT);
    CHECK(parse_str("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), } x\n", 8, err, sizeof err) ==
          EV_ERR_FORMAT);
    CHECK(parse_str("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2,), }\n", 8, err,
                    sizeof err) == EV_ERR_FORMAT);
    CHECK(parse_str("{'descr': '<f4', 'fortran_order': False, 'shape': (1,1,1,1,1,1,1,1,1), }\n", 4, err,
                    sizeof err) == EV_ERR_FORMAT);
    CHECK(parse_str("{'descr': '<f4', 'fortran_order': False, 'shape': (2", 8, err, sizeof err) == EV_ERR_FORMAT);
    /* header length pointing past the end */
    unsigned char b[12] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, 0xff, 0xff, '{', '}'};
    CHECK(ev_npy_parse(b, sizeof b, "h.npy", EV_DT_FLOAT, &a, err, sizeof err) == EV_ERR_FORMAT);
    /* missing file names the file */
    CHECK(ev_npy_read("/nonexistent/dir/x.npy", EV_DT_FLOAT, &a, err, sizeof err) == EV_ERR_IO);
    CHECK(strstr(err, "/nonexistent/dir/x.npy") != NULL);
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/ev_test_npy_XXXXXX");
    if (!mkdtemp(tmpdir)) return 1;
    test_roundtrip_via_numpy();
    test_files_from_numpy();
    test_hostile();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "cleanup failed\n");
    return test_report("test_npy");
}
