/* env.c: ccl_comm_init_from_env: rank, size, rendezvous address and secret from what
 * cclz_run, torchrun, mpirun or srun put in the environment. */
#include "init/init.h"
#include "core/comm.h"
#include "base/env_config.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *launcher;
    int  rank, nranks;
    char root[300];     /* host:port */
    char jobid[256];    /* what the secret and port derive from when not given */
} env_job_t;

static int env_int(const char *name, int *out)
{
    const char *v = getenv(name);
    char *end;
    long x;
    if (v == NULL || *v == '\0')
        return 0;
    x = strtol(v, &end, 10);
    if (*end != '\0' || x < 0 || x > (1 << 24))
        return -1;
    *out = (int)x;
    return 1;
}

static const char *env_str(const char *name)
{
    const char *v = getenv(name);
    return v != NULL ? v : "";
}

/* First host of a Slurm node list such as "node[03-07,9],gpu1". */
static void slurm_first_host(const char *list, char *out, size_t outlen)
{
    size_t n = strcspn(list, ",[");
    size_t k = 0;
    snprintf(out, outlen, "%.*s", (int)n, list);
    if (list[n] == '[') {
        const char *p = list + n + 1;
        k = strcspn(p, "-,]");
        snprintf(out + strlen(out), outlen - strlen(out), "%.*s", (int)k, p);
    }
}

static int derived_port(const char *jobid)
{
    return 20000 + (int)(ccl_hash64(jobid, strlen(jobid), 7) % 30000);
}

static ccl_result_t env_detect(env_job_t *job)
{
    const char *root = env_str("CCLZ_ROOT");
    int r1, r2;
    memset(job, 0, sizeof(*job));

    if ((r1 = env_int("CCLZ_RANK", &job->rank)) != 0 &&
        (r2 = env_int("CCLZ_NRANKS", &job->nranks)) != 0) {
        job->launcher = "CCLZ_RANK/CCLZ_NRANKS";
        if (r1 < 0 || r2 < 0)
            return ccl_set_error(NULL, CCL_ERR_INVALID_ARG, "CCLZ_RANK or CCLZ_NRANKS is not a number");
        if (root[0] == '\0')
            return ccl_set_error(NULL, CCL_ERR_INVALID_ARG,
                                 "CCLZ_RANK is set but CCLZ_ROOT (host:port of rank 0) is not");
        snprintf(job->jobid, sizeof(job->jobid), "cclz:%s", root);
    } else if (env_int("RANK", &job->rank) > 0 && env_int("WORLD_SIZE", &job->nranks) > 0 &&
               getenv("MASTER_ADDR") != NULL) {
        int port = 0;
        job->launcher = "torchrun";
        if (root[0] == '\0') {
            if (env_int("MASTER_PORT", &port) <= 0 || port >= 65535)
                return ccl_set_error(NULL, CCL_ERR_INVALID_ARG, "MASTER_PORT is not a port");
            /* torchrun's own store listens on MASTER_PORT. */
            snprintf(job->root, sizeof(job->root), "%s:%d", env_str("MASTER_ADDR"), port + 1);
        }
        snprintf(job->jobid, sizeof(job->jobid), "torch:%s:%s:%s", env_str("MASTER_ADDR"),
                 env_str("MASTER_PORT"), env_str("TORCHELASTIC_RUN_ID"));
    } else if (env_int("OMPI_COMM_WORLD_RANK", &job->rank) > 0 &&
               env_int("OMPI_COMM_WORLD_SIZE", &job->nranks) > 0) {
        int local = 0;
        job->launcher = "mpirun";
        snprintf(job->jobid, sizeof(job->jobid), "ompi:%s:%s", env_str("PMIX_NAMESPACE"),
                 env_str("OMPI_MCA_ess_base_jobid"));
        if (root[0] == '\0') {
            if (env_int("OMPI_COMM_WORLD_LOCAL_SIZE", &local) <= 0 || local != job->nranks)
                return ccl_set_error(NULL, CCL_ERR_INVALID_ARG,
                                     "mpirun across hosts: set CCLZ_ROOT=host:port to an "
                                     "address of rank 0's host");
            snprintf(job->root, sizeof(job->root), "127.0.0.1:%d", derived_port(job->jobid));
        }
    } else if (env_int("SLURM_PROCID", &job->rank) > 0 &&
               env_int("SLURM_NTASKS", &job->nranks) > 0) {
        char host[256];
        job->launcher = "srun";
        snprintf(job->jobid, sizeof(job->jobid), "slurm:%s.%s", env_str("SLURM_JOB_ID"),
                 env_str("SLURM_STEP_ID"));
        if (root[0] == '\0') {
            const char *list = getenv("SLURM_STEP_NODELIST");
            if (list == NULL)
                list = env_str("SLURM_JOB_NODELIST");
            slurm_first_host(list, host, sizeof(host));
            if (host[0] == '\0')
                return ccl_set_error(NULL, CCL_ERR_INVALID_ARG,
                                     "srun: no SLURM_STEP_NODELIST; set CCLZ_ROOT=host:port");
            snprintf(job->root, sizeof(job->root), "%s:%d", host, derived_port(job->jobid));
        }
    } else {
        return ccl_set_error(NULL, CCL_ERR_INVALID_ARG,
                             "no launcher found in the environment: set CCLZ_RANK, CCLZ_NRANKS "
                             "and CCLZ_ROOT, or start under cclz_run, torchrun, mpirun or srun");
    }
    if (root[0] != '\0')
        snprintf(job->root, sizeof(job->root), "%s", root);
    if (job->rank >= job->nranks)
        return ccl_set_error(NULL, CCL_ERR_INVALID_ARG, "%s: rank %d is not below size %d",
                             job->launcher, job->rank, job->nranks);
    return CCL_SUCCESS;
}

