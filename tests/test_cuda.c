/* test_cuda.c: the cuda/ kernels against the CPU on a real GPU; skipped with the reason
 * where no GPU is visible. */
#include "compress/codec.h"
#include "compress/wire.h"
#include "cuda_reduce.h"
#include "harness.h"
#include "int_codec.h"
#include "cast_codec.h"
#include "sign_codec.h"
#include "terngrad_codec.h"
#include "qsgd_codec.h"
#include "gpu_codec.h"

#include <cuda_runtime.h>
#include <math.h>

/* The GPU encoder of a cast, sign, terngrad or qsgd codec (terngrad with its own scaler, as the CPU
 * encoder without an agreed one), on device buffers. */
static int gpu_encode(const ccl_codec_t *c, const float *src, size_t n, uint64_t seed,
                      uint8_t *payload, float *recon, int residual, int *bad)
{
    float *ds, s;
    int e;
    switch (c->ops->id) {
    case CCL_CODEC_ID_CAST:
        return ccl_cuda_cast_encode(src, n, c->params.half_bf16, payload, recon, residual, bad, NULL);
    case CCL_CODEC_ID_SIGN:
        return ccl_cuda_sign_encode(src, n, (int)c->params.sign_scale, payload, recon, residual, bad, NULL);
    case CCL_CODEC_ID_TERNGRAD:
        if ((e = cudaMalloc((void **)&ds, 4)) != 0)
            return e;
        e = ccl_cuda_terngrad_scale(src, n, c->params.clip, ds, bad, NULL);
        e = e ? e : (int)cudaMemcpy(&s, ds, 4, cudaMemcpyDeviceToHost);
        cudaFree(ds);
        return e ? e : ccl_cuda_terngrad_encode(src, n, s, seed, payload, recon, residual, NULL);
    case CCL_CODEC_ID_QSGD:
        return ccl_cuda_qsgd_encode(src, n, (unsigned)c->params.bits, c->params.bucket,
                                    c->params.norm == CCL_NORM_L2,
                                    c->params.rounding == CCL_ROUND_STOCHASTIC, seed, payload,
                                    recon, residual, bad, NULL);
    default:
        return -1;
    }
}

static int gpu_decode(const ccl_codec_t *c, const uint8_t *payload, float *out, size_t n, int acc)
{
    switch (c->ops->id) {
    case CCL_CODEC_ID_CAST:
        return ccl_cuda_cast_decode(payload, c->params.half_bf16, out, n, acc, NULL);
    case CCL_CODEC_ID_SIGN:
        return ccl_cuda_sign_decode(payload, out, n, acc, NULL);
    case CCL_CODEC_ID_TERNGRAD:
        return ccl_cuda_terngrad_decode(payload, out, n, acc, NULL);
    case CCL_CODEC_ID_QSGD:
        return ccl_cuda_qsgd_decode(payload, (unsigned)c->params.bits, c->params.bucket, out, n,
                                    acc, NULL);
    default:
        return -1;
    }
}

/* cast, sign, terngrad, qsgd on the GPU against the CPU codec: the encoder's payload and recon
 * (both forms) byte for byte, the decoder's output (assign, accumulate) bit for bit, and the
 * NaN flag. x: n host floats, dx the same on the device. */
