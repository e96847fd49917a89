/* binomial.c: binomial-tree broadcast, chunked so that the tree's levels work at once. */
#include "collectives/patterns/patterns.h"
#include "base/env_config.h"

#include <string.h>

#define BCAST_RECV_WINDOW 16
#define BCAST_MAX_CHILDREN 32

static ccl_result_t broadcast_binomial_run(ccl_coll_ctx_t *ctx)
{
    const ccl_coll_args_t *a = ctx->args;
    struct ccl_comm *comm = ctx->comm;
    int parent, children[BCAST_MAX_CHILDREN];
    int nchild = ccl_binomial_tree(comm->rank, a->root, comm->nranks, &parent, children);
    size_t bytes = a->count * a->dt_size;
    size_t chunk = CCL_MAX((size_t)1, ccl_config_get()->chunk_size / a->dt_size) * a->dt_size;
    size_t nchunks = CCL_MAX((size_t)1, (bytes + chunk - 1) / chunk);
    const uint8_t *src = parent < 0 ? a->sendbuf : a->recvbuf;
    ccl_p2p_req_t *reqs, *sreqs, *rreqs;
    size_t posted = 0;

    if (nchunks > CCL_TAG_MAX_ID) {
        nchunks = CCL_TAG_MAX_ID;
        chunk = ((bytes / a->dt_size + nchunks - 1) / nchunks) * a->dt_size;
    }
    CCL_CHECK(ccl_ctx_reqs(ctx, (int)(nchunks * (size_t)nchild) + BCAST_RECV_WINDOW, &reqs));
    sreqs = reqs;
    rreqs = reqs + nchunks * (size_t)nchild;
    if (parent < 0 && a->sendbuf != a->recvbuf)
        memcpy(a->recvbuf, a->sendbuf, bytes);

    for (size_t c = 0; c < nchunks; c++) {
        size_t off = CCL_MIN(c * chunk, bytes), len = CCL_MIN(chunk, bytes - off);
        if (parent >= 0) {
            for (; posted < nchunks && posted < c + BCAST_RECV_WINDOW; posted++) {
                size_t po = CCL_MIN(posted * chunk, bytes), pl = CCL_MIN(chunk, bytes - po);
                CCL_CHECK(ccl_p2p_irecv(ctx, parent, (uint32_t)posted,
                                        (uint8_t *)a->recvbuf + po, pl,
                                        &rreqs[posted % BCAST_RECV_WINDOW]));
            }
            CCL_CHECK(ccl_p2p_wait(ctx, &rreqs[c % BCAST_RECV_WINDOW]));
        }
        for (int k = 0; k < nchild; k++)
            CCL_CHECK(ccl_p2p_isend(ctx, children[k], (uint32_t)c, src + off, len,
                                    &sreqs[c * (size_t)nchild + (size_t)k]));
    }
    return ccl_p2p_waitall(ctx, sreqs, (int)(nchunks * (size_t)nchild));
}

static double broadcast_binomial_estimate(const ccl_coll_args_t *a, const ccl_tuning_t *t, int p)
{
    double n = (double)(a->count * a->dt_size);
    double chunk = (double)ccl_config_get()->chunk_size;
    double nchunks = n > chunk ? n / chunk : 1.0, piece = n / nchunks;
    return (ccl_log2_ceil(p) + nchunks - 1) *
           (t->alpha_us + piece * t->beta_us_per_byte);
}

const ccl_algo_t ccl_broadcast_binomial = {
    .name        = "binomial",
    .desc        = "binomial tree from the root, chunked and pipelined down the levels",
    .coll        = CCL_COLL_BROADCAST,
    .carries     = CCL_CARRY_EXACT,
    .default_for = CCL_CARRY_EXACT,
    .run         = broadcast_binomial_run,
    .estimate_us = broadcast_binomial_estimate,
};
