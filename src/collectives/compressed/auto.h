/* auto.h: the "auto" compressor (auto.c). */
#ifndef CCL_COMPRESSED_AUTO_H
#define CCL_COMPRESSED_AUTO_H

#include "collectives/compressed/compressor.h"

/* Completes a handle made from the spec "auto": its 8-bit compressor, and the
 * communicator's measured model on first use (about ten calls of 16 MB, collective). */
CCL_NODISCARD
ccl_result_t ccl_auto_init(ccl_compressor_t c, struct ccl_comm *comm);

/* One allreduce through auto: exact or compressed, as the model or a trial decides. */
CCL_NODISCARD
ccl_result_t ccl_auto_allreduce(ccl_compressor_t c, struct ccl_comm *comm, const void *sendbuf,
                                void *recvbuf, size_t count, ccl_datatype_t dtype,
                                ccl_redop_t op);

/* auto's model: predicted microseconds of the exact (method 0) or compressed (1) allreduce
 * of `bytes` on comm (after calibration). */
double ccl_auto_model_us(const struct ccl_comm *comm, int method, double bytes);

/* The fraction of the exact path's predicted time that the compressed path must beat for
 * auto to follow its model to compression, for a buffer of `bytes`. */
double ccl_auto_margin(const struct ccl_comm *comm, double bytes);

#endif
