/* allreduce.c: every allreduce algorithm, exact and compressed, one file each beside this
 * one. The order breaks the selector's ties. */
#include "collectives/coll.h"

extern const ccl_algo_t ccl_allreduce_ring, ccl_allreduce_rec_doubling, ccl_allreduce_direct,
    ccl_allreduce_halving_doubling, ccl_allreduce_quant_sra, ccl_allreduce_quant_ring,
    ccl_allreduce_quant_tree, ccl_allreduce_sparse_allgather, ccl_allreduce_sparse_rd,
    ccl_allreduce_sparse_split, ccl_allreduce_sparse_hier, ccl_allreduce_sign_vote,
    ccl_allreduce_powersgd, ccl_allreduce_hier;

const ccl_algo_t *const ccl_allreduce_algos[] = {
    &ccl_allreduce_ring,       &ccl_allreduce_rec_doubling,     &ccl_allreduce_direct,
    &ccl_allreduce_halving_doubling,
    &ccl_allreduce_quant_sra,  &ccl_allreduce_quant_ring,       &ccl_allreduce_quant_tree,
    &ccl_allreduce_sparse_allgather, &ccl_allreduce_sparse_rd, &ccl_allreduce_sparse_split,
    &ccl_allreduce_sparse_hier,
    &ccl_allreduce_sign_vote,  &ccl_allreduce_powersgd,         &ccl_allreduce_hier,
    NULL,
};
