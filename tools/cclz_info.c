/* cclz_info.c: prints the version, the algorithms with their descriptions, the codecs and
 * error-feedback modes, the cost model and every CCLZ_* setting with its current value and
 * doc. Under a launcher, --measure runs auto's calibration and prints its table, and
 * --topology prints where each rank runs (host, cores, NUMA node, devices, hierarchy). */
#include "collectives/compressed/compressor.h"
#include "collectives/compressed/auto.h"
#include "core/comm.h"
#include "core/placement.h"
#include "base/env_config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* "exact", "dense,sparse", ...: what al can move. */
static const char *carries_str(const ccl_algo_t *al, char *buf, size_t cap)
{
    static const char *const names[] = {"exact", "dense", "sparse", "sign", "lowrank"};
    size_t n = 0;
    buf[0] = '\0';
    for (unsigned b = 0; b < sizeof(names) / sizeof(names[0]); b++)
        if (al->carries & (1u << b))
            n += (size_t)snprintf(buf + n, cap - n, "%s%s", n ? "," : "", names[b]);
    if (al->default_for)
        snprintf(buf + n, cap - n, "%s", "*");
    return buf;
}

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
        const ccl_tuning_t *t = &comm->tuning;
        for (int k = 0; k < CCL_AUTO_POINTS; k++)
            printf("  %10.0f bytes: exact %.0f us, compressed %.0f us\n", t->measured.bytes[k],
                   t->measured.us[0][k], t->measured.us[1][k]);
        printf("%12s %14s %14s  %s\n", "bytes", "exact (us)", "compressed", "choice");
        for (size_t b = 4096; b <= (256u << 20); b *= 4) {
            double e = ccl_auto_model_us(comm, 0, (double)b), z = ccl_auto_model_us(comm, 1, (double)b);
            printf("%12zu %14.0f %14.0f  %s\n", b, e, z,
                   z < ccl_auto_margin(comm, (double)b) * e ? "compressed" : "exact");
        }
    }
    ccl_compressor_destroy(c);
    ccl_comm_destroy(comm);
    return 0;
}

/* Where every rank of the job runs, rank 0 printing: host and local rank, cores, NUMA node,
 * the devices near them, and the hierarchy with its measured links. */
static int topology(void)
{
    ccl_comm_t comm;
    ccl_host_info_t hi;
    ccl_place_t pl;
    char line[768], *all;
    if (ccl_comm_init_from_env(&comm) != CCL_SUCCESS) {
        fprintf(stderr, "cclz_info --topology: %s (run it under cclz_run, mpirun, srun or "
                        "torchrun)\n", ccl_get_last_error(NULL));
        return 1;
    }
    ccl_comm_host_info(comm, &hi);
    ccl_place_probe(&pl);
    char host[64] = "", numa[16] = "unknown";
    gethostname(host, sizeof(host) - 1);
    if (pl.numa >= 0)
        snprintf(numa, sizeof(numa), "%d", pl.numa);
    snprintf(line, sizeof(line),
             "rank %d: host %d (%s), local rank %d of %d; cores %s (%d), NUMA node %s; "
             "NICs near: %s; GPUs near: %s%s",
             comm->rank, hi.host, host, hi.local_rank, hi.local_size, pl.cores, pl.ncores, numa,
             pl.nics[0] ? pl.nics : "none", pl.gpus[0] ? pl.gpus : "none",
             pl.hwloc ? "" : " (no hwloc: cores only)");
    all = calloc((size_t)comm->nranks, sizeof(line));
    int rc = all != NULL &&
             ccl_allgather(line, all, sizeof(line), CCL_UINT8, comm) == CCL_SUCCESS ? 0 : 1;
    if (rc == 0 && comm->rank == 0) {
        printf("%d ranks on %d hosts\n", comm->nranks, hi.nhosts);
        for (int r = 0; r < comm->nranks; r++)
            printf("  %s\n", all + (size_t)r * sizeof(line));
        const ccl_tuning_t *t = &comm->tuning;
        if (hi.hier)
            printf("hierarchical allreduce: %d shards; links measured %.2f GB/s inside a "
                   "host, %.2f GB/s between hosts\n", comm->hier->nshards,
                   1e-3 / t->beta_local_us_per_byte, 1e-3 / t->beta_us_per_byte);
        else
            printf("flat algorithms only (%s)\n",
                   hi.nhosts < 2 ? "one host" : "one rank per host, or CCLZ_HIER=0");
    }
    free(all);
    ccl_comm_destroy(comm);
    return rc;
}

