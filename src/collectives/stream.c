/* stream.c: the *_stream entry points (cclz.h): the same calls on host or device buffers,
 * staged by core/device.c around the host collective. */
#include "collectives/call.h"
#include "core/device.h"
#ifdef CCLZ_HAVE_CUDA
#include "collectives/compressed/compressor.h"
#include "exec_cuda.h"
#endif

#include <stdint.h>

/* Bytes of n elements of dtype, mult times; 0 for an unknown dtype or an overflow (the call
 * then fails its own checks before it touches a buffer). */
static size_t bytes_of(ccl_datatype_t dt, size_t n, size_t mult)
{
    size_t sz = ccl_datatype_size(dt);
    if (sz == 0 || mult == 0 || n > SIZE_MAX / sz / mult)
        return 0;
    return n * sz * mult;
}

/* Stages sendbuf (sbytes) and recvbuf (rbytes), runs CALL on the host views hs and hr, and
 * brings the result back. */
#define STAGED(comm, sendbuf, sbytes, recvbuf, rbytes, stream, CALL)                          \
    do {                                                                                      \
        ccl_dev_call_t dc;                                                                    \
        if ((comm) == NULL)                                                                   \
            return ccl_set_error(NULL, CCL_ERR_INVALID_ARG, "comm is NULL");                  \
        CCL_CHECK(ccl_dev_begin(comm, sendbuf, sbytes, recvbuf, rbytes, stream, &dc));        \
        const void *hs = dc.send;                                                             \
        void *hr = dc.recv;                                                                   \
        return ccl_dev_end(comm, &dc, CALL);                                                  \
    } while (0)

static size_t ranks(ccl_comm_t comm) { return comm != NULL ? (size_t)comm->nranks : 1; }

/* The host call's checks first (a nonblocking call makes them when it is issued); the
 * device buffers are staged only when the call runs. */
ccl_result_t ccl_run_staged(const ccl_call_t *c, int check_only)
{
    ccl_comm_t comm = c->comm;
    const void *sendbuf = c->sendbuf;
    void *recvbuf = c->recvbuf;
    size_t n = c->count, b = bytes_of(c->dtype, n, 1);
    ccl_datatype_t dtype = c->dtype;
    if (check_only) {
        ccl_call_t host = *c;
        host.on_stream = 0;
        return ccl_call_run(&host, 1);
    }
    switch (c->kind) {
    case CCL_CALL_ALLREDUCE:
        STAGED(comm, sendbuf, b, recvbuf, b, c->stream,
               ccl_allreduce(hs, hr, n, dtype, c->op, comm));
    case CCL_CALL_ALLGATHER:
        STAGED(comm, sendbuf, b, recvbuf, bytes_of(dtype, n, ranks(comm)), c->stream,
               ccl_allgather(hs, hr, n, dtype, comm));
    case CCL_CALL_REDUCE_SCATTER:
        STAGED(comm, sendbuf, bytes_of(dtype, n, ranks(comm)), recvbuf, b, c->stream,
               ccl_reduce_scatter(hs, hr, n, dtype, c->op, comm));
    case CCL_CALL_BROADCAST: {
        /* Only the root's sendbuf is read. */
        const void *send = comm != NULL && comm->rank == c->root ? sendbuf : NULL;
        STAGED(comm, send, b, recvbuf, b, c->stream,
               ccl_broadcast(hs, hr, n, dtype, c->root, comm));
    }
    case CCL_CALL_ALLREDUCE_COMPRESSED:
#ifdef CCLZ_HAVE_CUDA
        /* Both buffers on the GPU and a codec it encodes: only encodings cross PCIe. */
        if (comm != NULL && c->comp != NULL && n > 0 && n == c->comp->count &&
            dtype == c->comp->dtype &&
            ccl_gpu_comp_serves(c->comp, CCL_COLL_ALLREDUCE, dtype, c->op) &&
            ccl_dev_is_device(sendbuf) && ccl_dev_is_device(recvbuf))
            return ccl_gpu_allreduce_compressed(sendbuf, recvbuf, n, c->op, c->comp, comm,
                                                c->stream);
#endif
        STAGED(comm, sendbuf, b, recvbuf, b, c->stream,
               ccl_allreduce_compressed(hs, hr, n, dtype, c->op, c->comp, comm));
    case CCL_CALL_ALLGATHER_COMPRESSED:
#ifdef CCLZ_HAVE_CUDA
        if (comm != NULL && c->comp != NULL && n > 0 && n == c->comp->count &&
            dtype == c->comp->dtype && n <= SIZE_MAX / 4 / ranks(comm) &&
            ccl_gpu_comp_serves(c->comp, CCL_COLL_ALLGATHER, dtype, CCL_SUM) &&
            ccl_dev_is_device(sendbuf) && ccl_dev_is_device(recvbuf))
            return ccl_gpu_allgather_compressed(sendbuf, recvbuf, n, c->comp, comm, c->stream);
#endif
        STAGED(comm, sendbuf, b, recvbuf, bytes_of(dtype, n, ranks(comm)), c->stream,
               ccl_allgather_compressed(hs, hr, n, dtype, c->comp, comm));
    case CCL_CALL_REDUCE_SCATTER_COMPRESSED:
        STAGED(comm, sendbuf, bytes_of(dtype, n, ranks(comm)), recvbuf, b, c->stream,
               ccl_reduce_scatter_compressed(hs, hr, n, dtype, c->op, c->comp, comm));
    case CCL_CALL_BARRIER:
    case CCL_CALL_ALLREDUCE_ROBUST: /* no _stream form */
        break;
    }
    return ccl_set_error(comm, CCL_ERR_INTERNAL, "no staged form of call kind %d", (int)c->kind);
}

