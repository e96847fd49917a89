/* kernel_util.cuh: launch shapes shared by the cuda/ kernels. */
#ifndef CCL_CUDA_KERNEL_UTIL_CUH
#define CCL_CUDA_KERNEL_UTIL_CUH

#include <stddef.h>

#define CCL_THREADS 256
#define CCL_MAX_BLOCKS (65535u * 4) /* grid-stride loops cover the rest */

/* Blocks for one thread per item (at least one block, so that a kernel which also writes a
 * header runs for an empty buffer). */
static inline unsigned ccl_blocks_for(size_t n)
{
    size_t b = (n + CCL_THREADS - 1) / CCL_THREADS;
    return (unsigned)(b == 0 ? 1 : b > CCL_MAX_BLOCKS ? CCL_MAX_BLOCKS : b);
}

/* Grid-stride loop over [0, n) for the calling thread. */
#define CCL_GRID_LOOP(i, n)                                                                    \
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < (n);                    \
         i += (size_t)gridDim.x * blockDim.x)

#endif
