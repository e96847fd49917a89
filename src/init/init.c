/* init.c: ccl_comm_init_rank and ccl_comm_init_with_id: the rendezvous, the transport's
 * addresses, the communicator, and a barrier before returning. They end with a collective,
 * so they sit above the collectives, as NCCL's init sits above everything. */
#define _GNU_SOURCE
#include "core/comm.h"
#include "init/init.h"
#include "collectives/request.h"
#include "base/env_config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <unistd.h>

/* Which pid namespace this process is in: pids mean the same only within one. */
static uint64_t comm_pidns_id(void)
{
    char ns[64] = "";
    ssize_t k = readlink("/proc/self/ns/pid", ns, sizeof(ns) - 1);
    if (k > 0)
        ns[k] = '\0';
    return ccl_hash64(ns, strlen(ns), 5);
}

/* What each rank publishes before its transport address. */
typedef struct {
    uint64_t host;  /* comm_host_id */
    uint64_t node;  /* comm_node_id: the host as the topology sees it */
    uint64_t pidns; /* comm_pidns_id */
    int32_t  pid;
    uint32_t zero;
} card_t;

/* This machine and network namespace: ranks with equal ids can share memory. */
static uint64_t comm_host_id(void)
{
    char buf[512] = "", ns[64] = "";
    FILE *f = fopen("/proc/sys/kernel/random/boot_id", "r");
    size_t n = 0;
    if (f != NULL) {
        n = fread(buf, 1, 64, f);
        fclose(f);
    }
    gethostname(buf + n, sizeof(buf) - n - 1);
    ssize_t k = readlink("/proc/self/ns/net", ns, sizeof(ns) - 1);
    if (k > 0)
        ns[k] = '\0';
    uint64_t h = ccl_hash64(buf, strlen(buf), 3);
    return ccl_hash64(ns, strlen(ns), h);
}

/* The host of the topology: CCLZ_HOST_ID where set (tests emulating hosts), else the above. */
static uint64_t comm_node_id(uint64_t host)
{
    const char *name = ccl_config_get()->host_id;
    return name[0] != '\0' ? ccl_hash64(name, strlen(name), 11) : host;
}

/* comm->topo from every rank's node id. */
static ccl_result_t comm_topology(struct ccl_comm *comm, const uint64_t *node)
{
    const int P = comm->nranks;
    ccl_topo_t *t = &comm->topo;
    int *first = malloc((size_t)P * sizeof(int)); /* each host's lowest rank */
    t->host_of = malloc((size_t)P * sizeof(int));
    t->local_size_of = calloc((size_t)P, sizeof(int));
    if (first == NULL || t->host_of == NULL || t->local_size_of == NULL) {
        free(first);
        return ccl_set_error(NULL, CCL_ERR_NO_MEMORY, "no memory for the topology");
    }
    t->nhosts = 0;
    for (int r = 0; r < P; r++) {
        int h = 0;
        while (h < t->nhosts && node[first[h]] != node[r])
            h++;
        if (h == t->nhosts)
            first[t->nhosts++] = r;
        t->host_of[r] = h;
        if (r == comm->rank)
            t->local_rank = t->local_size_of[h];
        t->local_size_of[h]++;
    }
    t->host = t->host_of[comm->rank];
    t->local_size = t->local_size_of[t->host];
    t->local_max = 0;
    for (int h = 0; h < t->nhosts; h++)
        t->local_max = CCL_MAX(t->local_max, t->local_size_of[h]);
    free(first);
    return CCL_SUCCESS;
}

/* CCLZ_NET_DEVICES' entry for this rank, by the launcher's local rank (first entry where no
 * launcher says), into dev; "" where the setting is empty. */