static ccl_result_t env_secret(const env_job_t *job, uint8_t secret[CCL_SECRET_BYTES])
{
    const char *hex = getenv("CCLZ_SECRET");
    if (hex != NULL && hex[0] != '\0') {
        if (strlen(hex) != 2 * CCL_SECRET_BYTES)
            return ccl_set_error(NULL, CCL_ERR_INVALID_ARG, "CCLZ_SECRET must be %d hex digits",
                                 2 * CCL_SECRET_BYTES);
        for (int i = 0; i < CCL_SECRET_BYTES; i++) {
            unsigned v;
            if (sscanf(hex + 2 * i, "%2x", &v) != 1)
                return ccl_set_error(NULL, CCL_ERR_INVALID_ARG, "CCLZ_SECRET is not hex");
            secret[i] = (uint8_t)v;
        }
        return CCL_SUCCESS;
    }
    /* Keeps other jobs on the host from joining by mistake; it is no defence against a
     * deliberate intruder who knows the job id: set CCLZ_SECRET for that. */
    uint64_t h1 = ccl_hash64(job->jobid, strlen(job->jobid), 1);
    uint64_t h2 = ccl_hash64(job->jobid, strlen(job->jobid), 2);
    memcpy(secret, &h1, 8);
    memcpy(secret + 8, &h2, 8);
    return CCL_SUCCESS;
}

ccl_result_t ccl_comm_init_from_env(ccl_comm_t *comm_p)
{
    env_job_t job;
    ccl_bootstrap_id_t id = {0};

    if (comm_p == NULL)
        return ccl_set_error(NULL, CCL_ERR_INVALID_ARG, "comm_p is NULL");
    CCL_CHECK(env_detect(&job));
    CCL_CHECK(env_secret(&job, id.secret));
    CCL_CHECK(ccl_bootstrap_parse_hostport(job.root, &id.root));
    id.magic = CCL_BOOTSTRAP_MAGIC;
    id.version = CCL_BOOTSTRAP_VERSION;
    ccl_debug("%s: rank %d of %d, rendezvous at %s", job.launcher, job.rank, job.nranks,
              job.root);

    if (job.rank == 0) {
        ccl_sockaddr_t bind_addr = id.root, bound;
        /* Listen on the root's address if it is one of ours, else on every address. */
        if (ccl_bootstrap_root_start(&bind_addr, id.secret, ccl_config_get()->timeout_s,
                                     &bound) != CCL_SUCCESS) {
            ccl_sockaddr_t any = id.root;
            if (any.sa.sa_family == AF_INET6)
                ((struct sockaddr_in6 *)&any)->sin6_addr = in6addr_any;
            else
                ((struct sockaddr_in *)&any)->sin_addr.s_addr = htonl(INADDR_ANY);
            CCL_CHECK(ccl_bootstrap_root_start(&any, id.secret, ccl_config_get()->timeout_s,
                                               &bound));
        }
    }
    return ccl_comm_init_with_id(comm_p, job.nranks, &id, job.rank);
}
