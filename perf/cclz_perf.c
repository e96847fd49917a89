/* cclz_perf.c: nccl-tests-style timing of cclz's collectives. Runs under cclz_run, mpirun,
 * srun or torchrun (ccl_comm_init_from_env), or starts -np N local ranks itself. */
#include "cclz.h"
#include "perf_common.h"

#include <signal.h>
#include <sys/random.h>
#include <sys/wait.h>
#ifdef CCLZ_HAVE_CUDA
#include <cuda_runtime.h>
#endif

static const ccl_datatype_t dt_map[] = {CCL_FLOAT32, CCL_FLOAT64, CCL_INT32, CCL_INT64};
static const ccl_redop_t op_map[] = {CCL_SUM, CCL_MIN, CCL_MAX};

#define CHECK_CCL(call)                                                                    \
    do {                                                                                   \
        ccl_result_t _r = (call);                                                          \
        if (_r != CCL_SUCCESS) {                                                           \
            fprintf(stderr, "cclz_perf: %s: %s\n", #call, ccl_get_last_error(comm));       \
            exit(1);                                                                       \
        }                                                                                  \
    } while (0)

/* Starts np copies of this program as local ranks (what cclz_run does). */
static int spawn_local(int np, char **argv)
{
    char self[4096], buf[64], hex[33];
    unsigned char secret[16];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    int status = 0;
    pid_t pids[256];
    if (n <= 0 || np > 256 || getrandom(secret, 16, 0) != 16)
        return 1;
    self[n] = '\0';
    for (int i = 0; i < 16; i++)
        snprintf(hex + 2 * i, 3, "%02x", secret[i]);
    /* A port in the dynamic range; a clash shows up as a failed rendezvous. */
    snprintf(buf, sizeof(buf), "127.0.0.1:%d", 30000 + (int)(getpid() % 20000));
    setenv("CCLZ_ROOT", buf, 1);
    setenv("CCLZ_SECRET", hex, 1);
    snprintf(buf, sizeof(buf), "%d", np);
    setenv("CCLZ_NRANKS", buf, 1);
    for (int r = 0; r < np; r++) {
        pids[r] = fork();
        if (pids[r] == 0) {
            snprintf(buf, sizeof(buf), "%d", r);
            setenv("CCLZ_RANK", buf, 1);
            execv(self, argv);
            _exit(127);
        }
    }
    for (int r = 0; r < np; r++) {
        int st;
        waitpid(pids[r], &st, 0);
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            status = 1;
            for (int k = 0; k < np; k++)
                kill(pids[k], SIGTERM);
        }
    }
    return status;
}

static ccl_compressor_t comp; /* -z: the compressor of the current size */
static ccl_robust_params_t robust = {.rule = CCL_ROBUST_NNA, .f = 1}; /* -t robust -R */

/* -R [arc+][nnm+]RULE[:F] */
static void parse_robust(const char *s)
{
    static const char *names[] = {"mean", "nna", "median", "trimmed_mean", "krum", "multi_krum",
                                  "geomed", "cclip"};
    char buf[128];
    snprintf(buf, sizeof(buf), "%s", s);
    char *colon = strchr(buf, ':');
    if (colon != NULL) {
        robust.f = atoi(colon + 1);
        *colon = '\0';
    }
    char *rule = buf;
    for (char *plus; (plus = strchr(rule, '+')) != NULL; rule = plus + 1) {
        *plus = '\0';
        robust.pre |= strcmp(rule, "arc") == 0 ? CCL_ROBUST_PRE_ARC : CCL_ROBUST_PRE_NNM;
    }
    robust.rule = (ccl_robust_rule_t)perf_lookup(rule, names, CCL_ROBUST_NUM_RULES);
    robust.tau = 1.0f;
}
static ccl_stream_t stream;   /* -G 1: the rank's stream */

/* -L: the tensors of a shapes file; -S 1: a compressor per tensor. */
static ccl_tensor_t *tensors;
static int ntensors;
static ccl_compressor_t *tcomps;
static ccl_request_t *treqs;

