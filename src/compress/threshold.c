/* threshold.c: every element with |x| >= t, as (index, value) pairs. */
#include "compress/sparse.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* No upper bound but float's own: the row refuses what overflows a float. */
static const ccl_param_field_t threshold_params[] = {
    {"t", "0", "keep every element with |x| >= t", CCL_PARAM_REAL,
     CCL_CODEC_PARAM(threshold), .lo = 0, .hi = INFINITY},
    {"threshold", "0", "the same as t", CCL_PARAM_REAL, CCL_CODEC_PARAM(threshold), .lo = 0,
     .hi = INFINITY},
    CCL_SPARSE_FP16_ROW,
    CCL_PARAM_END,
};

static size_t threshold_max_payload(const ccl_codec_params_t *p, size_t count)
{
    return ccl_sparse_max_payload(count, count, p->fp16_values, 1);
}

static ccl_result_t threshold_encode(const ccl_codec_params_t *p, const float *src,
                                     size_t count, uint64_t seed, uint8_t *out, size_t cap,
                                     size_t *len_p, uint32_t hp[2], float *recon)
{
    uint32_t *idx = malloc(CCL_MAX(count, (size_t)1) * sizeof(uint32_t));
    size_t n = 0;
    if (idx == NULL)
        return ccl_set_error(NULL, CCL_ERR_NO_MEMORY, "threshold: no memory");
    for (size_t i = 0; i < count; i++)
        if (fabsf(src[i]) >= p->threshold)
            idx[n++] = (uint32_t)i;
    ccl_sparse_write(src, count, idx, n, p->fp16_values, 1, out, len_p, hp, recon, p->fb_residual);
    free(idx);
    return CCL_SUCCESS;
}

const ccl_codec_ops_t ccl_codec_threshold = {
    .size = sizeof(ccl_codec_ops_t), .name = "threshold", .id = CCL_CODEC_ID_THRESHOLD,
    .flags = CCL_CODEC_SPARSE | CCL_CODEC_PER_ELEMENT,
    .desc = "every element with |x| >= t, (index, value) pairs",
    .params = threshold_params,
    .max_payload = threshold_max_payload, .encode = threshold_encode,
    .decode = ccl_sparse_decode,
};
