/* int_codec.h: the int codec's decode-and-accumulate on the GPU, reading the CPU codec's
 * payload (docs/wire-format.md, codec 2) with the same per-element code
 * (src/compress/elem.h). */
#ifndef CCL_CUDA_INT_CODEC_H
#define CCL_CUDA_INT_CODEC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Encodes count float32 of device memory into an int payload (without the wire header) in
 * device memory, the bytes the CPU encoder writes for the same input, parameters and seed:
 * `bits` 1..8, `bucket` elements per bucket, stochastic rounding or nearest. recon (device
 * memory, NULL for none) receives the decoded values, or with fb_residual src minus them
 * (codec.h). If src holds a NaN or an infinity, *bad (device memory, may be NULL) is set to 1
 * and the payload means nothing. Asynchronous on `stream`; returns 0 or a cudaError_t. */
int ccl_cuda_int_encode(const float *src, size_t count, unsigned bits, size_t bucket,
                        int stochastic, uint64_t seed, void *payload, float *recon,
                        int fb_residual, int *bad, void *stream);

/* out[i] (+)= value i of an int payload (without the wire header) in device memory:
 * `bits` 1..8, `bucket` elements per bucket, count elements. The payload must already have
 * passed the CPU decoder's checks (length, finite scales): the kernel trusts it. Returns 0
 * or a cudaError_t. */
int ccl_cuda_int_decode(const void *payload, unsigned bits, size_t bucket, float *out,
                        size_t count, int accumulate, void *stream);

#ifdef __cplusplus
}
#endif

#endif
