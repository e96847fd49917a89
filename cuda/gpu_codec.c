/* gpu_codec.c: the codecs on device buffers (gpu_codec.h). Dense codecs run their kernel
 * into a device payload that is copied back whole; sparse codecs select and write values on
 * the GPU, and only the kept indices and values come back, for ccl_sparse_assemble to lay out
 * as the CPU encoder does. */
#include "gpu_codec.h"
#include "gpu_mem.h"
#include "compress/sparse.h"
#include "compress/wire.h"
#include "cast_codec.h"
#include "int_codec.h"
#include "qsgd_codec.h"
#include "sign_codec.h"
#include "sparse_codec.h"
#include "terngrad_codec.h"

#include <cuda_runtime.h>
#include <stdlib.h>

ccl_result_t ccl_gpu_fail(int e, const char *what)
{
    return ccl_set_error(NULL, CCL_ERR_INTERNAL, "%s: %s", what, cudaGetErrorString((cudaError_t)e));
}

/* The dense codecs' kernels: payload (device) and *bad (device) set as the CPU encoder. */
static int dense_encode(const ccl_codec_t *c, const float *src, size_t n, uint64_t seed,
                        uint8_t *payload, float *recon, int *bad, cudaStream_t s)
{
    const ccl_codec_params_t *p = &c->params;
    int stochastic = p->rounding == CCL_ROUND_STOCHASTIC, e;
    float *dscale, scale = p->scale;
    switch (c->ops->id) {
    case CCL_CODEC_ID_CAST:
        return ccl_cuda_cast_encode(src, n, p->half_bf16, payload, recon, p->fb_residual, bad, s);
    case CCL_CODEC_ID_INT:
        return ccl_cuda_int_encode(src, n, (unsigned)p->bits, p->bucket, stochastic, seed, payload,
                                   recon, p->fb_residual, bad, s);
    case CCL_CODEC_ID_QSGD:
        return ccl_cuda_qsgd_encode(src, n, (unsigned)p->bits, p->bucket, p->norm == CCL_NORM_L2,
                                    stochastic, seed, payload, recon, p->fb_residual, bad, s);
    case CCL_CODEC_ID_SIGN:
        return ccl_cuda_sign_encode(src, n, (int)p->sign_scale, payload, recon, p->fb_residual, bad, s);
    case CCL_CODEC_ID_TERNGRAD:
        /* The agreed scaler, or this buffer's own, which the kernel's launch needs here. */
        if (!(scale > 0)) {
            if ((e = ccl_gpu_alloc_async((void **)&dscale, sizeof(float), s)) != 0)
                return e;
            e = ccl_cuda_terngrad_scale(src, n, p->clip, dscale, bad, s);
            e = e ? e : (int)cudaMemcpyAsync(&scale, dscale, sizeof(float), cudaMemcpyDeviceToHost, s);
            e = e ? e : (int)cudaStreamSynchronize(s);
            ccl_gpu_free_async(dscale, s);
            if (e)
                return e;
        }
        if (!isfinite(scale)) /* only from non-finite input, which *bad reports */
            scale = 0;
        return ccl_cuda_terngrad_encode(src, n, scale, seed, payload, recon, p->fb_residual, s);
    default:
        return (int)cudaErrorInvalidValue;
    }
}

/* A sparse codec's kept indices (device idx, their number *k_p) for src (device). */
static int sparse_select(const ccl_codec_t *c, const float *src, size_t n, uint64_t seed,
                         uint32_t *idx, uint32_t *dn, size_t *k_p, cudaStream_t s)
{
    const ccl_codec_params_t *p = &c->params;
    size_t k = ccl_sparse_k(p, n), stride, ks, off;
    uint32_t got;
    int e;
    *k_p = 0;
    if (n == 0)
        return 0;
    switch (c->ops->id) {
    case CCL_CODEC_ID_RANDOMK: {
        uint32_t *h = malloc(k * sizeof(uint32_t));
        if (h == NULL || ccl_randomk_indices(seed, n, k, h) != 0) {
            free(h);
            return (int)cudaErrorMemoryAllocation;
        }
        e = (int)cudaMemcpyAsync(idx, h, k * sizeof(uint32_t), cudaMemcpyHostToDevice, s);
        e = e ? e : (int)cudaStreamSynchronize(s);
        free(h);
        *k_p = k;
        return e;
    }
    case CCL_CODEC_ID_THRESHOLD:
        e = ccl_cuda_threshold_select(src, n, p->threshold, idx, dn, s);
        break;
    case CCL_CODEC_ID_TOPK:
    case CCL_CODEC_ID_DGC:
        if (k >= n) { /* everything: |x| >= 0 holds for all finite x */
            e = ccl_cuda_threshold_select(src, n, 0.0f, idx, dn, s);
            break;
        }
        if (c->ops->id == CCL_CODEC_ID_TOPK) {
            *k_p = k;
            return ccl_cuda_topk_select(src, n, k, idx, s);
        }
        ccl_dgc_plan(p, n, seed, &stride, &ks, &off);
        e = ccl_cuda_dgc_select(src, n, k, stride, ks, off, idx, dn, s);
        break;
    default:
        return (int)cudaErrorInvalidValue;
    }
    e = e ? e : (int)cudaMemcpyAsync(&got, dn, sizeof(got), cudaMemcpyDeviceToHost, s);
    e = e ? e : (int)cudaStreamSynchronize(s);
    *k_p = got;
    return e;
}