static void net_device(char *dev, size_t cap)
{
    static const char *const vars[] = {"CCLZ_LOCAL_RANK", "LOCAL_RANK",
                                       "OMPI_COMM_WORLD_LOCAL_RANK", "SLURM_LOCALID",
                                       "MPI_LOCALRANKID"};
    const char *list = ccl_config_get()->net_devices;
    int local = -1;
    dev[0] = '\0';
    if (list[0] == '\0')
        return;
    for (size_t k = 0; k < sizeof(vars) / sizeof(vars[0]) && local < 0; k++)
        if (getenv(vars[k]) != NULL)
            local = atoi(getenv(vars[k]));
    if (local < 0) {
        ccl_warn("CCLZ_NET_DEVICES: no launcher gives this process's local rank; its first "
                 "device");
        local = 0;
    }
    int n = 1;
    for (const char *c = list; *c; c++)
        n += *c == ',';
    const char *p = list;
    for (int k = 0; k < local % n; k++)
        p = strchr(p, ',') + 1;
    snprintf(dev, cap, "%.*s", (int)strcspn(p, ","), p);
    ccl_info("local rank %d: network device %s (CCLZ_NET_DEVICES)", local, dev);
}

ccl_result_t ccl_comm_init_rank(ccl_comm_t *comm_p, int nranks, ccl_unique_id_t uid, int rank)
{
    ccl_bootstrap_id_t id;
    memcpy(&id, uid.internal, sizeof(id));
    return ccl_comm_init_with_id(comm_p, nranks, &id, rank);
}