/* Reads a shapes file: one tensor per line, its dimensions; '#' lines are comments. A tensor
 * of two or more dimensions is a matrix of its first by the rest. Returns the total. */
static size_t read_shapes(const char *path)
{
    FILE *f = fopen(path, "r");
    char line[256];
    size_t total = 0;
    if (f == NULL) {
        fprintf(stderr, "cclz_perf: -L %s: cannot open it\n", path);
        exit(2);
    }
    while (fgets(line, sizeof(line), f) != NULL) {
        size_t dims[8], nd = 0, count = 1;
        char *s = line, *end;
        if (line[0] == '#')
            continue;
        for (unsigned long long d; nd < 8 && (d = strtoull(s, &end, 10), end != s); s = end)
            dims[nd++] = (size_t)d;
        if (nd == 0)
            continue;
        for (size_t k = 0; k < nd; k++)
            count *= dims[k];
        tensors = realloc(tensors, (size_t)(ntensors + 1) * sizeof(*tensors));
        tensors[ntensors++] = (ccl_tensor_t){count, nd >= 2 ? dims[0] : 0,
                                             nd >= 2 ? count / dims[0] : 0};
        total += count;
    }
    fclose(f);
    return total;
}

/* -S 1: every tensor's call, nonblocking, then all waited for (as a per-parameter hook). */
static ccl_result_t run_separate(const float *in, float *out, ccl_redop_t op, ccl_comm_t comm)
{
    size_t off = 0;
    for (int t = 0; t < ntensors; t++) {
        ccl_result_t r = ccl_iallreduce_compressed(in + off, out + off, tensors[t].count,
                                                   CCL_FLOAT32, op, tcomps[t], comm, &treqs[t]);
        if (r != CCL_SUCCESS)
            return r;
        off += tensors[t].count;
    }
    return ccl_waitall(ntensors, treqs);
}

static ccl_result_t run_once(const perf_opts_t *o, const void *in, void *out, size_t count,
                             ccl_comm_t comm)
{
    const ccl_datatype_t dt = dt_map[o->dtype];
    const ccl_redop_t op = op_map[o->op];
    if (o->device) {
        if (comp != NULL && o->coll == P_ALLREDUCE)
            return ccl_allreduce_compressed_stream(in, out, count, dt, op, comp, comm, stream);
        if (comp != NULL && o->coll == P_ALLGATHER)
            return ccl_allgather_compressed_stream(in, out, count, dt, comp, comm, stream);
        if (comp != NULL && o->coll == P_REDUCE_SCATTER)
            return ccl_reduce_scatter_compressed_stream(in, out, count, dt, op, comp, comm,
                                                        stream);
        switch (o->coll) {
        case P_ALLREDUCE: return ccl_allreduce_stream(in, out, count, dt, op, comm, stream);
        case P_ALLGATHER: return ccl_allgather_stream(in, out, count, dt, comm, stream);
        case P_REDUCE_SCATTER: return ccl_reduce_scatter_stream(in, out, count, dt, op, comm, stream);
        default: return ccl_broadcast_stream(in, out, count, dt, 0, comm, stream);
        }
    }
    if (o->coll == P_ROBUST)
        return ccl_allreduce_robust(in, out, count, dt, &robust, comp, comm);
    if (tcomps != NULL)
        return run_separate(in, out, op, comm);
    if (comp != NULL && o->coll == P_ALLREDUCE)
        return ccl_allreduce_compressed(in, out, count, dt, op, comp, comm);
    if (comp != NULL && o->coll == P_ALLGATHER)
        return ccl_allgather_compressed(in, out, count, dt, comp, comm);
    if (comp != NULL && o->coll == P_REDUCE_SCATTER)
        return ccl_reduce_scatter_compressed(in, out, count, dt, op, comp, comm);
    switch (o->coll) {
    case P_ALLREDUCE: return ccl_allreduce(in, out, count, dt, op, comm);
    case P_ALLGATHER: return ccl_allgather(in, out, count, dt, comm);
    case P_REDUCE_SCATTER: return ccl_reduce_scatter(in, out, count, dt, op, comm);
    default: return ccl_broadcast(in, out, count, dt, 0, comm);
    }
}

