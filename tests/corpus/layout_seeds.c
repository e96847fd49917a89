/* layout_seeds.c: writes the decode corpus's layout seeds: sparse messages encoded tensor by
 * tensor under a 5-tensor layout, which decoders take as any sparse message (layout_topk,
 * layout_randomk), and dense ones cut at the tensor boundaries into segments (layout_int,
 * layout_qsgd, layout_terngrad, layout_sign). Built by hand against the compress layer, from
 * the build tree:
 *   gcc -Isrc -Iinclude tests/corpus/layout_seeds.c src/compress/.libs/libcclz_compress.a \
 *       src/base/.libs/libcclz_base.a -lm -o /tmp/layout_seeds
 *   /tmp/layout_seeds tests/corpus/decode */
#include "compress/codec.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    static const char *specs[] = {"topk:ratio=0.05", "randomk:ratio=0.1,fp16_values=1",
                                  "int:bits=4,bucket=16", "qsgd:bits=4,bucket=16", "terngrad",
                                  "sign"};
    static const char *names[] = {"layout_topk", "layout_randomk", "layout_int", "layout_qsgd",
                                  "layout_terngrad", "layout_sign"};
    size_t count[] = {7, 1, 600, 33, 359}, off[5], rows[5] = {0}, cols[5] = {0};
    const size_t n = 1000; /* the fuzz target decodes with the header's count: it fits */
    ccl_layout_t lay = {.n = 5, .total = n, .off = off, .count = count, .rows = rows,
                        .cols = cols};
    float x[1000];
    if (argc != 2) {
        fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
        return 2;
    }
    for (size_t t = 0, at = 0; t < 5; at += count[t], t++)
        off[t] = at;
    for (size_t i = 0; i < n; i++) /* a large tensor beside small ones */
        x[i] = sinf((float)i * 0.37f) * (i >= 8 && i < 608 ? 100.0f : 1.0f);
    for (int s = 0; s < 6; s++) {
        ccl_codec_t c;
        unsigned char buf[16384];
        char path[512];
        size_t len;
        if (ccl_codec_parse(specs[s], &c) != CCL_SUCCESS)
            return 1;
        c.params.layout = &lay;
        /* The dense ones: a piece of 5 parts, as an algorithm cutting the buffer sends. */
        const size_t at = s < 2 ? 0 : 3, m = s < 2 ? n : 700;
        if (ccl_codec_encode_range(&c, x + at, at, m, 12345, buf, sizeof(buf), &len, NULL) !=
            CCL_SUCCESS) {
            fprintf(stderr, "%s: %s\n", specs[s], ccl_get_last_error(NULL));
            return 1;
        }
        snprintf(path, sizeof(path), "%s/%s", argv[1], names[s]);
        FILE *f = fopen(path, "wb");
        if (f == NULL || fwrite(buf, 1, len, f) != len || fclose(f) != 0) {
            fprintf(stderr, "cannot write %s\n", path);
            return 1;
        }
    }
    return 0;
}
