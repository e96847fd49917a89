/* ef_kernels.h: error feedback's per-element passes on the GPU (the rules of
 * src/compress/ef.h, the arithmetic of elem.h). `mode` takes ccl_ef_mode_t's values:
 * 0 none, 1 classic, 2 EF21, 3 EF21-W, 4 DGC. Device memory; asynchronous on `stream`;
 * 0 or a cudaError_t. */
#ifndef CCL_CUDA_EF_KERNELS_H
#define CCL_CUDA_EF_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* p[i] from g[i] and the state (e; DGC: vel, with the new velocity into u), a p that
 * overflows replaced by g; *bad = 1 if g holds a NaN or an infinity (p then means nothing). */
int ccl_cuda_ef_prepare(int mode, const float *g, const float *e, const float *vel, float *u,
                        float *p, size_t n, float clip_scale, float momentum, int nesterov,
                        float inv_n, float weight, int *bad, void *stream);

/* The state after the step, from recon (what the receivers decoded from this rank): DGC
 * (e already holds p): e -= recon where recon != 0, and vel = 0 there with masking;
 * EF21: e += recon; EF21-W: e += recon / weight. Classic needs no pass (a swap). */
int ccl_cuda_ef_commit(int mode, float *e, float *vel, const float *recon, size_t n, int masking,
                       float weight, void *stream);

/* EF21: global += sum, then sum = global * scale. */
int ccl_cuda_ef_aggregate(float *global, float *sum, size_t n, float scale, void *stream);

/* x *= s (an average's division). */
int ccl_cuda_scale(float *x, size_t n, float s, void *stream);

/* *out (device) = the fixed-order sum of x^2 (elem.h), the CPU's ccl_fixed_sum to the bit. */
int ccl_cuda_sumsq(const float *x, size_t n, double *out, void *stream);

#ifdef __cplusplus
}
#endif

#endif
