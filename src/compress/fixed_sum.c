/* fixed_sum.c: the fixed-order double sum of elem.h on the CPU. Lane j's terms come in
 * index order, so walking the block in index order and adding each term to lane (i - lo) % 32
 * gives each lane exactly the sequence of ccl_sum_lane_f32, in a loop the compiler
 * vectorises; the block sums feed the second level the same way, as they are made. The
 * largest |x| comes along (exact in any order), for codecs that need it too. */
#include "compress/codec.h"

#include <math.h>

static inline void lane_add(double *acc, float *mx, float x, int kind, double mean)
{
    float ax = fabsf(x);
    *acc = *acc + ccl_sum_term(x, kind, mean);
    *mx = ax > *mx ? ax : *mx; /* a NaN is passed over */
}

#if defined(__x86_64__)
#include <immintrin.h>

/* The term of 4 elements, as ccl_sum_term computes it (|x| differs only for -0, whose +0
 * adds the same to a lane that starts at +0). */
__attribute__((target("avx2"))) static inline __m256d term4(__m128 x, int kind, __m256d neg_mean)
{
    __m256d d = _mm256_cvtps_pd(x);
    switch (kind) {
    case CCL_SUM_ABS: return _mm256_andnot_pd(_mm256_set1_pd(-0.0), d);
    case CCL_SUM_SQ:  return _mm256_mul_pd(d, d);
    case CCL_SUM_SQDEV: d = _mm256_add_pd(d, neg_mean); return _mm256_mul_pd(d, d);
    default:          return d;
    }
}

/* Elements [i, hi) in steps of 32 into the 32 lanes (the same additions, lane by lane, as
 * lane_add); returns where it stopped. */
__attribute__((target("avx2"))) static size_t lanes_avx2(const float *x, size_t i, size_t hi,
                                                         int kind, double mean, double *acc,
                                                         float *mx)
{
    const __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    const __m256d neg_mean = _mm256_set1_pd(-mean);
    __m256d a[8];
    __m256 m[4];
    for (int k = 0; k < 8; k++)
        a[k] = _mm256_loadu_pd(acc + 4 * k);
    for (int k = 0; k < 4; k++)
        m[k] = _mm256_loadu_ps(mx + 8 * k);
    for (; i + CCL_SUM_LANES <= hi; i += CCL_SUM_LANES)
        for (int k = 0; k < 4; k++) {
            __m256 v = _mm256_loadu_ps(x + i + 8 * k);
            m[k] = _mm256_max_ps(_mm256_and_ps(v, absmask), m[k]); /* ax > mx ? ax : mx */
            a[2 * k] = _mm256_add_pd(a[2 * k], term4(_mm256_castps256_ps128(v), kind, neg_mean));
            a[2 * k + 1] = _mm256_add_pd(a[2 * k + 1], term4(_mm256_extractf128_ps(v, 1), kind, neg_mean));
        }
    for (int k = 0; k < 8; k++)
        _mm256_storeu_pd(acc + 4 * k, a[k]);
    for (int k = 0; k < 4; k++)
        _mm256_storeu_ps(mx + 8 * k, m[k]);
    return i;
}
#endif

double ccl_fixed_sum(const float *x, size_t n, int kind, double mean, float *absmax)
{
    double top[CCL_SUM_LANES] = {0};
    float mx[CCL_SUM_LANES] = {0};
    size_t nblocks = 0;
    for (size_t lo = 0; lo < n; lo += CCL_SUM_BLOCK, nblocks++) {
        size_t hi = n - lo < CCL_SUM_BLOCK ? n : lo + CCL_SUM_BLOCK, i = lo;
        double acc[CCL_SUM_LANES] = {0};
#if defined(__x86_64__)
        if (ccl_simd_avx2())
            i = lanes_avx2(x, i, hi, kind, mean, acc, mx);
#endif
        for (; i + CCL_SUM_LANES <= hi; i += CCL_SUM_LANES)
            for (unsigned j = 0; j < CCL_SUM_LANES; j++)
                lane_add(&acc[j], &mx[j], x[i + j], kind, mean);
        for (unsigned j = 0; i + j < hi; j++)
            lane_add(&acc[j], &mx[j], x[i + j], kind, mean);
        unsigned lane = (unsigned)(nblocks % CCL_SUM_LANES);
        top[lane] = top[lane] + ccl_sum_combine(acc);
    }
    if (absmax != NULL) {
        *absmax = 0;
        for (unsigned j = 0; j < CCL_SUM_LANES; j++)
            *absmax = mx[j] > *absmax ? mx[j] : *absmax;
    }
    return ccl_sum_combine(top);
}
