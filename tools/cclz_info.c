/* cclz_info.c: prints the version, the algorithms with their descriptions, the codecs and
 * error-feedback modes, the cost model and every CCLZ_* setting with its current value and
 * doc. Under a launcher, --measure runs auto's calibration and prints its table. */
#include "collectives/compressed/compressor.h"
#include "collectives/compressed/auto.h"
#include "core/comm.h"
#include "core/config.h"

#include <stdio.h>
#include <string.h>

/* auto's model as measured on this job's communicator, rank 0 printing. */
static int measure(void)
{
    ccl_comm_t comm;
    ccl_compressor_t c;
    int rank;
    if (ccl_comm_init_from_env(&comm) != CCL_SUCCESS ||
        ccl_compressor_create(comm, "auto", 1, CCL_FLOAT32, &c) != CCL_SUCCESS) {
        fprintf(stderr, "cclz_info --measure: %s (run it under cclz_run, mpirun, srun or "
                        "torchrun)\n", ccl_get_last_error(NULL));
        return 1;
    }
    ccl_comm_rank(comm, &rank);
    if (rank == 0) {
        printf("auto on %d ranks, compressed = %s; measured:\n", comm->nranks,
               ccl_compressor_spec(c->auto_sub));
        for (int k = 0; k < CCL_AUTO_POINTS; k++)
            printf("  %10.0f bytes: exact %.0f us, compressed %.0f us\n", comm->automodel.bytes[k],
                   comm->automodel.us[0][k], comm->automodel.us[1][k]);
        printf("%12s %14s %14s  %s\n", "bytes", "exact (us)", "compressed", "choice");
        for (size_t b = 4096; b <= (256u << 20); b *= 4) {
            double e = ccl_auto_model_us(comm, 0, (double)b), z = ccl_auto_model_us(comm, 1, (double)b);
            double margin = (double)b > comm->automodel.bytes[CCL_AUTO_POINTS - 1] ? 0.6 : 0.9;
            printf("%12zu %14.0f %14.0f  %s\n", b, e, z, z < margin * e ? "compressed" : "exact");
        }
    }
    ccl_compressor_destroy(c);
    ccl_comm_destroy(comm);
    return 0;
}

int main(int argc, char **argv)
{
    int v;
    if (argc > 1 && strcmp(argv[1], "--measure") == 0)
        return measure();
    ccl_get_version(&v);
    printf("cclz %d.%d.%d\n\n", v / 10000, v / 100 % 100, v % 100);
    printf("Algorithms (CCLZ_ALGO=name or coll:name to force one):\n");
    for (int i = 0; ccl_algos[i] != NULL; i++)
        printf("  %-15s %-17s %s%s\n", ccl_coll_name(ccl_algos[i]->coll), ccl_algos[i]->name,
               ccl_algos[i]->desc, ccl_algos[i]->estimate_us ? "" : " [only when forced]");

    printf("\nCompressed algorithms (spec key algo=name):\n");
    for (int i = 0; ccl_calgos[i] != NULL; i++)
        printf("  %-15s %-17s %s\n", ccl_coll_name(ccl_calgos[i]->base.coll),
               ccl_calgos[i]->base.name, ccl_calgos[i]->base.desc);
    printf("\nCodecs (spec \"name:key=value,...\"; see docs/wire-format.md):\n");
    for (int i = 0; ccl_codecs[i] != NULL; i++)
        printf("  %-10s %s\n  %-10s   %s\n", ccl_codecs[i]->name, ccl_codecs[i]->desc, "",
               ccl_codecs[i]->params_doc);
    printf("\nSpec keys of every compressor: ef=none|classic|ef21|ef21w (default classic; dgc "
           "brings its own), weight=W (EF21-W), algo=NAME (default: sign_vote for "
           "sign:scale=none, sparse_allgather for sparse codecs, and for dense ones sra or tree "
           "by the cost model below); or the whole spec \"auto\" or "
           "\"none\".\n\"auto\" measures its model per communicator: cclz_info --measure under "
           "a launcher prints it.\n");

    printf("\nCost model: alpha %.1f us, %.2f GB/s link, %.2f GB/s reduction\n",
           ccl_cost_model.alpha_us, 1e-3 / ccl_cost_model.beta_us_per_byte,
           1e-3 / ccl_cost_model.reduce_us_per_byte);
    printf("Allreduce choice by size (bytes) and ranks:\n%12s", "bytes\\ranks");
    static const int ranks[] = {2, 3, 4, 8, 16, 64};
    for (size_t j = 0; j < sizeof(ranks) / sizeof(ranks[0]); j++)
        printf(" %13d", ranks[j]);
    printf("\n");
    for (size_t bytes = 8; bytes <= (256u << 20); bytes *= 8) {
        printf("%12zu", bytes);
        for (size_t j = 0; j < sizeof(ranks) / sizeof(ranks[0]); j++) {
            ccl_coll_args_t a = {.coll = CCL_COLL_ALLREDUCE, .count = bytes / 4,
                                 .dtype = CCL_FLOAT32, .op = CCL_SUM, .dt_size = 4};
            printf(" %13s", ccl_select_algo(&a, ranks[j])->name);
        }
        printf("\n");
    }
    printf("Compressed allreduce of a dense codec without algo= (here int:bits=8), by buffer "
           "size (float32 bytes) and ranks:\n%12s", "bytes\\ranks");
    for (size_t j = 0; j < sizeof(ranks) / sizeof(ranks[0]); j++)
        printf(" %13d", ranks[j]);
    printf("\n");
    for (size_t bytes = 1024; bytes <= (256u << 20); bytes *= 4) {
        struct ccl_compressor c = {.count = bytes / 4};
        double us;
        if (ccl_codec_parse("int:bits=8", &c.codec) != CCL_SUCCESS)
            return 1;
        printf("%12zu", bytes);
        for (size_t j = 0; j < sizeof(ranks) / sizeof(ranks[0]); j++) {
            c.nranks = ranks[j];
            printf(" %13s", ccl_comp_default_algo(&c, &us)->base.name);
        }
        printf("\n");
    }
    printf("\nSettings (environment):\n");
    ccl_config_print(stdout);
    return 0;
}
