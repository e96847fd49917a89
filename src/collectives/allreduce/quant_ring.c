/* quant_ring.c: quantized ring allreduce, pipelined. Reduce-scatter: in step s a rank
 * decodes the partial sum of segment (r - s - 1) from its left neighbour, adds its own part
 * unencoded, re-encodes and passes it right; after P - 1 steps it holds segment r + 1 summed
 * over every rank, encodes that once and the allgather passes those bytes around unchanged,
 * so every rank decodes the same bytes (bit-identical results). Each segment moves in chunks
 * of CCLZ_CHUNK_SIZE (as float32) so that a neighbour works on one chunk while the next is
 * in flight.
 *
 * An element is quantized P times, the j-th time as part of a sum over j ranks, so the error
 * grows with P (sra: twice whatever P). Error feedback sees this rank's first encoding (the
 * segment it starts) and counts its other parts as sent exactly: the re-encodings' errors
 * belong to sums, not to one rank. */
#include "collectives/compressed/step.h"
#include "collectives/patterns/patterns.h"
#include "base/env_config.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    size_t n;             /* elements */
    int    P, nchunks;    /* chunks per segment (the same for all) */
} qring_t;

static void piece(const qring_t *q, int seg, int c, size_t *off, size_t *len)
{
    ccl_seg_piece(q->n, q->P, seg, q->nchunks, c, off, len);
}

static size_t piece_cap(const qring_t *q, const ccl_codec_t *eff, int seg, int c)
{
    size_t off, len;
    piece(q, seg, c, &off, &len);
    return CCL_MAX(ccl_codec_max_encoded_size(eff, len), (size_t)CCL_SKIP_TOKEN_LEN);
}

/* Waits for a partial sum from the left, then acc = own + decoded (unless skipping). */
static ccl_result_t add_partial(ccl_coll_ctx_t *ctx, ccl_p2p_req_t *req, const uint8_t *msg,
                                const float *own, float *acc, size_t len, int *skip)
{
    if (!*skip) /* the same memory when in place without error feedback */
        memmove(acc, own, len * sizeof(float));
    return ccl_step_take(ctx, req, msg, acc, len, 1, skip);
}

