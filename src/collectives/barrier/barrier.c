/* barrier.c: every barrier algorithm, one file each beside this one. */
#include "collectives/coll.h"

extern const ccl_algo_t ccl_barrier_dissemination;

const ccl_algo_t *const ccl_barrier_algos[] = {&ccl_barrier_dissemination, NULL};
