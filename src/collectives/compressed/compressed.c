/* compressed.c: the public compressed calls: ccl_compressor_create, ccl_allreduce_compressed,
 * ccl_allgather_compressed and ccl_reduce_scatter_compressed, their argument checks, and
 * the choice of exact, auto or compressed path. */
#include "collectives/compressed/compressor.h"
#include "collectives/compressed/auto.h"
#include "collectives/compressed/run.h"
#include "base/env_config.h"
#include "collectives/request.h"

#include <string.h>

ccl_result_t ccl_comp_check_call(ccl_compressor_t c, ccl_comm_t comm, const void *sendbuf,
                                 const void *recvbuf, size_t count, ccl_datatype_t dtype)
{
    if (comm == NULL || c == NULL)
        return ccl_set_error(comm, CCL_ERR_INVALID_ARG, "%s is NULL", comm == NULL ? "comm" : "compressor");
    if (count != c->count || dtype != c->dtype)
        return ccl_set_error(comm, CCL_ERR_INVALID_ARG,
                             "compressor was made for %zu elements of type %d; called with %zu of type %d",
                             c->count, (int)c->dtype, count, (int)dtype);
    if (count > 0 && (sendbuf == NULL || recvbuf == NULL))
        return ccl_set_error(comm, CCL_ERR_INVALID_ARG, "%s is NULL with count %zu",
                             sendbuf == NULL ? "sendbuf" : "recvbuf", count);
    return CCL_SUCCESS;
}

ccl_result_t ccl_compressor_create(ccl_comm_t comm, const char *spec, size_t count,
                                   ccl_datatype_t dtype, ccl_compressor_t *comp_p)
{
    const char *env = ccl_config_get()->compress;
    if (comm == NULL || comp_p == NULL || spec == NULL)
        return ccl_set_error(comm, CCL_ERR_INVALID_ARG, "%s is NULL",
                             comm == NULL ? "comm" : comp_p == NULL ? "comp_p" : "spec");
    if ((unsigned)dtype >= CCL_NUM_DATATYPES)
        return ccl_set_error(comm, CCL_ERR_INVALID_ARG, "unknown datatype %d", (int)dtype);
    /* Its state and messages hold a few float32 (or index and value) vectors of count
     * elements: their byte sizes must not overflow. */
    if (count > SIZE_MAX / 64)
        return ccl_set_error(comm, CCL_ERR_INVALID_ARG,
                             "count %zu overflows the byte size of the compressor's vectors",
                             count);
    if (env != NULL && env[0] != '\0') {
        ccl_info("CCLZ_COMPRESS=%s replaces the spec '%s'", env, spec);
        spec = env;
    }
    CCL_CHECK(ccl_comp_create(comm, spec, count, dtype, comp_p));
    if ((*comp_p)->kind == CCL_COMP_AUTO) {
        /* Collective: an abort from another thread must wait for it to return. */
        atomic_fetch_add(&comm->in_flight, 1);
        ccl_result_t res = ccl_auto_init(*comp_p, comm);
        atomic_fetch_sub(&comm->in_flight, 1);
        if (res != CCL_SUCCESS) {
            ccl_compressor_destroy(*comp_p);
            *comp_p = NULL;
            return res;
        }
    }
    ccl_debug("rank %d: compressor '%s' for %zu elements", comm->rank, (*comp_p)->spec, count);
    return CCL_SUCCESS;
}

ccl_result_t ccl_run_allreduce_compressed(const ccl_call_t *call, int check_only)
{
    ccl_comm_t comm = call->comm;
    ccl_compressor_t c = call->comp;
    CCL_CHECK(ccl_comp_check_call(c, comm, call->sendbuf, call->recvbuf, call->count, call->dtype));
    if (c->kind == CCL_COMP_LOWRANK && c->lowrank == NULL && c->lr_tensor == NULL)
        return ccl_set_error(comm, CCL_ERR_INVALID_ARG, "%s has no matrix: give rows= or the "
                             "buffer's tensors (ccl_compressor_set_layout)", c->spec);
    if ((unsigned)call->op >= CCL_NUM_OPS)
        return ccl_set_error(comm, CCL_ERR_INVALID_ARG, "unknown reduction op %d", (int)call->op);
    if (check_only)
        return CCL_SUCCESS;
    /* Lossy compression only for floating-point sums and averages. */
    if (c->kind == CCL_COMP_NONE || !ccl_comp_is_float(call->dtype) ||
        (call->op != CCL_SUM && call->op != CCL_AVG))
        return ccl_allreduce(call->sendbuf, call->recvbuf, call->count, call->dtype, call->op,
                             comm);
    if (c->kind == CCL_COMP_AUTO)
        return ccl_auto_allreduce(c, comm, call->sendbuf, call->recvbuf, call->count,
                                  call->dtype, call->op);
    return ccl_comp_run(c, comm, CCL_COLL_ALLREDUCE, call->sendbuf, call->recvbuf, call->count,
                        call->op, c->algo);
}

