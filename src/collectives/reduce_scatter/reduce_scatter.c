/* reduce_scatter.c: every reduce-scatter algorithm, one file each beside this one. */
#include "collectives/coll.h"

extern const ccl_algo_t ccl_reduce_scatter_ring, ccl_reduce_scatter_quant_sra;

const ccl_algo_t *const ccl_reduce_scatter_algos[] = {&ccl_reduce_scatter_ring,
                                                       &ccl_reduce_scatter_quant_sra, NULL};
