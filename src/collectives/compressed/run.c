/* run.c: one compressed call: fp16/bf16 staging through float32, error feedback's prepare,
 * a shared scale where the codec needs one, then the algorithm. */
#include "compressed.h"
#include "run.h"
#include "../../core/reduce.h"
#include "../../compress/wire.h"

#include <stdlib.h>
#include <string.h>

static void to_f32(const void *src, float *dst, size_t n, ccl_datatype_t dt)
{
    const uint16_t *h = src;
    for (size_t i = 0; i < n; i++)
        dst[i] = dt == CCL_FLOAT16 ? ccl_half_to_float(h[i]) : ccl_bf16_to_float(h[i]);
}

static void from_f32(const float *src, void *dst, size_t n, ccl_datatype_t dt)
{
    uint16_t *h = dst;
    for (size_t i = 0; i < n; i++)
        h[i] = dt == CCL_FLOAT16 ? ccl_float_to_half(src[i]) : ccl_float_to_bf16(src[i]);
}

ccl_result_t ccl_comp_agree_scale(struct ccl_compressor *c, struct ccl_comm *comm, float local)
{
    /* One small exact allreduce agrees on the scale (max) and on skipping. */
    double v[2] = {c->local_bad ? 1.0 : 0.0, c->local_bad ? 0.0 : (double)local};
    CCL_CHECK(ccl_allreduce(v, v, 2, CCL_FLOAT64, CCL_MAX, comm));
    if (v[0] > 0) {
        if (!c->local_bad)
            c->ef->skipped++;
        return ccl_set_error(comm, CCL_ERR_INVALID_ARG, "a gradient holds NaN or Inf; the "
                             "step is skipped on every rank and the error-feedback state kept");
    }
    c->eff.params.scale = (float)v[1];
    return CCL_SUCCESS;
}

/* Runs one compressed collective: prepare (error feedback), agree on a shared scale where
 * the codec needs one, then the algorithm. out_count: floats in the output. */
ccl_result_t ccl_comp_run(ccl_compressor_t c, ccl_comm_t comm, ccl_coll_t coll, const void *sendbuf,
                          void *recvbuf, size_t out_count, ccl_redop_t op, const ccl_calgo_t *algo)
{
    const float *in = sendbuf;
    float *out = recvbuf;
    ccl_result_t res;
    if (c->dtype != CCL_FLOAT32) {
        if (c->f32_out_count < out_count) {
            free(c->f32_out);
            c->f32_out_count = 0;
            if ((c->f32_out = malloc(CCL_MAX(out_count, (size_t)1) * sizeof(float))) == NULL)
                return ccl_set_error(comm, CCL_ERR_NO_MEMORY, "no memory for %zu floats", out_count);
            c->f32_out_count = out_count;
        }
        to_f32(sendbuf, c->f32_in, c->count, c->dtype);
        in = c->f32_in;
        out = c->f32_out;
    }
    c->prepare_g = NULL;
    c->check_in_encoder = c->ef_mode == CCL_EF_NONE && c->codec.ops != NULL &&
                          (c->codec.ops->flags & CCL_CODEC_SPARSE) &&
                          (c->codec.ops->flags & CCL_CODEC_CHECKS_FINITE) && !algo->prepares_pieces;
    if (c->check_in_encoder) {
        /* p is the gradient as it is; the sparse algorithms encode it whole, first thing. */
        float unused;
        ccl_ef_prepare_begin(c->ef, &c->codec, in, &c->p, &c->eff, &unused);
        res = CCL_SUCCESS;
    } else if (algo->prepares_pieces && !(c->codec.ops->flags & CCL_CODEC_SHARED_SCALE)) {
        /* The algorithm prepares each piece as it goes (ccl_comp_prepare). */
        ccl_ef_prepare_begin(c->ef, &c->codec, in, &c->p, &c->eff, &c->prepare_clip);
        c->prepare_g = in;
        res = CCL_SUCCESS;
    } else {
        res = ccl_ef_prepare(c->ef, &c->codec, in, &c->p, &c->eff);
    }
    c->local_bad = res != CCL_SUCCESS;
    c->own_msg = NULL;
    if (res != CCL_SUCCESS && res != CCL_ERR_INVALID_ARG)
        return res;
    if (c->lowrank != NULL) {
        res = ccl_powersgd_allreduce(c, comm, out, op);
        if (res == CCL_SUCCESS && c->dtype != CCL_FLOAT32)
            from_f32(out, recvbuf, out_count, c->dtype);
        return res;
    }
    if (c->codec.ops->flags & CCL_CODEC_SHARED_SCALE)
        CCL_CHECK(ccl_comp_agree_scale(c, comm, c->local_bad ? 0.0f :
                                       c->eff.ops->local_scale(&c->eff.params, c->p, c->count)));
    ccl_coll_args_t a = {coll, in, out, c->count, c->dtype, op, 0, sizeof(float), c, algo, c->spec_hash};
    res = ccl_coll_run(comm, &a);
    if (res == CCL_SUCCESS && c->dtype != CCL_FLOAT32)
        from_f32(out, recvbuf, out_count, c->dtype);
    return res;
}
