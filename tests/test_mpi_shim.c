/* test_mpi_shim.c: an ordinary MPI program, run by tests/mpi_shim.sh under mpirun with and
 * without LD_PRELOAD=libcclz_mpi.so. What must hold either way: integers, doubles and
 * non-sum float reductions bit for bit as MPI computes them; float sums within the 8-bit
 * bound (exact without the shim); MPI_IN_PLACE; two communicators from MPI_Comm_split at
 * once; MPI_Comm_dup and MPI_Comm_free in a loop without leaking file descriptors; more
 * buffers than the shim's table holds; MPI_Iallreduce completed by each of the wait and test
 * calls, with a NaN coming back NaN. With "compressed" as argument it also checks that
 * large float sums were in fact compressed (they differ from the exact sum). Rank 0 prints
 * PASS/FAIL lines, each agreed by every rank. */
#include <mpi.h>

#include <dirent.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int rank, size, failed;

static void report(MPI_Comm comm, int ok, const char *what)
{
    int all;
    PMPI_Allreduce(&ok, &all, 1, MPI_INT, MPI_MIN, comm);
    failed |= !all;
    if (rank == 0)
        printf("%s mpi_shim np=%d: %s\n", all ? "PASS" : "FAIL", size, what);
}

/* Rank r's float element i: uniform in [-1, 1), the same on every run. */
static float val(int r, size_t i, int salt)
{
    unsigned long long z = (unsigned long long)r * 0x9e3779b97f4a7c15ULL + i * 0xbf58476d1ce4e5b9ULL +
                           (unsigned long long)salt * 7919;
    z ^= z >> 31;
    z *= 0x94d049bb133111ebULL;
    z ^= z >> 29;
    return (float)(z >> 40) / 8388608.0f - 1.0f;
}

/* out against the exact sum over the ranks of comm (ranks given by their world numbers):
 * within tol everywhere; *differs set where some element is not the float sum. */
static int near_sum(const float *out, size_t n, const int *world, int nr, int salt, double tol,
                    int *differs)
{
    for (size_t i = 0; i < n; i++) {
        double e = 0;
        float f = 0;
        for (int k = 0; k < nr; k++) {
            e += val(world[k], i, salt);
            f += val(world[k], i, salt);
        }
        if (fabs(out[i] - e) > tol) {
            fprintf(stderr, "rank %d: [%zu] %g vs %g\n", rank, i, out[i], e);
            return 0;
        }
        if (differs != NULL && out[i] != f)
            *differs = 1;
    }
    return 1;
}

static int open_fds(void)
{
    int n = 0;
    DIR *d = opendir("/proc/self/fd");
    while (d != NULL && readdir(d) != NULL)
        n++;
    if (d != NULL)
        closedir(d);
    return n;
}