ccl_result_t ccl_run_allgather_compressed(const ccl_call_t *call, int check_only)
{
    ccl_comm_t comm = call->comm;
    ccl_compressor_t c = call->comp;
    size_t n = call->count;
    CCL_CHECK(ccl_comp_check_call(c, comm, call->sendbuf, call->recvbuf, n, call->dtype));
    if (c->kind == CCL_COMP_AUTO || c->kind == CCL_COMP_NONE || !ccl_comp_is_float(call->dtype))
        return check_only ? CCL_SUCCESS
                          : ccl_allgather(call->sendbuf, call->recvbuf, n, call->dtype, comm);
    if (c->kind == CCL_COMP_LOWRANK)
        return ccl_set_error(comm, CCL_ERR_INVALID_ARG, "powersgd approximates a sum; an "
                             "allgather takes a quantizer or a sparse codec");
    if (c->ef_mode == CCL_EF_EF21 || c->ef_mode == CCL_EF_EF21W)
        return ccl_set_error(comm, CCL_ERR_INVALID_ARG, "EF21 aggregates a sum; an allgather "
                             "takes ef=none or ef=classic");
    if (n > SIZE_MAX / (size_t)comm->nranks)
        return ccl_set_error(comm, CCL_ERR_INVALID_ARG, "count %zu overflows", n);
    if (check_only)
        return CCL_SUCCESS;
    CCL_CHECK(ccl_comp_whole_state(c, comm));
    return ccl_comp_run(c, comm, CCL_COLL_ALLGATHER, call->sendbuf, call->recvbuf,
                        n * (size_t)comm->nranks, CCL_SUM,
                        ccl_comp_select_algo(CCL_COLL_ALLGATHER, &c->codec, n, &comm->tuning,
                                             comm->nranks, NULL));
}

ccl_result_t ccl_run_reduce_scatter_compressed(const ccl_call_t *call, int check_only)
{
    ccl_comm_t comm = call->comm;
    ccl_compressor_t c = call->comp;
    size_t n = call->count;
    if (comm == NULL || c == NULL)
        return ccl_set_error(comm, CCL_ERR_INVALID_ARG, "%s is NULL", comm == NULL ? "comm" : "compressor");
    if (n > SIZE_MAX / (size_t)comm->nranks)
        return ccl_set_error(comm, CCL_ERR_INVALID_ARG, "recvcount %zu overflows", n);
    /* The compressor holds the error feedback of the whole input, nranks * recvcount. */
    if (n * (size_t)comm->nranks != c->count || call->dtype != c->dtype)
        return ccl_set_error(comm, CCL_ERR_INVALID_ARG,
                             "compressor was made for %zu elements of type %d; a reduce-scatter "
                             "of recvcount %zu on %d ranks needs %zu of type %d",
                             c->count, (int)c->dtype, n, comm->nranks,
                             n * (size_t)comm->nranks, (int)call->dtype);
    if (n > 0 && (call->sendbuf == NULL || call->recvbuf == NULL))
        return ccl_set_error(comm, CCL_ERR_INVALID_ARG, "%s is NULL with recvcount %zu",
                             call->sendbuf == NULL ? "sendbuf" : "recvbuf", n);
    if ((unsigned)call->op >= CCL_NUM_OPS)
        return ccl_set_error(comm, CCL_ERR_INVALID_ARG, "unknown reduction op %d", (int)call->op);
    /* Lossy compression only for floating-point sums and averages; auto measures only the
     * allreduce, so it takes the exact path here too. */
    if (c->kind == CCL_COMP_NONE || c->kind == CCL_COMP_AUTO || !ccl_comp_is_float(call->dtype) ||
        (call->op != CCL_SUM && call->op != CCL_AVG))
        return check_only ? CCL_SUCCESS
                          : ccl_reduce_scatter(call->sendbuf, call->recvbuf, n, call->dtype,
                                               call->op, comm);
    if (c->kind == CCL_COMP_LOWRANK)
        return ccl_set_error(comm, CCL_ERR_INVALID_ARG, "powersgd approximates the whole "
                             "matrix; a reduce-scatter takes a quantizer or a sparse codec");
    if (c->ef_mode == CCL_EF_EF21 || c->ef_mode == CCL_EF_EF21W)
        return ccl_set_error(comm, CCL_ERR_INVALID_ARG, "EF21 keeps a running aggregate of the "
                             "whole sum; a reduce-scatter takes ef=none or ef=classic");
    if (check_only)
        return CCL_SUCCESS;
    CCL_CHECK(ccl_comp_whole_state(c, comm));
    return ccl_comp_run(c, comm, CCL_COLL_REDUCE_SCATTER, call->sendbuf, call->recvbuf, n,
                        call->op,
                        ccl_comp_select_algo(CCL_COLL_REDUCE_SCATTER, &c->codec, c->count,
                                             &comm->tuning, comm->nranks, NULL));
}

