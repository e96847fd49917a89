/* run.c: one compressed call: fp16/bf16 staging through float32, error feedback's prepare,
 * a shared scale where the codec needs one, then the algorithm. */
#include "collectives/compressed/run.h"
#include "collectives/compressed/step.h"
#include "core/reduce.h"
#include "compress/wire.h"

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

/* Codecs with CCL_CODEC_SHARED_SCALE: one exact allreduce (max) of this rank's refusal and
 * its scale for its input, or with a layout for each tensor of it (unused where
 * st->local_skip). The step's codec gets the agreed scales, unless its spec fixed one; if any
 * rank refused its input, every rank gets CCL_ERR_INVALID_ARG (the step skipped, the
 * error-feedback state kept). */
static ccl_result_t agree_scale(ccl_comp_step_t *st, struct ccl_comm *comm)
{
    struct ccl_compressor *c = st->comp;
    const ccl_layout_t *lay = c->scales != NULL ? c->layout : NULL;
    const int n = lay != NULL ? lay->n : 1;
    double one[2], *v = lay != NULL ? c->scale_votes : one;
    v[0] = st->local_skip ? 1.0 : 0.0;
    for (int t = 0; t < n; t++)
        v[1 + t] = st->local_skip ? 0.0 : (double)st->codec.ops->local_scale(
            &st->codec.params, st->input + (lay ? lay->off[t] : 0), lay ? lay->count[t] : c->count);
    CCL_CHECK(ccl_allreduce(v, v, (size_t)n + 1, CCL_FLOAT64, CCL_MAX, comm));
    if (v[0] > 0) {
        if (!st->local_skip)
            c->ef->skipped++;
        return ccl_set_error(comm, CCL_ERR_INVALID_ARG, "a gradient holds NaN or Inf; the "
                             "step is skipped on every rank and the error-feedback state kept");
    }
    if (c->codec.params.scale > 0) /* scale= in the spec: every rank's already */
        return CCL_SUCCESS;
    if (lay == NULL) {
        st->codec.params.scale = (float)v[1];
        return CCL_SUCCESS;
    }
    for (int t = 0; t < n; t++)
        c->scales[t] = (float)v[1 + t];
    st->codec.params.scales = c->scales;
    return CCL_SUCCESS;
}

/* Error feedback's prepare of the step's input from the gradient g: whole, piece by piece
 * inside the algorithm (ccl_step_prepare), or left to a sparse encoder that checks its
 * input itself. Sets st->local_skip where g is not finite. */
static ccl_result_t prepare(ccl_comp_step_t *st, const float *g, const ccl_algo_t *algo)
{
    struct ccl_compressor *c = st->comp;
    const int pieces = (algo->flags & CCL_ALGO_PREPARES_PIECES) != 0;
    ccl_result_t res = CCL_SUCCESS;
    st->encoder_checks_finite = c->ef_mode == CCL_EF_NONE && c->kind == CCL_COMP_STREAM &&
                                (c->codec.ops->flags & CCL_CODEC_SPARSE) &&
                                (c->codec.ops->flags & CCL_CODEC_CHECKS_FINITE) &&
                                !pieces;
    if (st->encoder_checks_finite) {
        /* input is the gradient as it is; the sparse algorithms encode it whole, first. */
        float unused;
        ccl_ef_prepare_begin(c->ef, &c->codec, g, &st->input, &st->codec, &unused);
    } else if (pieces && !(c->codec.ops->flags & CCL_CODEC_SHARED_SCALE)) {
        ccl_ef_prepare_begin(c->ef, &c->codec, g, &st->input, &st->codec, &st->clip_scale);
        st->pending_grad = g;
    } else {
        res = ccl_ef_prepare(c->ef, &c->codec, g, &st->input, &st->codec);
    }
    st->local_skip = res != CCL_SUCCESS;
    return res;
}

ccl_result_t ccl_comp_run(ccl_compressor_t c, ccl_comm_t comm, ccl_coll_t coll, const void *sendbuf,
                          void *recvbuf, size_t out_count, ccl_redop_t op, const ccl_algo_t *algo)
{
    return ccl_comp_run_with(c, comm, coll, sendbuf, recvbuf, out_count, op, algo, NULL, 0);
}

ccl_result_t ccl_comp_run_with(ccl_compressor_t c, ccl_comm_t comm, ccl_coll_t coll,
                               const void *sendbuf, void *recvbuf, size_t out_count,
                               ccl_redop_t op, const ccl_algo_t *algo, const void *algo_arg,
                               uint64_t arg_sig)
{
    ccl_comp_step_t st = {.comp = c, .exec = &ccl_step_exec_host};
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
    if (algo->flags & CCL_ALGO_SHARDS) {
        st.input = in; /* each shard's compressor prepares its own */
    } else {
        res = prepare(&st, in, algo);
        if (res != CCL_SUCCESS && res != CCL_ERR_INVALID_ARG)
            return res;
    }
    if (c->kind == CCL_COMP_STREAM && (c->codec.ops->flags & CCL_CODEC_SHARED_SCALE) &&
        !(algo->flags & CCL_ALGO_SHARDS))
        CCL_CHECK(agree_scale(&st, comm));
    ccl_coll_args_t a = {.coll = coll, .sendbuf = in, .recvbuf = out, .count = c->count,
                         .dtype = c->dtype, .op = op, .dt_size = sizeof(float), .step = &st,
                         .codec = &c->codec, .algo = algo, .algo_arg = algo_arg,
                         .sig_extra = c->spec_hash ^ arg_sig};
    res = ccl_coll_run(comm, &a);
    if (res == CCL_SUCCESS && c->dtype != CCL_FLOAT32)
        from_f32(out, recvbuf, out_count, c->dtype);
    return res;
}
