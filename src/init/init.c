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
    uint64_t pidns; /* comm_pidns_id */
    int32_t  pid;
    uint32_t zero;
} card_t;

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
    ccl_tl_params_t tl_params = {.ifname = cfg->ifname};
    const void *my_addr;
    size_t my_len, *lens = NULL, *offs = NULL;
    uint8_t *blob = NULL;
    const void **addrs = NULL;
    uint8_t *card = NULL, *same_host = NULL;
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
    if (addrs == NULL || same_host == NULL || pids == NULL) {
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
        /* A peer's pid can be watched only from the same host and pid namespace. */
        pids[r] = r != rank && same_host[r] && peer.pidns == mine.pidns ? peer.pid : 0;
        addrs[r] = blob + offs[r] + sizeof(peer);
        lens[r] -= sizeof(peer);
    }
    CCL_CHECK_GOTO(ccl_comm_create(comm_p, nranks, rank, tl, addrs, lens, same_host, pids), res,
                   out);
    /* Return only once every rank has connected: a rank that returned earlier could finish
     * and exit while a peer is still attaching to it (its shared memory gone with it). */
    res = ccl_barrier(*comm_p);
    if (res != CCL_SUCCESS) {
        ccl_set_error(NULL, res, "rank %d: not every rank connected: %s", rank,
                      ccl_get_last_error(*comm_p));
        ccl_comm_release(*comm_p, 1);
        *comm_p = NULL;
        tl = NULL; /* freed with the communicator */
        goto out;
    }
    res = ccl_reqq_create(*comm_p);
    if (res != CCL_SUCCESS) {
        ccl_comm_release(*comm_p, 1);
        *comm_p = NULL;
        tl = NULL;
        goto out;
    }
    ccl_info("rank %d of %d ready (transport %s)", rank, nranks, ccl_transport_ucx.name);
    tl = NULL; /* the communicator's now */
out:
    free(card);
    free(pids);
    free(same_host);
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
    ccl_comm_release(comm, 0);
    return CCL_SUCCESS;
}

ccl_result_t ccl_comm_abort(ccl_comm_t comm)
{
    if (comm == NULL)
        return ccl_set_error(NULL, CCL_ERR_INVALID_ARG, "comm is NULL");
    atomic_store(&comm->abort_flag, 1);
    ccl_reqq_shutdown(comm, 1);
    ccl_comm_release(comm, 1);
    return CCL_SUCCESS;
}
