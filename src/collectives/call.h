/* call.h: one public collective call as a record: what every entry point (blocking,
 * nonblocking, _stream) builds, what the request queue holds, and what runs it. */
#ifndef CCL_CALL_H
#define CCL_CALL_H

#include "core/comm.h"

typedef enum {
    CCL_CALL_ALLREDUCE = 0,
    CCL_CALL_ALLGATHER,
    CCL_CALL_REDUCE_SCATTER,
    CCL_CALL_BROADCAST,
    CCL_CALL_BARRIER,
    CCL_CALL_ALLREDUCE_COMPRESSED,
    CCL_CALL_ALLGATHER_COMPRESSED,
    CCL_CALL_REDUCE_SCATTER_COMPRESSED,
    CCL_CALL_ALLREDUCE_ROBUST,
} ccl_call_kind_t;

typedef struct {
    ccl_call_kind_t  kind;
    ccl_comm_t       comm;
    const void      *sendbuf;
    void            *recvbuf;
    size_t           count;  /* as the public call names it: sendcount, recvcount, count */
    ccl_datatype_t   dtype;
    ccl_redop_t      op;
    int              root;
    ccl_compressor_t comp;
    int              on_stream; /* a _stream call, on `stream` */
    ccl_stream_t     stream;
    ccl_robust_params_t robust; /* a robust call's rule, as the caller passed it */
} ccl_call_t;

/* Each kind's checks and, unless check_only, the call itself on this thread (coll.c,
 * compressed/compressed.c; stream.c stages device buffers around them). */
ccl_result_t ccl_run_allreduce(const ccl_call_t *c, int check_only);
ccl_result_t ccl_run_allgather(const ccl_call_t *c, int check_only);
ccl_result_t ccl_run_reduce_scatter(const ccl_call_t *c, int check_only);
ccl_result_t ccl_run_broadcast(const ccl_call_t *c, int check_only);
ccl_result_t ccl_run_barrier(const ccl_call_t *c, int check_only);
ccl_result_t ccl_run_allreduce_compressed(const ccl_call_t *c, int check_only);
ccl_result_t ccl_run_allgather_compressed(const ccl_call_t *c, int check_only);
ccl_result_t ccl_run_reduce_scatter_compressed(const ccl_call_t *c, int check_only);
ccl_result_t ccl_run_allreduce_robust(const ccl_call_t *c, int check_only);
ccl_result_t ccl_run_staged(const ccl_call_t *c, int check_only);

/* The call's checks and, unless check_only, the call, on this thread. */
ccl_result_t ccl_call_run(const ccl_call_t *c, int check_only);

/* A blocking public call: runs c in its turn after the communicator's pending requests. */
ccl_result_t ccl_call_blocking(const ccl_call_t *c);

#endif
