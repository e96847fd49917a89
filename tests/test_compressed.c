/* test_compressed.c: ccl_allreduce_compressed and ccl_allgather_compressed across ranks as
 * processes: each algorithm against the exact sum within its codec's bound, sparse sums exact
 * on integer-valued inputs (overlapping and disjoint supports), the error-feedback
 * telescoping identity over 100 calls, EF21's fixed point, bit-identical results on every
 * rank, checkpoints in the middle of a run, the exact fallbacks, NaN steps skipped on every
 * rank, mismatched specs, and a peer killed mid-call. */
#include "harness.h"

#include <math.h>
#include <pthread.h>
#include <stdint.h>

#define N 10007 /* not a multiple of the rank counts or buckets */

/* Every rank holds the same bytes: compare hashes through an exact allgather. */
static int same_everywhere(ccl_comm_t comm, const float *x, size_t n)
{
    int p;
    ccl_comm_size(comm, &p);
    uint64_t h = h_hash_floats(x, n), all[64];
    if (ccl_allgather(&h, all, 1, CCL_INT64, comm) != CCL_SUCCESS)
        return 0;
    for (int r = 0; r < p; r++)
        if (all[r] != h)
            return 0;
    return 1;
}

static float uval(int rank, size_t i, int call) /* uniform in [-1, 1) */
{
    uint64_t z = (uint64_t)rank * 0x9e3779b97f4a7c15ULL + i * 0xbf58476d1ce4e5b9ULL + (uint64_t)call * 7919;
    z ^= z >> 31;
    z *= 0x94d049bb133111ebULL;
    z ^= z >> 29;
    return (float)(z >> 40) / 8388608.0f - 1.0f;
}

static ccl_compressor_t mk(ccl_comm_t comm, const char *spec, size_t n, ccl_datatype_t dt)
{
    ccl_compressor_t c;
    if (ccl_compressor_create(comm, spec, n, dt, &c) != CCL_SUCCESS) {
        fprintf(stderr, "create '%s': %s\n", spec, ccl_get_last_error(comm));
        return NULL;
    }
    return c;
}

/* Dense quantized algorithms against the exact sum: with ef=none the error is at most the
 * first quantization of P-1 ranks plus the second of the sum. */
static int t_quantized_f(ccl_comm_t comm, int rank, int p, const char *spec, double unit_per_rank,
                         double units);

static int t_quantized(ccl_comm_t comm, int rank, int p, const char *spec, double unit_per_rank)
{
    return t_quantized_f(comm, rank, p, spec, unit_per_rank, 2.0 * p);
}

/* The ring and the tree quantize sums of up to j ranks up to P times: at most
 * (1 + 2 + ... + P) units. */
static int t_requantized(ccl_comm_t comm, int rank, int p, const char *spec, double unit_per_rank)
{
    return t_quantized_f(comm, rank, p, spec, unit_per_rank, fmax(2.0 * p, p * (p + 1) / 2.0));
}

static int t_quantized_f(ccl_comm_t comm, int rank, int p, const char *spec, double unit_per_rank,
                         double units)
{
    float *x = malloc(N * 4), *out = malloc(N * 4);
    ccl_compressor_t c = mk(comm, spec, N, CCL_FLOAT32);
    int ok = c != NULL;
    for (int op = 0; op < 2 && ok; op++) {
        for (size_t i = 0; i < N; i++)
            x[i] = uval(rank, i, op);
        ok = ccl_allreduce_compressed(x, out, N, CCL_FLOAT32, op ? CCL_AVG : CCL_SUM, c, comm) == CCL_SUCCESS;
        double tol = unit_per_rank * units * (op ? 1.0 / p : 1.0) + 1e-5;
        for (size_t i = 0; i < N && ok; i++) {
            double exact = 0;
            for (int r = 0; r < p; r++)
                exact += uval(r, i, op);
            if (op)
                exact /= p;
            if (fabs(out[i] - exact) > tol) {
                fprintf(stderr, "%s: [%zu] %g vs exact %g (tol %g)\n", spec, i, out[i], exact, tol);
                ok = 0;
            }
        }
        ok = ok && same_everywhere(comm, out, N);
    }
    ccl_compressor_destroy(c);
    free(x);
    free(out);
    return ok;
}

/* Sparse: integer-valued inputs on K indices per rank, all ranks the same indices
 * (overlapping) or each its own (disjoint): the sum is exact. cases: 1 overlapping only. */
static int t_sparse(ccl_comm_t comm, int rank, int p, const char *algo, int cases)
{
    enum { K = 50 };
    float *x = calloc(N, 4), *out = malloc(N * 4), *want = calloc(N, 4);
    char spec[128];
    snprintf(spec, sizeof(spec), "topk:k=%d,ef=none,algo=%s", K, algo);
    ccl_compressor_t c = mk(comm, spec, N, CCL_FLOAT32);
    int ok = c != NULL;
    for (int disjoint = 0; disjoint < cases && ok; disjoint++) {
        memset(x, 0, N * 4);
        memset(want, 0, N * 4);
        for (int r = 0; r < p; r++)
            for (int j = 0; j < K; j++) {
                size_t idx = disjoint ? (size_t)(r * K + j) * 3 : (size_t)j * 101;
                float v = (float)((r + 1) * (j + 1) % 17 + 1) * ((j & 1) ? -1 : 1);
                want[idx] += v;
                if (r == rank)
                    x[idx] = v;
            }
        ok = ccl_allreduce_compressed(x, out, N, CCL_FLOAT32, CCL_SUM, c, comm) == CCL_SUCCESS &&
             memcmp(out, want, N * 4) == 0 && same_everywhere(comm, out, N);
        if (!ok)
            fprintf(stderr, "sparse %s disjoint=%d: %s\n", algo, disjoint, ccl_get_last_error(comm));
    }
    ccl_compressor_destroy(c);
    free(x);
    free(out);
    free(want);
    return ok;
}

/* Supports large enough that the sum goes dense part way (half the buffer and more), on
 * integer values (exact); then random floats, where sparse_split must give the very bits of
 * sparse_allgather (both add in rank order) and every algorithm bit-identical results on
 * every rank. */
static int t_sparse_dense(ccl_comm_t comm, int rank, int p, const char *algo)
{
    const int K = N / 3;
    float *x = calloc(N, 4), *out = malloc(N * 4), *want = calloc(N, 4), *ref = malloc(N * 4);
    char spec[128];
    snprintf(spec, sizeof(spec), "topk:k=%d,ef=none,algo=%s", K, algo);
    ccl_compressor_t c = mk(comm, spec, N, CCL_FLOAT32);
    snprintf(spec, sizeof(spec), "topk:k=%d,ef=none,algo=sparse_allgather", K);
    ccl_compressor_t g = mk(comm, spec, N, CCL_FLOAT32);
    int ok = c != NULL && g != NULL;
    for (int r = 0; r < p; r++)
        for (int j = 0; j < K; j++) {
            size_t idx = ((size_t)r * 1237 + (size_t)j * 3) % N;
            float v = (float)((r + 2) * (j + 1) % 23 + 1) * ((j % 3) ? -1 : 1);
            if (r == rank)
                x[idx] = v;
            want[idx] += v;
        }
    ok = ok && ccl_allreduce_compressed(x, out, N, CCL_FLOAT32, CCL_SUM, c, comm) == CCL_SUCCESS &&
         memcmp(out, want, N * 4) == 0 && same_everywhere(comm, out, N);
    for (size_t i = 0; ok && i < N; i++)
        x[i] = (i % 3 == (size_t)rank % 3) ? uval(rank, i, 5) : 0.0f;
    ok = ok && ccl_allreduce_compressed(x, out, N, CCL_FLOAT32, CCL_SUM, c, comm) == CCL_SUCCESS &&
         ccl_allreduce_compressed(x, ref, N, CCL_FLOAT32, CCL_SUM, g, comm) == CCL_SUCCESS &&
         same_everywhere(comm, out, N);
    if (ok && strcmp(algo, "sparse_split") == 0)
        ok = memcmp(out, ref, N * 4) == 0;
    for (size_t i = 0; ok && i < N; i++)
        ok = fabsf(out[i] - ref[i]) <= 1e-5f * (float)p;
    if (!ok)
        fprintf(stderr, "sparse dense %s: %s\n", algo, ccl_get_last_error(comm));
    ccl_compressor_destroy(c);
    ccl_compressor_destroy(g);
    free(x);
    free(out);
    free(want);
    free(ref);
    return ok;
}

/* Telescoping over 100 calls: sum of outputs + sum over ranks of the final residuals equals
 * the sum of all gradients, exactly (integer values, top-k sends them unchanged). */
static int t_telescoping(ccl_comm_t comm, int rank, int p)
{
    enum { M = 2000, T = 100 };
    float x[M], out[M], res[M];
    double sent[M] = {0}, gsum[M] = {0};
    ccl_compressor_t c = mk(comm, "topk:k=40,ef=classic", M, CCL_FLOAT32);
    int ok = c != NULL;
    for (int t = 0; t < T && ok; t++) {
        for (int i = 0; i < M; i++) {
            x[i] = (float)((int)(uval(rank, (size_t)i, t) * 8));
            for (int r = 0; r < p; r++)
                gsum[i] += (int)(uval(r, (size_t)i, t) * 8);
        }
        ok = ccl_allreduce_compressed(x, out, M, CCL_FLOAT32, CCL_SUM, c, comm) == CCL_SUCCESS;
        for (int i = 0; i < M; i++)
            sent[i] += out[i];
    }
    /* This rank's residual: the difference of its gradients and what it sent, which a
     * zero gradient with ef=classic and k = M would flush; read it by saving the state. */
    size_t len, sz = ccl_compressor_state_size(c);
    uint8_t *st = malloc(sz);
    ok = ok && ccl_compressor_save(c, st, sz, &len) == CCL_SUCCESS && len == sz;
    for (int i = 0; i < M && ok; i++) {
        /* layout: 48-byte compressor header (checkpoint.c), 48-byte state header, then the residual */
        memcpy(&res[i], st + 48 + 48 + 4 * i, 4);
    }
    ok = ok && ccl_allreduce(res, res, M, CCL_FLOAT32, CCL_SUM, comm) == CCL_SUCCESS;
    for (int i = 0; i < M && ok; i++)
        if (sent[i] + res[i] != gsum[i]) {
            fprintf(stderr, "telescoping [%d]: %g + %g != %g\n", i, sent[i], res[i], gsum[i]);
            ok = 0;
        }
    free(st);
    ccl_compressor_destroy(c);
    return ok;
}

/* Checkpoint at call 10 of 20: a second compressor restored there gives the same bytes. */
static int t_checkpoint_n(ccl_comm_t comm, int rank, const char *spec, size_t n)
{
    float *x = malloc(n * 4), *a = malloc(n * 4), *b = malloc(n * 4);
    uint64_t ha[10];
    ccl_compressor_t c = mk(comm, spec, n, CCL_FLOAT32), d = mk(comm, spec, n, CCL_FLOAT32);
    size_t sz = c ? ccl_compressor_state_size(c) : 0, len = 0;
    uint8_t *st = malloc(sz + 1);
    int ok = c && d;
    for (int t = 0; t < 20 && ok; t++) {
        for (size_t i = 0; i < n; i++)
            x[i] = uval(rank, i, t);
        if (t == 10)
            ok = ccl_compressor_save(c, st, sz, &len) == CCL_SUCCESS;
        ok = ok && ccl_allreduce_compressed(x, a, n, CCL_FLOAT32, CCL_SUM, c, comm) == CCL_SUCCESS;
        if (t >= 10)
            ha[t - 10] = h_hash_floats(a, n);
    }
    ok = ok && ccl_compressor_restore(d, st, len) == CCL_SUCCESS;
    for (int t = 10; t < 20 && ok; t++) {
        for (size_t i = 0; i < n; i++)
            x[i] = uval(rank, i, t);
        ok = ccl_allreduce_compressed(x, b, n, CCL_FLOAT32, CCL_SUM, d, comm) == CCL_SUCCESS &&
             h_hash_floats(b, n) == ha[t - 10];
    }
    /* A checkpoint of another spec or a corrupt one is refused. */
    ccl_compressor_t e = mk(comm, "int:bits=2", n, CCL_FLOAT32);
    ok = ok && e && ccl_compressor_restore(e, st, len) == CCL_ERR_INVALID_PAYLOAD;
    st[len - 1] ^= 0xff;
    st[len - 2] = 0xff; /* NaN bits in the last value */
    st[len - 1] = 0x7f;
    ok = ok && ccl_compressor_restore(d, st, len) == CCL_ERR_INVALID_PAYLOAD;
    if (!ok)
        fprintf(stderr, "checkpoint %s: %s\n", spec, ccl_get_last_error(comm));
    ccl_compressor_destroy(c);
    ccl_compressor_destroy(d);
    ccl_compressor_destroy(e);
    free(st);
    free(x);
    free(a);
    free(b);
    return ok;
}

