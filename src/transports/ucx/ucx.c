/* ucx.c: the UCX (ucp tag-matching) transport: shared memory on a host, TCP or RDMA across. */
#define _GNU_SOURCE /* ppoll */
#include "transports/transport.h"

#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <ucp/api/ucp.h>
#include <ucs/debug/log_def.h>

typedef struct {
    ucp_context_h  context;
    ucp_worker_h   worker;
    ucp_address_t *address;
    size_t         address_len;
    int            nranks;
    int            self;
    int            efd;         /* the worker's event fd, -1 where UCX gives none */
    ucp_ep_h      *eps;
    ucs_status_t  *ep_status;   /* UCS_OK until the error handler fires for that peer */
    void         **ep_err_arg;  /* per-peer index passed to the error handler */
} ucx_tl_t;

typedef struct {
    ucx_tl_t *tl;
    int       peer;
} ucx_ep_arg_t;

static ccl_result_t ucx_status_to_result(ucs_status_t st)
{
    switch (st) {
    case UCS_OK:                   return CCL_SUCCESS;
    case UCS_INPROGRESS:           return CCL_INPROGRESS;
    case UCS_ERR_MESSAGE_TRUNCATED: return CCL_ERR_MISMATCH;
    case UCS_ERR_NO_MEMORY:        return CCL_ERR_NO_MEMORY;
    case UCS_ERR_CANCELED:         return CCL_ERR_ABORTED;
    default:                       return CCL_ERR_TRANSPORT;
    }
}

static ccl_result_t ucx_create(const ccl_tl_params_t *params, void **tl_p)
{
    ucx_tl_t *tl = calloc(1, sizeof(*tl));
    ucp_config_t *config = NULL;
    ucp_params_t ucp_params = {0};
    ucp_worker_params_t wparams = {0};
    ucs_status_t st;

    if (tl == NULL)
        return ccl_set_error(NULL, CCL_ERR_NO_MEMORY, "no memory for the UCX transport");

    st = ucp_config_read(NULL, NULL, &config);
    if (st != UCS_OK)
        goto err_config;
    /* The device chosen for this local rank wins; then an explicit UCX_NET_DEVICES from the
     * user wins over CCLZ_IFNAME. */
    const char *dev = params->device[0] != '\0' ? params->device
                    : getenv("UCX_NET_DEVICES") == NULL ? params->ifname : "";
    if (dev[0] != '\0') {
        st = ucp_config_modify(config, "NET_DEVICES", dev);
        if (st != UCS_OK)
            ccl_warn("UCX did not accept NET_DEVICES=%s: %s", dev, ucs_status_string(st));
    }

    ucp_params.field_mask = UCP_PARAM_FIELD_FEATURES | UCP_PARAM_FIELD_MT_WORKERS_SHARED;
    ucp_params.features = UCP_FEATURE_TAG | UCP_FEATURE_WAKEUP;
    ucp_params.mt_workers_shared = 0;
    st = ucp_init(&ucp_params, config, &tl->context);
    ucp_config_release(config);
    if (st != UCS_OK)
        goto err_config;

    /* Serialized: one thread at a time, but the thread that destroys the communicator
     * after an abort need not be the one that ran the collectives. */
    wparams.field_mask = UCP_WORKER_PARAM_FIELD_THREAD_MODE;
    wparams.thread_mode = UCS_THREAD_MODE_SERIALIZED;
    st = ucp_worker_create(tl->context, &wparams, &tl->worker);
    if (st != UCS_OK)
        goto err_context;
    if (ucp_worker_get_efd(tl->worker, &tl->efd) != UCS_OK)
        tl->efd = -1;
    st = ucp_worker_get_address(tl->worker, &tl->address, &tl->address_len);
    if (st != UCS_OK)
        goto err_worker;
    *tl_p = tl;
    return CCL_SUCCESS;

err_worker:
    ucp_worker_destroy(tl->worker);
err_context:
    ucp_cleanup(tl->context);
err_config:
    free(tl);
    return ccl_set_error(NULL, CCL_ERR_TRANSPORT, "UCX initialisation failed: %s",
                         ucs_status_string(st));
}

static ccl_result_t ucx_get_address(void *tl_, const void **addr_p, size_t *len_p)
{
    ucx_tl_t *tl = tl_;
    *addr_p = tl->address;
    *len_p = tl->address_len;
    return CCL_SUCCESS;
}

