/* device.h: device (CUDA) buffers given to the *_stream calls. Until the collectives work on
 * device memory themselves, a call on device buffers stages them: the input comes to pinned
 * host memory in the stream's order, the host collective runs, and the result goes back in
 * the stream's order; the call returns once it is there. Built without CUDA, a stream other
 * than NULL is refused and every buffer is host memory. */
#ifndef CCL_DEVICE_H
#define CCL_DEVICE_H

#include "base/base.h"

/* Pinned host memory a communicator keeps across calls (one for the input, one for the
 * output). */
typedef struct {
    void  *ptr;
    size_t cap;
} ccl_pinned_t;

/* One call's buffers as the host collective sees them. */
typedef struct {
    const void *send;      /* host view of sendbuf */
    void       *recv;      /* host view of recvbuf */
    void       *dev_recv;  /* the caller's recvbuf when it is device memory, else NULL */
    size_t      recv_bytes;
    void       *stream;
} ccl_dev_call_t;

/* Prepares a call: sendbuf (send_bytes) and recvbuf (recv_bytes) may each be host or device
 * memory; sendbuf == recvbuf (in place) stays in place. Device input is copied to the host
 * after the work already queued on `stream`. */
ccl_result_t ccl_dev_begin(struct ccl_comm *comm, const void *sendbuf, size_t send_bytes,
                           void *recvbuf, size_t recv_bytes, void *stream, ccl_dev_call_t *dc);

/* Ends it: on success a device recvbuf receives the result, in the stream's order, and the
 * stream is synchronized so that the staging memory may be reused. Returns res, or the CUDA
 * failure. */
ccl_result_t ccl_dev_end(struct ccl_comm *comm, ccl_dev_call_t *dc, ccl_result_t res);

/* Whether p is CUDA device (or managed) memory; 0 built without CUDA. */
int ccl_dev_is_device(const void *p);

/* Frees the communicator's pinned memory. */
void ccl_dev_free(struct ccl_comm *comm);

#endif
