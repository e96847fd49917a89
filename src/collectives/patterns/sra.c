/* sra.c: the quantized scatter-reduce(-allgather) engine (as CGX does): the compressed
 * allreduce (allreduce/quant_sra.c) runs it whole, the compressed reduce-scatter
 * (reduce_scatter/quant_sra.c) its first half. The buffer is cut in P segments; rank j
 * owns segment j. Each rank encodes its part of segment j once and sends it
 * to j, which sums the P contributions exactly in float32 (its own unencoded), encodes the
 * sum once and sends that to every rank; every rank, the owner included, decodes the same
 * bytes, so results are bit-identical. Two quantizations per element whatever the rank
 * count; each rank moves about 2 (P-1)/P of the encoded buffer.
 *
 * Pipelined: every segment moves in C pieces of about CCLZ_CHUNK_SIZE / 2 once encoded. In round
 * t a rank scatters piece t of every segment, sums and gathers piece t - 1 of its own (whose
 * contributions have had a round to arrive) and decodes the gathered piece t - 2 of every
 * segment, so the link carries one phase while the core works on another. Error feedback
 * prepares each piece just before its first use (ccl_step_prepare), so that pass overlaps
 * the first messages instead of delaying them. */
#include "collectives/compressed/step.h"
#include "collectives/patterns/patterns.h"
#include "base/env_config.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    size_t n;
    int    P, r, C;    /* ranks, this rank, pieces per segment */
    int    gather;     /* an allreduce: the sums go to every rank */
    size_t *off;       /* slot offsets in the message block */
} sra_t;

/* Piece c of segment j. */
static void piece(const sra_t *s, int j, int c, size_t *off, size_t *len)
{
    ccl_seg_piece(s->n, s->P, j, s->C, c, off, len);
}

/* Slots, P * C each: what this rank sends in the scatter (slot of segment j, piece c; its
 * own segment's slots carry the encoded sums of the gather), what it receives in the
 * scatter (from rank i, piece c of its segment) and in the gather (segment i, piece c). */
enum { SEND = 0, SCATTER_IN = 1, GATHER_IN = 2 };
static size_t slot_index(const sra_t *s, int kind, int i, int c)
{
    return ((size_t)kind * (size_t)s->P + (size_t)i) * (size_t)s->C + (size_t)c;
}

static ccl_result_t layout(sra_t *s, const ccl_codec_t *eff)
{
    size_t nslots = 3 * (size_t)s->P * (size_t)s->C, total = 0;
    if ((s->off = malloc((nslots + 1) * sizeof(size_t))) == NULL)
        return CCL_ERR_NO_MEMORY;
    for (int kind = 0; kind < 3; kind++)
        for (int i = 0; i < s->P; i++)
            for (int c = 0; c < s->C; c++) {
                size_t po, pl;
                piece(s, kind == SCATTER_IN ? s->r : i, c, &po, &pl);
                s->off[slot_index(s, kind, i, c)] = total;
                /* Without the gather, nothing is received there nor sent from the own
                 * segment's slots. */
                if (!s->gather && (kind == GATHER_IN || (kind == SEND && i == s->r)))
                    continue;
                total += CCL_MAX(ccl_codec_max_encoded_size(eff, pl), (size_t)CCL_SKIP_TOKEN_LEN);
            }
    s->off[nslots] = total;
    return CCL_SUCCESS;
}

#define SRA_WINDOW 2
#define SRA_MAX_PIECES 32
#define SRA_ID(phase, c) ((uint32_t)(phase) * (uint32_t)s.C + (uint32_t)(c))

