/* cast_codec.cu: fp16/bf16 encode and decode-accumulate: one thread per 4 elements (16-byte
 * float loads and stores, 8-byte code loads and stores) where the buffers are aligned for
 * it, else one thread per element. */
#include "cast_codec.h"
#include "kernel_util.cuh"
#include "compress/elem.h"

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

/* Elements 4j..4j+3 in one go; the last count % 4 elements are left to cast_*_kernel. */
__global__ static void cast_encode_vec_kernel(const float4 *__restrict__ src, size_t n4, int bf16,
                                              uint2 *__restrict__ payload,
                                              float4 *__restrict__ recon, int fb_residual, int *bad)
{
    int nonfinite = 0;
    CCL_GRID_LOOP(j, n4) {
        const float4 v = __ldg(src + j);
        const float x[4] = {v.x, v.y, v.z, v.w};
        uint32_t h[4];
        float r[4];
#pragma unroll
        for (int k = 0; k < 4; k++) {
            h[k] = ccl_cast_code(x[k], bf16);
            float d = ccl_cast_value((uint16_t)h[k], bf16);
            r[k] = fb_residual ? CCL_FSUB(x[k], d) : d;
            nonfinite |= !isfinite(x[k]);
        }
        payload[j] = make_uint2(h[0] | h[1] << 16, h[2] | h[3] << 16);
        if (recon != NULL)
            recon[j] = make_float4(r[0], r[1], r[2], r[3]);
    }
    if (nonfinite && bad != NULL)
        *bad = 1;
}

__global__ static void cast_decode_vec_kernel(const uint2 *__restrict__ payload, int bf16,
                                              float4 *__restrict__ out, size_t n4, int accumulate)
{
    CCL_GRID_LOOP(j, n4) {
        const uint2 h = __ldg(payload + j);
        float4 v = make_float4(ccl_cast_value((uint16_t)h.x, bf16), ccl_cast_value((uint16_t)(h.x >> 16), bf16),
                               ccl_cast_value((uint16_t)h.y, bf16), ccl_cast_value((uint16_t)(h.y >> 16), bf16));
        if (accumulate) {
            const float4 o = out[j];
            v = make_float4(CCL_FADD(o.x, v.x), CCL_FADD(o.y, v.y), CCL_FADD(o.z, v.z), CCL_FADD(o.w, v.w));
        }
        out[j] = v;
    }
}

/* Whether the 4-wide kernels apply: floats on 16 bytes, codes on 8. */
static int cast_vec_ok(const void *codes, const float *f1, const float *f2)
{
    return (uintptr_t)codes % 8 == 0 && ((uintptr_t)f1 | (uintptr_t)f2) % 16 == 0;
}

extern "C" int ccl_cuda_cast_encode(const float *src, size_t count, int bf16, void *payload,
                                    float *recon, int fb_residual, int *bad, void *stream)
{
    if (count == 0)
        return 0;
    cudaStream_t st = (cudaStream_t)stream;
    size_t done = 0;
    if (cast_vec_ok(payload, src, recon) && count >= 4) {
        const size_t n4 = count / 4;
        cast_encode_vec_kernel<<<ccl_blocks_for(n4), CCL_THREADS, 0, st>>>(
            (const float4 *)src, n4, bf16 != 0, (uint2 *)payload, (float4 *)recon, fb_residual, bad);
        done = 4 * n4;
    }
    if (done < count)
        cast_encode_kernel<<<ccl_blocks_for(count - done), CCL_THREADS, 0, st>>>(
            src + done, count - done, bf16 != 0, (uint8_t *)payload + 2 * done,
            recon != NULL ? recon + done : NULL, fb_residual, bad);
    return (int)cudaGetLastError();
}

extern "C" int ccl_cuda_cast_decode(const void *payload, int bf16, float *out, size_t count,
                                    int accumulate, void *stream)
{
    if (count == 0)
        return 0;
    cudaStream_t st = (cudaStream_t)stream;
    size_t done = 0;
    if (cast_vec_ok(payload, out, NULL) && count >= 4) {
        const size_t n4 = count / 4;
        cast_decode_vec_kernel<<<ccl_blocks_for(n4), CCL_THREADS, 0, st>>>(
            (const uint2 *)payload, bf16 != 0, (float4 *)out, n4, accumulate);
        done = 4 * n4;
    }
    if (done < count)
        cast_decode_kernel<<<ccl_blocks_for(count - done), CCL_THREADS, 0, st>>>(
            (const uint8_t *)payload + 2 * done, bf16 != 0, out + done, count - done, accumulate);
    return (int)cudaGetLastError();
}