ccl_result_t ccl_comm_init_with_id(ccl_comm_t *comm_p, int nranks, const ccl_bootstrap_id_t *idp,
                                   int rank)
{
    const ccl_config_t *cfg = ccl_config_get();
    ccl_bootstrap_id_t id = *idp;
    char device[128];
    net_device(device, sizeof(device));
    ccl_tl_params_t tl_params = {.ifname = cfg->ifname, .device = device};
    const void *my_addr;
    size_t my_len, *lens = NULL, *offs = NULL;
    uint8_t *blob = NULL;
    const void **addrs = NULL;
    uint8_t *card = NULL, *same_host = NULL;
    uint64_t *node = NULL;
    int32_t *pids = NULL;
    uint64_t host;
    void *tl = NULL;
    ccl_result_t res;

    if (comm_p == NULL)
        return ccl_set_error(NULL, CCL_ERR_INVALID_ARG, "comm_p is NULL");
    if (nranks <= 0 || nranks > (1 << 24) || rank < 0 || rank >= nranks)
        return ccl_set_error(NULL, CCL_ERR_INVALID_ARG,
                             "rank %d / nranks %d: need 0 <= rank < nranks <= 2^24", rank,
                             nranks);
    if (id.magic != CCL_BOOTSTRAP_MAGIC || id.version != CCL_BOOTSTRAP_VERSION)
        return ccl_set_error(NULL, CCL_ERR_INVALID_ARG,
                             "the unique id was not made by ccl_get_unique_id (or by another "
                             "cclz version)");

    CCL_CHECK(ccl_transport_ucx.create(&tl_params, &tl));
    CCL_CHECK_GOTO(ccl_transport_ucx.get_address(tl, &my_addr, &my_len), res, out);
    /* What each rank publishes: its card (host, pid namespace, pid), then its address. */
    card_t mine = {.host = comm_host_id(), .pidns = comm_pidns_id(), .pid = (int32_t)getpid()};
    mine.node = comm_node_id(mine.host);
    card = malloc(sizeof(mine) + my_len);
    if (card == NULL) {
        res = ccl_set_error(NULL, CCL_ERR_NO_MEMORY, "no memory for the address card");
        goto out;
    }
    host = mine.host;
    memcpy(card, &mine, sizeof(mine));
    memcpy(card + sizeof(mine), my_addr, my_len);
    CCL_CHECK_GOTO(ccl_bootstrap_exchange(&id, rank, nranks, card, sizeof(mine) + my_len,
                                          cfg->timeout_s, &blob, &lens, &offs),
                   res, out);
    addrs = malloc((size_t)nranks * sizeof(*addrs));
    same_host = malloc((size_t)nranks);
    pids = calloc((size_t)nranks, sizeof(*pids));
    node = malloc((size_t)nranks * sizeof(*node));
    if (addrs == NULL || same_host == NULL || pids == NULL || node == NULL) {
        res = ccl_set_error(NULL, CCL_ERR_NO_MEMORY, "no memory for the address table");
        goto out;
    }
    for (int r = 0; r < nranks; r++) {
        card_t peer;
        if (lens[r] <= sizeof(peer)) {
            res = ccl_set_error(NULL, CCL_ERR_BOOTSTRAP, "rank %d sent no address", r);
            goto out;
        }
        memcpy(&peer, blob + offs[r], sizeof(peer));
        same_host[r] = peer.host == host;
        node[r] = peer.node;
        /* A peer's pid can be watched only from the same host and pid namespace. */
        pids[r] = r != rank && same_host[r] && peer.pidns == mine.pidns ? peer.pid : 0;
        addrs[r] = blob + offs[r] + sizeof(peer);
        lens[r] -= sizeof(peer);
    }
    CCL_CHECK_GOTO(ccl_comm_create(comm_p, nranks, rank, tl, addrs, lens, same_host, pids), res,
                   out);
    tl = NULL; /* the communicator's now */
    res = comm_topology(*comm_p, node);
    if (res != CCL_SUCCESS) {
        ccl_comm_release(*comm_p, 1);
        *comm_p = NULL;
        goto out;
    }
    /* Return only once every rank has connected: a rank that returned earlier could finish
     * and exit while a peer is still attaching to it (its shared memory gone with it). */
    res = ccl_barrier(*comm_p);
    if (res != CCL_SUCCESS) {
        ccl_set_error(NULL, res, "rank %d: not every rank connected: %s", rank,
                      ccl_get_last_error(*comm_p));
        ccl_comm_release(*comm_p, 1);
        *comm_p = NULL;
        goto out;
    }
    res = ccl_reqq_create(*comm_p);
    if (res == CCL_SUCCESS)
        res = ccl_hier_create(*comm_p);
    if (res != CCL_SUCCESS) {
        ccl_set_error(NULL, res, "rank %d: %s", rank, ccl_get_last_error(*comm_p));
        ccl_comm_abort(*comm_p);
        *comm_p = NULL;
        goto out;
    }
    ccl_info("rank %d of %d ready (transport %s; host %d of %d, local rank %d of %d%s)", rank,
             nranks, ccl_transport_ucx.name, (*comm_p)->topo.host, (*comm_p)->topo.nhosts,
             (*comm_p)->topo.local_rank, (*comm_p)->topo.local_size,
             (*comm_p)->hier != NULL ? "; hierarchical" : "");
out:
    free(card);
    free(pids);
    free(same_host);
    free(node);
    free(addrs);
    free(blob);
    free(lens);
    free(offs);
    if (tl != NULL)
        ccl_transport_ucx.destroy(tl, 0, 1);
    return res;
}


ccl_result_t ccl_comm_destroy(ccl_comm_t comm)
{
    if (comm == NULL)
        return ccl_set_error(NULL, CCL_ERR_INVALID_ARG, "comm is NULL");
    ccl_reqq_shutdown(comm, 0);
    ccl_hier_destroy(comm, comm->failed != CCL_SUCCESS);
    ccl_comm_release(comm, 0);
    return CCL_SUCCESS;
}

ccl_result_t ccl_comm_abort(ccl_comm_t comm)
{
    if (comm == NULL)
        return ccl_set_error(NULL, CCL_ERR_INVALID_ARG, "comm is NULL");
    atomic_store(&comm->abort_flag, 1);
    ccl_reqq_shutdown(comm, 1);
    /* A call running in another thread may be inside a sub-communicator: they go once it
     * has returned (it sees the flag through them). */
    while (atomic_load(&comm->in_flight) > 0)
        sched_yield();
    ccl_hier_destroy(comm, 1);
    ccl_comm_release(comm, 1);
    return CCL_SUCCESS;
}
