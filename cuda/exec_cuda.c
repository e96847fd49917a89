/* exec_cuda.c: compressed allreduce and allgather on device buffers (exec_cuda.h). The error-feedback state
 * moves to the GPU on the first such call and stays there; any host function that reads it
 * (a checkpoint, a host call) brings it back first (compress/ef.h's hooks). */
#include "exec_cuda.h"
#include "gpu_codec.h"
#include "gpu_mem.h"
#include "ef_kernels.h"
#include "base/env_config.h"

#include <cuda_runtime.h>
#include <stdlib.h>

/* The device copies of an ccl_ef_t's vectors (NULL where the mode has none). */
typedef struct {
    float *residual, *velocity, *global, *p, *recon, *u;
} gpu_ef_t;

static void ef_gpu_free(ccl_ef_t *ef)
{
    gpu_ef_t *g = ef->gpu;
    float *v[6] = {g->residual, g->velocity, g->global, g->p, g->recon, g->u};
    for (int i = 0; i < 6; i++)
        cudaFree(v[i]);
    free(g);
    ef->gpu = NULL;
    ef->on_gpu = 0;
}

/* The persistent vectors, device and host, in pairs. */
static int ef_pairs(ccl_ef_t *ef, float **dev[3], float **host[3])
{
    gpu_ef_t *g = ef->gpu;
    int n = 0;
    dev[n] = &g->residual, host[n++] = &ef->residual;
    if (ef->velocity)
        dev[n] = &g->velocity, host[n++] = &ef->velocity;
    if (ef->global)
        dev[n] = &g->global, host[n++] = &ef->global;
    return n;
}

static void ef_to_host(ccl_ef_t *ef)
{
    float **dev[3], **host[3];
    int n = ef_pairs(ef, dev, host);
    for (int i = 0; i < n; i++)
        cudaMemcpy(*host[i], *dev[i], ef->count * sizeof(float), cudaMemcpyDeviceToHost);
    ef->on_gpu = 0;
}

/* The state on the GPU, current there. */
static ccl_result_t ef_to_device(ccl_ef_t *ef, cudaStream_t s)
{
    const size_t bytes = (ef->count ? ef->count : 1) * sizeof(float);
    float **dev[3], **host[3];
    int e = 0;
    if (ef->gpu == NULL) {
        gpu_ef_t *g = calloc(1, sizeof(*g));
        if (g == NULL)
            return ccl_set_error(NULL, CCL_ERR_NO_MEMORY, "no memory");
        ef->gpu = g;
        ef->gpu_free = ef_gpu_free;
        ef->to_host = ef_to_host;
        e = (int)cudaMalloc((void **)&g->residual, bytes);
        if (!e && ef->velocity)
            e = (int)cudaMalloc((void **)&g->velocity, bytes);
        if (!e && ef->global)
            e = (int)cudaMalloc((void **)&g->global, bytes);
        if (!e && ef->p)
            e = (int)cudaMalloc((void **)&g->p, bytes);
        if (!e && ef->recon)
            e = (int)cudaMalloc((void **)&g->recon, bytes);
        if (!e && ef->u)
            e = (int)cudaMalloc((void **)&g->u, bytes);
        if (e) {
            ef_gpu_free(ef);
            return ccl_gpu_fail(e, "error-feedback state on the GPU");
        }
    }
    if (!ef->on_gpu) {
        int n = ef_pairs(ef, dev, host);
        for (int i = 0; i < n && !e; i++)
            e = (int)cudaMemcpyAsync(*dev[i], *host[i], ef->count * sizeof(float),
                                     cudaMemcpyHostToDevice, s);
        if (e)
            return ccl_gpu_fail(e, "error-feedback state to the GPU");
        ef->on_gpu = 1;
    }
    return CCL_SUCCESS;
}

static void swap_bufs(float **a, float **b)
{
    float *t = *a;
    *a = *b;
    *b = t;
}

