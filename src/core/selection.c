/* selection.c: which algorithm runs a call: CCLZ_ALGO if it names one, else the cheapest
 * estimate of the α-β cost model. */
#include "config.h"
#include "../collectives/coll.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

/* Defaults fitted to UCX shared memory on one host; links across hosts are slower, which
 * moves the ring/recursive-doubling switch to smaller messages, never the other way. */
ccl_cost_model_t ccl_cost_model = {
    .alpha_us           = 4.0,
    .beta_us_per_byte   = 2.0e-4, /* 5 GB/s */
    .reduce_us_per_byte = 2.5e-4,
};

const ccl_algo_t *const ccl_algos[] = {
    &ccl_allreduce_ring,
    &ccl_allreduce_rec_doubling,
    &ccl_allreduce_direct,
    &ccl_allreduce_halving_doubling,
    &ccl_allgather_ring,
    &ccl_reduce_scatter_ring,
    &ccl_broadcast_binomial,
    &ccl_barrier_dissemination,
    NULL,
};

const char *ccl_coll_name(ccl_coll_t coll)
{
    static const char *names[] = {"allreduce", "allgather", "reduce_scatter", "broadcast",
                                  "barrier"};
    return coll < CCL_NUM_COLLS ? names[coll] : "?";
}

/* The name CCLZ_ALGO gives for coll ("" if none): "ring" applies to every collective that
 * has a ring, "allreduce:rec_doubling" to one. */
static void forced_name(ccl_coll_t coll, char *out, size_t outlen)
{
    const char *spec = ccl_config_get()->algo;
    const char *cname = ccl_coll_name(coll);
    char item[64];
    out[0] = '\0';
    while (*spec != '\0') {
        size_t n = strcspn(spec, ",");
        snprintf(item, sizeof(item), "%.*s", (int)CCL_MIN(n, sizeof(item) - 1), spec);
        spec += n + (spec[n] == ',' ? 1 : 0);
        char *colon = strchr(item, ':');
        if (colon == NULL) {
            if (out[0] == '\0')
                snprintf(out, outlen, "%s", item);
        } else if ((size_t)(colon - item) == strlen(cname) &&
                   strncmp(item, cname, strlen(cname)) == 0) {
            snprintf(out, outlen, "%s", colon + 1);
        }
    }
}

/* CCLZ_ALGO is read once, like the rest of the configuration; parsed once per collective. */
static char forced[CCL_NUM_COLLS][64];
static pthread_once_t forced_once = PTHREAD_ONCE_INIT;

static void forced_parse(void)
{
    for (int c = 0; c < CCL_NUM_COLLS; c++)
        forced_name((ccl_coll_t)c, forced[c], sizeof(forced[c]));
}

const ccl_algo_t *ccl_select_algo(const ccl_coll_args_t *args, int nranks)
{
    const ccl_algo_t *best = NULL;
    double best_us = 0;
    const char *want;

    pthread_once(&forced_once, forced_parse);
    want = args->coll < CCL_NUM_COLLS ? forced[args->coll] : "";
    for (int i = 0; ccl_algos[i] != NULL; i++) {
        const ccl_algo_t *al = ccl_algos[i];
        if (al->coll != args->coll)
            continue;
        if (want[0] != '\0' && strcmp(al->name, want) == 0) {
            ccl_debug("%s: %s (forced by CCLZ_ALGO)", ccl_coll_name(args->coll), al->name);
            return al;
        }
        if (al->estimate_us == NULL)
            continue;
        double us = al->estimate_us(args, nranks);
        if (best == NULL || us < best_us) {
            best = al;
            best_us = us;
        }
    }
    ccl_debug("%s of %zu x %zu B on %d ranks: %s (cost model: %.1f us)%s",
              ccl_coll_name(args->coll), args->count, args->dt_size, nranks, best->name,
              best_us, want[0] ? " (CCLZ_ALGO names no such algorithm here)" : "");
    return best;
}
