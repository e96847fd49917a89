/* p2p.h: the point-to-point messages of one collective: tagged by call and message id, each
 * carrying a header with the call's sequence number and signature. */
#ifndef CCL_P2P_H
#define CCL_P2P_H

#include "collectives/coll.h"

/* Tag layout (bit 63 is CCL_TAG_CTRL, never set here):
 *   62..43 seq (20 bits) | 42 part (0 header, 1 payload) | 41..24 msg id (18 bits) | 23..0 src
 * The message id is chosen by the algorithm and is the same on both sides. */
#define CCL_TAG_SEQ_BITS  20
#define CCL_TAG_ID_BITS   18
#define CCL_TAG_MAX_ID    ((1u << CCL_TAG_ID_BITS) - 1)

#define CCL_MSG_MAGIC 0x4d5a4343u /* "CCZM" */

typedef struct {
    uint32_t magic;
    uint32_t seq;
    uint64_t sig;
    uint64_t len;    /* payload bytes */
} ccl_msg_hdr_t;

#define CCL_P2P_INLINE_BYTES 104

typedef struct ccl_p2p_req {
    ccl_tl_req_t  tl_hdr;    /* the header, or header+payload for small messages */
    ccl_tl_req_t  tl_data;   /* the payload of a large message */
    ccl_msg_hdr_t hdr;
    uint8_t      *bounce;    /* header+payload copy of a small message: inline_buf or heap */
    void         *buf;
    size_t        len;
    int           peer;
    uint32_t      id;
    int           is_recv;
    int           variable;  /* receive: up to len bytes; len becomes the size received */
    int           active;
    int           refused;   /* a robust call's receive whose message failed a check */
    /* Tiny messages (an 8-byte allreduce) need no allocation. */
    uint8_t       inline_buf[sizeof(ccl_msg_hdr_t) + CCL_P2P_INLINE_BYTES];
} ccl_p2p_req_t;

/* Gives the call n request slots (idle), released by ccl_coll_ctx_finish. */
CCL_NODISCARD
ccl_result_t ccl_ctx_reqs(ccl_coll_ctx_t *ctx, int n, ccl_p2p_req_t **reqs_p);

CCL_NODISCARD
ccl_result_t ccl_p2p_isend(ccl_coll_ctx_t *ctx, int peer, uint32_t id, const void *buf,
                           size_t len, ccl_p2p_req_t *req);
/* Expects exactly len bytes; a longer or shorter message, or a header of another call,
 * fails with CCL_ERR_MISMATCH without writing past buf. */
CCL_NODISCARD
ccl_result_t ccl_p2p_irecv(ccl_coll_ctx_t *ctx, int peer, uint32_t id, void *buf, size_t len,
                           ccl_p2p_req_t *req);

/* Variable-length messages (compressed payloads): the receiver allows up to cap bytes and
 * finds the size in req->len once the request completed; the sender passes the same cap. */
CCL_NODISCARD
ccl_result_t ccl_p2p_isend_v(ccl_coll_ctx_t *ctx, int peer, uint32_t id, const void *buf,
                             size_t len, size_t cap, ccl_p2p_req_t *req);
CCL_NODISCARD
ccl_result_t ccl_p2p_irecv_v(ccl_coll_ctx_t *ctx, int peer, uint32_t id, void *buf, size_t cap,
                             ccl_p2p_req_t *req);

/* Blocks until req completes, progressing everything. On an error (mismatch, timeout, peer
 * failure, abort) it fails the communicator and tells the peers. An idle req is a no-op.
 * In a robust call (ctx->faults set), a received message that fails a check (malformed,
 * another call's, other arguments, a wrong length) completes the receive with req->refused
 * set and ctx->faults[peer] = CCL_FAULT_MESSAGE instead; its buffer is then undefined. */
CCL_NODISCARD
ccl_result_t ccl_p2p_wait(ccl_coll_ctx_t *ctx, ccl_p2p_req_t *req);
CCL_NODISCARD
ccl_result_t ccl_p2p_waitall(ccl_coll_ctx_t *ctx, ccl_p2p_req_t *reqs, int n);

/* Blocking conveniences for the small-message algorithms. */
CCL_NODISCARD
ccl_result_t ccl_p2p_sendrecv(ccl_coll_ctx_t *ctx, int to, const void *sbuf, size_t slen,
                              int from, void *rbuf, size_t rlen, uint32_t id);

/* Cancels every request of the call still active (after an error) and frees the slots. */
void ccl_coll_ctx_finish(ccl_coll_ctx_t *ctx);

#endif
