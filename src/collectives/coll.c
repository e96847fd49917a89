/* coll.c: the exact collective calls: argument checks, the call's sequence number and
 * signature, algorithm selection, and the failure state afterwards. */
#include "collectives/p2p.h"
#include "collectives/request.h"

#include <stdio.h>
#include <string.h>

static ccl_result_t coll_check_common(ccl_comm_t comm, ccl_datatype_t dtype, size_t count,
                                      size_t mult, size_t *dt_size_p)
{
    size_t dts;
    if ((unsigned)dtype >= CCL_NUM_DATATYPES)
        return ccl_set_error(comm, CCL_ERR_INVALID_ARG, "unknown datatype %d", (int)dtype);
    dts = ccl_datatype_size(dtype);
    /* The largest buffer touched is count * mult elements; no buffer can hold more bytes
     * than a pointer difference can count. */
    if (count > (size_t)PTRDIFF_MAX / dts / mult)
        return ccl_set_error(comm, CCL_ERR_INVALID_ARG,
                             "count %zu overflows the buffer size for %zu ranks", count, mult);
    *dt_size_p = dts;
    return CCL_SUCCESS;
}

static ccl_result_t coll_check_op(ccl_comm_t comm, ccl_redop_t op)
{
    if ((unsigned)op >= CCL_NUM_OPS)
        return ccl_set_error(comm, CCL_ERR_INVALID_ARG, "unknown reduction op %d", (int)op);
    return CCL_SUCCESS;
}

static ccl_result_t coll_check_bufs(ccl_comm_t comm, const void *sendbuf, const void *recvbuf,
                                    size_t count)
{
    if (count > 0 && (sendbuf == NULL || recvbuf == NULL))
        return ccl_set_error(comm, CCL_ERR_INVALID_ARG, "%s is NULL with count %zu",
                             sendbuf == NULL ? "sendbuf" : "recvbuf", count);
    return CCL_SUCCESS;
}

/* One step of the call's signature hash (every call makes one, so it is word-wise). */
static uint64_t sig_mix(uint64_t h, uint64_t w)
{
    h = (h ^ w) * 0x9e3779b97f4a7c15ULL;
    return h ^ (h >> 31);
}

/* One rank: the result is the input. */
static void coll_run_single(const ccl_coll_args_t *a)
{
    size_t bytes = a->count * a->dt_size;
    if (a->coll != CCL_COLL_BARRIER && a->sendbuf != a->recvbuf && bytes > 0)
        memmove(a->recvbuf, a->sendbuf, bytes);
}

/* CCLZ_CHECK_CALLS: every rank's signature for this call, compared in one small exact
 * allreduce (the maxima of sig and of ~sig) before anything of the call moves. Where they
 * differ every rank learns it from the same bytes, and no message of the call was sent,
 * so the communicator stays usable. */
static ccl_result_t check_call(struct ccl_comm *comm, const ccl_coll_args_t *a, uint64_t sig)
{
    int64_t v[2] = {(int64_t)sig, (int64_t)~sig};
    ccl_coll_args_t c = {.coll = CCL_COLL_ALLREDUCE, .sendbuf = v, .recvbuf = v, .count = 2,
                         .dtype = CCL_INT64, .op = CCL_MAX, .dt_size = sizeof(v[0]),
                         .unchecked = 1};
    CCL_CHECK(ccl_coll_run(comm, &c));
    if ((uint64_t)v[0] == sig && ~(uint64_t)v[1] == sig)
        return CCL_SUCCESS;
    return ccl_set_error(comm, CCL_ERR_MISMATCH,
                         "%s call #%u: the ranks called different collectives, or with other "
                         "counts, types, ops, roots, algorithms or compressors (found by "
                         "CCLZ_CHECK_CALLS before anything moved)",
                         ccl_coll_name(a->coll), comm->seq);
}