ccl_result_t ccl_allreduce_stream(const void *sendbuf, void *recvbuf, size_t count,
                                  ccl_datatype_t dtype, ccl_redop_t op, ccl_comm_t comm,
                                  ccl_stream_t stream)
{
    ccl_call_t c = {.kind = CCL_CALL_ALLREDUCE, .comm = comm, .sendbuf = sendbuf,
                    .recvbuf = recvbuf, .count = count, .dtype = dtype, .op = op,
                    .on_stream = 1, .stream = stream};
    return ccl_call_blocking(&c);
}

ccl_result_t ccl_allgather_stream(const void *sendbuf, void *recvbuf, size_t sendcount,
                                  ccl_datatype_t dtype, ccl_comm_t comm, ccl_stream_t stream)
{
    ccl_call_t c = {.kind = CCL_CALL_ALLGATHER, .comm = comm, .sendbuf = sendbuf,
                    .recvbuf = recvbuf, .count = sendcount, .dtype = dtype,
                    .on_stream = 1, .stream = stream};
    return ccl_call_blocking(&c);
}

ccl_result_t ccl_reduce_scatter_stream(const void *sendbuf, void *recvbuf, size_t recvcount,
                                       ccl_datatype_t dtype, ccl_redop_t op, ccl_comm_t comm,
                                       ccl_stream_t stream)
{
    ccl_call_t c = {.kind = CCL_CALL_REDUCE_SCATTER, .comm = comm, .sendbuf = sendbuf,
                    .recvbuf = recvbuf, .count = recvcount, .dtype = dtype, .op = op,
                    .on_stream = 1, .stream = stream};
    return ccl_call_blocking(&c);
}

ccl_result_t ccl_broadcast_stream(const void *sendbuf, void *recvbuf, size_t count,
                                  ccl_datatype_t dtype, int root, ccl_comm_t comm,
                                  ccl_stream_t stream)
{
    ccl_call_t c = {.kind = CCL_CALL_BROADCAST, .comm = comm, .sendbuf = sendbuf,
                    .recvbuf = recvbuf, .count = count, .dtype = dtype, .root = root,
                    .on_stream = 1, .stream = stream};
    return ccl_call_blocking(&c);
}

ccl_result_t ccl_allreduce_compressed_stream(const void *sendbuf, void *recvbuf, size_t count,
                                             ccl_datatype_t dtype, ccl_redop_t op,
                                             ccl_compressor_t comp, ccl_comm_t comm,
                                             ccl_stream_t stream)
{
    ccl_call_t c = {.kind = CCL_CALL_ALLREDUCE_COMPRESSED, .comm = comm, .sendbuf = sendbuf,
                    .recvbuf = recvbuf, .count = count, .dtype = dtype, .op = op,
                    .comp = comp, .on_stream = 1, .stream = stream};
    return ccl_call_blocking(&c);
}

ccl_result_t ccl_allgather_compressed_stream(const void *sendbuf, void *recvbuf,
                                             size_t sendcount, ccl_datatype_t dtype,
                                             ccl_compressor_t comp, ccl_comm_t comm,
                                             ccl_stream_t stream)
{
    ccl_call_t c = {.kind = CCL_CALL_ALLGATHER_COMPRESSED, .comm = comm, .sendbuf = sendbuf,
                    .recvbuf = recvbuf, .count = sendcount, .dtype = dtype, .comp = comp,
                    .on_stream = 1, .stream = stream};
    return ccl_call_blocking(&c);
}

ccl_result_t ccl_reduce_scatter_compressed_stream(const void *sendbuf, void *recvbuf,
                                                  size_t recvcount, ccl_datatype_t dtype,
                                                  ccl_redop_t op, ccl_compressor_t comp,
                                                  ccl_comm_t comm, ccl_stream_t stream)
{
    ccl_call_t c = {.kind = CCL_CALL_REDUCE_SCATTER_COMPRESSED, .comm = comm,
                    .sendbuf = sendbuf, .recvbuf = recvbuf, .count = recvcount, .dtype = dtype,
                    .op = op, .comp = comp, .on_stream = 1, .stream = stream};
    return ccl_call_blocking(&c);
}