static void test_elem_codecs(const float *x, const float *dx, size_t n)
{
    static const char *const specs[] = {"cast:type=fp16", "cast:type=bf16", "sign", "sign:scale=l2",
                                        "sign:scale=none", "terngrad", "terngrad:clip=0", "qsgd",
                                        "qsgd:bits=8,norm=l2,round=nearest",
                                        "qsgd:bits=3,bucket=10000,norm=l2"};
    size_t cap = 2 * n + 4096, len = 0;
    uint8_t *enc = malloc(cap), *got = malloc(cap), *denc;
    float *crecon = malloc(n * 4), *grecon = malloc(n * 4), *cout = malloc(n * 4),
          *gout = malloc(n * 4), *drecon, *dout, *dnan;
    int *dbad, hbad;
    cudaMalloc((void **)&denc, cap);
    cudaMalloc((void **)&drecon, n * 4);
    cudaMalloc((void **)&dout, n * 4);
    cudaMalloc((void **)&dnan, n * 4);
    cudaMalloc((void **)&dbad, sizeof(int));
    cudaMemcpy(dnan, dx, n * 4, cudaMemcpyDeviceToDevice);
    float nan = NAN;
    cudaMemcpy(dnan + n / 3, &nan, 4, cudaMemcpyHostToDevice);
    for (size_t s = 0; s < sizeof(specs) / sizeof(specs[0]); s++) {
        ccl_codec_t c;
        int enc_ok = ccl_codec_parse(specs[s], &c) == CCL_SUCCESS, dec_ok = enc_ok;
        /* off 1: every buffer (input, payload, recon, output) off its alignment, for the
         * kernels' unvectorized paths */
        for (size_t off = 0; off < 2 && enc_ok && dec_ok; off++) {
            const size_t m = n - off;
            const float *xs = x + off, *dxs = dx + off;
            uint8_t *dp = denc + off;
            for (int residual = 0; residual < 2 && enc_ok; residual++) {
                c.params.fb_residual = residual;
                cudaMemset(dbad, 0, sizeof(int));
                cudaMemset(denc, 0xa5, cap);
                enc_ok = ccl_codec_encode(&c, xs, m, 5, enc, cap, &len, crecon) == CCL_SUCCESS &&
                         gpu_encode(&c, dxs, m, 5, dp, drecon + off, residual, dbad) == 0 &&
                         cudaMemcpy(got, dp, len - CCL_WIRE_HDR_LEN, cudaMemcpyDeviceToHost) == cudaSuccess &&
                         cudaMemcpy(grecon, drecon + off, m * 4, cudaMemcpyDeviceToHost) == cudaSuccess &&
                         cudaMemcpy(&hbad, dbad, sizeof(int), cudaMemcpyDeviceToHost) == cudaSuccess &&
                         hbad == 0 && memcmp(got, enc + CCL_WIRE_HDR_LEN, len - CCL_WIRE_HDR_LEN) == 0 &&
                         memcmp(grecon, crecon, m * 4) == 0;
            }
            cudaMemcpy(dp, enc + CCL_WIRE_HDR_LEN, len - CCL_WIRE_HDR_LEN, cudaMemcpyHostToDevice); /* the CPU's */
            for (int acc = 0; acc < 2 && dec_ok && enc_ok; acc++) {
                memcpy(cout, xs, m * 4);
                cudaMemcpy(dout + off, dxs, m * 4, cudaMemcpyDeviceToDevice);
                dec_ok = ccl_codec_check(enc, len, m) == CCL_SUCCESS &&
                         ccl_codec_decode(enc, len, cout, m, acc) == CCL_SUCCESS &&
                         gpu_decode(&c, dp, dout + off, m, acc) == 0 &&
                         cudaMemcpy(gout, dout + off, m * 4, cudaMemcpyDeviceToHost) == cudaSuccess &&
                         memcmp(gout, cout, m * 4) == 0;
            }
            if (!enc_ok || !dec_ok)
                fprintf(stderr, "'%s', offset %zu: GPU %s differs from the CPU's\n", specs[s], off,
                        enc_ok ? "decode" : "encode");
        }
        cudaMemset(dbad, 0, sizeof(int));
        int flagged = gpu_encode(&c, dnan, n, 5, denc, NULL, 0, dbad) == 0 &&
                      cudaMemcpy(&hbad, dbad, sizeof(int), cudaMemcpyDeviceToHost) == cudaSuccess &&
                      hbad == 1;
        h_report(enc_ok && dec_ok && flagged, "cuda '%s': encode writes the CPU encoder's bytes and "
                 "recon (values, residuals), decode equals the CPU's (assign, accumulate), a NaN "
                 "is flagged", specs[s]);
    }
    cudaFree(denc);
    cudaFree(drecon);
    cudaFree(dout);
    cudaFree(dnan);
    cudaFree(dbad);
    free(enc);
    free(got);
    free(crecon);
    free(grecon);
    free(cout);
    free(gout);
}

