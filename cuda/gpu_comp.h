/* gpu_comp.h: the compressed allreduce on device buffers with encoding, decoding and error
 * feedback on the GPU (cuda/gpu_comp.c). Built into libcclz with CUDA only. */
#ifndef CCL_CUDA_GPU_COMP_H
#define CCL_CUDA_GPU_COMP_H

#include "collectives/compressed.h"

/* Whether ccl_gpu_allreduce_compressed serves this call: float32 sum or average, a stream
 * codec with a GPU encoder whose algorithm sums every rank's decoded message (not sign's
 * majority vote, PowerSGD, `auto` or `none`), no shared scale (terngrad), and CCLZ_GPU_ENCODE
 * not 0. Other calls on device buffers are staged through host memory. */
int ccl_gpu_comp_serves(const struct ccl_compressor *c, ccl_datatype_t dtype, ccl_redop_t op);

/* The compressed allreduce of device buffers on `stream`: error feedback prepared on the GPU,
 * each rank's encoding made there and sent to every rank through host memory, and the P
 * encodings decoded and added on the GPU in rank order (allreduce/sparse_allgather.c), so that
 * every rank gets the same bits; commit, aggregate and average on the GPU. Returns once the
 * result is in recvbuf. */
ccl_result_t ccl_gpu_allreduce_compressed(const float *sendbuf, float *recvbuf, size_t count,
                                          ccl_redop_t op, struct ccl_compressor *c,
                                          struct ccl_comm *comm, void *stream);

#endif
