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

/* Key ordering magnitude first, then lower index: distinct for distinct indices. */
static uint64_t mag_key(float x, size_t i)
{
    uint32_t b;
    memcpy(&b, &x, 4);
    return (uint64_t)(b & 0x7fffffffu) << 32 | (uint32_t)(0xffffffffu - (uint32_t)i);
}

/* Returns the k-th largest of keys[0..n) (1-based k), reordering keys: quickselect with a
 * three-way partition (larger | equal | smaller) around a median-of-three pivot. */
static uint64_t kth_largest(uint64_t *keys, size_t n, size_t k)
{
    ptrdiff_t lo = 0, hi = (ptrdiff_t)n - 1, want = (ptrdiff_t)k - 1;
    while (lo < hi) {
        uint64_t a = keys[lo], b = keys[lo + (hi - lo) / 2], c = keys[hi];
        uint64_t pivot = a < b ? (b < c ? b : (a < c ? c : a)) : (a < c ? a : (b < c ? c : b));
        ptrdiff_t lt = lo, i = lo, gt = hi;
        while (i <= gt) {
            uint64_t t = keys[i];
            if (t > pivot) {
                keys[i++] = keys[lt];
                keys[lt++] = t;
            } else if (t < pivot) {
                keys[i] = keys[gt];
                keys[gt--] = t;
            } else {
                i++;
            }
        }
        if (want < lt)
            hi = lt - 1;
        else if (want > gt)
            lo = gt + 1;
        else
            return pivot;
    }
    return keys[want];
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
            keys[i] = mag_key(src[i], i);
        thr = kth_largest(keys, count, k);
        free(keys);
    }
    for (size_t i = 0; i < count && n < k; i++)
        if (mag_key(src[i], i) >= thr)
            idx[n++] = (uint32_t)i;
    ccl_sparse_write(src, count, idx, n, p->fp16_values, 1, out, len_p, hp, recon);
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