int main(int argc, char **argv)
{
    const int compressed = argc > 1 && strcmp(argv[1], "compressed") == 0;
    const size_t N = 1 << 18; /* 1 MB of floats: above the shim's threshold */
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    /* 8-bit with error feedback: each rank's values (range 2) and the sum (range 2 * size)
     * quantized once, the residual carried: within twice the units of both. */
    const double tol = 2.0 * (size * 2.0 / 255 + 2.0 * size / 255) + 1e-5;
    int world[64];
    for (int k = 0; k < size; k++)
        world[k] = k;
    float *x = malloc(N * 4), *y = malloc(N * 4);
    if (argc > 1 && strcmp(argv[1], "pending") == 0) {
        /* An MPI_Iallreduce never waited on, and a split communicator never freed, at
         * MPI_Finalize: the job ends cleanly. */
        MPI_Comm half;
        MPI_Request rq;
        for (size_t i = 0; i < N; i++)
            x[i] = val(rank, i, 0);
        MPI_Comm_split(MPI_COMM_WORLD, rank % 2, rank, &half);
        MPI_Allreduce(x, y, (int)N, MPI_FLOAT, MPI_SUM, half);
        MPI_Iallreduce(x, y, (int)N, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD, &rq);
        MPI_Finalize();
        return 0;
    }
    if (argc > 1 && strcmp(argv[1], "kill") == 0) {
        /* Rank 1 dies between compressed sums: the job must end (an error or an abort on
         * every rank), not hang. The script times it. */
        for (size_t i = 0; i < N; i++)
            x[i] = val(rank, i, 0);
        for (int it = 0; it < 1000; it++) {
            if (rank == 1 && it == 3)
                raise(SIGKILL);
            if (MPI_Allreduce(x, y, (int)N, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD) != MPI_SUCCESS)
                break;
        }
        MPI_Finalize();
        return 0;
    }

    /* Types and ops the shim must pass through untouched. */
    double d[3] = {rank + 0.1, 1e300 / size, -rank * 3.5}, dd[3];
    int iv[2] = {rank, 7 * rank - 3}, io[2], im[2];
    MPI_Allreduce(d, dd, 3, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
    MPI_Allreduce(iv, io, 2, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    MPI_Allreduce(iv, im, 2, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    for (size_t i = 0; i < N; i++)
        x[i] = val(rank, i, 0);
    MPI_Allreduce(x, y, (int)N, MPI_FLOAT, MPI_MAX, MPI_COMM_WORLD);
    int ok = io[0] == size * (size - 1) / 2 && io[1] == 7 * size * (size - 1) / 2 - 3 * size &&
             im[0] == size - 1 && im[1] == 7 * (size - 1) - 3;
    double ds = 0;
    for (int k = 0; k < size; k++)
        ds += -k * 3.5;
    ok &= dd[2] == ds;
    for (size_t i = 0; i < N && ok; i++) {
        float m = val(0, i, 0);
        for (int k = 1; k < size; k++)
            m = fmaxf(m, val(k, i, 0));
        ok = y[i] == m;
    }
    report(MPI_COMM_WORLD, ok, "int and double sums, int max, 1 MB float max: as MPI computes them");

    /* Float sums: above the threshold (compressed under the shim), in place, below it. */
    int differs = 0;
    MPI_Allreduce(x, y, (int)N, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
    ok = near_sum(y, N, world, size, 0, tol, &differs);
    memcpy(y, x, N * 4);
    MPI_Allreduce(MPI_IN_PLACE, y, (int)N, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
    ok &= near_sum(y, N, world, size, 0, tol, NULL);
    float small[256], smallo[256];
    for (int i = 0; i < 256; i++)
        small[i] = (float)(rank * 256 + i);
    MPI_Allreduce(small, smallo, 256, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
    for (int i = 0; i < 256; i++)
        ok &= smallo[i] == (float)(256 * size * (size - 1) / 2 + size * i);
    report(MPI_COMM_WORLD, ok, "1 MB float sums within the 8-bit bound, in place too; 1 KB exact");
    if (compressed)
        report(MPI_COMM_WORLD, differs, "the 1 MB float sum went through the codec (not the "
                                        "exact float sum)");

    /* Two halves from MPI_Comm_split, each summing at once. */
    MPI_Comm half;
    MPI_Comm_split(MPI_COMM_WORLD, rank % 2, rank, &half);
    int hr, hs, members[64];
    MPI_Comm_rank(half, &hr);
    MPI_Comm_size(half, &hs);
    MPI_Allgather(&rank, 1, MPI_INT, members, 1, MPI_INT, half);
    for (size_t i = 0; i < N; i++)
        x[i] = val(rank, i, 1);
    MPI_Allreduce(x, y, (int)N, MPI_FLOAT, MPI_SUM, half);
    ok = near_sum(y, N, members, hs, 1, tol, NULL);
    MPI_Comm_free(&half);
    report(MPI_COMM_WORLD, ok, "MPI_Comm_split: both halves sum at once, each within bound");

    /* Dup, sum, free, 20 times: the shim's communicators go with them. */
    int fds0 = 0;
    ok = 1;
    for (int it = 0; it < 20 && ok; it++) {
        MPI_Comm dup;
        MPI_Comm_dup(MPI_COMM_WORLD, &dup);
        MPI_Allreduce(x, y, (int)N, MPI_FLOAT, MPI_SUM, dup);
        ok = near_sum(y, 64, world, size, 1, tol, NULL);
        MPI_Comm_free(&dup);
        if (it == 1)
            fds0 = open_fds();
    }
    int fds1 = open_fds();
    ok &= fds1 <= fds0;
    if (!ok)
        fprintf(stderr, "rank %d: open fds %d after 2 dup/free rounds, %d after 20\n", rank, fds0,
                fds1);
    report(MPI_COMM_WORLD, ok, "MPI_Comm_dup + sum + MPI_Comm_free 20 times: within bound, no "
                               "file descriptors left behind");

    /* More buffers than the table (CCLZ_MPI_TABLE=2 in the suite), round and round. */
    enum { NB = 5 };
    float *bufs[NB];
    ok = 1;
    for (int b = 0; b < NB; b++)
        bufs[b] = malloc(N * 4);
    for (int round = 0; round < 3 && ok; round++)
        for (int b = 0; b < NB && ok; b++) {
            for (size_t i = 0; i < N; i++)
                bufs[b][i] = val(rank, i, 10 + b);
            MPI_Allreduce(MPI_IN_PLACE, bufs[b], (int)N, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
            ok = near_sum(bufs[b], N, world, size, 10 + b, tol, NULL);
        }
    for (int b = 0; b < NB; b++)
        free(bufs[b]);
    report(MPI_COMM_WORLD, ok, "5 buffers in turn, 3 rounds: within bound");

    /* Doubles: compressed only where CCLZ_MPI_DOUBLE=1 (the suite's second shim run),
     * within the 8-bit bound either way (exact without the shim or the setting). */
    {
        double *dx = malloc(N * 8), *dy = malloc(N * 8);
        for (size_t i = 0; i < N; i++)
            dx[i] = val(rank, i, 60);
        MPI_Allreduce(dx, dy, (int)N, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
        ok = 1;
        int ddiff = 0;
        for (size_t i = 0; i < N && ok; i++) {
            double e = 0;
            for (int k = 0; k < size; k++)
                e += val(k, i, 60);
            ok = fabs(dy[i] - e) <= tol;
            ddiff |= fabs(dy[i] - e) > 1e-6;
        }
        free(dx);
        free(dy);
        if (argc > 2 && strcmp(argv[2], "doubles") == 0)
            ok &= ddiff; /* went through the codec */
        else
            ok &= !ddiff; /* passed through: exact */
        report(MPI_COMM_WORLD, ok, argc > 2 && strcmp(argv[2], "doubles") == 0
                                       ? "CCLZ_MPI_DOUBLE=1: a 2 MB double sum compressed, "
                                         "within the 8-bit bound"
                                       : "a 2 MB double sum as MPI computes it (doubles are "
                                         "compressed only when asked)");
    }

    /* Allgather of floats, out of place and in place: every rank's part within one 8-bit
     * unit of its values (twice, with the residual carried), the same bytes everywhere. */
    {
        const size_t part = N / 4;
        float *all = malloc(part * size * 4), *all2 = malloc(part * size * 4);
        for (size_t i = 0; i < part; i++)
            x[i] = val(rank, i, 50);
        MPI_Allgather(x, (int)part, MPI_FLOAT, all, (int)part, MPI_FLOAT, MPI_COMM_WORLD);
        memcpy(all2 + (size_t)rank * part, x, part * 4);
        MPI_Allgather(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, all2, (int)part, MPI_FLOAT,
                      MPI_COMM_WORLD);
        ok = 1;
        for (int k = 0; k < size && ok; k++)
            for (size_t i = 0; i < part && ok; i++)
                ok = fabs(all[k * part + i] - val(k, i, 50)) <= 2 * 2.0 / 255 + 1e-6 &&
                     fabs(all2[k * part + i] - val(k, i, 50)) <= 2 * 2.0 / 255 + 1e-6;
        /* The same bytes on every rank: compare a checksum's min and max. */
        unsigned long long h = 1469598103934665603ULL, hmin, hmax;
        for (size_t i = 0; i < part * size; i++) {
            unsigned int u;
            memcpy(&u, &all[i], 4);
            h = (h ^ u) * 1099511628211ULL;
        }
        MPI_Allreduce(&h, &hmin, 1, MPI_UNSIGNED_LONG_LONG, MPI_MIN, MPI_COMM_WORLD);
        MPI_Allreduce(&h, &hmax, 1, MPI_UNSIGNED_LONG_LONG, MPI_MAX, MPI_COMM_WORLD);
        ok &= hmin == hmax;
        free(all);
        free(all2);
        report(MPI_COMM_WORLD, ok, "MPI_Allgather of floats, out of place and in place: each "
                                   "part within the 8-bit bound, the same bytes on every rank");
    }

    /* Nonblocking: MPI_Iallreduce on two buffers and a double one (MPI's own), completed by
     * Wait, Test, Waitall, Waitany and Testsome, with other calls in between. */
    float *a = malloc(N * 4), *b = malloc(N * 4);
    double dv[4] = {1, 2, 3, rank}, dvo[4];
    ok = 1;
    for (int mode = 0; mode < 4 && ok; mode++) {
        MPI_Request rq[3];
        for (size_t i = 0; i < N; i++) {
            a[i] = val(rank, i, 20 + mode);
            b[i] = val(rank, i, 30 + mode);
        }
        MPI_Iallreduce(MPI_IN_PLACE, a, (int)N, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD, &rq[0]);
        MPI_Iallreduce(MPI_IN_PLACE, b, (int)N, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD, &rq[1]);
        MPI_Iallreduce(dv, dvo, 4, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD, &rq[2]);
        MPI_Allreduce(iv, io, 2, MPI_INT, MPI_SUM, MPI_COMM_WORLD); /* meanwhile */
        if (mode == 0) {
            for (int k = 0; k < 3; k++)
                MPI_Wait(&rq[k], MPI_STATUS_IGNORE);
        } else if (mode == 1) {
            int done = 0;
            while (!done) {
                int f0, f1, f2;
                MPI_Test(&rq[0], &f0, MPI_STATUS_IGNORE);
                MPI_Test(&rq[1], &f1, MPI_STATUS_IGNORE);
                MPI_Test(&rq[2], &f2, MPI_STATUS_IGNORE);
                done = f0 && f1 && f2;
            }
        } else if (mode == 2) {
            MPI_Waitall(3, rq, MPI_STATUSES_IGNORE);
        } else {
            int left = 3, idx, out, ind[3];
            MPI_Waitany(3, rq, &idx, MPI_STATUS_IGNORE);
            left--;
            while (left > 0) {
                MPI_Testsome(3, rq, &out, ind, MPI_STATUSES_IGNORE);
                left -= out == MPI_UNDEFINED ? 0 : out;
            }
        }
        ok = rq[0] == MPI_REQUEST_NULL && rq[1] == MPI_REQUEST_NULL && rq[2] == MPI_REQUEST_NULL;
        ok &= near_sum(a, N, world, size, 20 + mode, tol, NULL) &&
              near_sum(b, N, world, size, 30 + mode, tol, NULL);
        ok &= dvo[0] == size && dvo[3] == size * (size - 1) / 2.0;
        if (!ok)
            fprintf(stderr, "rank %d: nonblocking mode %d failed\n", rank, mode);
    }
    /* MPI_Comm_free with an MPI_Iallreduce pending on the communicator: the operation
     * completes normally (MPI's rule), the request waited on afterwards. Under the shim
     * only: Open MPI 4.1.4 itself crashes there (a segfault in its libnbc progress). */
    if (compressed) {
        MPI_Comm dup;
        MPI_Request fr;
        MPI_Comm_dup(MPI_COMM_WORLD, &dup);
        for (size_t i = 0; i < N; i++)
            a[i] = val(rank, i, 45);
        MPI_Iallreduce(MPI_IN_PLACE, a, (int)N, MPI_FLOAT, MPI_SUM, dup, &fr);
        MPI_Comm_free(&dup);
        MPI_Wait(&fr, MPI_STATUS_IGNORE);
        ok &= near_sum(a, N, world, size, 45, tol, NULL);
    }
    /* A NaN on one rank: every rank's result is NaN, as a sum holding it would be. */
    MPI_Request nr;
    for (size_t i = 0; i < N; i++)
        a[i] = val(rank, i, 40);
    if (rank == size - 1)
        a[3] = NAN;
    MPI_Iallreduce(MPI_IN_PLACE, a, (int)N, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD, &nr);
    MPI_Wait(&nr, MPI_STATUS_IGNORE);
    ok &= isnan(a[3]);
    free(a);
    free(b);
    report(MPI_COMM_WORLD, ok, "MPI_Iallreduce (two float buffers and a double one) completed "
                               "by Wait, Test, Waitall, Waitany+Testsome, with a blocking call "
                               "meanwhile: within bound (under the shim also with its "
                               "communicator freed while pending); a NaN comes back NaN");

    free(x);
    free(y);
    int any = failed;
    MPI_Finalize();
    return any;
}
