/* ring.c: ring reduce-scatter: P-1 pipelined steps; rank r ends with block r reduced. */
#include "collectives/patterns/patterns.h"

#include <stdlib.h>
#include <string.h>

static ccl_result_t reduce_scatter_ring_run(ccl_coll_ctx_t *ctx)
{
    const ccl_coll_args_t *a = ctx->args;
    struct ccl_comm *comm = ctx->comm;
    int p = comm->nranks, rank = comm->rank;
    size_t bytes = a->count * a->dt_size;
    uint8_t *in_place_base = (uint8_t *)a->recvbuf - (size_t)rank * bytes;
    void *work;
    ccl_result_t res;

    /* In place the input buffer is ours to reduce into; otherwise it is const and the
     * partial sums need a full-size buffer of their own. */
    if ((const void *)in_place_base == a->sendbuf) {
        work = in_place_base;
    } else {
        work = malloc((size_t)p * bytes);
        if (work == NULL && bytes > 0)
            return ccl_set_error(comm, CCL_ERR_NO_MEMORY, "no memory for %zu bytes",
                                 (size_t)p * bytes);
    }
    ccl_ring_desc_t d = {
        .seg_count     = a->count,
        .nsteps        = p - 1,
        .nreduce_steps = p - 1,
        .shift         = -1,
        .input         = a->sendbuf,
        .work          = work,
        .avg           = a->op == CCL_AVG,
    };
    res = ccl_ring_run(ctx, &d);
    if (work != in_place_base) {
        if (res == CCL_SUCCESS)
            memcpy(a->recvbuf, (uint8_t *)work + (size_t)rank * bytes, bytes);
        /* After an error the transport's requests are cancelled before this returns, but
         * the buffer must outlive them: ccl_coll_ctx_finish runs in the caller. */
        ctx->owned_buf = work;
    }
    return res;
}

static double reduce_scatter_ring_estimate(const ccl_coll_args_t *a, const ccl_tuning_t *t, int p)
{
    double n = (double)(a->count * a->dt_size);
    return (p - 1) * (t->alpha_us + n * t->beta_us_per_byte +
                      n * t->reduce_us_per_byte);
}

const ccl_algo_t ccl_reduce_scatter_ring = {
    .name        = "ring",
    .desc        = "P-1 steps around a ring, chunked and pipelined",
    .coll        = CCL_COLL_REDUCE_SCATTER,
    .carries     = CCL_CARRY_EXACT,
    .default_for = CCL_CARRY_EXACT,
    .run         = reduce_scatter_ring_run,
    .estimate_us = reduce_scatter_ring_estimate,
};
