/* allgather.c: every allgather algorithm, one file each beside this one. */
#include "collectives/coll.h"

extern const ccl_algo_t ccl_allgather_ring, ccl_allgather_direct_encoded;

const ccl_algo_t *const ccl_allgather_algos[] = {
    &ccl_allgather_ring, /* exact */
    &ccl_allgather_direct_encoded, /* compressed */
    NULL,
};
