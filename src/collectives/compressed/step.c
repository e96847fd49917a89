/* step.c: the helpers compressed algorithms call during one call: seeds, encoding this
 * rank's vector and sums, skip tokens, the exchange of every rank's encoding, decoding,
 * and the commit and finish of error feedback. */
#include "collectives/compressed/step.h"
#include "compress/wire.h"

#include <stdlib.h>
#include <string.h>

uint64_t ccl_step_seed(const ccl_comp_step_t *st, int rank, uint32_t chunk)
{
    const struct ccl_compressor *c = st->comp;
    uint64_t key[3] = {c->ef->steps, (uint64_t)chunk,
                       (c->codec.ops->flags & CCL_CODEC_NEEDS_SHARED_SEED) ? 0 : (uint64_t)rank + 1};
    return ccl_hash64(key, sizeof(key), c->spec_hash);
}

void (*ccl_step_tamper)(int rank, uint8_t *msg, size_t *len, size_t cap);

int ccl_step_is_skip(const void *buf, size_t len)
{
    return len == CCL_SKIP_TOKEN_LEN && memcmp(buf, CCL_SKIP_TOKEN, CCL_SKIP_TOKEN_LEN) == 0;
}

ccl_result_t ccl_step_encode_own(ccl_comp_step_t *st, int rank, uint8_t *dst, size_t cap,
                                 size_t *len_p, float *recon, int *skip)
{
    struct ccl_compressor *c = st->comp;
    ccl_result_t res = ccl_codec_encode(&st->codec, st->input, c->count,
                                        ccl_step_seed(st, rank, 0), dst, cap, len_p, recon);
    if (res != CCL_ERR_INVALID_ARG || !st->encoder_checks_finite || ccl_all_finite(st->input, c->count))
        return res;
    /* The encoder found what the prepare's check would have: skip as the prepare would. */
    st->local_skip = 1;
    c->ef->skipped++;
    *skip = 1;
    return CCL_SUCCESS;
}

ccl_result_t ccl_step_skip_result(ccl_coll_ctx_t *ctx)
{
    ccl_comp_step_t *st = ctx->args->step;
    struct ccl_compressor *c = st->comp;
    if (!st->local_skip)
        c->ef->skipped++;
    ctx->keep_comm = 1;
    return ccl_set_error(ctx->comm, CCL_ERR_INVALID_ARG,
                         "%s: %s; the step is skipped on every rank and the error-feedback "
                         "state kept", ccl_coll_name(ctx->args->coll),
                         st->local_skip ? "a gradient holds NaN or Inf on this rank"
                                      : "a gradient holds NaN or Inf on another rank, or a sum "
                                        "of finite gradients overflowed float32");
}

ccl_result_t ccl_step_encode(ccl_coll_ctx_t *ctx, const float *src, size_t off, size_t n,
                             uint64_t seed, uint8_t *dst, size_t cap, size_t *len_p, float *recon,
                             int *skip)
{
    ccl_result_t res = CCL_SUCCESS;
    if (!*skip) {
        res = ccl_codec_encode_range(&ctx->args->step->codec, src, off, n, seed, dst, cap, len_p,
                                     recon);
        /* The encoders refuse non-finite input; only then is the input read again. */
        if (res == CCL_ERR_INVALID_ARG && !ccl_all_finite(src, n))
            *skip = 1;
        else if (res != CCL_SUCCESS)
            return ccl_set_error(ctx->comm, res, "encoding: %s", ccl_get_last_error(NULL));
    }
    if (*skip) {
        memcpy(dst, CCL_SKIP_TOKEN, CCL_SKIP_TOKEN_LEN);
        *len_p = CCL_SKIP_TOKEN_LEN;
    }
    return CCL_SUCCESS;
}

void ccl_step_sent_exact(const ccl_comp_step_t *st, float *recon, size_t off, size_t len)
{
    if (recon == NULL)
        return;
    if (st->codec.params.fb_residual)
        memset(recon + off, 0, len * sizeof(float));
    else
        memcpy(recon + off, st->input + off, len * sizeof(float));
}

ccl_result_t ccl_step_commit(ccl_comp_step_t *st, float *recon, size_t count)
{
    struct ccl_compressor *c = st->comp;
    uint32_t *idx;
    float *val;
    size_t k;
    if (st->own_msg == NULL) {
        ccl_ef_commit(c->ef, recon);
        return CCL_SUCCESS;
    }
    CCL_CHECK(ccl_codec_read_sparse(st->own_msg, st->own_len, count, &idx, &val, &k));
    ccl_ef_commit_list(c->ef, idx, val, k);
    free(idx);
    free(val);
    return CCL_SUCCESS;
}

