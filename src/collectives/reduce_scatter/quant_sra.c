/* quant_sra.c: compressed reduce-scatter, the first half of the compressed allreduce's
 * scatter-reduce-allgather (patterns/sra.c): every rank encodes its part of segment j once
 * and sends it to rank j, which sums the pieces in float32 with its own unencoded part.
 * One quantization per element; each rank sends (P - 1) / P of the encoded buffer. */
#include "collectives/patterns/patterns.h"

static ccl_result_t sra_rs_run(ccl_coll_ctx_t *ctx)
{
    return ccl_sra_run(ctx, 0);
}

static double sra_rs_estimate(const ccl_coll_args_t *a, const ccl_tuning_t *t, int P)
{
    return ccl_sra_estimate(a, t, P, 0);
}

/* No CCL_ALGO_PREPARES_PIECES: without a gather to spread it, a refused (non-finite)
 * gradient must be known before the first piece leaves. */
const ccl_algo_t ccl_reduce_scatter_quant_sra = {
    .name        = "sra",
    .desc        = "compressed scatter-reduce, pipelined: each piece encoded once to its "
                   "owner, summed there in float32 (one quantization)",
    .coll        = CCL_COLL_REDUCE_SCATTER,
    .carries     = CCL_CARRY_DENSE | CCL_CARRY_SPARSE | CCL_CARRY_SIGN,
    .default_for = CCL_CARRY_DENSE | CCL_CARRY_SPARSE | CCL_CARRY_SIGN,
    .run         = sra_rs_run,
    .estimate_us = sra_rs_estimate,
};
