/* auto.c: the "auto" compressor: a cost model measured once per communicator, and trials
 * on the buffer where the model is unsure, choose per call between the exact allreduce and
 * 8-bit compression, which must win outright. */
#include "collectives/compressed/compressor.h"
#include "collectives/compressed/auto.h"
#include "collectives/compressed/run.h"
#include "base/env_config.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* auto's compressed path, and the same codec without state for the start-up measurement:
 * without algo=, both take the cost model's algorithm for the size, so the measurement
 * times what auto will run. */
#define AUTO_SPEC       "int:bits=8,ef=classic"
#define AUTO_PROBE_SPEC "int:bits=8,ef=none"

static ccl_result_t time_allreduce(struct ccl_comm *comm, float *buf, size_t n, int reps, double *us)
{
    double t0 = ccl_time_now();
    for (int i = 0; i < reps; i++)
        CCL_CHECK(ccl_allreduce(buf, buf, n, CCL_FLOAT32, CCL_SUM, comm));
    *us = (ccl_time_now() - t0) * 1e6 / reps;
    return CCL_SUCCESS;
}

static ccl_result_t time_compressed(struct ccl_comm *comm, ccl_compressor_t probe, float *in,
                                    float *out, int reps, double *us)
{
    double t0 = ccl_time_now();
    for (int i = 0; i < reps; i++)
        CCL_CHECK(ccl_comp_run(probe, comm, CCL_COLL_ALLREDUCE, in, out, probe->count, CCL_SUM,
                                 probe->algo));
    *us = (ccl_time_now() - t0) * 1e6 / reps;
    return CCL_SUCCESS;
}

/* Measures, once per communicator, the exact allreduce and the compressed one (the auto
 * compressor without error feedback) at 1 KB, 2 MB and 16 MB, under the conditions of real
 * calls (the largest size leaves the caches, as large gradients do); the maxima over ranks
 * make the model, so every rank decides alike. The cost: about ten calls of 16 MB. */
static ccl_result_t auto_calibrate(struct ccl_comm *comm)
{
    static const size_t counts[CCL_AUTO_POINTS] = {256, 1 << 19, 1 << 22};
    const size_t nmax = counts[CCL_AUTO_POINTS - 1];
    double m[2 * CCL_AUTO_POINTS];
    float *buf = malloc(nmax * sizeof(float)), *out = malloc(nmax * sizeof(float));
    ccl_compressor_t probe = NULL;
    ccl_result_t res = CCL_ERR_NO_MEMORY;
    if (buf == NULL || out == NULL)
        goto out;
    for (size_t i = 0; i < nmax; i++)
        buf[i] = out[i] = ccl_rng_unit((uint64_t)comm->rank, i) - 0.5f; /* in place: sums grow x P */
    for (int k = 0; k < CCL_AUTO_POINTS; k++) {
        int reps = k == 0 ? 20 : k == 1 ? 5 : 2;
        if ((res = time_allreduce(comm, out, counts[k], 1, &m[k])) != CCL_SUCCESS ||
            (res = time_allreduce(comm, out, counts[k], reps, &m[k])) != CCL_SUCCESS ||
            (res = ccl_comp_create(comm, AUTO_PROBE_SPEC, counts[k], CCL_FLOAT32,
                               &probe)) != CCL_SUCCESS ||
            (res = time_compressed(comm, probe, buf, out, 1, &m[CCL_AUTO_POINTS + k])) != CCL_SUCCESS ||
            (res = time_compressed(comm, probe, buf, out, reps, &m[CCL_AUTO_POINTS + k])) != CCL_SUCCESS)
            goto out;
        ccl_compressor_destroy(probe);
        probe = NULL;
    }
    if ((res = ccl_allreduce(m, m, 2 * CCL_AUTO_POINTS, CCL_FLOAT64, CCL_MAX, comm)) != CCL_SUCCESS)
        goto out;
    for (int k = 0; k < CCL_AUTO_POINTS; k++) {
        comm->tuning.measured.bytes[k] = 4.0 * (double)counts[k];
        comm->tuning.measured.us[0][k] = m[k];
        comm->tuning.measured.us[1][k] = m[CCL_AUTO_POINTS + k];
    }
    comm->tuning.measured.exact_scale = comm->tuning.measured.comp_scale = 1;
    comm->tuning.measured.done = 1;
    ccl_info("auto: exact allreduce %.0f/%.0f/%.0f us, compressed %.0f/%.0f/%.0f us at 1 KB/2 MB/16 MB",
             m[0], m[1], m[2], m[3], m[4], m[5]);
out:
    ccl_compressor_destroy(probe);
    free(buf);
    free(out);
    return res == CCL_SUCCESS ? res : ccl_set_error(comm, res, "auto calibration failed: %s",
                                                     ccl_get_last_error(comm));
}

