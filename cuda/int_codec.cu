/* int_codec.cu: the int codec on the GPU (int_codec.h), writing and reading the CPU codec's
 * bytes with the per-element functions the CPU codec calls (src/compress/elem.h).
 * Fast path, for 1, 2, 4 or 8 bits, buckets that are whole 32-bit words of codes and aligned
 * buffers (the usual case):
 *   encode: one warp per bucket, in one kernel: 16-byte loads find the minimum and maximum,
 *           lane 0 writes the header, then each lane packs 32/bits consecutive codes into
 *           one 32-bit store (and 16-byte recon stores); the second read hits L1.
 *   decode: one thread per 32-bit word of codes, 16-byte loads and stores of out.
 * General path (any other shape):
 *   encode: one block per bucket finds its minimum and maximum and writes the bucket's
 *           header; then one thread per byte of the packed code stream computes the codes
 *           that touch its byte (a code that straddles two bytes is computed by both) and
 *           writes, for the codes that start in it, what error feedback needs.
 *   decode: one thread per element, grid-stride. */
#include "int_codec.h"
#include "kernel_util.cuh"
#include "compress/elem.h"

#include <cuda_runtime.h>


/* ---- fast path ---- */

#define INT_FAST_MAX_BUCKET 65536 /* larger buckets are too few to fill the GPU one warp each */

/* The fast path's shapes: codes that fill 32-bit words, buckets of whole words, float
 * buffers (f1, f2: NULL or 16-byte aligned) and a payload on 8 bytes. */
static int int_fast_ok(unsigned bits, size_t bucket, const void *payload, const float *f1,
                       const float *f2)
{
    return (bits == 1 || bits == 2 || bits == 4 || bits == 8) && bucket % (32 / bits) == 0 &&
           bucket <= INT_FAST_MAX_BUCKET && (uintptr_t)payload % 8 == 0 &&
           ((uintptr_t)f1 | (uintptr_t)f2) % 16 == 0;
}

template <unsigned BITS>
__global__ static void int_encode_warp_kernel(const float *__restrict__ src, size_t count,
                                              size_t bucket, int stochastic, uint64_t seed,
                                              uint8_t *__restrict__ payload,
                                              float *__restrict__ recon, int fb_residual, int *bad)
{
    constexpr unsigned E = 32 / BITS; /* codes in one 32-bit word: 4, 8, 16 or 32 */
    const float levels = (float)((1u << BITS) - 1);
    const unsigned lane = threadIdx.x & 31;
    const size_t nb = (count + bucket - 1) / bucket, nwarps = ((size_t)gridDim.x * blockDim.x) >> 5;
    const uint64_t nbytes = ((uint64_t)count * BITS + 7) / 8;
    uint8_t *codes = payload + 8 * nb;
    for (size_t b = ((size_t)blockIdx.x * blockDim.x + threadIdx.x) >> 5; b < nb; b += nwarps) {
        const size_t lo = b * bucket, hi = lo + bucket < count ? lo + bucket : count;
        const size_t n4 = (hi - lo) / 4;
        const float4 *v4 = (const float4 *)(src + lo);
        float mn = src[lo], mx = mn;
        int nonfinite = 0;
        for (size_t j = lane; j < n4; j += 32) {
            float4 v = __ldg(v4 + j);
            mn = fminf(fminf(mn, v.x), fminf(fminf(v.y, v.z), v.w));
            mx = fmaxf(fmaxf(mx, v.x), fmaxf(fmaxf(v.y, v.z), v.w));
            nonfinite |= !isfinite(v.x) | !isfinite(v.y) | !isfinite(v.z) | !isfinite(v.w);
        }
        for (size_t i = lo + n4 * 4 + lane; i < hi; i += 32) {
            float x = src[i];
            mn = fminf(mn, x);
            mx = fmaxf(mx, x);
            nonfinite |= !isfinite(x);
        }
        for (unsigned o = 16; o > 0; o >>= 1) {
            mn = fminf(mn, __shfl_xor_sync(0xffffffffu, mn, o));
            mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, o));
        }
        if (__any_sync(0xffffffffu, nonfinite) && lane == 0 && bad != NULL)
            *bad = 1;
        /* the header's minimum and step, as ccl_int_header writes them */
        mn = CCL_FADD(mn, 0.0f);
        mx = CCL_FADD(mx, 0.0f);
        float unit, inv;
        ccl_int_scale(mn, mx, (unsigned)levels, &unit, &inv);
        inv = ccl_int_inv(unit);
        if (lane == 0) {
            ((float *)(payload + 8 * b))[0] = mn;
            ((float *)(payload + 8 * b))[1] = unit;
        }
        const size_t w0 = lo / E, nw = (hi - lo + E - 1) / E;
        for (size_t w = lane; w < nw; w += 32) {
            const size_t i0 = lo + w * E;
            float x[E];
            if (i0 + E <= hi) {
#pragma unroll
                for (unsigned k = 0; k < E; k += 4) {
                    float4 v = __ldg((const float4 *)(src + i0 + k));
                    x[k] = v.x, x[k + 1] = v.y, x[k + 2] = v.z, x[k + 3] = v.w;
                }
            } else {
#pragma unroll
                for (unsigned k = 0; k < E; k++)
                    x[k] = i0 + k < hi ? src[i0 + k] : 0.0f;
            }
            uint32_t word = 0;
            float r[E];
#pragma unroll
            for (unsigned k = 0; k < E; k++) {
                unsigned q = ccl_int_code(x[k], mn, inv, levels,
                                          stochastic ? ccl_rng_unit(seed, i0 + k) : 0.5f);
                word |= (i0 + k < hi ? q : 0u) << (k * BITS);
                float v = ccl_int_value(q, mn, unit);
                r[k] = fb_residual ? CCL_FSUB(x[k], v) : v;
            }
            ccl_put_word(codes, nbytes, w0 + w, word);
            if (recon != NULL) {
                if (i0 + E <= hi) {
#pragma unroll
                    for (unsigned k = 0; k < E; k += 4)
                        *(float4 *)(recon + i0 + k) = make_float4(r[k], r[k + 1], r[k + 2], r[k + 3]);
                } else {
                    for (unsigned k = 0; k < E && i0 + k < hi; k++)
                        recon[i0 + k] = r[k];
                }
            }
        }
    }
}

