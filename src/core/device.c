/* device.c: staging of device buffers for the *_stream calls (device.h). */
#include "core/device.h"
#include "core/comm.h"

#include <string.h>

#ifdef CCLZ_HAVE_CUDA
#include <cuda_runtime.h>

/* Device (or managed) memory? Host memory CUDA does not know reads as host. */
int ccl_dev_is_device(const void *p)
{
    struct cudaPointerAttributes at;
    if (p == NULL)
        return 0;
    if (cudaPointerGetAttributes(&at, p) != cudaSuccess) {
        (void)cudaGetLastError(); /* not CUDA's: clear the error */
        return 0;
    }
    return at.type == cudaMemoryTypeDevice || at.type == cudaMemoryTypeManaged;
}

static ccl_result_t cuda_fail(struct ccl_comm *comm, cudaError_t e, const char *what)
{
    return ccl_set_error(comm, CCL_ERR_SYSTEM, "%s: CUDA error %d (%s)", what, (int)e,
                         cudaGetErrorString(e));
}

static ccl_result_t pinned(struct ccl_comm *comm, ccl_pinned_t *pm, size_t bytes, void **p)
{
    if (bytes > pm->cap) {
        void *q = NULL;
        cudaError_t e = cudaHostAlloc(&q, bytes, cudaHostAllocDefault);
        if (e != cudaSuccess)
            return cuda_fail(comm, e, "pinned staging memory");
        cudaFreeHost(pm->ptr);
        pm->ptr = q;
        pm->cap = bytes;
    }
    *p = pm->ptr;
    return CCL_SUCCESS;
}

ccl_result_t ccl_dev_begin(struct ccl_comm *comm, const void *sendbuf, size_t send_bytes,
                           void *recvbuf, size_t recv_bytes, void *stream, ccl_dev_call_t *dc)
{
    cudaStream_t st = (cudaStream_t)stream;
    cudaError_t e;
    void *hs = NULL, *hr = NULL;
    int send_dev = ccl_dev_is_device(sendbuf), recv_dev = ccl_dev_is_device(recvbuf);
    memset(dc, 0, sizeof(*dc));
    dc->send = sendbuf;
    dc->recv = recvbuf;
    dc->stream = stream;
    if (recv_dev) {
        CCL_CHECK(pinned(comm, &comm->pinned[1], recv_bytes, &hr));
        dc->recv = hr;
        dc->dev_recv = recvbuf;
        dc->recv_bytes = recv_bytes;
    }
    if (send_dev) {
        if (sendbuf == recvbuf) {
            hs = hr; /* in place stays in place */
        } else {
            CCL_CHECK(pinned(comm, &comm->pinned[0], send_bytes, &hs));
        }
        if ((e = cudaMemcpyAsync(hs, sendbuf, send_bytes, cudaMemcpyDeviceToHost, st)) != cudaSuccess)
            return cuda_fail(comm, e, "copy of the input to the host");
        dc->send = hs;
    }
    /* The input (and whatever the stream does before this call) is complete. Host buffers
     * with no stream given need no GPU at all. */
    if ((send_dev || recv_dev || stream != NULL) && (e = cudaStreamSynchronize(st)) != cudaSuccess)
        return cuda_fail(comm, e, "stream synchronization");
    return CCL_SUCCESS;
}

ccl_result_t ccl_dev_end(struct ccl_comm *comm, ccl_dev_call_t *dc, ccl_result_t res)
{
    cudaError_t e;
    if (res != CCL_SUCCESS || dc->dev_recv == NULL)
        return res;
    if ((e = cudaMemcpyAsync(dc->dev_recv, dc->recv, dc->recv_bytes, cudaMemcpyHostToDevice,
                             (cudaStream_t)dc->stream)) != cudaSuccess ||
        (e = cudaStreamSynchronize((cudaStream_t)dc->stream)) != cudaSuccess)
        return cuda_fail(comm, e, "copy of the result to the device");
    return CCL_SUCCESS;
}

void ccl_dev_free(struct ccl_comm *comm)
{
    for (int i = 0; i < 2; i++) {
        cudaFreeHost(comm->pinned[i].ptr);
        comm->pinned[i].ptr = NULL;
        comm->pinned[i].cap = 0;
    }
}

#else /* built without CUDA: host memory only */

int ccl_dev_is_device(const void *p)
{
    (void)p;
    return 0;
}

ccl_result_t ccl_dev_begin(struct ccl_comm *comm, const void *sendbuf, size_t send_bytes,
                           void *recvbuf, size_t recv_bytes, void *stream, ccl_dev_call_t *dc)
{
    (void)send_bytes;
    (void)recv_bytes;
    memset(dc, 0, sizeof(*dc));
    dc->send = sendbuf;
    dc->recv = recvbuf;
    if (stream != NULL)
        return ccl_set_error(comm, CCL_ERR_UNSUPPORTED, "a CUDA stream was given, but this "
                             "cclz was built without CUDA (configure --with-cuda)");
    return CCL_SUCCESS;
}

ccl_result_t ccl_dev_end(struct ccl_comm *comm, ccl_dev_call_t *dc, ccl_result_t res)
{
    (void)comm;
    (void)dc;
    return res;
}

void ccl_dev_free(struct ccl_comm *comm) { (void)comm; }

#endif
