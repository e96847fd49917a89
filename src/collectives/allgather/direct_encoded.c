/* direct_encoded.c: compressed allgather: every rank's encoding to every rank, decoded into its
 * block of the output (the own block too, so every rank holds the same values). On device
 * buffers the GPU encodes and decodes (cuda/exec_cuda.c). */
#include "collectives/compressed/step.h"

static ccl_result_t allgather_direct_encoded_run(ccl_coll_ctx_t *ctx)
{
    const ccl_coll_args_t *a = ctx->args;
    float *out = a->recvbuf;
    uint8_t **slot;
    size_t *len;
    int skip;
    CCL_CHECK(ccl_step_exchange(ctx, &slot, &len, &skip, CCL_ROUTE_DIRECT));
    if (skip)
        return ccl_step_skip_result(ctx);
    for (int i = 0; i < ctx->comm->nranks; i++)
        CCL_CHECK(ccl_step_decode_from(ctx, i, slot[i], len[i], out + (size_t)i * a->count,
                                       a->count, 0));
    return ccl_step_finish(ctx, ccl_ef_recon(a->step->comp->ef), out, a->count);
}

const ccl_algo_t ccl_allgather_direct_encoded = {
    .name        = "direct",
    .desc        = "every rank's encoding sent to every rank and decoded there",
    .coll        = CCL_COLL_ALLGATHER,
    .carries     = CCL_CARRY_DENSE | CCL_CARRY_SPARSE | CCL_CARRY_SIGN,
    .default_for = CCL_CARRY_DENSE | CCL_CARRY_SPARSE | CCL_CARRY_SIGN,
    .run         = allgather_direct_encoded_run,
};