ccl_result_t ccl_step_end(ccl_coll_ctx_t *ctx, int skip, float *recon, float *out, size_t count)
{
    return skip ? ccl_step_skip_result(ctx) : ccl_step_finish(ctx, recon, out, count);
}

ccl_result_t ccl_step_finish(ccl_coll_ctx_t *ctx, float *recon, float *out, size_t count)
{
    ccl_comp_step_t *st = ctx->args->step;
    /* An allgather only commits: EF21 is refused there. */
    return st->exec->finish(st, recon, out, count, ctx->args->coll == CCL_COLL_ALLREDUCE,
                            ctx->args->op, ctx->comm->nranks);
}

void *ccl_step_alloc(ccl_coll_ctx_t *ctx, size_t bytes)
{
    void *p = ccl_comm_scratch(ctx->comm, CCL_MAX(bytes, (size_t)64));
    if (p == NULL)
        ccl_set_error(ctx->comm, CCL_ERR_NO_MEMORY, "no memory for %zu bytes of messages", bytes);
    return p;
}

/* The ranks of every host by local index (member[start[h] + i]), for the relayed exchange. */
typedef struct {
    int *start, *member, *local; /* local[q]: rank q's local index */
} hosts_t;

static void hosts_free(hosts_t *hs)
{
    free(hs->start);
    free(hs->member);
    free(hs->local);
}

/* Whether comm's ranks sit on several hosts, some of them holding several ranks; if so, *hs. */
static ccl_result_t hosts_make(struct ccl_comm *comm, hosts_t *hs, int *relay)
{
    const ccl_topo_t *t = &comm->topo;
    const int P = comm->nranks;
    *hs = (hosts_t){0};
    *relay = t->host_of != NULL && t->nhosts > 1 && t->local_max > 1 &&
             P - 1 <= (int)CCL_TAG_MAX_ID;
    if (!*relay)
        return CCL_SUCCESS;
    hs->start = calloc((size_t)t->nhosts + 1, sizeof(int));
    hs->member = malloc((size_t)P * sizeof(int));
    hs->local = malloc((size_t)P * sizeof(int));
    if (hs->start == NULL || hs->member == NULL || hs->local == NULL) {
        hosts_free(hs);
        return ccl_set_error(comm, CCL_ERR_NO_MEMORY, "no memory for the hosts' table");
    }
    for (int q = 0; q < P; q++) { /* start[h + 1] counts host h's ranks seen so far */
        const int h = t->host_of[q];
        hs->local[q] = hs->start[h + 1]++;
    }
    for (int h = 0; h < t->nhosts; h++) /* now every host's start */
        hs->start[h + 1] = hs->start[h] + t->local_size_of[h];
    for (int q = 0; q < P; q++)
        hs->member[hs->start[t->host_of[q]] + hs->local[q]] = q;
    return CCL_SUCCESS;
}

/* The rank of host h that relays rank s's message there: the one of s's local index, modulo
 * the host's rank count. */
static int relay_of(const hosts_t *hs, const ccl_topo_t *t, int s, int h)
{
    return hs->member[hs->start[h] + hs->local[s] % t->local_size_of[h]];
}

/* The relayed exchange's sends: this rank's own message to its relay on every other host and
 * to every rank of its host, then each message it relays, as it arrives, to every rank of its
 * host. sends has room for all of them. */
static ccl_result_t relay_sends(ccl_coll_ctx_t *ctx, const hosts_t *hs, uint8_t **slot,
                                const size_t *len, size_t cap, ccl_p2p_req_t *reqs,
                                ccl_p2p_req_t *sends)
{
    const struct ccl_comm *comm = ctx->comm;
    const ccl_topo_t *t = &comm->topo;
    const int P = comm->nranks, r = comm->rank, me = t->host;
    const int *peers = hs->member + hs->start[me];
    int n = 0;
    for (int h = 0; h < t->nhosts; h++)
        if (h != me)
            CCL_CHECK(ccl_p2p_isend_v(ctx, relay_of(hs, t, r, h), (uint32_t)r, slot[r], len[r],
                                      cap, &sends[n++]));
    for (int k = 0; k < P; k++) { /* own first, then the relayed ones */
        const int s = (r + k) % P;
        if (s != r && (t->host_of[s] == me || relay_of(hs, t, s, me) != r))
            continue;
        size_t ls = len[r];
        if (s != r) {
            CCL_CHECK(ccl_p2p_wait(ctx, &reqs[s]));
            ls = reqs[s].len;
        }
        for (int j = 0; j < t->local_size; j++)
            if (peers[j] != r)
                CCL_CHECK(ccl_p2p_isend_v(ctx, peers[j], (uint32_t)s, slot[s], ls, cap,
                                          &sends[n++]));
    }
    return CCL_SUCCESS;
}

