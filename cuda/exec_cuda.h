/* exec_cuda.h: the compressed allreduce on device buffers with encoding, decoding and error
 * feedback on the GPU (cuda/exec_cuda.c). Built into libcclz with CUDA only. */
#ifndef CCL_CUDA_EXEC_CUDA_H
#define CCL_CUDA_EXEC_CUDA_H

#include "collectives/compressed/step.h"

/* Whether the GPU serves this compressed call (coll: allreduce or allgather): float32, a
 * stream codec with a GPU encoder and no shared scale (not terngrad), not PowerSGD, `auto` or
 * `none`, and CCLZ_GPU_ENCODE not 0; for an allreduce a sum or average whose algorithm sums
 * every rank's decoded message (not sign's majority vote); for an allgather no EF21. Other
 * calls on device buffers are staged through host memory. */
int ccl_gpu_comp_serves(const struct ccl_compressor *c, ccl_coll_t coll, ccl_datatype_t dtype,
                        ccl_redop_t op);

/* The compressed allreduce of device buffers on `stream`: error feedback prepared on the GPU,
 * each rank's encoding made there and sent to every rank through host memory, and the P
 * encodings decoded and added on the GPU in rank order (allreduce/sparse_allgather.c), so that
 * every rank gets the same bits; commit, aggregate and average on the GPU. Returns once the
 * result is in recvbuf. */
ccl_result_t ccl_gpu_allreduce_compressed(const float *sendbuf, float *recvbuf, size_t count,
                                          ccl_redop_t op, struct ccl_compressor *c,
                                          struct ccl_comm *comm, void *stream);

/* The compressed allgather of device buffers: each rank's encoding, made on the GPU, to every
 * rank, decoded there into its block of recvbuf (allgather/direct_encoded.c). */
ccl_result_t ccl_gpu_allgather_compressed(const float *sendbuf, float *recvbuf, size_t sendcount,
                                          struct ccl_compressor *c, struct ccl_comm *comm,
                                          void *stream);

#endif