/* -G 1: device copies of the host buffers (the host ones keep the inputs and the checks). */
#ifdef CCLZ_HAVE_CUDA
static void *dev_alloc(size_t bytes)
{
    void *p = NULL;
    if (cudaMalloc(&p, bytes) != cudaSuccess) {
        fprintf(stderr, "cclz_perf: cudaMalloc of %zu bytes failed\n", bytes);
        exit(1);
    }
    return p;
}

static void dev_copy(void *dst, const void *src, size_t bytes)
{
    if (cudaMemcpy(dst, src, bytes, cudaMemcpyDefault) != cudaSuccess) {
        fprintf(stderr, "cclz_perf: cudaMemcpy failed\n");
        exit(1);
    }
}

static void dev_setup(void)
{
    const char *d = getenv("CCLZ_PERF_DEVICE");
    cudaStream_t s;
    if (cudaSetDevice(d != NULL ? atoi(d) : 0) != cudaSuccess || cudaStreamCreate(&s) != cudaSuccess) {
        fprintf(stderr, "cclz_perf: -G 1: no usable CUDA device\n");
        exit(1);
    }
    stream = s;
}
#else
static void *dev_alloc(size_t bytes) { (void)bytes; return NULL; }
static void dev_copy(void *dst, const void *src, size_t bytes) { (void)dst, (void)src, (void)bytes; }
static void dev_setup(void)
{
    fprintf(stderr, "cclz_perf: -G 1: this cclz_perf was built without CUDA\n");
    exit(2);
}
#endif