/* ccl_ef_prepare on the GPU: the same rules, the same refusal of a non-finite gradient. */
static ccl_result_t ef_prepare(ccl_ef_t *ef, const ccl_codec_t *codec, const float *g,
                               const float **p_p, ccl_codec_t *eff, cudaStream_t s)
{
    const ccl_dgc_params_t *d = &codec->params.dgc;
    float clip_scale = 1.0f;
    int e = 0, bad = 0, *dbad = NULL;
    /* This step's codec also for a refused step, as on the host (ccl_ef_prepare). */
    ccl_ef_step_codec(ef, codec, eff);
    CCL_CHECK(ef_to_device(ef, s));
    gpu_ef_t *gs = ef->gpu;
    if ((e = ccl_gpu_alloc_async((void **)&dbad, sizeof(double) + sizeof(int), s)) != 0)
        return ccl_gpu_fail(e, "gpu prepare");
    double *sumsq = (double *)(void *)dbad, sq = 0;
    int *flag = (int *)(sumsq + 1);
    e = (int)cudaMemsetAsync(flag, 0, sizeof(int), s);
    if (!e && ef->mode == CCL_EF_DGC && d->clip > 0) {
        e = ccl_cuda_sumsq(g, ef->count, sumsq, s);
        e = e ? e : (int)cudaMemcpyAsync(&sq, sumsq, sizeof(sq), cudaMemcpyDeviceToHost, s);
        e = e ? e : (int)cudaStreamSynchronize(s);
        clip_scale = e ? 1.0f : ccl_dgc_clip_scale(sq, d->clip, ef->nranks);
    }
    e = e ? e : ccl_cuda_ef_prepare((int)ef->mode, g, gs->residual, gs->velocity, gs->u, gs->p,
                                    ef->count, clip_scale, d->momentum, d->nesterov,
                                    1.0f / (float)ef->nranks, ef->weight, flag, s);
    e = e ? e : (int)cudaMemcpyAsync(&bad, flag, sizeof(int), cudaMemcpyDeviceToHost, s);
    e = e ? e : (int)cudaStreamSynchronize(s);
    ccl_gpu_free_async(dbad, s);
    if (e)
        return ccl_gpu_fail(e, "gpu prepare");
    if (bad) {
        ef->skipped++;
        return ccl_set_error(NULL, CCL_ERR_INVALID_ARG, "non-finite gradient: step skipped, "
                             "error feedback kept");
    }
    /* The GPU's classic commit is always a swap: its encoders write p - decoded for sparse
     * codecs too (the same bits as the host's subtraction at commit). */
    eff->params.fb_residual = ef->mode == CCL_EF_CLASSIC;
    *p_p = ef->mode == CCL_EF_NONE ? g : gs->p;
    return CCL_SUCCESS;
}

/* ---- the step's GPU executor (step.h's ccl_step_exec_t) ---- */

static ccl_result_t dev_encode_own(ccl_comp_step_t *st, int rank, uint8_t *dst, size_t cap,
                                   size_t *len_p, int *skip)
{
    ccl_ef_t *ef = st->comp->ef;
    gpu_ef_t *g = ef->gpu;
    (void)skip; /* the GPU's prepare has checked the input */
    return ccl_gpu_codec_encode(&st->codec, st->input, st->comp->count,
                                ccl_step_seed(st, rank, 0), dst, cap, len_p,
                                ef->mode == CCL_EF_NONE ? NULL : g->recon, st->stream);
}

static ccl_result_t dev_decode(ccl_comp_step_t *st, const void *src, size_t len, float *out,
                               size_t count, int accumulate)
{
    return ccl_gpu_codec_decode(src, len, out, count, accumulate, st->stream);
}

static ccl_result_t dev_zero(ccl_comp_step_t *st, float *out, size_t count)
{
    int e = (int)cudaMemsetAsync(out, 0, count * sizeof(float), (cudaStream_t)st->stream);
    return e ? ccl_gpu_fail(e, "gpu zero") : CCL_SUCCESS;
}

/* ccl_ef_commit, ccl_ef_aggregate and the average, on the GPU. */
static ccl_result_t dev_finish(ccl_comp_step_t *st, float *recon, float *out, size_t count,
                               int reduced, ccl_redop_t op, int nranks)
{
    ccl_ef_t *ef = st->comp->ef;
    gpu_ef_t *g = ef->gpu;
    cudaStream_t s = st->stream;
    (void)recon; /* the device's own, g->recon */
    if (!reduced)
        op = CCL_SUM;
    int e = 0;
    switch (ef->mode) {
    case CCL_EF_CLASSIC: /* recon holds p - decoded: the new residual */
        swap_bufs(&g->residual, &g->recon);
        break;
    case CCL_EF_DGC:
        swap_bufs(&g->residual, &g->p);
        swap_bufs(&g->velocity, &g->u);
        e = ccl_cuda_ef_commit(CCL_EF_DGC, g->residual, g->velocity, g->recon, ef->count,
                               ef->masking, ef->weight, s);
        break;
    case CCL_EF_EF21:
    case CCL_EF_EF21W:
        e = ccl_cuda_ef_commit((int)ef->mode, g->residual, NULL, g->recon, ef->count, 0,
                               ef->weight, s);
        e = e ? e : ccl_cuda_ef_aggregate(g->global, out, count,
                                          ef->mode == CCL_EF_EF21W ? (float)ef->nranks : 1.0f, s);
        break;
    default:
        break;
    }
    ef->steps++;
    if (!e && op == CCL_AVG)
        e = ccl_cuda_scale(out, count, 1.0f / (float)nranks, s);
    e = e ? e : (int)cudaStreamSynchronize(s);
    return e ? ccl_gpu_fail(e, "gpu finish") : CCL_SUCCESS;
}

