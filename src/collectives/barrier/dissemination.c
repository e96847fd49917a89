/* dissemination.c: dissemination barrier: ceil(log2 P) rounds of empty messages, any P. */
#include "collectives/patterns/patterns.h"

static ccl_result_t barrier_dissemination_run(ccl_coll_ctx_t *ctx)
{
    struct ccl_comm *comm = ctx->comm;
    int rank = comm->rank, p = comm->nranks;
    ccl_p2p_req_t *reqs;
    CCL_CHECK(ccl_ctx_reqs(ctx, 2, &reqs));
    for (int k = 1, step = 0; k < p; k <<= 1, step++)
        CCL_CHECK(ccl_p2p_sendrecv(ctx, ccl_mod(rank + k, p), NULL, 0, ccl_mod(rank - k, p),
                                   NULL, 0, (uint32_t)step));
    return CCL_SUCCESS;
}

static double barrier_dissemination_estimate(const ccl_coll_args_t *a, const ccl_tuning_t *t, int p)
{
    (void)a;
    return ccl_log2_ceil(p) * t->alpha_us;
}

const ccl_algo_t ccl_barrier_dissemination = {
    .name        = "dissemination",
    .desc        = "ceil(log2 P) rounds; in round k each rank signals rank+2^k",
    .coll        = CCL_COLL_BARRIER,
    .carries     = CCL_CARRY_EXACT,
    .default_for = CCL_CARRY_EXACT,
    .run         = barrier_dissemination_run,
    .estimate_us = barrier_dissemination_estimate,
};
