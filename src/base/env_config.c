/* env_config.c: CCLZ_* settings: one table row per setting, parsed once from the environment. */
#include "base/env_config.h"
#include "base/base.h"

#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CFG(member) CCL_PARAM_AT(ccl_config_t, member)

/* Fix-ups a value needs beyond its row's bounds, run after each parse. */
static void chunk_floor(void *c)
{
    ccl_config_t *cfg = c;
    if (cfg->chunk_size < 4096)
        cfg->chunk_size = 4096;
}
/* Any nonzero integer turns GPU encoding on, as it always has. */
static void gpu_encode_flag(void *c)
{
    ccl_config_t *cfg = c;
    cfg->gpu_encode = cfg->gpu_encode != 0;
}
/* A name that is not a level leaves the level alone. */
static void log_level_set(void *c)
{
    static const char *levels[] = {"error", "warn", "info", "debug", "trace"};
    for (int i = 0; i < (int)CCL_ARRAY_SIZE(levels); i++)
        if (strcmp(((ccl_config_t *)c)->log_level, levels[i]) == 0)
            ccl_log_level = i;
}

static const ccl_param_field_t cfg_table[] = {
    {"TIMEOUT", "30",
     "Seconds a blocked call waits without any message completing before it fails with "
     "CCL_ERR_TIMEOUT (also bounds the rendezvous and the flush in ccl_comm_destroy).",
     CCL_PARAM_REAL, CFG(timeout_s), .lo = 0, .hi = INFINITY, .flags = CCL_PARAM_OPEN_LO},
    {"ALGO", "",
     "Force one algorithm per collective, e.g. 'ring' or 'allreduce:rec_doubling,broadcast:"
     "binomial'. Empty: the cost model chooses.",
     CCL_PARAM_STRING, CFG(algo)},
    {"CHUNK_SIZE", "512K",
     "Pipelining unit of the ring and broadcast algorithms, in bytes (K, M, G suffixes); the "
     "compressed ring's too, as float32 bytes before encoding. sra sends pieces of half this "
     "size once encoded (a scatter piece and a gather piece per peer each round), at most 32 "
     "pieces per segment. Raised to 4K if smaller.",
     CCL_PARAM_SIZE, CFG(chunk_size), .lo = 1, .hi = (double)SIZE_MAX, .then = chunk_floor},
    {"SMALL_MSG_SIZE", "8K",
     "Messages up to this size travel with their header in one copy; larger ones as a header "
     "message plus a zero-copy payload.",
     CCL_PARAM_SIZE, CFG(small_msg_size), .lo = 1, .hi = (double)SIZE_MAX},
    {"IFNAME", "",
     "Network interface for the rendezvous listener and for UCX's network transports "
     "(sets UCX NET_DEVICES). Empty: the first non-loopback interface that is up.",
     CCL_PARAM_STRING, CFG(ifname)},
    {"HOST_ID", "",
     "Names this rank's host: ranks with the same name count as one host (shared memory "
     "between them, the hierarchy of cclz_info --topology). Empty: the boot id, the hostname "
     "and the network namespace, which containers cannot fake into a match. For tests that "
     "emulate several hosts on one.",
     CCL_PARAM_STRING, CFG(host_id)},
    {"HIER", "1",
     "1: a communicator whose hosts hold several ranks each, on more than one host, makes "
     "the sub-communicators of the hierarchical allreduce (one per host, one per shard "
     "across hosts) and measures its links when it is created; the cost model then chooses "
     "flat or hierarchical per call. 0: flat algorithms only, nothing made.",
     CCL_PARAM_BOOL, CFG(hier)},
    {"NET_DEVICES", "",
     "Network devices for the local ranks, comma-separated UCX names (e.g. 'mlx5_0:1,mlx5_1:1'): "
     "local rank i uses entry i modulo their number, from the launcher's local rank "
     "(CCLZ_LOCAL_RANK, LOCAL_RANK, OMPI_COMM_WORLD_LOCAL_RANK, SLURM_LOCALID); wins over "
     "UCX_NET_DEVICES and CCLZ_IFNAME for UCX. Empty: those decide.",
     CCL_PARAM_STRING, CFG(net_devices)},
    {"COMPRESS", "",
     "Replaces the spec of every compressor: 'auto', 'none', or a spec such as "
     "'int:bits=8' or 'dgc:ratio=0.001'. Empty: each compressor keeps the spec it was made with.",
     CCL_PARAM_STRING, CFG(compress)},
    {"AUTO_TRIAL_RATIO", "2",
     "'auto' follows its cost model when the model predicts one method (exact or compressed) "
     "at least this many times faster than the other; closer calls, and buffers larger than "
     "the model measured, are settled per buffer by trying both (3 calls each, then the "
     "faster, re-tried every 4096 calls). 1 or less: always the model.",
     CCL_PARAM_REAL, CFG(auto_trial_ratio), .lo = 0, .hi = INFINITY, .flags = CCL_PARAM_OPEN_LO},
    {"GPU_ENCODE", "1",
     "1: ccl_allreduce_compressed_stream and ccl_allgather_compressed_stream on device buffers "
     "encode, decode and keep error feedback on the GPU, so only encodings cross PCIe (builds with CUDA). 0: device buffers "
     "are staged through pinned host memory and the host codecs run.",
     CCL_PARAM_INT, CFG(gpu_encode), .lo = 0, .hi = 65535, .then = gpu_encode_flag},
    {"CHECK_CALLS", "0",
     "1: before every collective the ranks compare what they were called with (collective, "
     "count, type, op, root, algorithm, compressor) in one small exact allreduce, so every "
     "mismatch gives CCL_ERR_MISMATCH on every rank at once and the communicator stays "
     "usable; also those where no message would travel between the disagreeing ranks. 0: "
     "only the signature each message carries is checked (README, Failures).",
     CCL_PARAM_BOOL, CFG(check_calls)},
    {"PROGRESS_THREAD", "1",
     "1: a communicator's first nonblocking call (ccl_iallreduce, ...) starts a progress "
     "thread that runs its queued calls in issue order while the caller computes; it sleeps "
     "on the transport's events when it waits and on a condition variable when idle. 0: no "
     "thread; queued calls run inside ccl_test and ccl_wait, on the caller's thread.",
     CCL_PARAM_BOOL, CFG(progress_thread)},
    {"PROGRESS_CPU", "-1",
     "CPU the progress thread is bound to; -1: the cores of the rank's NUMA node that the "
     "process may use (through hwloc; without it, every core it may use).",
     CCL_PARAM_INT, CFG(progress_cpu), .lo = -1, .hi = 65535},
    {"LOG", "warn", "Log level: error, warn, info, debug or trace (stderr).", CCL_PARAM_STRING,
     CFG(log_level), .then = log_level_set},
    {"PORT_RANGE", "0",
     "Lowest TCP port ccl_get_unique_id may listen on; 0 lets the kernel choose.", CCL_PARAM_INT,
     CFG(port_range_lo), .lo = 0, .hi = 65535},
    {"RANK", "", "This process's rank, for ccl_comm_init_from_env.", CCL_PARAM_STRING, .size = 0},
    {"NRANKS", "", "Number of ranks, for ccl_comm_init_from_env.", CCL_PARAM_STRING, .size = 0},
    {"ROOT", "", "host:port where rank 0 serves the rendezvous, for ccl_comm_init_from_env.",
     CCL_PARAM_STRING, .size = 0},
    {"SECRET", "",
     "32 hex digits shared by all ranks, for ccl_comm_init_from_env; without it the secret "
     "is derived from the launcher's job id.",
     CCL_PARAM_STRING, .size = 0},
    CCL_PARAM_END,
};

