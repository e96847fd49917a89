/* fold.c: the pre- and post-steps that let power-of-two algorithms (recursive doubling,
 * halving-doubling) run on any rank count: the first 2*rem ranks pair up, the even rank of
 * each pair hands its data to the odd one, sits out, and gets the result back at the end. */
#include "collectives/patterns/patterns.h"
#include "core/reduce.h"

#define FOLD_ID   0
#define UNFOLD_ID 1

ccl_result_t ccl_fold_in(ccl_coll_ctx_t *ctx, void *buf, void *tmp, int rem)
{
    const ccl_coll_args_t *a = ctx->args;
    int rank = ctx->comm->rank;
    size_t bytes = a->count * a->dt_size;
    if (rank >= 2 * rem)
        return CCL_SUCCESS;
    if ((rank & 1) == 0)
        return ccl_p2p_sendrecv(ctx, rank + 1, buf, bytes, -1, NULL, 0, FOLD_ID);
    CCL_CHECK(ccl_p2p_sendrecv(ctx, -1, NULL, 0, rank - 1, tmp, bytes, FOLD_ID));
    ccl_reduce(buf, tmp, buf, a->count, a->dtype, a->op); /* lower rank's data first */
    return CCL_SUCCESS;
}

ccl_result_t ccl_fold_out(ccl_coll_ctx_t *ctx, void *buf, int rem)
{
    const ccl_coll_args_t *a = ctx->args;
    int rank = ctx->comm->rank;
    size_t bytes = a->count * a->dt_size;
    if (rank >= 2 * rem)
        return CCL_SUCCESS;
    if ((rank & 1) == 0)
        return ccl_p2p_sendrecv(ctx, -1, NULL, 0, rank + 1, buf, bytes, UNFOLD_ID);
    return ccl_p2p_sendrecv(ctx, rank - 1, buf, bytes, -1, NULL, 0, UNFOLD_ID);
}
