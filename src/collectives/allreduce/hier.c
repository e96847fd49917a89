/* hier.c: the hierarchical allreduce, on a communicator's hierarchy (core/comm.h,
 * ccl_hier_t): reduce-scatter inside the host over its sub-communicator, each shard allreduced
 * across hosts by its owners (exact, or compressed by a compressor of that shard's own, which
 * keeps the shard's error feedback), then allgather inside the host. Only the shards cross
 * the network: each host's link carries 2 (H-1)/H of the buffer once, where a flat ring over
 * all ranks carries 2 (P-1)/P of it. Every phase gives identical bits to the ranks taking part
 * and the allgather copies, so every rank ends with the same result.
 *
 * The buffer goes in chunks (ccl_hier_chunks), each phase a nonblocking call on its
 * sub-communicator, so that one chunk crosses the network while the next is summed in the
 * host and the one before is gathered. A failure in any phase stops every sub-communicator's
 * calls (hier->failed), so that no rank waits on another that has given up. */
#include "collectives/compressed/step.h"
#include "compress/codec.h"
#include "core/reduce.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

extern const ccl_algo_t ccl_allreduce_hier;

/* The call's plan: the buffer in C chunks (ccl_hier_chunks), each cut into S shards; the
 * host's blocks (local rank i's owned shards of a chunk, contiguous) are worked on in place in
 * recvbuf where they tile every chunk evenly, else in a staging buffer of zero-padded blocks.
 * The reduce-scatter reads the input where it lies in the same layout (sendbuf, or the staging
 * buffer), so that an out-of-place call makes no copy of it. */
typedef struct {
    int      C, S, L, i, nown;
    size_t   count, cs, dts;
    int      staged;
    size_t   block0;   /* staged: the elements of every block (chunk 0's, the largest) */
    uint8_t *work;
    const uint8_t *src; /* the input, laid out as work */
} plan_t;

static int first_shard(int i, int S, int L)
{
    return (int)(((long)i * S + L - 1) / L);
}

static size_t chunk_len(const plan_t *p, int c)
{
    size_t off = (size_t)c * p->cs;
    return off >= p->count ? 0 : CCL_MIN(p->cs, p->count - off);
}

/* Elements of a shard of chunk c (the last ones may be shorter or empty). */
static size_t shard_size(const plan_t *p, int c)
{
    return (chunk_len(p, c) + (size_t)p->S - 1) / (size_t)p->S;
}

static size_t shard_len(const plan_t *p, int c, int j)
{
    size_t n = chunk_len(p, c), s = shard_size(p, c), off = (size_t)j * s;
    return off >= n ? 0 : CCL_MIN(s, n - off);
}

/* Elements of one block of chunk c: the most shards a local rank owns. */
static size_t block_len(const plan_t *p, int c)
{
    if (p->staged)
        return p->block0;
    return (size_t)(first_shard(1, p->S, p->L) - first_shard(0, p->S, p->L)) * shard_size(p, c);
}

static size_t chunk_at(const plan_t *p, int c)
{
    return (p->staged ? (size_t)c * (size_t)p->L * p->block0 : (size_t)c * p->cs) * p->dts;
}

static uint8_t *chunk_work(const plan_t *p, int c)
{
    return p->work + chunk_at(p, c);
}

/* Local rank k's part of chunk c, [*off, *off + *len) of the chunk. */
static void block_range(const plan_t *p, int c, int k, size_t *off, size_t *len)
{
    size_t n = chunk_len(p, c), s = shard_size(p, c);
    size_t a = CCL_MIN((size_t)first_shard(k, p->S, p->L) * s, n);
    size_t b = CCL_MIN((size_t)first_shard(k + 1, p->S, p->L) * s, n);
    *off = a;
    *len = b - a;
}

/* Between recvbuf's (or sendbuf's) layout and the padded blocks of the staging buffer. */
static void stage(const plan_t *p, const void *from, void *to, int in)
{
    for (int c = 0; c < p->C; c++)
        for (int k = 0; k < p->L; k++) {
            size_t off, len;
            block_range(p, c, k, &off, &len);
            uint8_t *user = (uint8_t *)(in ? from : to) + ((size_t)c * p->cs + off) * p->dts;
            uint8_t *blk = chunk_work(p, c) + (size_t)k * p->block0 * p->dts;
            if (!in) {
                if (len > 0)
                    memcpy(user, blk, len * p->dts);
                continue;
            }
            if (len > 0)
                memcpy(blk, user, len * p->dts);
            memset(blk + len * p->dts, 0, (p->block0 - len) * p->dts);
        }
}

