/* env_config.c: CCLZ_* settings: one table row per setting, parsed once from the environment. */
#include "base/env_config.h"
#include "base/base.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static const ccl_cfg_entry_t cfg_table[] = {
    {"TIMEOUT", "30", CCL_CFG_DOUBLE,
     "Seconds a blocked call waits without any message completing before it fails with "
     "CCL_ERR_TIMEOUT (also bounds the rendezvous and the flush in ccl_comm_destroy)."},
    {"ALGO", "", CCL_CFG_STRING,
     "Force one algorithm per collective, e.g. 'ring' or 'allreduce:rec_doubling,broadcast:"
     "binomial'. Empty: the cost model chooses."},
    {"CHUNK_SIZE", "512K", CCL_CFG_SIZE,
     "Pipelining unit of the ring and broadcast algorithms, in bytes (K, M, G suffixes); the "
     "compressed ring's too, as float32 bytes before encoding. sra sends pieces of half this "
     "size once encoded (a scatter piece and a gather piece per peer each round), at most 32 "
     "pieces per segment."},
    {"SMALL_MSG_SIZE", "8K", CCL_CFG_SIZE,
     "Messages up to this size travel with their header in one copy; larger ones as a header "
     "message plus a zero-copy payload."},
    {"IFNAME", "", CCL_CFG_STRING,
     "Network interface for the rendezvous listener and for UCX's network transports "
     "(sets UCX NET_DEVICES). Empty: the first non-loopback interface that is up."},
    {"COMPRESS", "", CCL_CFG_STRING,
     "Replaces the spec of every compressor: 'auto', 'none', or a spec such as "
     "'int:bits=8' or 'dgc:ratio=0.001'. Empty: each compressor keeps the spec it was made with."},
    {"AUTO_TRIAL_RATIO", "2", CCL_CFG_DOUBLE,
     "'auto' follows its cost model when the model predicts one method (exact or compressed) "
     "at least this many times faster than the other; closer calls, and buffers larger than "
     "the model measured, are settled per buffer by trying both (3 calls each, then the "
     "faster, re-tried every 4096 calls). 1 or less: always the model."},
    {"GPU_ENCODE", "1", CCL_CFG_INT,
     "1: ccl_allreduce_compressed_stream and ccl_allgather_compressed_stream on device buffers "
     "encode, decode and keep error feedback on the GPU, so only encodings cross PCIe (builds with CUDA). 0: device buffers "
     "are staged through pinned host memory and the host codecs run."},
    {"LOG", "warn", CCL_CFG_STRING, "Log level: error, warn, info, debug or trace (stderr)."},
    {"PORT_RANGE", "0", CCL_CFG_INT,
     "Lowest TCP port ccl_get_unique_id may listen on; 0 lets the kernel choose."},
    {"RANK", "", CCL_CFG_STRING, "This process's rank, for ccl_comm_init_from_env."},
    {"NRANKS", "", CCL_CFG_STRING, "Number of ranks, for ccl_comm_init_from_env."},
    {"ROOT", "", CCL_CFG_STRING,
     "host:port where rank 0 serves the rendezvous, for ccl_comm_init_from_env."},
    {"SECRET", "", CCL_CFG_STRING,
     "32 hex digits shared by all ranks, for ccl_comm_init_from_env; without it the secret "
     "is derived from the launcher's job id."},
};

static ccl_config_t cfg;
static pthread_once_t cfg_once = PTHREAD_ONCE_INIT;

static const char *cfg_raw(const ccl_cfg_entry_t *e)
{
    char name[64];
    const char *v;
    snprintf(name, sizeof(name), "CCLZ_%s", e->name);
    v = getenv(name);
    return v != NULL ? v : e->dflt;
}

static const ccl_cfg_entry_t *cfg_find(const char *name)
{
    for (size_t i = 0; i < CCL_ARRAY_SIZE(cfg_table); i++)
        if (strcmp(cfg_table[i].name, name) == 0)
            return &cfg_table[i];
    return NULL;
}

static double cfg_double(const char *name)
{
    const ccl_cfg_entry_t *e = cfg_find(name);
    const char *s = cfg_raw(e);
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end != '\0' || !(v > 0)) {
        fprintf(stderr, "cclz: ignoring CCLZ_%s='%s' (want a positive number); using %s\n",
                name, s, e->dflt);
        v = strtod(e->dflt, NULL);
    }
    return v;
}

static size_t cfg_size(const char *name)
{
    const ccl_cfg_entry_t *e = cfg_find(name);
    const char *s = cfg_raw(e);
    size_t v;
    if (ccl_parse_size(s, &v) != 0 || v == 0) {
        fprintf(stderr, "cclz: ignoring CCLZ_%s='%s' (want a size such as 64K); using %s\n",
                name, s, e->dflt);
        ccl_parse_size(e->dflt, &v);
    }
    return v;
}

static int cfg_int(const char *name)
{
    const ccl_cfg_entry_t *e = cfg_find(name);
    const char *s = cfg_raw(e);
    char *end;
    long v = strtol(s, &end, 10);
    if (end == s || *end != '\0' || v < 0 || v > 65535) {
        fprintf(stderr, "cclz: ignoring CCLZ_%s='%s'; using %s\n", name, s, e->dflt);
        v = strtol(e->dflt, NULL, 10);
    }
    return (int)v;
}

static void cfg_load(void)
{
    cfg.timeout_s      = cfg_double("TIMEOUT");
    cfg.auto_trial_ratio = cfg_double("AUTO_TRIAL_RATIO");
    cfg.chunk_size     = cfg_size("CHUNK_SIZE");
    cfg.small_msg_size = cfg_size("SMALL_MSG_SIZE");
    cfg.algo           = cfg_raw(cfg_find("ALGO"));
    cfg.ifname         = cfg_raw(cfg_find("IFNAME"));
    cfg.compress       = cfg_raw(cfg_find("COMPRESS"));
    cfg.log_level      = cfg_raw(cfg_find("LOG"));
    cfg.port_range_lo  = cfg_int("PORT_RANGE");
    cfg.gpu_encode     = cfg_int("GPU_ENCODE") != 0;
    if (cfg.chunk_size < 4096)
        cfg.chunk_size = 4096;

    static const char *levels[] = {"error", "warn", "info", "debug", "trace"};
    for (int i = 0; i < (int)CCL_ARRAY_SIZE(levels); i++)
        if (strcmp(cfg.log_level, levels[i]) == 0)
            ccl_log_level = i;
}

const ccl_config_t *ccl_config_get(void)
{
    pthread_once(&cfg_once, cfg_load);
    return &cfg;
}

const ccl_cfg_entry_t *ccl_config_table(size_t *n_p)
{
    *n_p = CCL_ARRAY_SIZE(cfg_table);
    return cfg_table;
}

void ccl_config_print(FILE *out)
{
    for (size_t i = 0; i < CCL_ARRAY_SIZE(cfg_table); i++) {
        const ccl_cfg_entry_t *e = &cfg_table[i];
        fprintf(out, "CCLZ_%-16s = %-10s (default '%s')\n    %s\n", e->name, cfg_raw(e),
                e->dflt, e->doc);
    }
}
