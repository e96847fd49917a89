/* env_config.h: the table of CCLZ_* settings; each setting is one row (base/params.h) with its
 * default, doc, parser and field in ccl_config_t. */
#ifndef CCL_ENV_CONFIG_H
#define CCL_ENV_CONFIG_H

#include "base/params.h"

#include <stddef.h>
#include <stdio.h>

/* Values after parsing the environment; read once per process on first use. */
typedef struct {
    double timeout_s;
    double auto_trial_ratio; /* see CCLZ_AUTO_TRIAL_RATIO */
    size_t chunk_size;
    size_t small_msg_size;
    const char *algo;        /* "" = automatic */
    const char *ifname;      /* "" = any */
    const char *compress;    /* "" = each compressor's own spec */
    const char *net_devices; /* "" = UCX_NET_DEVICES or ifname decide */
    const char *host_id;     /* "" = boot id, hostname and network namespace */
    int    hier;             /* see CCLZ_HIER */
    const char *log_level;
    int    port_range_lo;
    int    gpu_encode;       /* see CCLZ_GPU_ENCODE */
    int    check_calls;      /* see CCLZ_CHECK_CALLS */
    int    progress_thread;  /* see CCLZ_PROGRESS_THREAD */
    int    progress_cpu;     /* see CCLZ_PROGRESS_CPU; -1: unbound */
} ccl_config_t;

/* Parses the environment (once) and returns the values. Invalid values are reported with a
 * warning and the default is used. */
const ccl_config_t *ccl_config_get(void);

/* All rows (names without the CCLZ_ prefix; defaults in the environment's syntax), ended by
 * CCL_PARAM_END, for the info tool and the tests. A row of size 0 documents a setting that
 * is read elsewhere (ccl_comm_init_from_env). */
const ccl_param_field_t *ccl_config_table(void);

/* Prints every setting with its current value and doc. */
void ccl_config_print(FILE *out);

#endif
