/* terngrad_codec.cu: TernGrad's scaler (fixed-order sums of x, then of (x - mean)^2, and the
 * largest |x|), encode (one thread per element, 16 lanes' 2-bit codes stored as one word)
 * and decode-accumulate. */
#include "terngrad_codec.h"
#include "fixed_sum.cuh"
#include "kernel_util.cuh"
#include "gpu_mem.h"

/* Scratch: the block sums, the block maxima, then the mean and the largest |x|. */
typedef struct {
    double *part;
    float  *absmax;
    double *mean;
    float  *mx;
} tern_work_t;

/* One warp, after the sums of x: the mean and max |x|; the scaler too where it is max |x|. */
__global__ static void tern_mean_kernel(tern_work_t w, size_t nb, size_t count, float clip,
                                        float *scale, int *bad)
{
    float mx = 0.0f;
    double total = ccl_sum_total(w.part, nb, w.absmax, &mx);
    if (threadIdx.x == 0) {
        *w.mean = count > 0 ? total / (double)count : 0.0;
        *w.mx = mx;
        if (clip == 0.0f || count == 0)
            *scale = mx;
        if (!isfinite(total) && bad != NULL)
            *bad = 1;
    }
}

/* One warp, after the sums of (x - mean)^2: clip * std, or max |x| where that is 0. */
__global__ static void tern_std_kernel(tern_work_t w, size_t nb, size_t count, float clip,
                                       float *scale)
{
    double total = ccl_sum_total(w.part, nb, NULL, NULL);
    if (threadIdx.x == 0)
        *scale = ccl_tern_scale(total, count, clip, *w.mx);
}

extern "C" int ccl_cuda_terngrad_scale(const float *src, size_t count, float clip, float *scale,
                                       int *bad, void *stream)
{
    cudaStream_t st = (cudaStream_t)stream;
    size_t nb = ccl_sum_nblocks(count), slots = nb ? nb : 1;
    const unsigned grid = ccl_sum_grid(count), threads = CCL_SUM_WARPS * CCL_SUM_LANES;
    char *mem = NULL;
    cudaError_t e;
    /* doubles first, so every piece stays aligned */
    if ((e = (cudaError_t)ccl_gpu_alloc_async((void **)&mem, slots * 12 + 16, st)) != cudaSuccess)
        return (int)e;
    tern_work_t w = {(double *)mem, (float *)(mem + slots * 8 + 8), (double *)(mem + slots * 8),
                     (float *)(mem + slots * 12 + 8)};
    if (nb > 0)
        ccl_sum_blocks_kernel<<<grid, threads, 0, st>>>(src, count, CCL_SUM_X, NULL, w.part, w.absmax);
    tern_mean_kernel<<<1, CCL_SUM_LANES, 0, st>>>(w, nb, count, clip, scale, bad);
    if (clip != 0.0f && nb > 0) {
        ccl_sum_blocks_kernel<<<grid, threads, 0, st>>>(src, count, CCL_SUM_SQDEV, w.mean, w.part, NULL);
        tern_std_kernel<<<1, CCL_SUM_LANES, 0, st>>>(w, nb, count, clip, scale);
    }
    ccl_gpu_free_async(mem, st);
    return (int)cudaGetLastError();
}

/* One thread per element; each 16 lanes' codes make one word (ccl_tern_byte's layout). */
__global__ static void tern_encode_kernel(const float *__restrict__ src, size_t count, float s,
                                          uint64_t seed, uint8_t *__restrict__ payload,
                                          float *__restrict__ recon, int fb_residual)
{
    const uint64_t nbytes = (count + 3) / 4;
    if (blockIdx.x == 0 && threadIdx.x == 0)
        ccl_put_f32(payload, s);
    CCL_WARP_LOOP(i, count) {
        unsigned c = 0;
        if (i < count) {
            float x = src[i];
            c = ccl_tern_code(x, s, seed, i);
            if (recon != NULL) {
                float v = ccl_tern_value(c, s);
                recon[i] = fb_residual ? CCL_FSUB(x, v) : v;
            }
        }
        uint32_t word = ccl_warp_pack<2>(c);
        if ((threadIdx.x & 15) == 0)
            ccl_put_word(payload + 4, nbytes, i / 16, word);
    }
}

/* The same, 4 elements a thread (16-byte loads and stores): each 4 lanes' bytes make one
 * word. Needs src and recon on 16 bytes. */
__global__ static void tern_encode_vec_kernel(const float4 *__restrict__ src, size_t count,
                                              float s, uint64_t seed, uint8_t *__restrict__ payload,
                                              float4 *__restrict__ recon, int fb_residual)
{
    const uint64_t nbytes = (count + 3) / 4;
    const size_t n4 = (count + 3) / 4;
    if (blockIdx.x == 0 && threadIdx.x == 0)
        ccl_put_f32(payload, s);
    CCL_WARP_LOOP(j, n4) {
        unsigned byte = 0;
        if (j < n4) {
            const size_t i0 = 4 * j;
            float x[4], r[4];
            const int full = ccl_load4(src, j, count, 0.0f, x);
#pragma unroll
            for (int k = 0; k < 4; k++) {
                const unsigned c = i0 + k < count ? ccl_tern_code(x[k], s, seed, i0 + k) : 0u;
                byte |= c << (2 * k);
                const float v = ccl_tern_value(c, s);
                r[k] = fb_residual ? CCL_FSUB(x[k], v) : v;
            }
            if (recon != NULL)
                ccl_store4(recon, j, count, full, r);
        }
        const uint32_t word = ccl_warp_pack<8>(byte);
        if ((threadIdx.x & 3) == 0)
            ccl_put_word(payload + 4, nbytes, j / 4, word);
    }
}

__global__ static void tern_decode_kernel(const uint8_t *payload, float *out, size_t count,
                                          int accumulate)
{
    const float s = ccl_get_f32(payload);
    CCL_GRID_LOOP(i, count) {
        float v = ccl_tern_value((payload[4 + i / 4] >> (2 * (i % 4))) & 3, s);
        out[i] = accumulate ? CCL_FADD(out[i], v) : v;
    }
}

extern "C" int ccl_cuda_terngrad_encode(const float *src, size_t count, float scale, uint64_t seed,
                                        void *payload, float *recon, int fb_residual, void *stream)
{
    if (!(scale >= 0.0f) || !isfinite(scale))
        return (int)cudaErrorInvalidValue;
    if (((uintptr_t)src | (uintptr_t)recon) % 16 == 0)
        tern_encode_vec_kernel<<<ccl_blocks_for((count + 3) / 4), CCL_THREADS, 0, (cudaStream_t)stream>>>(
            (const float4 *)src, count, scale, seed, (uint8_t *)payload, (float4 *)recon, fb_residual);
    else
        tern_encode_kernel<<<ccl_blocks_for(count), CCL_THREADS, 0, (cudaStream_t)stream>>>(
            src, count, scale, seed, (uint8_t *)payload, recon, fb_residual);
    return (int)cudaGetLastError();
}

extern "C" int ccl_cuda_terngrad_decode(const void *payload, float *out, size_t count,
                                        int accumulate, void *stream)
{
    if (count == 0)
        return 0;
    tern_decode_kernel<<<ccl_blocks_for(count), CCL_THREADS, 0, (cudaStream_t)stream>>>(
        (const uint8_t *)payload, out, count, accumulate);
    return (int)cudaGetLastError();
}
