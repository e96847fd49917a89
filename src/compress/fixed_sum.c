/* fixed_sum.c: the fixed-order double sum of elem.h on the CPU. Lane j's terms come in
 * index order, so walking the block in index order and adding each term to lane (i - lo) % 32
 * gives each lane exactly the sequence of ccl_sum_lane_f32, in a loop the compiler
 * vectorises; the block sums feed the second level the same way, as they are made. The
 * largest |x| comes along (exact in any order), for codecs that need it too. */
#include "codec.h"

#include <math.h>

static inline void lane_add(double *acc, float *mx, float x, int kind, double mean)
{
    float ax = fabsf(x);
    *acc = *acc + ccl_sum_term(x, kind, mean);
    *mx = ax > *mx ? ax : *mx; /* a NaN is passed over */
}

double ccl_fixed_sum(const float *x, size_t n, int kind, double mean, float *absmax)
{
    double top[CCL_SUM_LANES] = {0};
    float mx[CCL_SUM_LANES] = {0};
    size_t nblocks = 0;
    for (size_t lo = 0; lo < n; lo += CCL_SUM_BLOCK, nblocks++) {
        size_t hi = n - lo < CCL_SUM_BLOCK ? n : lo + CCL_SUM_BLOCK, i = lo;
        double acc[CCL_SUM_LANES] = {0};
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