static int t_checkpoint(ccl_comm_t comm, int rank, const char *spec)
{
    return t_checkpoint_n(comm, rank, spec, N);
}

/* A checkpoint changed in any way (a bit flipped, a run overwritten or zeroed, cut short or
 * lengthened, halves swapped) is refused, 2000 times, and the state stays as it was; so is
 * the intact checkpoint of another rank. */
static int t_checkpoint_corrupt(ccl_comm_t comm, int rank, int p, const char *spec)
{
    enum { M = 2000, TRIALS = 2000 };
    float x[M], out[M];
    ccl_compressor_t c = mk(comm, spec, M, CCL_FLOAT32);
    size_t sz = c ? ccl_compressor_state_size(c) : 0, len = 0, len2 = 0;
    uint8_t *st = malloc(sz + 64), *m = malloc(sz + 64), *again = malloc(sz + 64);
    uint8_t *all = malloc((sz + 64) * (size_t)p);
    uint64_t rng = 0x9e3779b97f4a7c15ULL * (uint64_t)(rank + 1);
    int ok = c != NULL && st && m && again && all, accepted = 0;
    for (int t = 0; t < 5 && ok; t++) {
        for (size_t i = 0; i < M; i++)
            x[i] = uval(rank, i, t);
        ok = ccl_allreduce_compressed(x, out, M, CCL_FLOAT32, CCL_SUM, c, comm) == CCL_SUCCESS;
    }
    ok = ok && ccl_compressor_save(c, st, sz, &len) == CCL_SUCCESS;
    for (int t = 0; t < TRIALS && ok; t++) {
#define NEXT() (rng = rng * 6364136223846793005ULL + 1442695040888963407ULL, rng >> 33)
        size_t mlen = len, at = (size_t)NEXT() % len, run = 1 + (size_t)NEXT() % 16;
        memcpy(m, st, len);
        switch (t % 6) {
        case 0: m[at] ^= (uint8_t)(1u << (NEXT() % 8)); break;
        case 1: for (size_t i = at; i < at + run && i < len; i++) m[i] = (uint8_t)NEXT(); break;
        case 2: for (size_t i = at; i < at + run && i < len; i++) m[i] = 0; break;
        case 3: mlen = at; break;
        case 4: mlen = len + run; memset(m + len, 0, run); break;
        default: /* the second half first */
            memcpy(m, st + len / 2, len - len / 2);
            memcpy(m + (len - len / 2), st, len / 2);
            break;
        }
#undef NEXT
        if (mlen == len && memcmp(m, st, len) == 0)
            continue; /* the change changed nothing */
        if (ccl_compressor_restore(c, m, mlen) == CCL_SUCCESS)
            accepted++;
    }
    /* Nothing changed the state. */
    ok = ok && ccl_compressor_save(c, again, sz, &len2) == CCL_SUCCESS && len2 == len &&
         memcmp(again, st, len) == 0 && accepted == 0;
    if (accepted)
        fprintf(stderr, "%s: %d of %d corrupt checkpoints accepted\n", spec, accepted, TRIALS);
    /* Every rank's checkpoint to every rank: only its own is taken. */
    memset(st + len, 0, 64);
    ok = ok && ccl_allgather(st, all, sz + 64, CCL_UINT8, comm) == CCL_SUCCESS;
    for (int r = 0; r < p && ok; r++)
        ok = (ccl_compressor_restore(c, all + (size_t)r * (sz + 64), len) == CCL_SUCCESS) ==
             (r == rank);
    if (!ok)
        fprintf(stderr, "checkpoint integrity %s: %s\n", spec, ccl_get_last_error(comm));
    ccl_compressor_destroy(c);
    free(st);
    free(m);
    free(again);
    free(all);
    return ok;
}

/* EF21 with constant gradients and top-k: after ceil(d/k) calls the output is the exact sum. */
static int t_ef21(ccl_comm_t comm, int rank, int p, const char *ef)
{
    enum { M = 300, K = 30 };
    float x[M], out[M];
    char spec[64];
    snprintf(spec, sizeof(spec), "topk:k=%d,ef=%s", K, ef);
    ccl_compressor_t c = mk(comm, spec, M, CCL_FLOAT32);
    int ok = c != NULL;
    for (int i = 0; i < M; i++)
        x[i] = uval(rank, (size_t)i, 0);
    for (int t = 0; t < M / K && ok; t++)
        ok = ccl_allreduce_compressed(x, out, M, CCL_FLOAT32, CCL_SUM, c, comm) == CCL_SUCCESS;
    for (int i = 0; i < M && ok; i++) {
        double exact = 0;
        for (int r = 0; r < p; r++)
            exact += uval(r, (size_t)i, 0);
        ok = fabs(out[i] - exact) < 1e-5 * (1 + fabs(exact));
    }
    ok = ok && same_everywhere(comm, out, M);
    ccl_compressor_destroy(c);
    return ok;
}

/* Majority vote: signs +1 on the first ranks' majority; the result is the majority's sign. */
static int t_vote(ccl_comm_t comm, int rank, int p)
{
    float x[N], out[N];
    ccl_compressor_t c = mk(comm, "sign:scale=none", N, CCL_FLOAT32);
    int ok = c != NULL;
    for (size_t i = 0; i < N; i++)
        x[i] = uval(rank, i, 5);
    ok = ok && ccl_allreduce_compressed(x, out, N, CCL_FLOAT32, CCL_SUM, c, comm) == CCL_SUCCESS;
    for (size_t i = 0; i < N && ok; i++) {
        int votes = 0;
        for (int r = 0; r < p; r++)
            votes += uval(r, i, 5) >= 0 ? 1 : -1;
        ok = out[i] == (votes >= 0 ? 1.0f : -1.0f);
    }
    ccl_compressor_destroy(c);
    return ok && same_everywhere(comm, out, N);
}

/* TernGrad: the scale is the max over ranks, so every output is a multiple of it. */
static int t_terngrad(ccl_comm_t comm, int rank, int p)
{
    float x[N], out[N], s = 0;
    ccl_compressor_t c = mk(comm, "terngrad:clip=0,ef=none", N, CCL_FLOAT32);
    for (size_t i = 0; i < N; i++)
        x[i] = uval(rank, i, 9) * (float)(rank + 1);
    for (int r = 0; r < p; r++)
        for (size_t i = 0; i < N; i++)
            s = fmaxf(s, fabsf(uval(r, i, 9) * (float)(r + 1)));
    int ok = c && ccl_allreduce_compressed(x, out, N, CCL_FLOAT32, CCL_SUM, c, comm) == CCL_SUCCESS;
    for (size_t i = 0; i < N && ok; i++) {
        float k = out[i] / s;
        ok = fabsf(k - roundf(k)) < 1e-4f && fabsf(k) <= (float)p;
    }
    ccl_compressor_destroy(c);
    /* scale= fixes the scaler for every rank: the outputs are multiples of it, not of the
     * agreed max. */
    c = mk(comm, "terngrad:scale=4,ef=none", N, CCL_FLOAT32);
    ok &= c && ccl_allreduce_compressed(x, out, N, CCL_FLOAT32, CCL_SUM, c, comm) == CCL_SUCCESS;
    for (size_t i = 0; i < N && ok; i++) {
        float k = out[i] / 4.0f;
        ok = fabsf(k - roundf(k)) < 1e-4f && fabsf(k) <= (float)p;
    }
    if (!ok)
        fprintf(stderr, "rank %d: terngrad:scale=4 gave %g\n", rank, out[0]);
    ccl_compressor_destroy(c);
    return ok && same_everywhere(comm, out, N);
}

/* fp16 buffers, integer types and non-sum ops (exact fallbacks), allgather. */
static int t_types(ccl_comm_t comm, int rank, int p)
{
    int ok = 1;
    uint16_t h[N], ho[N];
    ccl_compressor_t c = mk(comm, "int:bits=8", N, CCL_FLOAT16);
    for (size_t i = 0; i < N; i++) {
        union { float f; uint32_t u; } v = {.f = uval(rank, i, 2)};
        h[i] = (uint16_t)(((v.u >> 16) & 0x8000) | ((((v.u >> 23) & 0xff) - 112) << 10) | ((v.u >> 13) & 0x3ff));
        if (fabsf(v.f) < 1e-4f)
            h[i] = 0;
    }
    ok = c && ccl_allreduce_compressed(h, ho, N, CCL_FLOAT16, CCL_SUM, c, comm) == CCL_SUCCESS;
    ccl_compressor_destroy(c);
    /* int32: the exact path, even with a lossy spec. */
    int32_t iv[100], io[100];
    for (int i = 0; i < 100; i++)
        iv[i] = rank * 1000 + i;
    c = mk(comm, "int:bits=2", 100, CCL_INT32);
    ok = ok && c && ccl_allreduce_compressed(iv, io, 100, CCL_INT32, CCL_SUM, c, comm) == CCL_SUCCESS;
    for (int i = 0; i < 100 && ok; i++)
        ok = io[i] == 1000 * p * (p - 1) / 2 + p * i;
    ccl_compressor_destroy(c);
    /* max on floats: exact. */
    float f[100], fo[100];
    for (int i = 0; i < 100; i++)
        f[i] = (float)(rank * 100 + i);
    c = mk(comm, "int:bits=2", 100, CCL_FLOAT32);
    ok = ok && c && ccl_allreduce_compressed(f, fo, 100, CCL_FLOAT32, CCL_MAX, c, comm) == CCL_SUCCESS;
    for (int i = 0; i < 100 && ok; i++)
        ok = fo[i] == (float)((p - 1) * 100 + i);
    /* A call of another count is refused before anything moves. */
    ok = ok && ccl_allreduce_compressed(f, fo, 99, CCL_FLOAT32, CCL_SUM, c, comm) == CCL_ERR_INVALID_ARG;
    ccl_compressor_destroy(c);
    /* Allgather with fp16 values: each block is the fp16 rounding of that rank's input. */
    float g[64], *all = malloc((size_t)p * 64 * 4);
    for (int i = 0; i < 64; i++)
        g[i] = (float)(rank * 64 + i) / 8.0f;
    c = mk(comm, "cast:type=fp16,ef=none", 64, CCL_FLOAT32);
    ok = ok && c && ccl_allgather_compressed(g, all, 64, CCL_FLOAT32, c, comm) == CCL_SUCCESS;
    for (int i = 0; i < p * 64 && ok; i++)
        ok = all[i] == (float)i / 8.0f;
    ccl_compressor_destroy(c);
    free(all);
    return ok;
}

/* One bad step between good ones: `bad` at element 17 on the last rank, or on every rank.
 * Where the step is skipped, every rank gets CCL_ERR_INVALID_ARG (the state kept); otherwise
 * every rank gets the same result, with the infinity the exact sum gives where p > 1. Either
 * way the next call works. */
