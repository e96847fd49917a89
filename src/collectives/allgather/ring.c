/* ring.c: ring allgather: P-1 pipelined steps, each block forwarded as it arrives. */
#include "collectives/patterns/patterns.h"

#include <string.h>

static ccl_result_t allgather_ring_run(ccl_coll_ctx_t *ctx)
{
    const ccl_coll_args_t *a = ctx->args;
    int p = ctx->comm->nranks, rank = ctx->comm->rank;
    size_t bytes = a->count * a->dt_size;
    uint8_t *own = (uint8_t *)a->recvbuf + (size_t)rank * bytes;
    if (a->sendbuf != own)
        memcpy(own, a->sendbuf, bytes);
    ccl_ring_desc_t d = {
        .seg_count     = a->count,
        .nsteps        = p - 1,
        .nreduce_steps = 0,
        .shift         = 0,
        .work          = a->recvbuf,
    };
    return ccl_ring_run(ctx, &d);
}

static double allgather_ring_estimate(const ccl_coll_args_t *a, const ccl_tuning_t *t, int p)
{
    double n = (double)(a->count * a->dt_size);
    return (p - 1) * (t->alpha_us + n * t->beta_us_per_byte);
}

const ccl_algo_t ccl_allgather_ring = {
    .name        = "ring",
    .desc        = "P-1 steps around a ring, chunked and pipelined",
    .coll        = CCL_COLL_ALLGATHER,
    .carries     = CCL_CARRY_EXACT,
    .default_for = CCL_CARRY_EXACT,
    .run         = allgather_ring_run,
    .estimate_us = allgather_ring_estimate,
};
