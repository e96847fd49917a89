/* ring.c: ring allreduce: a pipelined reduce-scatter then allgather, 2(P-1) steps, for
 * bandwidth-bound messages. */
#include "collectives/patterns/patterns.h"
#include "base/env_config.h"

static ccl_result_t allreduce_ring_run(ccl_coll_ctx_t *ctx)
{
    const ccl_coll_args_t *a = ctx->args;
    int p = ctx->comm->nranks;
    ccl_ring_desc_t d = {
        .total_count   = a->count,
        .nsteps        = 2 * (p - 1),
        .nreduce_steps = p - 1,
        .shift         = 0,
        .input         = a->sendbuf,
        .work          = a->recvbuf,
        .avg           = a->op == CCL_AVG,
    };
    return ccl_ring_run(ctx, &d);
}

static double allreduce_ring_estimate(const ccl_coll_args_t *a, const ccl_tuning_t *t, int p)
{
    double n = (double)(a->count * a->dt_size), f = (double)(p - 1) / p;
    /* With c chunks per segment the reduction of one chunk overlaps the transfer of the
     * next, so only about 1/c of the reduction time adds to the transfers. */
    double chunks = CCL_MAX(1.0, n / p / (double)ccl_config_get()->chunk_size);
    return 2.0 * (p - 1) * t->alpha_us + 2.0 * f * n * t->beta_us_per_byte +
           f * n * t->reduce_us_per_byte / chunks;
}

const ccl_algo_t ccl_allreduce_ring = {
    .name        = "ring",
    .desc        = "reduce-scatter + allgather around a ring, chunked and pipelined; "
                   "bandwidth-optimal for large messages",
    .coll        = CCL_COLL_ALLREDUCE,
    .carries     = CCL_CARRY_EXACT,
    .default_for = CCL_CARRY_EXACT,
    .run         = allreduce_ring_run,
    .estimate_us = allreduce_ring_estimate,
};