static int t_bad_step_at(ccl_comm_t comm, int rank, int p, const char *spec, size_t n, float bad,
                         int every_rank, int skipped, int fresh, size_t at)
{
    float *x = malloc(n * 4), *out = malloc(n * 4);
    ccl_compressor_t c = mk(comm, spec, n, CCL_FLOAT32);
    int ok = c != NULL;
    for (size_t i = 0; i < n; i++)
        x[i] = uval(rank, i, 1);
    if (!fresh) /* fresh: the bad step is the handle's first */
        ok = ok && ccl_allreduce_compressed(x, out, n, CCL_FLOAT32, CCL_SUM, c, comm) == CCL_SUCCESS;
    if (every_rank || rank == p - 1)
        x[at] = bad;
    ccl_result_t r = ok ? ccl_allreduce_compressed(x, out, n, CCL_FLOAT32, CCL_SUM, c, comm) : CCL_ERR_INTERNAL;
    if (skipped)
        ok = ok && r == CCL_ERR_INVALID_ARG;
    else
        ok = ok && r == CCL_SUCCESS && (p == 1 || isinf(out[at])) && same_everywhere(comm, out, n);
    x[at] = 0.5f;
    ok = ok && ccl_allreduce_compressed(x, out, n, CCL_FLOAT32, CCL_SUM, c, comm) == CCL_SUCCESS &&
         same_everywhere(comm, out, n);
    if (!ok)
        fprintf(stderr, "bad step %s (%g): result %d: %s\n", spec, bad, (int)r, ccl_get_last_error(comm));
    ccl_compressor_destroy(c);
    free(x);
    free(out);
    return ok;
}

static int t_bad_step(ccl_comm_t comm, int rank, int p, const char *spec, size_t n, float bad,
                      int every_rank, int skipped, int fresh)
{
    return t_bad_step_at(comm, rank, p, spec, n, bad, every_rank, skipped, fresh, 17);
}

/* A NaN on one rank: every rank gets CCL_ERR_INVALID_ARG, and the next call works. */
static int t_nan_n(ccl_comm_t comm, int rank, int p, const char *spec, size_t n)
{
    return t_bad_step(comm, rank, p, spec, n, NAN, 0, 1, 0);
}

/* A NaN in a handle's very first call: the other ranks' messages are still received with this
 * step's sizes (DGC's warm-up ratio included), every rank skips, the next call works. */
static int t_nan_first(ccl_comm_t comm, int rank, int p, const char *spec)
{
    return t_bad_step(comm, rank, p, spec, N, NAN, 0, 1, 1);
}

/* A NaN in the last element: an algorithm that prepares piece by piece finds it after it
 * has sent its first pieces, and every rank must still skip the step. */
static int t_nan_last(ccl_comm_t comm, int rank, int p, const char *spec)
{
    return t_bad_step_at(comm, rank, p, spec, N, NAN, 0, 1, 0, N - 1);
}

/* Finite inputs whose sum overflows float32 (3e38 on every rank). Algorithms that encode
 * sums have no encoding for an infinity: the step is skipped on every rank, as for a NaN.
 * sparse_allgather encodes only the inputs and adds the decoded values, so every rank gets
 * the infinity the exact sum would give (reencodes = 0). */
static int t_overflow(ccl_comm_t comm, int rank, int p, const char *spec, int reencodes)
{
    return t_bad_step(comm, rank, p, spec, N, 3e38f, 1, p > 1 && reencodes, 0);
}

static int t_nan(ccl_comm_t comm, int rank, int p, const char *spec)
{
    return t_nan_n(comm, rank, p, spec, N);
}

/* Without error feedback a sparse codec's encoder finds NaN and infinities itself, in its
 * candidate pass: every sparse algorithm, small buffers and large (sampled selection), the
 * bad value first, last, or an infinity; and the allgather. */
static int t_nan_no_ef(ccl_comm_t comm, int rank, int p)
{
    static const char *const algos[] = {"sparse_allgather", "sparse_rd", "sparse_split"};
    const size_t big = (size_t)1 << 18;
    char spec[80];
    int ok = 1;
    for (int a = 0; a < 3 && ok; a++) {
        snprintf(spec, sizeof(spec), "topk:ratio=0.01,ef=none,algo=%s", algos[a]);
        ok = t_nan(comm, rank, p, spec) && t_nan_first(comm, rank, p, spec) &&
             t_bad_step_at(comm, rank, p, spec, big, NAN, 0, 1, 0, big - 1) &&
             t_bad_step(comm, rank, p, spec, big, -INFINITY, 0, 1, 0);
    }
    snprintf(spec, sizeof(spec), "topk:ratio=0.001,ef=none");
    ok = ok && t_bad_step(comm, rank, p, spec, big, NAN, 1, 1, 0);
    /* The allgather: every rank refuses, and the next call works. */
    float x[N], *all = malloc((size_t)p * N * 4);
    ccl_compressor_t c = mk(comm, "topk:ratio=0.1,ef=none", N, CCL_FLOAT32);
    for (size_t i = 0; i < N; i++)
        x[i] = uval(rank, i, 0);
    if (rank == p - 1)
        x[3] = NAN;
    ok = ok && c != NULL && all != NULL &&
         ccl_allgather_compressed(x, all, N, CCL_FLOAT32, c, comm) == CCL_ERR_INVALID_ARG;
    x[3] = 0.25f;
    ok = ok && ccl_allgather_compressed(x, all, N, CCL_FLOAT32, c, comm) == CCL_SUCCESS &&
         same_everywhere(comm, all, (size_t)p * N);
    ccl_compressor_destroy(c);
    free(all);
    return ok;
}

/* PowerSGD on a 64 x 40 buffer: a sum of rank 2 comes back exact at rank 2 (the power
 * iteration finds its column space), the same on every rank; error feedback telescopes
 * (outputs plus final residuals = all gradients) on full-rank gradients at rank 1; checkpoints,
 * NaN steps and bad specs as for the other codecs; a rank too large for compression to pay
 * takes the exact path. */
static int t_powersgd(ccl_comm_t comm, int rank, int p)
{
    enum { R = 64, C = 40, M = R * C, T = 30 };
    float *x = malloc(M * 4), *out = malloc(M * 4), *want = malloc(M * 4), *res = malloc(M * 4);
    double *sent = calloc(M, 8), *gsum = calloc(M, 8);
    ccl_compressor_t c = mk(comm, "powersgd:rank=2,rows=64,ef=none", M, CCL_FLOAT32);
    int ok = c != NULL;
    double top = 0, err = 0;
    for (int i = 0; i < R; i++)
        for (int j = 0; j < C; j++) {
            float u = uval(100, (size_t)i, 0), v = uval(101, (size_t)j, 0);
            float w = uval(102, (size_t)i, 0), z = uval(103, (size_t)j, 0);
            x[i * C + j] = (float)(rank + 1) * u * v + (float)(rank % 3 - 1) * w * z;
            double sum = 0;
            for (int r = 0; r < p; r++)
                sum += (double)(r + 1) * u * v + (double)(r % 3 - 1) * w * z;
            want[i * C + j] = (float)sum;
            top = fmax(top, fabs(sum));
        }
    ok = ok && ccl_allreduce_compressed(x, out, M, CCL_FLOAT32, CCL_SUM, c, comm) == CCL_SUCCESS &&
         same_everywhere(comm, out, M);
    for (int i = 0; i < M && ok; i++)
        err = fmax(err, fabs(out[i] - want[i]));
    if (ok && err > 1e-4 * top) {
        fprintf(stderr, "powersgd rank-2 sum: error %g of %g\n", err, top);
        ok = 0;
    }
    ccl_compressor_destroy(c);
    /* Telescoping at rank 1 with classic error feedback, over T calls. */
    c = mk(comm, "powersgd:rank=1,rows=64", M, CCL_FLOAT32);
    ok = ok && c != NULL;
    for (int t = 0; t < T && ok; t++) {
        for (int i = 0; i < M; i++) {
            x[i] = uval(rank, (size_t)i, t + 40);
            for (int r = 0; r < p; r++)
                gsum[i] += uval(r, (size_t)i, t + 40);
        }
        ok = ccl_allreduce_compressed(x, out, M, CCL_FLOAT32, CCL_SUM, c, comm) == CCL_SUCCESS &&
             same_everywhere(comm, out, M);
        for (int i = 0; i < M; i++)
            sent[i] += out[i];
    }
    size_t len, sz = c ? ccl_compressor_state_size(c) : 0;
    uint8_t *st = malloc(sz + 1);
    ok = ok && ccl_compressor_save(c, st, sz, &len) == CCL_SUCCESS && len == sz;
    for (int i = 0; i < M && ok; i++)
        memcpy(&res[i], st + 48 + 48 + 4 * i, 4);
    ok = ok && ccl_allreduce(res, res, M, CCL_FLOAT32, CCL_SUM, comm) == CCL_SUCCESS;
    double worst = 0, scale = 0;
    for (int i = 0; i < M && ok; i++) {
        worst = fmax(worst, fabs(sent[i] + res[i] - gsum[i]));
        scale = fmax(scale, fabs(gsum[i]));
    }
    if (ok && worst > 1e-4 * (scale + T)) {
        fprintf(stderr, "powersgd telescoping: off by %g (scale %g)\n", worst, scale);
        ok = 0;
    }
    ccl_compressor_destroy(c);
    free(st);
    ok = ok && t_checkpoint_n(comm, rank, "powersgd:rank=2,rows=64", M) &&
         t_nan_n(comm, rank, p, "powersgd:rank=2,rows=64", M);
    /* Bad specs; the allgather refuses; rank 40 of 64 x 40 does not pay: exact. */
    ccl_compressor_t b;
    ok = ok && ccl_compressor_create(comm, "powersgd:rank=2,rows=7", M, CCL_FLOAT32, &b) == CCL_ERR_INVALID_ARG &&
         ccl_compressor_create(comm, "powersgd:rows=64,ef=ef21", M, CCL_FLOAT32, &b) == CCL_ERR_INVALID_ARG &&
         ccl_compressor_create(comm, "int:bits=8,algo=powersgd", M, CCL_FLOAT32, &b) == CCL_ERR_INVALID_ARG;
    c = mk(comm, "powersgd:rows=64", M, CCL_FLOAT32);
    ok = ok && c != NULL &&
         ccl_allgather_compressed(x, out, M / (size_t)p, CCL_FLOAT32, c, comm) == CCL_ERR_INVALID_ARG;
    ccl_compressor_destroy(c);
    c = mk(comm, "powersgd:rank=100,rows=64", M, CCL_FLOAT32);
    ok = ok && c != NULL && strstr(ccl_compressor_spec(c), "rank=40") != NULL &&
         ccl_allreduce_compressed(x, out, M, CCL_FLOAT32, CCL_SUM, c, comm) == CCL_SUCCESS &&
         ccl_allreduce(x, want, M, CCL_FLOAT32, CCL_SUM, comm) == CCL_SUCCESS &&
         memcmp(out, want, M * 4) == 0;
    ccl_compressor_destroy(c);
    if (!ok)
        fprintf(stderr, "powersgd: %s\n", ccl_get_last_error(comm));
    free(x);
    free(out);
    free(want);
    free(res);
    free(sent);
    free(gsum);
    return ok;
}

/* In place (sendbuf == recvbuf) gives the bits of out of place, for every algorithm, with
 * and without error feedback (without it the algorithms read the caller's buffer itself). */
