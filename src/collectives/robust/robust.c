/* robust.c: ccl_allreduce_robust: every rank's vector straight to every other rank (exact, or
 * encoded by its sender's compressor), each received vector checked, those that fail counted
 * among the f faulty, then the rule (rules.c) over the rest. */
#include "collectives/robust/rules.h"
#include "collectives/compressed/run.h"
#include "collectives/compressed/step.h"
#include "collectives/request.h"
#include "compress/codec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The vectors of the call, one row of count floats per rank, in the communicator's vector
 * buffer (kept across calls: a fresh one would be page-faulted in on every call). */
static float *robust_rows(ccl_coll_ctx_t *ctx)
{
    const size_t d = ctx->args->count, P = (size_t)ctx->comm->nranks;
    float *rows = ccl_comm_vectors(ctx->comm, CCL_MAX(P * d, (size_t)1) * sizeof(float));
    if (rows == NULL)
        ccl_set_error(ctx->comm, CCL_ERR_NO_MEMORY, "no memory for %zu vectors of %zu floats", P, d);
    return rows;
}

/* Exact vectors: this rank's row is its own copy (so that sendbuf may be recvbuf), sent to
 * every peer; each peer's row is received as it came, refused messages marked. */
static ccl_result_t exchange_exact(ccl_coll_ctx_t *ctx, float *rows)
{
    const ccl_coll_args_t *a = ctx->args;
    const int P = ctx->comm->nranks, r = ctx->comm->rank;
    const size_t d = a->count, bytes = d * sizeof(float);
    float *own = rows + (size_t)r * d;
    size_t len = bytes;
    ccl_p2p_req_t *reqs;
    CCL_CHECK(ccl_ctx_reqs(ctx, 2 * P, &reqs));
    if (bytes > 0)
        memcpy(own, a->sendbuf, bytes);
    if (ccl_step_tamper != NULL)
        ccl_step_tamper(r, (uint8_t *)own, &len, bytes);
    /* Round t: to rank + t, from rank - t. One flow into each rank at a time: all at once,
     * every link's receiver takes nranks - 1 flows and TCP shares the link worse (8 hosts at
     * 1 Gbit/s: 9.2 s all at once against 6.1 s for the ring allgather). */
    for (int t = 1; t < P; t++) {
        int to = (r + t) % P, from = (r - t + P) % P;
        CCL_CHECK(ccl_p2p_irecv(ctx, from, 0, rows + (size_t)from * d, bytes, &reqs[from]));
        CCL_CHECK(ccl_p2p_isend(ctx, to, 0, own, len, &reqs[P + to]));
        CCL_CHECK(ccl_p2p_wait(ctx, &reqs[from]));
        CCL_CHECK(ccl_p2p_wait(ctx, &reqs[P + to]));
    }
    ctx->keep_comm = 1; /* every message of the call is done: what fails now is this rank's */
    if (len != bytes) /* a test's hostile rank: its own row is what it meant to send */
        memcpy(own, a->sendbuf, bytes);
    return CCL_SUCCESS;
}

/* Encoded vectors: every rank's encoding decoded into its row, the own one too, so that every
 * rank combines the same values. A payload the decoder refuses, or a peer that skipped the
 * step (its gradient not finite), is a fault; this rank's own skip is *own_skip. */
static ccl_result_t exchange_encoded(ccl_coll_ctx_t *ctx, float *rows, int *own_skip)
{
    ccl_comp_step_t *st = ctx->args->step;
    const int P = ctx->comm->nranks, r = ctx->comm->rank;
    const size_t d = ctx->args->count;
    uint8_t **slot;
    size_t *len;
    int any_skip;
    CCL_CHECK(ccl_step_exchange(ctx, &slot, &len, &any_skip, CCL_ROUTE_ROUNDS));
    ctx->keep_comm = 1; /* every message of the call is done: what fails now is this rank's */
    *own_skip = st->local_skip;
    for (int i = 0; i < P; i++) {
        if (ctx->faults[i] != CCL_FAULT_NONE || (i == r && st->local_skip))
            continue;
        if (ccl_step_is_skip(slot[i], len[i])) {
            ctx->faults[i] = CCL_FAULT_NONFINITE;
            continue;
        }
        ccl_result_t res = st->exec->decode(st, slot[i], len[i], rows + (size_t)i * d, d, 0);
        if (res != CCL_SUCCESS && res != CCL_ERR_NO_MEMORY && i != r) {
            ccl_warn("rank %d: rank %d sent a payload the decoder refuses (%s); it counts as "
                     "faulty for this call", ctx->comm->rank, i, ccl_get_last_error(NULL));
            ctx->faults[i] = CCL_FAULT_PAYLOAD;
        } else if (res != CCL_SUCCESS) {
            return ccl_set_error(ctx->comm, res, "decoding rank %d's vector: %s", i,
                                 ccl_get_last_error(NULL));
        }
    }
    return CCL_SUCCESS;
}

