/* p2p.c: tagged, header-checked messages with timeout, abort and cancellation. */
#include "collectives/p2p.h"
#include "base/env_config.h"

#include <sched.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t make_tag(const ccl_coll_ctx_t *ctx, int src, uint32_t id, int part)
{
    return ((uint64_t)(ctx->seq & ((1u << CCL_TAG_SEQ_BITS) - 1)) << 43) |
           ((uint64_t)part << 42) | ((uint64_t)(id & CCL_TAG_MAX_ID) << 24) |
           (uint64_t)(unsigned)src;
}

static int is_small(size_t len)
{
    return len <= ccl_config_get()->small_msg_size;
}

/* The header+payload copy of a small message. */
static uint8_t *bounce_get(ccl_p2p_req_t *req, size_t len)
{
    if (len <= CCL_P2P_INLINE_BYTES)
        return req->inline_buf;
    return malloc(sizeof(ccl_msg_hdr_t) + len);
}

ccl_result_t ccl_ctx_reqs(ccl_coll_ctx_t *ctx, int n, ccl_p2p_req_t **reqs_p)
{
    /* One batch per call: algorithms ask once for all the slots they need. */
    if (ctx->reqs != NULL)
        return ccl_set_error(ctx->comm, CCL_ERR_INTERNAL, "request slots asked for twice");
    ctx->reqs = calloc((size_t)CCL_MAX(n, 1), sizeof(ccl_p2p_req_t));
    if (ctx->reqs == NULL)
        return ccl_set_error(ctx->comm, CCL_ERR_NO_MEMORY, "no memory for %d requests", n);
    ctx->nreqs = n;
    *reqs_p = ctx->reqs;
    return CCL_SUCCESS;
}

