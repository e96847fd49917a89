/* cast_codec.h: the cast codec (fp16 or bf16 values, docs/wire-format.md codec 1) on the GPU,
 * with the CPU codec's per-element steps (src/compress/elem.h). Payloads are without the wire
 * header; asynchronous on `stream`; each call returns 0 or a cudaError_t. */
#ifndef CCL_CUDA_CAST_CODEC_H
#define CCL_CUDA_CAST_CODEC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* count float32 (device) to 2*count payload bytes (device), the CPU encoder's bytes; recon
 * (NULL for none) as in int_codec.h; *bad (may be NULL) = 1 if src holds a NaN or an Inf. */
int ccl_cuda_cast_encode(const float *src, size_t count, int bf16, void *payload, float *recon,
                         int fb_residual, int *bad, void *stream);

/* out[i] (+)= value i. The payload must have passed ccl_codec_check on the host. */
int ccl_cuda_cast_decode(const void *payload, int bf16, float *out, size_t count, int accumulate,
                         void *stream);

#ifdef __cplusplus
}
#endif

#endif
