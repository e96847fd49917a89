/* elem.h: per-element arithmetic of the codecs, shared by the CPU codecs (this folder) and
 * the CUDA kernels (cuda/): the same functions run on both sides, so the CPU tests check the
 * code the GPU runs, and a GPU encoding decodes on the CPU bit for bit. Plain C99 that nvcc
 * also accepts: no library calls but what CUDA's device math provides. */
#ifndef CCL_ELEM_H
#define CCL_ELEM_H

#include <float.h>
#include <stdint.h>

#ifdef __CUDACC__
#define CCL_HD static __host__ __device__ __forceinline__
#else
#define CCL_HD static inline
#endif

/* Counter-based random numbers (splitmix64 of seed + counter): the same (seed, counter)
 * always gives the same value, on any device, in any order. */
CCL_HD uint64_t ccl_rng64(uint64_t seed, uint64_t counter)
{
    uint64_t z = seed + 0x9e3779b97f4a7c15ULL * (counter + 1);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Uniform in [0, 1), 24 bits. */
CCL_HD float ccl_rng_unit(uint64_t seed, uint64_t counter)
{
    return (float)(ccl_rng64(seed, counter) >> 40) * (1.0f / 16777216.0f);
}

/* int codec, one bucket with minimum mn and maximum mx (finite, canonical zeros) quantized
 * to `levels` steps: the step `unit` the wire carries and its inverse. A constant bucket, or
 * one too narrow to resolve, gets unit = inv = 0 and is sent exactly as its minimum. */
CCL_HD void ccl_int_scale(float mn, float mx, unsigned levels, float *unit_p, float *inv_p)
{
    float unit = (mx - mn) / (float)levels;
    float inv = unit > 0.0f && unit <= FLT_MAX ? 1.0f / unit : 0.0f;
    if (!(inv > 0.0f && inv <= FLT_MAX)) {
        unit = 0.0f;
        inv = 0.0f;
    }
    *unit_p = unit;
    *inv_p = inv;
}

/* IEEE single operations, each rounded on its own: a GPU compiler would otherwise fuse a
 * multiply and an add (one rounding), and the GPU's bytes would differ from the CPU's. */
#ifdef __CUDA_ARCH__
#define CCL_FMUL(a, b) __fmul_rn((a), (b))
#define CCL_FADD(a, b) __fadd_rn((a), (b))
#define CCL_FSUB(a, b) __fsub_rn((a), (b))
#else
#define CCL_FMUL(a, b) ((a) * (b))
#define CCL_FADD(a, b) ((a) + (b))
#define CCL_FSUB(a, b) ((a) - (b))
#endif

/* A little-endian float32 at any alignment. */
CCL_HD float ccl_le_f32(const uint8_t *p)
{
    union { uint32_t u; float f; } v;
    v.u = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    return v.f;
}

/* The code of x: (x - mn) / unit plus `offset` (0.5 rounds to nearest; a uniform in [0, 1)
 * rounds stochastically), truncated and clamped to [0, levels]. */
CCL_HD unsigned ccl_int_code(float x, float mn, float inv, float levels, float offset)
{
    float v = CCL_FADD(CCL_FMUL(CCL_FSUB(x, mn), inv), offset);
    v = v < 0.0f ? 0.0f : v;
    v = v > levels ? levels : v;
    return (unsigned)(int)v;
}

/* The value a code stands for. */
CCL_HD float ccl_int_value(unsigned q, float mn, float unit)
{
    return CCL_FADD(mn, CCL_FMUL(unit, (float)q));
}

/* Code i of a stream of `bits`-bit codes packed LSB first (compress/bitpack.h), `nbytes`
 * long; bits past the end read as zeros. Random access, for one thread per element. */
CCL_HD unsigned ccl_code_at(const uint8_t *codes, uint64_t nbytes, uint64_t i, unsigned bits)
{
    uint64_t bit = i * bits, byte = bit >> 3;
    unsigned lo = byte < nbytes ? codes[byte] : 0, hi = byte + 1 < nbytes ? codes[byte + 1] : 0;
    return ((lo | hi << 8) >> (bit & 7)) & ((1u << bits) - 1);
}

#endif