int main(int argc, char **argv)
{
    perf_opts_t o;
    ccl_comm_t comm = NULL;
    int rank, p;
    perf_parse(argc, argv, &o, 1);
    if (o.np > 0 && getenv("CCLZ_RANK") == NULL)
        return spawn_local(o.np, argv);

    if (o.device)
        dev_setup();
    if (o.coll == P_ROBUST) {
        if (o.device || o.dtype != P_F32) {
            fprintf(stderr, "cclz_perf: -t robust takes host float buffers\n");
            return 2;
        }
        if (o.robust != NULL)
            parse_robust(o.robust);
        o.check = 0;
    }
    if (o.layout != NULL) {
        if (o.compress == NULL || o.coll != P_ALLREDUCE || o.dtype != P_F32 || o.device) {
            fprintf(stderr, "cclz_perf: -L takes -z and a host float allreduce\n");
            return 2;
        }
        o.min_bytes = o.max_bytes = read_shapes(o.layout) * sizeof(float);
    }
    CHECK_CCL(ccl_comm_init_from_env(&comm));
    ccl_comm_rank(comm, &rank);
    ccl_comm_size(comm, &p);
    if (rank == 0)
        perf_header(&o, "cclz", p);
    if (rank == 0 && o.coll == P_ROBUST)
        printf("# rule %s\n", o.robust != NULL ? o.robust : "nna:1");
    if (rank == 0 && o.layout != NULL)
        printf("# layout %s: %d tensors, %s\n", o.layout, ntensors,
               o.separate ? "one compressor and call per tensor" : "one call");

    size_t dts = perf_dtype_sizes[o.dtype];
    size_t maxb = o.max_bytes + (size_t)p * dts;
    uint8_t *in = malloc(maxb), *out = malloc(maxb), *din = in, *dout = out;
    memset(out, 0, maxb);
    if (o.device) {
        din = dev_alloc(maxb);
        dout = dev_alloc(maxb);
        dev_copy(dout, out, maxb);
    }
    for (size_t bytes = o.min_bytes; bytes <= o.max_bytes;
         bytes = (size_t)((double)bytes * o.factor) > bytes ? (size_t)((double)bytes * o.factor)
                                                            : bytes + 1) {
        /* count: elements per call's argument (per rank for allgather/reduce_scatter). */
        size_t total = bytes / dts;
        size_t count = (o.coll == P_ALLGATHER || o.coll == P_REDUCE_SCATTER) ? total / (size_t)p
                                                                               : total;
        if (count == 0)
            continue;
        size_t in_elems = o.coll == P_REDUCE_SCATTER ? count * (size_t)p : count;
        size_t out_elems = o.coll == P_ALLGATHER ? count * (size_t)p : count;
        perf_fill(in, in_elems, o.dtype, o.input, rank, 0);
        if (o.device)
            dev_copy(din, in, in_elems * dts);
        if (o.compress != NULL)
            CHECK_CCL(ccl_compressor_create(comm, o.compress, in_elems, dt_map[o.dtype], &comp));
        if (o.layout != NULL && !o.separate)
            CHECK_CCL(ccl_compressor_set_layout(comp, ntensors, tensors));
        if (o.layout != NULL && o.separate) {
            tcomps = calloc((size_t)ntensors, sizeof(*tcomps));
            treqs = calloc((size_t)ntensors, sizeof(*treqs));
            /* Each told its one tensor's shape: PowerSGD without rows= takes its matrix so. */
            for (int t = 0; t < ntensors; t++) {
                CHECK_CCL(ccl_compressor_create(comm, o.compress, tensors[t].count, CCL_FLOAT32,
                                                &tcomps[t]));
                CHECK_CCL(ccl_compressor_set_layout(tcomps[t], 1, &tensors[t]));
            }
        }

        for (int i = 0; i < o.warmup; i++)
            CHECK_CCL(run_once(&o, din, dout, count, comm));
        CHECK_CCL(ccl_barrier(comm));
        double t0 = perf_now();
        for (int i = 0; i < o.iters; i++)
            CHECK_CCL(run_once(&o, din, dout, count, comm));
        double us = (perf_now() - t0) * 1e6 / o.iters, us_max;
        CHECK_CCL(ccl_allreduce(&us, &us_max, 1, CCL_FLOAT64, CCL_MAX, comm));

        long wrong = 0, wrong_all;
        if (o.check && comp == NULL) {
            size_t base = o.coll == P_REDUCE_SCATTER ? (size_t)rank * count : 0;
            memset(out, 0xff, out_elems * dts);
            if (o.device)
                dev_copy(dout, out, out_elems * dts);
            CHECK_CCL(run_once(&o, din, dout, count, comm));
            if (o.device)
                dev_copy(out, dout, out_elems * dts);
            wrong = perf_count_wrong(&o, out, out_elems, base, p, 0, count);
        }
        int64_t w = wrong, wa;
        CHECK_CCL(ccl_allreduce(&w, &wa, 1, CCL_INT64, CCL_SUM, comm));
        wrong_all = comp != NULL ? -1 : (long)wa;
        ccl_compressor_destroy(comp);
        comp = NULL;
        for (int t = 0; tcomps != NULL && t < ntensors; t++)
            ccl_compressor_destroy(tcomps[t]);
        free(tcomps);
        free(treqs);
        tcomps = NULL;
        treqs = NULL;
        if (rank == 0)
            perf_row(&o, out_elems * dts, count, us_max, p, wrong_all);
        if (wrong_all > 0 && rank == 0)
            fprintf(stderr, "cclz_perf: %ld wrong elements at %zu bytes\n", wrong_all, bytes);
        if (wrong_all > 0) {
            ccl_comm_destroy(comm);
            return 3;
        }
    }
    if (rank == 0)
        perf_footer(&o);
    free(in);
    free(out);
#ifdef CCLZ_HAVE_CUDA
    if (o.device) {
        cudaFree(din);
        cudaFree(dout);
        cudaStreamDestroy((cudaStream_t)stream);
    }
#endif
    ccl_comm_destroy(comm);
    return 0;
}