static int t_in_place(ccl_comm_t comm, int rank, int p)
{
    static const char *const specs[] = {
        "int:bits=8,ef=none,algo=sra", "int:bits=8,algo=sra", "int:bits=4,ef=none,algo=ring",
        "int:bits=8,ef=none,algo=tree", "topk:ratio=0.01,ef=none", "topk:ratio=0.01,ef=none,algo=sparse_rd",
        "topk:ratio=0.01,ef=none,algo=sparse_split", "powersgd:rank=2,rows=73,ef=none",
        "sign:scale=none"};
    const size_t n = 73 * 137;
    float *x = malloc(n * 4), *out = malloc(n * 4), *y = malloc(n * 4);
    int ok = 1;
    for (size_t s = 0; ok && s < sizeof(specs) / sizeof(specs[0]); s++) {
        ccl_compressor_t a = mk(comm, specs[s], n, CCL_FLOAT32), b = mk(comm, specs[s], n, CCL_FLOAT32);
        ok = a != NULL && b != NULL;
        for (int call = 0; ok && call < 2; call++) {
            for (size_t i = 0; i < n; i++)
                y[i] = x[i] = uval(rank, i, call);
            /* out of place through the stream entry point (host buffers, no stream) */
            ok = ccl_allreduce_compressed_stream(x, out, n, CCL_FLOAT32, CCL_SUM, a, comm, NULL) == CCL_SUCCESS &&
                 ccl_allreduce_compressed(y, y, n, CCL_FLOAT32, CCL_SUM, b, comm) == CCL_SUCCESS &&
                 memcmp(out, y, n * 4) == 0;
            if (!ok)
                fprintf(stderr, "%s: in place differs from out of place (call %d)\n", specs[s], call);
        }
        ccl_compressor_destroy(a);
        ccl_compressor_destroy(b);
    }
    free(x);
    free(out);
    free(y);
    (void)p;
    return ok;
}

/* The algorithm a spec without algo= gets (ccl_compressor_spec names it). */
static int spec_algo_is(ccl_comm_t comm, const char *spec, size_t n, const char *want)
{
    ccl_compressor_t c = mk(comm, spec, n, CCL_FLOAT32);
    char key[64];
    snprintf(key, sizeof(key), ",algo=%s", want);
    int ok = c != NULL && strstr(ccl_compressor_spec(c), key) != NULL;
    if (c != NULL && !ok)
        fprintf(stderr, "'%s' for %zu elements: %s, want algo=%s\n", spec, n,
                ccl_compressor_spec(c), want);
    ccl_compressor_destroy(c);
    return ok;
}

/* Dense codecs: the cost model's choice, latency-bound small buffers to the tree from 4
 * ranks (where it takes 2 log2 P steps against sra's 2 (P - 1) messages), everything else to
 * sra; the chosen algorithm gives the bits the named one does. */
static int t_default_algo(ccl_comm_t comm, int rank, int p)
{
    enum { SMALL = 1000 };
    const char *small_algo = p >= 4 ? "tree" : "sra";
    float x[SMALL], out[SMALL], want[SMALL];
    char named[64];
    int ok = spec_algo_is(comm, "int:bits=8", SMALL, small_algo) &&
             spec_algo_is(comm, "int:bits=8", (size_t)1 << 22, "sra") &&
             spec_algo_is(comm, "qsgd:bits=4", (size_t)1 << 22, "sra") &&
             spec_algo_is(comm, "int:bits=8,algo=ring", SMALL, "ring") &&
             spec_algo_is(comm, "topk:ratio=0.01", SMALL, "sparse_allgather") &&
             spec_algo_is(comm, "sign:scale=none", SMALL, "sign_vote");
    snprintf(named, sizeof(named), "int:bits=8,ef=none,algo=%s", small_algo);
    ccl_compressor_t a = mk(comm, "int:bits=8,ef=none", SMALL, CCL_FLOAT32),
                     b = mk(comm, named, SMALL, CCL_FLOAT32);
    for (size_t i = 0; i < SMALL; i++)
        x[i] = uval(rank, i, 0);
    ok = ok && a != NULL && b != NULL &&
         ccl_allreduce_compressed(x, out, SMALL, CCL_FLOAT32, CCL_SUM, a, comm) == CCL_SUCCESS &&
         ccl_allreduce_compressed(x, want, SMALL, CCL_FLOAT32, CCL_SUM, b, comm) == CCL_SUCCESS &&
         memcmp(out, want, sizeof(out)) == 0 && same_everywhere(comm, out, SMALL);
    ccl_compressor_destroy(a);
    ccl_compressor_destroy(b);
    return ok;
}

/* The handle's own keys (ef=, weight=, algo=) among the codec's: the last of each wins, the
 * codec's keys pass through, bad values are refused, and the spec comes out normalised. */
static int t_spec_keys(ccl_comm_t comm)
{
    static const char *const bad[] = {"int:bits=8,weight=0", "int:bits=8,weight=2",
                                      "int:bits=8,weight=x", "int:bits=8,ef=dgc",
                                      "int:bits=8,ef=bogus", "int:bits=8,algo=nope",
                                      "int:bits=8,algo=sign_vote", "topk:ratio=0.1,algo=ring"};
    ccl_compressor_t c;
    int ok = 1;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (ccl_compressor_create(comm, bad[i], 100, CCL_FLOAT32, &c) != CCL_ERR_INVALID_ARG) {
            fprintf(stderr, "'%s' was not refused\n", bad[i]);
            ok = 0;
        }
    /* Counts whose byte sizes overflow are invalid arguments, not a lack of memory. */
    static const char *const specs[] = {"int:bits=8", "topk:ratio=0.01", "none", "auto"};
    static const size_t huge[] = {SIZE_MAX, SIZE_MAX / 2, SIZE_MAX / 4 + 1, SIZE_MAX / 16};
    for (size_t s = 0; s < 4; s++)
        for (size_t h = 0; h < 4; h++)
            if (ccl_compressor_create(comm, specs[s], huge[h], CCL_FLOAT32, &c) !=
                CCL_ERR_INVALID_ARG) {
                fprintf(stderr, "'%s' for %zu elements was not refused as invalid\n", specs[s],
                        huge[h]);
                ok = 0;
            }
    c = mk(comm, "int:ef=none,algo=tree,bits=4,ef=ef21w,weight=0.5,algo=ring", 100, CCL_FLOAT32);
    ok = ok && c != NULL &&
         strcmp(ccl_compressor_spec(c), "int:bits=4,ef=ef21w,algo=ring") == 0;
    if (c != NULL && !ok)
        fprintf(stderr, "normalised spec: %s\n", ccl_compressor_spec(c));
    ccl_compressor_destroy(c);
    return ok;
}

/* A count of 0 is valid for every codec and moves nothing; a count of 1 works too. */
static int t_empty(ccl_comm_t comm, int rank, int p)
{
    static const char *specs[] = {"int:bits=8", "qsgd:bits=4", "terngrad", "sign",
                                  "sign:scale=none", "topk:ratio=0.5", "dgc:ratio=0.5",
                                  "randomk:ratio=0.5", "threshold:t=0.5", "cast:type=bf16",
                                  "powersgd:rank=1,rows=1", "auto", "none"};
    float x[1] = {(float)rank + 1}, y[8] = {0};
    int ok = 1;
    for (size_t i = 0; i < sizeof(specs) / sizeof(specs[0]); i++)
        for (size_t n = 0; n < 2; n++) {
            ccl_compressor_t c = mk(comm, specs[i], n, CCL_FLOAT32);
            ok &= c != NULL;
            for (int it = 0; c != NULL && it < 3; it++) {
                ccl_result_t r = ccl_allreduce_compressed(x, y, n, CCL_FLOAT32, CCL_SUM, c, comm);
                if (r != CCL_SUCCESS) {
                    fprintf(stderr, "%s, count %zu: %s\n", specs[i], n, ccl_get_last_error(comm));
                    ok = 0;
                }
            }
            ccl_compressor_destroy(c);
        }
    (void)p;
    return ok;
}

/* Traffic counters: calls, refused steps, bytes in, and bytes sent (8-bit sends about a
 * quarter of what the exact ring does, which sends 2 (P-1)/P of the input). */
static int t_stats(ccl_comm_t comm, int rank, int p)
{
    enum { NS = 1 << 16 };
    static float x[NS], y[NS];
    ccl_compressor_t c = mk(comm, "int:bits=8,algo=sra", NS, CCL_FLOAT32);
    ccl_stats_t cs, before, after;
    int ok = c != NULL && ccl_comm_get_stats(comm, &before) == CCL_SUCCESS;
    for (int i = 0; i < NS; i++)
        x[i] = (float)(i % 101) / 50.0f - 1.0f;
    for (int it = 0; ok && it < 3; it++)
        ok &= ccl_allreduce_compressed(x, y, NS, CCL_FLOAT32, CCL_SUM, c, comm) == CCL_SUCCESS;
    x[5] = rank == p - 1 ? NAN : x[5];
    ok &= ccl_allreduce_compressed(x, y, NS, CCL_FLOAT32, CCL_SUM, c, comm) == CCL_ERR_INVALID_ARG;
    ok &= ccl_compressor_get_stats(c, &cs) == CCL_SUCCESS &&
          ccl_comm_get_stats(comm, &after) == CCL_SUCCESS;
    double exact = 4.0 * 2.0 * (p - 1) / p * NS * sizeof(float);
    ok &= cs.calls == 4 && cs.skipped == 1 && cs.bytes_in == 4u * NS * sizeof(float);
    ok &= p == 1 ? cs.bytes_sent == 0 : cs.bytes_sent > 0 && cs.bytes_sent < 0.35 * exact;
    ok &= after.calls - before.calls == 4 && after.skipped - before.skipped == 1 &&
          after.bytes_sent - before.bytes_sent >= cs.bytes_sent;
    ok &= ccl_compressor_get_stats(c, NULL) == CCL_ERR_INVALID_ARG &&
          ccl_comm_get_stats(NULL, &cs) == CCL_ERR_INVALID_ARG;
    if (!ok)
        fprintf(stderr, "rank %d: stats calls %llu skipped %llu in %llu sent %llu (exact %.0f)\n",
                rank, (unsigned long long)cs.calls, (unsigned long long)cs.skipped,
                (unsigned long long)cs.bytes_in, (unsigned long long)cs.bytes_sent, exact);
    ccl_compressor_destroy(c);
    return ok;
}

/* ccl_reduce_scatter_compressed: rank r's shard of n = p * RS elements, summed from the
 * others' encoded parts and its own unencoded part. */
#define RS 2503

static double rs_exact(int p, int rank, size_t i, int call)
{
    double e = 0;
    for (int q = 0; q < p; q++)
        e += uval(q, (size_t)rank * RS + i, call);
    return e;
}

/* One quantization of each other rank's part: within (p - 1) units (sum and average); with
 * classic error feedback over 20 calls the sums of the outputs stay within (p - 1) units of
 * the sums of the exact results (telescoping: every residual is under one unit). */
static int t_rs_bound(ccl_comm_t comm, int rank, int p, const char *spec, double unit, int ef)
{
    const size_t n = (size_t)p * RS;
    float *x = malloc(n * 4), *out = malloc(RS * 4);
    double *acc = calloc(RS, sizeof(double)), *want = calloc(RS, sizeof(double));
    ccl_compressor_t c = mk(comm, spec, n, CCL_FLOAT32);
    int ok = c != NULL, calls = ef ? 20 : 2;
    for (int call = 0; call < calls && ok; call++) {
        ccl_redop_t op = !ef && call == 1 ? CCL_AVG : CCL_SUM;
        for (size_t i = 0; i < n; i++)
            x[i] = uval(rank, i, call);
        ok = ccl_reduce_scatter_compressed(x, out, RS, CCL_FLOAT32, op, c, comm) == CCL_SUCCESS;
        for (size_t i = 0; i < RS && ok; i++) {
            double e = rs_exact(p, rank, i, call) / (op == CCL_AVG ? p : 1);
            acc[i] += out[i];
            want[i] += e;
            double tol = unit * (p - 1) / (op == CCL_AVG ? p : 1) + 1e-5;
            if (!ef && fabs(out[i] - e) > tol) {
                fprintf(stderr, "rs %s: [%zu] %g vs exact %g (tol %g)\n", spec, i, out[i], e, tol);
                ok = 0;
            }
        }
    }
    for (size_t i = 0; i < RS && ok && ef; i++)
        if (fabs(acc[i] - want[i]) > unit * (p - 1) + 1e-3) {
            fprintf(stderr, "rs %s: [%zu] sum over calls %g vs %g\n", spec, i, acc[i], want[i]);
            ok = 0;
        }
    ccl_compressor_destroy(c);
    free(x);
    free(out);
    free(acc);
    free(want);
    return ok;
}