static ccl_config_t cfg;
static pthread_once_t cfg_once = PTHREAD_ONCE_INIT;

static const char *cfg_raw(const ccl_param_field_t *e)
{
    char name[64];
    const char *v;
    snprintf(name, sizeof(name), "CCLZ_%s", e->name);
    v = getenv(name);
    return v != NULL ? v : e->dflt;
}

/* Every row from the environment; a value its row refuses is reported and the default used. */
static void cfg_load(void)
{
    char values[128];
    for (const ccl_param_field_t *e = cfg_table; e->name != NULL; e++) {
        const char *s = cfg_raw(e);
        if (ccl_param_parse(e, &cfg, s) == 0)
            continue;
        fprintf(stderr, "cclz: ignoring CCLZ_%s='%s' (want %s); using %s\n", e->name, s,
                ccl_param_values(e, values, sizeof(values)), e->dflt);
        ccl_param_parse(e, &cfg, e->dflt);
    }
}

const ccl_config_t *ccl_config_get(void)
{
    pthread_once(&cfg_once, cfg_load);
    return &cfg;
}

const ccl_param_field_t *ccl_config_table(void)
{
    return cfg_table;
}

void ccl_config_print(FILE *out)
{
    for (const ccl_param_field_t *e = cfg_table; e->name != NULL; e++)
        fprintf(out, "CCLZ_%-16s = %-10s (default '%s')\n    %s\n", e->name, cfg_raw(e),
                e->dflt, e->doc);
}
