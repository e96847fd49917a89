/* comm.c: the unique id, the communicator (create, destroy, abort) and its failure state. */
#define _GNU_SOURCE
#include "core/comm.h"
#include "core/bootstrap.h"
#include "core/placement.h"
#include "base/env_config.h"

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

_Static_assert(sizeof(ccl_bootstrap_id_t) <= CCL_UNIQUE_ID_BYTES, "id layout too large");

ccl_result_t ccl_get_unique_id(ccl_unique_id_t *id_p)
{
    const ccl_config_t *cfg = ccl_config_get();
    ccl_bootstrap_id_t id = {0};
    ccl_sockaddr_t bind_addr;

    if (id_p == NULL)
        return ccl_set_error(NULL, CCL_ERR_INVALID_ARG, "id_p is NULL");
    CCL_CHECK(ccl_bootstrap_local_addr(cfg->ifname, &bind_addr));
    if (ccl_random_bytes(id.secret, sizeof(id.secret)) != 0)
        return ccl_set_error(NULL, CCL_ERR_SYSTEM, "no randomness for the secret");
    id.magic = CCL_BOOTSTRAP_MAGIC;
    id.version = CCL_BOOTSTRAP_VERSION;
    CCL_CHECK(ccl_bootstrap_root_start(&bind_addr, id.secret, cfg->timeout_s, &id.root));
    memset(id_p, 0, sizeof(*id_p));
    memcpy(id_p->internal, &id, sizeof(id));
    return CCL_SUCCESS;
}

