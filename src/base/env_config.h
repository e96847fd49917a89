/* env_config.h: the table of CCLZ_* settings; each setting is one row with its default and doc. */
#ifndef CCL_ENV_CONFIG_H
#define CCL_ENV_CONFIG_H

#include "base/params.h" /* ccl_parse_size */

#include <stddef.h>
#include <stdio.h>

typedef enum { CCL_CFG_INT, CCL_CFG_DOUBLE, CCL_CFG_SIZE, CCL_CFG_STRING } ccl_cfg_type_t;

typedef struct {
    const char    *name;      /* without the CCLZ_ prefix */
    const char    *dflt;      /* default, in the same syntax as the environment value */
    ccl_cfg_type_t type;
    const char    *doc;
} ccl_cfg_entry_t;

/* Values after parsing the environment; read once per process on first use. */
typedef struct {
    double timeout_s;
    double auto_trial_ratio; /* see CCLZ_AUTO_TRIAL_RATIO */
    size_t chunk_size;
    size_t small_msg_size;
    const char *algo;        /* "" = automatic */
    const char *ifname;      /* "" = any */
    const char *compress;    /* "" = each compressor's own spec */
    const char *log_level;
    int    port_range_lo;
    int    gpu_encode;       /* see CCLZ_GPU_ENCODE */
} ccl_config_t;

/* Parses the environment (once) and returns the values. Invalid values are reported with a
 * warning and the default is used. */
const ccl_config_t *ccl_config_get(void);

/* All rows, for the info tool. */
const ccl_cfg_entry_t *ccl_config_table(size_t *n_p);

/* Prints every setting with its current value and doc. */
void ccl_config_print(FILE *out);

#endif