static ccl_result_t robust_direct_run(ccl_coll_ctx_t *ctx)
{
    const ccl_coll_args_t *a = ctx->args;
    const ccl_robust_params_t *p = a->algo_arg;
    struct ccl_comm *comm = ctx->comm;
    const int P = comm->nranks, r = comm->rank;
    const size_t d = a->count;
    uint8_t faults[P];
    int own_skip = 0, m = 0, bad = 0, pivot = 0;
    const float *v[P];
    float *rows = robust_rows(ctx);
    if (rows == NULL)
        return CCL_ERR_NO_MEMORY;
    memset(faults, 0, sizeof(faults));
    ctx->faults = faults;
    ccl_result_t res = a->step != NULL ? exchange_encoded(ctx, rows, &own_skip)
                                       : exchange_exact(ctx, rows);
    ctx->faults = NULL;
    if (res != CCL_SUCCESS)
        return res;
    for (int i = 0; i < P; i++) {
        const float *row = rows + (size_t)i * d;
        if (i == r && (own_skip || !ccl_all_finite(row, d)))
            own_skip = 1;
        else if (faults[i] == CCL_FAULT_NONE && !ccl_all_finite(row, d))
            faults[i] = CCL_FAULT_NONFINITE;
        if (i != r && faults[i] != CCL_FAULT_NONE) {
            bad++;
            continue;
        }
        if (i == r)
            pivot = m;
        if (!(i == r && own_skip))
            v[m++] = row;
    }
    if (p->faults != NULL)
        memcpy(p->faults, faults, sizeof(faults));
    /* The peers committed this step (they took this rank's message, or its skip token): so
     * does this rank, whatever it returns, or its step count (seeds, DGC's warm-up) would
     * fall behind theirs. Its own vector not encoded: the state kept, the step counted. */
    if (a->step != NULL && a->step->local_skip)
        ccl_ef_skip_step(a->step->comp->ef);
    else if (a->step != NULL)
        CCL_CHECK(ccl_step_finish(ctx, ccl_ef_recon(a->step->comp->ef), a->recvbuf, d));
    if (own_skip) {
        if (a->step != NULL && !a->step->local_skip)
            a->step->comp->ef->skipped++;
        return ccl_set_error(comm, CCL_ERR_INVALID_ARG,
                             "allreduce_robust call #%u: this rank's vector holds NaN or Inf; "
                             "it was sent, its peers drop it%s", ctx->seq,
                             a->step != NULL ? ", and the error-feedback state is kept" : "");
    }
    if (bad > p->f) {
        char who[256] = "";
        for (int i = 0, o = 0; i < P && o < (int)sizeof(who) - 8; i++)
            if (faults[i] != CCL_FAULT_NONE)
                o += snprintf(who + o, sizeof(who) - (size_t)o, "%s%d", o ? "," : "", i);
        return ccl_set_error(comm, CCL_ERR_INVALID_PAYLOAD,
                             "allreduce_robust call #%u: %d ranks (%s) sent vectors that failed "
                             "their checks, more than f = %d", ctx->seq, bad, who, p->f);
    }
    res = ccl_robust_aggregate(p, v, m, p->f - bad, pivot, d, a->recvbuf);
    if (res != CCL_SUCCESS)
        return ccl_set_error(comm, res, "allreduce_robust: the rule failed: %s",
                             ccl_get_error_string(res));
    return CCL_SUCCESS;
}

const ccl_algo_t ccl_robust_direct = {
    .name        = "direct",
    .desc        = "every rank's vector (exact or encoded) straight to every rank, checked, then "
                   "the robust rule",
    .coll        = CCL_COLL_ALLREDUCE_ROBUST,
    .carries     = CCL_CARRY_EXACT | CCL_CARRY_DENSE | CCL_CARRY_SPARSE,
    .default_for = CCL_CARRY_EXACT | CCL_CARRY_DENSE | CCL_CARRY_SPARSE,
    .flags       = CCL_ALGO_TOLERANT,
    .run         = robust_direct_run,
};

const ccl_algo_t *const ccl_allreduce_robust_algos[] = {&ccl_robust_direct, NULL};

/* What every rank must agree on, beside the count and the compressor's spec. */
static uint64_t params_sig(const ccl_robust_params_t *p)
{
    uint32_t nu, tau;
    memcpy(&nu, &p->nu, sizeof(nu));
    memcpy(&tau, &p->tau, sizeof(tau));
    const uint64_t w[6] = {(uint64_t)p->rule, (uint64_t)p->f, p->pre, (uint64_t)p->multi_k,
                           (uint64_t)p->iters, (uint64_t)nu << 32 | tau};
    return ccl_hash64(w, sizeof(w), 0x726f62757374ULL);
}

