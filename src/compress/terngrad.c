/* terngrad.c: TernGrad (Wen et al.): every element becomes -s, 0 or +s, keeping x with
 * probability min(|x|/s, 1), so values beyond s are clipped to it. The scaler s is
 * clip * std(x) (clip = 2.5 by default; clip = 0 means max |x|) and all ranks use the largest
 * one (CCL_CODEC_SHARED_SCALE: the collective agrees on it before encoding). Payload: s as
 * float32, then 2-bit codes, four to a byte, LSB first: 0 zero, 1 +s, 2 -s (3 is refused). */
#include "wire.h"

#include <float.h>
#include <math.h>
#include <string.h>

static void terngrad_defaults(ccl_codec_params_t *p) { p->clip = 2.5f; }

static int terngrad_set(ccl_codec_params_t *p, const char *k, const char *v)
{
    double x;
    if (strcmp(k, "clip") == 0 && ccl_param_double(v, 0, 1e6, &x) == 0)
        p->clip = (float)x;
    else if (strcmp(k, "scale") == 0 && ccl_param_double(v, 0, FLT_MAX, &x) == 0)
        p->scale = (float)x;
    else
        return -1;
    return 0;
}

static size_t terngrad_max_payload(const ccl_codec_params_t *p, size_t count)
{
    return 4 + (count + 3) / 4;
}

/* The scaler: clip * std(x), or max |x| (clip = 0, or a constant buffer, which has no
 * spread and would otherwise be zeroed). The sums run in elem.h's fixed order, as on the GPU. */
static float terngrad_local_scale(const ccl_codec_params_t *p, const float *x, size_t n)
{
    float mx = 0;
    double sum = ccl_fixed_sum(x, n, CCL_SUM_X, 0, &mx); /* one pass: the sum and max |x| */
    if (p->clip == 0 || n == 0)
        return mx;
    return ccl_tern_scale(ccl_fixed_sum(x, n, CCL_SUM_SQDEV, sum / (double)n, NULL), n, p->clip, mx);
}

static ccl_result_t terngrad_encode(const ccl_codec_params_t *p, const float *src, size_t count,
                                    uint64_t seed, uint8_t *out, size_t cap, size_t *len_p,
                                    uint32_t hp[2], float *recon)
{
    float s = p->scale > 0 ? p->scale : terngrad_local_scale(p, src, count);
    ccl_put_f32(out, s);
    for (size_t b = 0; b < (count + 3) / 4; b++)
        out[4 + b] = ccl_tern_byte(src, count, b, s, seed, recon, p->fb_residual);
    hp[0] = 0;
    hp[1] = 0;
    *len_p = 4 + (count + 3) / 4;
    return CCL_SUCCESS;
}

static ccl_result_t terngrad_check(const uint8_t *in, size_t len, const uint32_t hp[2],
                                   size_t count)
{
    size_t nbytes = (count + 3) / 4;
    float s;
    if (hp[0] != 0 || hp[1] != 0 || len != 4 + nbytes)
        return ccl_set_error(NULL, CCL_ERR_INVALID_PAYLOAD, "terngrad: %zu payload bytes, %zu expected",
                             len, 4 + nbytes);
    s = ccl_get_f32(in);
    if (!isfinite(s) || s < 0)
        return ccl_set_error(NULL, CCL_ERR_INVALID_PAYLOAD, "terngrad: scaler %g", s);
    const uint8_t *codes = in + 4;
    for (size_t b = 0; b < nbytes; b++) {
        /* No code 3 (both bits of a pair set), and no codes past the last element. */
        unsigned tail = count % 4 && b == nbytes - 1 ? (unsigned)(0xff << (2 * (count % 4))) & 0xff : 0;
        if ((codes[b] & (codes[b] >> 1) & 0x55) || (codes[b] & tail))
            return ccl_set_error(NULL, CCL_ERR_INVALID_PAYLOAD, "terngrad: bad code in byte %zu", b);
    }
    return CCL_SUCCESS;
}

static ccl_result_t terngrad_decode(const uint8_t *in, size_t len, const uint32_t hp[2],
                                    uint64_t seed, float *out, size_t count, int accumulate)
{
    CCL_CHECK(terngrad_check(in, len, hp, count));
    float s = ccl_get_f32(in);
    for (size_t i = 0; i < count; i++) {
        float v = ccl_tern_value((in[4 + (i >> 2)] >> (2 * (i & 3))) & 3, s);
        out[i] = accumulate ? out[i] + v : v;
    }
    return CCL_SUCCESS;
}

const ccl_codec_ops_t ccl_codec_terngrad = {
    .size = sizeof(ccl_codec_ops_t), .name = "terngrad", .id = CCL_CODEC_ID_TERNGRAD,
    .flags = CCL_CODEC_SHARED_SCALE,
    .desc = "TernGrad: -s, 0 or +s per element (2 bits), s shared across ranks (their max)",
    .params_doc = "clip=C (scaler C*std; 0 = max|x|), scale=S (fixed scaler)",
    .defaults = terngrad_defaults, .set_param = terngrad_set,
    .max_payload = terngrad_max_payload, .encode = terngrad_encode,
    .decode = terngrad_decode, .check = terngrad_check, .local_scale = terngrad_local_scale,
};
