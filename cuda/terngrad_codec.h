/* terngrad_codec.h: TernGrad (docs/wire-format.md codec 7) on the GPU, with the CPU codec's
 * steps and fixed-order sums (src/compress/elem.h). Payloads are without the wire header;
 * asynchronous on `stream`; 0 or a cudaError_t. */
#ifndef CCL_CUDA_TERNGRAD_CODEC_H
#define CCL_CUDA_TERNGRAD_CODEC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* This rank's scaler (device float *scale), the CPU codec's local scale to the bit: clip *
 * std(x), or max |x| for clip 0 or a constant buffer. *bad = 1 on a NaN or an Inf. The ranks
 * then agree on the largest (the collective does that on the host). */
int ccl_cuda_terngrad_scale(const float *src, size_t count, float clip, float *scale, int *bad,
                            void *stream);

/* count float32 (device) to the 4 + ceil(count/4) payload bytes the CPU encoder writes with
 * the agreed scaler `scale` and `seed`; recon as in int_codec.h. */
int ccl_cuda_terngrad_encode(const float *src, size_t count, float scale, uint64_t seed,
                             void *payload, float *recon, int fb_residual, void *stream);

/* out[i] (+)= value i. The payload must have passed ccl_codec_check on the host. */
int ccl_cuda_terngrad_decode(const void *payload, float *out, size_t count, int accumulate,
                             void *stream);

#ifdef __cplusplus
}
#endif

#endif
