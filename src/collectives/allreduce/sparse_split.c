/* sparse_split.c: split-and-allgather sparse allreduce (SparCML's variant for many ranks).
 * The index space is cut in P ranges; each rank sends the part of its (index, value) list
 * that falls in range j to rank j, which adds the P parts in rank order (exactly as
 * sparse_allgather does, so the sums have the same bits) and sends its range's sum, sparse
 * or dense whichever is smaller, to every rank. A rank sends about 2k(P-1)/P pairs where
 * sparse_allgather sends k(P-1), at the price of one more step. */
#include "collectives/compressed/step.h"
#include "collectives/patterns/patterns.h"
#include "collectives/patterns/sparse_vec.h"

#include <stdlib.h>
#include <string.h>

#define SPLIT_ID_PART 0
#define SPLIT_ID_SUM  1

/* First position in idx[0..n) holding a value >= x. */
static size_t lower_bound(const uint32_t *idx, size_t n, size_t x)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (idx[mid] < x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static ccl_result_t sparse_split_run(ccl_coll_ctx_t *ctx)
{
    const ccl_coll_args_t *a = ctx->args;
    ccl_comp_step_t *st = a->step;
    struct ccl_compressor *c = st->comp;
    const int P = ctx->comm->nranks, r = ctx->comm->rank;
    const size_t n = a->count, my_off = ccl_seg_off(n, P, r), my_len = ccl_seg_len(n, P, r);
    const size_t enc_cap = CCL_MAX(ccl_codec_max_encoded_size(&st->codec, n), (size_t)CCL_SKIP_TOKEN_LEN);
    float *out = a->recvbuf, *recon = ccl_ef_recon(c->ef);
    int skip = st->local_skip;
    uint32_t *idx = NULL;
    float *val = NULL;
    size_t k = 0, enc_len = 0, *off = NULL, *pos = NULL, total = 0;
    ccl_p2p_req_t *reqs;
    ccl_svec_t sum;
    ccl_result_t res = CCL_ERR_NO_MEMORY;

    ccl_svec_init(&sum, my_len, out + my_off);
    CCL_CHECK(ccl_ctx_reqs(ctx, 4 * P, &reqs));
    uint8_t *enc = malloc(enc_cap);
    if (enc == NULL || (off = malloc((3 * (size_t)P + 2) * sizeof(size_t))) == NULL ||
        (pos = malloc(((size_t)P + 1) * sizeof(size_t))) == NULL) {
        ccl_set_error(ctx->comm, res, "no memory");
        goto out;
    }
    if (!skip && (res = ccl_step_encode_own(st, r, enc, enc_cap, &enc_len, recon, &skip)) != CCL_SUCCESS)
        goto out;
    if (!skip) {
        if ((res = ccl_codec_read_sparse(enc, enc_len, n, &idx, &val, &k)) != CCL_SUCCESS)
            goto out;
        for (size_t j = 0; j < k; j++)
            val[j] += 0.0f; /* -0 becomes +0, as in every sparse sum */
    }
    for (int j = 0; j <= P; j++)
        pos[j] = lower_bound(idx, k, j == P ? n : ccl_seg_off(n, P, j));
    /* Slots: parts out (sized to what they hold), parts in, the sum out, sums in. */
    for (int s = 0; s < 3 * P + 1; s++) {
        int j = s % P;
        off[s] = total;
        total += s < P ? CCL_MAX(ccl_svec_range_bound(pos[j + 1] - pos[j], ccl_seg_len(n, P, j)),
                                 (size_t)CCL_SKIP_TOKEN_LEN)
               : s < 2 * P || s == 3 * P ? ccl_svec_msg_cap(my_len)
                                         : ccl_svec_msg_cap(ccl_seg_len(n, P, j));
    }
    off[3 * P + 1] = total;
    uint8_t *mem = ccl_step_alloc(ctx, total);
    if (mem == NULL) {
        res = CCL_ERR_NO_MEMORY; /* res holds the encoding's success by now */
        goto out;
    }
#define SLOT(s) (mem + off[s])
    /* Slot 2P + j receives rank j's sum; slot 3P holds this rank's. */
    for (int i = 0; i < P; i++) {
        if (i == r)
            continue;
        if ((res = ccl_p2p_irecv_v(ctx, i, SPLIT_ID_PART, SLOT(P + i), ccl_svec_msg_cap(my_len),
                                   &reqs[i])) ||
            (res = ccl_p2p_irecv_v(ctx, i, SPLIT_ID_SUM, SLOT(2 * P + i),
                                   ccl_svec_msg_cap(ccl_seg_len(n, P, i)), &reqs[P + i])))
            goto out;
    }
    for (int t = 0; t < P; t++) {
        int j = (r + t) % P;
        size_t jo = ccl_seg_off(n, P, j), jl = ccl_seg_len(n, P, j), len = CCL_SKIP_TOKEN_LEN;
        if (skip)
            memcpy(SLOT(j), CCL_SKIP_TOKEN, CCL_SKIP_TOKEN_LEN);
        else
            len = ccl_svec_write_range(idx + pos[j], val + pos[j], pos[j + 1] - pos[j],
                                       (uint32_t)jo, jl, SLOT(j));
        if (j == r)
            reqs[r].len = len;  /* our own part is "received" from the slot directly */
        else if ((res = ccl_p2p_isend_v(ctx, j, SPLIT_ID_PART, SLOT(j), len,
                                        ccl_svec_msg_cap(jl), &reqs[2 * P + j])))
            goto out;
    }
    /* The range's sum, parts added in rank order. */
    for (int i = 0; i < P; i++) {
        const uint8_t *m = i == r ? SLOT(r) : SLOT(P + i);
        if (i != r && (res = ccl_p2p_wait(ctx, &reqs[i])) != CCL_SUCCESS)
            goto out;
        if (ccl_step_is_skip(m, reqs[i].len))
            skip = 1;
        else if (!skip && (res = ccl_svec_add_msg(ctx, i, &sum, m, reqs[i].len)) != CCL_SUCCESS)
            goto out;
    }
    size_t slen = CCL_SKIP_TOKEN_LEN;
    if (!skip && !ccl_svec_finite(&sum))
        skip = 1; /* the range's sum overflowed float32 */
    if (skip)
        memcpy(SLOT(3 * P), CCL_SKIP_TOKEN, CCL_SKIP_TOKEN_LEN);
    else
        slen = ccl_svec_write(&sum, SLOT(3 * P));
    for (int t = 1; t < P; t++) {
        int i = (r + t) % P;
        if ((res = ccl_p2p_isend_v(ctx, i, SPLIT_ID_SUM, SLOT(3 * P), slen,
                                   ccl_svec_msg_cap(my_len), &reqs[3 * P + i])))
            goto out;
    }
    if (!skip)
        ccl_svec_densify(&sum);
    for (int i = 0; i < P; i++) {
        if (i == r)
            continue;
        if ((res = ccl_p2p_wait(ctx, &reqs[P + i])) != CCL_SUCCESS)
            goto out;
        if (ccl_step_is_skip(SLOT(2 * P + i), reqs[P + i].len)) {
            skip = 1;
        } else if (!skip) {
            size_t il = ccl_seg_len(n, P, i);
            ccl_svec_t s;
            ccl_svec_init(&s, il, out + ccl_seg_off(n, P, i));
            res = ccl_svec_add_msg(ctx, i, &s, SLOT(2 * P + i), reqs[P + i].len);
            if (res == CCL_SUCCESS)
                ccl_svec_densify(&s);
            ccl_svec_free(&s);
            if (res != CCL_SUCCESS)
                goto out;
        }
    }
    for (int i = 0; i < P; i++)
        if (i != r && ((res = ccl_p2p_wait(ctx, &reqs[2 * P + i])) != CCL_SUCCESS ||
                       (res = ccl_p2p_wait(ctx, &reqs[3 * P + i])) != CCL_SUCCESS))
            goto out;
#undef SLOT
    res = ccl_step_end(ctx, skip, recon, out, n);
out:
    ccl_svec_free(&sum);
    free(enc);
    free(idx);
    free(val);
    free(off);
    free(pos);
    return res;
}

const ccl_algo_t ccl_allreduce_sparse_split = {
    .name        = "sparse_split",
    .desc        = "split and allgather: each rank's pairs in range j to rank j, summed there in "
                   "rank order, each range's sum (sparse or dense) to every rank",
    .coll        = CCL_COLL_ALLREDUCE,
    .carries     = CCL_CARRY_SPARSE,
    .default_for = 0,
    .run         = sparse_split_run,
};
