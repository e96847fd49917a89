/* overlap.c: how much of a nonblocking allreduce hides behind computation, in the manner of
 * the OSU nonblocking benchmarks. Per compute time C: issue the allreduce, compute for C ms
 * (a busy loop on this rank's core), wait; the slowest rank's time per iteration is t_total.
 * t_comm is the issue-and-wait time with no computation. Reported per C: t_total, its ratio to
 * max(C, t_comm), and the overlap as OSU defines it, 100 * (1 - (t_total - C) / t_comm),
 * clamped to [0, 100].
 *
 * Built twice: perf/overlap on cclz (ccl_iallreduce or, with -z SPEC,
 * ccl_iallreduce_compressed; ranks from ccl_comm_init_from_env), and perf/mpi_overlap on MPI
 * (MPI_Iallreduce; -DOVERLAP_MPI).
 *
 *   overlap [-b BYTES] [-n ITERS] [-z SPEC] [-x "0 0.5 1 1.5 2"]
 * -x: the compute times, as multiples of t_comm. */
#include "perf_common.h"

#ifdef OVERLAP_MPI
#include <mpi.h>
#else
#include "cclz.h"
#endif

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Computes for `seconds` on this thread: arithmetic on a small array, checking the clock
 * every few thousand operations. */
static volatile float sink;
static void compute(double seconds)
{
    float acc[64] = {0};
    double end = now_s() + seconds;
    while (now_s() < end)
        for (int r = 0; r < 4096; r++)
            acc[r & 63] = acc[r & 63] * 0.999f + (float)r;
    sink = acc[7];
}

#ifdef OVERLAP_MPI
typedef MPI_Request req_t;
static int rank_, size_;
static void start(int *argc, char ***argv)
{
    MPI_Init(argc, argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
}
static void issue(float *buf, size_t n, req_t *r)
{
    MPI_Iallreduce(MPI_IN_PLACE, buf, (int)n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD, r);
}
static int finish(req_t *r) { return MPI_Wait(r, MPI_STATUS_IGNORE) != MPI_SUCCESS; }
static void barrier(void) { MPI_Barrier(MPI_COMM_WORLD); }
static double slowest(double t)
{
    MPI_Allreduce(MPI_IN_PLACE, &t, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    return t;
}
static void stop(void) { MPI_Finalize(); }
static const char *name(void) { return "Open MPI MPI_Iallreduce"; }
#else
typedef ccl_request_t req_t;
static int rank_, size_;
static ccl_comm_t comm_;
static ccl_compressor_t comp_;
static const char *spec_;
static void start(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    if (ccl_comm_init_from_env(&comm_) != CCL_SUCCESS) {
        fprintf(stderr, "overlap: init: %s\n", ccl_get_last_error(NULL));
        exit(1);
    }
    ccl_comm_rank(comm_, &rank_);
    ccl_comm_size(comm_, &size_);
}
static void issue(float *buf, size_t n, req_t *r)
{
    if (spec_ != NULL && comp_ == NULL &&
        ccl_compressor_create(comm_, spec_, n, CCL_FLOAT32, &comp_) != CCL_SUCCESS) {
        fprintf(stderr, "overlap: %s: %s\n", spec_, ccl_get_last_error(comm_));
        exit(1);
    }
    ccl_result_t res = comp_ != NULL
        ? ccl_iallreduce_compressed(buf, buf, n, CCL_FLOAT32, CCL_SUM, comp_, comm_, r)
        : ccl_iallreduce(buf, buf, n, CCL_FLOAT32, CCL_SUM, comm_, r);
    if (res != CCL_SUCCESS) {
        fprintf(stderr, "overlap: issue: %s\n", ccl_get_last_error(comm_));
        exit(1);
    }
}
static int finish(req_t *r)
{
    if (ccl_wait(r) == CCL_SUCCESS)
        return 0;
    fprintf(stderr, "overlap: wait: %s\n", ccl_get_last_error(comm_));
    return 1;
}
static void barrier(void) { (void)ccl_barrier(comm_); }
static double slowest(double t)
{
    (void)ccl_allreduce(&t, &t, 1, CCL_FLOAT64, CCL_MAX, comm_);
    return t;
}
static void stop(void)
{
    ccl_compressor_destroy(comp_);
    ccl_comm_destroy(comm_);
}
static const char *name(void) { return spec_ != NULL ? spec_ : "cclz exact"; }
#endif

/* The slowest rank's mean seconds per iteration of issue, compute C, wait. */
static double timed(float *buf, size_t n, int iters, double c)
{
    double total = 0;
    for (int i = 0; i < iters; i++) {
        req_t r;
        barrier();
        double t0 = now_s();
        issue(buf, n, &r);
        if (c > 0)
            compute(c);
        if (finish(&r))
            exit(1);
        total += now_s() - t0;
    }
    return slowest(total / iters);
}

int main(int argc, char **argv)
{
    size_t bytes = 100u << 20;
    int iters = 3;
    const char *mults = "0 0.5 1 1.5 2";
    start(&argc, &argv);
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "-b") == 0)
            bytes = perf_parse_size(argv[i + 1]);
        else if (strcmp(argv[i], "-n") == 0)
            iters = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "-x") == 0)
            mults = argv[i + 1];
#ifndef OVERLAP_MPI
        else if (strcmp(argv[i], "-z") == 0)
            spec_ = argv[i + 1];
#endif
        else {
            fprintf(stderr, "usage: %s [-b BYTES] [-n ITERS] [-z SPEC] [-x MULTIPLES]\n", argv[0]);
            return 2;
        }
    }
    size_t n = bytes / sizeof(float);
    float *buf = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++)
        buf[i] = (float)((i * 2654435761u + (size_t)rank_) % 1000) / 1000.0f;
    timed(buf, n, 1, 0); /* warm-up: connections, compressor state, the progress thread */
    double t_comm = timed(buf, n, iters, 0);
    if (rank_ == 0) {
        printf("# %s, %d ranks, %zu bytes float32 sum, %d iterations per row\n", name(), size_,
               bytes, iters);
        printf("# t_comm (issue + wait, no compute) %.1f ms\n", 1e3 * t_comm);
        printf("%10s %12s %12s %8s %9s\n", "compute_ms", "total_ms", "max_ms", "ratio", "overlap%");
    }
    char *list = strdup(mults), *save = NULL;
    for (char *tok = strtok_r(list, " ,", &save); tok; tok = strtok_r(NULL, " ,", &save)) {
        double c = atof(tok) * t_comm;
        double total = timed(buf, n, iters, c);
        double hi = c > t_comm ? c : t_comm;
        double ov = 100.0 * (1.0 - (total - c) / t_comm);
        ov = ov < 0 ? 0 : ov > 100 ? 100 : ov;
        if (rank_ == 0)
            printf("%10.1f %12.1f %12.1f %8.3f %9.1f\n", 1e3 * c, 1e3 * total, 1e3 * hi,
                   total / hi, c > 0 ? ov : 0.0);
        fflush(stdout);
    }
    free(list);
    free(buf);
    stop();
    return 0;
}