/* Piecewise-linear through the measured points, the last slope extended. */
double ccl_auto_model_us(const struct ccl_comm *comm, int method, double b)
{
    const double *x = comm->tuning.measured.bytes, *y = comm->tuning.measured.us[method];
    int k = 0;
    while (k < CCL_AUTO_POINTS - 2 && b > x[k + 1])
        k++;
    double slope = fmax(y[k + 1] - y[k], 0) / (x[k + 1] - x[k]);
    return fmax(y[k] + (b - x[k]) * slope, 0) *
           (method ? comm->tuning.measured.comp_scale : comm->tuning.measured.exact_scale);
}

/* Predicted microseconds of the exact (0) and compressed (1) allreduce of `bytes`. */
static void auto_predict(const struct ccl_comm *comm, size_t bytes, double us[2])
{
    us[0] = ccl_auto_model_us(comm, 0, (double)bytes);
    us[1] = ccl_auto_model_us(comm, 1, (double)bytes);
}

/* Every 32 auto calls the ranks agree (max) on how far the model was off, per method. */
static ccl_result_t auto_refresh(struct ccl_comm *comm)
{
    double f[2];
    for (int m = 0; m < 2; m++)
        f[m] = comm->tuning.measured.pred[m] > 0 ? comm->tuning.measured.obs[m] / comm->tuning.measured.pred[m] : 0;
    CCL_CHECK(ccl_allreduce(f, f, 2, CCL_FLOAT64, CCL_MAX, comm));
    if (f[0] > 0)
        comm->tuning.measured.exact_scale *= f[0];
    if (f[1] > 0)
        comm->tuning.measured.comp_scale *= f[1];
    memset(comm->tuning.measured.obs, 0, sizeof(comm->tuning.measured.obs));
    memset(comm->tuning.measured.pred, 0, sizeof(comm->tuning.measured.pred));
    return CCL_SUCCESS;
}

/* auto's choice for one call: 0 exact, 1 compressed. The model decides where it is sure; where
 * it is not (a predicted ratio within CCLZ_AUTO_TRIAL_RATIO, or a buffer beyond the largest
 * calibrated size, where it extrapolates), the handle runs a trial on its own buffer: AUTO_TRIALS calls
 * of each method, alternating, then the ranks agree (max over ranks of each method's fastest
 * call) and keep the faster for AUTO_RETRY calls. Compression must win outright: the target
 * is never to be slower than the exact path. */
#define AUTO_TRIALS 3
#define AUTO_RETRY  4096
#define AUTO_LOG_EVERY     1024 /* calls between two info lines of one handle */
#define AUTO_REFRESH_EVERY 32   /* calls between two corrections of the model */

/* Following the model, compress only with a margin: 10% within the measured sizes; beyond,
 * where the compressed path's memory traffic grows faster than linearly on a loaded host
 * (perf/RESULTS.md), 40%. */
double ccl_auto_margin(const struct ccl_comm *comm, double bytes)
{
    return bytes > comm->tuning.measured.bytes[CCL_AUTO_POINTS - 1] ? 0.6 : 0.9;
}

static int auto_choose(ccl_compressor_t c, struct ccl_comm *comm, size_t count, double pred[2])
{
    double bytes = (double)count * sizeof(float);
    auto_predict(comm, (size_t)bytes, pred);
    if (c->auto_decided >= 0 && c->auto_calls - c->auto_trial_at >= AUTO_RETRY)
        c->auto_decided = -1; /* links and load change: try again */
    if (c->auto_decided >= 0)
        return c->auto_decided;
    if (!c->auto_in_trial) {
        double r = ccl_config_get()->auto_trial_ratio;
        int beyond = bytes > comm->tuning.measured.bytes[CCL_AUTO_POINTS - 1];
        if (r <= 1 || (!beyond && (pred[1] * r < pred[0] || pred[1] > r * pred[0])))
            return pred[1] < ccl_auto_margin(comm, bytes) * pred[0];
        c->auto_in_trial = 1;
        c->auto_trial_at = c->auto_calls;
        c->auto_best[0] = c->auto_best[1] = HUGE_VAL;
    }
    return (int)((c->auto_calls - c->auto_trial_at) & 1);
}

