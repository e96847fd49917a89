/* quant_tree.c: quantized tree allreduce for small, latency-bound messages. Up a binomial
 * tree rooted at rank 0, each rank decodes its children's encoded subtree sums, adds its own
 * part unencoded and sends the encoded total to its parent; the root encodes the full sum
 * once and those bytes go back down the tree unchanged, so every rank decodes the same bytes
 * (bit-identical results). 2 ceil(log2 P) message latencies; an element is quantized at most
 * ceil(log2 P) + 1 times. Error feedback sees a leaf's encoding of its own part; an inner
 * rank's part travels inside a sum and counts as sent exactly (as in the quantized ring). */
#include "collectives/compressed/step.h"
#include "collectives/patterns/patterns.h"

#include <string.h>

#define TREE_ID_UP   0
#define TREE_ID_DOWN 1

static ccl_result_t qtree_run(ccl_coll_ctx_t *ctx)
{
    const ccl_coll_args_t *a = ctx->args;
    ccl_comp_step_t *st = a->step;
    struct ccl_compressor *c = st->comp;
    const int P = ctx->comm->nranks, r = ctx->comm->rank;
    const size_t n = a->count;
    const size_t cap = CCL_MAX(ccl_codec_max_encoded_size(&st->codec, n), (size_t)CCL_SKIP_TOKEN_LEN);
    float *out = a->recvbuf, *recon = ccl_ef_recon(c->ef);
    int skip = st->local_skip, parent, children[32];
    int nchild = ccl_binomial_tree(r, 0, P, &parent, children);
    ccl_p2p_req_t *reqs;
    size_t len = CCL_SKIP_TOKEN_LEN;

    /* Requests: children up, parent down, up send, down sends. Slots: children, then one
     * for this rank's up message and one for the sum coming down. */
    CCL_CHECK(ccl_ctx_reqs(ctx, 2 * nchild + 2, &reqs));
    if (cap > SIZE_MAX / ((size_t)nchild + 2))
        return ccl_set_error(ctx->comm, CCL_ERR_INVALID_ARG, "messages too large");
    uint8_t *mem = ccl_step_alloc(ctx, cap * ((size_t)nchild + 2));
    if (mem == NULL)
        return CCL_ERR_NO_MEMORY;
    uint8_t *up = mem + cap * (size_t)nchild, *down = up + cap;
    for (int i = 0; i < nchild; i++)
        CCL_CHECK(ccl_p2p_irecv_v(ctx, children[i], TREE_ID_UP, mem + cap * (size_t)i, cap, &reqs[i]));
    if (parent >= 0)
        CCL_CHECK(ccl_p2p_irecv_v(ctx, parent, TREE_ID_DOWN, down, cap, &reqs[nchild]));
    if (!skip) {
        memmove(out, st->input, n * sizeof(float)); /* in place without error feedback: the same memory */
        ccl_step_sent_exact(st, recon, 0, n);
    }
    for (int i = 0; i < nchild; i++)
        CCL_CHECK(ccl_step_take(ctx, &reqs[i], mem + cap * (size_t)i, out, n, 1, &skip));
    /* Up: the subtree's sum (a leaf's own part, with its reconstruction); the root encodes
     * the final sum instead, into the slot that goes down. */
    uint8_t *enc = parent >= 0 ? up : down;
    CCL_CHECK(ccl_step_encode(ctx, out, 0, n, ccl_step_seed(st, r, 0), enc, cap, &len,
                              parent >= 0 && nchild == 0 ? recon : NULL, &skip));
    if (parent >= 0) {
        CCL_CHECK(ccl_p2p_isend_v(ctx, parent, TREE_ID_UP, up, len, cap, &reqs[nchild + 1]));
        CCL_CHECK(ccl_p2p_wait(ctx, &reqs[nchild]));
        len = reqs[nchild].len;
        if (ccl_step_is_skip(down, len))
            skip = 1;
    }
    if (!skip)
        CCL_CHECK(ccl_step_decode_from(ctx, parent >= 0 ? parent : r, down, len, out, n, 0));
    for (int i = 0; i < nchild; i++)
        CCL_CHECK(ccl_p2p_isend_v(ctx, children[i], TREE_ID_DOWN, down, len, cap,
                                  &reqs[nchild + 2 + i]));
    CCL_CHECK(ccl_p2p_waitall(ctx, reqs + nchild + 1, nchild + 1));
    return ccl_step_end(ctx, skip, recon, out, n);
}

/* ceil(log2 P) levels up and as many down, each one whole encoding after another. */
static double qtree_estimate(const ccl_coll_args_t *a, const ccl_tuning_t *t, int P)
{
    double wire = (double)ccl_codec_max_encoded_size(a->codec, a->count);
    return 2.0 * ccl_log2_ceil(P) * (t->alpha_us + wire * t->beta_us_per_byte);
}

const ccl_algo_t ccl_allreduce_quant_tree = {
    .name        = "tree",
    .desc        = "quantized binomial tree for small messages: subtree sums re-encoded up to "
                   "rank 0, its sum encoded once and passed down unchanged",
    .coll        = CCL_COLL_ALLREDUCE,
    .carries     = CCL_CARRY_DENSE,
    .default_for = CCL_CARRY_DENSE,
    .run         = qtree_run,
    .estimate_us = qtree_estimate,
};
