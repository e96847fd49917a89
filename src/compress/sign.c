/* sign.c: one bit per element (1 for x >= 0, so sign(0) = +1) and one magnitude: ||x||_1/d
 * (EF-signSGD, the default), ||x||_2/sqrt(d) (1-bit Adam), or 1 (plain signSGD; summing
 * such payloads gives the votes of majority vote). Payload: the magnitude as float32, then
 * ceil(d/8) bytes of bits, LSB first, padding bits zero. */
#include "compress/wire.h"

#include <float.h>
#include <math.h>
#include <string.h>

static const char *const sign_scales[] = {"l1", "l2", "none", NULL}; /* ccl_sign_scale_t order */

static const ccl_param_field_t sign_params[] = {
    {"scale", "l1", "the magnitude: ||x||_1/d, ||x||_2/sqrt(d), or 1 for majority vote",
     CCL_PARAM_ENUM, CCL_CODEC_PARAM(sign_scale), .names = sign_scales},
    CCL_PARAM_END,
};

static size_t sign_max_payload(const ccl_codec_params_t *p, size_t count)
{
    return 4 + (count + 7) / 8;
}

static float sign_magnitude(ccl_sign_scale_t mode, const float *x, size_t n)
{
    double total = mode == CCL_SIGN_SCALE_NONE
                       ? 0
                       : ccl_fixed_sum(x, n, mode == CCL_SIGN_SCALE_L1 ? CCL_SUM_ABS : CCL_SUM_SQ, 0, NULL);
    return ccl_sign_magnitude(total, n, (int)mode);
}

static void decode_scalar(const uint8_t *bits, size_t from, size_t count, float s, float *out,
                          int accumulate)
{
    for (size_t i = from; i < count; i++) {
        float v = (bits[i >> 3] >> (i & 7)) & 1 ? s : -s;
        out[i] = accumulate ? out[i] + v : v;
    }
}

#if defined(__x86_64__)
#include <immintrin.h>

/* Whole bytes of bits (8 elements each) as ccl_sign_byte makes them; returns the bytes done,
 * and in *bad whether their elements hold a NaN or an infinity. */
__attribute__((target("avx2"))) static size_t encode_avx2(const float *src, size_t count, float s,
                                                          uint8_t *bits, float *recon, int fb_residual,
                                                          int *bad)
{
    const __m256 zero = _mm256_setzero_ps(), vs = _mm256_set1_ps(s), vneg = _mm256_set1_ps(-s);
    const __m256i expo = _mm256_set1_epi32(0x7f800000);
    __m256i nonfinite = _mm256_setzero_si256();
    size_t b = 0;
    for (; 8 * b + 8 <= count; b++) {
        __m256 x = _mm256_loadu_ps(src + 8 * b);
        nonfinite = _mm256_or_si256(nonfinite, _mm256_cmpeq_epi32(_mm256_and_si256(_mm256_castps_si256(x), expo), expo));
        __m256 pos = _mm256_cmp_ps(x, zero, _CMP_GE_OQ); /* -0 included */
        bits[b] = (uint8_t)_mm256_movemask_ps(pos);
        if (recon) {
            __m256 v = _mm256_blendv_ps(vneg, vs, pos);
            _mm256_storeu_ps(recon + 8 * b, fb_residual ? _mm256_sub_ps(x, v) : v);
        }
    }
    *bad = !_mm256_testz_si256(nonfinite, nonfinite);
    return b;
}

/* Elements of whole bytes; returns the elements done. */
__attribute__((target("avx2"))) static size_t decode_avx2(const uint8_t *bits, size_t count, float s,
                                                          float *out, int accumulate)
{
    const __m256i lane_bit = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
    const __m256 vs = _mm256_set1_ps(s), vneg = _mm256_set1_ps(-s);
    size_t i = 0;
    for (; i + 8 <= count; i += 8) {
        __m256i sel = _mm256_and_si256(_mm256_set1_epi32(bits[i >> 3]), lane_bit);
        __m256 v = _mm256_blendv_ps(vneg, vs, _mm256_castsi256_ps(_mm256_cmpeq_epi32(sel, lane_bit)));
        _mm256_storeu_ps(out + i, accumulate ? _mm256_add_ps(_mm256_loadu_ps(out + i), v) : v);
    }
    return i;
}
#endif

static ccl_result_t sign_encode(const ccl_codec_params_t *p, const float *src, size_t count,
                                uint64_t seed, uint8_t *out, size_t cap, size_t *len_p,
                                uint32_t hp[2], float *recon)
{
    float s = sign_magnitude(p->sign_scale, src, count);
    uint8_t *bits = out + 4;
    size_t b = 0;
    ccl_put_f32(out, s);
    int bad = 0;
#if defined(__x86_64__)
    if (ccl_simd_avx2())
        b = encode_avx2(src, count, s, bits, recon, p->fb_residual, &bad);
#endif
    for (; b < (count + 7) / 8; b++) {
        bits[b] = ccl_sign_byte(src, count, b, s, recon, p->fb_residual);
        for (size_t i = 8 * b; i < 8 * b + 8 && i < count; i++)
            bad |= !isfinite(src[i]);
    }
    if (bad)
        return ccl_nonfinite_error("sign", ccl_first_nonfinite(src, count));
    hp[0] = (uint32_t)p->sign_scale;
    hp[1] = 0;
    *len_p = 4 + (count + 7) / 8;
    return CCL_SUCCESS;
}

static ccl_result_t sign_check(const uint8_t *in, size_t len, const uint32_t hp[2], size_t count)
{
    size_t nbytes = (count + 7) / 8;
    float s;
    if (hp[0] > CCL_SIGN_SCALE_NONE || hp[1] != 0 || len != 4 + nbytes)
        return ccl_set_error(NULL, CCL_ERR_INVALID_PAYLOAD, "sign: %zu payload bytes, %zu expected",
                             len, 4 + nbytes);
    s = ccl_get_f32(in);
    if (!isfinite(s) || s < 0 || (hp[0] == CCL_SIGN_SCALE_NONE && s != 1.0f))
        return ccl_set_error(NULL, CCL_ERR_INVALID_PAYLOAD, "sign: magnitude %g", s);
    if (count % 8 && (in[4 + nbytes - 1] >> (count % 8)) != 0)
        return ccl_set_error(NULL, CCL_ERR_INVALID_PAYLOAD, "sign: bits set past the last element");
    return CCL_SUCCESS;
}

static ccl_result_t sign_decode(const uint8_t *in, size_t len, const uint32_t hp[2],
                                uint64_t seed, float *out, size_t count, int accumulate)
{
    CCL_CHECK(sign_check(in, len, hp, count));
    float s = ccl_get_f32(in);
    size_t i = 0;
#if defined(__x86_64__)
    if (ccl_simd_avx2())
        i = decode_avx2(in + 4, count, s, out, accumulate);
#endif
    decode_scalar(in + 4, i, count, s, out, accumulate);
    return CCL_SUCCESS;
}

const ccl_codec_ops_t ccl_codec_sign = {
    .size = sizeof(ccl_codec_ops_t), .name = "sign", .id = CCL_CODEC_ID_SIGN,
    .flags = CCL_CODEC_CHECKS_FINITE,
    .desc = "1 bit per element (sign, 0 counts as +) and one magnitude",
    .params = sign_params, .max_payload = sign_max_payload,
    .encode = sign_encode, .decode = sign_decode, .check = sign_check,
};