/* Every codec through gpu_codec.h against the host codec: the whole encoding (header
 * included) and recon byte for byte, decode (assign, accumulate) bit for bit, non-finite
 * input refused, and a corrupted encoding refused with the output untouched. Sparse cases
 * cover topk's tie breaking (x has many equal magnitudes), and each of dgc's outcomes: no
 * sampling, first k, exact refinement, a lowered threshold. */
static int gpu_codec_case(const char *spec, const float *x, const float *dx, size_t n,
                          uint64_t seed)
{
    ccl_codec_t c;
    if (ccl_codec_parse(spec, &c) != CCL_SUCCESS)
        return 0;
    size_t cap = ccl_codec_max_encoded_size(&c, n), len = 0, glen = 0;
    uint8_t *enc = malloc(cap), *genc = malloc(cap);
    float *rc = malloc(n * 4 + 4), *rg = malloc(n * 4 + 4), *dr, *dout, *co = malloc(n * 4 + 4),
          *go = malloc(n * 4 + 4);
    int ok = cudaMalloc((void **)&dr, n * 4 + 4) == cudaSuccess &&
             cudaMalloc((void **)&dout, n * 4 + 4) == cudaSuccess;
    for (int residual = 0; ok && residual < 2; residual++) {
        c.params.fb_residual = residual;
        ok = ccl_codec_encode(&c, x, n, seed, enc, cap, &len, rc) == CCL_SUCCESS &&
             ccl_gpu_codec_encode(&c, dx, n, seed, genc, cap, &glen, dr, NULL) == CCL_SUCCESS &&
             cudaMemcpy(rg, dr, n * 4, cudaMemcpyDeviceToHost) == cudaSuccess && glen == len &&
             memcmp(enc, genc, len) == 0 && memcmp(rc, rg, n * 4) == 0;
        if (!ok)
            fprintf(stderr, "%s, n=%zu, residual %d: GPU encoding differs (%zu vs %zu bytes): %s\n",
                    spec, n, residual, glen, len, ccl_get_last_error(NULL));
    }
    for (int acc = 0; ok && acc < 2; acc++) {
        memcpy(co, x, n * 4);
        cudaMemcpy(dout, dx, n * 4, cudaMemcpyDeviceToDevice);
        ok = ccl_codec_decode(enc, len, co, n, acc) == CCL_SUCCESS &&
             ccl_gpu_codec_decode(enc, len, dout, n, acc, NULL) == CCL_SUCCESS &&
             cudaMemcpy(go, dout, n * 4, cudaMemcpyDeviceToHost) == cudaSuccess &&
             memcmp(co, go, n * 4) == 0;
    }
    if (ok && len > CCL_WIRE_HDR_LEN) { /* a bad length: refused, out untouched */
        cudaMemcpy(dout, dx, n * 4, cudaMemcpyDeviceToDevice);
        ok = ccl_gpu_codec_decode(enc, len - 1, dout, n, 1, NULL) == CCL_ERR_INVALID_PAYLOAD &&
             cudaMemcpy(go, dout, n * 4, cudaMemcpyDeviceToHost) == cudaSuccess &&
             memcmp(go, x, n * 4) == 0;
    }
    if (ok && n > 2) { /* a NaN in the input: refused as on the host */
        float nan = NAN;
        cudaMemcpy(dout, dx, n * 4, cudaMemcpyDeviceToDevice);
        cudaMemcpy(dout + n / 2, &nan, 4, cudaMemcpyHostToDevice);
        ok = ccl_gpu_codec_encode(&c, dout, n, seed, genc, cap, &glen, NULL, NULL) == CCL_ERR_INVALID_ARG;
    }
    cudaFree(dr);
    cudaFree(dout);
    free(enc);
    free(genc);
    free(rc);
    free(rg);
    free(co);
    free(go);
    return ok;
}

