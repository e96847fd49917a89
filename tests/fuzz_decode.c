/* fuzz_decode.c: libFuzzer target for every codec's decoder, the sparse list reader and the
 * sparse reductions' messages: arbitrary bytes must be refused or decoded strictly inside
 * the output buffer (run under AddressSanitizer by tests/fuzz.sh). */
#include "compress/codec.h"
#include "compress/wire.h"
#include "collectives/patterns/sparse_vec.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* Decode with the count the header claims (bounded), so fuzzing reaches the payload
     * checks; the first byte's low bit picks accumulate or assign. */
    size_t count = 0;
    if (size >= CCL_WIRE_HDR_LEN)
        count = (size_t)(ccl_get_u32(data + 8) & 0xffff);
    float *out = malloc((count + 1) * sizeof(float));
    if (out == NULL)
        return 0;
    for (size_t i = 0; i < count; i++)
        out[i] = 1.0f;
    ccl_result_t decoded = ccl_codec_decode(data, size, out, count, size > 0 ? data[0] & 1 : 0);
    /* What passes the check without decoding (a GPU decodes it) must decode. */
    if (ccl_codec_check(data, size, count) == CCL_SUCCESS && decoded != CCL_SUCCESS)
        abort();
    uint32_t *idx = NULL;
    float *val = NULL;
    size_t k = 0;
    if (ccl_codec_read_sparse(data, size, count, &idx, &val, &k) == CCL_SUCCESS)
        for (size_t j = 0; j < k; j++)
            out[idx[j]] += val[j]; /* in range, or ASan says so */
    free(idx);
    free(val);
    free(out);
    /* A sparse-reduction message: the last two bytes give the vector's length, the first
     * byte whether the running sum is dense; the sum starts with three entries. */
    if (size >= 3) {
        size_t n = (size_t)(data[size - 2] | data[size - 1] << 8) + 3;
        float *dense = calloc(n, sizeof(float));
        uint32_t *i3 = malloc(3 * sizeof(uint32_t));
        float *v3 = malloc(3 * sizeof(float));
        if (dense != NULL && i3 != NULL && v3 != NULL) {
            ccl_svec_t v;
            ccl_svec_init(&v, n, dense);
            for (uint32_t j = 0; j < 3; j++) {
                i3[j] = j * (uint32_t)(n / 3);
                v3[j] = 1.0f;
            }
            ccl_svec_adopt(&v, i3, v3, 3);
            i3 = NULL;
            v3 = NULL;
            if (data[0] & 2)
                ccl_svec_densify(&v);
            (void)ccl_svec_add_msg(NULL, 1, &v, data, size - 2);
            ccl_svec_free(&v);
        }
        free(i3);
        free(v3);
        free(dense);
    }
    return 0;
}