/* This rank's shard j of chunk c, in its block. */
static uint8_t *shard_at(const plan_t *p, int c, int j, int first)
{
    return chunk_work(p, c) +
           ((size_t)p->i * block_len(p, c) + (size_t)(j - first) * shard_size(p, c)) * p->dts;
}

/* The requests of the sub-communicators' calls in flight. */
typedef struct {
    ccl_request_t *rs, *x, *ag; /* C, C * nown, C */
} reqs_t;

/* After a failure: every sub-communicator's call stops (they see hier->failed) and every
 * request is waited for, so that no call still touches the buffers. The parent fails in
 * ccl_coll_run; the sub-communicators each with the error they met. */
static ccl_result_t fail_all(struct ccl_comm *comm, const plan_t *p, reqs_t *r,
                             ccl_result_t res, const char *phase, struct ccl_comm *sub)
{
    ccl_set_error(comm, res, "hierarchical allreduce, %s: %s", phase, ccl_get_last_error(sub));
    atomic_store(&comm->hier->failed, 1);
    for (int c = 0; c < p->C; c++) {
        (void)ccl_wait(&r->rs[c]);
        for (int k = 0; k < p->nown; k++)
            (void)ccl_wait(&r->x[c * p->nown + k]);
        (void)ccl_wait(&r->ag[c]);
    }
    return res;
}

/* Any rank of the host with the flag set: the flag of all (a max over the host). */
static ccl_result_t host_any(struct ccl_comm *comm, int32_t *flag)
{
    ccl_result_t res = ccl_allreduce(flag, flag, 1, CCL_INT32, CCL_MAX, comm->hier->local);
    if (res != CCL_SUCCESS) {
        ccl_set_error(comm, res, "hierarchical allreduce, agreeing on a skip: %s",
                      ccl_get_last_error(comm->hier->local));
        atomic_store(&comm->hier->failed, 1);
    }
    return res;
}

/* The call on a communicator without a hierarchy (CCLZ_ALGO named hier): the ring. */
static ccl_result_t flat_run(ccl_coll_ctx_t *ctx)
{
    ccl_coll_args_t flat = *ctx->args;
    flat.algo = ccl_algo_find(CCL_COLL_ALLREDUCE, "ring", CCL_CARRY_EXACT);
    ccl_debug("allreduce: hier on a communicator without a hierarchy: ring");
    return ccl_coll_run(ctx->comm, &flat);
}

/* The plan, and where the input lies in its layout. Compressed, *finite tells whether the
 * input is all finite. */
static ccl_result_t plan_make(ccl_coll_ctx_t *ctx, plan_t *p, int32_t *finite)
{
    const ccl_coll_args_t *a = ctx->args;
    struct ccl_comm *comm = ctx->comm;
    const ccl_hier_t *h = comm->hier;
    *p = (plan_t){.S = h->nshards, .L = comm->topo.local_size, .i = comm->topo.local_rank,
                  .nown = h->end - h->first, .count = a->count, .dts = a->dt_size};
    p->C = ccl_hier_chunks(a->count, p->S, a->step != NULL);
    p->cs = (a->count + (size_t)p->C - 1) / (size_t)p->C;
    p->staged = a->count % (size_t)p->C != 0 || p->cs % (size_t)p->S != 0 || p->S % p->L != 0;
    const int check = a->step != NULL;
    *finite = 1;
    if (!p->staged) {
        p->work = a->recvbuf;
        p->src = a->sendbuf;
        if (check)
            *finite = ccl_all_finite(a->sendbuf, a->count);
        return CCL_SUCCESS;
    }
    if (check)
        *finite = ccl_all_finite(a->sendbuf, a->count);
    for (int k = 0; k < p->L; k++)
        p->block0 = CCL_MAX(p->block0, (size_t)(first_shard(k + 1, p->S, p->L) -
                                                first_shard(k, p->S, p->L)) *
                                           shard_size(p, 0));
    size_t bytes = (size_t)p->C * (size_t)p->L * p->block0 * p->dts;
    p->work = ccl_comm_vectors(comm, bytes);
    if (p->work == NULL && bytes > 0) {
        atomic_store(&comm->hier->failed, 1); /* the host's others must not wait for us */
        return ccl_set_error(comm, CCL_ERR_NO_MEMORY, "hierarchical allreduce: no memory for "
                             "%zu bytes of staging", bytes);
    }
    stage(p, a->sendbuf, NULL, 1);
    p->src = p->work;
    return CCL_SUCCESS;
}

