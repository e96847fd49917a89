/* sparse_rd.c: SparCML's recursive-doubling sparse allreduce (Renggli et al.). In round t
 * each rank swaps its running sum with the rank 2^t away and adds the two; the sum stays an
 * (index, value) list until its support covers half the buffer, then turns dense for the
 * remaining rounds. log2 P rounds, each carrying at most the merged support; extra ranks of
 * a non-power-of-two count hand their list to a partner first and get the result last.
 * Partners add the same two operands (in either order, which IEEE addition does not
 * notice), so every rank ends with the same bits. */
#include "collectives/compressed/step.h"
#include "collectives/patterns/patterns.h"
#include "collectives/patterns/sparse_vec.h"

#include <string.h>

#define RD_ID_FOLD_IN  0
#define RD_ID_FOLD_OUT 1
#define RD_ID_ROUND    2 /* + round */

/* Sends v (or the skip token) to `to` and/or receives from `from` (-1: none), adding what
 * arrives into v unless this step is being skipped. */
static ccl_result_t rd_swap(ccl_coll_ctx_t *ctx, ccl_p2p_req_t *reqs, int to, int from,
                            uint32_t id, ccl_svec_t *v, uint8_t *sbuf, uint8_t *rbuf, size_t rcap,
                            int *skip)
{
    ccl_result_t res;
    if (from >= 0)
        CCL_CHECK(ccl_p2p_irecv_v(ctx, from, id, rbuf, rcap, &reqs[0]));
    if (to >= 0) {
        size_t len = CCL_SKIP_TOKEN_LEN;
        if (!*skip && !ccl_svec_finite(v))
            *skip = 1; /* a sum that overflowed float32 */
        if (*skip)
            memcpy(sbuf, CCL_SKIP_TOKEN, CCL_SKIP_TOKEN_LEN);
        else
            len = ccl_svec_write(v, sbuf);
        CCL_CHECK(ccl_p2p_isend_v(ctx, to, id, sbuf, len, rcap, &reqs[1]));
    }
    if (from >= 0) {
        if ((res = ccl_p2p_wait(ctx, &reqs[0])) != CCL_SUCCESS)
            return res;
        if (ccl_step_is_skip(rbuf, reqs[0].len))
            *skip = 1;
        else if (!*skip)
            CCL_CHECK(ccl_svec_add_msg(ctx, from, v, rbuf, reqs[0].len));
    }
    return to >= 0 ? ccl_p2p_wait(ctx, &reqs[1]) : CCL_SUCCESS;
}

static ccl_result_t sparse_rd_run(ccl_coll_ctx_t *ctx)
{
    const ccl_coll_args_t *a = ctx->args;
    ccl_comp_step_t *st = a->step;
    struct ccl_compressor *c = st->comp;
    const int P = ctx->comm->nranks, r = ctx->comm->rank, p2 = ccl_pow2_floor(P), rem = P - p2;
    const size_t n = a->count;
    const size_t enc_cap = CCL_MAX(ccl_codec_max_encoded_size(&st->codec, n), (size_t)CCL_SKIP_TOKEN_LEN);
    const size_t cap = ccl_svec_msg_cap(n);
    float *out = a->recvbuf, *recon = ccl_ef_recon(c->ef);
    int skip = st->local_skip;
    ccl_p2p_req_t *reqs;
    ccl_svec_t v;
    size_t len;
    ccl_result_t res;

    CCL_CHECK(ccl_ctx_reqs(ctx, 2, &reqs));
    uint8_t *mem = ccl_step_alloc(ctx, enc_cap + 2 * cap);
    if (mem == NULL)
        return CCL_ERR_NO_MEMORY;
    uint8_t *enc = mem, *sbuf = mem + enc_cap, *rbuf = sbuf + cap;
    ccl_svec_init(&v, n, out);
    if (!skip)
        CCL_CHECK(ccl_step_encode_own(st, r, enc, enc_cap, &len, recon, &skip));
    if (!skip) {
        uint32_t *idx;
        float *val;
        size_t k;
        CCL_CHECK(ccl_codec_read_sparse(enc, len, n, &idx, &val, &k));
        ccl_svec_adopt(&v, idx, val, k);
        if (ccl_svec_wants_dense(&v))
            ccl_svec_densify(&v);
    }
    if (r >= p2) {
        /* An extra rank: its list to rank r - p2, which does its part of the rounds. */
        res = rd_swap(ctx, reqs, r - p2, -1, RD_ID_FOLD_IN, &v, sbuf, rbuf, cap, &skip);
        if (res == CCL_SUCCESS) {
            ccl_svec_free(&v);
            ccl_svec_init(&v, n, out);
            res = rd_swap(ctx, reqs, -1, r - p2, RD_ID_FOLD_OUT, &v, sbuf, rbuf, cap, &skip);
        }
    } else {
        res = r < rem ? rd_swap(ctx, reqs, -1, r + p2, RD_ID_FOLD_IN, &v, sbuf, rbuf, cap, &skip)
                      : CCL_SUCCESS;
        for (int mask = 1, t = 0; mask < p2 && res == CCL_SUCCESS; mask <<= 1, t++)
            res = rd_swap(ctx, reqs, r ^ mask, r ^ mask, RD_ID_ROUND + (uint32_t)t, &v, sbuf,
                          rbuf, cap, &skip);
        if (res == CCL_SUCCESS && r < rem)
            res = rd_swap(ctx, reqs, r + p2, -1, RD_ID_FOLD_OUT, &v, sbuf, rbuf, cap, &skip);
    }
    /* Every rank holds the same sum now: where it overflowed, every rank sees it. */
    if (res == CCL_SUCCESS && !skip && !ccl_svec_finite(&v))
        skip = 1;
    if (res == CCL_SUCCESS && !skip)
        ccl_svec_densify(&v);
    if (res == CCL_SUCCESS)
        res = ccl_step_end(ctx, skip, recon, out, n);
    ccl_svec_free(&v);
    return res;
}

const ccl_algo_t ccl_allreduce_sparse_rd = {
    .name        = "sparse_rd",
    .desc        = "SparCML recursive doubling: log2 P rounds of merging (index, value) "
                   "lists, dense once the merged support covers half the buffer",
    .coll        = CCL_COLL_ALLREDUCE,
    .carries     = CCL_CARRY_SPARSE,
    .default_for = 0,
    .run         = sparse_rd_run,
};