static void ucx_ep_error(void *arg, ucp_ep_h ep, ucs_status_t status)
{
    ucx_ep_arg_t *a = arg;
    (void)ep;
    if (a->tl->ep_status[a->peer] == UCS_OK) {
        a->tl->ep_status[a->peer] = status;
        /* Not an error by itself (a peer that finished may simply have left); the wait that
         * needs this peer reports it. */
        ccl_debug("connection to rank %d failed: %s", a->peer, ucs_status_string(status));
    }
}

static ccl_result_t ucx_connect(void *tl_, int nranks, int self, const void *const *addrs,
                                const size_t *lens, const uint8_t *same_host)
{
    ucx_tl_t *tl = tl_;
    (void)lens;
    tl->nranks = nranks;
    tl->self = self;
    tl->eps = calloc((size_t)nranks, sizeof(*tl->eps));
    tl->ep_status = calloc((size_t)nranks, sizeof(*tl->ep_status));
    tl->ep_err_arg = calloc((size_t)nranks, sizeof(*tl->ep_err_arg));
    if (tl->eps == NULL || tl->ep_status == NULL || tl->ep_err_arg == NULL)
        return ccl_set_error(NULL, CCL_ERR_NO_MEMORY, "no memory for %d endpoints", nranks);

    for (int r = 0; r < nranks; r++) {
        ucp_ep_params_t ep_params = {0};
        ucx_ep_arg_t *arg = malloc(sizeof(*arg));
        ucs_status_t st;
        if (arg == NULL)
            return ccl_set_error(NULL, CCL_ERR_NO_MEMORY, "no memory for endpoint %d", r);
        arg->tl = tl;
        arg->peer = r;
        tl->ep_err_arg[r] = arg;
        ep_params.field_mask = UCP_EP_PARAM_FIELD_REMOTE_ADDRESS |
                               UCP_EP_PARAM_FIELD_ERR_HANDLING_MODE |
                               UCP_EP_PARAM_FIELD_ERR_HANDLER;
        ep_params.address = addrs[r];
        /* Peer error handling lets a dead peer fail our requests at once, but UCX 1.13
         * then refuses its shared-memory transports and falls back to TCP over loopback
         * (10x the latency). On one host we keep shared memory and rely on CCLZ_TIMEOUT and
         * the failure notices instead. */
        ep_params.err_mode = same_host[r] ? UCP_ERR_HANDLING_MODE_NONE : UCP_ERR_HANDLING_MODE_PEER;
        ep_params.err_handler.cb = ucx_ep_error;
        ep_params.err_handler.arg = arg;
        st = ucp_ep_create(tl->worker, &ep_params, &tl->eps[r]);
        if (st != UCS_OK)
            return ccl_set_error(NULL, CCL_ERR_TRANSPORT, "UCX could not reach rank %d: %s", r,
                                 ucs_status_string(st));
    }
    return CCL_SUCCESS;
}

static ccl_result_t ucx_isend(void *tl_, int peer, const void *buf, size_t len, uint64_t tag,
                              ccl_tl_req_t *req)
{
    ucx_tl_t *tl = tl_;
    ucp_request_param_t p = {0};
    ucs_status_ptr_t sp = ucp_tag_send_nbx(tl->eps[peer], buf, len, tag, &p);
    req->is_recv = 0;
    req->len = len;
    if (sp == NULL) {
        req->h = NULL;
        req->status = CCL_SUCCESS;
        return CCL_SUCCESS;
    }
    if (UCS_PTR_IS_ERR(sp)) {
        req->h = NULL;
        req->status = ucx_status_to_result(UCS_PTR_STATUS(sp));
        return ccl_set_error(NULL, req->status, "send of %zu bytes to rank %d failed: %s", len,
                             peer, ucs_status_string(UCS_PTR_STATUS(sp)));
    }
    req->h = sp;
    req->status = CCL_INPROGRESS;
    return CCL_SUCCESS;
}

