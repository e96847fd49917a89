/* request.h: the request queue behind the nonblocking calls (request.c). */
#ifndef CCL_REQUEST_H
#define CCL_REQUEST_H

#include "collectives/call.h"

/* Gives comm its (empty) queue; the progress thread starts with the first request. */
ccl_result_t ccl_reqq_create(struct ccl_comm *comm);

/* Checks c and queues it; *req_p then belongs to the caller until ccl_test or ccl_wait
 * reports it done. */
ccl_result_t ccl_call_issue(const ccl_call_t *c, ccl_request_t *req_p);

/* Before comm is freed: destroy (abort == 0) lets every issued call run first; abort
 * completes the queued ones with CCL_ERR_ABORTED (the running one sees comm's abort flag,
 * which the caller set). Then stops the thread, waits for threads inside ccl_test or
 * ccl_wait to leave, and frees every request not yet waited on. */
void ccl_reqq_shutdown(struct ccl_comm *comm, int abort);

#endif