static ccl_result_t hier_run(ccl_coll_ctx_t *ctx)
{
    const ccl_coll_args_t *a = ctx->args;
    struct ccl_comm *comm = ctx->comm;
    ccl_hier_t *h = comm->hier;
    if (h == NULL)
        return flat_run(ctx);
    const ccl_redop_t op = a->op == CCL_AVG ? CCL_SUM : a->op;
    const int compressed = a->step != NULL;
    struct ccl_compressor *comp = compressed ? a->step->comp : NULL;
    /* A compressed call's vectors are float32 whatever the caller's type (run.c converts). */
    const ccl_datatype_t dt = compressed ? CCL_FLOAT32 : a->dtype;
    int32_t poisoned = 0, skip = 0;
    plan_t p;
    ccl_result_t res;

    /* Compressed: a NaN or Inf anywhere on the host skips the step on every rank. The host
     * agrees first; then every owner on it poisons its shards, so every shard's call skips
     * on every host and no shard's state moves. */
    int32_t finite;
    CCL_CHECK(plan_make(ctx, &p, &finite));
    if (compressed) {
        poisoned = !finite;
        CCL_CHECK(host_any(comm, &poisoned));
    }
    reqs_t r = {calloc((size_t)p.C, sizeof(ccl_request_t)),
                calloc((size_t)p.C * (size_t)CCL_MAX(p.nown, 1), sizeof(ccl_request_t)),
                calloc((size_t)p.C, sizeof(ccl_request_t))};
    if (r.rs == NULL || r.x == NULL || r.ag == NULL) {
        atomic_store(&h->failed, 1);
        res = ccl_set_error(comm, CCL_ERR_NO_MEMORY, "hierarchical allreduce: no memory");
        goto out;
    }
    /* Inside the host, every chunk: local rank i ends with the host's sum of its block. */
    for (int c = 0; c < p.C && !poisoned; c++) {
        size_t b = block_len(&p, c);
        uint8_t *w = chunk_work(&p, c);
        res = ccl_ireduce_scatter(p.src + chunk_at(&p, c), w + (size_t)p.i * b * p.dts, b, dt,
                                  op, h->local, &r.rs[c]);
        if (res != CCL_SUCCESS) {
            res = fail_all(comm, &p, &r, res, "reduce-scatter inside the host", h->local);
            goto out;
        }
    }
    /* Across hosts, each chunk's shards as soon as the host has summed them. */
    for (int c = 0; c < p.C; c++) {
        if ((res = ccl_wait(&r.rs[c])) != CCL_SUCCESS) {
            res = fail_all(comm, &p, &r, res, "reduce-scatter inside the host", h->local);
            goto out;
        }
        for (int j = h->first; j < h->end; j++) {
            const int k = j - h->first;
            const size_t len = shard_len(&p, c, j);
            uint8_t *sh = shard_at(&p, c, j, h->first);
            ccl_request_t *q = &r.x[c * p.nown + k];
            if (len == 0)
                continue;
            if (compressed && poisoned)
                ((float *)sh)[0] = NAN;
            res = compressed
                      ? ccl_iallreduce_compressed(sh, sh, len, CCL_FLOAT32, CCL_SUM,
                                                  comp->shard_comp[c * p.nown + k], h->cross[k],
                                                  q)
                      : ccl_iallreduce(sh, sh, len, dt, op, h->cross[k], q);
            if (res != CCL_SUCCESS) {
                res = fail_all(comm, &p, &r, res, "across hosts", h->cross[k]);
                goto out;
            }
        }
    }
    /* Inside the host again, each chunk once its shards are back. */
    for (int c = 0; c < p.C; c++) {
        for (int k = 0; k < p.nown; k++) {
            res = ccl_wait(&r.x[c * p.nown + k]);
            if (compressed && res == CCL_ERR_INVALID_ARG && h->cross[k]->failed == CCL_SUCCESS) {
                skip = 1; /* that shard's step skipped on every owner, its state kept */
            } else if (res != CCL_SUCCESS) {
                res = fail_all(comm, &p, &r, res, "across hosts", h->cross[k]);
                goto out;
            }
        }
        if (poisoned)
            continue;
        size_t b = block_len(&p, c);
        uint8_t *w = chunk_work(&p, c);
        res = ccl_iallgather(w + (size_t)p.i * b * p.dts, w, b, dt, h->local, &r.ag[c]);
        if (res != CCL_SUCCESS) {
            res = fail_all(comm, &p, &r, res, "allgather inside the host", h->local);
            goto out;
        }
    }
    for (int c = 0; c < p.C; c++)
        if ((res = ccl_wait(&r.ag[c])) != CCL_SUCCESS) {
            res = fail_all(comm, &p, &r, res, "allgather inside the host", h->local);
            goto out;
        }
    if (compressed) {
        /* A shard that skipped alone (its sum overflowed): every host owns it, so the host's
         * ranks learn it here. */
        skip |= poisoned;
        if ((res = host_any(comm, &skip)) != CCL_SUCCESS)
            goto out;
        if (skip) {
            ctx->keep_comm = 1;
            res = ccl_set_error(comm, CCL_ERR_INVALID_ARG,
                                "allreduce: a gradient holds NaN or Inf (or a shard's sum "
                                "overflowed); the step is skipped on every rank");
            goto out;
        }
    }
    if (p.staged)
        stage(&p, NULL, a->recvbuf, 0);
    if (a->op == CCL_AVG)
        ccl_reduce_scale_avg(a->recvbuf, a->count, dt, comm->nranks);
    res = CCL_SUCCESS;
out:
    free(r.rs);
    free(r.x);
    free(r.ag);
    return res;
}

