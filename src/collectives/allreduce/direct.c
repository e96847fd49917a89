/* direct.c: one-shot allreduce for tiny messages: every rank sends its whole buffer to every
 * other rank at once, then sums all P buffers in rank order. One round of messages instead of
 * log2(P) dependent ones; the P-fold traffic only pays off while latency dominates. */
#include "collectives/patterns/patterns.h"
#include "core/reduce.h"

#include <string.h>

#define DIRECT_ID 0

static ccl_result_t allreduce_direct_run(ccl_coll_ctx_t *ctx)
{
    const ccl_coll_args_t *a = ctx->args;
    struct ccl_comm *comm = ctx->comm;
    int rank = comm->rank, p = comm->nranks;
    size_t bytes = a->count * a->dt_size;
    uint8_t *slots;
    ccl_p2p_req_t *reqs;

    CCL_CHECK(ccl_ctx_reqs(ctx, 2 * (p - 1), &reqs));
    /* Slot r holds rank r's input. The cost model picks this only for tiny buffers; a
     * CCLZ_ALGO that forces it on a huge one gets an error, the same on every rank. */
    if (bytes > SIZE_MAX / (size_t)p)
        return ccl_set_error(comm, CCL_ERR_INVALID_ARG, "%zu bytes x %d ranks overflow", bytes,
                             p);
    slots = ccl_comm_scratch(comm, bytes * (size_t)p);
    if (slots == NULL && bytes > 0)
        return ccl_set_error(comm, CCL_ERR_NO_MEMORY, "no memory for %zu bytes x %d ranks",
                             bytes, p);
    if (bytes > 0)
        memcpy(slots + (size_t)rank * bytes, a->sendbuf, bytes);

    /* Receives first, then sends starting at the next rank so that no rank is everyone's
     * first destination. */
    for (int i = 1; i < p; i++) {
        int peer = ccl_mod(rank - i, p);
        CCL_CHECK(ccl_p2p_irecv(ctx, peer, DIRECT_ID, slots + (size_t)peer * bytes, bytes,
                                &reqs[i - 1]));
    }
    for (int i = 1; i < p; i++) {
        int peer = ccl_mod(rank + i, p);
        CCL_CHECK(ccl_p2p_isend(ctx, peer, DIRECT_ID, slots + (size_t)rank * bytes, bytes,
                                &reqs[p - 2 + i]));
    }
    CCL_CHECK(ccl_p2p_waitall(ctx, reqs, 2 * (p - 1)));

    /* The same order on every rank, so every rank gets the same bits. */
    uint8_t *out = a->recvbuf;
    ccl_reduce(out, slots, slots + bytes, a->count, a->dtype, a->op);
    for (int r = 2; r < p; r++)
        ccl_reduce(out, out, slots + (size_t)r * bytes, a->count, a->dtype, a->op);
    if (a->op == CCL_AVG)
        ccl_reduce_scale_avg(out, a->count, a->dtype, p);
    return CCL_SUCCESS;
}

static double allreduce_direct_estimate(const ccl_coll_args_t *a, const ccl_tuning_t *t, int p)
{
    double n = (double)(a->count * a->dt_size);
    /* One latency, but P-1 messages leave each rank, each costing a fraction of it. */
    return t->alpha_us +
           (p - 1) * (0.3 * t->alpha_us + n * t->beta_us_per_byte +
                      n * t->reduce_us_per_byte);
}

const ccl_algo_t ccl_allreduce_direct = {
    .name        = "direct",
    .desc        = "one shot: every rank sends its buffer to all, then sums the P buffers in "
                   "rank order; one round of latency, for tiny messages",
    .coll        = CCL_COLL_ALLREDUCE,
    .carries     = CCL_CARRY_EXACT,
    .default_for = CCL_CARRY_EXACT,
    .run         = allreduce_direct_run,
    .estimate_us = allreduce_direct_estimate,
};