/* Values fp16 holds exactly, through the cast codec: the exact reduce-scatter's bits; in
 * place through the stream entry point (host buffers), the same bits; "none" and "auto" are
 * the exact reduce-scatter. */
static int t_rs_exact_paths(ccl_comm_t comm, int rank, int p)
{
    static const char *const specs[] = {"cast:type=fp16,ef=none", "none", "auto"};
    const size_t n = (size_t)p * RS;
    float *x = malloc(n * 4), *y = malloc(n * 4), *out = malloc(RS * 4), *want = malloc(RS * 4);
    int ok = 1;
    for (size_t i = 0; i < n; i++)
        y[i] = x[i] = (float)((int)((rank + 1) * i % 61) - 30);
    ok = ccl_reduce_scatter(x, want, RS, CCL_FLOAT32, CCL_SUM, comm) == CCL_SUCCESS;
    for (size_t s = 0; ok && s < sizeof(specs) / sizeof(specs[0]); s++) {
        ccl_compressor_t c = mk(comm, specs[s], n, CCL_FLOAT32);
        float *own = y + (size_t)rank * RS;
        memcpy(y, x, n * 4);
        ok = c != NULL &&
             ccl_reduce_scatter_compressed(x, out, RS, CCL_FLOAT32, CCL_SUM, c, comm) == CCL_SUCCESS &&
             memcmp(out, want, RS * 4) == 0 &&
             ccl_reduce_scatter_compressed_stream(y, own, RS, CCL_FLOAT32, CCL_SUM, c, comm, NULL) == CCL_SUCCESS &&
             memcmp(own, want, RS * 4) == 0;
        if (!ok)
            fprintf(stderr, "rs %s: differs from the exact reduce-scatter: %s\n", specs[s],
                    ccl_get_last_error(comm));
        ccl_compressor_destroy(c);
    }
    free(x);
    free(y);
    free(out);
    free(want);
    return ok;
}

/* A NaN on one rank (first or last element; with error feedback, and left to the sparse
 * encoder without it): every rank returns CCL_ERR_INVALID_ARG, the next call works. */
static int t_rs_nan(ccl_comm_t comm, int rank, int p, const char *spec, size_t at)
{
    const size_t n = (size_t)p * RS;
    float *x = malloc(n * 4), *out = malloc(RS * 4);
    ccl_compressor_t c = mk(comm, spec, n, CCL_FLOAT32);
    for (size_t i = 0; i < n; i++)
        x[i] = uval(rank, i, 3);
    int ok = c != NULL;
    if (rank == p - 1)
        x[at] = NAN;
    ccl_result_t r = ok ? ccl_reduce_scatter_compressed(x, out, RS, CCL_FLOAT32, CCL_SUM, c, comm)
                        : CCL_ERR_INTERNAL;
    x[at] = 0.5f;
    ok = ok && r == CCL_ERR_INVALID_ARG &&
         ccl_reduce_scatter_compressed(x, out, RS, CCL_FLOAT32, CCL_SUM, c, comm) == CCL_SUCCESS;
    if (!ok)
        fprintf(stderr, "rs NaN %s at %zu: %d %s\n", spec, at, (int)r, ccl_get_last_error(comm));
    ccl_compressor_destroy(c);
    free(x);
    free(out);
    return ok;
}

/* Refused before anything moves: powersgd, EF21, a compressor of another count. The
 * nonblocking form gives the blocking one's bits; the traffic is one phase of the
 * allreduce's two. */
static int t_rs_api(ccl_comm_t comm, int rank, int p)
{
    const size_t n = (size_t)p * RS;
    float *x = malloc(n * 4), *out = malloc(n * 4), *out2 = malloc(RS * 4);
    char pspec[64];
    snprintf(pspec, sizeof(pspec), "powersgd:rank=1,rows=%d", p); /* one rank: no smaller */
    ccl_compressor_t ps = mk(comm, pspec, n, CCL_FLOAT32),
                     e21 = mk(comm, "int:bits=8,ef=ef21", n, CCL_FLOAT32),
                     small = mk(comm, "int:bits=8", RS, CCL_FLOAT32),
                     a = mk(comm, "int:bits=8,algo=sra", n, CCL_FLOAT32),
                     b = mk(comm, "int:bits=8,algo=sra", n, CCL_FLOAT32);
    ccl_stats_t sa = {0}, sb = {0};
    ccl_request_t req = NULL;
    for (size_t i = 0; i < n; i++)
        x[i] = uval(rank, i, 4);
    int ok = ps && e21 && small && a && b;
    ok = ok && (p == 1 || ccl_reduce_scatter_compressed(x, out, RS, CCL_FLOAT32, CCL_SUM, small, comm) == CCL_ERR_INVALID_ARG);
    ok = ok && (p == 1 ||
                (ccl_reduce_scatter_compressed(x, out, RS, CCL_FLOAT32, CCL_SUM, ps, comm) == CCL_ERR_INVALID_ARG &&
                 strstr(ccl_get_last_error(comm), "powersgd") != NULL));
    ok = ok && ccl_reduce_scatter_compressed(x, out, RS, CCL_FLOAT32, CCL_SUM, e21, comm) == CCL_ERR_INVALID_ARG &&
         strstr(ccl_get_last_error(comm), "EF21") != NULL;
    ok = ok && ccl_reduce_scatter_compressed(NULL, out, RS, CCL_FLOAT32, CCL_SUM, a, comm) == CCL_ERR_INVALID_ARG;
    for (int call = 0; ok && call < 2; call++)
        ok = ccl_ireduce_scatter_compressed(x, out2, RS, CCL_FLOAT32, CCL_SUM, a, comm, &req) == CCL_SUCCESS &&
             ccl_wait(&req) == CCL_SUCCESS &&
             ccl_reduce_scatter_compressed(x, out, RS, CCL_FLOAT32, CCL_SUM, b, comm) == CCL_SUCCESS &&
             memcmp(out, out2, RS * 4) == 0;
    ok = ok && ccl_compressor_get_stats(a, &sa) == CCL_SUCCESS &&
         ccl_allreduce_compressed(x, out, n, CCL_FLOAT32, CCL_SUM, b, comm) == CCL_SUCCESS &&
         ccl_compressor_get_stats(b, &sb) == CCL_SUCCESS;
    /* b: two reduce-scatters (as a's two) and one allreduce. */
    ok = ok && sa.calls == 2 && sa.bytes_in == 2 * n * 4 &&
         (p == 1 ? sa.bytes_sent == 0
                 : sa.bytes_sent < 0.3 * 2 * n * 4 && 2 * (sb.bytes_sent - sa.bytes_sent) > 1.6 * sa.bytes_sent);
    if (!ok)
        fprintf(stderr, "rs api: %s (sent %llu, allreduce %llu)\n", ccl_get_last_error(comm),
                (unsigned long long)sa.bytes_sent, (unsigned long long)(sb.bytes_sent - sa.bytes_sent));
    ccl_compressor_destroy(ps);
    ccl_compressor_destroy(e21);
    ccl_compressor_destroy(small);
    ccl_compressor_destroy(a);
    ccl_compressor_destroy(b);
    free(x);
    free(out);
    free(out2);
    return ok;
}

/* The largest error of out against the exact sum of layout_grad over p ranks, outside the
 * large tensor [8, 608). */
static float small_err(const float *out, size_t n, int p, int step);

/* The gradients of layout_dense: a tensor of values x1000 beside small ones. */
static float layout_grad(size_t i, int rank, int step)
{
    return sinf((float)(rank * 1.3 + step + (double)i * 0.7)) * (i >= 8 && i < 608 ? 1000.0f : 1.0f);
}

static float small_err(const float *out, size_t n, int p, int step)
{
    float worst = 0;
    for (size_t i = 0; i < n; i++) {
        float want = 0;
        for (int r = 0; r < p; r++)
            want += layout_grad(i, r, step);
        if (i < 8 || i >= 608)
            worst = fmaxf(worst, fabsf(out[i] - want));
    }
    return worst;
}

/* Dense codecs with a layout scale every tensor apart, through every algorithm that cuts the
 * buffer in pieces: int8's error on the small tensors stays within their own scale (about
 * 0.01 a rank), where a flat int8 shares the large tensor's buckets and its scale; terngrad's
 * agreed scales are per tensor, so the small tensors keep many nonzeros, where one scale for
 * the buffer zeroes almost all of them. */
static int layout_dense(ccl_comm_t comm, int rank, int p, const ccl_tensor_t *lay, int nt, size_t n)
{
    static const char *const algos[] = {"sra", "ring", "tree"};
    float *g = malloc(n * sizeof(float)), *out = malloc(n * sizeof(float));
    int ok = 1;
    char spec[64];
    for (size_t i = 0; i < n; i++)
        g[i] = layout_grad(i, rank, 0);
    for (int a = 0; a < 3; a++) {
        snprintf(spec, sizeof(spec), "int:bits=8,bucket=64,ef=none,algo=%s", algos[a]);
        ccl_compressor_t per = mk(comm, spec, n, CCL_FLOAT32), flat = mk(comm, spec, n, CCL_FLOAT32);
        float e_per = 1e9f, e_flat = 0;
        if (per != NULL && flat != NULL && ccl_compressor_set_layout(per, nt, lay) == CCL_SUCCESS &&
            ccl_allreduce_compressed(g, out, n, CCL_FLOAT32, CCL_SUM, per, comm) == CCL_SUCCESS) {
            e_per = small_err(out, n, p, 0);
            if (ccl_allreduce_compressed(g, out, n, CCL_FLOAT32, CCL_SUM, flat, comm) == CCL_SUCCESS)
                e_flat = small_err(out, n, p, 0);
        }
        /* Two quantizations of values within +-1 a rank (+-p summed), 255 steps each. */
        const int good = e_per <= 0.012f * (float)p && (p == 1 || e_flat > 0.5f);
        if (!good)
            fprintf(stderr, "rank %d: int8 %s with a layout: error %g on the small tensors "
                    "(flat %g): %s\n", rank, algos[a], e_per, e_flat, ccl_get_last_error(comm));
        ok &= good;
        ccl_compressor_destroy(per);
        ccl_compressor_destroy(flat);
    }
    ccl_compressor_t tp = mk(comm, "terngrad:ef=none", n, CCL_FLOAT32),
                     tf = mk(comm, "terngrad:ef=none", n, CCL_FLOAT32);
    size_t nz_per = 0, nz_flat = 0, small = n - 600;
    ok &= tp != NULL && tf != NULL && ccl_compressor_set_layout(tp, nt, lay) == CCL_SUCCESS &&
          ccl_allreduce_compressed(g, out, n, CCL_FLOAT32, CCL_SUM, tp, comm) == CCL_SUCCESS;
    for (size_t i = 0; ok && i < n; i++)
        nz_per += (i < 8 || i >= 608) && out[i] != 0.0f;
    ok &= ccl_allreduce_compressed(g, out, n, CCL_FLOAT32, CCL_SUM, tf, comm) == CCL_SUCCESS;
    for (size_t i = 0; ok && i < n; i++)
        nz_flat += (i < 8 || i >= 608) && out[i] != 0.0f;
    if (nz_per < small / 5 || nz_flat > small / 12) {
        fprintf(stderr, "rank %d: terngrad nonzeros on the small tensors: %zu with a layout, "
                "%zu flat, of %zu\n", rank, nz_per, nz_flat, small);
        ok = 0;
    }
    ccl_compressor_destroy(tp);
    ccl_compressor_destroy(tf);
    free(g);
    free(out);
    return ok;
}

