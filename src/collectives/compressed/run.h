/* run.h: one compressed call, shared by the public entry points and auto (run.c). */
#ifndef CCL_COMPRESSED_RUN_H
#define CCL_COMPRESSED_RUN_H

#include "collectives/compressed/compressor.h"

/* Runs one compressed collective with compressor c: prepare (error feedback), agree on a
 * shared scale where the codec needs one, then algo. out_count: elements in the output. */
CCL_NODISCARD
ccl_result_t ccl_comp_run(ccl_compressor_t c, ccl_comm_t comm, ccl_coll_t coll, const void *sendbuf,
                          void *recvbuf, size_t out_count, ccl_redop_t op, const ccl_algo_t *algo);

/* ccl_comp_run with the algorithm's own parameters (ccl_coll_args_t.algo_arg), whose hash
 * arg_sig joins the call's signature. */
CCL_NODISCARD
ccl_result_t ccl_comp_run_with(ccl_compressor_t c, ccl_comm_t comm, ccl_coll_t coll,
                               const void *sendbuf, void *recvbuf, size_t out_count,
                               ccl_redop_t op, const ccl_algo_t *algo, const void *algo_arg,
                               uint64_t arg_sig);

#endif
