/* perf_common.h: what cclz_perf and mpi_allreduce_perf share: options, input patterns whose
 * exact result is known, the nccl-tests columns, and JSON output. */
#ifndef CCL_PERF_COMMON_H
#define CCL_PERF_COMMON_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef enum { P_ALLREDUCE, P_ALLGATHER, P_REDUCE_SCATTER, P_BROADCAST, P_ROBUST } perf_coll_t;
typedef enum { P_F32, P_F64, P_I32, P_I64 } perf_dtype_t;
typedef enum { P_SUM, P_MIN, P_MAX } perf_op_t;

static const char *perf_coll_names[] = {"allreduce", "allgather", "reduce_scatter", "broadcast",
                                        "robust"};
static const char *perf_dtype_names[] = {"float", "double", "int32", "int64"};
static const size_t perf_dtype_sizes[] = {4, 8, 4, 8};
static const char *perf_op_names[] = {"sum", "min", "max"};
/* Input values: small integers (sums are exact, so results are checked), or normal ones
 * (mean 0, deviation 1, different on every rank), which is what compressors see in
 * training: distinct magnitudes, no ties. */
typedef enum { P_INTS, P_NORMAL } perf_input_t;
static const char *perf_input_names[] = {"ints", "normal"};

typedef struct {
    size_t min_bytes, max_bytes;
    double factor;
    int iters, warmup, check, np;
    int device;             /* cclz_perf -G 1: buffers in GPU memory, through the _stream calls */
    perf_coll_t coll;
    perf_dtype_t dtype;
    perf_op_t op;
    perf_input_t input;
    const char *json;
    const char *compress;   /* cclz_perf -z: a compressor spec; NULL = exact calls */
    const char *robust;     /* cclz_perf -t robust -R: [arc+][nnm+]RULE[:F] */
    const char *layout;     /* cclz_perf -L: a shapes file, the compressor's tensors */
    int separate;           /* cclz_perf -S 1: one compressor and call per tensor instead */
    FILE *json_fp;
    int json_rows;
} perf_opts_t;

static inline size_t perf_parse_size(const char *s)
{
    char *end;
    double v = strtod(s, &end);
    switch (*end) {
    case 'K': case 'k': v *= 1024; break;
    case 'M': case 'm': v *= 1024 * 1024; break;
    case 'G': case 'g': v *= 1024.0 * 1024 * 1024; break;
    default: break;
    }
    return (size_t)v;
}

static inline int perf_lookup(const char *s, const char **names, int n)
{
    for (int i = 0; i < n; i++)
        if (strcmp(s, names[i]) == 0)
            return i;
    fprintf(stderr, "unknown value '%s'\n", s);
    exit(2);
}

static inline void perf_usage(const char *prog)
{
    fprintf(stderr,
            "usage: %s [-np N] [-b MIN] [-e MAX] [-f FACTOR] [-n ITERS] [-w WARMUP] [-c 0|1]\n"
            "          [-t allreduce|allgather|reduce_scatter|broadcast] [-d float|double|int32|int64]\n"
            "          [-o sum|min|max] [-i ints|normal] [-J FILE.json] [-z SPEC] [-G 0|1]\n"
            "          [-t robust -R [arc+][nnm+]RULE[:F]] [-L SHAPES [-S 0|1]]\n"
            "-z SPEC (cclz_perf): ccl_allreduce_compressed / ccl_allgather_compressed /\n"
            "ccl_reduce_scatter_compressed (-t) with a compressor of that spec ('int:bits=8',\n"
            "'dgc:ratio=0.001', 'auto'); #wrong is then -1\n"
            "(lossy results are not checked).\n"
            "-t robust (cclz_perf): ccl_allreduce_robust with -R's rule (nna, median, krum, ...;\n"
            "default nna:1), exact or with -z's compressor; sizes are one rank's vector, busbw\n"
            "counts the nranks - 1 vectors each rank receives; results not checked.\n"
            "-L SHAPES (cclz_perf, with -z): the buffer is the tensors of a shapes file (one\n"
            "per line, its dimensions; perf/shapes/resnet50.txt), its size their total, and\n"
            "the compressor is told them (ccl_compressor_set_layout); -S 1 instead makes one\n"
            "compressor per tensor and issues one nonblocking call per tensor.\n"
            "-G 1 (cclz_perf built with CUDA): send and receive buffers in GPU memory (device 0,\n"
            "or CCLZ_PERF_DEVICE), through the *_stream calls on a stream of the rank's own.\n"
            "-i normal: normally distributed inputs (float types; results not checked) instead\n"
            "of small integers.\n"
            "Sizes are bytes of the whole result (K, M, G suffixes); each size is timed over\n"
            "ITERS calls after WARMUP calls, and the slowest rank's mean is reported.\n",
            prog);
    exit(2);
}

