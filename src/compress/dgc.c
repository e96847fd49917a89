/* dgc.c: Deep Gradient Compression's sampled-threshold top-k (Lin et al., and the selection of
 * their reference code). A strided sample of about `sample` of the elements (at least 2/ratio)
 * gives a threshold, the k-th largest sampled magnitude scaled to the whole buffer; then
 *  - too few pass (< 0.8 k): lower the threshold by 0.8 and count again (at most 10 times);
 *  - far too many (> 1.3 k): select exactly the top k among those that passed;
 *  - a few too many: keep the first k in index order.
 * Without sampling (count <= 2/ratio) the result is exactly top-k (ties: the lower index).
 * The payload is the sparse one of topk. Momentum correction, masking, clipping and warm-up
 * live in the error-feedback state (ef.c); their options are parsed here. */
#include "compress/sparse.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The rows after sample are the error-feedback state's (ef.c). nesterov and masking are
 * integers 0..1 rather than BOOL rows: they have always taken what strtol reads as 0 or 1. */
static const ccl_param_field_t dgc_params[] = {
    CCL_SPARSE_PARAMS("0.001"),
    {"sample", "0.01", "fraction of the elements sampled for the threshold", CCL_PARAM_REAL,
     CCL_CODEC_PARAM(sample), .lo = 1e-6, .hi = 1},
    {"momentum", "0.9", "momentum correction's m; 0 turns it off", CCL_PARAM_REAL,
     CCL_CODEC_PARAM(dgc.momentum), .lo = 0, .hi = 0.999999},
    {"nesterov", "0", "Nesterov momentum", CCL_PARAM_INT, CCL_CODEC_PARAM(dgc.nesterov),
     .lo = 0, .hi = 1},
    {"masking", "1", "momentum factor masking: the sent elements' momentum restarts",
     CCL_PARAM_INT, CCL_CODEC_PARAM(dgc.masking), .lo = 0, .hi = 1},
    {"clip", "0", "global gradient-norm threshold; each rank clips to clip/sqrt(P); 0: off",
     CCL_PARAM_REAL, CCL_CODEC_PARAM(dgc.clip), .lo = 0, .hi = 1e30},
    {"warmup_steps", "0", "length of the sparsity warm-up in steps; 0: none", CCL_PARAM_INT,
     CCL_CODEC_PARAM(dgc.warmup_steps), .lo = 0, .hi = UINT32_MAX},
    {"warmup_stages", "4", "stages of the warm-up, each with a sparser ratio", CCL_PARAM_INT,
     CCL_CODEC_PARAM(dgc.warmup_stages), .lo = 1, .hi = 64},
    CCL_PARAM_END,
};

double ccl_dgc_ratio(const ccl_dgc_params_t *d, double ratio, uint64_t step)
{
    if (d->warmup_steps == 0 || step >= d->warmup_steps)
        return ratio;
    uint64_t stage = step * d->warmup_stages / d->warmup_steps;
    return fmax(pow(ratio, (double)(stage + 1) / (double)(d->warmup_stages + 1)), ratio);
}

static size_t dgc_max_payload(const ccl_codec_params_t *p, size_t count)
{
    /* The largest k of the warm-up schedule: its first stage. */
    ccl_codec_params_t first = *p;
    first.ratio = ccl_dgc_ratio(&p->dgc, p->ratio, 0);
    if (first.ratio != p->ratio)
        first.k = 0;
    return ccl_sparse_max_payload(count, ccl_sparse_k(&first, count), p->fp16_values, 1);
}

/* The sampling stride of the reference: about max(sample*d, 2/ratio) samples, stride = 1
 * mod 8 so that stepping it down by 8 ends at 1. */
size_t ccl_dgc_stride(const ccl_codec_params_t *p, size_t d)
{
    size_t min_samples = (size_t)ceil(2.0 / p->ratio);
    size_t target = CCL_MAX((size_t)ceil((double)d * p->sample), min_samples), stride;
    if (d <= min_samples)
        return 1;
    stride = ((d + target - 1) / target + 31) / 32 * 32 + 1;
    while (stride > 1 && d / stride < target)
        stride -= 8;
    return stride;
}

void ccl_dgc_plan(const ccl_codec_params_t *p, size_t count, uint64_t seed, size_t *stride,
                  size_t *ks, size_t *off)
{
    size_t st = ccl_dgc_stride(p, count), ns = count / st;
    *stride = st;
    *ks = CCL_MAX((size_t)1, CCL_MIN(ns, (size_t)ceil((double)ns * p->ratio)));
    *off = st > 1 ? (size_t)(ccl_rng64(seed, 0) % st) : 0;
}

