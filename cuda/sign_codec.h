/* sign_codec.h: the sign codec (one bit per element and a magnitude, docs/wire-format.md
 * codec 8) on the GPU, with the CPU codec's steps and fixed-order sums (src/compress/elem.h).
 * Payloads are without the wire header; asynchronous on `stream`; 0 or a cudaError_t. */
#ifndef CCL_CUDA_SIGN_CODEC_H
#define CCL_CUDA_SIGN_CODEC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* count float32 (device) to the 4 + ceil(count/8) payload bytes the CPU encoder writes;
 * mode 0 l1, 1 l2, 2 none (ccl_sign_scale_t); recon as in int_codec.h; *bad = 1 on a NaN or
 * an Inf. */
int ccl_cuda_sign_encode(const float *src, size_t count, int mode, void *payload, float *recon,
                         int fb_residual, int *bad, void *stream);

/* out[i] (+)= +-magnitude. The payload must have passed ccl_codec_check on the host. */
int ccl_cuda_sign_decode(const void *payload, float *out, size_t count, int accumulate,
                         void *stream);

#ifdef __cplusplus
}
#endif

#endif
