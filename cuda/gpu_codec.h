/* gpu_codec.h: every codec on device buffers, behind the host codecs' interface
 * (src/compress/codec.h): the GPU encodes, only the encoding crosses PCIe, and the bytes are
 * the ones ccl_codec_encode writes for the same input, parameters and seed. Decoding checks
 * the bytes on the host first (they come from the network), then decodes on the GPU.
 * Built into libcclz with CUDA only. */
#ifndef CCL_CUDA_GPU_CODEC_H
#define CCL_CUDA_GPU_CODEC_H

#include "compress/codec.h"

/* ccl_codec_encode for count float32 of device memory: header and payload into dst (host
 * memory, cap bytes), recon (device memory, NULL for none) as there. Non-finite input is
 * refused (CCL_ERR_INVALID_ARG) as there. Runs on `stream` and waits for it. */
ccl_result_t ccl_gpu_codec_encode(const ccl_codec_t *codec, const float *src, size_t count,
                                  uint64_t seed, void *dst, size_t cap, size_t *len_p,
                                  float *recon, void *stream);

/* ccl_codec_decode into device memory: an encoding (host memory) from the network, checked on
 * the host as there (CCL_ERR_INVALID_PAYLOAD, out untouched), then out[i] (+)= value i on
 * the GPU, on `stream`, which it waits for. */
ccl_result_t ccl_gpu_codec_decode(const void *src, size_t len, float *out, size_t count,
                                  int accumulate, void *stream);

/* CCL_ERR_INTERNAL naming what failed and the CUDA error e (a cudaError_t). */
ccl_result_t ccl_gpu_fail(int e, const char *what);

#endif