ccl_result_t ccl_coll_run(ccl_comm_t comm, ccl_coll_args_t *a)
{
    ccl_coll_ctx_t ctx = {0};
    const ccl_algo_t *algo;
    ccl_result_t res;

    if (comm->failed != CCL_SUCCESS)
        return ccl_set_error(comm, comm->failed, "communicator already failed: %s",
                             comm->failure);
    atomic_fetch_add(&comm->in_flight, 1);
    if (atomic_load(&comm->abort_flag)) {
        atomic_fetch_sub(&comm->in_flight, 1);
        return ccl_set_error(comm, CCL_ERR_ABORTED, "communicator is being aborted");
    }
    ctx.comm = comm;
    ctx.args = a;
    ctx.last_progress = ccl_time_now();
    if (comm->nranks == 1 && a->algo == NULL) {
        comm->seq++;
        coll_run_single(a);
        atomic_fetch_sub(&comm->in_flight, 1);
        return CCL_SUCCESS;
    }

    algo = a->algo != NULL ? a->algo
                           : ccl_algo_select(a, CCL_CARRY_EXACT, &comm->tuning, comm->nranks, NULL);
    /* Everything that must agree across ranks, the algorithm included: a rank that picked
     * another algorithm (a different CCLZ_ALGO, say) would otherwise wait forever. */
    ctx.sig = sig_mix(sig_mix(sig_mix(sig_mix(ccl_hash64(algo->name, strlen(algo->name), 0),
                                              (uint64_t)a->coll << 32 | (uint32_t)a->dtype),
                                      (uint64_t)a->op << 32 | (uint32_t)a->root),
                              a->count),
                      a->sig_extra);
    if (comm->check_calls && !a->unchecked && !(algo->flags & CCL_ALGO_TOLERANT) &&
        (res = check_call(comm, a, ctx.sig)) != CCL_SUCCESS) {
        atomic_fetch_sub(&comm->in_flight, 1);
        return res;
    }
    /* A nested algorithm's calls take their own numbers, the same on every rank. */
    ctx.seq = (algo->flags & CCL_ALGO_NESTED) ? comm->seq : comm->seq++;
    ccl_trace("rank %d: %s #%u count %zu via %s", comm->rank, ccl_coll_name(a->coll), ctx.seq,
              a->count, algo->name);

    res = algo->run(&ctx);
    ccl_coll_ctx_finish(&ctx);
    if (res < 0 && comm->failed == CCL_SUCCESS && !ctx.keep_comm) {
        /* An algorithm that failed on its own (no memory, say) still fails the
         * communicator, since its peers are now out of step. */
        ccl_comm_fail(comm, res, ccl_get_last_error(comm));
    }
    atomic_fetch_sub(&comm->in_flight, 1);
    return res;
}

/* Allreduce, allgather and reduce-scatter: buffers of count and count * mult elements, and
 * (where the collective reduces) an op. */
static ccl_result_t run_vector(const ccl_call_t *c, int check_only, ccl_coll_t coll,
                               size_t mult, int reduces)
{
    ccl_comm_t comm = c->comm;
    ccl_coll_args_t a = {.coll = coll, .sendbuf = c->sendbuf, .recvbuf = c->recvbuf,
                         .count = c->count, .dtype = c->dtype, .op = reduces ? c->op : CCL_SUM};
    CCL_CHECK(coll_check_common(comm, c->dtype, c->count, mult, &a.dt_size));
    if (reduces)
        CCL_CHECK(coll_check_op(comm, c->op));
    CCL_CHECK(coll_check_bufs(comm, c->sendbuf, c->recvbuf, c->count));
    return check_only ? CCL_SUCCESS : ccl_coll_run(comm, &a);
}

ccl_result_t ccl_run_allreduce(const ccl_call_t *c, int check_only)
{
    if (c->comm == NULL)
        return ccl_set_error(NULL, CCL_ERR_INVALID_ARG, "comm is NULL");
    return run_vector(c, check_only, CCL_COLL_ALLREDUCE, 1, 1);
}

ccl_result_t ccl_run_allgather(const ccl_call_t *c, int check_only)
{
    if (c->comm == NULL)
        return ccl_set_error(NULL, CCL_ERR_INVALID_ARG, "comm is NULL");
    return run_vector(c, check_only, CCL_COLL_ALLGATHER, (size_t)c->comm->nranks, 0);
}

ccl_result_t ccl_run_reduce_scatter(const ccl_call_t *c, int check_only)
{
    if (c->comm == NULL)
        return ccl_set_error(NULL, CCL_ERR_INVALID_ARG, "comm is NULL");
    return run_vector(c, check_only, CCL_COLL_REDUCE_SCATTER, (size_t)c->comm->nranks, 1);
}

ccl_result_t ccl_run_broadcast(const ccl_call_t *c, int check_only)
{
    ccl_comm_t comm = c->comm;
    ccl_coll_args_t a = {.coll = CCL_COLL_BROADCAST, .sendbuf = c->sendbuf,
                         .recvbuf = c->recvbuf, .count = c->count, .dtype = c->dtype,
                         .op = CCL_SUM, .root = c->root};
    if (comm == NULL)
        return ccl_set_error(NULL, CCL_ERR_INVALID_ARG, "comm is NULL");
    CCL_CHECK(coll_check_common(comm, c->dtype, c->count, 1, &a.dt_size));
    if (c->root < 0 || c->root >= comm->nranks)
        return ccl_set_error(comm, CCL_ERR_INVALID_ARG, "root %d is not a rank of [0, %d)",
                             c->root, comm->nranks);
    if (c->count > 0 &&
        (c->recvbuf == NULL || (comm->rank == c->root && c->sendbuf == NULL)))
        return ccl_set_error(comm, CCL_ERR_INVALID_ARG, "%s is NULL with count %zu",
                             c->recvbuf == NULL ? "recvbuf" : "sendbuf (on the root)", c->count);
    if (comm->rank != c->root)
        a.sendbuf = c->recvbuf; /* only the root's sendbuf means anything */
    return check_only ? CCL_SUCCESS : ccl_coll_run(comm, &a);
}

