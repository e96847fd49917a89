/* run.h: one compressed call, shared by the public entry points and auto (run.c). */
#ifndef CCL_COMPRESSED_RUN_H
#define CCL_COMPRESSED_RUN_H

#include "collectives/compressed/compressor.h"

/* Runs one compressed collective with compressor c: prepare (error feedback), agree on a
 * shared scale where the codec needs one, then algo. out_count: elements in the output. */
CCL_NODISCARD
ccl_result_t ccl_comp_run(ccl_compressor_t c, ccl_comm_t comm, ccl_coll_t coll, const void *sendbuf,
                          void *recvbuf, size_t out_count, ccl_redop_t op, const ccl_algo_t *algo);

#endif
