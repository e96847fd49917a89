/* comm.h: the communicator object and the calls the collectives make on it. */
#ifndef CCL_COMM_H
#define CCL_COMM_H

#include "base/base.h"
#include "transports/transport.h"
#include "core/device.h"
#include "core/tuning.h"

#include <stdatomic.h>


/* Tag bit of failure notices; data messages never set it (see collectives/p2p.h). */
#define CCL_TAG_CTRL (1ULL << 63)

/* What a rank sends every peer when it fails, so no peer waits for it until the timeout. */
typedef struct {
    int32_t rank;
    int32_t code;
    char    reason[240];
} ccl_ctrl_msg_t;

/* Where the ranks run (init.c): hosts numbered in the order of their lowest rank, the ranks
 * of a host by rank. */
typedef struct {
    int  nhosts;
    int  host;                  /* this rank's */
    int  local_rank, local_size;
    int  local_max;             /* the most ranks any host holds */
    int *host_of;               /* nranks: each rank's host */
    int *local_size_of;         /* nhosts: each host's rank count */
} ccl_topo_t;

/* The sub-communicators of the hierarchical allreduce (init.c makes them where more than one
 * host holds ranks and some host holds several; allreduce/hier.c runs on them). A buffer is
 * cut into `nshards` (the most ranks of a host) shards; on a host of L ranks local rank i
 * owns shards [ceil(i*nshards/L), ceil((i+1)*nshards/L)), and shard j's owners, one per host,
 * form cross[j - first]. */
typedef struct ccl_hier {
    struct ccl_comm  *local;    /* this host's ranks */
    int               nshards;
    int               first, end; /* the shards this rank owns */
    struct ccl_comm **cross;    /* end - first communicators */
    atomic_int        failed;   /* a phase of a call failed: every sub-communicator's call
                                 * stops (ccl_comm_check_health) */
} ccl_hier_t;

/* The hierarchical allreduce pipelines a buffer of count elements in this many chunks, each
 * cut into nshards shards: a power of two, at most 8, with chunks of at least 512K elements
 * per shard compressed (encoding overlaps the network) and 4M exact (each chunk's calls cost
 * more than the overlap saves there; measured in perf/results/hier). The same on every rank
 * (a compressor keeps one state per chunk and shard). */
static inline int ccl_hier_chunks(size_t count, int nshards, int compressed)
{
    size_t c = count / ((size_t)nshards << (compressed ? 19 : 22));
    return c >= 8 ? 8 : c >= 4 ? 4 : c >= 2 ? 2 : 1;
}

struct ccl_comm {
    ccl_errbuf_t last_error;    /* first: base/base.c writes it (ccl_set_error) */
    int   rank;
    int   nranks;
    const ccl_transport_ops_t *tl_ops;
    void *tl;

    uint32_t seq;               /* collective sequence number, same on every rank */
    int      oversubscribed;    /* more ranks on this host than cores this process may use */
    double   timeout_s;
    int      check_calls;       /* CCLZ_CHECK_CALLS, read once like timeout_s */

    /* The first error of this communicator: every later call returns it. */
    ccl_result_t failed;
    char         failure[CCL_ERRSTR_LEN];

    atomic_int abort_flag;      /* set by ccl_comm_abort from any thread */
    atomic_int in_flight;       /* collectives running now */

    /* Always-posted receive for peers' failure notices. */
    ccl_ctrl_msg_t ctrl_in;
    ccl_tl_req_t   ctrl_req;
    ccl_ctrl_msg_t ctrl_out;    /* our own notice; must outlive its sends */
    ccl_tl_req_t  *ctrl_sends;  /* nranks */

    int32_t *peer_pid;          /* nranks: a peer's pid where it can be watched, else 0 */

    void  *scratch;             /* grows on demand; reused across calls */
    size_t scratch_size;
    void  *vectors;             /* the same, for a call's vectors apart from its messages
                                 * (a robust call's one vector per rank) */
    size_t vectors_size;
    ccl_pinned_t pinned[2];     /* staging of device buffers (device.h) */

    ccl_tuning_t tuning;        /* the cost model, and what "auto" measured here */

    ccl_stats_t stats;          /* ccl_comm_get_stats; bytes_sent counted per message */

    ccl_topo_t topo;            /* which ranks share a host (init.c) */
    ccl_hier_t *hier;           /* NULL: flat algorithms only */
    struct ccl_comm *parent;    /* a hierarchy's sub-communicator: the one it serves, whose
                                 * abort it obeys and whose byte counts it adds to */

    struct ccl_reqq *reqq;      /* nonblocking calls (collectives/request.c) */
    int progress_sleeps;        /* the call running now runs on the progress thread: its
                                 * waits sleep on the transport instead of spinning */

};

/* Frees comm: after flushing to its peers (bounded by the timeout) unless it failed, or at
 * once with abort, which first makes a collective running in another thread return. */
void ccl_comm_release(struct ccl_comm *comm, int abort);

/* Marks comm failed (first cause wins) and tells every peer, once. */
void ccl_comm_fail(struct ccl_comm *comm, ccl_result_t res, const char *reason);

/* Checks for an abort request, a peer's failure notice or a broken connection. Returns
 * CCL_SUCCESS or the error that ends the call. */
CCL_NODISCARD
ccl_result_t ccl_comm_check_health(struct ccl_comm *comm);

/* Returns a scratch buffer of at least `bytes`, owned by comm. */
void *ccl_comm_scratch(struct ccl_comm *comm, size_t bytes);
/* A second one, for vectors a call keeps beside the messages in ccl_comm_scratch. */
void *ccl_comm_vectors(struct ccl_comm *comm, size_t bytes);

/* Creates the communicator once the bootstrap produced every rank's transport address. */
CCL_NODISCARD
ccl_result_t ccl_comm_create(struct ccl_comm **comm_p, int nranks, int rank, void *tl,
                             const void *const *addrs, const size_t *lens,
                             const uint8_t *same_host, const int32_t *peer_pids);

/* Whether peer's process, on this host and in this pid namespace, is gone (it died without
 * a word, as a SIGKILL does). 0 where it cannot be told: another host or namespace. */
int ccl_comm_peer_gone(const struct ccl_comm *comm, int peer);

_Static_assert(offsetof(struct ccl_comm, last_error) == 0,
               "base/base.c reaches a communicator's last error through its first member");

#endif
