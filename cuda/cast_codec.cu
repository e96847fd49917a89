/* cast_codec.cu: fp16/bf16 encode and decode-accumulate, one thread per element. */
#include "cast_codec.h"
#include "kernel_util.cuh"
#include "../src/compress/elem.h"

#include <cuda_runtime.h>

__global__ static void cast_encode_kernel(const float *src, size_t count, int bf16,
                                          uint8_t *payload, float *recon, int fb_residual, int *bad)
{
    CCL_GRID_LOOP(i, count) {
        float x = src[i];
        uint16_t h = ccl_cast_code(x, bf16);
        payload[2 * i] = (uint8_t)h;
        payload[2 * i + 1] = (uint8_t)(h >> 8);
        if (recon != NULL) {
            float v = ccl_cast_value(h, bf16);
            recon[i] = fb_residual ? CCL_FSUB(x, v) : v;
        }
        if (!isfinite(x) && bad != NULL)
            *bad = 1;
    }
}

__global__ static void cast_decode_kernel(const uint8_t *payload, int bf16, float *out,
                                          size_t count, int accumulate)
{
    CCL_GRID_LOOP(i, count) {
        float v = ccl_cast_value((uint16_t)(payload[2 * i] | payload[2 * i + 1] << 8), bf16);
        out[i] = accumulate ? CCL_FADD(out[i], v) : v;
    }
}

extern "C" int ccl_cuda_cast_encode(const float *src, size_t count, int bf16, void *payload,
                                    float *recon, int fb_residual, int *bad, void *stream)
{
    if (count == 0)
        return 0;
    cast_encode_kernel<<<ccl_blocks_for(count), CCL_THREADS, 0, (cudaStream_t)stream>>>(
        src, count, bf16 != 0, (uint8_t *)payload, recon, fb_residual, bad);
    return (int)cudaGetLastError();
}

extern "C" int ccl_cuda_cast_decode(const void *payload, int bf16, float *out, size_t count,
                                    int accumulate, void *stream)
{
    if (count == 0)
        return 0;
    cast_decode_kernel<<<ccl_blocks_for(count), CCL_THREADS, 0, (cudaStream_t)stream>>>(
        (const uint8_t *)payload, bf16 != 0, out, count, accumulate);
    return (int)cudaGetLastError();
}