static inline void perf_parse(int argc, char **argv, perf_opts_t *o, int allow_np)
{
    *o = (perf_opts_t){.min_bytes = 8, .max_bytes = 64 << 20, .factor = 2, .iters = 20,
                       .warmup = 5, .check = 1};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (v == NULL)
            perf_usage(argv[0]);
        if (strcmp(a, "-b") == 0) o->min_bytes = perf_parse_size(v);
        else if (strcmp(a, "-e") == 0) o->max_bytes = perf_parse_size(v);
        else if (strcmp(a, "-f") == 0) o->factor = atof(v);
        else if (strcmp(a, "-n") == 0) o->iters = atoi(v);
        else if (strcmp(a, "-w") == 0) o->warmup = atoi(v);
        else if (strcmp(a, "-c") == 0) o->check = atoi(v);
        else if (strcmp(a, "-np") == 0 && allow_np) o->np = atoi(v);
        else if (strcmp(a, "-t") == 0) o->coll = (perf_coll_t)perf_lookup(v, perf_coll_names, allow_np ? 5 : 4);
        else if (strcmp(a, "-R") == 0 && allow_np) o->robust = v;
        else if (strcmp(a, "-d") == 0) o->dtype = (perf_dtype_t)perf_lookup(v, perf_dtype_names, 4);
        else if (strcmp(a, "-o") == 0) o->op = (perf_op_t)perf_lookup(v, perf_op_names, 3);
        else if (strcmp(a, "-i") == 0) o->input = (perf_input_t)perf_lookup(v, perf_input_names, 2);
        else if (strcmp(a, "-J") == 0) o->json = v;
        else if (strcmp(a, "-z") == 0) o->compress = v;
        else if (strcmp(a, "-G") == 0 && allow_np) o->device = atoi(v);
        else if (strcmp(a, "-L") == 0 && allow_np) o->layout = v;
        else if (strcmp(a, "-S") == 0 && allow_np) o->separate = atoi(v);
        else perf_usage(argv[0]);
        i++;
    }
    if (o->factor <= 1 || o->min_bytes == 0 || o->max_bytes < o->min_bytes || o->iters <= 0 ||
        (o->input == P_NORMAL && o->dtype != P_F32 && o->dtype != P_F64))
        perf_usage(argv[0]);
    if (o->input == P_NORMAL)
        o->check = 0; /* the sums are not exact */
}

static inline double perf_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Input of rank r at element i: a small integer, so sums over ranks are exact. */
static inline double perf_val(int r, size_t i)
{
    return (double)((r * 3 + (int)(i % 61)) % 17) - 8;
}

/* A standard normal value for (r, i): Box-Muller on two uniforms from a splitmix64 hash. */
static inline double perf_normal(int r, size_t i)
{
    uint64_t z = ((uint64_t)(unsigned)r << 40) ^ (uint64_t)i, u[2];
    for (int j = 0; j < 2; j++) {
        z += 0x9e3779b97f4a7c15ull;
        uint64_t x = z;
        x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
        x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
        u[j] = x ^ (x >> 31);
    }
    double a = ((double)(u[0] >> 11) + 1.0) / 9007199254740993.0, b = (double)(u[1] >> 11) / 9007199254740992.0;
    return sqrt(-2.0 * log(a)) * cos(6.283185307179586 * b);
}

static inline void perf_fill(void *buf, size_t n, perf_dtype_t dt, perf_input_t in, int r,
                             size_t base)
{
    for (size_t i = 0; i < n; i++) {
        double v = in == P_NORMAL ? perf_normal(r, base + i) : perf_val(r, base + i);
        switch (dt) {
        case P_F32: ((float *)buf)[i] = (float)v; break;
        case P_F64: ((double *)buf)[i] = v; break;
        case P_I32: ((int32_t *)buf)[i] = (int32_t)v; break;
        case P_I64: ((int64_t *)buf)[i] = (int64_t)v; break;
        }
    }
}

