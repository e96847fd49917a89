/* mpi_allreduce_perf.c: the same measurement as cclz_perf, through MPI (Open MPI), so both
 * can be compared in one run: same sizes, inputs, timing and columns. */
#include "perf_common.h"

#include <mpi.h>

int main(int argc, char **argv)
{
    perf_opts_t o;
    int rank, p;
    MPI_Init(&argc, &argv);
    perf_parse(argc, argv, &o, 0);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &p);
    MPI_Datatype dts_map[] = {MPI_FLOAT, MPI_DOUBLE, MPI_INT32_T, MPI_INT64_T};
    MPI_Op op_map[] = {MPI_SUM, MPI_MIN, MPI_MAX};
    if (o.coll != P_ALLREDUCE) {
        if (rank == 0)
            fprintf(stderr, "mpi_allreduce_perf measures allreduce only\n");
        MPI_Finalize();
        return 2;
    }
    if (rank == 0)
        perf_header(&o, "openmpi", p);
    size_t dts = perf_dtype_sizes[o.dtype];
    uint8_t *in = malloc(o.max_bytes + dts), *out = malloc(o.max_bytes + dts);
    for (size_t bytes = o.min_bytes; bytes <= o.max_bytes;
         bytes = (size_t)((double)bytes * o.factor) > bytes ? (size_t)((double)bytes * o.factor)
                                                            : bytes + 1) {
        size_t count = bytes / dts;
        if (count == 0)
            continue;
        perf_fill(in, count, o.dtype, o.input, rank, 0);
        for (int i = 0; i < o.warmup; i++)
            MPI_Allreduce(in, out, (int)count, dts_map[o.dtype], op_map[o.op], MPI_COMM_WORLD);
        MPI_Barrier(MPI_COMM_WORLD);
        double t0 = perf_now();
        for (int i = 0; i < o.iters; i++)
            MPI_Allreduce(in, out, (int)count, dts_map[o.dtype], op_map[o.op], MPI_COMM_WORLD);
        double us = (perf_now() - t0) * 1e6 / o.iters, us_max;
        MPI_Allreduce(&us, &us_max, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
        long wrong = 0, wrong_all;
        if (o.check) {
            memset(out, 0xff, count * dts);
            MPI_Allreduce(in, out, (int)count, dts_map[o.dtype], op_map[o.op], MPI_COMM_WORLD);
            wrong = perf_count_wrong(&o, out, count, 0, p, 0, count);
        }
        MPI_Allreduce(&wrong, &wrong_all, 1, MPI_LONG, MPI_SUM, MPI_COMM_WORLD);
        if (rank == 0)
            perf_row(&o, count * dts, count, us_max, p, wrong_all);
    }
    if (rank == 0)
        perf_footer(&o);
    free(in);
    free(out);
    MPI_Finalize();
    return 0;
}