/* PowerSGD with a layout: every tensor with a 2-D shape that pays approximated with its own
 * P, Q and warm start, the rest exact, in two allreduces for the whole buffer. Equal to a
 * compressor per tensor ("powersgd:rank=2,rows=R" for the matrices, "none" for the rest) over
 * steps with error feedback: bit for bit on 2 ranks, where a sum of two is the same whatever
 * the order, within float rounding on more. */
static int t_powersgd_layout(ccl_comm_t comm, int rank, int p)
{
    static const ccl_tensor_t lay[] = {{7, 0, 0}, {600, 20, 30}, {33, 3, 11}, {2000, 0, 0},
                                       {1, 0, 0}, {16, 4, 4}};
    static const char *const sep_spec[] = {"none", "powersgd:rank=2,rows=20",
                                           "powersgd:rank=2,rows=3", "none", "none", "none"};
    const int nt = 6;
    const size_t n = 2657;
    float *g = malloc(n * sizeof(float)), *out = malloc(n * sizeof(float)),
          *want = malloc(n * sizeof(float)), *again = malloc(n * sizeof(float));
    ccl_compressor_t c = mk(comm, "powersgd:rank=2", n, CCL_FLOAT32), sep[6];
    int ok = c != NULL;
    /* No matrix yet: refused before anything is sent. */
    ok &= ccl_allreduce_compressed(g, out, n, CCL_FLOAT32, CCL_SUM, c, comm) == CCL_ERR_INVALID_ARG &&
          strstr(ccl_get_last_error(comm), "rows=") != NULL;
    ok &= ccl_compressor_set_layout(c, nt, lay) == CCL_SUCCESS;
    for (int t = 0; t < nt; t++)
        sep[t] = mk(comm, sep_spec[t], lay[t].count, CCL_FLOAT32);
    uint8_t *saved = NULL;
    size_t saved_len = 0;
    for (int step = 0; ok && step < 4; step++) {
        for (size_t i = 0; i < n; i++)
            g[i] = sinf((float)(rank * 1.3 + step * 0.4 + (double)i * 0.7)) + 0.01f * (float)(i % 13);
        if (step == 2) { /* the state before step 2, restored below */
            saved_len = ccl_compressor_state_size(c);
            saved = malloc(saved_len);
            ok &= ccl_compressor_save(c, saved, saved_len, &saved_len) == CCL_SUCCESS;
        }
        ok &= ccl_allreduce_compressed(g, out, n, CCL_FLOAT32, CCL_AVG, c, comm) == CCL_SUCCESS;
        for (int t = 0, at = 0; t < nt; at += (int)lay[t].count, t++)
            ok &= ccl_allreduce_compressed(g + at, want + at, lay[t].count, CCL_FLOAT32, CCL_AVG,
                                           sep[t], comm) == CCL_SUCCESS;
        double worst = 0, top = 0;
        for (size_t i = 0; i < n; i++) {
            worst = fmax(worst, fabs(out[i] - want[i]));
            top = fmax(top, fabs(want[i]));
        }
        const int same = memcmp(out, want, n * sizeof(float)) == 0;
        if (p <= 2 ? !same : worst > 1e-4 * top) {
            fprintf(stderr, "rank %d: powersgd layout step %d differs by %g of %g\n", rank, step,
                    worst, top);
            ok = 0;
        }
    }
    /* The state saved before step 2, restored into c and into a new compressor: step 2 again
     * gives both the same bits. */
    for (size_t i = 0; ok && i < n; i++)
        g[i] = sinf((float)(rank * 1.3 + 2 * 0.4 + (double)i * 0.7)) + 0.01f * (float)(i % 13);
    ccl_compressor_t d = mk(comm, "powersgd:rank=2", n, CCL_FLOAT32);
    ok &= d != NULL && ccl_compressor_set_layout(d, nt, lay) == CCL_SUCCESS &&
          ccl_compressor_restore(d, saved, saved_len) == CCL_SUCCESS &&
          ccl_compressor_restore(c, saved, saved_len) == CCL_SUCCESS &&
          ccl_allreduce_compressed(g, out, n, CCL_FLOAT32, CCL_AVG, c, comm) == CCL_SUCCESS &&
          ccl_allreduce_compressed(g, again, n, CCL_FLOAT32, CCL_AVG, d, comm) == CCL_SUCCESS &&
          memcmp(out, again, n * sizeof(float)) == 0;
    /* A checkpoint cut short (a warm start missing) is refused. */
    ok &= ccl_compressor_restore(d, saved, saved_len - 4) == CCL_ERR_INVALID_PAYLOAD;
    if (!ok)
        fprintf(stderr, "rank %d: powersgd layout checkpoint: %s\n", rank, ccl_get_last_error(comm));
    /* A NaN on the last rank: every rank skips, then goes on. */
    if (rank == p - 1)
        g[n - 1] = NAN;
    ok &= ccl_allreduce_compressed(g, out, n, CCL_FLOAT32, CCL_AVG, c, comm) == CCL_ERR_INVALID_ARG;
    g[n - 1] = 0;
    ok &= ccl_allreduce_compressed(g, out, n, CCL_FLOAT32, CCL_AVG, c, comm) == CCL_SUCCESS;
    for (int t = 0; t < nt; t++)
        ccl_compressor_destroy(sep[t]);
    ccl_compressor_destroy(c);
    ccl_compressor_destroy(d);
    free(saved);
    free(g);
    free(out);
    free(want);
    free(again);
    return ok;
}

/* ccl_compressor_copy_state: a tensor's state moved from one buffer to another (as DDP's
 * bucket rebuild moves a gradient) carries on as if it had stayed: after 2 steps in buffer
 * [T, U] and one in [U', T], T's sums equal those of a compressor of T alone over the 3
 * steps, bit for bit (top-k selects per tensor). Other specs, and ranges outside either
 * buffer, are refused. */
static int t_copy_state(ccl_comm_t comm, int rank, int p)
{
    const ccl_tensor_t la[] = {{600, 20, 30}, {100, 0, 0}}, lb[] = {{50, 0, 0}, {600, 20, 30}};
    const char *spec = "topk:ratio=0.05";
    float *g = malloc(700 * sizeof(float)), *out = malloc(700 * sizeof(float)),
          *want = malloc(600 * sizeof(float));
    ccl_compressor_t x = mk(comm, spec, 600, CCL_FLOAT32), a = mk(comm, spec, 700, CCL_FLOAT32),
                     b = mk(comm, spec, 650, CCL_FLOAT32),
                     q = mk(comm, "int:bits=8", 650, CCL_FLOAT32);
    int ok = x && a && b && q && ccl_compressor_set_layout(a, 2, la) == CCL_SUCCESS &&
             ccl_compressor_set_layout(b, 2, lb) == CCL_SUCCESS;
    for (int step = 0; ok && step < 3; step++) {
        for (size_t i = 0; i < 700; i++)
            g[i] = sinf((float)(rank * 1.1 + step * 0.3 + (double)i * 0.9)) * (1.0f + (float)(i % 7));
        /* T is g[0, 600) in every buffer. */
        ok &= ccl_allreduce_compressed(g, want, 600, CCL_FLOAT32, CCL_SUM, x, comm) == CCL_SUCCESS;
        if (step < 2) {
            ok &= ccl_allreduce_compressed(g, out, 700, CCL_FLOAT32, CCL_SUM, a, comm) == CCL_SUCCESS &&
                  memcmp(out, want, 600 * sizeof(float)) == 0;
            continue;
        }
        ok &= ccl_compressor_copy_state(b, 50, a, 0, 600) == CCL_SUCCESS;
        float *gb = malloc(650 * sizeof(float));
        memcpy(gb, g + 600, 50 * sizeof(float));
        memcpy(gb + 50, g, 600 * sizeof(float));
        ok &= ccl_allreduce_compressed(gb, out, 650, CCL_FLOAT32, CCL_SUM, b, comm) == CCL_SUCCESS &&
              memcmp(out + 50, want, 600 * sizeof(float)) == 0;
        free(gb);
    }
    if (!ok)
        fprintf(stderr, "rank %d: state moved between buffers differs: %s\n", rank,
                ccl_get_last_error(comm));
    ok &= ccl_compressor_copy_state(q, 0, a, 0, 600) == CCL_ERR_INVALID_ARG &&
          ccl_compressor_copy_state(b, 51, a, 0, 600) == CCL_ERR_INVALID_ARG &&
          ccl_compressor_copy_state(b, 0, a, 101, 600) == CCL_ERR_INVALID_ARG &&
          ccl_compressor_copy_state(b, 0, NULL, 0, 1) == CCL_ERR_INVALID_ARG;
    ccl_compressor_destroy(x);
    ccl_compressor_destroy(a);
    ccl_compressor_destroy(b);
    ccl_compressor_destroy(q);
    free(g);
    free(out);
    free(want);
    (void)p;
    return ok;
}

/* Layouts (ccl_compressor_set_layout): top-k per tensor equals a compressor per tensor, bit
 * for bit, over steps with error feedback (a large tensor beside small ones, which a flat
 * top-k would starve); random-k keeps exactly k = ceil(ratio x count) of every tensor; DGC
 * some of every tensor; n = 0 gives the flat bits; every bad layout refused with its fault. */