static inline double perf_get(const void *buf, size_t i, perf_dtype_t dt)
{
    switch (dt) {
    case P_F32: return ((const float *)buf)[i];
    case P_F64: return ((const double *)buf)[i];
    case P_I32: return ((const int32_t *)buf)[i];
    default: return (double)((const int64_t *)buf)[i];
    }
}

/* Elements of out that differ from the exact result. `base` is the global index of out[0]
 * in the reduced vector; allgather and broadcast expect copies instead of a reduction. */
static inline long perf_count_wrong(const perf_opts_t *o, const void *out, size_t n, size_t base,
                             int nranks, int root, size_t per_rank)
{
    long wrong = 0;
    for (size_t i = 0; i < n; i++) {
        double exp;
        size_t g = base + i;
        if (o->coll == P_ALLGATHER) {
            exp = perf_val((int)(g / per_rank), g % per_rank);
        } else if (o->coll == P_BROADCAST) {
            exp = perf_val(root, g);
        } else {
            exp = perf_val(0, g);
            for (int r = 1; r < nranks; r++) {
                double v = perf_val(r, g);
                exp = o->op == P_SUM ? exp + v : o->op == P_MIN ? (v < exp ? v : exp)
                                                                : (v > exp ? v : exp);
            }
        }
        wrong += perf_get(out, i, o->dtype) != exp;
    }
    return wrong;
}

/* busbw/algbw as nccl-tests defines it, so numbers compare with the link's. */
static inline double perf_bus_factor(perf_coll_t c, int n)
{
    switch (c) {
    case P_ALLREDUCE: return 2.0 * (n - 1) / n;
    case P_ALLGATHER:
    case P_REDUCE_SCATTER: return (double)(n - 1) / n;
    case P_ROBUST: return (double)(n - 1);
    default: return 1.0;
    }
}

static inline void perf_header(const perf_opts_t *o, const char *what, int nranks)
{
    printf("# %s: %s, %d ranks, %s %s, %s inputs, %d iterations after %d warm-up%s%s\n", what,
           perf_coll_names[o->coll], nranks, perf_dtype_names[o->dtype], perf_op_names[o->op],
           perf_input_names[o->input], o->iters, o->warmup,
           o->compress ? ", compressed with " : "", o->compress ? o->compress : "");
    printf("# %10s %12s %8s %6s %10s %8s %8s %8s\n", "size", "count", "type", "redop",
           "time(us)", "algbw", "busbw", "#wrong");
    printf("# %10s %12s %8s %6s %10s %8s %8s %8s\n", "(B)", "(elements)", "", "", "", "(GB/s)",
           "(GB/s)", "");
    if (o->json != NULL) {
        FILE **fp = (FILE **)&o->json_fp;
        *fp = fopen(o->json, "w");
        if (*fp)
            fprintf(*fp, "{\"tool\": \"%s\", \"collective\": \"%s\", \"ranks\": %d, \"type\": \"%s\", "
                         "\"redop\": \"%s\", \"iters\": %d, \"compress\": \"%s\", \"input\": \"%s\", "
                         "\"results\": [",
                    what, perf_coll_names[o->coll], nranks, perf_dtype_names[o->dtype],
                    perf_op_names[o->op], o->iters, o->compress ? o->compress : "none",
                    perf_input_names[o->input]);
    }
}

static inline void perf_row(perf_opts_t *o, size_t bytes, size_t count, double us, int nranks,
                     long wrong)
{
    double algbw = (double)bytes / us / 1e3, busbw = algbw * perf_bus_factor(o->coll, nranks);
    printf("  %10zu %12zu %8s %6s %10.2f %8.3f %8.3f %8ld\n", bytes, count,
           perf_dtype_names[o->dtype], o->coll == P_ALLREDUCE || o->coll == P_REDUCE_SCATTER
                                           ? perf_op_names[o->op] : "none",
           us, algbw, busbw, wrong);
    fflush(stdout);
    if (o->json_fp)
        fprintf(o->json_fp, "%s\n  {\"size\": %zu, \"count\": %zu, \"time_us\": %.3f, "
                            "\"algbw\": %.4f, \"busbw\": %.4f, \"wrong\": %ld}",
                o->json_rows++ ? "," : "", bytes, count, us, algbw, busbw, wrong);
}

static inline void perf_footer(perf_opts_t *o)
{
    if (o->json_fp) {
        fprintf(o->json_fp, "\n]}\n");
        fclose(o->json_fp);
        o->json_fp = NULL;
    }
}

#endif
