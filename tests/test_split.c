/* test_split.c: ccl_comm_split on 6 ranks as processes: groups by color ranked by key, a rank
 * that joins none, a split of a split, the parent and the children used side by side, and a
 * bad color refused with the parent still usable. */
#include "harness.h"

/* Every rank of c: its rank and size are (want_rank, want_size), and an allgather of the
 * parent ranks in c gives want_order. */
static int check_comm(ccl_comm_t c, int parent_rank, int want_rank, int want_size,
                      const int32_t *want_order)
{
    int r = -1, s = -1;
    int32_t me = parent_rank, order[16];
    if (ccl_comm_rank(c, &r) != CCL_SUCCESS || ccl_comm_size(c, &s) != CCL_SUCCESS ||
        r != want_rank || s != want_size)
        return 0;
    if (ccl_allgather(&me, order, 1, CCL_INT32, c) != CCL_SUCCESS)
        return 0;
    return memcmp(order, want_order, (size_t)s * sizeof(int32_t)) == 0;
}

static int rank_main(int rank, int p, ccl_unique_id_t id, const char *arg)
{
    ccl_comm_t comm = h_init_comm(rank, p, id), half = NULL, five = NULL, pair = NULL;
    int ok = 1;
    (void)arg;
    /* Colors by parity, keys reversed: evens {4, 2, 0}, odds {5, 3, 1}. */
    ok &= ccl_comm_split(comm, rank % 2, -rank, &half) == CCL_SUCCESS && half != NULL;
    const int32_t evens[] = {4, 2, 0}, odds[] = {5, 3, 1};
    ok &= check_comm(half, rank, (p - 1 - rank) / 2, 3, rank % 2 ? odds : evens);
    /* Rank 5 joins none; equal keys keep the parent's order. */
    ok &= ccl_comm_split(comm, rank == 5 ? CCL_SPLIT_NOCOLOR : 7, 0, &five) == CCL_SUCCESS;
    const int32_t first5[] = {0, 1, 2, 3, 4};
    if (rank == 5)
        ok &= five == NULL;
    else
        ok &= five != NULL && check_comm(five, rank, rank, 5, first5);
    /* A split of a split: the first two of each half. */
    int hr = -1;
    ccl_comm_rank(half, &hr);
    ok &= ccl_comm_split(half, hr < 2 ? 0 : 1, 0, &pair) == CCL_SUCCESS && pair != NULL;
    int ps = 0;
    ccl_comm_size(pair, &ps);
    ok &= ps == (hr < 2 ? 2 : 1);
    /* Parent and children side by side. */
    int64_t v = rank + 1, sum = 0;
    ok &= ccl_allreduce(&v, &sum, 1, CCL_INT64, CCL_SUM, half) == CCL_SUCCESS &&
          sum == (rank % 2 ? 2 + 4 + 6 : 1 + 3 + 5);
    ok &= ccl_allreduce(&v, &sum, 1, CCL_INT64, CCL_SUM, comm) == CCL_SUCCESS && sum == 21;
    /* A bad color: refused at once, nothing sent, the parent usable. */
    ccl_comm_t bad = NULL;
    ok &= ccl_comm_split(comm, -5, 0, &bad) == CCL_ERR_INVALID_ARG && bad == NULL &&
          strstr(ccl_get_last_error(comm), "CCL_SPLIT_NOCOLOR") != NULL;
    ok &= ccl_comm_split(comm, 0, 0, NULL) == CCL_ERR_INVALID_ARG;
    int32_t flag = ok ? 0 : 1;
    ok &= ccl_allreduce(&flag, &flag, 1, CCL_INT32, CCL_MAX, comm) == CCL_SUCCESS && flag == 0;
    if (five != NULL)
        ccl_comm_destroy(five);
    ccl_comm_destroy(pair);
    ccl_comm_destroy(half);
    ccl_comm_destroy(comm);
    return ok ? 0 : 1;
}

int main(int argc, char **argv)
{
    int codes[64];
    h_init(argc, argv, rank_main);
    h_report(h_spawn(6, NULL, 120, codes) == 0,
             "split: 6 ranks by color and key, a rank in none, a split of a split, parent and "
             "children side by side, a bad color refused");
    return h_failed ? 1 : 0;
}
