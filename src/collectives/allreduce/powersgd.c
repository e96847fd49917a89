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
 * their signature. */
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

static ccl_result_t powersgd_run(ccl_coll_ctx_t *ctx)
{
    ccl_comp_step_t *st = ctx->args->step;
    struct ccl_compressor *c = st->comp;
    struct ccl_comm *comm = ctx->comm;
    float *out = ctx->args->recvbuf;
    ccl_powersgd_t *s = c->lowrank;
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
    if (s->pm[np] != 0.0f) {
        if (!st->local_skip)
            c->ef->skipped++;
        ctx->keep_comm = 1;
        return ccl_set_error(comm, CCL_ERR_INVALID_ARG,
                             "allreduce: a gradient holds NaN or Inf%s; the step is skipped on "
                             "every rank and the error-feedback state kept",
                             st->local_skip ? " on this rank" : " on another rank");
    }
    ccl_powersgd_orthogonalize(s);
    ccl_powersgd_back(s, st->input);
    float *recon = ccl_ef_recon(c->ef);
    if (recon != NULL) /* without error feedback no one reads it */
        ccl_powersgd_expand(s, st->codec.params.fb_residual ? st->input : NULL, recon);
    CCL_CHECK(exact_sum(comm, c, s->qt, s->p.cols * s->p.rank));
    ccl_powersgd_expand(s, NULL, out);
    s->have_q = 1;
    ccl_ef_commit(c->ef, recon);
    if (ctx->args->op == CCL_AVG) {
        float inv = 1.0f / (float)comm->nranks;
        for (size_t i = 0; i < c->count; i++)
            out[i] *= inv;
    }
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