static int t_layout(ccl_comm_t comm, int rank, int p)
{
    static const ccl_tensor_t lay[] = {{7, 0, 0}, {1, 0, 0}, {600, 20, 30}, {33, 3, 11},
                                       {2000, 0, 0}};
    const int nt = 5;
    const size_t n = 2641;
    size_t off[5];
    float *g = malloc(n * sizeof(float)), *out = malloc(n * sizeof(float)),
          *want = malloc(n * sizeof(float));
    ccl_compressor_t c = mk(comm, "topk:ratio=0.05", n, CCL_FLOAT32), sep[5];
    int ok = c != NULL && ccl_compressor_set_layout(c, nt, lay) == CCL_SUCCESS;
    for (int t = 0, at = 0; t < nt; at += (int)lay[t].count, t++) {
        off[t] = (size_t)at;
        sep[t] = mk(comm, "topk:ratio=0.05", lay[t].count, CCL_FLOAT32);
    }
    for (int step = 0; ok && step < 3; step++) {
        for (size_t i = 0; i < n; i++)
            g[i] = sinf((float)(rank * 1.3 + step + (double)i * 0.7)) * (i >= 8 && i < 608 ? 100.0f : 1.0f);
        ok &= ccl_allreduce_compressed(g, out, n, CCL_FLOAT32, CCL_SUM, c, comm) == CCL_SUCCESS;
        for (int t = 0; t < nt; t++)
            ok &= ccl_allreduce_compressed(g + off[t], want + off[t], lay[t].count, CCL_FLOAT32,
                                           CCL_SUM, sep[t], comm) == CCL_SUCCESS;
        ok &= memcmp(out, want, n * sizeof(float)) == 0;
    }
    if (!ok)
        fprintf(stderr, "rank %d: topk by tensor differs: %s\n", rank, ccl_get_last_error(comm));
    /* random-k: every rank draws the same indices, k of each tensor. */
    ccl_compressor_t rk = mk(comm, "randomk:ratio=0.1,ef=none", n, CCL_FLOAT32);
    for (size_t i = 0; i < n; i++)
        g[i] = 1.0f + (float)rank;
    ok &= rk != NULL && ccl_compressor_set_layout(rk, nt, lay) == CCL_SUCCESS &&
          ccl_allreduce_compressed(g, out, n, CCL_FLOAT32, CCL_SUM, rk, comm) == CCL_SUCCESS;
    for (int t = 0; ok && t < nt; t++) {
        size_t kept = 0, k = (size_t)ceil(0.1 * (double)lay[t].count);
        for (size_t i = 0; i < lay[t].count; i++)
            kept += out[off[t] + i] != 0.0f;
        ok &= kept == (k < 1 ? 1 : k);
        if (kept != (k < 1 ? 1 : k))
            fprintf(stderr, "rank %d: randomk tensor %d kept %zu of %zu\n", rank, t, kept,
                    lay[t].count);
    }
    /* DGC: some of every tensor, the 1-element one included. */
    ccl_compressor_t dg = mk(comm, "dgc:ratio=0.01", n, CCL_FLOAT32);
    ok &= dg != NULL && ccl_compressor_set_layout(dg, nt, lay) == CCL_SUCCESS &&
          ccl_allreduce_compressed(g, out, n, CCL_FLOAT32, CCL_SUM, dg, comm) == CCL_SUCCESS;
    for (int t = 0; ok && t < nt; t++) {
        size_t kept = 0;
        for (size_t i = 0; i < lay[t].count; i++)
            kept += out[off[t] + i] != 0.0f;
        ok &= kept >= 1;
    }
    /* A layout set and removed: the flat compressor's bits. */
    ccl_compressor_t a = mk(comm, "topk:ratio=0.05", n, CCL_FLOAT32),
                     b = mk(comm, "topk:ratio=0.05", n, CCL_FLOAT32);
    ok &= ccl_compressor_set_layout(a, nt, lay) == CCL_SUCCESS &&
          ccl_compressor_set_layout(a, 0, NULL) == CCL_SUCCESS &&
          ccl_allreduce_compressed(g, out, n, CCL_FLOAT32, CCL_SUM, a, comm) == CCL_SUCCESS &&
          ccl_allreduce_compressed(g, want, n, CCL_FLOAT32, CCL_SUM, b, comm) == CCL_SUCCESS &&
          memcmp(out, want, n * sizeof(float)) == 0;
    /* Refusals, each naming its fault; the compressor keeps its layout and works. */
    const ccl_tensor_t short_sum[] = {{7, 0, 0}, {1, 0, 0}},
                       empty[] = {{0, 0, 0}, {n, 0, 0}}, shape[] = {{7, 2, 3}, {n - 7, 0, 0}};
    ccl_tensor_t *many = calloc(n + 1, sizeof(ccl_tensor_t));
    for (size_t i = 0; i <= n; i++)
        many[i].count = 1;
#define REFUSED(comp, nn, t, code, words)                                                      \
    (ccl_compressor_set_layout(comp, nn, t) == (code) &&                                       \
     strstr(ccl_get_last_error(NULL), words) != NULL)
    ok &= REFUSED(c, 2, short_sum, CCL_ERR_INVALID_ARG, "sum to 8") &&
          REFUSED(c, 2, empty, CCL_ERR_INVALID_ARG, "tensor 0 has no elements") &&
          REFUSED(c, 2, shape, CCL_ERR_INVALID_ARG, "tensor 0 is 2 x 3") &&
          REFUSED(c, (int)n + 1, many, CCL_ERR_INVALID_ARG, "too many tensors") &&
          REFUSED(c, -1, lay, CCL_ERR_INVALID_ARG, "layout of -1");
    ccl_compressor_t i8 = mk(comm, "int:bits=8", n, CCL_FLOAT32),
                     rd = mk(comm, "topk:ratio=0.05,algo=sparse_rd", n, CCL_FLOAT32),
                     fk = mk(comm, "topk:k=10", n, CCL_FLOAT32),
                     ps = mk(comm, "powersgd:rank=2,rows=139", n, CCL_FLOAT32),
                     rd1 = mk(comm, "topk:ratio=0.05,dense_1d=1,algo=sparse_rd", n, CCL_FLOAT32);
    /* One vector under dense_1d goes whole, which an algorithm encoding pieces cannot do;
     * one tensor otherwise selects as the whole buffer does, with any algorithm. */
    const ccl_tensor_t one_vec[] = {{n, 0, 0}};
    ok &= ccl_compressor_set_layout(ps, nt, lay) == CCL_SUCCESS &&
          REFUSED(rd, nt, lay, CCL_ERR_UNSUPPORTED, "sparse_allgather") &&
          ccl_compressor_set_layout(rd, 1, one_vec) == CCL_SUCCESS &&
          REFUSED(rd1, 1, one_vec, CCL_ERR_UNSUPPORTED, "sparse_hier") &&
          REFUSED(fk, nt, lay, CCL_ERR_INVALID_ARG, "k=10") &&
          ccl_compressor_set_layout(i8, 1, (ccl_tensor_t[]){{n, 0, 0}}) == CCL_SUCCESS;
    /* auto passes it to the compressor it uses (int8: scales per tensor). */
    ccl_compressor_t au = mk(comm, "auto", n, CCL_FLOAT32);
    ok &= au != NULL && ccl_compressor_set_layout(au, nt, lay) == CCL_SUCCESS &&
          ccl_allreduce_compressed(g, out, n, CCL_FLOAT32, CCL_SUM, au, comm) == CCL_SUCCESS;
    ccl_compressor_destroy(au);
    ccl_compressor_destroy(rd1);
    /* cast and threshold work per element: a layout is taken and changes no bit. */
    static const char *const per_element[] = {"cast:type=bf16", "threshold:t=0.5"};
    for (int e = 0; e < 2; e++) {
        ccl_compressor_t x = mk(comm, per_element[e], n, CCL_FLOAT32),
                         y = mk(comm, per_element[e], n, CCL_FLOAT32);
        ok &= ccl_compressor_set_layout(x, nt, lay) == CCL_SUCCESS &&
              ccl_allreduce_compressed(g, out, n, CCL_FLOAT32, CCL_SUM, x, comm) == CCL_SUCCESS &&
              ccl_allreduce_compressed(g, want, n, CCL_FLOAT32, CCL_SUM, y, comm) == CCL_SUCCESS &&
              memcmp(out, want, n * sizeof(float)) == 0;
        ccl_compressor_destroy(x);
        ccl_compressor_destroy(y);
    }
#undef REFUSED
    ok &= ccl_allreduce_compressed(g, out, n, CCL_FLOAT32, CCL_SUM, c, comm) == CCL_SUCCESS;
    ok &= layout_dense(comm, rank, p, lay, nt, n);
    free(many);
    for (int t = 0; t < nt; t++)
        ccl_compressor_destroy(sep[t]);
    ccl_compressor_destroy(c);
    ccl_compressor_destroy(rk);
    ccl_compressor_destroy(dg);
    ccl_compressor_destroy(a);
    ccl_compressor_destroy(b);
    ccl_compressor_destroy(i8);
    ccl_compressor_destroy(ps);
    ccl_compressor_destroy(rd);
    ccl_compressor_destroy(fk);
    free(g);
    free(out);
    free(want);
    return ok;
}

static const char *const names[] = {
    "int8 sra within bound", "int4 sra within bound", "qsgd sra within bound",
    "topk sparse_allgather exact (overlap, disjoint)", "topk sra exact (overlapping supports)",
    "telescoping identity over 100 calls", "checkpoint mid-run (int4, dgc; topk and dgc on 2^18 elements); corrupt and other ranks' checkpoints refused (int4, dgc, powersgd)", "EF21 and EF21-W fixed point",
    "sign majority vote", "terngrad shared scale; scale= fixes it", "fp16, int32, max fallbacks; allgather",
    "NaN on one rank skips the step everywhere (also found by the sparse encoders without error feedback)", "auto within int8 bound; NaN or Inf skips the step everywhere on its exact path too",
    "topk sparse_rd exact (overlap, disjoint, going dense)",
    "topk sparse_split exact (overlap, disjoint, going dense; bits of sparse_allgather)",
    "powersgd: rank-2 sum exact, telescoping, checkpoint, NaN, bad specs",
    "quantized ring (int8, int4 stochastic, qsgd) within bound; NaN",
    "quantized tree (int8, int4 stochastic, qsgd) within bound; NaN",
    "in place = out of place (through the stream entry point), bit for bit, every algorithm; sra in pipelined pieces within bound",
    "a sum that overflows float32: skipped everywhere (sra, ring, tree, sparse_rd, sparse_split), inf everywhere (sparse_allgather)",
    "spec without algo=: tree for a small buffer from 4 ranks, sra otherwise, the named algorithm's bits; sparse_allgather, sign_vote",
    "the handle's keys (ef=, weight=, algo=): the last of each wins, bad values refused, the spec normalised; counts that overflow refused as invalid",
    "counts 0 and 1 with every codec (powersgd too), auto and none",
    "traffic counters: calls, refused steps, bytes in, bytes sent (8-bit under 0.35x the exact ring's)",
    "reduce-scatter: int8, int4, qsgd, topk within one quantization; classic EF telescopes; fp16 exact, in place (_stream entry), none and auto as the exact one; NaN skips everywhere; powersgd, EF21, bad counts refused; nonblocking = blocking; half the allreduce's traffic",
    "layout: topk per tensor = a compressor per tensor, bit for bit, with error feedback; randomk k per tensor; dgc some of every tensor; removed = flat; cast and threshold unchanged; auto takes one; bad layouts refused naming the fault; int8 (sra, ring, tree) and terngrad scaled per tensor",
    "powersgd with a layout = a powersgd compressor per matrix and exact sums of the rest, over steps with error feedback and warm starts; checkpoint restored bit for bit, a cut one refused; NaN skips everywhere; without rows= or a layout refused; a tensor's state moved to another buffer (copy_state) carries on bit for bit, other specs and ranges refused",
};

#define NTESTS ((int)(sizeof(names) / sizeof(names[0])))
#define GROUP 7