static ccl_result_t ucx_irecv(void *tl_, void *buf, size_t len, uint64_t tag, uint64_t mask,
                              ccl_tl_req_t *req)
{
    ucx_tl_t *tl = tl_;
    ucp_request_param_t p = {0};
    ucs_status_ptr_t sp;
    /* UCX 1.13 can complete a receive at once without filling recv_info, losing the length
     * we must check; always getting a request keeps the length readable. */
    p.op_attr_mask = UCP_OP_ATTR_FLAG_NO_IMM_CMPL;
    sp = ucp_tag_recv_nbx(tl->worker, buf, len, tag, mask, &p);
    req->is_recv = 1;
    if (sp == NULL) {
        req->h = NULL;
        req->status = ccl_set_error(NULL, CCL_ERR_INTERNAL, "UCX completed a receive at once");
        return req->status;
    }
    if (UCS_PTR_IS_ERR(sp)) {
        req->h = NULL;
        req->status = ucx_status_to_result(UCS_PTR_STATUS(sp));
        return ccl_set_error(NULL, req->status, "receive failed: %s",
                             ucs_status_string(UCS_PTR_STATUS(sp)));
    }
    req->h = sp;
    req->status = CCL_INPROGRESS;
    return CCL_SUCCESS;
}

static void ucx_test(void *tl_, ccl_tl_req_t *req)
{
    ucs_status_t st;
    (void)tl_;
    if (req->h == NULL)
        return;
    if (req->is_recv) {
        ucp_tag_recv_info_t info;
        st = ucp_tag_recv_request_test(req->h, &info);
        if (st != UCS_INPROGRESS)
            req->len = info.length;
    } else {
        st = ucp_request_check_status(req->h);
    }
    if (st == UCS_INPROGRESS)
        return;
    req->status = ucx_status_to_result(st);
    ucp_request_free(req->h);
    req->h = NULL;
}

static void ucx_cancel(void *tl_, ccl_tl_req_t *req)
{
    ucx_tl_t *tl = tl_;
    if (req->h == NULL)
        return;
    ucp_request_cancel(tl->worker, req->h);
    /* A cancelled request completes after progress; bounded so a wedged one cannot hang. */
    for (int i = 0; i < 100000 && req->h != NULL; i++) {
        ucp_worker_progress(tl->worker);
        ucx_test(tl, req);
    }
    if (req->h != NULL) {
        /* Still running (a receive matched and mid-transfer whose sender stalled): UCX may
         * yet write its buffer. Said so by the status, for callers that reuse the buffer. */
        ucp_request_free(req->h);
        req->h = NULL;
        req->status = CCL_ERR_TRANSPORT;
        return;
    }
    req->status = CCL_ERR_ABORTED;
}

static unsigned ucx_progress(void *tl_)
{
    ucx_tl_t *tl = tl_;
    return ucp_worker_progress(tl->worker);
}

static void ucx_sleep(void *tl_, unsigned timeout_us)
{
    ucx_tl_t *tl = tl_;
    struct pollfd pfd = {.fd = tl->efd, .events = POLLIN};
    struct timespec ts = {(time_t)(timeout_us / 1000000u), (long)(timeout_us % 1000000u) * 1000};
    if (tl->efd < 0) {
        nanosleep(&ts, NULL); /* no events to wait on: a nap still leaves the core free */
        return;
    }
    /* Arming fails with BUSY when events are already waiting: then progress at once. */
    if (ucp_worker_arm(tl->worker) == UCS_OK)
        (void)ppoll(&pfd, 1, &ts, NULL);
}

static ccl_result_t ucx_peer_status(void *tl_, int peer)
{
    ucx_tl_t *tl = tl_;
    if (tl->ep_status == NULL || tl->ep_status[peer] == UCS_OK)
        return CCL_SUCCESS;
    return CCL_ERR_TRANSPORT;
}

/* Tearing down a failed communicator strands what was in flight: messages peers sent for
 * calls this rank will never make, and (on shared memory, where UCX tracks no requests per
 * connection) our rendezvous sends that a peer will never answer. UCX frees them with the
 * worker but warns about each one on stdout, hundreds after a large ring. While such a
 * worker is destroyed those two warnings are counted instead; the handler stays pushed
 * while any thread needs it. */
static pthread_mutex_t ucx_quiet_lock = PTHREAD_MUTEX_INITIALIZER;
static int ucx_quiet_users;
static _Thread_local unsigned ucx_quieted;