ccl_result_t ccl_unique_id_to_string(const ccl_unique_id_t *id, char *buf, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    if (id == NULL || buf == NULL || len < CCL_UNIQUE_ID_STRLEN)
        return ccl_set_error(NULL, CCL_ERR_INVALID_ARG,
                             "need an id and a buffer of CCL_UNIQUE_ID_STRLEN bytes");
    const uint8_t *p = (const uint8_t *)id->internal;
    for (size_t i = 0; i < CCL_UNIQUE_ID_BYTES; i++) {
        buf[2 * i] = hex[p[i] >> 4];
        buf[2 * i + 1] = hex[p[i] & 15];
    }
    buf[2 * CCL_UNIQUE_ID_BYTES] = '\0';
    return CCL_SUCCESS;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

ccl_result_t ccl_unique_id_from_string(const char *str, ccl_unique_id_t *id_p)
{
    if (str == NULL || id_p == NULL || strlen(str) != 2 * CCL_UNIQUE_ID_BYTES)
        return ccl_set_error(NULL, CCL_ERR_INVALID_ARG, "an id string has %d hex digits",
                             2 * CCL_UNIQUE_ID_BYTES);
    for (size_t i = 0; i < CCL_UNIQUE_ID_BYTES; i++) {
        int hi = hexval(str[2 * i]), lo = hexval(str[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return ccl_set_error(NULL, CCL_ERR_INVALID_ARG, "id string is not hex");
        id_p->internal[i] = (char)(hi << 4 | lo);
    }
    return CCL_SUCCESS;
}

/* *buf grown to at least bytes (64-byte aligned; the contents are not kept). */
static void *grow(void **buf, size_t *size, size_t bytes)
{
    if (bytes > *size) {
        void *p = NULL;
        if (ccl_alloc_fails() || posix_memalign(&p, 64, bytes) != 0)
            return NULL;
        ccl_place_memory(p, bytes); /* on this rank's NUMA node */
        free(*buf);
        *buf = p;
        *size = bytes;
    }
    return *buf;
}

void *ccl_comm_scratch(struct ccl_comm *comm, size_t bytes)
{
    return grow(&comm->scratch, &comm->scratch_size, bytes);
}

void *ccl_comm_vectors(struct ccl_comm *comm, size_t bytes)
{
    return grow(&comm->vectors, &comm->vectors_size, bytes);
}

/* Identifies this host and network namespace: ranks with equal ids can share memory. */
static ccl_result_t comm_post_ctrl_recv(struct ccl_comm *comm)
{
    return comm->tl_ops->irecv(comm->tl, &comm->ctrl_in, sizeof(comm->ctrl_in), CCL_TAG_CTRL,
                               CCL_TAG_CTRL, &comm->ctrl_req);
}

/* True when this host runs more ranks than this process has cores to run on: then a waiting
 * rank must hand its core over at once, or the peer it waits for cannot run. */
static int comm_oversubscribed(int nranks, const uint8_t *same_host)
{
    int local = 0;
    for (int r = 0; r < nranks; r++)
        local += same_host[r] != 0;
    cpu_set_t set;
    int cores = 0;
    if (sched_getaffinity(0, sizeof(set), &set) == 0)
        cores = CPU_COUNT(&set);
    if (cores <= 0)
        cores = (int)sysconf(_SC_NPROCESSORS_ONLN);
    return cores > 0 && local > cores;
}

ccl_result_t ccl_comm_create(struct ccl_comm **comm_p, int nranks, int rank, void *tl,
                             const void *const *addrs, const size_t *lens,
                             const uint8_t *same_host, const int32_t *peer_pids)
{
    struct ccl_comm *comm = calloc(1, sizeof(*comm));
    ccl_result_t res;
    if (comm == NULL)
        return ccl_set_error(NULL, CCL_ERR_NO_MEMORY, "no memory for a communicator");
    comm->rank = rank;
    comm->nranks = nranks;
    comm->tuning = ccl_tuning_default;
    comm->tl_ops = &ccl_transport_ucx;
    comm->tl = tl;
    comm->timeout_s = ccl_config_get()->timeout_s;
    comm->check_calls = ccl_config_get()->check_calls;
    comm->ctrl_sends = calloc((size_t)nranks, sizeof(*comm->ctrl_sends));
    comm->peer_pid = malloc((size_t)nranks * sizeof(*comm->peer_pid));
    if (comm->ctrl_sends == NULL || comm->peer_pid == NULL) {
        res = ccl_set_error(NULL, CCL_ERR_NO_MEMORY, "no memory for a communicator");
        goto err;
    }
    memcpy(comm->peer_pid, peer_pids, (size_t)nranks * sizeof(*comm->peer_pid));
    comm->oversubscribed = comm_oversubscribed(nranks, same_host);
    CCL_CHECK_GOTO(comm->tl_ops->connect(tl, nranks, rank, addrs, lens, same_host), res, err);
    CCL_CHECK_GOTO(comm_post_ctrl_recv(comm), res, err);
    *comm_p = comm;
    return CCL_SUCCESS;
err:
    free(comm->ctrl_sends);
    free(comm->peer_pid);
    free(comm);
    return res;
}

/* A killed process stays a zombie until its parent reaps it, which a launcher busy elsewhere
 * (or a parent that is itself a rank, stuck in a call) may not do for long: its state in
 * /proc/PID/stat, the letter after the parenthesised name, is then Z (or X, being reaped). */
static int pid_is_zombie(pid_t pid)
{
    char path[32], buf[512];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return 0;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *close = strrchr(buf, ')'); /* the name may itself hold ") " */
    return close != NULL && close[1] == ' ' && (close[2] == 'Z' || close[2] == 'X');
}

int ccl_comm_peer_gone(const struct ccl_comm *comm, int peer)
{
    pid_t pid = comm->peer_pid[peer];
    if (pid <= 0)
        return 0;
    if (kill(pid, 0) != 0)
        return errno == ESRCH;
    return pid_is_zombie(pid);
}

/* ccl_comm_fail, telling the peers where `notify` is set. */
static void comm_fail(struct ccl_comm *comm, ccl_result_t res, const char *reason, int notify)
{
    if (comm->failed != CCL_SUCCESS)
        return;
    comm->failed = res;
    snprintf(comm->failure, sizeof(comm->failure), "%s", reason);
    ccl_error("rank %d: %s", comm->rank, reason);
    if (!notify)
        return;
    comm->ctrl_out.rank = comm->rank;
    comm->ctrl_out.code = res;
    snprintf(comm->ctrl_out.reason, sizeof(comm->ctrl_out.reason), "%s", reason);
    for (int r = 0; r < comm->nranks; r++) {
        if (r == comm->rank || comm->tl_ops->peer_status(comm->tl, r) != CCL_SUCCESS)
            continue;
        (void)comm->tl_ops->isend(comm->tl, r, &comm->ctrl_out, sizeof(comm->ctrl_out),
                                  CCL_TAG_CTRL | (uint64_t)comm->rank, &comm->ctrl_sends[r]);
    }
}

void ccl_comm_fail(struct ccl_comm *comm, ccl_result_t res, const char *reason)
{
    /* After a peer's notice, the rank that failed first already told everyone. */
    comm_fail(comm, res, reason, res != CCL_ERR_REMOTE);
}

ccl_result_t ccl_comm_check_health(struct ccl_comm *comm)
{
    /* A sub-communicator is aborted with the communicator it serves, and stops where another
     * phase of its call failed. */
    for (struct ccl_comm *c = comm; c != NULL; c = c->parent) {
        if (atomic_load_explicit(&c->abort_flag, memory_order_relaxed)) {
            ccl_comm_fail(comm, CCL_ERR_ABORTED, "ccl_comm_abort was called");
            return CCL_ERR_ABORTED;
        }
    }
    if (comm->parent != NULL && comm->parent->hier != NULL &&
        atomic_load_explicit(&comm->parent->hier->failed, memory_order_relaxed))
        comm_fail(comm, CCL_ERR_REMOTE, "another phase of this hierarchical call failed", 1);
    if (comm->failed != CCL_SUCCESS)
        return comm->failed;
    comm->tl_ops->test(comm->tl, &comm->ctrl_req);
    if (comm->ctrl_req.status == CCL_INPROGRESS)
        return CCL_SUCCESS;
    char why[CCL_ERRSTR_LEN];
    if (comm->ctrl_req.status == CCL_SUCCESS && comm->ctrl_req.len == sizeof(ccl_ctrl_msg_t)) {
        comm->ctrl_in.reason[sizeof(comm->ctrl_in.reason) - 1] = '\0';
        snprintf(why, sizeof(why), "rank %d failed: %s", comm->ctrl_in.rank,
                 comm->ctrl_in.reason);
    } else {
        snprintf(why, sizeof(why), "malformed failure notice from a peer");
    }
    ccl_comm_fail(comm, CCL_ERR_REMOTE, why);
    return CCL_ERR_REMOTE;
}

static void comm_free(struct ccl_comm *comm, int force)
{
    /* Our failure notices may still be on their way; give them the flush below. */
    comm->tl_ops->cancel(comm->tl, &comm->ctrl_req);
    comm->tl_ops->destroy(comm->tl, force ? 0.0 : comm->timeout_s, force);
    free(comm->ctrl_sends);
    free(comm->peer_pid);
    free(comm->topo.host_of);
    free(comm->topo.local_size_of);
    free(comm->scratch);
    free(comm->vectors);
    ccl_dev_free(comm);
    free(comm);
}

void ccl_comm_release(struct ccl_comm *comm, int abort)
{
    if (abort) {
        atomic_store(&comm->abort_flag, 1);
        /* A collective running in another thread sees the flag at its next progress check
         * and returns. */
        while (atomic_load(&comm->in_flight) > 0)
            sched_yield();
    }
    /* After a failure a peer or a link may be gone, and UCX cannot flush to it: tear down as
     * abort does (flushing there left requests behind that ucp_worker_destroy aborts on). */
    comm_free(comm, abort || comm->failed != CCL_SUCCESS);
}

ccl_result_t ccl_comm_get_stats(ccl_comm_t comm, ccl_stats_t *stats)
{
    if (comm == NULL || stats == NULL)
        return ccl_set_error(comm, CCL_ERR_INVALID_ARG, "%s is NULL",
                             comm == NULL ? "comm" : "stats");
    *stats = comm->stats;
    return CCL_SUCCESS;
}

ccl_result_t ccl_comm_rank(ccl_comm_t comm, int *rank_p)
{
    if (comm == NULL || rank_p == NULL)
        return ccl_set_error(comm, CCL_ERR_INVALID_ARG, "comm or rank_p is NULL");
    *rank_p = comm->rank;
    return CCL_SUCCESS;
}

ccl_result_t ccl_comm_size(ccl_comm_t comm, int *size_p)
{
    if (comm == NULL || size_p == NULL)
        return ccl_set_error(comm, CCL_ERR_INVALID_ARG, "comm or size_p is NULL");
    *size_p = comm->nranks;
    return CCL_SUCCESS;
}

ccl_result_t ccl_comm_host_info(ccl_comm_t comm, ccl_host_info_t *info)
{
    if (comm == NULL || info == NULL)
        return ccl_set_error(comm, CCL_ERR_INVALID_ARG, "comm or info is NULL");
    *info = (ccl_host_info_t){.host = comm->topo.host, .nhosts = comm->topo.nhosts,
                              .local_rank = comm->topo.local_rank,
                              .local_size = comm->topo.local_size, .hier = comm->hier != NULL};
    return CCL_SUCCESS;
}