static void test_gpu_codecs(void)
{
    static const char *const specs[] = {
        "cast:type=fp16", "cast:type=bf16", "int:bits=8", "int:bits=4,bucket=100,round=stochastic",
        "int:bits=4,round=stochastic", "int:bits=2,bucket=64", "int:bits=1,bucket=96",
        "qsgd", "qsgd:bits=8,norm=l2,round=nearest", "sign", "sign:scale=l2", "terngrad",
        "topk:ratio=0.001", "topk:k=1", "topk:ratio=0.3,fp16_values=1", "topk:ratio=1",
        "threshold:t=40", "threshold:t=1e9", "randomk:ratio=0.01", "randomk:k=5,fp16_values=1",
        "dgc:ratio=0.001", "dgc:ratio=0.01,sample=0.001", "dgc:ratio=0.0001,fp16_values=1",
        "dgc:ratio=1", "dgc:ratio=0.5"};
    static const size_t sizes[] = {1, 1000, 1000003};
    for (size_t z = 0; z < sizeof(sizes) / sizeof(sizes[0]); z++) {
        size_t n = sizes[z];
        float *x = malloc(n * 4), *dx;
        uint64_t r = 12345 + z;
        cudaMalloc((void **)&dx, n * 4);
        for (int data = 0; data < 2; data++) {
            for (size_t i = 0; i < n; i++) {
                r = r * 6364136223846793005ULL + 1442695040888963407ULL;
                /* data 0: spread values; data 1: 77 levels, many ties, and zeros */
                x[i] = data == 0 ? ((float)(r >> 40) / 16777216.0f - 0.5f) * ((r >> 20) % 7 == 0 ? 50.0f : 1.0f)
                                 : (float)((i * 7) % 77) - 38.0f;
            }
            cudaMemcpy(dx, x, n * 4, cudaMemcpyHostToDevice);
            for (size_t s = 0; s < sizeof(specs) / sizeof(specs[0]); s++)
                h_report(gpu_codec_case(specs[s], x, dx, n, 5 + s), "cuda codec '%s', %zu elements (%s): "
                         "the GPU's encoding, recon and decode are the host codec's; bad bytes and "
                         "NaN input refused", specs[s], n, data == 0 ? "spread" : "ties");
        }
        cudaFree(dx);
        free(x);
    }
}

/* Ranks sharing one GPU: allreduce, allgather and the compressed allreduce on device
 * buffers (through the *_stream calls, on a stream of their own) give the bits the same
 * calls give on host buffers. Exit code: one bit per failed case. */
