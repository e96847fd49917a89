/* half.h: float16 and bfloat16 to float32 and back, rounding to nearest even, written once
 * for the CPU and the GPU (nvcc compiles it too, so a GPU conversion gives the CPU's bits).
 * Plain C99: no library calls. */
#ifndef CCL_HALF_H
#define CCL_HALF_H

#include <stdint.h>

#ifdef __CUDACC__
#define CCL_HD static __host__ __device__ __forceinline__
#else
#define CCL_HD static inline
#endif

/* IEEE single operations, each rounded on its own: a GPU compiler would otherwise fuse a
 * multiply and an add (one rounding), and the GPU's bytes would differ from the CPU's. */
#ifdef __CUDA_ARCH__
#define CCL_FMUL(a, b) __fmul_rn((a), (b))
#define CCL_FADD(a, b) __fadd_rn((a), (b))
#define CCL_FSUB(a, b) __fsub_rn((a), (b))
#define CCL_FDIV(a, b) __fdiv_rn((a), (b))
#define CCL_DMUL(a, b) __dmul_rn((a), (b))
#define CCL_DADD(a, b) __dadd_rn((a), (b))
#else
#define CCL_FMUL(a, b) ((a) * (b))
#define CCL_FADD(a, b) ((a) + (b))
#define CCL_FSUB(a, b) ((a) - (b))
#define CCL_FDIV(a, b) ((a) / (b))
#define CCL_DMUL(a, b) ((a) * (b))
#define CCL_DADD(a, b) ((a) + (b))
#endif

/* A float's bits and back, without memcpy (nvcc's device code has none). */
CCL_HD uint32_t ccl_f32_bits(float f)
{
    union { uint32_t u; float f; } v;
    v.f = f;
    return v.u;
}

CCL_HD float ccl_bits_f32(uint32_t u)
{
    union { uint32_t u; float f; } v;
    v.u = u;
    return v.f;
}

/* IEEE half to float, exactly (subnormals, infinities and NaNs included). */
CCL_HD float ccl_h2f(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, exp = (h >> 10) & 0x1fu, mant = h & 0x3ffu;
    if (exp == 0) {
        if (mant == 0)
            return ccl_bits_f32(sign);
        exp = 127 - 15 + 1; /* subnormal half: normalise */
        while (!(mant & 0x400u)) {
            mant <<= 1;
            exp--;
        }
        return ccl_bits_f32(sign | (exp << 23) | ((mant & 0x3ffu) << 13));
    }
    if (exp == 31)
        return ccl_bits_f32(sign | 0x7f800000u | (mant << 13));
    return ccl_bits_f32(sign | ((exp + 112) << 23) | (mant << 13));
}

/* Float to IEEE half, round to nearest even; beyond 65504 an infinity, a NaN stays quiet. */
CCL_HD uint16_t ccl_f2h(float ff)
{
    uint32_t f = ccl_f32_bits(ff), sign = (f >> 16) & 0x8000u, absf = f & 0x7fffffffu;
    if (absf >= 0x7f800000u)
        return (uint16_t)(sign | (absf > 0x7f800000u ? 0x7e00u : 0x7c00u));
    if (absf >= 0x477ff000u) /* rounds past the largest half */
        return (uint16_t)(sign | 0x7c00u);
    if (absf < 0x38800000u) {
        /* A half subnormal or zero: in units of 2^-24, rounded to nearest even. The scaling
         * is exact and the value below 2^11, so adding and removing 2^23 rounds it. */
        float v = CCL_FMUL(ccl_bits_f32(absf), 16777216.0f);
        return (uint16_t)(sign | (uint32_t)CCL_FSUB(CCL_FADD(v, 8388608.0f), 8388608.0f));
    }
    absf += 0xc8000fffu + ((absf >> 13) & 1u); /* rebias, round on the 13 dropped bits */
    return (uint16_t)(sign | (absf >> 13));
}

CCL_HD float ccl_bf2f(uint16_t h)
{
    return ccl_bits_f32((uint32_t)h << 16);
}

/* Float to bfloat16, round to nearest even; a NaN stays quiet. */
CCL_HD uint16_t ccl_f2bf(float ff)
{
    uint32_t f = ccl_f32_bits(ff);
    if ((f & 0x7fffffffu) > 0x7f800000u)
        return (uint16_t)((f >> 16) | 0x40u);
    f += 0x7fffu + ((f >> 16) & 1u);
    return (uint16_t)(f >> 16);
}

#endif