int main(int argc, char **argv)
{
    int v;
    if (argc > 1 && strcmp(argv[1], "--measure") == 0)
        return measure();
    if (argc > 1 && strcmp(argv[1], "--topology") == 0)
        return topology();
    ccl_get_version(&v);
    printf("cclz %d.%d.%d\n\n", v / 10000, v / 100 % 100, v % 100);
    printf("Algorithms (exact: CCLZ_ALGO=name or coll:name forces one; compressed: a spec's "
           "algo=name). 'carries': what each can move; '*': chosen by the cost model where "
           "nothing is named:\n");
    for (int c = 0; c < CCL_NUM_COLLS; c++) {
        const ccl_algo_t *const *t = ccl_algo_table((ccl_coll_t)c);
        for (int i = 0; t[i] != NULL; i++) {
            char carries[64];
            printf("  %-15s %-17s %-22s %s\n", ccl_coll_name((ccl_coll_t)c), t[i]->name,
                   carries_str(t[i], carries, sizeof(carries)), t[i]->desc);
        }
    }
    printf("\nCodecs (spec \"name:key=value,...\"; see docs/wire-format.md):\n");
    for (int i = 0; ccl_codecs[i] != NULL; i++) {
        printf("  %-10s %s\n", ccl_codecs[i]->name, ccl_codecs[i]->desc);
        for (const ccl_param_field_t *r = ccl_codecs[i]->params; r->name != NULL; r++) {
            char values[128];
            printf("  %-10s   %s=%s (default %s): %s\n", "", r->name,
                   ccl_param_values(r, values, sizeof(values)), r->dflt ? r->dflt : "none", r->doc);
        }
    }
    printf("\nSpec keys of every compressor, beside its codec's:\n");
    for (const ccl_param_field_t *r = ccl_comp_spec_keys; r->name != NULL; r++) {
        char values[128];
        printf("  %s=%s: %s\n", r->name, ccl_param_values(r, values, sizeof(values)), r->doc);
    }
    printf("Or the whole spec \"auto\" or \"none\". \"auto\" measures its model per "
           "communicator: cclz_info --measure under a launcher prints it.\n");
    printf("\nLayouts (ccl_compressor_set_layout: the tensors a compressor's buffer holds, "
           "each a count and a rows x cols shape or none):\n");
    for (int i = 0; ccl_codecs[i] != NULL; i++) {
        const ccl_codec_ops_t *ops = ccl_codecs[i];
        const int elementwise = (ops->flags & CCL_CODEC_PER_ELEMENT) != 0;
        printf("  %-10s %s\n", ops->name,
               elementwise ? "works per element: takes a layout, which changes nothing"
               : (ops->flags & CCL_CODEC_SPARSE)
                   ? "selects in every tensor on its own (k = ratio x its count, at least 1; "
                     "a seed per tensor), one message of buffer-wide indices"
               : ops->id == CCL_CODEC_ID_SIGN
                   ? "scale=l1/l2: one magnitude per tensor (every encoded piece cut at tensor "
                     "boundaries, one message); scale=none: per element, unchanged"
                   : (ops->flags & CCL_CODEC_SHARED_SCALE)
                   ? "one agreed scale per tensor (the max over ranks of each tensor's), every "
                     "encoded piece cut at tensor boundaries, one message"
                   : "buckets restart at every tensor: no scale covers two tensors (every "
                     "encoded piece cut at tensor boundaries, one message)");
    }
    printf("  %-10s %s\n", "powersgd", "approximates every tensor with a 2-D shape whose factors "
           "pay with its own P, Q and warm start (rows= may then be left out), the rest exact; "
           "every P in one exact allreduce, every Q in another");

    const ccl_tuning_t *tun = &ccl_tuning_default;
    printf("\nCost model (a new communicator's): alpha %.1f us, %.2f GB/s link, %.2f GB/s "
           "reduction\n", tun->alpha_us, 1e-3 / tun->beta_us_per_byte,
           1e-3 / tun->reduce_us_per_byte);
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
            printf(" %13s", ccl_algo_select(&a, CCL_CARRY_EXACT, tun, ranks[j], NULL)->name);
        }
        printf("\n");
    }
    printf("Compressed allreduce of a dense codec without algo= (here int:bits=8), by buffer "
           "size (float32 bytes) and ranks:\n%12s", "bytes\\ranks");
    for (size_t j = 0; j < sizeof(ranks) / sizeof(ranks[0]); j++)
        printf(" %13d", ranks[j]);
    printf("\n");
    ccl_codec_t int8;
    if (ccl_codec_parse("int:bits=8", &int8) != CCL_SUCCESS)
        return 1;
    for (size_t bytes = 1024; bytes <= (256u << 20); bytes *= 4) {
        printf("%12zu", bytes);
        for (size_t j = 0; j < sizeof(ranks) / sizeof(ranks[0]); j++)
            printf(" %13s", ccl_comp_select_algo(CCL_COLL_ALLREDUCE, &int8, bytes / 4, tun,
                                                 ranks[j], NULL)->name);
        printf("\n");
    }
    printf("\nSettings (environment):\n");
    ccl_config_print(stdout);
    return 0;
}
