/* quant_sra.c: quantized scatter-reduce-allgather, pipelined (patterns/sra.c): each piece
 * encoded once to its owner, summed there in float32, the sum encoded once to every rank,
 * which all decode the same bytes (two quantizations, bit-identical results). */
#include "collectives/patterns/patterns.h"

static ccl_result_t sra_run(ccl_coll_ctx_t *ctx)
{
    return ccl_sra_run(ctx, 1);
}

static double sra_estimate(const ccl_coll_args_t *a, const ccl_tuning_t *t, int P)
{
    return ccl_sra_estimate(a, t, P, 1);
}

const ccl_algo_t ccl_allreduce_quant_sra = {
    .name        = "sra",
    .desc        = "quantized scatter-reduce-allgather, pipelined: each piece encoded once to "
                   "its owner, summed in float32, the sum encoded once to all (two "
                   "quantizations)",
    .coll        = CCL_COLL_ALLREDUCE,
    .carries     = CCL_CARRY_DENSE | CCL_CARRY_SPARSE,
    .default_for = CCL_CARRY_DENSE,
    .flags       = CCL_ALGO_PREPARES_PIECES,
    .run         = sra_run,
    .estimate_us = sra_estimate,
};
