/* powersgd.c: PowerSGD's allreduce (Vogels et al., 2019): with M this rank's gradient plus
 * its error feedback (rows x cols) and Q the shared start (warm: the last step's),
 *   P = sum over ranks of M Q        (exact allreduce of rows x r floats)
 *   P = orthonormal columns of P     (the same bits on every rank)
 *   Q = sum over ranks of M^T P      (exact allreduce of cols x r floats)
 *   result = P Q^T,  error feedback: e = M - P (M^T P)^T, this rank's own share.
 * Both allreduces are exact and everything after them is computed from identical bits, so
 * every rank ends with the same result. A NaN or Inf anywhere rides on the first allreduce
 * as a flag, and every rank skips the step. The arithmetic is compress/powersgd.c. The two
 * allreduces are whole calls of their own (CCL_ALGO_NESTED), with the compressor's spec in
 * their signature.
 *
 * With a layout (as PyTorch's PowerSGD hook does with a bucket), every tensor with a 2-D
 * shape that pays has its own P and Q and warm start; the first allreduce carries every P
 * and the other tensors' elements, exact, the second every Q. */
#include "collectives/compressed/step.h"
#include "core/comm.h"

#include <string.h>

static ccl_result_t exact_sum(struct ccl_comm *comm, const struct ccl_compressor *c, float *buf,
                              size_t n)
{
    ccl_coll_args_t a = {.coll = CCL_COLL_ALLREDUCE, .sendbuf = buf, .recvbuf = buf, .count = n,
                         .dtype = CCL_FLOAT32, .op = CCL_SUM, .dt_size = sizeof(float),
                         .sig_extra = c->spec_hash};
    return ccl_coll_run(comm, &a);
}

/* The skip flag rode on the first allreduce: some rank's gradient was not finite. */
static ccl_result_t skipped(ccl_coll_ctx_t *ctx, struct ccl_compressor *c, int local)
{
    if (!local)
        c->ef->skipped++;
    ctx->keep_comm = 1;
    return ccl_set_error(ctx->comm, CCL_ERR_INVALID_ARG,
                         "allreduce: a gradient holds NaN or Inf%s; the step is skipped on "
                         "every rank and the error-feedback state kept",
                         local ? " on this rank" : " on another rank");
}

static void average(ccl_coll_ctx_t *ctx, float *out, size_t n)
{
    if (ctx->args->op != CCL_AVG)
        return;
    const float inv = 1.0f / (float)ctx->comm->nranks;
    for (size_t i = 0; i < n; i++)
        out[i] *= inv;
}

/* The layout's tensors: P = M Q per approximated tensor, and the others' elements, in one
 * exact sum; then per tensor orthogonalize and Q = M^T P, in a second; then P Q^T. */