static ucs_log_func_rc_t ucx_quiet_unmatched(const char *file, unsigned line,
                                             const char *function, ucs_log_level_t level,
                                             const ucs_log_component_config_t *comp,
                                             const char *format, va_list ap)
{
    (void)file, (void)line, (void)function, (void)comp, (void)ap;
    if (level == UCS_LOG_LEVEL_WARN && (strstr(format, "was not matched") != NULL ||
                                        strstr(format, "was not returned to mpool") != NULL)) {
        ucx_quieted++;
        return UCS_LOG_FUNC_RC_STOP;
    }
    return UCS_LOG_FUNC_RC_CONTINUE;
}

static void ucx_worker_destroy_quietly(ucp_worker_h worker)
{
    pthread_mutex_lock(&ucx_quiet_lock);
    if (ucx_quiet_users++ == 0)
        ucs_log_push_handler(ucx_quiet_unmatched);
    pthread_mutex_unlock(&ucx_quiet_lock);
    ucx_quieted = 0;
    ucp_worker_destroy(worker);
    pthread_mutex_lock(&ucx_quiet_lock);
    if (--ucx_quiet_users == 0)
        ucs_log_pop_handler();
    pthread_mutex_unlock(&ucx_quiet_lock);
    if (ucx_quieted > 0)
        ccl_info("dropped %u messages and requests of calls that will not finish", ucx_quieted);
}

static void ucx_destroy(void *tl_, double timeout_s, int force)
{
    ucx_tl_t *tl = tl_;
    if (tl == NULL)
        return;
    if (tl->eps != NULL) {
        void **close_reqs = calloc((size_t)tl->nranks, sizeof(void *));
        double deadline = ccl_time_now() + timeout_s;
        for (int r = 0; r < tl->nranks; r++) {
            ucp_request_param_t p = {0};
            ucs_status_ptr_t sp;
            if (tl->eps[r] == NULL)
                continue;
            p.op_attr_mask = UCP_OP_ATTR_FIELD_FLAGS;
            p.flags = (force || tl->ep_status[r] != UCS_OK) ? UCP_EP_CLOSE_FLAG_FORCE : 0;
            sp = ucp_ep_close_nbx(tl->eps[r], &p);
            if (close_reqs != NULL && sp != NULL && !UCS_PTR_IS_ERR(sp))
                close_reqs[r] = sp;
        }
        /* Flush-close waits until our last messages were delivered; a dead peer can keep
         * that from happening, so it is bounded by the timeout. */
        for (int r = 0; close_reqs != NULL && r < tl->nranks; r++) {
            while (close_reqs[r] != NULL) {
                ucp_worker_progress(tl->worker);
                if (ucp_request_check_status(close_reqs[r]) != UCS_INPROGRESS) {
                    ucp_request_free(close_reqs[r]);
                    close_reqs[r] = NULL;
                } else if (ccl_time_now() > deadline) {
                    ccl_warn("closing the connection to rank %d timed out", r);
                    ucp_request_cancel(tl->worker, close_reqs[r]);
                    ucp_request_free(close_reqs[r]);
                    close_reqs[r] = NULL;
                }
            }
        }
        free(close_reqs);
        for (int r = 0; r < tl->nranks; r++)
            free(tl->ep_err_arg[r]);
    }
    free(tl->eps);
    free(tl->ep_status);
    free(tl->ep_err_arg);
    if (tl->address != NULL)
        ucp_worker_release_address(tl->worker, tl->address);
    if (tl->worker != NULL && force)
        ucx_worker_destroy_quietly(tl->worker);
    else if (tl->worker != NULL)
        ucp_worker_destroy(tl->worker); /* healthy: a stranded message would be a bug to see */
    if (tl->context != NULL)
        ucp_cleanup(tl->context);
    free(tl);
}

const ccl_transport_ops_t ccl_transport_ucx = {
    .size        = sizeof(ccl_transport_ops_t),
    .name        = "ucx",
    .create      = ucx_create,
    .get_address = ucx_get_address,
    .connect     = ucx_connect,
    .isend       = ucx_isend,
    .irecv       = ucx_irecv,
    .test        = ucx_test,
    .cancel      = ucx_cancel,
    .progress    = ucx_progress,
    .sleep       = ucx_sleep,
    .peer_status = ucx_peer_status,
    .destroy     = ucx_destroy,
};
