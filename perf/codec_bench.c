/* codec_bench.c: per codec and size, encode and decode-accumulate throughput (GB/s of float32
 * input), compression ratio, max and RMS error, beside memcpy measured in the same run.
 *   perf/codec_bench [-b 4K] [-e 256M] [-f 4] [-n reps] [spec ...]        (one core)    */
#include "compress/codec.h"
#include "perf_common.h"

#include <math.h>

static double best_of(int reps, void (*fn)(void *), void *arg)
{
    double best = 1e30;
    for (int r = 0; r < reps; r++) {
        double t0 = perf_now();
        fn(arg);
        double t = perf_now() - t0;
        best = t < best ? t : best;
    }
    return best;
}

typedef struct {
    const ccl_codec_t *c;
    const float *x;
    float *acc;
    uint8_t *enc;
    size_t n, cap, len;
    void *dst;
} job_t;

static void do_memcpy(void *a) { job_t *j = a; memcpy(j->dst, j->x, j->n * 4); }
static void do_encode(void *a)
{
    job_t *j = a;
    if (ccl_codec_encode(j->c, j->x, j->n, 7, j->enc, j->cap, &j->len, NULL) != CCL_SUCCESS)
        abort();
}
static void do_decode(void *a)
{
    job_t *j = a;
    if (ccl_codec_decode(j->enc, j->len, j->acc, j->n, 1) != CCL_SUCCESS)
        abort();
}

int main(int argc, char **argv)
{
    size_t lo = 4096, hi = 256u << 20;
    double factor = 4;
    int reps = 5, argi = 1;
    static const char *dflt[] = {"cast:type=fp16", "int:bits=8", "int:bits=4",
                                 "int:bits=4,round=stochastic", "topk:ratio=0.001",
                                 "randomk:ratio=0.001", "threshold:t=2.5"};
    while (argi + 1 < argc && argv[argi][0] == '-') {
        if (strcmp(argv[argi], "-b") == 0) lo = perf_parse_size(argv[argi + 1]);
        else if (strcmp(argv[argi], "-e") == 0) hi = perf_parse_size(argv[argi + 1]);
        else if (strcmp(argv[argi], "-f") == 0) factor = atof(argv[argi + 1]);
        else if (strcmp(argv[argi], "-n") == 0) reps = atoi(argv[argi + 1]);
        else break;
        argi += 2;
    }
    const char **specs = argi < argc ? (const char **)argv + argi : dflt;
    int nspecs = argi < argc ? argc - argi : (int)(sizeof(dflt) / sizeof(dflt[0]));

    printf("# %-30s %12s %9s %9s %9s %8s %10s %10s\n", "codec", "bytes", "memcpy", "encode",
           "dec+acc", "ratio", "max_err", "rms_err");
    printf("# %-30s %12s %9s %9s %9s %8s %10s %10s\n", "", "", "GB/s", "GB/s", "GB/s", "", "", "");
    for (size_t bytes = lo; bytes <= hi; bytes = (size_t)((double)bytes * factor)) {
        size_t n = bytes / 4;
        float *x = malloc(bytes), *acc = malloc(bytes), *dst = malloc(bytes);
        /* Gaussian-like input: the sum of uniforms, as gradients roughly are. */
        for (size_t i = 0; i < n; i++)
            x[i] = (ccl_rng_unit(1, i) + ccl_rng_unit(2, i) + ccl_rng_unit(3, i) - 1.5f) * 2;
        job_t j = {.x = x, .acc = acc, .n = n, .dst = dst};
        double t_copy = best_of(reps, do_memcpy, &j);
        for (int s = 0; s < nspecs; s++) {
            ccl_codec_t c;
            if (ccl_codec_parse(specs[s], &c) != CCL_SUCCESS) {
                fprintf(stderr, "%s\n", ccl_get_last_error(NULL));
                return 2;
            }
            j.c = &c;
            j.cap = ccl_codec_max_encoded_size(&c, n);
            j.enc = malloc(j.cap);
            double t_enc = best_of(reps, do_encode, &j);
            memset(acc, 0, bytes);
            double t_dec = best_of(reps, do_decode, &j);
            /* Error of one decode against the input. */
            memset(acc, 0, bytes);
            do_decode(&j);
            double maxe = 0, se = 0;
            for (size_t i = 0; i < n; i++) {
                double e = fabs((double)acc[i] - x[i]);
                maxe = e > maxe ? e : maxe;
                se += e * e;
            }
            printf("  %-30s %12zu %9.2f %9.2f %9.2f %8.1f %10.3g %10.3g\n", specs[s], bytes,
                   bytes / t_copy / 1e9, bytes / t_enc / 1e9, bytes / t_dec / 1e9,
                   (double)bytes / (double)j.len, maxe, sqrt(se / (double)(n ? n : 1)));
            fflush(stdout);
            free(j.enc);
        }
        free(x);
        free(acc);
        free(dst);
    }
    return 0;
}
