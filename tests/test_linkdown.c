/* test_linkdown.c: one rank of tests/netns.sh's link-loss case: allreduces until one fails
 * (the host of the last rank loses its link meanwhile), then ccl_comm_destroy, which must
 * return: exit 0 once an error came and destroy came back, 1 if no call failed. */
#include "cclz.h"

#include <stdio.h>
#include <stdlib.h>

int main(void)
{
    const size_t n = (size_t)16 << 20;
    float *x = calloc(n, sizeof(float));
    ccl_comm_t comm;
    int rank = -1;
    if (x == NULL || ccl_comm_init_from_env(&comm) != CCL_SUCCESS) {
        fprintf(stderr, "init: %s\n", ccl_get_last_error(NULL));
        return 2;
    }
    ccl_comm_rank(comm, &rank);
    ccl_result_t r = CCL_SUCCESS;
    for (int i = 0; i < 100000 && r == CCL_SUCCESS; i++)
        r = ccl_allreduce(x, x, n, CCL_FLOAT32, CCL_SUM, comm);
    fprintf(stderr, "rank %d: %s: %s\n", rank, ccl_get_error_string(r), ccl_get_last_error(comm));
    ccl_comm_destroy(comm);
    fprintf(stderr, "rank %d: destroyed\n", rank);
    free(x);
    return r == CCL_SUCCESS;
}
