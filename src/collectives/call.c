/* call.c: runs one call record (call.h) on this thread: the _stream forms through their
 * staging, the others straight to their collective. */
#include "collectives/call.h"

ccl_result_t ccl_call_run(const ccl_call_t *c, int check_only)
{
    if (c->on_stream)
        return ccl_run_staged(c, check_only);
    switch (c->kind) {
    case CCL_CALL_ALLREDUCE:            return ccl_run_allreduce(c, check_only);
    case CCL_CALL_ALLGATHER:            return ccl_run_allgather(c, check_only);
    case CCL_CALL_REDUCE_SCATTER:       return ccl_run_reduce_scatter(c, check_only);
    case CCL_CALL_BROADCAST:            return ccl_run_broadcast(c, check_only);
    case CCL_CALL_BARRIER:              return ccl_run_barrier(c, check_only);
    case CCL_CALL_ALLREDUCE_COMPRESSED: return ccl_run_allreduce_compressed(c, check_only);
    case CCL_CALL_ALLGATHER_COMPRESSED: return ccl_run_allgather_compressed(c, check_only);
    case CCL_CALL_REDUCE_SCATTER_COMPRESSED:
        return ccl_run_reduce_scatter_compressed(c, check_only);
    case CCL_CALL_ALLREDUCE_ROBUST:     return ccl_run_allreduce_robust(c, check_only);
    }
    return ccl_set_error(c->comm, CCL_ERR_INTERNAL, "unknown call kind %d", (int)c->kind);
}
