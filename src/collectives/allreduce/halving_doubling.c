/* halving_doubling.c: Rabenseifner's allreduce: reduce-scatter by recursive halving, then
 * allgather by recursive doubling. The ring's bandwidth in 2*log2(P) pairwise steps instead
 * of 2(P-1), for mid-size messages; other rank counts fold the extra ranks in first. */
#include "collectives/patterns/patterns.h"
#include "core/reduce.h"

#include <string.h>

#define HD_ID_STEP0  2 /* after the fold's ids */
#define HD_MAX_LEVELS 24

static ccl_result_t allreduce_hd_run(ccl_coll_ctx_t *ctx)
{
    const ccl_coll_args_t *a = ctx->args;
    struct ccl_comm *comm = ctx->comm;
    int rank = comm->rank, p = comm->nranks;
    int pof2 = ccl_pow2_floor(p), rem = p - pof2, newrank = ccl_rd_newrank(rank, rem);
    size_t dts = a->dt_size, bytes = a->count * dts;
    uint8_t *buf = a->recvbuf, *tmp;
    size_t lo[HD_MAX_LEVELS + 1], hi[HD_MAX_LEVELS + 1];
    int levels = 0;
    ccl_p2p_req_t *reqs;

    CCL_CHECK(ccl_ctx_reqs(ctx, 2, &reqs));
    tmp = ccl_comm_scratch(comm, bytes / 2 + dts);
    if (tmp == NULL)
        return ccl_set_error(comm, CCL_ERR_NO_MEMORY, "no memory for %zu bytes", bytes / 2);
    if (a->sendbuf != a->recvbuf)
        memcpy(buf, a->sendbuf, bytes);

    if (rank < 2 * rem && newrank >= 0) {
        /* The rank that folds its partner in needs a full-size buffer for it. */
        tmp = ccl_comm_scratch(comm, bytes);
        if (tmp == NULL)
            return ccl_set_error(comm, CCL_ERR_NO_MEMORY, "no memory for %zu bytes", bytes);
    }
    CCL_CHECK(ccl_fold_in(ctx, buf, tmp, rem));

    if (newrank >= 0) {
        /* Reduce-scatter: at each level keep half of the current range, trade the other. */
        lo[0] = 0;
        hi[0] = a->count;
        for (int mask = pof2 >> 1; mask > 0; mask >>= 1, levels++) {
            int peer = ccl_rd_oldrank(newrank ^ mask, rem);
            size_t l = lo[levels], h = hi[levels], mid = l + (h - l) / 2;
            int keep_low = (newrank & mask) == 0;
            size_t kl = keep_low ? l : mid, kh = keep_low ? mid : h;
            size_t gl = keep_low ? mid : l, gh = keep_low ? h : mid;
            CCL_CHECK(ccl_p2p_sendrecv(ctx, peer, buf + gl * dts, (gh - gl) * dts, peer, tmp,
                                       (kh - kl) * dts, (uint32_t)(HD_ID_STEP0 + levels)));
            /* Both partners evaluate op(lower rank's data, higher rank's data). */
            if (peer < rank)
                ccl_reduce(buf + kl * dts, tmp, buf + kl * dts, kh - kl, a->dtype, a->op);
            else
                ccl_reduce(buf + kl * dts, buf + kl * dts, tmp, kh - kl, a->dtype, a->op);
            lo[levels + 1] = kl;
            hi[levels + 1] = kh;
        }
        /* This rank's range is complete: average it once, here, so every copy agrees. */
        if (a->op == CCL_AVG)
            ccl_reduce_scale_avg(buf + lo[levels] * dts, hi[levels] - lo[levels], a->dtype, p);
        /* Allgather: retrace the levels, trading finished ranges with the same partners. */
        for (int lv = levels - 1, mask = 1; lv >= 0; lv--, mask <<= 1) {
            int peer = ccl_rd_oldrank(newrank ^ mask, rem);
            size_t ml = lo[lv + 1], mh = hi[lv + 1];
            size_t ol = ml == lo[lv] ? mh : lo[lv], oh = ml == lo[lv] ? hi[lv] : ml;
            CCL_CHECK(ccl_p2p_sendrecv(ctx, peer, buf + ml * dts, (mh - ml) * dts, peer,
                                       buf + ol * dts, (oh - ol) * dts,
                                       (uint32_t)(HD_ID_STEP0 + HD_MAX_LEVELS + lv)));
        }
    }

    CCL_CHECK(ccl_fold_out(ctx, buf, rem));
    return CCL_SUCCESS;
}

const ccl_algo_t ccl_allreduce_halving_doubling = {
    .name        = "halving_doubling",
    .desc        = "Rabenseifner: reduce-scatter by recursive halving + allgather by recursive "
                   "doubling; ring bandwidth in 2*log2(P) steps",
    .coll        = CCL_COLL_ALLREDUCE,
    .carries     = CCL_CARRY_EXACT,
    .default_for = 0,
    .run         = allreduce_hd_run,
    /* No estimate: forced only. On shared memory and on emulated 1 Gbit/s links it tied or
     * lost to the ring at every size measured (perf/RESULTS.md), so the model leaves it be. */
    .estimate_us = NULL,
};