static ccl_result_t dgc_choose(const ccl_codec_params_t *p, const float *src, size_t count,
                               uint64_t seed, uint32_t **idx_p, size_t *k_p)
{
    size_t k = ccl_sparse_k(p, count), stride, ns, n = 0, bad = count;
    uint32_t *idx = NULL, thr = 0;
    uint64_t *keys = NULL;
    ccl_result_t res = CCL_ERR_NO_MEMORY;
    *idx_p = NULL;
    *k_p = 0;
    if (count == 0)
        return CCL_SUCCESS;
    if (k >= count) { /* ratio 1: everything, no sampling */
        if ((idx = malloc(count * sizeof(uint32_t))) == NULL)
            goto out;
        for (size_t i = 0; i < count; i++)
            idx[i] = (uint32_t)i;
        bad = ccl_sparse_first_nonfinite(src, count, NULL, 0, 0);
        if (bad < count) {
            free(idx);
            return ccl_nonfinite_error("dgc", bad);
        }
        *idx_p = idx;
        *k_p = count;
        return CCL_SUCCESS;
    }
    size_t ks, off;
    ccl_dgc_plan(p, count, seed, &stride, &ks, &off);
    ns = count / stride;
    /* Room for 8k candidates: a threshold from a small sample (a layout's tensor: often the
     * 2nd largest of 2000) can let several k through, and every one kept here is one the
     * refinement below need not gather again in a second pass over the buffer. */
    const size_t cap = 8 * k + 64;
    if ((idx = malloc(cap * sizeof(uint32_t))) == NULL ||
        (keys = malloc(ns * sizeof(uint64_t))) == NULL)
        goto out;
    for (size_t j = 0; j < ns; j++)
        keys[j] = (uint64_t)ccl_mag_bits(src[off + j * stride]) << 32;
    thr = (uint32_t)(ccl_kth_largest(keys, ns, ks) >> 32);
    free(keys);
    keys = NULL;
    /* One pass counts and keeps the first cap candidates. */
    n = ccl_sparse_collect(src, count, thr, idx, cap);
    for (int it = 0; stride > 1 && it < 10 && n < k * 4 / 5 && thr > 0; it++) {
        float t;
        memcpy(&t, &thr, 4);
        t *= 0.8f;
        memcpy(&thr, &t, 4);
        n = ccl_sparse_collect(src, count, thr, idx, cap);
    }
    /* Every element at or above thr is a candidate: those are all kept in idx unless there
     * are over cap, when the refinement below takes them all again. */
    bad = n <= cap ? ccl_sparse_first_nonfinite(src, count, idx, n, thr) : count;
    if (bad < count) {
        res = CCL_ERR_INVALID_ARG;
        goto out;
    }
    if (n > k && (stride == 1 || n * 10 > k * 13)) {
        /* Exact refinement among the n candidates: the k largest, ties to the lower index. */
        uint32_t *cand = n <= cap ? idx : malloc(n * sizeof(uint32_t));
        size_t kept = 0;
        if (cand == NULL || (keys = malloc(n * sizeof(uint64_t))) == NULL) {
            if (cand != idx)
                free(cand);
            goto out;
        }
        if (cand != idx) {
            ccl_sparse_collect(src, count, thr, cand, n);
            if ((bad = ccl_sparse_first_nonfinite(src, count, cand, n, thr)) < count) {
                free(cand);
                res = CCL_ERR_INVALID_ARG;
                goto out;
            }
        }
        for (size_t j = 0; j < n; j++)
            keys[j] = ccl_mag_key(src[cand[j]], cand[j]);
        uint64_t kth = ccl_kth_largest(keys, n, k);
        /* In place is safe: kept <= j. */
        for (size_t j = 0; j < n && kept < k; j++)
            if (ccl_mag_key(src[cand[j]], cand[j]) >= kth)
                idx[kept++] = cand[j];
        if (cand != idx)
            free(cand);
        n = kept;
    } else {
        n = CCL_MIN(n, k); /* the first k in index order */
    }
    *idx_p = idx;
    *k_p = n;
    idx = NULL;
    res = CCL_SUCCESS;
out:
    free(idx);
    free(keys);
    if (res == CCL_ERR_INVALID_ARG)
        return ccl_nonfinite_error("dgc", bad);
    return res == CCL_SUCCESS ? res : ccl_set_error(NULL, res, "dgc: no memory for %zu elements", count);
}

static ccl_result_t dgc_encode(const ccl_codec_params_t *p, const float *src, size_t count,
                               uint64_t seed, uint8_t *out, size_t cap, size_t *len_p,
                               uint32_t hp[2], float *recon)
{
    (void)cap;
    return ccl_sparse_encode_selected(dgc_choose, 1, p, src, count, seed, out, len_p, hp,
                                      recon);
}

const ccl_codec_ops_t ccl_codec_dgc = {
    .size = sizeof(ccl_codec_ops_t), .name = "dgc", .id = CCL_CODEC_ID_DGC,
    .flags = CCL_CODEC_SPARSE | CCL_CODEC_CHECKS_FINITE,
    .desc = "DGC: top-k by a threshold from a strided sample, refined; (index, value) pairs",
    .params = dgc_params, .max_payload = dgc_max_payload,
    .encode = dgc_encode, .decode = ccl_sparse_decode, .select = dgc_choose,
};
