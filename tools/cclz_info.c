/* cclz_info.c: prints the version, the algorithms with their descriptions, the cost model
 * and every CCLZ_* setting with its current value and doc. */
#include "collectives/coll.h"
#include "core/config.h"

#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    int v;
    ccl_get_version(&v);
    printf("cclz %d.%d.%d\n\n", v / 10000, v / 100 % 100, v % 100);
    printf("Algorithms (CCLZ_ALGO=name or coll:name to force one):\n");
    for (int i = 0; ccl_algos[i] != NULL; i++)
        printf("  %-15s %-17s %s%s\n", ccl_coll_name(ccl_algos[i]->coll), ccl_algos[i]->name,
               ccl_algos[i]->desc, ccl_algos[i]->estimate_us ? "" : " [only when forced]");

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
            ccl_coll_args_t a = {CCL_COLL_ALLREDUCE, NULL, NULL, bytes / 4, CCL_FLOAT32, CCL_SUM, 0, 4, NULL, NULL, 0};
            printf(" %13s", ccl_select_algo(&a, ranks[j])->name);
        }
        printf("\n");
    }
    printf("\nSettings (environment):\n");
    ccl_config_print(stdout);
    (void)argc;
    (void)argv;
    return 0;
}
