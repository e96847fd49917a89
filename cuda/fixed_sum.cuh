/* fixed_sum.cuh: elem.h's fixed-order double sums on the GPU: one warp per block of
 * CCL_SUM_BLOCK elements, each lane summing its strided share (ccl_sum_lane_f32, coalesced
 * across the warp), the lanes combined by xor-shuffles in elem.h's halving order; then one
 * warp over the block sums. The result is the CPU's ccl_fixed_sum to the bit. */
#ifndef CCL_CUDA_FIXED_SUM_CUH
#define CCL_CUDA_FIXED_SUM_CUH

#include "compress/elem.h"

#include <cuda_runtime.h>

#define CCL_SUM_WARPS 8 /* warps per thread block */

__host__ __device__ static inline size_t ccl_sum_nblocks(size_t n)
{
    return (n + CCL_SUM_BLOCK - 1) / CCL_SUM_BLOCK;
}

__device__ static inline double ccl_warp_combine(double acc)
{
    for (int w = CCL_SUM_LANES / 2; w > 0; w /= 2)
        acc = __dadd_rn(acc, __shfl_xor_sync(0xffffffffu, acc, w));
    return acc;
}

/* part[b] = block b's sum of x's terms (kind, with *mean where kind needs it); absmax, if
 * not NULL, gets block b's largest |x| (exact in any order). */
__global__ static void ccl_sum_blocks_kernel(const float *x, size_t n, int kind,
                                             const double *mean, double *part, float *absmax)
{
    const unsigned lane = threadIdx.x % CCL_SUM_LANES;
    const size_t nb = ccl_sum_nblocks(n), warps = (size_t)gridDim.x * (blockDim.x / CCL_SUM_LANES);
    const double m = mean != NULL ? *mean : 0.0;
    for (size_t b = (size_t)blockIdx.x * (blockDim.x / CCL_SUM_LANES) + threadIdx.x / CCL_SUM_LANES;
         b < nb; b += warps) {
        size_t lo = b * CCL_SUM_BLOCK, hi = n - lo < CCL_SUM_BLOCK ? n : lo + CCL_SUM_BLOCK;
        double acc = ccl_warp_combine(ccl_sum_lane_f32(x, lo, hi, lane, kind, m));
        if (absmax != NULL) {
            float mx = 0.0f;
            for (size_t i = lo + lane; i < hi; i += CCL_SUM_LANES)
                mx = fmaxf(mx, fabsf(x[i]));
            for (int w = CCL_SUM_LANES / 2; w > 0; w /= 2)
                mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, w));
            if (lane == 0)
                absmax[b] = mx;
        }
        if (lane == 0)
            part[b] = acc;
    }
}

/* One warp: the sum of the nb block sums, in elem.h's order; the largest block |x| too. */
__device__ static inline double ccl_sum_total(const double *part, size_t nb, const float *absmax,
                                              float *mx_out)
{
    const unsigned lane = threadIdx.x % CCL_SUM_LANES;
    double acc = ccl_warp_combine(ccl_sum_lane_f64(part, nb, lane));
    if (absmax != NULL) {
        float mx = 0.0f;
        for (size_t i = lane; i < nb; i += CCL_SUM_LANES)
            mx = fmaxf(mx, absmax[i]);
        for (int w = CCL_SUM_LANES / 2; w > 0; w /= 2)
            mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, w));
        *mx_out = mx;
    }
    return acc;
}

/* One warp, alone: the whole fixed-order sum of x[0, n), for short runs such as a qsgd
 * bucket. Block sums are made in turn by the whole warp; lane b % 32 adds block b's, as
 * ccl_sum_lane_f64 would; every lane returns the total. */
__device__ static inline double ccl_warp_fixed_sum(const float *x, size_t n, int kind, double mean)
{
    const unsigned lane = threadIdx.x % CCL_SUM_LANES;
    double mine = 0.0;
    for (size_t b = 0, lo = 0; lo < n; b++, lo += CCL_SUM_BLOCK) {
        size_t hi = n - lo < CCL_SUM_BLOCK ? n : lo + CCL_SUM_BLOCK;
        double s = ccl_warp_combine(ccl_sum_lane_f32(x, lo, hi, lane, kind, mean));
        if (lane == b % CCL_SUM_LANES)
            mine = __dadd_rn(mine, s);
    }
    return ccl_warp_combine(mine);
}

static inline unsigned ccl_sum_grid(size_t n)
{
    size_t warps = ccl_sum_nblocks(n), g = (warps + CCL_SUM_WARPS - 1) / CCL_SUM_WARPS;
    return (unsigned)(g == 0 ? 1 : g > 65535 ? 65535 : g);
}

#endif
