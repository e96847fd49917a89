/* transport.h: the vtable every transport implements; collectives see only this. */
#ifndef CCL_TRANSPORT_H
#define CCL_TRANSPORT_H

#include "base/base.h"

/* A request is owned by the transport; `h` is its handle and NULL when the operation
 * completed at once, in which case `len` already holds the received length. */
typedef struct {
    void  *h;
    size_t len;      /* bytes received, valid once a receive completed */
    int    status;   /* CCL_INPROGRESS, CCL_SUCCESS or an error */
    int    is_recv;
} ccl_tl_req_t;

typedef struct {
    const char *ifname;   /* "" for any */
    const char *device;   /* "" or the one network device this rank uses (CCLZ_NET_DEVICES) */
} ccl_tl_params_t;

typedef struct ccl_transport_ops {
    size_t      size;     /* sizeof(ccl_transport_ops_t), so optional slots can be checked */
    const char *name;

    ccl_result_t (*create)(const ccl_tl_params_t *params, void **tl_p);
    /* This rank's address, to be exchanged through the bootstrap. */
    ccl_result_t (*get_address)(void *tl, const void **addr_p, size_t *len_p);
    /* Connects to every peer; addrs[r] is rank r's address (addrs[self] is ours) and
     * same_host[r] says whether rank r shares this host (and network namespace). */
    ccl_result_t (*connect)(void *tl, int nranks, int self, const void *const *addrs,
                            const size_t *lens, const uint8_t *same_host);
    ccl_result_t (*isend)(void *tl, int peer, const void *buf, size_t len, uint64_t tag,
                          ccl_tl_req_t *req);
    /* Receives a message whose tag matches `tag` on the bits set in `mask`; a message
     * larger than len fails the request instead of overflowing buf. */
    ccl_result_t (*irecv)(void *tl, void *buf, size_t len, uint64_t tag, uint64_t mask,
                          ccl_tl_req_t *req);
    /* Sets req->status (and req->len for receives); releases the handle on completion. */
    void (*test)(void *tl, ccl_tl_req_t *req);
    /* Cancels an unfinished request and releases it: status CCL_ERR_ABORTED, or
     * CCL_ERR_TRANSPORT where it could not be stopped and the transport may still write its
     * buffer (a receive whose sender stalled mid-transfer). */
    void (*cancel)(void *tl, ccl_tl_req_t *req);
    /* Advances communication; returns nonzero if anything happened. */
    unsigned (*progress)(void *tl);
    /* Blocks until the transport has something to progress or timeout_us passes, without
     * spinning a core (the progress thread waits so while the caller computes). */
    void (*sleep)(void *tl, unsigned timeout_us);
    /* CCL_SUCCESS, or the error the transport saw on the connection to peer. */
    ccl_result_t (*peer_status)(void *tl, int peer);
    /* Flushes (up to timeout_s, unless force) and frees everything. */
    void (*destroy)(void *tl, double timeout_s, int force);
} ccl_transport_ops_t;

extern const ccl_transport_ops_t ccl_transport_ucx;

#endif
