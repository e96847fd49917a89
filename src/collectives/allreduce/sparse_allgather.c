/* sparse_allgather.c: sparse allreduce as DGC does it: every rank sends its (index, value)
 * payload to every other rank, and each rank adds all P payloads into zeros in rank order,
 * so every rank computes the same sum in the same order (bit-identical). Each rank moves
 * (P-1) payloads, so time grows linearly with P at a fixed ratio. Calls on device buffers
 * run it with the GPU's encode and decode (cuda/exec_cuda.c): one quantization per element,
 * and only encodings cross PCIe. */
#include "collectives/compressed/step.h"


static ccl_result_t sparse_allgather_run(ccl_coll_ctx_t *ctx)
{
    return ccl_step_allreduce_sparse(ctx, CCL_ROUTE_DIRECT);
}

const ccl_algo_t ccl_allreduce_sparse_allgather = {
    .name        = "sparse_allgather",
    .desc        = "every rank's (index, value) payload to every rank, summed in rank order "
                   "(DGC's exchange); also carries dense codecs",
    .coll        = CCL_COLL_ALLREDUCE,
    .carries     = CCL_CARRY_SPARSE | CCL_CARRY_DENSE,
    .default_for = CCL_CARRY_SPARSE,
    .flags       = CCL_ALGO_ENCODES_WHOLE,
    .run         = sparse_allgather_run,
};