static int rank_main(int rank, int p, ccl_unique_id_t id, const char *arg)
{
    const size_t n = 100003;
    ccl_comm_t comm;
    cudaStream_t st;
    float *h = malloc(n * 4 * (size_t)p), *want = malloc(n * 4 * (size_t)p),
          *got = malloc(n * 4 * (size_t)p), *d, *dout;
    ccl_compressor_t ca, cb;
    int fails = 0;
    (void)arg;
    if (ccl_comm_init_rank(&comm, p, id, rank) != CCL_SUCCESS || cudaStreamCreate(&st) != cudaSuccess ||
        cudaMalloc((void **)&d, n * 4) != cudaSuccess ||
        cudaMalloc((void **)&dout, n * 4 * (size_t)p) != cudaSuccess)
        return 128;
    for (size_t i = 0; i < n; i++)
        h[i] = (float)((i * 7 + (size_t)rank * 13) % 101) * 0.25f - 12.0f;
    /* exact allreduce, out of place and in place */
    cudaMemcpy(d, h, n * 4, cudaMemcpyHostToDevice);
    if (ccl_allreduce(h, want, n, CCL_FLOAT32, CCL_SUM, comm) != CCL_SUCCESS ||
        ccl_allreduce_stream(d, dout, n, CCL_FLOAT32, CCL_SUM, comm, st) != CCL_SUCCESS ||
        cudaMemcpy(got, dout, n * 4, cudaMemcpyDeviceToHost) != cudaSuccess || memcmp(got, want, n * 4) != 0)
        fails |= 1;
    if (ccl_allreduce_stream(d, d, n, CCL_FLOAT32, CCL_SUM, comm, st) != CCL_SUCCESS ||
        cudaMemcpy(got, d, n * 4, cudaMemcpyDeviceToHost) != cudaSuccess || memcmp(got, want, n * 4) != 0)
        fails |= 2;
    /* allgather */
    cudaMemcpy(d, h, n * 4, cudaMemcpyHostToDevice);
    if (ccl_allgather(h, want, n, CCL_FLOAT32, comm) != CCL_SUCCESS ||
        ccl_allgather_stream(d, dout, n, CCL_FLOAT32, comm, st) != CCL_SUCCESS ||
        cudaMemcpy(got, dout, n * 4 * (size_t)p, cudaMemcpyDeviceToHost) != cudaSuccess ||
        memcmp(got, want, n * 4 * (size_t)p) != 0)
        fails |= 4;
    /* compressed allreduce on device buffers (encoded on the GPU, error feedback there),
     * three steps each, sum and average: the host call with the same algorithm gives the
     * same bits, and the two states checkpoint to the same bytes. */
    static const char *const cspecs[] = {
        "int:bits=4,algo=sparse_allgather", "int:bits=8,ef=classic,algo=sparse_allgather",
        "topk:ratio=0.01,ef=classic,algo=sparse_allgather", "dgc:ratio=0.01,algo=sparse_allgather",
        "dgc:ratio=0.001,clip=5,nesterov=1,algo=sparse_allgather",
        "qsgd:bits=4,ef=ef21,algo=sparse_allgather", "randomk:ratio=0.05,ef=ef21w,algo=sparse_allgather",
        "cast:type=bf16,algo=sparse_allgather", "threshold:t=20,ef=classic,algo=sparse_allgather"};
    for (size_t sp = 0; sp < sizeof(cspecs) / sizeof(cspecs[0]); sp++) {
        if (ccl_compressor_create(comm, cspecs[sp], n, CCL_FLOAT32, &ca) != CCL_SUCCESS ||
            ccl_compressor_create(comm, cspecs[sp], n, CCL_FLOAT32, &cb) != CCL_SUCCESS)
            return fails | 128;
        for (int step = 0; step < 3; step++) {
            ccl_redop_t op = step == 1 ? CCL_AVG : CCL_SUM;
            for (size_t i = 0; i < n; i++)
                h[i] = (float)((i * 7 + (size_t)rank * 13 + (size_t)step * 5) % 101) * 0.25f - 12.0f;
            cudaMemcpy(d, h, n * 4, cudaMemcpyHostToDevice);
            if (ccl_allreduce_compressed(h, want, n, CCL_FLOAT32, op, ca, comm) != CCL_SUCCESS ||
                ccl_allreduce_compressed_stream(d, dout, n, CCL_FLOAT32, op, cb, comm, st) != CCL_SUCCESS ||
                cudaMemcpy(got, dout, n * 4, cudaMemcpyDeviceToHost) != cudaSuccess ||
                memcmp(got, want, n * 4) != 0) {
                fprintf(stderr, "rank %d: '%s' step %d: device result differs from the host's\n",
                        rank, cspecs[sp], step);
                fails |= 8;
            }
        }
        size_t sa = ccl_compressor_state_size(ca), la = 0, lb = 0;
        uint8_t *ba = malloc(sa + 1), *bb = malloc(sa + 1);
        if (ccl_compressor_save(ca, ba, sa, &la) != CCL_SUCCESS ||
            ccl_compressor_save(cb, bb, sa, &lb) != CCL_SUCCESS || la != lb || memcmp(ba, bb, la) != 0)
            fails |= 16;
        free(ba);
        free(bb);
        ccl_compressor_destroy(ca);
        ccl_compressor_destroy(cb);
    }
    /* compressed allgather on device buffers, two steps: the host call's bits. */
    static const char *const gspecs[] = {"int:bits=8,ef=classic", "topk:ratio=0.05,fp16_values=1",
                                         "sign:scale=none", "dgc:ratio=0.01"};
    for (size_t sp = 0; sp < sizeof(gspecs) / sizeof(gspecs[0]); sp++) {
        if (ccl_compressor_create(comm, gspecs[sp], n, CCL_FLOAT32, &ca) != CCL_SUCCESS ||
            ccl_compressor_create(comm, gspecs[sp], n, CCL_FLOAT32, &cb) != CCL_SUCCESS)
            return fails | 128;
        for (int step = 0; step < 2; step++) {
            for (size_t i = 0; i < n; i++)
                h[i] = (float)((i * 3 + (size_t)rank * 17 + (size_t)step) % 89) * 0.5f - 20.0f;
            cudaMemcpy(d, h, n * 4, cudaMemcpyHostToDevice);
            if (ccl_allgather_compressed(h, want, n, CCL_FLOAT32, ca, comm) != CCL_SUCCESS ||
                ccl_allgather_compressed_stream(d, dout, n, CCL_FLOAT32, cb, comm, st) != CCL_SUCCESS ||
                cudaMemcpy(got, dout, n * 4 * (size_t)p, cudaMemcpyDeviceToHost) != cudaSuccess ||
                memcmp(got, want, n * 4 * (size_t)p) != 0)
                fails |= 64;
        }
        ccl_compressor_destroy(ca);
        ccl_compressor_destroy(cb);
    }
    /* A NaN on one rank's device buffer: every rank skips the step, as on the host. */
    if (ccl_compressor_create(comm, "int:bits=8,ef=classic", n, CCL_FLOAT32, &cb) != CCL_SUCCESS)
        return fails | 128;
    cudaMemcpy(d, h, n * 4, cudaMemcpyHostToDevice);
    if (rank == 1) {
        float nan = NAN;
        cudaMemcpy(d + 5, &nan, 4, cudaMemcpyHostToDevice);
    }
    if (ccl_allreduce_compressed_stream(d, dout, n, CCL_FLOAT32, CCL_SUM, cb, comm, st) != CCL_ERR_INVALID_ARG)
        fails |= 32;
    if (rank == 1)
        cudaMemcpy(d, h, n * 4, cudaMemcpyHostToDevice);
    if (ccl_allreduce_compressed_stream(d, dout, n, CCL_FLOAT32, CCL_SUM, cb, comm, st) != CCL_SUCCESS)
        fails |= 32;
    ccl_compressor_destroy(cb);
    cudaFree(d);
    cudaFree(dout);
    cudaStreamDestroy(st);
    ccl_comm_destroy(comm);
    free(h);
    free(want);
    free(got);
    return fails;
}

