/* qsgd_codec.h: QSGD (docs/wire-format.md, codec 6) on the GPU, writing and reading the CPU
 * codec's bytes with its per-element steps (src/compress/elem.h). Payloads are without the
 * wire header; asynchronous on `stream`; 0 or a cudaError_t. */
#ifndef CCL_CUDA_QSGD_CODEC_H
#define CCL_CUDA_QSGD_CODEC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* count float32 (device) to the payload the CPU encoder writes: `bits` 2..8, `bucket`
 * elements per bucket, norm_l2 (else the max norm), stochastic rounding from `seed` or
 * nearest. recon and *bad as in int_codec.h. */
int ccl_cuda_qsgd_encode(const float *src, size_t count, unsigned bits, size_t bucket,
                         int norm_l2, int stochastic, uint64_t seed, void *payload, float *recon,
                         int fb_residual, int *bad, void *stream);

/* out[i] (+)= value i. The payload must have passed ccl_codec_check on the host. */
int ccl_cuda_qsgd_decode(const void *payload, unsigned bits, size_t bucket, float *out,
                         size_t count, int accumulate, void *stream);

#ifdef __cplusplus
}
#endif

#endif
