/* ef_kernels.cu: error feedback's passes on the GPU (ef_kernels.h), one thread per element
 * with elem.h's steps. */
#include "ef_kernels.h"
#include "fixed_sum.cuh"
#include "kernel_util.cuh"
#include "gpu_mem.h"

enum { EF_NONE = 0, EF_CLASSIC = 1, EF_EF21 = 2, EF_EF21W = 3, EF_DGC = 4 };

__global__ static void ef_prepare_kernel(int mode, const float *g, const float *e, const float *vel,
                                         float *u, float *p, size_t n, float clip_scale, float mo,
                                         int nesterov, float inv_n, float w, int *bad)
{
    int found = 0;
    CCL_GRID_LOOP(i, n) {
        float gi = g[i], v;
        found |= !isfinite(gi);
        switch (mode) {
        case EF_CLASSIC: v = CCL_FADD(gi, e[i]); break;
        case EF_EF21:    v = CCL_FSUB(gi, e[i]); break;
        case EF_EF21W:   v = ccl_ef21w_p(gi, e[i], inv_n, w); break;
        case EF_DGC:     v = ccl_dgc_p(gi, e[i], vel[i], clip_scale, mo, nesterov, &u[i]); break;
        default:         v = gi;
        }
        if (p != NULL)
            p[i] = isfinite(v) ? v : gi; /* a finite g plus the state can still overflow */
    }
    if (found)
        *bad = 1;
}

extern "C" int ccl_cuda_ef_prepare(int mode, const float *g, const float *e, const float *vel,
                                   float *u, float *p, size_t n, float clip_scale, float momentum,
                                   int nesterov, float inv_n, float weight, int *bad, void *stream)
{
    if (n > 0)
        ef_prepare_kernel<<<ccl_blocks_for(n), CCL_THREADS, 0, (cudaStream_t)stream>>>(
            mode, g, e, vel, u, mode == EF_NONE ? NULL : p, n, clip_scale, momentum, nesterov,
            inv_n, weight, bad);
    return (int)cudaGetLastError();
}

__global__ static void ef_commit_kernel(int mode, float *e, float *vel, const float *recon,
                                        size_t n, int masking, float w)
{
    CCL_GRID_LOOP(i, n) {
        float r = recon[i];
        if (mode == EF_DGC) {
            if (r != 0.0f) {
                e[i] = CCL_FSUB(e[i], r);
                if (masking)
                    vel[i] = 0.0f;
            }
        } else if (mode == EF_EF21) {
            e[i] = CCL_FADD(e[i], r);
        } else if (mode == EF_EF21W) {
            e[i] = CCL_FADD(e[i], CCL_FDIV(r, w));
        }
    }
}

extern "C" int ccl_cuda_ef_commit(int mode, float *e, float *vel, const float *recon, size_t n,
                                  int masking, float weight, void *stream)
{
    if (n > 0 && (mode == EF_DGC || mode == EF_EF21 || mode == EF_EF21W))
        ef_commit_kernel<<<ccl_blocks_for(n), CCL_THREADS, 0, (cudaStream_t)stream>>>(
            mode, e, vel, recon, n, masking, weight);
    return (int)cudaGetLastError();
}

__global__ static void ef_aggregate_kernel(float *global, float *sum, size_t n, float scale)
{
    CCL_GRID_LOOP(i, n) {
        global[i] = CCL_FADD(global[i], sum[i]);
        sum[i] = CCL_FMUL(global[i], scale);
    }
}

extern "C" int ccl_cuda_ef_aggregate(float *global, float *sum, size_t n, float scale, void *stream)
{
    if (n > 0)
        ef_aggregate_kernel<<<ccl_blocks_for(n), CCL_THREADS, 0, (cudaStream_t)stream>>>(global, sum, n, scale);
    return (int)cudaGetLastError();
}

__global__ static void scale_kernel(float *x, size_t n, float s)
{
    CCL_GRID_LOOP(i, n)
        x[i] = CCL_FMUL(x[i], s);
}

extern "C" int ccl_cuda_scale(float *x, size_t n, float s, void *stream)
{
    if (n > 0)
        scale_kernel<<<ccl_blocks_for(n), CCL_THREADS, 0, (cudaStream_t)stream>>>(x, n, s);
    return (int)cudaGetLastError();
}

__global__ static void sumsq_total_kernel(const double *part, size_t nb, double *out)
{
    double total = ccl_sum_total(part, nb, NULL, NULL);
    if (threadIdx.x == 0)
        *out = total;
}

extern "C" int ccl_cuda_sumsq(const float *x, size_t n, double *out, void *stream)
{
    cudaStream_t st = (cudaStream_t)stream;
    size_t nb = ccl_sum_nblocks(n);
    double *part = NULL;
    cudaError_t e;
    if ((e = (cudaError_t)ccl_gpu_alloc_async((void **)&part, (nb ? nb : 1) * sizeof(double), st)) != cudaSuccess)
        return (int)e;
    if (nb > 0)
        ccl_sum_blocks_kernel<<<ccl_sum_grid(n), CCL_SUM_WARPS * CCL_SUM_LANES, 0, st>>>(
            x, n, CCL_SUM_SQ, NULL, part, NULL);
    sumsq_total_kernel<<<1, CCL_SUM_LANES, 0, st>>>(part, nb, out);
    ccl_gpu_free_async(part, st);
    return (int)cudaGetLastError();
}
