/* cuda_reduce.h: device-side element-wise reductions (the seed of cuda/; codecs follow). */
#ifndef CCL_CUDA_REDUCE_H
#define CCL_CUDA_REDUCE_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Number of CUDA devices visible, 0 when there is no GPU or no driver. */
int ccl_cuda_device_count(void);

/* dst[i] = a[i] + b[i] for float32 device buffers, on `stream` (a cudaStream_t, NULL for
 * the default stream). Returns 0 on success, else the CUDA error code. */
int ccl_cuda_sum_f32(float *dst, const float *a, const float *b, size_t count, void *stream);

#ifdef __cplusplus
}
#endif
#endif