static const ccl_step_exec_t gpu_exec = {
    .name       = "cuda",
    .encode_own = dev_encode_own,
    .decode     = dev_decode,
    .zero       = dev_zero,
    .finish     = dev_finish,
};

int ccl_gpu_comp_serves(const struct ccl_compressor *c, ccl_coll_t coll, ccl_datatype_t dtype,
                        ccl_redop_t op)
{
    if (!ccl_config_get()->gpu_encode)
        return 0;
    if (c == NULL || c->kind != CCL_COMP_STREAM || dtype != CCL_FLOAT32)
        return 0;
    if (c->algo->flags & CCL_ALGO_SHARDS) /* hierarchical: the host runs it, staged */
        return 0;
    if (c->layout != NULL && (c->layout->n > 1 || c->codec.params.dense_1d))
        return 0; /* per tensor, or a vector sent whole: the host's codecs, staged */
    if (c->codec.ops->flags & CCL_CODEC_SHARED_SCALE)
        return 0;
    if (coll == CCL_COLL_ALLGATHER) /* EF21 aggregates a sum: the host call refuses it */
        return c->ef_mode != CCL_EF_EF21 && c->ef_mode != CCL_EF_EF21W;
    return (op == CCL_SUM || op == CCL_AVG) &&
           !(c->algo->carries & (CCL_CARRY_SIGN | CCL_CARRY_LOWRANK));
}

/* Prepare on the GPU, then the algorithm with the GPU's steps. */
static ccl_result_t gpu_run(ccl_coll_t coll, const ccl_algo_t *algo, const float *sendbuf,
                            float *recvbuf, size_t count, ccl_redop_t op, struct ccl_compressor *c,
                            struct ccl_comm *comm, void *stream)
{
    ccl_comp_step_t st = {.comp = c, .exec = &gpu_exec, .stream = stream};
    /* The input is prepared whole, and checked, here: no pending_grad, no check left to
     * the encoder. */
    ccl_result_t res = ef_prepare(c->ef, &c->codec, sendbuf, &st.input, &st.codec,
                                  (cudaStream_t)stream);
    st.local_skip = res != CCL_SUCCESS;
    if (res != CCL_SUCCESS && res != CCL_ERR_INVALID_ARG)
        return ccl_set_error(comm, res, "%s", ccl_get_last_error(NULL));
    ccl_coll_args_t a = {.coll = coll, .sendbuf = sendbuf, .recvbuf = recvbuf, .count = count,
                         .dtype = CCL_FLOAT32, .op = op, .dt_size = sizeof(float), .step = &st,
                         .codec = &c->codec, .algo = algo, .sig_extra = c->spec_hash};
    return ccl_coll_run(comm, &a);
}

ccl_result_t ccl_gpu_allreduce_compressed(const float *sendbuf, float *recvbuf, size_t count,
                                          ccl_redop_t op, struct ccl_compressor *c,
                                          struct ccl_comm *comm, void *stream)
{
    /* Every rank's payload to every rank: the compressor's sparse_allgather or sparse_hier
     * (across hosts once), else sparse_allgather, which carries dense codecs too. */
    const ccl_algo_t *algo = (c->algo->flags & CCL_ALGO_ENCODES_WHOLE)
                                 ? c->algo
                                 : ccl_algo_find(CCL_COLL_ALLREDUCE, "sparse_allgather",
                                                 CCL_CARRY_SPARSE);
    return gpu_run(CCL_COLL_ALLREDUCE, algo, sendbuf, recvbuf, count, op, c, comm, stream);
}

ccl_result_t ccl_gpu_allgather_compressed(const float *sendbuf, float *recvbuf, size_t sendcount,
                                          struct ccl_compressor *c, struct ccl_comm *comm,
                                          void *stream)
{
    return gpu_run(CCL_COLL_ALLGATHER,
                   ccl_algo_find(CCL_COLL_ALLGATHER, "direct", CCL_CARRY_SPARSE),
                   sendbuf, recvbuf, sendcount, CCL_SUM, c, comm, stream);
}