static ccl_result_t p2p_fail(ccl_coll_ctx_t *ctx, ccl_result_t res, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* How long a broken connection waits for a failure notice that may be queued behind it. */
#define CCL_NOTICE_GRACE_S 0.02

static ccl_result_t p2p_fail(ccl_coll_ctx_t *ctx, ccl_result_t res, const char *fmt, ...)
{
    char why[CCL_ERRSTR_LEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    if (res == CCL_ERR_TRANSPORT) {
        /* A rank that fails tells every peer why, then often exits at once: its broken
         * connection can be seen before its notice is read. The notice names the cause;
         * give it a moment to arrive and report it instead. */
        struct ccl_comm *comm = ctx->comm;
        double until = ccl_time_now() + CCL_NOTICE_GRACE_S;
        while (ccl_comm_check_health(comm) == CCL_SUCCESS && ccl_time_now() < until)
            comm->tl_ops->progress(comm->tl);
    }
    ccl_comm_fail(ctx->comm, res, why);
    /* The communicator keeps the first cause; report that one. */
    return ccl_set_error(ctx->comm, ctx->comm->failed, "%s", ctx->comm->failure);
}

static void req_release(ccl_p2p_req_t *req);

/* A received message that fails a check: in a robust call the peer counts as faulty for it
 * and the receive completes refused (the transport's parts cancelled, so nothing more lands
 * in buf); elsewhere the communicator fails. */
static ccl_result_t p2p_refuse(ccl_coll_ctx_t *ctx, ccl_p2p_req_t *req, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static ccl_result_t p2p_refuse(ccl_coll_ctx_t *ctx, ccl_p2p_req_t *req, const char *fmt, ...)
{
    char why[CCL_ERRSTR_LEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    if (ctx->faults == NULL)
        return p2p_fail(ctx, CCL_ERR_MISMATCH, "%s", why);
    struct ccl_comm *comm = ctx->comm;
    comm->tl_ops->cancel(comm->tl, &req->tl_hdr);
    comm->tl_ops->cancel(comm->tl, &req->tl_data);
    if (req->tl_hdr.status == CCL_ERR_TRANSPORT || req->tl_data.status == CCL_ERR_TRANSPORT)
        /* A part in mid-transfer that would not stop: the transport may still write the
         * buffer, which later calls reuse. Only a failed communicator is safe. */
        return p2p_fail(ctx, CCL_ERR_TRANSPORT, "%s, and its transfer could not be stopped",
                        why);
    ccl_warn("rank %d: %s; rank %d counts as faulty for this call", comm->rank, why, req->peer);
    ctx->faults[req->peer] = CCL_FAULT_MESSAGE;
    req->refused = 1;
    req_release(req);
    return CCL_SUCCESS;
}

/* cap: the largest length the receiver allows; it picks the protocol, so that both sides
 * pick the same one (for fixed-length messages cap == len). */
static ccl_result_t p2p_isend(ccl_coll_ctx_t *ctx, int peer, uint32_t id, const void *buf,
                              size_t len, size_t cap, ccl_p2p_req_t *req)
{
    struct ccl_comm *comm = ctx->comm;
    ccl_result_t res;
    memset(req, 0, offsetof(ccl_p2p_req_t, inline_buf));
    req->hdr = (ccl_msg_hdr_t){CCL_MSG_MAGIC, ctx->seq, ctx->sig, len};
    req->buf = (void *)buf;
    req->len = len;
    req->peer = peer;
    req->id = id;
    req->active = 1;
    req->tl_data.status = CCL_SUCCESS;
    if (is_small(cap)) {
        req->bounce = bounce_get(req, len);
        if (req->bounce == NULL)
            return p2p_fail(ctx, CCL_ERR_NO_MEMORY, "no memory for a %zu-byte message", len);
        memcpy(req->bounce, &req->hdr, sizeof(ccl_msg_hdr_t));
        if (len > 0)
            memcpy(req->bounce + sizeof(ccl_msg_hdr_t), buf, len);
        res = comm->tl_ops->isend(comm->tl, peer, req->bounce, sizeof(ccl_msg_hdr_t) + len,
                                  make_tag(ctx, comm->rank, id, 0), &req->tl_hdr);
    } else {
        res = comm->tl_ops->isend(comm->tl, peer, &req->hdr, sizeof(req->hdr),
                                  make_tag(ctx, comm->rank, id, 0), &req->tl_hdr);
        if (res == CCL_SUCCESS)
            res = comm->tl_ops->isend(comm->tl, peer, buf, len,
                                      make_tag(ctx, comm->rank, id, 1), &req->tl_data);
    }
    if (res < 0)
        return p2p_fail(ctx, res, "sending to rank %d failed: %s", peer,
                        ccl_get_last_error(NULL));
    /* A sub-communicator's bytes are its parent's call's too (comm.h). */
    for (struct ccl_comm *c = comm; c != NULL; c = c->parent) /* several threads: atomic */
        __atomic_fetch_add(&c->stats.bytes_sent, sizeof(ccl_msg_hdr_t) + len, __ATOMIC_RELAXED);
    return CCL_SUCCESS;
}

ccl_result_t ccl_p2p_isend(ccl_coll_ctx_t *ctx, int peer, uint32_t id, const void *buf,
                           size_t len, ccl_p2p_req_t *req)
{
    return p2p_isend(ctx, peer, id, buf, len, len, req);
}

ccl_result_t ccl_p2p_isend_v(ccl_coll_ctx_t *ctx, int peer, uint32_t id, const void *buf,
                             size_t len, size_t cap, ccl_p2p_req_t *req)
{
    if (len > cap)
        return ccl_set_error(ctx->comm, CCL_ERR_INTERNAL, "message of %zu bytes over its cap %zu",
                             len, cap);
    return p2p_isend(ctx, peer, id, buf, len, cap, req);
}

static ccl_result_t p2p_irecv(ccl_coll_ctx_t *ctx, int peer, uint32_t id, void *buf, size_t len,
                              int variable, ccl_p2p_req_t *req)
{
    struct ccl_comm *comm = ctx->comm;
    const uint64_t mask = ~CCL_TAG_CTRL;
    ccl_result_t res;
    memset(req, 0, offsetof(ccl_p2p_req_t, inline_buf));
    req->buf = buf;
    req->len = len;
    req->peer = peer;
    req->id = id;
    req->is_recv = 1;
    req->variable = variable;
    req->active = 1;
    req->tl_data.status = CCL_SUCCESS;
    if (is_small(len)) {
        req->bounce = bounce_get(req, len);
        if (req->bounce == NULL)
            return p2p_fail(ctx, CCL_ERR_NO_MEMORY, "no memory for a %zu-byte message", len);
        res = comm->tl_ops->irecv(comm->tl, req->bounce, sizeof(ccl_msg_hdr_t) + len,
                                  make_tag(ctx, peer, id, 0), mask, &req->tl_hdr);
    } else {
        res = comm->tl_ops->irecv(comm->tl, &req->hdr, sizeof(req->hdr),
                                  make_tag(ctx, peer, id, 0), mask, &req->tl_hdr);
        if (res == CCL_SUCCESS)
            res = comm->tl_ops->irecv(comm->tl, buf, len, make_tag(ctx, peer, id, 1), mask,
                                      &req->tl_data);
    }
    if (res < 0)
        return p2p_fail(ctx, res, "receiving from rank %d failed: %s", peer,
                        ccl_get_last_error(NULL));
    return CCL_SUCCESS;
}

ccl_result_t ccl_p2p_irecv(ccl_coll_ctx_t *ctx, int peer, uint32_t id, void *buf, size_t len,
                           ccl_p2p_req_t *req)
{
    return p2p_irecv(ctx, peer, id, buf, len, 0, req);
}

ccl_result_t ccl_p2p_irecv_v(ccl_coll_ctx_t *ctx, int peer, uint32_t id, void *buf, size_t cap,
                             ccl_p2p_req_t *req)
{
    return p2p_irecv(ctx, peer, id, buf, cap, 1, req);
}

#define MISMATCH_HINT "ranks called different collectives, counts, dtypes, ops, roots or algorithms"

/* Checks a completed receive: the peer's header must describe this very call. */
static ccl_result_t p2p_recv_verify(ccl_coll_ctx_t *ctx, ccl_p2p_req_t *req)
{
    size_t expect_hdr_len = sizeof(ccl_msg_hdr_t) + (req->bounce ? req->len : 0);
    const char *coll = ccl_coll_name(ctx->args->coll);
    if (req->bounce != NULL && req->tl_hdr.len >= sizeof(ccl_msg_hdr_t))
        memcpy(&req->hdr, req->bounce, sizeof(ccl_msg_hdr_t));
    if (req->tl_hdr.len < sizeof(ccl_msg_hdr_t) || req->hdr.magic != CCL_MSG_MAGIC)
        return p2p_refuse(ctx, req, "%s call #%u: malformed message from rank %d (%zu bytes, magic %x)",
                        coll, ctx->seq, req->peer, req->tl_hdr.len, req->hdr.magic);
    if (req->hdr.seq != ctx->seq)
        return p2p_refuse(ctx, req,
                        "%s call #%u: rank %d is in call #%u: ranks made different calls",
                        coll, ctx->seq, req->peer, req->hdr.seq);
    if (req->hdr.sig != ctx->sig)
        return p2p_refuse(ctx, req,
                        "%s call #%u: rank %d called with other arguments (%s)", coll, ctx->seq,
                        req->peer, MISMATCH_HINT);
    if (req->variable && req->hdr.len <= req->len) {
        /* Up to len bytes: the header says how many; the transport must agree. */
        req->len = (size_t)req->hdr.len;
        expect_hdr_len = sizeof(ccl_msg_hdr_t) + (req->bounce ? req->len : 0);
    }
    if (req->hdr.len != req->len || req->tl_hdr.len != expect_hdr_len ||
        (req->bounce == NULL && req->tl_data.len != req->len))
        return p2p_refuse(ctx, req,
                        "%s call #%u: rank %d sent %llu bytes where %zu were expected", coll,
                        ctx->seq, req->peer, (unsigned long long)req->hdr.len, req->len);
    if (req->bounce != NULL && req->len > 0)
        memcpy(req->buf, req->bounce + sizeof(ccl_msg_hdr_t), req->len);
    return CCL_SUCCESS;
}

static void req_release(ccl_p2p_req_t *req)
{
    if (req->bounce != req->inline_buf)
        free(req->bounce);
    req->bounce = NULL;
    req->active = 0;
}

/* CCL_SUCCESS when done, CCL_INPROGRESS, or an error. */
static ccl_result_t p2p_test(ccl_coll_ctx_t *ctx, ccl_p2p_req_t *req)
{
    struct ccl_comm *comm = ctx->comm;
    ccl_result_t res;
    if (!req->active)
        return CCL_SUCCESS;
    comm->tl_ops->test(comm->tl, &req->tl_hdr);
    comm->tl_ops->test(comm->tl, &req->tl_data);
    if (req->tl_hdr.status < 0 || req->tl_data.status < 0) {
        int st = req->tl_hdr.status < 0 ? req->tl_hdr.status : req->tl_data.status;
        if (st == CCL_ERR_MISMATCH && req->is_recv)
            return p2p_refuse(ctx, req,
                            "%s call #%u: message from rank %d is larger than the %zu bytes "
                            "expected (%s)",
                            ccl_coll_name(ctx->args->coll), ctx->seq, req->peer, req->len,
                            MISMATCH_HINT);
        return p2p_fail(ctx, st, "%s with rank %d failed in the transport",
                        req->is_recv ? "receive" : "send", req->peer);
    }
    if (req->tl_hdr.status == CCL_INPROGRESS || req->tl_data.status == CCL_INPROGRESS)
        return CCL_INPROGRESS;
    ctx->progress++; /* the clock is read only at health checks */
    res = req->is_recv ? p2p_recv_verify(ctx, req) : CCL_SUCCESS;
    if (req->active)
        req_release(req);
    return res;
}

/* The longest the progress thread sleeps on the transport in one go. */
#define CCL_PROGRESS_NAP_US 200

/* Seconds without progress before a wait looks at a local peer's process, and between two
 * looks. */
#define CCL_PEER_PROBE_S 0.05

/* Abort, a peer's failure notice, a broken connection, a local peer's process gone, or
 * silence past the timeout. */
static ccl_result_t p2p_check(ccl_coll_ctx_t *ctx, const ccl_p2p_req_t *req)
{
    struct ccl_comm *comm = ctx->comm;
    ccl_result_t res = ccl_comm_check_health(comm);
    if (res < 0)
        return ccl_set_error(comm, res, "%s", comm->failure);
    if (comm->tl_ops->peer_status(comm->tl, req->peer) != CCL_SUCCESS)
        return p2p_fail(ctx, CCL_ERR_TRANSPORT, "connection to rank %d is broken (peer died?)",
                        req->peer);
    double now = ccl_time_now();
    if (ctx->progress != ctx->progress_seen) {
        ctx->progress_seen = ctx->progress;
        ctx->last_progress = now;
    }
    /* A peer on this host killed while we only wait on it: shared memory tells no one, so
     * look at its process once nothing has moved for a moment. */
    if (now - ctx->last_progress > CCL_PEER_PROBE_S && now - ctx->last_probe > CCL_PEER_PROBE_S) {
        ctx->last_probe = now; /* a system call: at most one a period, however long the wait */
        if (ccl_comm_peer_gone(comm, req->peer))
            return p2p_fail(ctx, CCL_ERR_TRANSPORT, "rank %d's process (pid %d, this host) is gone",
                            req->peer, (int)comm->peer_pid[req->peer]);
    }
    if (now - ctx->last_progress > comm->timeout_s)
        return p2p_fail(ctx, CCL_ERR_TIMEOUT,
                        "%s call #%u: no message from or to rank %d completed in %.1f s "
                        "(CCLZ_TIMEOUT); a peer died, hangs or did not make this call",
                        ccl_coll_name(ctx->args->coll), ctx->seq, req->peer, comm->timeout_s);
    return CCL_SUCCESS;
}

ccl_result_t ccl_p2p_wait(ccl_coll_ctx_t *ctx, ccl_p2p_req_t *req)
{
    struct ccl_comm *comm = ctx->comm;
    unsigned idle = 0, patience = comm->oversubscribed ? 1 : 64;
    for (unsigned spin = 0;; spin++) {
        ccl_result_t res = p2p_test(ctx, req);
        if (res != CCL_INPROGRESS)
            return res;
        /* When ranks outnumber cores, a spinning waiter steals the time its peer needs to
         * send: give the core away at the first idle poll then, after a stretch otherwise. */
        int slept = 0;
        if (comm->tl_ops->progress(comm->tl) != 0) {
            idle = 0;
        } else if (++idle >= patience && comm->progress_sleeps) {
            /* The progress thread shares its core with the caller's computation: sleep
             * until the transport has news. UCX's event fd does not signal everything a
             * call waits for (over TCP, a send that was waiting for room can go on without
             * a wake-up), so the sleep is short: with 1 ms, an 8-bit compressed 100 MB
             * allreduce at 1 Gbit/s overlapped with computation took 1.47x the longer of
             * the two instead of 1.05x (perf/results/nonblocking). */
            comm->tl_ops->sleep(comm->tl, CCL_PROGRESS_NAP_US);
            slept = 1;
        } else if (idle >= patience) {
            sched_yield();
        }
        if (slept || (spin & 255) == 255) {
            res = p2p_check(ctx, req);
            if (res < 0)
                return res;
        }
    }
}

ccl_result_t ccl_p2p_waitall(ccl_coll_ctx_t *ctx, ccl_p2p_req_t *reqs, int n)
{
    for (int i = 0; i < n; i++)
        CCL_CHECK(ccl_p2p_wait(ctx, &reqs[i]));
    return CCL_SUCCESS;
}

ccl_result_t ccl_p2p_sendrecv(ccl_coll_ctx_t *ctx, int to, const void *sbuf, size_t slen,
                              int from, void *rbuf, size_t rlen, uint32_t id)
{
    ccl_p2p_req_t *r = ctx->reqs;
    if (ctx->nreqs < 2)
        return ccl_set_error(ctx->comm, CCL_ERR_INTERNAL, "sendrecv needs two request slots");
    if (from >= 0)
        CCL_CHECK(ccl_p2p_irecv(ctx, from, id, rbuf, rlen, &r[0]));
    if (to >= 0)
        CCL_CHECK(ccl_p2p_isend(ctx, to, id, sbuf, slen, &r[1]));
    CCL_CHECK(ccl_p2p_wait(ctx, &r[0]));
    return ccl_p2p_wait(ctx, &r[1]);
}

void ccl_coll_ctx_finish(ccl_coll_ctx_t *ctx)
{
    struct ccl_comm *comm = ctx->comm;
    for (int i = 0; i < ctx->nreqs; i++) {
        ccl_p2p_req_t *req = &ctx->reqs[i];
        if (!req->active)
            continue;
        /* Only after an error: the transport must never touch user buffers after we
         * return, so every request is cancelled before the call ends. */
        comm->tl_ops->cancel(comm->tl, &req->tl_hdr);
        comm->tl_ops->cancel(comm->tl, &req->tl_data);
        req_release(req);
    }
    free(ctx->reqs);
    ctx->reqs = NULL;
    ctx->nreqs = 0;
    free(ctx->owned_buf);
    ctx->owned_buf = NULL;
}
