/* sparse_hier.c: the sparse allreduce on hosts of several ranks. As in sparse_allgather,
 * every rank's whole (index, value) payload reaches every rank and every rank adds the P
 * payloads in rank order (the bits of sparse_allgather, on every rank), but a payload crosses
 * each host's link once: it goes to one rank of every other host (its relay: the rank there
 * whose local index is the sender's, modulo that host's rank count), which hands it on to the
 * host's other ranks over shared memory (ccl_step_exchange, CCL_ROUTE_RELAY). The flat
 * exchange sends it to each of that host's L ranks: L times the bytes across.
 *
 * The payloads are not summed inside the host first, as hier.c does for dense codecs: each
 * rank keeps its own error feedback on its whole gradient, as flat, and the host's dense
 * reduce-scatter and allgather would cost more than the sparse payloads they save. */
#include "collectives/compressed/step.h"

#include <math.h>

static ccl_result_t sparse_hier_run(ccl_coll_ctx_t *ctx)
{
    return ccl_step_allreduce_sparse(ctx, CCL_ROUTE_RELAY);
}

/* Where a hierarchy exists: every host's link brings in the payloads of the ranks of the
 * other hosts once, and shared memory hands each to the host's others. */
static double sparse_hier_estimate(const ccl_coll_args_t *a, const ccl_tuning_t *t, int P)
{
    if (t->hier_hosts < 2 || t->hier_local < 2 || a->codec == NULL)
        return INFINITY;
    const int L = t->hier_local;
    const double m = (double)a->codec->ops->max_payload(&a->codec->params, a->count);
    return 2.0 * t->alpha_us + (double)(P - L) * m * t->beta_us_per_byte +
           (double)(L - 1) * (double)(P / L) * m * t->beta_local_us_per_byte;
}

const ccl_algo_t ccl_allreduce_sparse_hier = {
    .name        = "sparse_hier",
    .desc        = "sparse_allgather's exchange across hosts once: each payload to one rank "
                   "of every other host, which hands it on inside its host; summed in rank "
                   "order (sparse_allgather's bits); on communicators spanning hosts of "
                   "several ranks",
    .coll        = CCL_COLL_ALLREDUCE,
    .carries     = CCL_CARRY_SPARSE | CCL_CARRY_DENSE,
    .default_for = CCL_CARRY_SPARSE,
    .flags       = CCL_ALGO_ENCODES_WHOLE,
    .run         = sparse_hier_run,
    .estimate_us = sparse_hier_estimate,
};
