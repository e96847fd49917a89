/* exec_host.c: the host executor of a compressed step (step.h's ccl_step_exec_t): the
 * codecs and error feedback of compress/, on host memory. */
#include "collectives/compressed/step.h"
#include "compress/wire.h"

#include <string.h>

static ccl_result_t host_encode_own(ccl_comp_step_t *st, int rank, uint8_t *dst, size_t cap,
                                    size_t *len_p, int *skip)
{
    ccl_ef_t *ef = st->comp->ef;
    /* Where the state can commit from this message, no reconstruction is written. */
    const int list = ccl_ef_commits_list(ef);
    CCL_CHECK(ccl_step_encode_own(st, rank, dst, cap, len_p, list ? NULL : ccl_ef_recon(ef), skip));
    st->own_msg = list ? dst : NULL;
    st->own_len = *len_p;
    return CCL_SUCCESS;
}

static ccl_result_t host_decode(ccl_comp_step_t *st, const void *src, size_t len, float *out,
                                size_t count, int accumulate)
{
    return ccl_codec_decode(src, len, out, count, accumulate);
}

static ccl_result_t host_zero(ccl_comp_step_t *st, float *out, size_t count)
{
    memset(out, 0, count * sizeof(float));
    return CCL_SUCCESS;
}

static ccl_result_t host_finish(ccl_comp_step_t *st, float *recon, float *out, size_t count,
                                int reduced, ccl_redop_t op, int nranks)
{
    CCL_CHECK(ccl_step_commit(st, recon, count));
    if (!reduced)
        return CCL_SUCCESS;
    ccl_ef_aggregate(st->comp->ef, out);
    if (op == CCL_AVG) {
        float inv = 1.0f / (float)nranks;
        for (size_t i = 0; i < count; i++)
            out[i] *= inv;
    }
    return CCL_SUCCESS;
}

const ccl_step_exec_t ccl_step_exec_host = {
    .name       = "host",
    .encode_own = host_encode_own,
    .decode     = host_decode,
    .zero       = host_zero,
    .finish     = host_finish,
};