static ccl_result_t qring_run(ccl_coll_ctx_t *ctx)
{
    const ccl_coll_args_t *a = ctx->args;
    ccl_comp_step_t *st = a->step;
    struct ccl_compressor *c = st->comp;
    const int P = ctx->comm->nranks, r = ctx->comm->rank, left = ccl_mod(r - 1, P),
              right = ccl_mod(r + 1, P);
    const ccl_codec_t *eff = &st->codec;
    float *out = a->recvbuf, *recon = ccl_ef_recon(c->ef);
    int skip = st->local_skip;
    qring_t q = {.n = a->count, .P = P};
    size_t seg_max = ccl_seg_len(q.n, P, 0),
           chunk = CCL_MAX((size_t)1, ccl_config_get()->chunk_size / sizeof(float));
    q.nchunks = CCL_MAX((int)CCL_MIN((seg_max + chunk - 1) / chunk, (size_t)1024), 1);
    const int steps = P - 1, C = q.nchunks, nmsg = 2 * steps * C;
    ccl_p2p_req_t *reqs;
    size_t *off, total = 0;
    ccl_result_t res;

    if (P == 1) {
        /* One rank: one encoding, decoded like everyone else's would be. */
        size_t cap = CCL_MAX(ccl_codec_max_encoded_size(eff, q.n), (size_t)CCL_SKIP_TOKEN_LEN), len;
        uint8_t *buf = ccl_step_alloc(ctx, cap);
        if (buf == NULL)
            return CCL_ERR_NO_MEMORY;
        if (skip)
            return ccl_step_skip_result(ctx);
        CCL_CHECK(ccl_codec_encode(eff, st->input, q.n, ccl_step_seed(st, r, 0), buf, cap, &len, recon));
        CCL_CHECK(ccl_codec_decode(buf, len, out, q.n, 0));
        return ccl_step_finish(ctx, recon, out, q.n);
    }
    CCL_CHECK(ccl_ctx_reqs(ctx, 2 * nmsg, &reqs));
    /* Slots: message m received (m < nmsg), then the sends of the reduce-scatter and the
     * encoding of the owned segment. Message m = phase * steps * C + step * C + chunk. */
    if ((off = malloc(((size_t)nmsg + (size_t)steps * C + C + 1) * sizeof(size_t))) == NULL)
        return ccl_set_error(ctx->comm, CCL_ERR_NO_MEMORY, "no memory");
    for (int m = 0; m < nmsg + steps * C + C; m++) {
        int seg, ch = m % C;
        if (m < nmsg) {
            int ph = m / (steps * C), s = (m / C) % steps;
            seg = ph == 0 ? ccl_mod(r - s - 1, P) : ccl_mod(r - s, P);
        } else if (m < nmsg + steps * C) {
            seg = ccl_mod(r - (m - nmsg) / C, P);
        } else {
            seg = right;
        }
        off[m] = total;
        total += piece_cap(&q, eff, seg, ch);
    }
    off[nmsg + steps * C + C] = total;
    uint8_t *mem = ccl_step_alloc(ctx, total);
    res = CCL_ERR_NO_MEMORY;
    if (mem == NULL)
        goto out;
#define SLOT(m) (mem + off[m])
#define CAP(m) (off[(m) + 1] - off[m])
    for (int m = 0; m < nmsg; m++)
        if ((res = ccl_p2p_irecv_v(ctx, left, (uint32_t)m, SLOT(m), CAP(m), &reqs[m])))
            goto out;
    /* Own parts count as sent exactly, except the segment this rank starts (below). */
    if (!skip)
        ccl_step_sent_exact(st, recon, 0, q.n);
    for (int s = 0; s < steps; s++) {
        int seg = ccl_mod(r - s, P);
        for (int ch = 0; ch < C; ch++) {
            size_t po, pl, len = CCL_SKIP_TOKEN_LEN;
            int sm = nmsg + s * C + ch;
            piece(&q, seg, ch, &po, &pl);
            if (s > 0) {
                /* The partial sum of this piece came in during step s - 1. */
                int m = (s - 1) * C + ch;
                if ((res = add_partial(ctx, &reqs[m], SLOT(m), st->input + po, out + po, pl, &skip)))
                    goto out;
            }
            if ((res = ccl_step_encode(ctx, s == 0 ? st->input + po : out + po, po, pl,
                                       ccl_step_seed(st, r, (uint32_t)(s * C + ch)), SLOT(sm),
                                       CAP(sm), &len, s == 0 ? ccl_step_recon_at(recon, po) : NULL,
                                       &skip)))
                goto out;
            if ((res = ccl_p2p_isend_v(ctx, right, (uint32_t)(s * C + ch), SLOT(sm), len, CAP(sm),
                                       &reqs[sm])))
                goto out;
        }
    }
    /* The owned segment: the last partial sum plus this rank's part, encoded once. */
    for (int ch = 0; ch < C; ch++) {
        size_t po, pl, len = CCL_SKIP_TOKEN_LEN;
        int m = (steps - 1) * C + ch, om = nmsg + steps * C + ch;
        piece(&q, right, ch, &po, &pl);
        if ((res = add_partial(ctx, &reqs[m], SLOT(m), st->input + po, out + po, pl, &skip)))
            goto out;
        if ((res = ccl_step_encode(ctx, out + po, po, pl, ccl_step_seed(st, r, (uint32_t)(steps * C + ch)),
                                   SLOT(om), CAP(om), &len, NULL, &skip)) ||
            (!skip && (res = ccl_codec_decode(SLOT(om), len, out + po, pl, 0))))
            goto out;
        if ((res = ccl_p2p_isend_v(ctx, right, (uint32_t)(steps * C + ch), SLOT(om), len, CAP(om),
                                   &reqs[nmsg + steps * C + ch])))
            goto out;
    }
    /* Allgather: decode each arriving piece and pass the same bytes on. */
    for (int s = 0; s < steps; s++) {
        int seg = ccl_mod(r - s, P);
        for (int ch = 0; ch < C; ch++) {
            int m = (steps + s) * C + ch;
            size_t po, pl;
            piece(&q, seg, ch, &po, &pl);
            if ((res = ccl_step_take(ctx, &reqs[m], SLOT(m), out + po, pl, 0, &skip)))
                goto out;
            /* ... where the right neighbour expects it: its message m + C. */
            if (s + 1 < steps &&
                (res = ccl_p2p_isend_v(ctx, right, (uint32_t)(m + C), SLOT(m), reqs[m].len, CAP(m),
                                       &reqs[nmsg + m + C])))
                goto out;
        }
    }
    if ((res = ccl_p2p_waitall(ctx, reqs + nmsg, nmsg)) != CCL_SUCCESS)
        goto out;
#undef SLOT
#undef CAP
    res = ccl_step_end(ctx, skip, recon, out, q.n);
out:
    free(off);
    return res;
}

const ccl_algo_t ccl_allreduce_quant_ring = {
    .name        = "ring",
    .desc        = "quantized ring, pipelined: partial sums decoded, added to and re-encoded at "
                   "each hop, the final sum encoded once and passed around (P quantizations)",
    .coll        = CCL_COLL_ALLREDUCE,
    .carries     = CCL_CARRY_DENSE,
    .default_for = 0,
    .run         = qring_run,
};
