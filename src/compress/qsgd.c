/* qsgd.c: QSGD (Alistarh et al.): per bucket a norm (L2, or max as in practical bucketed
 * versions), then per element a sign bit and a level l in 0..s, s = 2^(bits-1) - 1, value =
 * sign * norm * l / s. Stochastic rounding between levels makes it unbiased. */
#include "bitpack.h"

#include <float.h>
#include <math.h>
#include <string.h>

static void qsgd_defaults(ccl_codec_params_t *p)
{
    p->bits = 4;
    p->bucket = 512;
    p->rounding = CCL_ROUND_STOCHASTIC;
    p->norm = CCL_NORM_MAX;
}

static int qsgd_set(ccl_codec_params_t *p, const char *k, const char *v)
{
    long x;
    if (strcmp(k, "bits") == 0 && ccl_param_long(v, 2, 8, &x) == 0)
        p->bits = (int)x;
    else if (strcmp(k, "bucket") == 0 && ccl_param_long(v, 1, 1L << 30, &x) == 0)
        p->bucket = (uint32_t)x;
    else if (strcmp(k, "norm") == 0 && (strcmp(v, "l2") == 0 || strcmp(v, "max") == 0))
        p->norm = v[0] == 'l' ? CCL_NORM_L2 : CCL_NORM_MAX;
    else if (strcmp(k, "round") == 0 && (strcmp(v, "stochastic") == 0 || strcmp(v, "nearest") == 0))
        p->rounding = v[0] == 's' ? CCL_ROUND_STOCHASTIC : CCL_ROUND_NEAREST;
    else
        return -1;
    return 0;
}

static size_t qsgd_payload(unsigned bits, size_t bucket, size_t count)
{
    return 4 * ((count + bucket - 1) / bucket) + (count * bits + 7) / 8;
}

static size_t qsgd_max_payload(const ccl_codec_params_t *p, size_t count)
{
    return qsgd_payload((unsigned)p->bits, p->bucket, count);
}

/* The bucket's norm: the largest |x|, or the L2 norm from elem.h's fixed-order sum, so that
 * the GPU encoder (cuda/qsgd_codec.cu) finds the same bits. */
static float bucket_norm(const float *x, size_t n, ccl_norm_t norm)
{
    float mx = 0;
    if (norm == CCL_NORM_MAX) {
        for (size_t i = 0; i < n; i++)
            mx = fabsf(x[i]) > mx ? fabsf(x[i]) : mx;
        return mx;
    }
    return ccl_qsgd_l2(ccl_fixed_sum(x, n, CCL_SUM_SQ, 0, NULL));
}

#define QSGD_TILE 4096

static ccl_result_t qsgd_encode(const ccl_codec_params_t *p, const float *src, size_t count,
                                uint64_t seed, uint8_t *out, size_t cap, size_t *len_p,
                                uint32_t hp[2], float *recon)
{
    const unsigned bits = (unsigned)p->bits, s = (1u << (bits - 1)) - 1;
    const int stochastic = p->rounding == CCL_ROUND_STOCHASTIC;
    const size_t B = p->bucket, nb = (count + B - 1) / B;
    packer_t pk = {.out = out + 4 * nb, .bits = bits};
    uint8_t q[QSGD_TILE];
    for (size_t b = 0; b < nb; b++) {
        size_t lo = b * B, n = CCL_MIN(B, count - lo);
        float norm = bucket_norm(src + lo, n, p->norm);
        float unit = ccl_qsgd_unit(norm, s), inv = ccl_qsgd_inv(norm, s);
        ccl_put_f32(out + 4 * b, norm);
        for (size_t t = 0; t < n; t += QSGD_TILE) {
            size_t m = CCL_MIN((size_t)QSGD_TILE, n - t);
            for (size_t i = 0; i < m; i++) {
                size_t at = lo + t + i;
                q[i] = (uint8_t)ccl_qsgd_code(src[at], inv, s, stochastic, seed, at);
                if (recon)
                    recon[at] = ccl_fb_value(p->fb_residual, src[at], ccl_qsgd_value(q[i], unit, s));
            }
            pack_codes(&pk, q, m);
        }
    }
    pack_flush(&pk);
    hp[0] = bits | (unsigned)p->rounding << 8 | (unsigned)p->norm << 9;
    hp[1] = (uint32_t)B;
    *len_p = 4 * nb + pk.pos;
    return CCL_SUCCESS;
}

/* Every check of the decoder: parameters, exact length, finite non-negative norms. */
static ccl_result_t qsgd_check(const uint8_t *in, size_t len, const uint32_t hp[2], size_t count)
{
    unsigned bits = hp[0] & 0xff;
    size_t B = hp[1];
    if (bits < 2 || bits > 8 || (hp[0] >> 8) > 3 || B == 0)
        return ccl_set_error(NULL, CCL_ERR_INVALID_PAYLOAD, "qsgd: bad parameters %u/%zu", hp[0], B);
    if (len != qsgd_payload(bits, B, count))
        return ccl_set_error(NULL, CCL_ERR_INVALID_PAYLOAD, "qsgd: %zu payload bytes, %zu expected",
                             len, qsgd_payload(bits, B, count));
    for (size_t b = 0; b < (count + B - 1) / B; b++) {
        float norm = ccl_get_f32(in + 4 * b);
        if (!isfinite(norm) || norm < 0)
            return ccl_set_error(NULL, CCL_ERR_INVALID_PAYLOAD, "qsgd: bucket %zu has norm %g", b, norm);
    }
    return CCL_SUCCESS;
}

static ccl_result_t qsgd_decode(const uint8_t *in, size_t len, const uint32_t hp[2],
                                uint64_t seed, float *out, size_t count, int accumulate)
{
    unsigned bits = hp[0] & 0xff, s;
    size_t B = hp[1], nb;
    (void)seed;
    CCL_CHECK(qsgd_check(in, len, hp, count));
    s = (1u << (bits - 1)) - 1;
    nb = (count + B - 1) / B;
    /* Every norm is good and the length is exact: nothing below can fail. */
    unpacker_t up = {.in = in + 4 * nb, .len = len - 4 * nb, .bits = bits};
    for (size_t b = 0; b < nb; b++) {
        float unit = ccl_qsgd_unit(ccl_get_f32(in + 4 * b), s);
        for (size_t i = b * B; i < CCL_MIN(b * B + B, count); i++) {
            float v = ccl_qsgd_value(unpack_next(&up), unit, s);
            out[i] = accumulate ? out[i] + v : v;
        }
    }
    return CCL_SUCCESS;
}

const ccl_codec_ops_t ccl_codec_qsgd = {
    .size = sizeof(ccl_codec_ops_t), .name = "qsgd", .id = CCL_CODEC_ID_QSGD,
    .flags = 0,
    .desc = "QSGD: per-bucket norm, sign and 2^(bits-1)-1 levels, unbiased stochastic rounding",
    .params_doc = "bits=2..8 bucket=N norm=max|l2 round=stochastic|nearest",
    .defaults = qsgd_defaults, .set_param = qsgd_set, .max_payload = qsgd_max_payload,
    .encode = qsgd_encode, .decode = qsgd_decode, .check = qsgd_check,
};
