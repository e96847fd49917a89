/* quant_sra.c: quantized scatter-reduce-allgather (as CGX does). The buffer is cut in P
 * chunks; chunk j is encoded once and sent to its owner, rank j, which sums the P
 * contributions exactly in float32 (its own unencoded), encodes the sum once and sends that
 * to every rank; every rank, the owner included, decodes the same bytes, so results are
 * bit-identical. Two quantizations per element whatever the rank count; each rank moves
 * about 2 (P-1)/P of the encoded buffer. */
#include "../compressed.h"
#include "../patterns/patterns.h"

#include <stdlib.h>
#include <string.h>

#define SRA_ID_SCATTER 0
#define SRA_ID_GATHER  1

static size_t chunk_cap(const ccl_codec_t *eff, size_t n)
{
    return CCL_MAX(ccl_codec_max_encoded_size(eff, n), (size_t)CCL_SKIP_TOKEN_LEN);
}

static ccl_result_t sra_run(ccl_coll_ctx_t *ctx)
{
    const ccl_coll_args_t *a = ctx->args;
    struct ccl_compressor *c = a->comp;
    struct ccl_comm *comm = ctx->comm;
    const int P = comm->nranks, r = comm->rank;
    const size_t n = a->count, own_off = ccl_seg_off(n, P, r), own_len = ccl_seg_len(n, P, r);
    const ccl_codec_t *eff = &c->eff;
    float *out = a->recvbuf, *recon = ccl_ef_recon(c->ef);
    size_t total = 0, *off, own_cap = chunk_cap(eff, own_len);
    ccl_p2p_req_t *reqs;
    int skip = c->local_bad;

    /* Layout: P slots for what this rank sends in the scatter (slot r: the encoded sum),
     * then P slots of own_cap for what it receives in the scatter, then P slots for the
     * gather. */
    CCL_CHECK(ccl_ctx_reqs(ctx, 4 * P, &reqs));
    if ((off = malloc((3 * (size_t)P + 1) * sizeof(size_t))) == NULL)
        return ccl_set_error(comm, CCL_ERR_NO_MEMORY, "no memory");
    for (int s = 0; s < 3 * P; s++) {
        int j = s % P;
        off[s] = total;
        total += s / P == 1 ? own_cap : chunk_cap(eff, ccl_seg_len(n, P, j));
    }
    off[3 * P] = total;
    uint8_t *mem = ccl_comp_alloc(ctx, total);
    ccl_result_t res = CCL_ERR_NO_MEMORY;
    if (mem == NULL)
        goto out;
#define SLOT(s) (mem + off[s])
#define SLOT_CAP(s) (off[(s) + 1] - off[s])

    for (int i = 0; i < P; i++) {
        if (i == r)
            continue;
        if ((res = ccl_p2p_irecv_v(ctx, i, SRA_ID_SCATTER, SLOT(P + i), own_cap, &reqs[i])) ||
            (res = ccl_p2p_irecv_v(ctx, i, SRA_ID_GATHER, SLOT(2 * P + i), SLOT_CAP(2 * P + i),
                                   &reqs[P + i])))
            goto out;
    }
    /* Scatter: encode and send each chunk to its owner, nearest owners last. */
    for (int t = 1; t < P; t++) {
        int j = (r + t) % P;
        size_t jo = ccl_seg_off(n, P, j), jl = ccl_seg_len(n, P, j), len = CCL_SKIP_TOKEN_LEN;
        if (skip)
            memcpy(SLOT(j), CCL_SKIP_TOKEN, CCL_SKIP_TOKEN_LEN);
        else if ((res = ccl_codec_encode(eff, c->p + jo, jl, ccl_comp_seed(c, r, (uint32_t)j),
                                         SLOT(j), SLOT_CAP(j), &len, ccl_comp_recon_at(recon, jo))) != CCL_SUCCESS)
            goto out;
        if ((res = ccl_p2p_isend_v(ctx, j, SRA_ID_SCATTER, SLOT(j), len, SLOT_CAP(j),
                                   &reqs[2 * P + j])))
            goto out;
    }
    /* Reduce this rank's chunk: its own part unencoded, then the others in rank order. */
    if (!skip) {
        ccl_comp_sent_exact(c, recon, own_off, own_len);
        memcpy(out + own_off, c->p + own_off, own_len * sizeof(float));
    }
    for (int i = 0; i < P; i++) {
        if (i == r)
            continue;
        if ((res = ccl_p2p_wait(ctx, &reqs[i])) != CCL_SUCCESS)
            goto out;
        if (ccl_comp_is_skip(SLOT(P + i), reqs[i].len))
            skip = 1;
        else if (!skip && (res = ccl_comp_decode_from(ctx, i, SLOT(P + i), reqs[i].len,
                                                      out + own_off, own_len, 1)) != CCL_SUCCESS)
            goto out;
    }
    /* Gather: the sum encoded once, decoded here as everywhere. */
    size_t len2 = CCL_SKIP_TOKEN_LEN;
    if (skip)
        memcpy(SLOT(r), CCL_SKIP_TOKEN, CCL_SKIP_TOKEN_LEN);
    else if ((res = ccl_codec_encode(eff, out + own_off, own_len, ccl_comp_seed(c, r, (uint32_t)(P + r)),
                                     SLOT(r), SLOT_CAP(r), &len2, NULL)) != CCL_SUCCESS ||
             (res = ccl_codec_decode(SLOT(r), len2, out + own_off, own_len, 0)) != CCL_SUCCESS)
        goto out;
    for (int i = 0; i < P; i++)
        if (i != r && (res = ccl_p2p_isend_v(ctx, i, SRA_ID_GATHER, SLOT(r), len2, SLOT_CAP(r),
                                             &reqs[3 * P + i])))
            goto out;
    for (int i = 0; i < P; i++) {
        if (i == r)
            continue;
        size_t io = ccl_seg_off(n, P, i), il = ccl_seg_len(n, P, i);
        if ((res = ccl_p2p_wait(ctx, &reqs[P + i])) != CCL_SUCCESS)
            goto out;
        if (ccl_comp_is_skip(SLOT(2 * P + i), reqs[P + i].len))
            skip = 1;
        else if (!skip && (res = ccl_comp_decode_from(ctx, i, SLOT(2 * P + i), reqs[P + i].len,
                                                      out + io, il, 0)) != CCL_SUCCESS)
            goto out;
    }
    if ((res = ccl_p2p_waitall(ctx, reqs + 2 * P, 2 * P)) != CCL_SUCCESS)
        goto out;
    if (skip) {
        res = ccl_comp_skip_result(ctx);
        goto out;
    }
    ccl_comp_finish(ctx, recon, out, n);
    res = CCL_SUCCESS;
#undef SLOT
#undef SLOT_CAP
out:
    free(off);
    return res;
}

const ccl_calgo_t ccl_callreduce_sra = {
    .base = {.name = "sra", .coll = CCL_COLL_ALLREDUCE, .run = sra_run,
             .desc = "quantized scatter-reduce-allgather: each chunk encoded once to its owner, "
                     "summed in float32, the sum encoded once to all (two quantizations)"},
    .kinds = CCL_CALGO_DENSE | CCL_CALGO_SPARSE,
};
