/* split.c: ccl_comm_split: disjoint communicators by color, ranked by key, made through the
 * parent: every rank's (color, key) allgathered, each group's first rank opens a rendezvous,
 * the ids allgathered, and each rank joins its group's. */
#include "core/comm.h"
#include "init/init.h"

#include <stdlib.h>
#include <string.h>

/* Ranks of the group of `color` in all[] ((color, key) per rank), by key, then by rank. */
static int group_of(const int32_t *all, int nranks, int color, int *members)
{
    int m = 0;
    for (int r = 0; r < nranks; r++) {
        if (all[2 * r] != color)
            continue;
        int j = m++;
        while (j > 0 && all[2 * members[j - 1] + 1] > all[2 * r + 1]) {
            members[j] = members[j - 1];
            j--;
        }
        members[j] = r;
    }
    return m;
}

ccl_result_t ccl_comm_split(ccl_comm_t comm, int color, int key, ccl_comm_t *newcomm_p)
{
    if (comm == NULL)
        return ccl_set_error(NULL, CCL_ERR_INVALID_ARG, "comm is NULL");
    if (newcomm_p == NULL)
        return ccl_set_error(comm, CCL_ERR_INVALID_ARG, "newcomm_p is NULL");
    *newcomm_p = NULL;
    if (color < 0 && color != CCL_SPLIT_NOCOLOR)
        return ccl_set_error(comm, CCL_ERR_INVALID_ARG,
                             "color %d: a split takes a color >= 0, or CCL_SPLIT_NOCOLOR", color);
    const int P = comm->nranks, r = comm->rank;
    int32_t mine[2] = {color, key}, *all = malloc((size_t)P * 2 * sizeof(int32_t));
    int *members = malloc((size_t)P * sizeof(int));
    ccl_unique_id_t *ids = calloc((size_t)P, sizeof(ccl_unique_id_t)), id;
    ccl_result_t res;
    memset(&id, 0, sizeof(id));
    if (all == NULL || members == NULL || ids == NULL) {
        /* Taking no part would leave the others waiting: fail the communicator instead. */
        res = ccl_set_error(comm, CCL_ERR_NO_MEMORY, "no memory to split %d ranks", P);
        ccl_comm_fail(comm, res, ccl_get_last_error(comm));
        goto out;
    }
    CCL_CHECK_GOTO(ccl_allgather(mine, all, 2, CCL_INT32, comm), res, out);
    const int m = color == CCL_SPLIT_NOCOLOR ? 0 : group_of(all, P, color, members);
    /* The group's first rank serves its rendezvous; should it fail to open one, it sends a
     * zero id, which its group's ranks then refuse (all of them, with the reason). */
    if (m > 0 && members[0] == r && ccl_get_unique_id(&id) != CCL_SUCCESS) {
        ccl_warn("rank %d: split: no rendezvous for color %d: %s", r, color,
                 ccl_get_last_error(NULL));
        memset(&id, 0, sizeof(id));
    }
    CCL_CHECK_GOTO(ccl_allgather(&id, ids, sizeof(id), CCL_UINT8, comm), res, out);
    res = CCL_SUCCESS;
    if (m == 0)
        goto out;
    int newrank = 0;
    while (members[newrank] != r)
        newrank++;
    res = ccl_comm_init_rank(newcomm_p, m, ids[members[0]], newrank);
    if (res != CCL_SUCCESS)
        ccl_set_error(comm, res, "split, color %d (%d ranks): %s", color, m,
                      ccl_get_last_error(NULL));
out:
    free(all);
    free(members);
    free(ids);
    return res;
}