/* Compressors a robust call can take: each sender's own scales and seeds, a vector each. */
static ccl_result_t check_compressor(ccl_comm_t comm, const ccl_call_t *call)
{
    ccl_compressor_t c = call->comp;
    CCL_CHECK(ccl_comp_check_call(c, comm, call->sendbuf, call->recvbuf, call->count,
                                  call->dtype));
    if (c->kind == CCL_COMP_AUTO)
        return ccl_set_error(comm, CCL_ERR_INVALID_ARG, "\"auto\" picks between an allreduce "
                             "and its compression; a robust call takes a codec spec or \"none\"");
    if (c->kind == CCL_COMP_LOWRANK)
        return ccl_set_error(comm, CCL_ERR_INVALID_ARG, "powersgd's factors are summed across "
                             "ranks; a robust call needs every rank's vector on its own");
    if (c->kind != CCL_COMP_STREAM)
        return CCL_SUCCESS;
    if (c->ef_mode == CCL_EF_EF21 || c->ef_mode == CCL_EF_EF21W)
        return ccl_set_error(comm, CCL_ERR_INVALID_ARG, "EF21 aggregates a sum; a robust call "
                             "takes ef=none or ef=classic");
    if (c->codec.ops->flags & CCL_CODEC_SHARED_SCALE)
        return ccl_set_error(comm, CCL_ERR_INVALID_ARG, "%s encodes with a scale agreed across "
                             "ranks, which one faulty rank could set for all; a robust call "
                             "takes codecs whose senders scale their own vectors", c->spec);
    if (ccl_comp_carries(&c->codec) & CCL_CARRY_SIGN)
        return ccl_set_error(comm, CCL_ERR_INVALID_ARG, "sign:scale=none sends votes, not "
                             "vectors; a robust call takes sign with a scale");
    return CCL_SUCCESS;
}

ccl_result_t ccl_run_allreduce_robust(const ccl_call_t *c, int check_only)
{
    ccl_comm_t comm = c->comm;
    ccl_compressor_t comp = c->comp;
    ccl_robust_params_t p;
    char why[CCL_ERRSTR_LEN];
    if (comm == NULL)
        return ccl_set_error(NULL, CCL_ERR_INVALID_ARG, "comm is NULL");
    if (ccl_robust_resolve(&c->robust, comm->nranks, &p, why) != CCL_SUCCESS)
        return ccl_set_error(comm, CCL_ERR_INVALID_ARG, "allreduce_robust: %s", why);
    if (c->dtype != CCL_FLOAT32)
        return ccl_set_error(comm, CCL_ERR_INVALID_ARG, "allreduce_robust takes float32 vectors, "
                             "not datatype %d", (int)c->dtype);
    if (c->count > (size_t)PTRDIFF_MAX / sizeof(float) / (size_t)comm->nranks)
        return ccl_set_error(comm, CCL_ERR_INVALID_ARG, "count %zu overflows %d ranks' vectors",
                             c->count, comm->nranks);
    if (c->count > 0 && (c->sendbuf == NULL || c->recvbuf == NULL))
        return ccl_set_error(comm, CCL_ERR_INVALID_ARG, "%s is NULL with count %zu",
                             c->sendbuf == NULL ? "sendbuf" : "recvbuf", c->count);
    if (comp != NULL)
        CCL_CHECK(check_compressor(comm, c));
    if (check_only)
        return CCL_SUCCESS;
    if (comp != NULL && comp->kind == CCL_COMP_STREAM)
        return ccl_comp_run_with(comp, comm, CCL_COLL_ALLREDUCE_ROBUST, c->sendbuf, c->recvbuf,
                                 c->count, CCL_SUM, &ccl_robust_direct, &p, params_sig(&p));
    ccl_coll_args_t a = {.coll = CCL_COLL_ALLREDUCE_ROBUST, .sendbuf = c->sendbuf,
                         .recvbuf = c->recvbuf, .count = c->count, .dtype = CCL_FLOAT32,
                         .op = CCL_SUM, .dt_size = sizeof(float), .algo = &ccl_robust_direct,
                         .algo_arg = &p, .sig_extra = params_sig(&p)};
    return ccl_coll_run(comm, &a);
}

ccl_result_t ccl_allreduce_robust(const void *sendbuf, void *recvbuf, size_t count,
                                  ccl_datatype_t dtype, const ccl_robust_params_t *params,
                                  ccl_compressor_t comp, ccl_comm_t comm)
{
    ccl_call_t c = {.kind = CCL_CALL_ALLREDUCE_ROBUST, .comm = comm, .sendbuf = sendbuf,
                    .recvbuf = recvbuf, .count = count, .dtype = dtype, .comp = comp};
    if (params == NULL)
        return ccl_set_error(comm, CCL_ERR_INVALID_ARG, "allreduce_robust: params is NULL");
    c.robust = *params;
    return ccl_call_blocking(&c);
}

ccl_result_t ccl_iallreduce_robust(const void *sendbuf, void *recvbuf, size_t count,
                                   ccl_datatype_t dtype, const ccl_robust_params_t *params,
                                   ccl_compressor_t comp, ccl_comm_t comm,
                                   ccl_request_t *req_p)
{
    ccl_call_t c = {.kind = CCL_CALL_ALLREDUCE_ROBUST, .comm = comm, .sendbuf = sendbuf,
                    .recvbuf = recvbuf, .count = count, .dtype = dtype, .comp = comp};
    if (params == NULL)
        return ccl_set_error(comm, CCL_ERR_INVALID_ARG, "allreduce_robust: params is NULL");
    c.robust = *params;
    return ccl_call_issue(&c, req_p);
}
