/* kernel_util.cuh: launch shapes shared by the cuda/ kernels. */
#ifndef CCL_CUDA_KERNEL_UTIL_CUH
#define CCL_CUDA_KERNEL_UTIL_CUH

#include <stddef.h>
#include <stdint.h>

#define CCL_THREADS 256
#define CCL_MAX_BLOCKS (65535u * 4) /* grid-stride loops cover the rest */

/* Blocks for one thread per item (at least one block, so that a kernel which also writes a
 * header runs for an empty buffer). */
static inline unsigned ccl_blocks_for(size_t n)
{
    size_t b = (n + CCL_THREADS - 1) / CCL_THREADS;
    return (unsigned)(b == 0 ? 1 : b > CCL_MAX_BLOCKS ? CCL_MAX_BLOCKS : b);
}

/* Grid-stride loop over [0, n) for the calling thread. */
#define CCL_GRID_LOOP(i, n)                                                                    \
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < (n);                    \
         i += (size_t)gridDim.x * blockDim.x)

/* Word w (32 bits, little-endian) of a packed code stream `nbytes` long: one store where the
 * word lies inside the stream and is aligned, else its bytes inside the stream. */
__device__ static inline void ccl_put_word(uint8_t *codes, uint64_t nbytes, uint64_t w, uint32_t word)
{
    if ((w + 1) * 4 <= nbytes && ((uintptr_t)codes & 3) == 0) {
        ((uint32_t *)codes)[w] = word;
        return;
    }
    for (unsigned k = 0; k < 4 && w * 4 + k < nbytes; k++)
        codes[w * 4 + k] = (uint8_t)(word >> (8 * k));
}

/* The 32-bit word of BITS-bit codes (BITS dividing 32) that the lanes of the calling lane's
 * group of 32/BITS consecutive lanes hold, lane j of the group in bits BITS*j. Every lane of
 * the warp must call it. */
template <unsigned BITS>
__device__ static inline uint32_t ccl_warp_pack(unsigned code)
{
    constexpr unsigned G = 32 / BITS;
    uint32_t w = (uint32_t)code << (BITS * ((threadIdx.x & 31) % G));
#pragma unroll
    for (unsigned o = 1; o < G; o <<= 1)
        w |= __shfl_xor_sync(0xffffffffu, w, o);
    return w;
}

/* Elements 4j to 4j + 3 of a count-long src into x, `pad` past the end: one 16-byte load
 * where all four lie inside. Returns whether they do. */
__device__ static inline int ccl_load4(const float4 *__restrict__ src, size_t j, size_t count,
                                       float pad, float x[4])
{
    const size_t i0 = 4 * j;
    if (i0 + 4 <= count) {
        const float4 v = __ldg(src + j);
        x[0] = v.x, x[1] = v.y, x[2] = v.z, x[3] = v.w;
        return 1;
    }
    for (int k = 0; k < 4; k++)
        x[k] = i0 + k < count ? ((const float *)src)[i0 + k] : pad;
    return 0;
}

/* r into elements 4j to 4j + 3 of a count-long dst, those inside only; `full` as ccl_load4
 * returned. */
__device__ static inline void ccl_store4(float4 *__restrict__ dst, size_t j, size_t count,
                                         int full, const float r[4])
{
    const size_t i0 = 4 * j;
    if (full) {
        dst[j] = make_float4(r[0], r[1], r[2], r[3]);
        return;
    }
    for (int k = 0; i0 + k < count; k++)
        ((float *)dst)[i0 + k] = r[k];
}

/* Grid-stride loop over [0, n) in whole warps: every lane of a warp runs the same number of
 * turns (i may be past n), so warp-wide steps work inside it. */
#define CCL_WARP_LOOP(i, n)                                                                    \
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;                             \
         i - (threadIdx.x & 31) < (n); i += (size_t)gridDim.x * blockDim.x)

#endif
