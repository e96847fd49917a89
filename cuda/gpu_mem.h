/* gpu_mem.h: stream-ordered scratch memory for the cuda/ kernels, from a pool of cclz's own
 * on each device that keeps what it has mapped (up to CCL_GPU_POOL_KEEP bytes) across
 * synchronizations. cudaMallocAsync's default pool gives its memory back to the driver at
 * every synchronization, and mapping it again cost tens of microseconds per call. The
 * application's default pool is left as it is. */
#ifndef CCL_CUDA_GPU_MEM_H
#define CCL_CUDA_GPU_MEM_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CCL_GPU_POOL_KEEP ((size_t)256 << 20)

/* cudaMallocAsync and cudaFreeAsync on the current device's pool; returns 0 or a
 * cudaError_t. Where no pool can be made, the default pool serves. */
int ccl_gpu_alloc_async(void **p, size_t bytes, void *stream);
int ccl_gpu_free_async(void *p, void *stream);

#ifdef __cplusplus
}
#endif

#endif