/* Device scratch of one encode: the payload or the kept indices and values, and flags. */
typedef struct {
    uint8_t  *payload; /* dense: the payload; sparse: the values in wire form */
    uint32_t *idx;     /* sparse: room for 2k (dgc) or count (threshold) indices */
    uint32_t *n;
    int      *bad;
} gpu_scratch_t;

static int scratch_alloc(gpu_scratch_t *g, size_t payload, size_t nidx, cudaStream_t s)
{
    char *mem = NULL;
    size_t pay = (payload + 15) / 16 * 16, ib = (nidx * sizeof(uint32_t) + 15) / 16 * 16;
    int e = ccl_gpu_alloc_async((void **)&mem, pay + ib + 16, s);
    if (e)
        return e;
    g->payload = (uint8_t *)mem;
    g->idx = (uint32_t *)(mem + pay);
    g->n = (uint32_t *)(mem + pay + ib);
    g->bad = (int *)(mem + pay + ib + 8);
    return (int)cudaMemsetAsync(g->bad, 0, sizeof(int), s);
}

ccl_result_t ccl_gpu_codec_encode(const ccl_codec_t *codec, const float *src, size_t count,
                                  uint64_t seed, void *dst, size_t cap, size_t *len_p,
                                  float *recon, void *stream)
{
    const ccl_codec_params_t *p = &codec->params;
    const int sparse = (codec->ops->flags & CCL_CODEC_SPARSE) != 0;
    const size_t maxp = codec->ops->max_payload(p, count);
    cudaStream_t s = (cudaStream_t)stream;
    ccl_wire_hdr_t h = {.codec_id = (uint8_t)codec->ops->id, .count = count, .seed = seed};
    gpu_scratch_t g;
    uint8_t *out = (uint8_t *)dst + CCL_WIRE_HDR_LEN;
    uint32_t *hidx = NULL;
    size_t k = 0, plen = maxp, nidx = 0, vb = p->fp16_values ? 2 : 4;
    int e, bad = 0;
    ccl_result_t res = CCL_SUCCESS;
    if (dst == NULL || len_p == NULL || (count > 0 && src == NULL))
        return ccl_set_error(NULL, CCL_ERR_INVALID_ARG, "NULL buffer");
    if (cap < ccl_codec_max_encoded_size(codec, count) || maxp > UINT32_MAX || count > UINT32_MAX)
        return ccl_set_error(NULL, CCL_ERR_INVALID_ARG, "%zu-byte buffer for %zu elements of %s",
                             cap, count, codec->ops->name);
    if (!sparse)
        CCL_CHECK(ccl_codec_header_params(codec, h.params));
    else
        nidx = codec->ops->id == CCL_CODEC_ID_THRESHOLD || ccl_sparse_k(p, count) >= count
                   ? count : 2 * ccl_sparse_k(p, count);
    if ((e = scratch_alloc(&g, sparse ? 4 * nidx : maxp, nidx, s)) != 0)
        return ccl_gpu_fail(e, "gpu encode: device memory");
    if (!sparse) {
        e = dense_encode(codec, src, count, seed, g.payload, recon, g.bad, s);
        e = e ? e : (int)cudaMemcpyAsync(out, g.payload, maxp, cudaMemcpyDeviceToHost, s);
    } else {
        e = ccl_cuda_flag_nonfinite(src, count, g.bad, s);
        e = e ? e : sparse_select(codec, src, count, seed, g.idx, g.n, &k, s);
        e = e ? e : ccl_cuda_sparse_values(src, count, g.idx, NULL, k, p->fp16_values, g.payload,
                                           recon, p->fb_residual, s);
        /* Only the kept indices and values come back; the host lays out the payload. */
        if (e == 0 && (hidx = malloc(k * (4 + vb) + 1)) == NULL)
            e = (int)cudaErrorMemoryAllocation;
        e = e ? e : (int)cudaMemcpyAsync(hidx, g.idx, k * 4, cudaMemcpyDeviceToHost, s);
        e = e ? e : (int)cudaMemcpyAsync(hidx + k, g.payload, k * vb, cudaMemcpyDeviceToHost, s);
    }
    e = e ? e : (int)cudaMemcpyAsync(&bad, g.bad, sizeof(int), cudaMemcpyDeviceToHost, s);
    e = e ? e : (int)cudaStreamSynchronize(s);
    ccl_gpu_free_async(g.payload, s);
    if (e)
        res = ccl_gpu_fail(e, "gpu encode");
    else if (bad)
        res = ccl_set_error(NULL, CCL_ERR_INVALID_ARG, "non-finite input");
    else if (sparse)
        ccl_sparse_assemble(hidx, k, hidx + k, p->fp16_values,
                            codec->ops->id != CCL_CODEC_ID_RANDOMK, count, out, &plen, h.params);
    free(hidx);
    if (res != CCL_SUCCESS)
        return res;
    h.payload_len = (uint32_t)plen;
    ccl_wire_put(dst, &h);
    *len_p = CCL_WIRE_HDR_LEN + plen;
    return CCL_SUCCESS;
}