ccl_result_t ccl_sra_run(ccl_coll_ctx_t *ctx, int gather)
{
    const ccl_coll_args_t *a = ctx->args;
    ccl_comp_step_t *st = a->step;
    struct ccl_compressor *c = st->comp;
    struct ccl_comm *comm = ctx->comm;
    const int P = comm->nranks, r = comm->rank;
    const ccl_codec_t *eff = &st->codec;
    float *out = a->recvbuf, *recon = ccl_ef_recon(c->ef);
    /* Pieces sized by their encoding, so that a round (a scatter piece and a gather piece to
     * every peer) puts about CCLZ_CHUNK_SIZE per peer on the wire whatever the codec: the
     * pipeline's fill and drain cost about a round. */
    size_t seg_wire = ccl_codec_max_encoded_size(eff, ccl_seg_len(a->count, P, 0)),
           chunk = CCL_MAX((size_t)1, ccl_config_get()->chunk_size / 2);
    sra_t s = {.n = a->count, .P = P, .r = r, .gather = gather,
               .C = CCL_MAX((int)CCL_MIN((seg_wire + chunk - 1) / chunk, (size_t)SRA_MAX_PIECES), 1)};
    /* Requests, P * C each: the gather's sends, the scatter's and the gather's receives, the
     * scatter's sends. */
    const size_t PC = (size_t)P * (size_t)s.C;
    ccl_p2p_req_t *reqs;
    int skip = st->local_skip;
    ccl_result_t res;
    uint8_t *mem;
    /* Where this rank's piece g of its segment is summed: in place in the allreduce's
     * output, from the start of the reduce-scatter's. */
    const size_t sum_base = gather ? 0 : ccl_seg_off(a->count, P, r);
#define SLOT(kind, i, pc) (mem + s.off[slot_index(&s, kind, i, pc)])
#define SLOT_CAP(kind, i, pc) (s.off[slot_index(&s, kind, i, pc) + 1] - s.off[slot_index(&s, kind, i, pc)])
#define REQ(kind, i, pc) (&reqs[slot_index(&s, kind, i, pc)])
#define GATHER_SEND_REQ(i, pc) REQ(SEND, i, pc)
#define SCATTER_SEND_REQ(i, pc) (&reqs[3 * PC + (size_t)(i) * (size_t)s.C + (size_t)(pc)])

    CCL_CHECK(ccl_ctx_reqs(ctx, (int)(4 * PC), &reqs));
    if (layout(&s, eff) != CCL_SUCCESS)
        return ccl_set_error(comm, CCL_ERR_NO_MEMORY, "no memory");
    res = CCL_ERR_NO_MEMORY;
    if ((mem = ccl_step_alloc(ctx, s.off[3 * PC])) == NULL)
        goto out;
    for (int i = 0; i < P; i++)
        for (int pc = 0; pc < s.C && i != r; pc++)
            if ((res = ccl_p2p_irecv_v(ctx, i, SRA_ID(0, pc), SLOT(SCATTER_IN, i, pc),
                                       SLOT_CAP(SCATTER_IN, i, pc), REQ(SCATTER_IN, i, pc))) ||
                (gather &&
                 (res = ccl_p2p_irecv_v(ctx, i, SRA_ID(1, pc), SLOT(GATHER_IN, i, pc),
                                        SLOT_CAP(GATHER_IN, i, pc), REQ(GATHER_IN, i, pc)))))
                goto out;
    /* Without the gather a rank hears of another's skipped step only from its scatter: a
     * refusal must be known before the first piece leaves, not found by the encoder on the
     * way (the prepare found it, unless it left the check to a sparse encoder). */
    if (!gather && !skip && st->encoder_checks_finite && !ccl_all_finite(st->input, s.n)) {
        st->local_skip = skip = 1;
        c->ef->skipped++;
    }
    /* Round t: scatter piece t, reduce and gather piece t - 1, decode gathered piece t - 2.
     * The scatter stays at most SRA_WINDOW rounds ahead of what has left: messages to a
     * peer leave in order, and a gather piece queued behind the whole scatter would undo
     * the pipeline. */
    for (int t = 0; t < s.C + 2; t++) {
        for (int d = 1; d < P && t >= SRA_WINDOW && t - SRA_WINDOW < s.C; d++)
            if ((res = ccl_p2p_wait(ctx, SCATTER_SEND_REQ((r + d) % P, t - SRA_WINDOW))) != CCL_SUCCESS)
                goto out;
        for (int d = 1; d < P && t < s.C; d++) {
            int j = (r + d) % P;
            size_t po, pl, len = CCL_SKIP_TOKEN_LEN;
            piece(&s, j, t, &po, &pl);
            ccl_step_prepare(st, po, pl, &skip);
            if ((res = ccl_step_encode(ctx, st->input + po, po, pl,
                                       ccl_step_seed(st, r, (uint32_t)(j * s.C + t)),
                                       SLOT(SEND, j, t), SLOT_CAP(SEND, j, t), &len,
                                       ccl_step_recon_at(recon, po), &skip)) != CCL_SUCCESS)
                goto out;
            if ((res = ccl_p2p_isend_v(ctx, j, SRA_ID(0, t), SLOT(SEND, j, t), len,
                                       SLOT_CAP(SEND, j, t), SCATTER_SEND_REQ(j, t))))
                goto out;
        }
        int g = t - 1;
        if (g >= 0 && g < s.C) {
            /* This rank's piece g: its own part unencoded, the others in rank order. */
            size_t po, pl, len = CCL_SKIP_TOKEN_LEN;
            piece(&s, r, g, &po, &pl);
            ccl_step_prepare(st, po, pl, &skip);
            float *sum = out + (po - sum_base);
            if (!skip) { /* in place without error feedback, p is out */
                ccl_step_sent_exact(st, recon, po, pl);
                memmove(sum, st->input + po, pl * sizeof(float));
            }
            for (int i = 0; i < P; i++) {
                if (i == r)
                    continue;
                if ((res = ccl_step_take(ctx, REQ(SCATTER_IN, i, g), SLOT(SCATTER_IN, i, g),
                                         sum, pl, 1, &skip)) != CCL_SUCCESS)
                    goto out;
            }
            if (!gather)
                continue; /* the sum in float32 is this rank's result */
            /* The sum encoded once, decoded here as everywhere. */
            if ((res = ccl_step_encode(ctx, out + po, po, pl,
                                       ccl_step_seed(st, r, (uint32_t)((P + r) * s.C + g)),
                                       SLOT(SEND, r, g), SLOT_CAP(SEND, r, g), &len, NULL,
                                       &skip)) != CCL_SUCCESS ||
                (!skip && (res = ccl_codec_decode(SLOT(SEND, r, g), len, out + po, pl, 0)) != CCL_SUCCESS))
                goto out;
            /* One buffer to every rank. */
            for (int d = 1; d < P; d++) {
                int i = (r + d) % P;
                if ((res = ccl_p2p_isend_v(ctx, i, SRA_ID(1, g), SLOT(SEND, r, g), len,
                                           SLOT_CAP(SEND, r, g), GATHER_SEND_REQ(i, g))))
                    goto out;
            }
        }
        int h = t - 2;
        for (int i = 0; gather && h >= 0 && i < P; i++) {
            if (i == r)
                continue;
            size_t po, pl;
            piece(&s, i, h, &po, &pl);
            if ((res = ccl_step_take(ctx, REQ(GATHER_IN, i, h), SLOT(GATHER_IN, i, h), out + po,
                                     pl, 0, &skip)) != CCL_SUCCESS)
                goto out;
        }
    }
    for (int i = 0; i < P; i++)
        for (int pc = 0; pc < s.C && i != r; pc++)
            if ((res = ccl_p2p_wait(ctx, SCATTER_SEND_REQ(i, pc))) != CCL_SUCCESS ||
                (gather && (res = ccl_p2p_wait(ctx, GATHER_SEND_REQ(i, pc))) != CCL_SUCCESS))
                goto out;
    res = ccl_step_end(ctx, skip, recon, out, s.n);
    if (res == CCL_SUCCESS && !gather && a->op == CCL_AVG) {
        const size_t own = ccl_seg_len(s.n, P, r);
        const float inv = 1.0f / (float)P;
        for (size_t i = 0; i < own; i++)
            out[i] *= inv;
    }
#undef SLOT
#undef SLOT_CAP
#undef REQ
#undef GATHER_SEND_REQ
#undef SCATTER_SEND_REQ
out:
    free(s.off);
    return res;
}

/* P - 1 messages a rank per phase, concurrent within it; (P - 1) / P of the encoded buffer
 * out of each rank per phase. */
double ccl_sra_estimate(const ccl_coll_args_t *a, const ccl_tuning_t *t, int P, int gather)
{
    double wire = (double)ccl_codec_max_encoded_size(a->codec, a->count), phases = gather ? 2 : 1;
    /* Across hosts of L ranks (a hierarchy), all L send their pieces for the other hosts'
     * ranks over the one link: (P - L) of each rank's P - 1 pieces, L times over. */
    double share = 1;
    if (t->hier_hosts > 1 && P > t->hier_local)
        share = (double)t->hier_local * (P - t->hier_local) / (P - 1);
    return phases * (P - 1) * t->alpha_us +
           phases * (P - 1) / P * wire * t->beta_us_per_byte * share;
}
