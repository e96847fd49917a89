/* rec_doubling.c: recursive-doubling allreduce: log2(P) exchanges of the whole buffer, for
 * latency-bound (small) messages; non-power-of-two counts fold the extra ranks in first. */
#include "collectives/patterns/patterns.h"
#include "core/reduce.h"

#include <string.h>

#define RD_ID_STEP0  2 /* after the fold's ids */

static ccl_result_t allreduce_rd_run(ccl_coll_ctx_t *ctx)
{
    const ccl_coll_args_t *a = ctx->args;
    struct ccl_comm *comm = ctx->comm;
    int rank = comm->rank, p = comm->nranks;
    int pof2 = ccl_pow2_floor(p), rem = p - pof2, newrank = ccl_rd_newrank(rank, rem);
    size_t bytes = a->count * a->dt_size;
    uint8_t *buf = a->recvbuf, *tmp;
    ccl_p2p_req_t *reqs;

    CCL_CHECK(ccl_ctx_reqs(ctx, 2, &reqs));
    tmp = ccl_comm_scratch(comm, bytes);
    if (tmp == NULL && bytes > 0)
        return ccl_set_error(comm, CCL_ERR_NO_MEMORY, "no memory for %zu bytes", bytes);
    if (a->sendbuf != a->recvbuf)
        memcpy(buf, a->sendbuf, bytes);

    CCL_CHECK(ccl_fold_in(ctx, buf, tmp, rem));
    if (newrank >= 0) {
        for (int mask = 1, step = 0; mask < pof2; mask <<= 1, step++) {
            int peer = ccl_rd_oldrank(newrank ^ mask, rem);
            CCL_CHECK(ccl_p2p_sendrecv(ctx, peer, buf, bytes, peer, tmp, bytes,
                                       (uint32_t)(RD_ID_STEP0 + step)));
            /* Both partners evaluate op(lower rank's data, higher rank's data). */
            if (peer < rank)
                ccl_reduce(buf, tmp, buf, a->count, a->dtype, a->op);
            else
                ccl_reduce(buf, buf, tmp, a->count, a->dtype, a->op);
        }
    }
    CCL_CHECK(ccl_fold_out(ctx, buf, rem));
    if (a->op == CCL_AVG)
        ccl_reduce_scale_avg(buf, a->count, a->dtype, p);
    return CCL_SUCCESS;
}

static double allreduce_rd_estimate(const ccl_coll_args_t *a, const ccl_tuning_t *t, int p)
{
    double n = (double)(a->count * a->dt_size);
    int steps = ccl_log2_ceil(p) + (p != ccl_pow2_floor(p) ? 1 : 0);
    return steps * (t->alpha_us + n * t->beta_us_per_byte +
                    n * t->reduce_us_per_byte);
}

const ccl_algo_t ccl_allreduce_rec_doubling = {
    .name        = "rec_doubling",
    .desc        = "recursive doubling, whole buffer each of log2(P) steps; latency-optimal "
                   "for small messages",
    .coll        = CCL_COLL_ALLREDUCE,
    .carries     = CCL_CARRY_EXACT,
    .default_for = CCL_CARRY_EXACT,
    .run         = allreduce_rd_run,
    .estimate_us = allreduce_rd_estimate,
};
