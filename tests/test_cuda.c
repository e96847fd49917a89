/* test_cuda.c: the cuda/ kernels against the CPU on a real GPU; skipped with the reason
 * where no GPU is visible. */
#include "cuda_reduce.h"
#include "harness.h"

#include <cuda_runtime.h>

int main(void)
{
    if (ccl_cuda_device_count() == 0) {
        printf("SKIP cuda sum_f32: no CUDA device visible on this machine\n");
        return 0;
    }
    size_t n = (1u << 22) + 3;
    float *ha = malloc(n * 4), *hb = malloc(n * 4), *hd = malloc(n * 4), *da, *db, *dd;
    for (size_t i = 0; i < n; i++) {
        ha[i] = (float)(i % 1000) * 0.5f;
        hb[i] = (float)(i % 77) - 3.0f;
    }
    cudaMalloc((void **)&da, n * 4);
    cudaMalloc((void **)&db, n * 4);
    cudaMalloc((void **)&dd, n * 4);
    cudaMemcpy(da, ha, n * 4, cudaMemcpyHostToDevice);
    cudaMemcpy(db, hb, n * 4, cudaMemcpyHostToDevice);
    cudaMemset(dd, 0xff, n * 4); /* poison: every element must be written */
    int err = ccl_cuda_sum_f32(dd, da, db, n, NULL);
    cudaMemcpy(hd, dd, n * 4, cudaMemcpyDeviceToHost);
    int ok = err == 0 && cudaDeviceSynchronize() == cudaSuccess;
    for (size_t i = 0; ok && i < n; i++)
        ok = hd[i] == ha[i] + hb[i];
    h_report(ok, "cuda sum_f32 equals the CPU sum on %zu elements", n);
    return h_failed ? 1 : 0;
}
