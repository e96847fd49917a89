/* sign_vote.c: signSGD with majority vote (Bernstein et al.): every rank sends the signs of
 * its gradient (sign:scale=none, 1 bit each) to every rank; the result is the sign of the
 * votes' sum, +1 or -1, with ties (possible only for an even rank count) going to +1, as
 * the bit encoding maps 0 to +1. For op avg the result is the same vote. */
#include "collectives/compressed/step.h"


static ccl_result_t sign_vote_run(ccl_coll_ctx_t *ctx)
{
    const ccl_coll_args_t *a = ctx->args;
    float *out = a->recvbuf;
    int skip;
    CCL_CHECK(ccl_step_exchange_sum(ctx, out, &skip, CCL_ROUTE_DIRECT));
    if (skip)
        return ccl_step_skip_result(ctx);
    for (size_t i = 0; i < a->count; i++)
        out[i] = out[i] >= 0 ? 1.0f : -1.0f;
    /* The vote is not a sum of what was sent: commit the state, but no average. */
    return ccl_step_commit(a->step, ccl_ef_recon(a->step->comp->ef), a->count);
}

const ccl_algo_t ccl_allreduce_sign_vote = {
    .name        = "sign_vote",
    .desc        = "signSGD majority vote: 1 bit per element from every rank, result the "
                   "sign of the votes (ties +1)",
    .coll        = CCL_COLL_ALLREDUCE,
    .carries     = CCL_CARRY_SIGN,
    .default_for = CCL_CARRY_SIGN,
    .run         = sign_vote_run,
};