/* Test t of names[]; nonzero if it passed. */
static int run_test(int t, ccl_comm_t comm, int rank, int p)
{
    switch (t) {
    /* A unit of 2/255 per rank for 8 bits on [-1, 1]; qsgd 4-bit with max norm: 1/7. */
    case 0:
        return t_quantized(comm, rank, p, "int:bits=8,ef=none,algo=sra", 2.0 / 255);
    case 1:
        return t_quantized(comm, rank, p, "int:bits=4,ef=none,round=stochastic,algo=sra", 2.0 / 15);
    case 2:
        return t_quantized(comm, rank, p, "qsgd:bits=4,ef=none,algo=sra", 2.0 / 7);
    case 3:
        return t_sparse(comm, rank, p, "sparse_allgather", 2);
    /* sra re-selects k per chunk after the sum: exact only while the sum keeps k nonzeros */
    case 4:
        return t_sparse(comm, rank, p, "sra", 1);
    case 5:
        return t_telescoping(comm, rank, p);
    case 6:
        /* 2^18 elements: topk and dgc select from a sample (large buffers) */
        return (t_checkpoint(comm, rank, "int:bits=4,round=stochastic") &&
               t_checkpoint(comm, rank, "dgc:ratio=0.01,warmup_steps=15") &&
               t_checkpoint_n(comm, rank, "topk:ratio=0.001", (size_t)1 << 18) &&
               t_checkpoint_n(comm, rank, "dgc:ratio=0.001", (size_t)1 << 18) &&
               t_checkpoint_corrupt(comm, rank, p, "int:bits=4") &&
               t_checkpoint_corrupt(comm, rank, p, "dgc:ratio=0.05") &&
               t_checkpoint_corrupt(comm, rank, p, "powersgd:rank=2,rows=40"));
    case 7:
        return (t_ef21(comm, rank, p, "ef21") && t_ef21(comm, rank, p, "ef21w"));
    case 8:
        return t_vote(comm, rank, p);
    case 9:
        return t_terngrad(comm, rank, p);
    case 10:
        return t_types(comm, rank, p);
    case 11:
        return (t_nan(comm, rank, p, "int:bits=8") && t_nan(comm, rank, p, "dgc:ratio=0.01") &&
               t_nan(comm, rank, p, "terngrad") && t_nan_first(comm, rank, p, "int:bits=8,algo=sra") &&
               t_nan_first(comm, rank, p, "dgc:ratio=0.01,warmup_steps=4,algo=sparse_allgather") &&
               t_nan_first(comm, rank, p, "topk:ratio=0.01,algo=sparse_rd") &&
               t_nan_first(comm, rank, p, "terngrad") && t_nan_no_ef(comm, rank, p));
    case 12: /* NaN and -inf on one rank, on a buffer auto sends exact (1 KB) and on one it may compress */
        return t_quantized(comm, rank, p, "auto", 2.0 / 255) && t_nan_n(comm, rank, p, "auto", 256) &&
               t_bad_step(comm, rank, p, "auto", 256, -INFINITY, 0, 1, 0) &&
               t_nan(comm, rank, p, "auto");
    case 13:
        return (t_sparse(comm, rank, p, "sparse_rd", 2) && t_sparse_dense(comm, rank, p, "sparse_rd") &&
               t_nan(comm, rank, p, "dgc:ratio=0.01,algo=sparse_rd"));
    case 14:
        return (t_sparse(comm, rank, p, "sparse_split", 2) &&
               t_sparse_dense(comm, rank, p, "sparse_split") &&
               t_nan(comm, rank, p, "dgc:ratio=0.01,algo=sparse_split"));
    case 15:
        return t_powersgd(comm, rank, p);
    case 16:
    case 17: {
        const char *algo = t == 16 ? "ring" : "tree";
        char s8[64], s4[80], sq[64], sn[64];
        snprintf(s8, sizeof(s8), "int:bits=8,ef=none,algo=%s", algo);
        snprintf(s4, sizeof(s4), "int:bits=4,ef=none,round=stochastic,algo=%s", algo);
        snprintf(sq, sizeof(sq), "qsgd:bits=4,ef=none,algo=%s", algo);
        snprintf(sn, sizeof(sn), "int:bits=8,algo=%s", algo);
        return t_requantized(comm, rank, p, s8, 2.0 / 255) &&
               t_requantized(comm, rank, p, s4, 2.0 / 15) &&
               t_requantized(comm, rank, p, sq, 2.0 / 7) && t_nan(comm, rank, p, sn);
    }
    case 18: /* in the last group: 4 KB chunks, so sra moves each segment in pieces */
        return t_in_place(comm, rank, p) &&
               t_quantized(comm, rank, p, "int:bits=8,ef=none,algo=sra", 2.0 / 255) &&
               t_nan(comm, rank, p, "int:bits=8,algo=sra") &&
               t_nan_last(comm, rank, p, "int:bits=8,algo=sra") &&
               t_nan_last(comm, rank, p, "dgc:ratio=0.01,algo=sra") &&
               t_nan_last(comm, rank, p, "int:bits=4,ef=ef21,algo=sra");
    case 19:
        return t_overflow(comm, rank, p, "int:bits=8,algo=sra", 1) &&
               t_overflow(comm, rank, p, "int:bits=8,algo=ring", 1) &&
               t_overflow(comm, rank, p, "int:bits=8,algo=tree", 1) &&
               t_overflow(comm, rank, p, "topk:ratio=0.01,algo=sparse_rd", 1) &&
               t_overflow(comm, rank, p, "topk:ratio=0.01,algo=sparse_split", 1) &&
               t_overflow(comm, rank, p, "topk:ratio=0.01,algo=sparse_allgather", 0);
    case 20:
        return t_default_algo(comm, rank, p);
    case 21:
        return t_spec_keys(comm);
    case 22:
        return t_empty(comm, rank, p);
    case 23:
        return t_stats(comm, rank, p);
    case 24: /* topk's error is at most the largest value it leaves, 2 here */
        return t_rs_bound(comm, rank, p, "int:bits=8,ef=none", 2.0 / 255, 0) &&
               t_rs_bound(comm, rank, p, "int:bits=4,ef=none,round=stochastic", 2.0 / 15, 0) &&
               t_rs_bound(comm, rank, p, "qsgd:bits=4,ef=none", 2.0 / 7, 0) &&
               t_rs_bound(comm, rank, p, "topk:ratio=0.1,ef=none", 2.0, 0) &&
               t_rs_bound(comm, rank, p, "int:bits=4", 2.0 / 15, 1) &&
               t_rs_exact_paths(comm, rank, p) &&
               t_rs_nan(comm, rank, p, "int:bits=8", 0) &&
               t_rs_nan(comm, rank, p, "int:bits=8", (size_t)p * RS - 1) &&
               t_rs_nan(comm, rank, p, "topk:ratio=0.01,ef=none", (size_t)p * RS - 1) &&
               t_rs_nan(comm, rank, p, "topk:ratio=0.01,ef=none", 0) &&
               t_rs_nan(comm, rank, p, "dgc:ratio=0.01", 7) && t_rs_api(comm, rank, p);
    case 25:
        return t_layout(comm, rank, p);
    case 26:
        return t_powersgd_layout(comm, rank, p) && t_copy_state(comm, rank, p);
    }
    return 0;
}

/* auto across a trial (exact and compressed calls alternating, then the winner): every call
 * within the 8-bit bound and the same bits on every rank. */
static int t_auto_trial(ccl_comm_t comm, int rank, int p)
{
    float *x = malloc(N * 4), *out = malloc(N * 4);
    ccl_compressor_t c = mk(comm, "auto", N, CCL_FLOAT32);
    int ok = c != NULL;
    for (int call = 0; call < 9 && ok; call++) {
        for (size_t i = 0; i < N; i++)
            x[i] = uval(rank, i, call);
        ok = ccl_allreduce_compressed(x, out, N, CCL_FLOAT32, CCL_SUM, c, comm) == CCL_SUCCESS;
        for (size_t i = 0; i < N && ok; i++) {
            double exact = 0;
            for (int r = 0; r < p; r++)
                exact += uval(r, i, call);
            ok = fabs(out[i] - exact) <= 2.0 / 255 * 2 * p + 1e-5;
            if (!ok)
                fprintf(stderr, "auto trial, call %d: [%zu] %g vs exact %g\n", call, i, out[i], exact);
        }
        ok = ok && same_everywhere(comm, out, N);
    }
    ccl_compressor_destroy(c);
    free(x);
    free(out);
    return ok;
}

static int rank_main(int rank, int p, ccl_unique_id_t id, const char *arg)
{
    ccl_comm_t comm;
    int fails = 0;
    if (ccl_comm_init_rank(&comm, p, id, rank) != CCL_SUCCESS)
        return 255;
    if (strcmp(arg, "mismatch") == 0 || strcmp(arg, "mismatch-late") == 0) {
        float x[N] = {0};
        ccl_compressor_t c = mk(comm, rank == 0 ? "int:bits=8" : "int:bits=4", N, CCL_FLOAT32);
        /* "-late": rank 1 calls after the rank that sees the mismatch has told everyone and
         * exited, so its sends meet a dead peer; the notice must still win. */
        if (strcmp(arg, "mismatch-late") == 0 && rank == 1)
            usleep(300 * 1000);
        ccl_result_t r = ccl_allreduce_compressed(x, x, N, CCL_FLOAT32, CCL_SUM, c, comm);
        fprintf(stderr, "rank %d: mismatched specs: %d %s\n", rank, r, ccl_get_last_error(comm));
        const char *checked = getenv("CCLZ_CHECK_CALLS");
        if (checked != NULL && strcmp(checked, "1") == 0)
            return r != CCL_ERR_MISMATCH; /* compared before anything moved: everywhere */
        return r != CCL_ERR_MISMATCH && r != CCL_ERR_REMOTE;
    }
    if (strcmp(arg, "kill") == 0) {
        size_t n = 4u << 20;
        float *x = calloc(n, 4);
        ccl_compressor_t c = mk(comm, "int:bits=4", n, CCL_FLOAT32);
        ccl_result_t r = CCL_SUCCESS;
        for (int it = 0; it < 10000 && r == CCL_SUCCESS; it++) {
            if (rank == 1 && it == 3)
                raise(SIGKILL);
            r = ccl_allreduce_compressed(x, x, n, CCL_FLOAT32, CCL_SUM, c, comm);
        }
        fprintf(stderr, "rank %d: after the kill: %d %s\n", rank, r, ccl_get_last_error(comm));
        return r == CCL_SUCCESS;
    }
    if (strcmp(arg, "trial") == 0) {
        /* Run with CCLZ_AUTO_TRIAL_RATIO so large that auto always tries both methods. */
        fails = !t_auto_trial(comm, rank, p);
        ccl_comm_destroy(comm);
        return fails;
    }
    /* "gK": tests GROUP*K .. GROUP*K+GROUP-1, one bit each in the exit code, which keeps
     * only 8 bits (and above 127 would read as a signal). */
    if (arg[0] == 'g') {
        int first = GROUP * atoi(arg + 1);
        for (int t = first; t < first + GROUP && t < NTESTS; t++)
            fails |= !run_test(t, comm, rank, p) << (t - first);
    }
    ccl_comm_destroy(comm);
    return fails;
}

int main(int argc, char **argv)
{
    static const int sizes[] = {1, 2, 3, 4, 5, 8};
    h_init(argc, argv, rank_main);
    for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
        int p = sizes[s], codes[64];
        for (int g = 0; g * GROUP < NTESTS; g++) {
            char arg[16];
            int all = 0, dead = 0;
            snprintf(arg, sizeof(arg), "g%d", g);
            /* The last group (quantized ring and tree among them) in small chunks, so that
             * segments move in several pipelined pieces. */
            if ((g + 1) * GROUP >= NTESTS)
                setenv("CCLZ_CHUNK_SIZE", "4K", 1);
            h_spawn(p, arg, 300, codes);
            unsetenv("CCLZ_CHUNK_SIZE");
            for (int r = 0; r < p; r++) {
                if (codes[r] >= 1 << GROUP || codes[r] < 0)
                    dead = 1;
                all |= codes[r];
            }
            for (int t = g * GROUP; t < (g + 1) * GROUP && t < NTESTS; t++)
                h_report(!dead && !(all & (1 << (t - g * GROUP))), "compressed ranks=%d: %s", p,
                         names[t]);
        }
    }
    int codes[64];
    setenv("CCLZ_AUTO_TRIAL_RATIO", "1e9", 1);
    setenv("CCLZ_LOG", "info", 1);
    h_spawn(3, "trial", 120, codes);
    unsetenv("CCLZ_AUTO_TRIAL_RATIO");
    unsetenv("CCLZ_LOG");
    h_report(codes[0] == 0 && codes[1] == 0 && codes[2] == 0,
             "compressed: auto trying both methods on a buffer: within bound, same bits everywhere");
    setenv("CCLZ_TIMEOUT", "3", 1);
    h_spawn(3, "mismatch", 60, codes);
    h_report(codes[0] == 0 && codes[1] == 0 && codes[2] == 0,
             "compressed: specs that differ across ranks fail on every rank (CCL_ERR_MISMATCH "
             "or CCL_ERR_REMOTE; CCL_ERR_MISMATCH everywhere with CCLZ_CHECK_CALLS=1)");
    h_spawn(3, "mismatch-late", 60, codes);
    h_report(codes[0] == 0 && codes[1] == 0 && codes[2] == 0,
             "compressed: a rank that reports a mismatch and exits at once: the others get its "
             "reason (CCL_ERR_REMOTE), not a transport error");
    h_spawn(4, "kill", 60, codes);
    h_report(codes[0] == 0 && codes[2] == 0 && codes[3] == 0 && codes[1] == 128 + SIGKILL,
             "compressed: a peer killed mid-call gives an error on the others, no hang");
    return h_failed ? 1 : 0;
}
