/* topk.c: exactly the k elements of largest magnitude (ties: the lower index), sent as
 * (index, value) pairs. Selection is a linear-time quickselect on magnitude keys. */
#include "sparse.h"

#include <math.h>
#include <stdlib.h>
#include <stddef.h>
#include <string.h>

static void topk_defaults(ccl_codec_params_t *p) { p->ratio = 0.001; }

static size_t topk_max_payload(const ccl_codec_params_t *p, size_t count)
{
    return ccl_sparse_max_payload(count, ccl_sparse_k(p, count), p->fp16_values, 1);
}

static ccl_result_t topk_encode(const ccl_codec_params_t *p, const float *src, size_t count,
                                uint64_t seed, uint8_t *out, size_t cap, size_t *len_p,
                                uint32_t hp[2], float *recon)
{
    size_t k = ccl_sparse_k(p, count), n = 0;
    uint64_t *keys = NULL, thr = 0;
    uint32_t *idx = malloc(CCL_MAX(k, (size_t)1) * sizeof(uint32_t));
    if (idx == NULL)
        return ccl_set_error(NULL, CCL_ERR_NO_MEMORY, "topk: no memory");
    if (k > 0 && k < count) {
        keys = malloc(count * sizeof(uint64_t));
        if (keys == NULL) {
            free(idx);
            return ccl_set_error(NULL, CCL_ERR_NO_MEMORY, "topk: no memory for %zu keys", count);
        }
        for (size_t i = 0; i < count; i++)
            keys[i] = ccl_mag_key(src[i], i);
        thr = ccl_kth_largest(keys, count, k);
        free(keys);
    }
    for (size_t i = 0; i < count && n < k; i++)
        if (ccl_mag_key(src[i], i) >= thr)
            idx[n++] = (uint32_t)i;
    ccl_sparse_write(src, count, idx, n, p->fp16_values, 1, out, len_p, hp, recon, p->fb_residual);
    free(idx);
    return CCL_SUCCESS;
}

static int topk_set(ccl_codec_params_t *p, const char *k, const char *v)
{
    return ccl_sparse_set_param(p, k, v);
}

const ccl_codec_ops_t ccl_codec_topk = {
    .size = sizeof(ccl_codec_ops_t), .name = "topk", .id = CCL_CODEC_ID_TOPK,
    .flags = CCL_CODEC_SPARSE,
    .desc = "exact top-k by magnitude, (index, value) pairs",
    .params_doc = "ratio=(0,1] | k=N, fp16_values=0|1",
    .defaults = topk_defaults, .set_param = topk_set, .max_payload = topk_max_payload,
    .encode = topk_encode, .decode = ccl_sparse_decode,
};