/* The host's link is shared by its shards' calls: each gets 1/L of it. */
static double hier_estimate(const ccl_coll_args_t *a, const ccl_tuning_t *t, int nranks)
{
    (void)nranks;
    if (t->hier_hosts < 2 || t->hier_local < 2)
        return INFINITY; /* no hierarchy here */
    const int L = t->hier_local, H = t->hier_hosts;
    const double n = (double)(a->count * (a->codec != NULL ? sizeof(float) : a->dt_size));
    double local = 2.0 * (L - 1) * (t->alpha_us + n / L * t->beta_local_us_per_byte) +
                   (L - 1) * n / L * t->reduce_us_per_byte;
    ccl_tuning_t x = *t;
    x.hier_hosts = 0;
    x.beta_us_per_byte = t->beta_us_per_byte * L;
    ccl_coll_args_t shard = *a;
    shard.count = (a->count + (size_t)L - 1) / (size_t)L;
    double cross = -1;
    const ccl_algo_t *al;
    if (a->codec != NULL)
        al = ccl_comp_select_algo(CCL_COLL_ALLREDUCE, a->codec, shard.count, &x, H, &cross);
    else
        al = ccl_algo_select(&shard, CCL_CARRY_EXACT, &x, H, &cross);
    if (cross < 0 && al != NULL && al != &ccl_allreduce_hier && al->estimate_us != NULL)
        cross = al->estimate_us(&shard, &x, H); /* CCLZ_ALGO named it */
    if (cross < 0 || !isfinite(cross))
        return INFINITY; /* nothing to compare with: named only */
    return local + cross;
}

const ccl_algo_t ccl_allreduce_hier = {
    .name        = "hier",
    .desc        = "hierarchical: reduce-scatter inside each host, each shard allreduced "
                   "across hosts by its owners (compressed there, with the shard's own error "
                   "feedback), allgather inside the host; on communicators spanning hosts of "
                   "several ranks (sparse codecs: named only)",
    .coll        = CCL_COLL_ALLREDUCE,
    .carries     = CCL_CARRY_EXACT | CCL_CARRY_DENSE | CCL_CARRY_SPARSE,
    .default_for = CCL_CARRY_EXACT | CCL_CARRY_DENSE,
    .flags       = CCL_ALGO_NESTED | CCL_ALGO_SHARDS,
    .run         = hier_run,
    .estimate_us = hier_estimate,
};