/* A sparse encoding: read and checked on the host, then scattered on the GPU. */
static ccl_result_t sparse_decode(const void *src, size_t len, float *out, size_t count,
                                  int accumulate, cudaStream_t s)
{
    uint32_t *idx = NULL, *didx = NULL;
    float *val = NULL;
    size_t k = 0;
    int e;
    CCL_CHECK(ccl_codec_read_sparse(src, len, count, &idx, &val, &k));
    e = ccl_gpu_alloc_async((void **)&didx, (k ? k : 1) * 8, s);
    e = e ? e : (int)cudaMemcpyAsync(didx, idx, k * 4, cudaMemcpyHostToDevice, s);
    e = e ? e : (int)cudaMemcpyAsync((float *)(didx + k), val, k * 4, cudaMemcpyHostToDevice, s);
    e = e ? e : ccl_cuda_sparse_scatter(didx, (float *)(didx + k), k, out, count, accumulate, s);
    e = e ? e : (int)cudaStreamSynchronize(s);
    if (didx != NULL)
        ccl_gpu_free_async(didx, s);
    free(idx);
    free(val);
    return e ? ccl_gpu_fail(e, "gpu decode") : CCL_SUCCESS;
}

ccl_result_t ccl_gpu_codec_decode(const void *src, size_t len, float *out, size_t count,
                                  int accumulate, void *stream)
{
    cudaStream_t s = (cudaStream_t)stream;
    ccl_wire_hdr_t h;
    uint8_t *dpay = NULL;
    const uint32_t *hp = h.params;
    int e;
    CCL_CHECK(ccl_wire_get(src, len, &h));
    if (count > 0 && out == NULL)
        return ccl_set_error(NULL, CCL_ERR_INVALID_ARG, "NULL output");
    if (h.codec_id == CCL_CODEC_ID_TOPK || h.codec_id == CCL_CODEC_ID_THRESHOLD ||
        h.codec_id == CCL_CODEC_ID_RANDOMK || h.codec_id == CCL_CODEC_ID_DGC)
        return sparse_decode(src, len, out, count, accumulate, s);
    /* Dense: every check of the host decoder, then the kernel trusts the bytes. */
    CCL_CHECK(ccl_codec_check(src, len, count));
    if (count == 0)
        return CCL_SUCCESS;
    e = ccl_gpu_alloc_async((void **)&dpay, h.payload_len ? h.payload_len : 1, s);
    e = e ? e : (int)cudaMemcpyAsync(dpay, (const uint8_t *)src + CCL_WIRE_HDR_LEN, h.payload_len,
                                     cudaMemcpyHostToDevice, s);
    if (e == 0) {
        switch (h.codec_id) {
        case CCL_CODEC_ID_CAST:
            e = ccl_cuda_cast_decode(dpay, (int)hp[0], out, count, accumulate, s);
            break;
        case CCL_CODEC_ID_INT:
            e = ccl_cuda_int_decode(dpay, hp[0] & 0xff, hp[1], out, count, accumulate, s);
            break;
        case CCL_CODEC_ID_QSGD:
            e = ccl_cuda_qsgd_decode(dpay, hp[0] & 0xff, hp[1], out, count, accumulate, s);
            break;
        case CCL_CODEC_ID_SIGN:
            e = ccl_cuda_sign_decode(dpay, out, count, accumulate, s);
            break;
        case CCL_CODEC_ID_TERNGRAD:
            e = ccl_cuda_terngrad_decode(dpay, out, count, accumulate, s);
            break;
        default: /* ccl_codec_check knows no other dense codec */
            e = (int)cudaErrorInvalidValue;
        }
    }
    e = e ? e : (int)cudaStreamSynchronize(s);
    if (dpay != NULL)
        ccl_gpu_free_async(dpay, s);
    return e ? ccl_gpu_fail(e, "gpu decode") : CCL_SUCCESS;
}