static ccl_result_t powersgd_layout_run(ccl_coll_ctx_t *ctx)
{
    ccl_comp_step_t *st = ctx->args->step;
    struct ccl_compressor *c = st->comp;
    const ccl_layout_t *lay = c->layout;
    float *out = ctx->args->recvbuf, *pb = c->lr_p, *qb = c->lr_q, *recon = ccl_ef_recon(c->ef);
    const int residual = st->codec.params.fb_residual;
    size_t at = 0, aq = 0;
    for (int i = 0; i < lay->n; i++) {
        ccl_powersgd_t *s = c->lr_tensor[i];
        const float *m = st->input + lay->off[i];
        size_t len = s != NULL ? s->p.rows * s->p.rank : lay->count[i];
        if (st->local_skip) {
            memset(pb + at, 0, len * sizeof(float));
        } else if (s != NULL) {
            ccl_powersgd_start(s, c->ef->steps);
            ccl_powersgd_project(s, m);
            memcpy(pb + at, s->pm, len * sizeof(float));
        } else {
            memcpy(pb + at, m, len * sizeof(float));
        }
        at += len;
    }
    pb[at] = st->local_skip ? 1.0f : 0.0f;
    CCL_CHECK(exact_sum(ctx->comm, c, pb, c->lr_np + 1));
    if (pb[c->lr_np] != 0.0f)
        return skipped(ctx, c, st->local_skip);
    at = 0;
    for (int i = 0; i < lay->n; i++) {
        ccl_powersgd_t *s = c->lr_tensor[i];
        const size_t off = lay->off[i];
        if (s == NULL) { /* sent exact: summed already */
            ccl_step_sent_exact(st, recon, off, lay->count[i]);
            memmove(out + off, pb + at, lay->count[i] * sizeof(float));
            at += lay->count[i];
            continue;
        }
        memcpy(s->pm, pb + at, s->p.rows * s->p.rank * sizeof(float));
        at += s->p.rows * s->p.rank;
        ccl_powersgd_orthogonalize(s);
        ccl_powersgd_back(s, st->input + off);
        if (recon != NULL)
            ccl_powersgd_expand(s, residual ? st->input + off : NULL, recon + off);
        memcpy(qb + aq, s->qt, s->p.cols * s->p.rank * sizeof(float));
        aq += s->p.cols * s->p.rank;
    }
    if (c->lr_nq > 0)
        CCL_CHECK(exact_sum(ctx->comm, c, qb, c->lr_nq));
    aq = 0;
    for (int i = 0; i < lay->n; i++) {
        ccl_powersgd_t *s = c->lr_tensor[i];
        if (s == NULL)
            continue;
        memcpy(s->qt, qb + aq, s->p.cols * s->p.rank * sizeof(float));
        aq += s->p.cols * s->p.rank;
        ccl_powersgd_expand(s, NULL, out + lay->off[i]);
        s->have_q = 1;
    }
    ccl_ef_commit(c->ef, recon);
    average(ctx, out, c->count);
    return CCL_SUCCESS;
}

static ccl_result_t powersgd_run(ccl_coll_ctx_t *ctx)
{
    ccl_comp_step_t *st = ctx->args->step;
    struct ccl_compressor *c = st->comp;
    struct ccl_comm *comm = ctx->comm;
    float *out = ctx->args->recvbuf;
    ccl_powersgd_t *s = c->lowrank;
    if (c->lr_tensor != NULL)
        return powersgd_layout_run(ctx);
    const size_t np = s->p.rows * s->p.rank;
    ccl_powersgd_start(s, c->ef->steps);
    if (st->local_skip) {
        memset(s->pm, 0, np * sizeof(float));
        s->pm[np] = 1.0f;
    } else {
        ccl_powersgd_project(s, st->input);
        s->pm[np] = 0.0f;
    }
    CCL_CHECK(exact_sum(comm, c, s->pm, np + 1));
    if (s->pm[np] != 0.0f)
        return skipped(ctx, c, st->local_skip);
    ccl_powersgd_orthogonalize(s);
    ccl_powersgd_back(s, st->input);
    float *recon = ccl_ef_recon(c->ef);
    if (recon != NULL) /* without error feedback no one reads it */
        ccl_powersgd_expand(s, st->codec.params.fb_residual ? st->input : NULL, recon);
    CCL_CHECK(exact_sum(comm, c, s->qt, s->p.cols * s->p.rank));
    ccl_powersgd_expand(s, NULL, out);
    s->have_q = 1;
    ccl_ef_commit(c->ef, recon);
    average(ctx, out, c->count);
    return CCL_SUCCESS;
}

const ccl_algo_t ccl_allreduce_powersgd = {
    .name        = "powersgd",
    .desc        = "PowerSGD rank-r approximation: two exact allreduces of P (rows x r) and Q "
                   "(cols x r), warm start, error feedback; spec powersgd:rank=R,rows=N",
    .coll        = CCL_COLL_ALLREDUCE,
    .carries     = CCL_CARRY_LOWRANK,
    .default_for = CCL_CARRY_LOWRANK,
    .flags       = CCL_ALGO_NESTED,
    .run         = powersgd_run,
};