template <unsigned BITS>
__global__ static void int_decode_word_kernel(const uint8_t *__restrict__ payload, size_t bucket,
                                              float *__restrict__ out, size_t count, int accumulate)
{
    constexpr unsigned E = 32 / BITS;
    const size_t nb = (count + bucket - 1) / bucket, nw = (count + E - 1) / E;
    const uint64_t nbytes = ((uint64_t)count * BITS + 7) / 8;
    const uint8_t *codes = payload + 8 * nb;
    CCL_GRID_LOOP(w, nw) {
        const size_t i0 = w * E;
        const size_t b = count <= 0xffffffffu ? (size_t)((unsigned)i0 / (unsigned)bucket) : i0 / bucket;
        const float2 h = __ldg((const float2 *)(payload + 8 * b));
        uint32_t word;
        if ((uint64_t)(w + 1) * 4 <= nbytes) {
            word = __ldg((const uint32_t *)codes + w);
        } else {
            word = 0;
            for (unsigned k = 0; k < 4 && (uint64_t)w * 4 + k < nbytes; k++)
                word |= (uint32_t)codes[w * 4 + k] << (8 * k);
        }
        float v[E];
#pragma unroll
        for (unsigned k = 0; k < E; k++)
            v[k] = ccl_int_value((word >> (k * BITS)) & ((1u << BITS) - 1), h.x, h.y);
        if (i0 + E <= count) {
#pragma unroll
            for (unsigned k = 0; k < E; k += 4) {
                float4 *o = (float4 *)(out + i0 + k);
                float4 a = make_float4(v[k], v[k + 1], v[k + 2], v[k + 3]);
                if (accumulate) {
                    float4 c = *o;
                    a = make_float4(CCL_FADD(c.x, a.x), CCL_FADD(c.y, a.y), CCL_FADD(c.z, a.z),
                                    CCL_FADD(c.w, a.w));
                }
                *o = a;
            }
        } else {
            for (unsigned k = 0; k < E && i0 + k < count; k++)
                out[i0 + k] = accumulate ? CCL_FADD(out[i0 + k], v[k]) : v[k];
        }
    }
}

/* Warps, 8 to a block, for one warp per bucket. */
static unsigned int_warp_blocks(size_t nb)
{
    size_t blocks = (nb + CCL_THREADS / 32 - 1) / (CCL_THREADS / 32);
    return (unsigned)(blocks > CCL_MAX_BLOCKS ? CCL_MAX_BLOCKS : blocks);
}

static int int_encode_fast(const float *src, size_t count, unsigned bits, size_t bucket,
                           int stochastic, uint64_t seed, uint8_t *payload, float *recon,
                           int fb_residual, int *bad, cudaStream_t st)
{
    const size_t nb = (count + bucket - 1) / bucket;
    const unsigned g = int_warp_blocks(nb);
#define INT_ENC(B)                                                                             \
    int_encode_warp_kernel<B><<<g, CCL_THREADS, 0, st>>>(src, count, bucket, stochastic, seed,  \
                                                         payload, recon, fb_residual, bad)
    switch (bits) {
    case 1: INT_ENC(1); break;
    case 2: INT_ENC(2); break;
    case 4: INT_ENC(4); break;
    default: INT_ENC(8); break;
    }
#undef INT_ENC
    return (int)cudaGetLastError();
}

static int int_decode_fast(const uint8_t *payload, unsigned bits, size_t bucket, float *out,
                           size_t count, int accumulate, cudaStream_t st)
{
    const unsigned g = ccl_blocks_for((count + 32 / bits - 1) / (32 / bits));
#define INT_DEC(B) int_decode_word_kernel<B><<<g, CCL_THREADS, 0, st>>>(payload, bucket, out, count, accumulate)
    switch (bits) {
    case 1: INT_DEC(1); break;
    case 2: INT_DEC(2); break;
    case 4: INT_DEC(4); break;
    default: INT_DEC(8); break;
    }
#undef INT_DEC
    return (int)cudaGetLastError();
}

/* ---- general path ---- */

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
    if (int_fast_ok(bits, bucket, payload, src, recon))
        return int_encode_fast(src, count, bits, bucket, stochastic, seed, (uint8_t *)payload,
                               recon, fb_residual, bad, st);
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
    if (int_fast_ok(bits, bucket, payload, out, NULL))
        return int_decode_fast((const uint8_t *)payload, bits, bucket, out, count, accumulate,
                               (cudaStream_t)stream);
    int_decode_kernel<<<ccl_blocks_for(count), CCL_THREADS, 0, (cudaStream_t)stream>>>(
        (const uint8_t *)payload, bits, bucket, out, count, accumulate);
    return (int)cudaGetLastError();
}
