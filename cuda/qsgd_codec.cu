/* qsgd_codec.cu: QSGD on the GPU (qsgd_codec.h).
 *   encode: one warp per bucket finds its norm (the largest |x|, or the L2 norm from
 *           fixed_sum.cuh's fixed-order sum, the CPU's to the bit) and writes it; then one
 *           thread per byte of the packed code stream, as int_codec.cu does.
 *   decode: one thread per element, grid-stride. */
#include "qsgd_codec.h"
#include "fixed_sum.cuh"
#include "kernel_util.cuh"

__global__ static void qsgd_norm_kernel(const float *src, size_t count, size_t bucket, int norm_l2,
                                        uint8_t *payload, int *bad)
{
    const unsigned lane = threadIdx.x % CCL_SUM_LANES, warps = blockDim.x / CCL_SUM_LANES;
    const size_t nb = (count + bucket - 1) / bucket;
    for (size_t b = (size_t)blockIdx.x * warps + threadIdx.x / CCL_SUM_LANES; b < nb;
         b += (size_t)gridDim.x * warps) {
        size_t lo = b * bucket, n = count - lo < bucket ? count - lo : bucket;
        float mx = 0.0f;
        int nonfinite = 0;
        for (size_t i = lo + lane; i < lo + n; i += CCL_SUM_LANES) {
            mx = fmaxf(mx, fabsf(src[i])); /* fmaxf passes a NaN over, as the CPU's loop */
            nonfinite |= !isfinite(src[i]);
        }
        for (int w = CCL_SUM_LANES / 2; w > 0; w /= 2) {
            mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, w));
            nonfinite |= __shfl_xor_sync(0xffffffffu, nonfinite, w);
        }
        float norm = norm_l2 ? ccl_qsgd_l2(ccl_warp_fixed_sum(src + lo, n, CCL_SUM_SQ, 0.0)) : mx;
        if (lane == 0) {
            ccl_put_f32(payload + 4 * b, norm);
            if (nonfinite && bad != NULL)
                *bad = 1;
        }
    }
}

__global__ static void qsgd_codes_kernel(const float *src, size_t count, size_t bucket,
                                         unsigned bits, int stochastic, uint64_t seed,
                                         uint8_t *payload, float *recon, int fb_residual)
{
    const size_t nb = (count + bucket - 1) / bucket;
    const uint64_t nbytes = ((uint64_t)count * bits + 7) / 8;
    CCL_GRID_LOOP(byte, nbytes)
        payload[4 * nb + byte] = ccl_qsgd_code_byte(src, count, payload, bucket, bits, stochastic,
                                                    seed, byte, recon, fb_residual);
}

extern "C" int ccl_cuda_qsgd_encode(const float *src, size_t count, unsigned bits, size_t bucket,
                                    int norm_l2, int stochastic, uint64_t seed, void *payload,
                                    float *recon, int fb_residual, int *bad, void *stream)
{
    if (count == 0)
        return 0;
    if (bits < 2 || bits > 8 || bucket == 0)
        return (int)cudaErrorInvalidValue;
    cudaStream_t st = (cudaStream_t)stream;
    const size_t nb = (count + bucket - 1) / bucket, per = CCL_THREADS / CCL_SUM_LANES;
    const size_t grid = (nb + per - 1) / per;
    const uint64_t nbytes = ((uint64_t)count * bits + 7) / 8;
    qsgd_norm_kernel<<<(unsigned)(grid > CCL_MAX_BLOCKS ? CCL_MAX_BLOCKS : grid), CCL_THREADS, 0, st>>>(
        src, count, bucket, norm_l2, (uint8_t *)payload, bad);
    qsgd_codes_kernel<<<ccl_blocks_for((size_t)nbytes), CCL_THREADS, 0, st>>>(
        src, count, bucket, bits, stochastic, seed, (uint8_t *)payload, recon, fb_residual);
    return (int)cudaGetLastError();
}

__global__ static void qsgd_decode_kernel(const uint8_t *payload, unsigned bits, size_t bucket,
                                          float *out, size_t count, int accumulate)
{
    const unsigned s = (1u << (bits - 1)) - 1;
    const size_t nb = (count + bucket - 1) / bucket;
    const uint64_t nbytes = ((uint64_t)count * bits + 7) / 8;
    CCL_GRID_LOOP(i, count) {
        float unit = ccl_qsgd_unit(ccl_get_f32(payload + 4 * (i / bucket)), s);
        float v = ccl_qsgd_value(ccl_code_at(payload + 4 * nb, nbytes, i, bits), unit, s);
        out[i] = accumulate ? CCL_FADD(out[i], v) : v;
    }
}

extern "C" int ccl_cuda_qsgd_decode(const void *payload, unsigned bits, size_t bucket, float *out,
                                    size_t count, int accumulate, void *stream)
{
    if (count == 0)
        return 0;
    if (bits < 2 || bits > 8 || bucket == 0)
        return (int)cudaErrorInvalidValue;
    qsgd_decode_kernel<<<ccl_blocks_for(count), CCL_THREADS, 0, (cudaStream_t)stream>>>(
        (const uint8_t *)payload, bits, bucket, out, count, accumulate);
    return (int)cudaGetLastError();
}
