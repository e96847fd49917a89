/* topk.c: exactly the k elements of largest magnitude (ties: the lower index), sent as
 * (index, value) pairs.
 *
 * Selection: a strided sample gives a magnitude t that about 2k elements reach; one vector
 * pass (ccl_sparse_collect) gathers every element with |x| >= t, and a quickselect on their
 * (magnitude, index) keys picks the k. When at least k reach t, the k largest of all are
 * among them, so the result is exact whatever the sample; a sample that misses (fewer than
 * k reach t) only costs another pass with a lower t. The sample is count^(2/3) magnitudes,
 * at most 65536 and an eighth of the buffer: a larger sample places t closer to the k-th
 * largest (fewer candidates to refine), a smaller one costs less, and the candidates beyond
 * 2k that a sample of ns leaves grow as sqrt(k count / ns), which this size balances (a
 * layout's tensors get far smaller samples than the whole buffer would). Buffers under 8192 elements,
 * and ratios above 1/8, go straight to a quickselect on every key. */
#include "compress/sparse.h"

#include <math.h>
#include <stdlib.h>
#include <stddef.h>
#include <string.h>

#define TOPK_SAMPLES 65536 /* sampled magnitudes, when the buffer is large enough */

static const ccl_param_field_t topk_params[] = {CCL_SPARSE_PARAMS("0.001"), CCL_PARAM_END};

static size_t topk_max_payload(const ccl_codec_params_t *p, size_t count)
{
    return ccl_sparse_max_payload(count, ccl_sparse_k(p, count), p->fp16_values, 1);
}

/* Keeps, in index order, the k of cand[0..n) with the largest keys (n >= k). */
static ccl_result_t select_among(const float *src, uint32_t *cand, size_t n, size_t k)
{
    uint64_t *keys = malloc(CCL_MAX(n, (size_t)1) * sizeof(uint64_t)), kth;
    size_t kept = 0;
    if (keys == NULL)
        return CCL_ERR_NO_MEMORY;
    for (size_t j = 0; j < n; j++)
        keys[j] = ccl_mag_key(src[cand[j]], cand[j]);
    kth = ccl_kth_largest(keys, n, k);
    free(keys);
    for (size_t j = 0; j < n && kept < k; j++) /* in place: kept <= j */
        if (ccl_mag_key(src[cand[j]], cand[j]) >= kth)
            cand[kept++] = cand[j];
    return CCL_SUCCESS;
}

/* How many magnitudes to sample from count elements (count >= 8192): count^(2/3), at most
 * TOPK_SAMPLES and an eighth of the buffer. */
static size_t sample_size(size_t count)
{
    const double c = cbrt((double)count);
    size_t ns = (size_t)(c * c);
    return CCL_MIN(CCL_MIN(ns, (size_t)TOPK_SAMPLES), count / 8);
}

/* A strided sample of the magnitudes (ccl_mag_bits), as keys for ccl_kth_largest; returns
 * its size (at most twice sample_size). It reads runs of SAMPLE_RUN neighbours, a cache
 * line each, so that the sample costs a sixteenth of the memory reads single elements at
 * the same stride would. */
#define SAMPLE_RUN 16
static size_t take_sample(const float *src, size_t count, uint64_t *s)
{
    size_t stride = count / (sample_size(count) / SAMPLE_RUN), nr = count / stride, ns = 0;
    for (size_t j = 0; j < nr; j++) {
        const float *run = src + j * stride + (stride - SAMPLE_RUN) / 2;
        for (size_t i = 0; i < SAMPLE_RUN; i++)
            s[ns++] = (uint64_t)ccl_mag_bits(run[i]) << 32;
    }
    return ns;
}

/* A magnitude that about 2k of count elements reach: the sample's j-th largest for j a
 * little above twice the expected number of sampled elements in the top k. `lower` steps
 * further down the sample each time a guess missed. */
static size_t sample_rank(size_t ns, size_t count, size_t k, int lower)
{
    double expect = (double)ns * (double)k / (double)count;
    return (size_t)ceil((2.0 * expect + 3.0 * sqrt(2.0 * expect) + 8.0) * (double)(1u << (3 * lower)));
}

static uint32_t sample_threshold(uint64_t *s, size_t ns, size_t count, size_t k, int lower)
{
    size_t j = sample_rank(ns, count, k, lower);
    return j >= ns ? 0 : (uint32_t)(ccl_kth_largest(s, ns, j + 1) >> 32);
}