ccl_result_t ccl_step_exchange(ccl_coll_ctx_t *ctx, uint8_t ***slot_p, size_t **len_p,
                               int *skip_p, ccl_route_t route)
{
    ccl_comp_step_t *st = ctx->args->step;
    struct ccl_compressor *c = st->comp;
    struct ccl_comm *comm = ctx->comm;
    const ccl_topo_t *topo = &comm->topo;
    const int P = comm->nranks, r = comm->rank;
    size_t cap = CCL_MAX(ccl_codec_max_encoded_size(&st->codec, c->count), (size_t)CCL_SKIP_TOKEN_LEN);
    ccl_p2p_req_t *reqs;
    hosts_t hs = {0};
    int relay = 0, nsend = P;
    ccl_result_t res;
    if (route == CCL_ROUTE_RELAY) {
        CCL_CHECK(hosts_make(comm, &hs, &relay));
        route = relay ? CCL_ROUTE_RELAY : CCL_ROUTE_DIRECT;
    }
    if (relay) { /* own to every other host and every local peer, relayed ones to the peers */
        nsend = topo->nhosts - 1;
        for (int s = 0; s < P; s++)
            if (s == r || (topo->host_of[s] != topo->host && relay_of(&hs, topo, s, topo->host) == r))
                nsend += topo->local_size - 1;
    }
    res = ccl_ctx_reqs(ctx, P + nsend, &reqs);
    if (res == CCL_SUCCESS && cap > SIZE_MAX / (size_t)P / 2)
        res = ccl_set_error(comm, CCL_ERR_INVALID_ARG, "messages too large");
    /* One block of the communicator's scratch: the pointer and length tables, then the
     * slots. */
    size_t tables = (size_t)P * (sizeof(uint8_t *) + sizeof(size_t));
    uint8_t *mem = res == CCL_SUCCESS ? ccl_step_alloc(ctx, tables + (size_t)P * cap) : NULL;
    if (mem == NULL) {
        hosts_free(&hs);
        return res != CCL_SUCCESS ? res : CCL_ERR_NO_MEMORY;
    }
    uint8_t **slot = (uint8_t **)(void *)mem;
    size_t *len = (size_t *)(void *)(slot + P);
    ccl_p2p_req_t *sends = reqs + P;
    for (int i = 0; i < P; i++)
        slot[i] = mem + tables + (size_t)i * cap;
    /* Relayed, rank i's message comes from i itself (on this host, or relayed here by this
     * rank) or from its relay on this host, with i as its id. */
    for (int i = 0; i < P && route != CCL_ROUTE_ROUNDS && res == CCL_SUCCESS; i++) {
        if (i == r)
            continue;
        int from = i;
        if (relay && topo->host_of[i] != topo->host && relay_of(&hs, topo, i, topo->host) != r)
            from = relay_of(&hs, topo, i, topo->host);
        res = ccl_p2p_irecv_v(ctx, from, relay ? (uint32_t)i : 0, slot[i], cap, &reqs[i]);
    }
    if (res == CCL_SUCCESS && !st->local_skip)
        res = st->exec->encode_own(st, r, slot[r], cap, &len[r], skip_p);
    if (res != CCL_SUCCESS) {
        hosts_free(&hs);
        return res;
    }
    *skip_p = st->local_skip;
    if (st->local_skip) {
        memcpy(slot[r], CCL_SKIP_TOKEN, CCL_SKIP_TOKEN_LEN);
        len[r] = CCL_SKIP_TOKEN_LEN;
        st->own_msg = NULL;
    }
    if (ccl_step_tamper != NULL && ctx->faults != NULL)
        ccl_step_tamper(r, slot[r], &len[r], cap); /* the hostile rank's own state is moot */
    if (relay) {
        res = relay_sends(ctx, &hs, slot, len, cap, reqs, sends);
        hosts_free(&hs);
        if (res != CCL_SUCCESS)
            return res;
    }
    for (int t = 1; t < P && !relay; t++) {
        int to = (r + t) % P, from = (r - t + P) % P;
        if (route == CCL_ROUTE_ROUNDS)
            CCL_CHECK(ccl_p2p_irecv_v(ctx, from, 0, slot[from], cap, &reqs[from]));
        CCL_CHECK(ccl_p2p_isend_v(ctx, to, 0, slot[r], len[r], cap, &sends[to]));
        if (route == CCL_ROUTE_ROUNDS) {
            CCL_CHECK(ccl_p2p_wait(ctx, &reqs[from]));
            CCL_CHECK(ccl_p2p_wait(ctx, &sends[to]));
        }
    }
    for (int i = 0; i < P; i++) {
        if (i == r)
            continue;
        if ((res = ccl_p2p_wait(ctx, &reqs[i])) != CCL_SUCCESS)
            return res;
        len[i] = reqs[i].len;
        *skip_p |= ccl_step_is_skip(slot[i], len[i]);
    }
    CCL_CHECK(ccl_p2p_waitall(ctx, sends, nsend));
    *slot_p = slot;
    *len_p = len;
    return CCL_SUCCESS;
}