int main(int argc, char **argv)
{
    h_init(argc, argv, rank_main);
    if (ccl_cuda_device_count() == 0) {
        printf("SKIP cuda kernels (sum_f32; int, cast, sign, terngrad, qsgd, sparse encode and decode) and device-buffer collectives: no CUDA device visible on this machine\n");
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

    /* int codec: a CPU encoding decoded (and accumulated) on the GPU gives the CPU's bits. */
    static const char *const specs[] = {"int:bits=8", "int:bits=4,bucket=100",
                                        "int:bits=3,bucket=1000,round=stochastic", "int:bits=1",
                                        "int:bits=4,bucket=256,round=stochastic", "int:bits=2,bucket=64"};
    uint8_t *enc = malloc(n * 4 + 4096), *denc;
    float *cpu = malloc(n * 4);
    cudaMalloc((void **)&denc, n * 4 + 4096);
    for (size_t s = 0; s < sizeof(specs) / sizeof(specs[0]); s++) {
        ccl_codec_t codec;
        size_t len = 0;
        int good = ccl_codec_parse(specs[s], &codec) == CCL_SUCCESS &&
                   ccl_codec_encode(&codec, ha, n, 7, enc, n * 4 + 4096, &len, NULL) == CCL_SUCCESS;
        for (int acc = 0; acc < 2 && good; acc++) {
            memcpy(cpu, hb, n * 4);
            good = ccl_codec_decode(enc, len, cpu, n, acc) == CCL_SUCCESS;
            cudaMemcpy(denc, enc, len, cudaMemcpyHostToDevice);
            cudaMemcpy(dd, hb, n * 4, cudaMemcpyHostToDevice);
            good = good && ccl_cuda_int_decode(denc + CCL_WIRE_HDR_LEN, (unsigned)codec.params.bits,
                                               codec.params.bucket, dd, n, acc, NULL) == 0 &&
                   cudaMemcpy(hd, dd, n * 4, cudaMemcpyDeviceToHost) == cudaSuccess &&
                   memcmp(hd, cpu, n * 4) == 0;
        }
        h_report(good, "cuda int decode of '%s' equals the CPU decoder bit for bit (assign, accumulate)",
                 specs[s]);
    }

    /* int encode on the GPU: the CPU encoder's payload and recon, both forms, byte for byte;
     * a NaN raises the flag. */
    float *drecon, *hrecon = malloc(n * 4), *crecon = malloc(n * 4);
    int *dbad, hbad;
    cudaMalloc((void **)&drecon, n * 4);
    cudaMalloc((void **)&dbad, sizeof(int));
    for (size_t s = 0; s < sizeof(specs) / sizeof(specs[0]); s++) {
        ccl_codec_t codec;
        size_t len = 0;
        int good = ccl_codec_parse(specs[s], &codec) == CCL_SUCCESS;
        for (int residual = 0; residual < 2 && good; residual++) {
            codec.params.fb_residual = residual;
            good = ccl_codec_encode(&codec, hb, n, 11, enc, n * 4 + 4096, &len, crecon) == CCL_SUCCESS;
            cudaMemset(dbad, 0, sizeof(int));
            cudaMemset(denc, 0xa5, len);
            good = good &&
                   ccl_cuda_int_encode(db, n, (unsigned)codec.params.bits, codec.params.bucket,
                                       codec.params.rounding == CCL_ROUND_STOCHASTIC, 11,
                                       denc + CCL_WIRE_HDR_LEN, drecon, residual, dbad, NULL) == 0 &&
                   cudaMemcpy(hd, denc, len, cudaMemcpyDeviceToHost) == cudaSuccess &&
                   cudaMemcpy(hrecon, drecon, n * 4, cudaMemcpyDeviceToHost) == cudaSuccess &&
                   cudaMemcpy(&hbad, dbad, sizeof(int), cudaMemcpyDeviceToHost) == cudaSuccess &&
                   hbad == 0 &&
                   memcmp((uint8_t *)hd + CCL_WIRE_HDR_LEN, enc + CCL_WIRE_HDR_LEN, len - CCL_WIRE_HDR_LEN) == 0 &&
                   memcmp(hrecon, crecon, n * 4) == 0;
        }
        h_report(good, "cuda int encode of '%s' writes the CPU encoder's bytes and recon (values, residuals)",
                 specs[s]);
    }
    float nan = NAN;
    cudaMemcpy(db + n / 2, &nan, 4, cudaMemcpyHostToDevice);
    cudaMemset(dbad, 0, sizeof(int));
    int flagged = ccl_cuda_int_encode(db, n, 8, 512, 0, 1, denc, NULL, 0, dbad, NULL) == 0 &&
                  cudaMemcpy(&hbad, dbad, sizeof(int), cudaMemcpyDeviceToHost) == cudaSuccess && hbad == 1;
    h_report(flagged, "cuda int encode flags a NaN in its input");
    for (size_t i = 0; i < n; i += 1013)
        hb[i] = (i & 1) ? -0.0f : 1e-30f; /* signed zeros and a tiny value: sign(-0) = +1 */
    cudaMemcpy(db, hb, n * 4, cudaMemcpyHostToDevice);
    test_elem_codecs(hb, db, n);
    test_gpu_codecs();
    cudaFree(drecon);
    cudaFree(dbad);
    free(hrecon);
    free(crecon);
    cudaFree(denc);
    free(enc);
    free(cpu);

    static const char *const cases[] = {"allreduce", "allreduce in place", "allgather",
                                        "compressed allreduce encoded on the GPU (9 specs, every "
                                        "error-feedback mode, 3 steps) equals the host's",
                                        "compressed allreduce: the GPU-held error-feedback state "
                                        "checkpoints to the host's bytes",
                                        "compressed allreduce: a NaN on one rank skips the step "
                                        "on every rank, the next step succeeds",
                                        "compressed allgather encoded on the GPU (4 specs, 2 "
                                        "steps) equals the host's"};
    for (int p = 2; p <= 3; p++) {
        int codes[8], all = 0, dead = 0;
        h_spawn(p, "", 120, codes);
        for (int r = 0; r < p; r++) {
            dead |= codes[r] >= 128 || codes[r] < 0;
            all |= codes[r];
        }
        for (int c = 0; c < 7; c++)
            h_report(!dead && !(all & (1 << c)), "cuda: %d ranks on one GPU, device buffers: %s%s", p,
                     cases[c], c < 3 ? " equals the host call bit for bit" : "");
    }
    return h_failed ? 1 : 0;
}
