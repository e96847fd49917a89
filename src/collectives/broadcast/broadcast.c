/* broadcast.c: every broadcast algorithm, one file each beside this one. */
#include "collectives/coll.h"

extern const ccl_algo_t ccl_broadcast_binomial;

const ccl_algo_t *const ccl_broadcast_algos[] = {&ccl_broadcast_binomial, NULL};