static ccl_result_t topk_select(const float *src, size_t count, size_t k, uint32_t **idx_p)
{
    uint32_t *idx = NULL;
    uint64_t *s = NULL;
    size_t cap, n = 0;
    if ((s = malloc(2 * sample_size(count) * sizeof(uint64_t))) == NULL)
        goto nomem;
    const size_t ns = take_sample(src, count, s);
    /* Room for twice the elements the first guess's rank stands for in the buffer (a small
     * sample's guess stands for many more than 2k), at least 4k. */
    cap = CCL_MAX(4 * k + 64, 2 * (sample_rank(ns, count, k, 0) + 1) * (count / ns + 1));
    if ((idx = malloc(cap * sizeof(uint32_t))) == NULL)
        goto nomem;
    uint32_t t;
    for (int lower = 0;; lower++) {
        t = sample_threshold(s, ns, count, k, lower);
        n = ccl_sparse_collect(src, count, t, idx, cap);
        if (n < k && t > 0)
            continue; /* the sample guessed too high */
        if (n > cap) { /* many ties at t, or a sample that guessed too low: take them all */
            free(idx);
            cap = n;
            if ((idx = malloc(cap * sizeof(uint32_t))) == NULL)
                goto nomem;
            ccl_sparse_collect(src, count, t, idx, cap);
        }
        break;
    }
    free(s);
    s = NULL;
    size_t bad = ccl_sparse_first_nonfinite(src, count, idx, n, t);
    if (bad < count) {
        free(idx);
        return ccl_nonfinite_error("topk", bad);
    }
    if (n > k && select_among(src, idx, n, k) != CCL_SUCCESS)
        goto nomem;
    *idx_p = idx;
    return CCL_SUCCESS;
nomem:
    free(idx);
    free(s);
    return ccl_set_error(NULL, CCL_ERR_NO_MEMORY, "topk: no memory for %zu elements", count);
}

static ccl_result_t topk_choose(const ccl_codec_params_t *p, const float *src, size_t count,
                                uint64_t seed, uint32_t **idx_p, size_t *k_p)
{
    size_t k = ccl_sparse_k(p, count);
    uint32_t *idx = NULL;
    (void)seed;
    /* Sampled where the sample is worth it (1024 magnitudes or more) and k is a small part. */
    if (k > 0 && k < count && count >= 8192 && k <= count / 8) {
        CCL_CHECK(topk_select(src, count, k, &idx));
    } else {
        if ((idx = malloc(CCL_MAX(count, (size_t)1) * sizeof(uint32_t))) == NULL)
            return ccl_set_error(NULL, CCL_ERR_NO_MEMORY, "topk: no memory for %zu elements", count);
        for (size_t i = 0; i < count; i++)
            idx[i] = (uint32_t)i;
        size_t bad = ccl_sparse_first_nonfinite(src, count, NULL, 0, 0);
        if (bad < count) {
            free(idx);
            return ccl_nonfinite_error("topk", bad);
        }
        if (k < count && select_among(src, idx, count, k) != CCL_SUCCESS) {
            free(idx);
            return ccl_set_error(NULL, CCL_ERR_NO_MEMORY, "topk: no memory for %zu keys", count);
        }
    }
    *idx_p = idx;
    *k_p = k;
    return CCL_SUCCESS;
}

static ccl_result_t topk_encode(const ccl_codec_params_t *p, const float *src, size_t count,
                                uint64_t seed, uint8_t *out, size_t cap, size_t *len_p,
                                uint32_t hp[2], float *recon)
{
    (void)cap;
    return ccl_sparse_encode_selected(topk_choose, 1, p, src, count, seed, out, len_p, hp,
                                      recon);
}
const ccl_codec_ops_t ccl_codec_topk = {
    .size = sizeof(ccl_codec_ops_t), .name = "topk", .id = CCL_CODEC_ID_TOPK,
    .flags = CCL_CODEC_SPARSE | CCL_CODEC_CHECKS_FINITE,
    .desc = "exact top-k by magnitude, (index, value) pairs",
    .params = topk_params, .max_payload = topk_max_payload,
    .encode = topk_encode, .decode = ccl_sparse_decode, .select = topk_choose,
};