ccl_result_t ccl_allreduce_compressed(const void *sendbuf, void *recvbuf, size_t count,
                                      ccl_datatype_t dtype, ccl_redop_t op,
                                      ccl_compressor_t comp, ccl_comm_t comm)
{
    ccl_call_t c = {.kind = CCL_CALL_ALLREDUCE_COMPRESSED, .comm = comm, .sendbuf = sendbuf,
                    .recvbuf = recvbuf, .count = count, .dtype = dtype, .op = op,
                    .comp = comp};
    return ccl_call_blocking(&c);
}

ccl_result_t ccl_allgather_compressed(const void *sendbuf, void *recvbuf, size_t sendcount,
                                      ccl_datatype_t dtype, ccl_compressor_t comp,
                                      ccl_comm_t comm)
{
    ccl_call_t c = {.kind = CCL_CALL_ALLGATHER_COMPRESSED, .comm = comm, .sendbuf = sendbuf,
                    .recvbuf = recvbuf, .count = sendcount, .dtype = dtype, .comp = comp};
    return ccl_call_blocking(&c);
}

ccl_result_t ccl_iallreduce_compressed(const void *sendbuf, void *recvbuf, size_t count,
                                       ccl_datatype_t dtype, ccl_redop_t op,
                                       ccl_compressor_t comp, ccl_comm_t comm,
                                       ccl_request_t *req_p)
{
    ccl_call_t c = {.kind = CCL_CALL_ALLREDUCE_COMPRESSED, .comm = comm, .sendbuf = sendbuf,
                    .recvbuf = recvbuf, .count = count, .dtype = dtype, .op = op,
                    .comp = comp};
    return ccl_call_issue(&c, req_p);
}

ccl_result_t ccl_iallgather_compressed(const void *sendbuf, void *recvbuf, size_t sendcount,
                                       ccl_datatype_t dtype, ccl_compressor_t comp,
                                       ccl_comm_t comm, ccl_request_t *req_p)
{
    ccl_call_t c = {.kind = CCL_CALL_ALLGATHER_COMPRESSED, .comm = comm, .sendbuf = sendbuf,
                    .recvbuf = recvbuf, .count = sendcount, .dtype = dtype, .comp = comp};
    return ccl_call_issue(&c, req_p);
}

ccl_result_t ccl_reduce_scatter_compressed(const void *sendbuf, void *recvbuf, size_t recvcount,
                                           ccl_datatype_t dtype, ccl_redop_t op,
                                           ccl_compressor_t comp, ccl_comm_t comm)
{
    ccl_call_t c = {.kind = CCL_CALL_REDUCE_SCATTER_COMPRESSED, .comm = comm,
                    .sendbuf = sendbuf, .recvbuf = recvbuf, .count = recvcount, .dtype = dtype,
                    .op = op, .comp = comp};
    return ccl_call_blocking(&c);
}

ccl_result_t ccl_ireduce_scatter_compressed(const void *sendbuf, void *recvbuf,
                                            size_t recvcount, ccl_datatype_t dtype,
                                            ccl_redop_t op, ccl_compressor_t comp,
                                            ccl_comm_t comm, ccl_request_t *req_p)
{
    ccl_call_t c = {.kind = CCL_CALL_REDUCE_SCATTER_COMPRESSED, .comm = comm,
                    .sendbuf = sendbuf, .recvbuf = recvbuf, .count = recvcount, .dtype = dtype,
                    .op = op, .comp = comp};
    return ccl_call_issue(&c, req_p);
}