ccl_result_t ccl_run_barrier(const ccl_call_t *c, int check_only)
{
    ccl_coll_args_t a = {.coll = CCL_COLL_BARRIER, .dtype = CCL_UINT8, .op = CCL_SUM, .dt_size = 1};
    if (c->comm == NULL)
        return ccl_set_error(NULL, CCL_ERR_INVALID_ARG, "comm is NULL");
    return check_only ? CCL_SUCCESS : ccl_coll_run(c->comm, &a);
}

ccl_result_t ccl_allreduce(const void *sendbuf, void *recvbuf, size_t count,
                           ccl_datatype_t dtype, ccl_redop_t op, ccl_comm_t comm)
{
    ccl_call_t c = {.kind = CCL_CALL_ALLREDUCE, .comm = comm, .sendbuf = sendbuf,
                    .recvbuf = recvbuf, .count = count, .dtype = dtype, .op = op};
    return ccl_call_blocking(&c);
}

ccl_result_t ccl_allgather(const void *sendbuf, void *recvbuf, size_t sendcount,
                           ccl_datatype_t dtype, ccl_comm_t comm)
{
    ccl_call_t c = {.kind = CCL_CALL_ALLGATHER, .comm = comm, .sendbuf = sendbuf,
                    .recvbuf = recvbuf, .count = sendcount, .dtype = dtype};
    return ccl_call_blocking(&c);
}

ccl_result_t ccl_reduce_scatter(const void *sendbuf, void *recvbuf, size_t recvcount,
                                ccl_datatype_t dtype, ccl_redop_t op, ccl_comm_t comm)
{
    ccl_call_t c = {.kind = CCL_CALL_REDUCE_SCATTER, .comm = comm, .sendbuf = sendbuf,
                    .recvbuf = recvbuf, .count = recvcount, .dtype = dtype, .op = op};
    return ccl_call_blocking(&c);
}

ccl_result_t ccl_broadcast(const void *sendbuf, void *recvbuf, size_t count,
                           ccl_datatype_t dtype, int root, ccl_comm_t comm)
{
    ccl_call_t c = {.kind = CCL_CALL_BROADCAST, .comm = comm, .sendbuf = sendbuf,
                    .recvbuf = recvbuf, .count = count, .dtype = dtype, .root = root};
    return ccl_call_blocking(&c);
}

ccl_result_t ccl_barrier(ccl_comm_t comm)
{
    ccl_call_t c = {.kind = CCL_CALL_BARRIER, .comm = comm};
    return ccl_call_blocking(&c);
}

ccl_result_t ccl_iallreduce(const void *sendbuf, void *recvbuf, size_t count,
                            ccl_datatype_t dtype, ccl_redop_t op, ccl_comm_t comm,
                            ccl_request_t *req_p)
{
    ccl_call_t c = {.kind = CCL_CALL_ALLREDUCE, .comm = comm, .sendbuf = sendbuf,
                    .recvbuf = recvbuf, .count = count, .dtype = dtype, .op = op};
    return ccl_call_issue(&c, req_p);
}

ccl_result_t ccl_iallgather(const void *sendbuf, void *recvbuf, size_t sendcount,
                            ccl_datatype_t dtype, ccl_comm_t comm, ccl_request_t *req_p)
{
    ccl_call_t c = {.kind = CCL_CALL_ALLGATHER, .comm = comm, .sendbuf = sendbuf,
                    .recvbuf = recvbuf, .count = sendcount, .dtype = dtype};
    return ccl_call_issue(&c, req_p);
}

ccl_result_t ccl_ireduce_scatter(const void *sendbuf, void *recvbuf, size_t recvcount,
                                 ccl_datatype_t dtype, ccl_redop_t op, ccl_comm_t comm,
                                 ccl_request_t *req_p)
{
    ccl_call_t c = {.kind = CCL_CALL_REDUCE_SCATTER, .comm = comm, .sendbuf = sendbuf,
                    .recvbuf = recvbuf, .count = recvcount, .dtype = dtype, .op = op};
    return ccl_call_issue(&c, req_p);
}

ccl_result_t ccl_ibroadcast(const void *sendbuf, void *recvbuf, size_t count,
                            ccl_datatype_t dtype, int root, ccl_comm_t comm,
                            ccl_request_t *req_p)
{
    ccl_call_t c = {.kind = CCL_CALL_BROADCAST, .comm = comm, .sendbuf = sendbuf,
                    .recvbuf = recvbuf, .count = count, .dtype = dtype, .root = root};
    return ccl_call_issue(&c, req_p);
}

ccl_result_t ccl_ibarrier(ccl_comm_t comm, ccl_request_t *req_p)
{
    ccl_call_t c = {.kind = CCL_CALL_BARRIER, .comm = comm};
    return ccl_call_issue(&c, req_p);
}