/* After a trial call: record it, and once both methods had their calls, agree and decide. */
static ccl_result_t auto_trial_done(ccl_compressor_t c, struct ccl_comm *comm, int use, double us)
{
    c->auto_best[use] = fmin(c->auto_best[use], us);
    if (c->auto_calls + 1 - c->auto_trial_at < 2 * AUTO_TRIALS)
        return CCL_SUCCESS;
    double best[2] = {c->auto_best[0], c->auto_best[1]};
    CCL_CHECK(ccl_allreduce(best, best, 2, CCL_FLOAT64, CCL_MAX, comm));
    c->auto_in_trial = 0;
    c->auto_decided = best[1] < best[0];
    ccl_info("auto: %zu elements: trial exact %.0f us, %s %.0f us -> %s", c->count, best[0],
             c->auto_sub->spec, best[1], c->auto_decided ? c->auto_sub->spec : "exact");
    return CCL_SUCCESS;
}

/* Whether an exact sum holds no NaN or infinity. A NaN or infinity on any rank, or a sum that
 * overflowed, leaves one in the same place on every rank, so every rank decides alike. */
static int sum_finite(const void *buf, size_t count, ccl_datatype_t dtype)
{
    const uint16_t *h = buf;
    const uint16_t exp = dtype == CCL_FLOAT16 ? 0x7c00u : 0x7f80u;
    if (dtype == CCL_FLOAT32)
        return ccl_all_finite(buf, count);
    for (size_t i = 0; i < count; i++)
        if ((h[i] & exp) == exp)
            return 0;
    return 1;
}

ccl_result_t ccl_auto_allreduce(ccl_compressor_t c, struct ccl_comm *comm,
                                const void *sendbuf, void *recvbuf, size_t count,
                                ccl_datatype_t dtype, ccl_redop_t op)
{
    double pred[2], t0 = ccl_time_now(), us;
    int use = auto_choose(c, comm, count, pred);
    ccl_result_t res;
    if (c->auto_calls == 0 || c->auto_calls % AUTO_LOG_EVERY == 0)
        ccl_info("auto: %zu elements -> %s (model: exact %.0f us, %s %.0f us)%s", count,
                 use ? c->auto_sub->spec : "exact", pred[0], c->auto_sub->spec, pred[1],
                 c->auto_in_trial ? "; trying both on this buffer" : "");
    res = use ? ccl_comp_run(c->auto_sub, comm, CCL_COLL_ALLREDUCE, sendbuf, recvbuf, count,
                             op, c->auto_sub->algo)
              : ccl_allreduce(sendbuf, recvbuf, count, dtype, op, comm);
    if (res != CCL_SUCCESS)
        return res;
    /* The exact path keeps the compressed path's promise: a step with NaN or Inf is refused
     * on every rank (the error-feedback state is not touched on this path). */
    if (!use && !sum_finite(recvbuf, count, dtype))
        return ccl_set_error(comm, CCL_ERR_INVALID_ARG,
                             "allreduce: a gradient holds NaN or Inf on some rank, or the sum "
                             "overflowed; the step is skipped on every rank (auto, exact path)");
    us = (ccl_time_now() - t0) * 1e6;
    comm->tuning.measured.obs[use] += us;
    comm->tuning.measured.pred[use] += pred[use];
    if (c->auto_in_trial)
        CCL_CHECK(auto_trial_done(c, comm, use, us));
    if (++c->auto_calls % AUTO_REFRESH_EVERY == 0)
        CCL_CHECK(auto_refresh(comm));
    return CCL_SUCCESS;
}

ccl_result_t ccl_auto_init(ccl_compressor_t c, struct ccl_comm *comm)
{
    ccl_result_t res = ccl_comp_create(comm, AUTO_SPEC, c->count, c->dtype, &c->auto_sub);
    if (res == CCL_SUCCESS && comm->tuning.measured.done == 0)
        res = auto_calibrate(comm);
    return res;
}
