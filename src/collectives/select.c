/* select.c: the one registry and selector of exact and compressed algorithms: a table per
 * collective, lookup by name, and the choice for a call: CCLZ_ALGO if it names one (exact
 * calls), else the cheapest estimate of the communicator's cost model. */
#include "collectives/coll.h"
#include "base/env_config.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

/* The tables, one per collective, each in its own folder (<coll>/<coll>.c). */
extern const ccl_algo_t *const ccl_allreduce_algos[];
extern const ccl_algo_t *const ccl_allgather_algos[];
extern const ccl_algo_t *const ccl_reduce_scatter_algos[];
extern const ccl_algo_t *const ccl_broadcast_algos[];
extern const ccl_algo_t *const ccl_barrier_algos[];
extern const ccl_algo_t *const ccl_allreduce_robust_algos[];

const ccl_algo_t *const *ccl_algo_table(ccl_coll_t coll)
{
    static const ccl_algo_t *const *const tables[CCL_NUM_COLLS] = {
        [CCL_COLL_ALLREDUCE] = ccl_allreduce_algos,
        [CCL_COLL_ALLGATHER] = ccl_allgather_algos,
        [CCL_COLL_REDUCE_SCATTER] = ccl_reduce_scatter_algos,
        [CCL_COLL_BROADCAST] = ccl_broadcast_algos,
        [CCL_COLL_BARRIER] = ccl_barrier_algos,
        [CCL_COLL_ALLREDUCE_ROBUST] = ccl_allreduce_robust_algos,
    };
    return (unsigned)coll < CCL_NUM_COLLS ? tables[coll] : NULL;
}

const ccl_algo_t *ccl_algo_find(ccl_coll_t coll, const char *name, uint32_t carries)
{
    const ccl_algo_t *const *t = ccl_algo_table(coll);
    for (int i = 0; t != NULL && t[i] != NULL; i++)
        if ((t[i]->carries & carries) && strcmp(t[i]->name, name) == 0)
            return t[i];
    return NULL;
}

const char *ccl_coll_name(ccl_coll_t coll)
{
    static const char *names[] = {"allreduce", "allgather", "reduce_scatter", "broadcast",
                                  "barrier", "allreduce_robust"};
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

/* Whether CCLZ_ALGO's item names an exact algorithm: "name" of some collective, or
 * "coll:name" of that one. */
static int forced_item_known(const char *item)
{
    const char *colon = strchr(item, ':');
    for (int c = 0; c < CCL_NUM_COLLS; c++) {
        const char *cname = ccl_coll_name((ccl_coll_t)c);
        if (colon == NULL && ccl_algo_find((ccl_coll_t)c, item, CCL_CARRY_EXACT) != NULL)
            return 1;
        if (colon != NULL && (size_t)(colon - item) == strlen(cname) &&
            strncmp(item, cname, strlen(cname)) == 0)
            return ccl_algo_find((ccl_coll_t)c, colon + 1, CCL_CARRY_EXACT) != NULL;
    }
    return 0;
}

static void forced_parse(void)
{
    const char *spec = ccl_config_get()->algo;
    char item[64];
    for (int c = 0; c < CCL_NUM_COLLS; c++)
        forced_name((ccl_coll_t)c, forced[c], sizeof(forced[c]));
    /* An item that names nothing would be ignored without a word: say so, once. */
    while (*spec != '\0') {
        size_t n = strcspn(spec, ",");
        snprintf(item, sizeof(item), "%.*s", (int)CCL_MIN(n, sizeof(item) - 1), spec);
        spec += n + (spec[n] == ',' ? 1 : 0);
        if (item[0] != '\0' && !forced_item_known(item))
            ccl_warn("ignoring CCLZ_ALGO item '%s': no exact algorithm of that name (cclz_info "
                     "lists them)", item);
    }
}

const ccl_algo_t *ccl_algo_select(const ccl_coll_args_t *args, uint32_t want,
                                  const ccl_tuning_t *t, int nranks, double *us_p)
{
    const ccl_algo_t *const *table = ccl_algo_table(args->coll);
    const ccl_algo_t *best = NULL;
    double best_us = -1;
    const char *forced_as = "";

    if (want & CCL_CARRY_EXACT) {
        pthread_once(&forced_once, forced_parse);
        forced_as = forced[args->coll];
    }
    if (forced_as[0] != '\0' && (best = ccl_algo_find(args->coll, forced_as, want)) != NULL) {
        ccl_debug("%s: %s (forced by CCLZ_ALGO)", ccl_coll_name(args->coll), best->name);
        if (us_p != NULL)
            *us_p = -1;
        return best;
    }
    /* The lowest estimate; a candidate without one only where no candidate has one. */
    const ccl_algo_t *unestimated = NULL;
    for (int i = 0; table != NULL && table[i] != NULL; i++) {
        const ccl_algo_t *al = table[i];
        if (!(al->default_for & want))
            continue;
        if (al->estimate_us == NULL) {
            unestimated = unestimated != NULL ? unestimated : al;
            continue;
        }
        double us = al->estimate_us(args, t, nranks);
        if (!(us < INFINITY))
            continue; /* it cannot run here (hier without a hierarchy) */
        if (best == NULL || us < best_us) {
            best = al;
            best_us = us;
        }
    }
    if (best == NULL)
        best = unestimated;
    ccl_debug("%s of %zu x %zu B on %d ranks: %s (cost model: %.1f us)%s",
              ccl_coll_name(args->coll), args->count, args->dt_size, nranks,
              best != NULL ? best->name : "none", best_us,
              forced_as[0] ? " (CCLZ_ALGO names no such algorithm here)" : "");
    if (us_p != NULL)
        *us_p = best_us;
    return best;
}
