/* cuda_codec_bench: throughput of the GPU codecs (cuda/) against device-to-device copy
 * measured in the same run, for sizes from -b to -e (float32 bytes), times from CUDA events,
 * best of -n after one warm-up; GB/s of float32 input, as perf/codec_bench reports for the
 * CPU codecs. Then the sparse selections (topk, dgc's sampled threshold) in milliseconds on
 * -t floats (25M: a ResNet-50 gradient) at ratio 0.001; perf/torch_topk.py times torch.topk
 * on the same size, for the table beside them (perf/cuda_bench.sh runs both).
 *
 *   perf/cuda_codec_bench [-b 1M] [-e 1G] [-f 4] [-n 20] [-t 25000000]
 */
#include "cuda_reduce.h"
#include "cast_codec.h"
#include "int_codec.h"
#include "qsgd_codec.h"
#include "sign_codec.h"
#include "sparse_codec.h"
#include "terngrad_codec.h"
#include "compress/codec.h"
#include "compress/sparse.h"
#include "perf_common.h"

#include <cuda_runtime.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct {
    float *src, *out, *recon;
    uint8_t *enc;
    uint32_t *idx, *n;
    int *bad;
    size_t count;
} bufs_t;

/* One dense codec's kernels: encode (with residual recon when ef), decode-accumulate. */
typedef struct {
    const char *name;
    int (*encode)(const bufs_t *b, int ef);
    int (*decode)(const bufs_t *b);
} codec_row_t;

static int int8_enc(const bufs_t *b, int ef)
{
    return ccl_cuda_int_encode(b->src, b->count, 8, 512, 0, 1, b->enc, ef ? b->recon : NULL, ef, b->bad, NULL);
}
static int int8_dec(const bufs_t *b) { return ccl_cuda_int_decode(b->enc, 8, 512, b->out, b->count, 1, NULL); }
static int int4_enc(const bufs_t *b, int ef)
{
    return ccl_cuda_int_encode(b->src, b->count, 4, 512, 0, 1, b->enc, ef ? b->recon : NULL, ef, b->bad, NULL);
}
static int int4_dec(const bufs_t *b) { return ccl_cuda_int_decode(b->enc, 4, 512, b->out, b->count, 1, NULL); }
static int fp16_enc(const bufs_t *b, int ef)
{
    return ccl_cuda_cast_encode(b->src, b->count, 0, b->enc, ef ? b->recon : NULL, ef, b->bad, NULL);
}
static int fp16_dec(const bufs_t *b) { return ccl_cuda_cast_decode(b->enc, 0, b->out, b->count, 1, NULL); }
static int qsgd_enc(const bufs_t *b, int ef)
{
    return ccl_cuda_qsgd_encode(b->src, b->count, 4, 512, 0, 1, 1, b->enc, ef ? b->recon : NULL, ef, b->bad, NULL);
}
static int qsgd_dec(const bufs_t *b) { return ccl_cuda_qsgd_decode(b->enc, 4, 512, b->out, b->count, 1, NULL); }
static int sign_enc(const bufs_t *b, int ef)
{
    return ccl_cuda_sign_encode(b->src, b->count, 0, b->enc, ef ? b->recon : NULL, ef, b->bad, NULL);
}
static int sign_dec(const bufs_t *b) { return ccl_cuda_sign_decode(b->enc, b->out, b->count, 1, NULL); }
static int tern_enc(const bufs_t *b, int ef)
{
    /* the agreed scaler is given, as in the collective, where the ranks share one */
    return ccl_cuda_terngrad_encode(b->src, b->count, 1.0f, 1, b->enc, ef ? b->recon : NULL, ef, NULL);
}
static int tern_dec(const bufs_t *b) { return ccl_cuda_terngrad_decode(b->enc, b->out, b->count, 1, NULL); }

static const codec_row_t rows[] = {
    {"int:bits=8", int8_enc, int8_dec}, {"int:bits=4", int4_enc, int4_dec},
    {"cast:type=fp16", fp16_enc, fp16_dec}, {"qsgd:bits=4 (stochastic)", qsgd_enc, qsgd_dec},
    {"sign", sign_enc, sign_dec}, {"terngrad", tern_enc, tern_dec},
};

typedef enum { K_COPY, K_ENC, K_ENC_EF, K_DEC, K_TOPK, K_DGC } kind_t;

static const codec_row_t *cur;
static size_t dgc_stride, dgc_ks, dgc_off; /* dgc's sample plan for the selection's size */

static int run(const bufs_t *b, kind_t kind)
{
    size_t k = (size_t)(b->count * 0.001);
    switch (kind) {
    case K_COPY:
        return (int)cudaMemcpyAsync(b->out, b->src, b->count * 4, cudaMemcpyDeviceToDevice, NULL);
    case K_ENC:
        return cur->encode(b, 0);
    case K_ENC_EF:
        return cur->encode(b, 1);
    case K_DEC:
        return cur->decode(b);
    case K_TOPK:
        return ccl_cuda_topk_select(b->src, b->count, k, b->idx, NULL);
    case K_DGC:
        return ccl_cuda_dgc_select(b->src, b->count, k, dgc_stride, dgc_ks, dgc_off, b->idx, b->n, NULL);
    }
    return -1;
}

