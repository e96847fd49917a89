/* simd.h: vector forms of elem.h's per-element steps that several codecs share, for x86-64
 * with AVX2. Each returns exactly what its scalar original returns, lane by lane. */
#ifndef CCL_SIMD_H
#define CCL_SIMD_H

#if defined(__x86_64__)
#include <immintrin.h>
#include <stdint.h>

#define CCL_AVX2 __attribute__((target("avx2")))

/* a * b modulo 2^64 in each of 4 lanes (AVX2 multiplies only 32 x 32 bits). */
CCL_AVX2 static inline __m256i ccl_mul64_avx2(__m256i a, uint64_t b)
{
    const __m256i lo = _mm256_set1_epi64x((long long)(b & 0xffffffffu));
    const __m256i hi = _mm256_set1_epi64x((long long)(b >> 32));
    __m256i cross = _mm256_add_epi64(_mm256_mul_epu32(_mm256_srli_epi64(a, 32), lo),
                                     _mm256_mul_epu32(a, hi));
    return _mm256_add_epi64(_mm256_mul_epu32(a, lo), _mm256_slli_epi64(cross, 32));
}

/* ccl_rng64's mixing of 4 values z = seed + golden * (counter + 1), shifted to its top 24
 * bits. */
CCL_AVX2 static inline __m256i ccl_rng24_avx2(__m256i z)
{
    z = ccl_mul64_avx2(_mm256_xor_si256(z, _mm256_srli_epi64(z, 30)), 0xbf58476d1ce4e5b9ULL);
    z = ccl_mul64_avx2(_mm256_xor_si256(z, _mm256_srli_epi64(z, 27)), 0x94d049bb133111ebULL);
    return _mm256_srli_epi64(_mm256_xor_si256(z, _mm256_srli_epi64(z, 31)), 40);
}

/* ccl_rng_unit(seed, i) for the 8 counters i0 .. i0 + 7. */
CCL_AVX2 static inline __m256 ccl_rng_unit8_avx2(uint64_t seed, uint64_t i0)
{
    const uint64_t g = 0x9e3779b97f4a7c15ULL;
    __m256i z0 = _mm256_setr_epi64x((long long)(seed + g * (i0 + 1)), (long long)(seed + g * (i0 + 2)),
                                    (long long)(seed + g * (i0 + 3)), (long long)(seed + g * (i0 + 4)));
    __m256i z1 = _mm256_add_epi64(z0, _mm256_set1_epi64x((long long)(g * 4)));
    /* Each 24-bit result sits in the low half of its 64-bit lane: gather the 8 halves. */
    __m256i r0 = ccl_rng24_avx2(z0), r1 = ccl_rng24_avx2(z1);
    __m256i both = _mm256_or_si256(r0, _mm256_slli_epi64(r1, 32)); /* r0.0 r1.0 r0.1 r1.1 ... */
    __m256i ordered = _mm256_permutevar8x32_epi32(both, _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7));
    return _mm256_mul_ps(_mm256_cvtepi32_ps(ordered), _mm256_set1_ps(1.0f / 16777216.0f));
}
#endif

#endif
