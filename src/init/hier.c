/* hier.c: a communicator's hierarchy (comm.h, ccl_hier_t): the host's ranks in one
 * sub-communicator, each shard's owners across hosts in another, all made by ccl_comm_split
 * on the new communicator; then its links measured for the cost model. */
#include "core/comm.h"
#include "init/init.h"
#include "collectives/coll.h"
#include "base/env_config.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Bytes each link measurement moves: large enough that the per-byte cost dominates. */
#define MEASURE_BYTES (4u << 20)
#define MEASURE_REPS  3

/* The first shard local rank i of a host of L ranks owns, of S shards: ceil(i * S / L). */
static int first_shard(int i, int S, int L)
{
    return (int)(((long)i * S + L - 1) / L);
}

/* The per-byte cost of sub, from the fastest of a few ring allreduces of MEASURE_BYTES
 * (2 (n-1)/n bytes cross each rank's link), or 0 where it has one rank. */
static ccl_result_t measure_link(struct ccl_comm *sub, double *beta_p)
{
    const int n = sub->nranks;
    const size_t count = MEASURE_BYTES / sizeof(float);
    *beta_p = 0;
    if (n < 2)
        return CCL_SUCCESS;
    float *buf = calloc(count, sizeof(float));
    if (buf == NULL) {
        /* Taking no part would leave the others waiting: fail the communicator instead. */
        ccl_comm_fail(sub, CCL_ERR_NO_MEMORY, "no memory to measure a link");
        return ccl_set_error(NULL, CCL_ERR_NO_MEMORY, "no memory to measure a link");
    }
    double best = INFINITY;
    ccl_result_t res = CCL_SUCCESS;
    for (int k = 0; k < MEASURE_REPS && res == CCL_SUCCESS; k++) {
        ccl_coll_args_t a = {.coll = CCL_COLL_ALLREDUCE, .sendbuf = buf, .recvbuf = buf,
                             .count = count, .dtype = CCL_FLOAT32, .op = CCL_SUM,
                             .dt_size = sizeof(float),
                             .algo = ccl_algo_find(CCL_COLL_ALLREDUCE, "ring", CCL_CARRY_EXACT)};
        double t0 = ccl_time_now();
        res = ccl_coll_run(sub, &a);
        best = CCL_MIN(best, ccl_time_now() - t0);
    }
    free(buf);
    double bytes = 2.0 * (n - 1) / n * MEASURE_BYTES;
    double us = best * 1e6 - 2.0 * (n - 1) * sub->tuning.alpha_us;
    *beta_p = CCL_MAX(us, 1.0) / bytes;
    return res;
}

/* Both links measured, then agreed (the slowest seen) so every rank's cost model is the same:
 * the host's link by every rank, the network by shard 0's owners only (the others leave it
 * idle, so one allreduce has the hosts' links to itself). */
static ccl_result_t measure(struct ccl_comm *comm, ccl_hier_t *h)
{
    double beta[2] = {0, 0};
    CCL_CHECK(measure_link(h->local, &beta[0]));
    if (h->first == 0)
        CCL_CHECK(measure_link(h->cross[0], &beta[1]));
    CCL_CHECK(ccl_allreduce(beta, beta, 2, CCL_FLOAT64, CCL_MAX, comm));
    ccl_tuning_t *t = &comm->tuning;
    t->hier_hosts = comm->topo.nhosts;
    t->hier_local = comm->topo.local_max;
    t->beta_local_us_per_byte = beta[0] > 0 ? beta[0] : t->beta_us_per_byte;
    t->beta_us_per_byte = CCL_MAX(beta[1], t->beta_local_us_per_byte);
    h->local->tuning.beta_us_per_byte = t->beta_local_us_per_byte;
    for (int k = 0; k < h->end - h->first; k++)
        h->cross[k]->tuning.beta_us_per_byte = t->beta_us_per_byte;
    ccl_info("rank %d: hierarchy of %d hosts (up to %d ranks each), shards %d-%d: links "
             "%.2f GB/s inside a host, %.2f GB/s between hosts", comm->rank,
             comm->topo.nhosts, comm->topo.local_max, h->first, h->end - 1,
             1e-3 / t->beta_local_us_per_byte, 1e-3 / t->beta_us_per_byte);
    return CCL_SUCCESS;
}

ccl_result_t ccl_hier_create(struct ccl_comm *comm)
{
    const ccl_topo_t *t = &comm->topo;
    if (!ccl_config_get()->hier || t->nhosts < 2 || t->local_max < 2)
        return CCL_SUCCESS;
    ccl_hier_t *h = calloc(1, sizeof(*h));
    const int S = t->local_max;
    ccl_result_t res = CCL_SUCCESS;
    if (h != NULL) {
        h->nshards = S;
        h->first = first_shard(t->local_rank, S, t->local_size);
        h->end = first_shard(t->local_rank + 1, S, t->local_size);
        h->cross = calloc((size_t)(h->end - h->first), sizeof(*h->cross));
    }
    if (h == NULL || h->cross == NULL) {
        /* Every rank must take part in the splits below, or the others wait for it. */
        ccl_comm_fail(comm, CCL_ERR_NO_MEMORY, "no memory for the hierarchy");
        res = ccl_set_error(comm, CCL_ERR_NO_MEMORY, "no memory for the hierarchy");
        goto fail;
    }
    /* comm->hier is set only once whole: the splits' own calls on comm run flat. */
    CCL_CHECK_GOTO(ccl_comm_split(comm, t->host, comm->rank, &h->local), res, fail);
    h->local->parent = comm;
    for (int j = 0; j < S; j++) {
        int mine = j >= h->first && j < h->end;
        ccl_comm_t sub = NULL;
        CCL_CHECK_GOTO(ccl_comm_split(comm, mine ? 0 : CCL_SPLIT_NOCOLOR, t->host, &sub), res,
                       fail);
        if (mine) {
            h->cross[j - h->first] = sub;
            sub->parent = comm;
        }
    }
    CCL_CHECK_GOTO(measure(comm, h), res, fail);
    comm->hier = h;
    return CCL_SUCCESS;
fail:
    comm->hier = h; /* the caller aborts comm, and with it what was made */
    return res;
}

void ccl_hier_destroy(struct ccl_comm *comm, int abort)
{
    ccl_hier_t *h = comm->hier;
    if (h == NULL)
        return;
    for (int k = 0; h->cross != NULL && k < h->end - h->first; k++)
        if (h->cross[k] != NULL)
            (abort ? ccl_comm_abort : ccl_comm_destroy)(h->cross[k]);
    if (h->local != NULL)
        (abort ? ccl_comm_abort : ccl_comm_destroy)(h->local);
    free(h->cross);
    free(h);
    comm->hier = NULL;
}