/* Best time in ms of `iters` runs after one warm-up; negative on a CUDA error. */
static double best_ms(kind_t kind, const bufs_t *b, int iters)
{
    cudaEvent_t t0, t1;
    double best = 1e30;
    cudaEventCreate(&t0);
    cudaEventCreate(&t1);
    if (run(b, kind) != 0 || cudaDeviceSynchronize() != cudaSuccess)
        return -1;
    for (int i = 0; i < iters; i++) {
        float ms;
        cudaEventRecord(t0, NULL);
        if (run(b, kind) != 0)
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

/* A gradient-like input: mostly small values, a few large, all magnitudes distinct enough
 * that selection is not a matter of ties. */
static void fill(float *h, size_t n)
{
    uint64_t r = 42;
    for (size_t i = 0; i < n; i++) {
        r = r * 6364136223846793005ULL + 1442695040888963407ULL;
        float u = (float)(r >> 40) / 16777216.0f - 0.5f;
        h[i] = (r >> 20) % 97 == 0 ? u * 30.0f : u * 0.01f;
    }
}

int main(int argc, char **argv)
{
    size_t lo = 1u << 20, hi = 1u << 30, tk = 25000000;
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
        else if (strcmp(argv[i], "-t") == 0)
            tk = (size_t)atoll(argv[i + 1]);
        else {
            fprintf(stderr, "usage: %s [-b BYTES] [-e BYTES] [-f FACTOR] [-n ITERS] [-t FLOATS]\n", argv[0]);
            return 2;
        }
    }
    if (ccl_cuda_device_count() == 0) {
        printf("# no CUDA device visible: nothing to measure\n");
        return 0;
    }
    if (lo < 4 || hi < lo || factor < 2 || iters < 1 || tk < 1000) {
        fprintf(stderr, "bad sizes or counts\n");
        return 2;
    }
    bufs_t b = {0};
    size_t nmax = (hi / 4 > tk ? hi / 4 : tk);
    float *h = malloc(nmax * 4);
    if (h == NULL || cudaMalloc((void **)&b.src, nmax * 4) != cudaSuccess ||
        cudaMalloc((void **)&b.out, nmax * 4) != cudaSuccess ||
        cudaMalloc((void **)&b.recon, nmax * 4) != cudaSuccess ||
        cudaMalloc((void **)&b.enc, nmax * 2 + (nmax / 512 + 1) * 8 + 64) != cudaSuccess ||
        cudaMalloc((void **)&b.idx, (nmax / 500 + 16) * 4) != cudaSuccess ||
        cudaMalloc((void **)&b.n, 4) != cudaSuccess ||
        cudaMalloc((void **)&b.bad, sizeof(int)) != cudaSuccess) {
        fprintf(stderr, "no memory for %zu floats\n", nmax);
        return 1;
    }
    fill(h, nmax);
    cudaMemcpy(b.src, h, nmax * 4, cudaMemcpyHostToDevice);
    struct cudaDeviceProp prop;
    cudaGetDeviceProperties(&prop, 0);
    printf("# %s; GB/s of float32 input, best of %d; buckets of 512, nearest rounding but qsgd\n",
           prop.name, iters);
    printf("| codec | bytes | d2d copy | encode | encode + residual | decode+accumulate | encode / copy | decode / copy |\n");
    printf("|---|---:|---:|---:|---:|---:|---:|---:|\n");
    for (size_t bytes = lo; bytes <= hi; bytes *= (size_t)factor) {
        b.count = bytes / 4;
        double copy = best_ms(K_COPY, &b, iters), gb = (double)bytes / 1e6;
        for (size_t r = 0; r < sizeof(rows) / sizeof(rows[0]); r++) {
            cur = &rows[r];
            double e = best_ms(K_ENC, &b, iters), ef = best_ms(K_ENC_EF, &b, iters),
                   d = best_ms(K_DEC, &b, iters);
            if (copy < 0 || e < 0 || ef < 0 || d < 0) {
                fprintf(stderr, "%s: CUDA error: %s\n", rows[r].name, cudaGetErrorString(cudaGetLastError()));
                return 1;
            }
            printf("| %s | %zu | %.0f | %.0f | %.0f | %.0f | %.2f | %.2f |\n", rows[r].name, bytes,
                   gb / copy, gb / e, gb / ef, gb / d, copy / e, copy / d);
        }
    }
    b.count = tk;
    ccl_codec_t dgc;
    if (ccl_codec_parse("dgc:ratio=0.001", &dgc) != CCL_SUCCESS) {
        fprintf(stderr, "dgc: %s\n", ccl_get_last_error(NULL));
        return 1;
    }
    ccl_dgc_plan(&dgc.params, tk, 7, &dgc_stride, &dgc_ks, &dgc_off);
    double t = best_ms(K_TOPK, &b, iters), g = best_ms(K_DGC, &b, iters), c = best_ms(K_COPY, &b, iters);
    if (t < 0 || g < 0 || c < 0) {
        fprintf(stderr, "selection: CUDA error: %s\n", cudaGetErrorString(cudaGetLastError()));
        return 1;
    }
    printf("\n| selection, ratio 0.001 | floats | ms | d2d copy ms |\n|---|---:|---:|---:|\n");
    printf("| topk (exact, radix select) | %zu | %.3f | %.3f |\n", tk, t, c);
    printf("| dgc (sampled threshold) | %zu | %.3f | %.3f |\n", tk, g, c);
    return 0;
}
