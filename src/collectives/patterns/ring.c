/* ring.c: the pipelined ring engine (reduce-scatter and allgather steps, chunk by chunk) and
 * the binomial tree arithmetic. */
#include "collectives/patterns/patterns.h"
#include "base/env_config.h"
#include "core/reduce.h"

#include <string.h>

#define RING_RECV_WINDOW 16

int ccl_binomial_tree(int rank, int root, int nranks, int *parent_p, int *children)
{
    int vr = ccl_mod(rank - root, nranks), mask = 1, n = 0;
    *parent_p = -1;
    while (mask < nranks) {
        if (vr & mask) {
            *parent_p = ccl_mod(vr - mask + root, nranks);
            break;
        }
        mask <<= 1;
    }
    for (mask >>= 1; mask > 0; mask >>= 1)
        if (vr + mask < nranks)
            children[n++] = ccl_mod(vr + mask + root, nranks);
    return n;
}

typedef struct {
    const ccl_ring_desc_t *d;
    int    rank, nranks;
    size_t dts;
    size_t chunk_elems;
    int    nchunks;
} ring_t;

static size_t ring_seg_off(const ring_t *g, int s)
{
    return g->d->seg_count ? (size_t)s * g->d->seg_count
                           : ccl_seg_off(g->d->total_count, g->nranks, s);
}
static size_t ring_seg_len(const ring_t *g, int s)
{
    return g->d->seg_count ? g->d->seg_count : ccl_seg_len(g->d->total_count, g->nranks, s);
}

/* Chunk c of segment s, as an element range. */
static void ring_chunk(const ring_t *g, int s, int c, size_t *off, size_t *len)
{
    size_t sl = ring_seg_len(g, s), lo = (size_t)c * g->chunk_elems;
    lo = CCL_MIN(lo, sl);
    *off = ring_seg_off(g, s) + lo;
    *len = CCL_MIN(g->chunk_elems, sl - lo);
}

static int ring_send_seg(const ring_t *g, int t)
{
    return ccl_mod(g->rank - t + g->d->shift, g->nranks);
}
static int ring_recv_seg(const ring_t *g, int t)
{
    return ccl_mod(g->rank - t - 1 + g->d->shift, g->nranks);
}

static ccl_result_t ring_send(ccl_coll_ctx_t *ctx, const ring_t *g, int t, int c,
                              ccl_p2p_req_t *req)
{
    size_t off, len;
    int right = ccl_mod(g->rank + 1, g->nranks);
    ring_chunk(g, ring_send_seg(g, t), c, &off, &len);
    /* Before any reduction the data to pass on is this rank's own input. */
    const uint8_t *src = (t == 0 && g->d->nreduce_steps > 0) ? g->d->input : g->d->work;
    return ccl_p2p_isend(ctx, right, (uint32_t)(t * g->nchunks + c), src + off * g->dts,
                         len * g->dts, req);
}

/* Posts the receive with global index i = t*nchunks + c into window slot i % W. */
static ccl_result_t ring_post_recv(ccl_coll_ctx_t *ctx, const ring_t *g, int i,
                                   ccl_p2p_req_t *rreqs, uint8_t *tmp)
{
    int t = i / g->nchunks, c = i % g->nchunks, slot = i % RING_RECV_WINDOW;
    int left = ccl_mod(g->rank - 1, g->nranks);
    size_t off, len;
    void *dst;
    ring_chunk(g, ring_recv_seg(g, t), c, &off, &len);
    dst = t < g->d->nreduce_steps ? tmp + (size_t)slot * g->chunk_elems * g->dts
                                  : (uint8_t *)g->d->work + off * g->dts;
    return ccl_p2p_irecv(ctx, left, (uint32_t)i, dst, len * g->dts, &rreqs[slot]);
}

ccl_result_t ccl_ring_run(ccl_coll_ctx_t *ctx, const ccl_ring_desc_t *d)
{
    const ccl_coll_args_t *a = ctx->args;
    struct ccl_comm *comm = ctx->comm;
    ring_t g = {.d = d, .rank = comm->rank, .nranks = comm->nranks, .dts = a->dt_size};
    size_t max_seg = d->seg_count ? d->seg_count : ccl_seg_len(d->total_count, g.nranks, 0);
    size_t chunk_bytes = ccl_config_get()->chunk_size;
    ccl_p2p_req_t *reqs, *sreqs, *rreqs;
    uint8_t *tmp = NULL;
    int nrecv, posted;

    /* Chunks of whole elements; enough of them to pipeline, few enough for the tag's id. */
    g.chunk_elems = CCL_MAX((size_t)1, chunk_bytes / g.dts);
    size_t nchunks = CCL_MAX((size_t)1, (max_seg + g.chunk_elems - 1) / g.chunk_elems);
    if (nchunks > CCL_TAG_MAX_ID / (unsigned)d->nsteps) { /* counted in size_t: no wrap */
        nchunks = CCL_TAG_MAX_ID / (unsigned)d->nsteps;
        g.chunk_elems = (max_seg + nchunks - 1) / nchunks;
    }
    g.nchunks = (int)nchunks;
    if (g.chunk_elems > SIZE_MAX / g.dts / RING_RECV_WINDOW)
        return ccl_set_error(comm, CCL_ERR_NO_MEMORY, "no memory for ring buffers of %zu "
                             "elements", g.chunk_elems);
    nrecv = d->nsteps * g.nchunks;

    if (d->nreduce_steps > 0) {
        tmp = ccl_comm_scratch(comm, (size_t)RING_RECV_WINDOW * g.chunk_elems * g.dts);
        if (tmp == NULL)
            return ccl_set_error(comm, CCL_ERR_NO_MEMORY, "no memory for ring buffers");
    }
    CCL_CHECK(ccl_ctx_reqs(ctx, nrecv + RING_RECV_WINDOW, &reqs));
    sreqs = reqs;
    rreqs = reqs + nrecv;

    for (posted = 0; posted < CCL_MIN(nrecv, RING_RECV_WINDOW); posted++)
        CCL_CHECK(ring_post_recv(ctx, &g, posted, rreqs, tmp));
    for (int c = 0; c < g.nchunks; c++)
        CCL_CHECK(ring_send(ctx, &g, 0, c, &sreqs[c]));

    for (int i = 0; i < nrecv; i++) {
        int t = i / g.nchunks, c = i % g.nchunks, slot = i % RING_RECV_WINDOW;
        CCL_CHECK(ccl_p2p_wait(ctx, &rreqs[slot]));
        if (t < d->nreduce_steps) {
            size_t off, len;
            ring_chunk(&g, ring_recv_seg(&g, t), c, &off, &len);
            uint8_t *w = (uint8_t *)d->work + off * g.dts;
            ccl_reduce(w, (const uint8_t *)d->input + off * g.dts,
                       tmp + (size_t)slot * g.chunk_elems * g.dts, len, a->dtype, a->op);
            /* The last reduce step completes this rank's own segment: average it once,
             * here, so every rank later copies the same bits. */
            if (d->avg && t == d->nreduce_steps - 1)
                ccl_reduce_scale_avg(w, len, a->dtype, g.nranks);
        }
        if (posted < nrecv) {
            CCL_CHECK(ring_post_recv(ctx, &g, posted, rreqs, tmp));
            posted++;
        }
        if (t + 1 < d->nsteps)
            CCL_CHECK(ring_send(ctx, &g, t + 1, c, &sreqs[(t + 1) * g.nchunks + c]));
    }
    return ccl_p2p_waitall(ctx, sreqs, nrecv);
}
