/* cuda_codec_bench: throughput of the GPU codec kernels (cuda/) against device-to-device
 * copy measured in the same run, for sizes from -b to -e (float32 bytes), times from CUDA
 * events, best of -n after one warm-up. GB/s of float32 input, as perf/codec_bench reports
 * for the CPU codecs.
 *
 *   perf/cuda_codec_bench [-b 1M] [-e 1G] [-f 4] [-n 20]
 */
#include "cuda_reduce.h"
#include "int_codec.h"
#include "perf_common.h"

#include <cuda_runtime.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct {
    float *src, *out, *recon;
    uint8_t *enc;
    int *bad;
    size_t n;
} bufs_t;

typedef int (*kernel_fn)(const bufs_t *b, unsigned bits);

static int run_copy(const bufs_t *b, unsigned bits)
{
    (void)bits;
    return (int)cudaMemcpyAsync(b->out, b->src, b->n * 4, cudaMemcpyDeviceToDevice, NULL);
}

static int run_encode(const bufs_t *b, unsigned bits)
{
    return ccl_cuda_int_encode(b->src, b->n, bits, 512, 0, 1, b->enc, NULL, 0, b->bad, NULL);
}

static int run_encode_ef(const bufs_t *b, unsigned bits)
{
    return ccl_cuda_int_encode(b->src, b->n, bits, 512, 0, 1, b->enc, b->recon, 1, b->bad, NULL);
}

static int run_decode(const bufs_t *b, unsigned bits)
{
    return ccl_cuda_int_decode(b->enc, bits, 512, b->out, b->n, 1, NULL);
}

/* Best time in ms of `iters` runs after one warm-up; negative on a CUDA error. */
static double best_ms(kernel_fn fn, const bufs_t *b, unsigned bits, int iters)
{
    cudaEvent_t t0, t1;
    double best = 1e30;
    cudaEventCreate(&t0);
    cudaEventCreate(&t1);
    if (fn(b, bits) != 0 || cudaDeviceSynchronize() != cudaSuccess)
        return -1;
    for (int i = 0; i < iters; i++) {
        float ms;
        cudaEventRecord(t0, NULL);
        if (fn(b, bits) != 0)
            return -1;
        cudaEventRecord(t1, NULL);
        cudaEventSynchronize(t1);
        cudaEventElapsedTime(&ms, t0, t1);
        best = ms < best ? ms : best;
    }
    cudaEventDestroy(t0);
    cudaEventDestroy(t1);
    return best;
}

int main(int argc, char **argv)
{
    size_t lo = 1u << 20, hi = 1u << 30;
    int factor = 4, iters = 20;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "-b") == 0)
            lo = perf_parse_size(argv[i + 1]);
        else if (strcmp(argv[i], "-e") == 0)
            hi = perf_parse_size(argv[i + 1]);
        else if (strcmp(argv[i], "-f") == 0)
            factor = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "-n") == 0)
            iters = atoi(argv[i + 1]);
        else {
            fprintf(stderr, "usage: %s [-b BYTES] [-e BYTES] [-f FACTOR] [-n ITERS]\n", argv[0]);
            return 2;
        }
    }
    if (ccl_cuda_device_count() == 0) {
        printf("# no CUDA device visible: nothing to measure\n");
        return 0;
    }
    if (lo < 4 || hi < lo || factor < 2 || iters < 1) {
        fprintf(stderr, "bad sizes or counts\n");
        return 2;
    }
    bufs_t b = {0};
    size_t nmax = hi / 4;
    if (cudaMalloc((void **)&b.src, nmax * 4) != cudaSuccess ||
        cudaMalloc((void **)&b.out, nmax * 4) != cudaSuccess ||
        cudaMalloc((void **)&b.recon, nmax * 4) != cudaSuccess ||
        cudaMalloc((void **)&b.enc, nmax * 2 + (nmax / 512 + 1) * 8) != cudaSuccess ||
        cudaMalloc((void **)&b.bad, sizeof(int)) != cudaSuccess) {
        fprintf(stderr, "no device memory for %zu bytes\n", hi);
        return 1;
    }
    /* Any finite input: the kernels' speed does not depend on the values. */
    cudaMemset(b.src, 0x3c, nmax * 4);
    struct cudaDeviceProp prop;
    cudaGetDeviceProperties(&prop, 0);
    printf("# %s; GB/s of float32 input, best of %d; int buckets of 512, nearest rounding\n",
           prop.name, iters);
    printf("| codec | bytes | d2d copy | encode | encode + residual | decode+accumulate |\n");
    printf("|---|---:|---:|---:|---:|---:|\n");
    for (size_t bytes = lo; bytes <= hi; bytes *= (size_t)factor) {
        b.n = bytes / 4;
        double copy = best_ms(run_copy, &b, 8, iters);
        for (unsigned bits = 8; bits >= 4; bits -= 4) {
            double e = best_ms(run_encode, &b, bits, iters), ef = best_ms(run_encode_ef, &b, bits, iters),
                   d = best_ms(run_decode, &b, bits, iters);
            if (copy < 0 || e < 0 || ef < 0 || d < 0) {
                fprintf(stderr, "CUDA error: %s\n", cudaGetErrorString(cudaGetLastError()));
                return 1;
            }
            double gb = (double)bytes / 1e6;
            printf("| int:bits=%u | %zu | %.0f | %.0f | %.0f | %.0f |\n", bits, bytes,
                   gb / copy, gb / e, gb / ef, gb / d);
        }
    }
    return 0;
}
