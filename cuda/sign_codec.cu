/* sign_codec.cu: sign encode (fixed-order sum of |x| or x^2, the magnitude, then one thread
 * per element, a warp's signs stored as one word) and decode-accumulate (one thread per
 * element). */
#include "sign_codec.h"
#include "fixed_sum.cuh"
#include "kernel_util.cuh"
#include "gpu_mem.h"

/* One warp: the magnitude into the payload's first 4 bytes; a non-finite sum means a NaN or
 * an Inf in the input (finite floats cannot overflow a double sum). */
__global__ static void sign_magnitude_kernel(const double *part, size_t nb, size_t count, int mode,
                                             uint8_t *payload, int *bad)
{
    double total = ccl_sum_total(part, nb, NULL, NULL);
    if (threadIdx.x == 0) {
        ccl_put_f32(payload, ccl_sign_magnitude(total, count, mode));
        if (!isfinite(total) && bad != NULL)
            *bad = 1;
    }
}

/* One thread per element, the warp's 32 signs gathered by a ballot into one word. */
__global__ static void sign_bits_kernel(const float *__restrict__ src, size_t count,
                                        uint8_t *__restrict__ payload, float *__restrict__ recon,
                                        int fb_residual)
{
    const float s = ccl_get_f32(payload);
    const uint64_t nbytes = (count + 7) / 8;
    CCL_WARP_LOOP(i, count) {
        int pos = 0;
        if (i < count) {
            float x = src[i];
            pos = x >= 0.0f; /* as ccl_sign_byte */
            if (recon != NULL)
                recon[i] = fb_residual ? CCL_FSUB(x, pos ? s : -s) : (pos ? s : -s);
        }
        uint32_t word = __ballot_sync(0xffffffffu, pos);
        if ((threadIdx.x & 31) == 0)
            ccl_put_word(payload + 4, nbytes, i / 32, word);
    }
}

/* The same, 4 elements a thread (16-byte loads and stores): each 8 lanes' nibbles make one
 * word. Needs src and recon on 16 bytes. */
__global__ static void sign_bits_vec_kernel(const float4 *__restrict__ src, size_t count,
                                            uint8_t *__restrict__ payload,
                                            float4 *__restrict__ recon, int fb_residual)
{
    const float s = ccl_get_f32(payload);
    const uint64_t nbytes = (count + 7) / 8;
    const size_t n4 = (count + 3) / 4;
    CCL_WARP_LOOP(j, n4) {
        unsigned nib = 0;
        if (j < n4) {
            float x[4], r[4];
            const int full = ccl_load4(src, j, count, -1.0f, x);
#pragma unroll
            for (int k = 0; k < 4; k++) {
                const int pos = x[k] >= 0.0f;
                nib |= (unsigned)pos << k;
                r[k] = fb_residual ? CCL_FSUB(x[k], pos ? s : -s) : (pos ? s : -s);
            }
            if (recon != NULL)
                ccl_store4(recon, j, count, full, r);
        }
        const uint32_t word = ccl_warp_pack<4>(nib);
        if ((threadIdx.x & 7) == 0)
            ccl_put_word(payload + 4, nbytes, j / 8, word);
    }
}

__global__ static void sign_decode_kernel(const uint8_t *payload, float *out, size_t count,
                                          int accumulate)
{
    const float s = ccl_get_f32(payload);
    CCL_GRID_LOOP(i, count) {
        float v = (payload[4 + i / 8] >> (i % 8)) & 1 ? s : -s;
        out[i] = accumulate ? CCL_FADD(out[i], v) : v;
    }
}

extern "C" int ccl_cuda_sign_encode(const float *src, size_t count, int mode, void *payload,
                                    float *recon, int fb_residual, int *bad, void *stream)
{
    cudaStream_t st = (cudaStream_t)stream;
    size_t nb = ccl_sum_nblocks(count);
    double *part = NULL;
    cudaError_t e;
    if (mode < 0 || mode > 2)
        return (int)cudaErrorInvalidValue;
    if ((e = (cudaError_t)ccl_gpu_alloc_async((void **)&part, (nb ? nb : 1) * sizeof(double), st)) != cudaSuccess)
        return (int)e;
    /* The sum also serves the NaN check when no magnitude is sent (mode 2). */
    if (nb > 0)
        ccl_sum_blocks_kernel<<<ccl_sum_grid(count), CCL_SUM_WARPS * CCL_SUM_LANES, 0, st>>>(
            src, count, mode == 1 ? CCL_SUM_SQ : CCL_SUM_ABS, NULL, part, NULL);
    sign_magnitude_kernel<<<1, CCL_SUM_LANES, 0, st>>>(part, nb, count, mode, (uint8_t *)payload, bad);
    if (count > 0 && ((uintptr_t)src | (uintptr_t)recon) % 16 == 0)
        sign_bits_vec_kernel<<<ccl_blocks_for((count + 3) / 4), CCL_THREADS, 0, st>>>(
            (const float4 *)src, count, (uint8_t *)payload, (float4 *)recon, fb_residual);
    else if (count > 0)
        sign_bits_kernel<<<ccl_blocks_for(count), CCL_THREADS, 0, st>>>(
            src, count, (uint8_t *)payload, recon, fb_residual);
    ccl_gpu_free_async(part, st);
    return (int)cudaGetLastError();
}

extern "C" int ccl_cuda_sign_decode(const void *payload, float *out, size_t count, int accumulate,
                                    void *stream)
{
    if (count == 0)
        return 0;
    sign_decode_kernel<<<ccl_blocks_for(count), CCL_THREADS, 0, (cudaStream_t)stream>>>(
        (const uint8_t *)payload, out, count, accumulate);
    return (int)cudaGetLastError();
}