ccl_result_t ccl_step_exchange_sum(ccl_coll_ctx_t *ctx, float *out, int *skip_p,
                                   ccl_route_t route)
{
    size_t count = ctx->args->count, *len;
    uint8_t **slot;
    CCL_CHECK(ccl_step_exchange(ctx, &slot, &len, skip_p, route));
    if (*skip_p)
        return CCL_SUCCESS;
    CCL_CHECK(ctx->args->step->exec->zero(ctx->args->step, out, count));
    for (int i = 0; i < ctx->comm->nranks; i++)
        CCL_CHECK(ccl_step_decode_from(ctx, i, slot[i], len[i], out, count, 1));
    return CCL_SUCCESS;
}

ccl_result_t ccl_step_allreduce_sparse(ccl_coll_ctx_t *ctx, ccl_route_t route)
{
    const ccl_coll_args_t *a = ctx->args;
    float *out = a->recvbuf;
    int skip;
    CCL_CHECK(ccl_step_exchange_sum(ctx, out, &skip, route));
    return ccl_step_end(ctx, skip, ccl_ef_recon(a->step->comp->ef), out, a->count);
}

ccl_result_t ccl_step_take(ccl_coll_ctx_t *ctx, ccl_p2p_req_t *req, const uint8_t *msg, float *out,
                           size_t count, int accumulate, int *skip)
{
    CCL_CHECK(ccl_p2p_wait(ctx, req));
    if (ccl_step_is_skip(msg, req->len))
        *skip = 1;
    else if (!*skip)
        return ccl_step_decode_from(ctx, req->peer, msg, req->len, out, count, accumulate);
    return CCL_SUCCESS;
}

ccl_result_t ccl_step_decode_from(ccl_coll_ctx_t *ctx, int peer, const uint8_t *buf, size_t len,
                                  float *out, size_t count, int accumulate)
{
    ccl_comp_step_t *st = ctx->args->step;
    ccl_result_t res = st->exec->decode(st, buf, len, out, count, accumulate);
    if (res == CCL_SUCCESS)
        return CCL_SUCCESS;
    if (res != CCL_ERR_INVALID_PAYLOAD)
        return ccl_set_error(ctx->comm, res, "decoding rank %d's payload: %s", peer,
                             ccl_get_last_error(NULL));
    return ccl_set_error(ctx->comm, CCL_ERR_INVALID_PAYLOAD, "rank %d sent a bad payload: %s",
                         peer, ccl_get_last_error(NULL));
}

void ccl_step_prepare(ccl_comp_step_t *st, size_t off, size_t len, int *skip)
{
    struct ccl_compressor *c = st->comp;
    if (st->pending_grad == NULL || st->local_skip)
        return;
    if (ccl_ef_prepare_range(c->ef, &c->codec, st->pending_grad, st->clip_scale, off, len) !=
        CCL_SUCCESS) {
        st->local_skip = 1;
        c->ef->skipped++;
        *skip = 1;
    }
}
