/* randomk.c: k elements chosen by a seed every rank shares, so only the values travel. */
#include "compress/sparse.h"

#include <stdlib.h>

static const ccl_param_field_t randomk_params[] = {CCL_SPARSE_PARAMS("0.01"), CCL_PARAM_END};

static size_t randomk_max_payload(const ccl_codec_params_t *p, size_t count)
{
    return ccl_sparse_max_payload(count, ccl_sparse_k(p, count), p->fp16_values, 0);
}

static ccl_result_t randomk_choose(const ccl_codec_params_t *p, const float *src,
                                   size_t count, uint64_t seed, uint32_t **idx_p, size_t *k_p)
{
    size_t k = ccl_sparse_k(p, count);
    uint32_t *idx = malloc(CCL_MAX(k, (size_t)1) * sizeof(uint32_t));
    (void)src;
    if (idx == NULL || (k > 0 && ccl_randomk_indices(seed, count, k, idx) != 0)) {
        free(idx);
        return ccl_set_error(NULL, CCL_ERR_NO_MEMORY, "randomk: no memory");
    }
    *idx_p = idx;
    *k_p = k;
    return CCL_SUCCESS;
}

static ccl_result_t randomk_encode(const ccl_codec_params_t *p, const float *src, size_t count,
                                   uint64_t seed, uint8_t *out, size_t cap, size_t *len_p,
                                   uint32_t hp[2], float *recon)
{
    (void)cap;
    return ccl_sparse_encode_selected(randomk_choose, 0, p, src, count, seed, out, len_p, hp,
                                      recon);
}

const ccl_codec_ops_t ccl_codec_randomk = {
    .size = sizeof(ccl_codec_ops_t), .name = "randomk", .id = CCL_CODEC_ID_RANDOMK,
    .flags = CCL_CODEC_SPARSE | CCL_CODEC_NEEDS_SHARED_SEED,
    .desc = "k elements drawn from a seed shared by all ranks; only values travel",
    .params = randomk_params,
    .max_payload = randomk_max_payload, .encode = randomk_encode,
    .decode = ccl_sparse_decode, .select = randomk_choose,
};
