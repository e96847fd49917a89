/* test_env.c: one rank started by a launcher (cclz_run, torchrun-style or mpirun
 * variables): ccl_comm_init_from_env, then an allreduce and an allgather with known sums. */
#include "cclz.h"

#include <stdio.h>
#include <stdlib.h>

int main(void)
{
    ccl_comm_t comm;
    int rank, p, bad = 0;
    if (ccl_comm_init_from_env(&comm) != CCL_SUCCESS) {
        fprintf(stderr, "init_from_env: %s\n", ccl_get_last_error(NULL));
        return 1;
    }
    ccl_comm_rank(comm, &rank);
    ccl_comm_size(comm, &p);
    int64_t x[3] = {rank + 1, 1, -rank}, y[3];
    if (ccl_allreduce(x, y, 3, CCL_INT64, CCL_SUM, comm) != CCL_SUCCESS)
        bad = 1;
    else if (y[0] != (int64_t)p * (p + 1) / 2 || y[1] != p || y[2] != -(int64_t)p * (p - 1) / 2)
        bad = 2;
    int32_t *all = calloc((size_t)p, sizeof(int32_t)), me = 10 * rank;
    if (ccl_allgather(&me, all, 1, CCL_INT32, comm) != CCL_SUCCESS)
        bad = 3;
    for (int r = 0; r < p && !bad; r++)
        if (all[r] != 10 * r)
            bad = 4;
    if (bad)
        fprintf(stderr, "rank %d: failed (%d): %s\n", rank, bad, ccl_get_last_error(comm));
    else if (rank == 0)
        printf("test_env: %d ranks OK\n", p);
    free(all);
    ccl_comm_destroy(comm);
    return bad;
}
