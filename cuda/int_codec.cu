/* int_codec.cu: the int codec on the GPU (int_codec.h), writing and reading the CPU codec's
 * bytes with the per-element functions the CPU codec calls (src/compress/elem.h).
 *   encode: one block per bucket finds its minimum and maximum and writes the bucket's
 *           header; then one thread per byte of the packed code stream computes the codes
 *           that touch its byte (a code that straddles two bytes is computed by both) and
 *           writes, for the codes that start in it, what error feedback needs.
 *   decode: one thread per element, grid-stride. */
#include "int_codec.h"
#include "kernel_util.cuh"
#include "../src/compress/elem.h"

#include <cuda_runtime.h>


/* Block b (grid-stride over buckets): the bucket's minimum and maximum, canonical zeros,
 * then its header (minimum, step). A NaN or an infinity sets *bad. */
__global__ static void int_stats_kernel(const float *src, size_t count, size_t bucket,
                                        unsigned levels, uint8_t *payload, int *bad)
{
    __shared__ float smn[CCL_THREADS], smx[CCL_THREADS];
    __shared__ int sbad[CCL_THREADS];
    size_t nb = (count + bucket - 1) / bucket;
    for (size_t b = blockIdx.x; b < nb; b += gridDim.x) {
        size_t lo = b * bucket, hi = lo + bucket < count ? lo + bucket : count;
        float mn = src[lo], mx = mn;
        int nonfinite = 0;
        for (size_t i = lo + threadIdx.x; i < hi; i += blockDim.x) {
            float x = src[i];
            mn = fminf(mn, x);
            mx = fmaxf(mx, x);
            nonfinite |= !isfinite(x);
        }
        smn[threadIdx.x] = mn;
        smx[threadIdx.x] = mx;
        sbad[threadIdx.x] = nonfinite;
        __syncthreads();
        for (unsigned w = blockDim.x / 2; w > 0; w /= 2) {
            if (threadIdx.x < w) {
                smn[threadIdx.x] = fminf(smn[threadIdx.x], smn[threadIdx.x + w]);
                smx[threadIdx.x] = fmaxf(smx[threadIdx.x], smx[threadIdx.x + w]);
                sbad[threadIdx.x] |= sbad[threadIdx.x + w];
            }
            __syncthreads();
        }
        if (threadIdx.x == 0) {
            ccl_int_header(smn[0], smx[0], levels, payload + 8 * b);
            if (sbad[0] && bad != NULL)
                *bad = 1;
        }
        __syncthreads();
    }
}

/* Thread per byte of the code stream. */
__global__ static void int_codes_kernel(const float *src, size_t count, size_t bucket,
                                        unsigned bits, int stochastic, uint64_t seed,
                                        uint8_t *payload, float *recon, int fb_residual)
{
    const size_t nb = (count + bucket - 1) / bucket;
    const uint64_t nbytes = ((uint64_t)count * bits + 7) / 8;
    uint8_t *codes = payload + 8 * nb;
    CCL_GRID_LOOP(byte, nbytes)
        codes[byte] = ccl_int_code_byte(src, count, payload, bucket, bits, stochastic, seed, byte,
                                        recon, fb_residual);
}

extern "C" int ccl_cuda_int_encode(const float *src, size_t count, unsigned bits, size_t bucket,
                                   int stochastic, uint64_t seed, void *payload, float *recon,
                                   int fb_residual, int *bad, void *stream)
{
    if (count == 0)
        return 0;
    if (bits < 1 || bits > 8 || bucket == 0)
        return (int)cudaErrorInvalidValue;
    cudaStream_t st = (cudaStream_t)stream;
    size_t nb = (count + bucket - 1) / bucket;
    uint64_t nbytes = ((uint64_t)count * bits + 7) / 8;
    int_stats_kernel<<<(unsigned)(nb > CCL_MAX_BLOCKS ? CCL_MAX_BLOCKS : nb), CCL_THREADS, 0, st>>>(
        src, count, bucket, (1u << bits) - 1, (uint8_t *)payload, bad);
    int_codes_kernel<<<ccl_blocks_for((size_t)nbytes), CCL_THREADS, 0, st>>>(
        src, count, bucket, bits, stochastic, seed, (uint8_t *)payload, recon, fb_residual);
    return (int)cudaGetLastError();
}

__global__ static void int_decode_kernel(const uint8_t *payload, unsigned bits, size_t bucket,
                                         float *out, size_t count, int accumulate)
{
    size_t nb = (count + bucket - 1) / bucket;
    const uint8_t *codes = payload + 8 * nb;
    uint64_t nbytes = ((uint64_t)count * bits + 7) / 8;
    CCL_GRID_LOOP(i, count) {
        const uint8_t *h = payload + 8 * (i / bucket);
        float v = ccl_int_value(ccl_code_at(codes, nbytes, i, bits), ccl_get_f32(h), ccl_get_f32(h + 4));
        out[i] = accumulate ? CCL_FADD(out[i], v) : v;
    }
}

extern "C" int ccl_cuda_int_decode(const void *payload, unsigned bits, size_t bucket, float *out,
                                   size_t count, int accumulate, void *stream)
{
    if (count == 0)
        return 0;
    if (bits < 1 || bits > 8 || bucket == 0)
        return (int)cudaErrorInvalidValue;
    int_decode_kernel<<<ccl_blocks_for(count), CCL_THREADS, 0, (cudaStream_t)stream>>>(
        (const uint8_t *)payload, bits, bucket, out, count, accumulate);
    return (int)cudaGetLastError();
}
