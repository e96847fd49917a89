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

static float terngrad_local_scale(const ccl_codec_params_t *p, const float *x, size_t n)
{
    double sum = 0, sq = 0, s;
    float mx = 0;
    for (size_t i = 0; i < n; i++) {
        mx = fabsf(x[i]) > mx ? fabsf(x[i]) : mx;
        sum += x[i];
    }
    if (p->clip == 0 || n == 0)
        return mx;
    for (size_t i = 0; i < n; i++)
        sq += ((double)x[i] - sum / (double)n) * ((double)x[i] - sum / (double)n);
    s = p->clip * sqrt(sq / (double)n);
    /* A constant buffer has no spread: fall back to max |x| so it is not zeroed. */
    return s > 0 ? (s > FLT_MAX ? FLT_MAX : (float)s) : mx;
}

static ccl_result_t terngrad_encode(const ccl_codec_params_t *p, const float *src, size_t count,
                                    uint64_t seed, uint8_t *out, size_t cap, size_t *len_p,
                                    uint32_t hp[2], float *recon)
{
    float s = p->scale > 0 ? p->scale : terngrad_local_scale(p, src, count);
    uint8_t *codes = out + 4;
    ccl_put_f32(out, s);
    memset(codes, 0, (count + 3) / 4);
    for (size_t i = 0; i < count; i++) {
        /* Keep with probability min(|x|/s, 1): u uniform in [0, s), kept if u < |x|. */
        unsigned c = 0;
        if (s > 0 && ccl_rng_unit(seed, i) * s < fabsf(src[i]))
            c = src[i] < 0 ? 2 : 1;
        codes[i >> 2] |= (uint8_t)(c << (2 * (i & 3)));
        if (recon)
            recon[i] = ccl_fb_value(p->fb_residual, src[i], c == 0 ? 0.0f : c == 1 ? s : -s);
    }
    hp[0] = 0;
    hp[1] = 0;
    *len_p = 4 + (count + 3) / 4;
    return CCL_SUCCESS;
}

static ccl_result_t terngrad_decode(const uint8_t *in, size_t len, const uint32_t hp[2],
                                    uint64_t seed, float *out, size_t count, int accumulate)
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
    for (size_t i = 0; i < count; i++) {
        unsigned c = (codes[i >> 2] >> (2 * (i & 3))) & 3;
        float v = c == 0 ? 0.0f : c == 1 ? s : -s;
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
    .decode = terngrad_decode, .local_scale = terngrad_local_scale,
};
