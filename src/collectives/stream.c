/* stream.c: the *_stream entry points (cclz.h): the same calls on host or device buffers,
 * staged by core/device.c around the host collective. */
#include "core/comm.h"
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

ccl_result_t ccl_allreduce_stream(const void *sendbuf, void *recvbuf, size_t count,
                                  ccl_datatype_t dtype, ccl_redop_t op, ccl_comm_t comm,
                                  ccl_stream_t stream)
{
    size_t b = bytes_of(dtype, count, 1);
    STAGED(comm, sendbuf, b, recvbuf, b, stream, ccl_allreduce(hs, hr, count, dtype, op, comm));
}

ccl_result_t ccl_allgather_stream(const void *sendbuf, void *recvbuf, size_t sendcount,
                                  ccl_datatype_t dtype, ccl_comm_t comm, ccl_stream_t stream)
{
    STAGED(comm, sendbuf, bytes_of(dtype, sendcount, 1), recvbuf,
           bytes_of(dtype, sendcount, ranks(comm)), stream,
           ccl_allgather(hs, hr, sendcount, dtype, comm));
}

ccl_result_t ccl_reduce_scatter_stream(const void *sendbuf, void *recvbuf, size_t recvcount,
                                       ccl_datatype_t dtype, ccl_redop_t op, ccl_comm_t comm,
                                       ccl_stream_t stream)
{
    STAGED(comm, sendbuf, bytes_of(dtype, recvcount, ranks(comm)), recvbuf,
           bytes_of(dtype, recvcount, 1), stream,
           ccl_reduce_scatter(hs, hr, recvcount, dtype, op, comm));
}

ccl_result_t ccl_broadcast_stream(const void *sendbuf, void *recvbuf, size_t count,
                                  ccl_datatype_t dtype, int root, ccl_comm_t comm,
                                  ccl_stream_t stream)
{
    size_t b = bytes_of(dtype, count, 1);
    /* Only the root's sendbuf is read. */
    const void *send = comm != NULL && comm->rank == root ? sendbuf : NULL;
    STAGED(comm, send, b, recvbuf, b, stream, ccl_broadcast(hs, hr, count, dtype, root, comm));
}

ccl_result_t ccl_allreduce_compressed_stream(const void *sendbuf, void *recvbuf, size_t count,
                                             ccl_datatype_t dtype, ccl_redop_t op,
                                             ccl_compressor_t comp, ccl_comm_t comm,
                                             ccl_stream_t stream)
{
    size_t b = bytes_of(dtype, count, 1);
#ifdef CCLZ_HAVE_CUDA
    /* Both buffers on the GPU and a codec it encodes: only encodings cross PCIe. */
    if (comm != NULL && comp != NULL && count > 0 && count == comp->count &&
        dtype == comp->dtype && ccl_gpu_comp_serves(comp, CCL_COLL_ALLREDUCE, dtype, op) &&
        ccl_dev_is_device(sendbuf) && ccl_dev_is_device(recvbuf))
        return ccl_gpu_allreduce_compressed(sendbuf, recvbuf, count, op, comp, comm, stream);
#endif
    STAGED(comm, sendbuf, b, recvbuf, b, stream,
           ccl_allreduce_compressed(hs, hr, count, dtype, op, comp, comm));
}

ccl_result_t ccl_allgather_compressed_stream(const void *sendbuf, void *recvbuf,
                                             size_t sendcount, ccl_datatype_t dtype,
                                             ccl_compressor_t comp, ccl_comm_t comm,
                                             ccl_stream_t stream)
{
#ifdef CCLZ_HAVE_CUDA
    if (comm != NULL && comp != NULL && sendcount > 0 && sendcount == comp->count &&
        dtype == comp->dtype && sendcount <= SIZE_MAX / 4 / ranks(comm) &&
        ccl_gpu_comp_serves(comp, CCL_COLL_ALLGATHER, dtype, CCL_SUM) &&
        ccl_dev_is_device(sendbuf) && ccl_dev_is_device(recvbuf))
        return ccl_gpu_allgather_compressed(sendbuf, recvbuf, sendcount, comp, comm, stream);
#endif
    STAGED(comm, sendbuf, bytes_of(dtype, sendcount, 1), recvbuf,
           bytes_of(dtype, sendcount, ranks(comm)), stream,
           ccl_allgather_compressed(hs, hr, sendcount, dtype, comp, comm));
}
