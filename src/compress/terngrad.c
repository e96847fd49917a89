/* terngrad.c: TernGrad (Wen et al.): every element becomes -s, 0 or +s, keeping x with
 * probability min(|x|/s, 1), so values beyond s are clipped to it. The scaler s is
 * clip * std(x) (clip = 2.5 by default; clip = 0 means max |x|) and all ranks use the largest
 * one (CCL_CODEC_SHARED_SCALE: the collective agrees on it before encoding). Payload: s as
 * float32, then 2-bit codes, four to a byte, LSB first: 0 zero, 1 +s, 2 -s (3 is refused). */
#include "compress/simd.h"
#include "compress/wire.h"

#include <float.h>
#include <math.h>
#include <string.h>

static const ccl_param_field_t terngrad_params[] = {
    {"clip", "2.5", "the scaler is clip * std(x); 0: max |x|", CCL_PARAM_REAL,
     CCL_CODEC_PARAM(clip), .lo = 0, .hi = 1e6},
    {"scale", "0", "a fixed scaler for every rank; 0: agreed per call from clip", CCL_PARAM_REAL,
     CCL_CODEC_PARAM(scale), .lo = 0, .hi = FLT_MAX},
    CCL_PARAM_END,
};

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

static void decode_scalar(const uint8_t *codes, size_t from, size_t count, float s, float *out,
                          int accumulate)
{
    for (size_t i = from; i < count; i++) {
        float v = ccl_tern_value((codes[i >> 2] >> (2 * (i & 3))) & 3, s);
        out[i] = accumulate ? out[i] + v : v;
    }
}

/* The first byte at or after `from` that holds a code 3 or a code past the last element, or
 * nbytes. */
static size_t check_scalar(const uint8_t *codes, size_t from, size_t nbytes, size_t count)
{
    for (size_t b = from; b < nbytes; b++) {
        unsigned tail = count % 4 && b == nbytes - 1 ? (unsigned)(0xff << (2 * (count % 4))) & 0xff : 0;
        if ((codes[b] & (codes[b] >> 1) & 0x55) || (codes[b] & tail))
            return b;
    }
    return nbytes;
}

#if defined(__x86_64__)
/* Bits 0-3 of n spread to bits 0, 2, 4, 6. */
static const uint8_t spread4[16] = {0x00, 0x01, 0x04, 0x05, 0x10, 0x11, 0x14, 0x15,
                                    0x40, 0x41, 0x44, 0x45, 0x50, 0x51, 0x54, 0x55};

/* Whole groups of 8 elements (two bytes of codes), as ccl_tern_byte makes them; returns the
 * elements done, and in *bad whether they hold a NaN or an infinity. */
CCL_AVX2 static size_t encode_avx2(const float *src, size_t count, float s, uint64_t seed,
                                   uint8_t *codes, float *recon, int fb_residual, int *bad)
{
    const __m256i expo = _mm256_set1_epi32(0x7f800000);
    __m256i nonfinite = _mm256_setzero_si256();
    const __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    const __m256 vs = _mm256_set1_ps(s), vneg = _mm256_set1_ps(-s), zero = _mm256_setzero_ps();
    const __m256 live = s > 0.0f ? _mm256_castsi256_ps(_mm256_set1_epi32(-1)) : zero;
    size_t i = 0;
    for (; i + 8 <= count; i += 8) {
        __m256 x = _mm256_loadu_ps(src + i);
        __m256 r = ccl_rng_unit8_avx2(seed, i);
        nonfinite = _mm256_or_si256(nonfinite, _mm256_cmpeq_epi32(_mm256_and_si256(_mm256_castps_si256(x), expo), expo));
        __m256 keep = _mm256_and_ps(live, _mm256_cmp_ps(_mm256_mul_ps(r, vs), _mm256_and_ps(x, absmask), _CMP_LT_OQ));
        __m256 neg = _mm256_cmp_ps(x, zero, _CMP_LT_OQ);
        unsigned k = (unsigned)_mm256_movemask_ps(keep), n = (unsigned)_mm256_movemask_ps(neg) & k;
        unsigned plus = k & ~n;
        codes[i >> 2] = (uint8_t)(spread4[plus & 15] | spread4[n & 15] << 1);
        codes[(i >> 2) + 1] = (uint8_t)(spread4[plus >> 4] | spread4[n >> 4] << 1);
        if (recon) {
            __m256 v = _mm256_and_ps(keep, _mm256_blendv_ps(vs, vneg, neg));
            _mm256_storeu_ps(recon + i, fb_residual ? _mm256_sub_ps(x, v) : v);
        }
    }
    *bad = !_mm256_testz_si256(nonfinite, nonfinite);
    return i;
}

/* As check_scalar, 32 bytes at a time until a bad one (the scalar loop names it). */
CCL_AVX2 static size_t check_avx2(const uint8_t *codes, size_t nbytes, size_t count)
{
    const __m256i lowbits = _mm256_set1_epi8(0x55);
    size_t b = 0;
    for (; b + 33 <= nbytes; b += 32) { /* the last byte, which may hold the tail, stays scalar */
        __m256i c = _mm256_loadu_si256((const __m256i *)(const void *)(codes + b));
        __m256i bad = _mm256_and_si256(_mm256_and_si256(c, _mm256_srli_epi16(c, 1)), lowbits);
        if (!_mm256_testz_si256(bad, bad))
            break;
    }
    return check_scalar(codes, b, nbytes, count);
}

/* Whole groups of 8 elements; returns the elements done. */
CCL_AVX2 static size_t decode_avx2(const uint8_t *codes, size_t count, float s, float *out,
                                   int accumulate)
{
    const __m256i shifts = _mm256_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14);
    const __m256i one = _mm256_set1_epi32(1), two = _mm256_set1_epi32(2), three = _mm256_set1_epi32(3);
    const __m256 vs = _mm256_set1_ps(s), vneg = _mm256_set1_ps(-s);
    size_t i = 0;
    for (; i + 8 <= count; i += 8) {
        int pair = codes[i >> 2] | codes[(i >> 2) + 1] << 8;
        __m256i c = _mm256_and_si256(_mm256_srlv_epi32(_mm256_set1_epi32(pair), shifts), three);
        __m256 v = _mm256_or_ps(_mm256_and_ps(_mm256_castsi256_ps(_mm256_cmpeq_epi32(c, one)), vs),
                                _mm256_and_ps(_mm256_castsi256_ps(_mm256_cmpeq_epi32(c, two)), vneg));
        _mm256_storeu_ps(out + i, accumulate ? _mm256_add_ps(_mm256_loadu_ps(out + i), v) : v);
    }
    return i;
}
#endif

static ccl_result_t terngrad_encode(const ccl_codec_params_t *p, const float *src, size_t count,
                                    uint64_t seed, uint8_t *out, size_t cap, size_t *len_p,
                                    uint32_t hp[2], float *recon)
{
    float s = p->scale > 0 ? p->scale : terngrad_local_scale(p, src, count);
    size_t b = 0;
    int bad = 0;
    ccl_put_f32(out, s);
#if defined(__x86_64__)
    if (ccl_simd_avx2())
        b = encode_avx2(src, count, s, seed, out + 4, recon, p->fb_residual, &bad) / 4;
#endif
    for (; b < (count + 3) / 4; b++) {
        out[4 + b] = ccl_tern_byte(src, count, b, s, seed, recon, p->fb_residual);
        for (size_t i = 4 * b; i < 4 * b + 4 && i < count; i++)
            bad |= !isfinite(src[i]);
    }
    if (bad)
        return ccl_nonfinite_error("terngrad", ccl_first_nonfinite(src, count));
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
    /* No code 3 (both bits of a pair set), and no codes past the last element. */
    size_t bad;
#if defined(__x86_64__)
    if (ccl_simd_avx2())
        bad = check_avx2(in + 4, nbytes, count);
    else
#endif
        bad = check_scalar(in + 4, 0, nbytes, count);
    if (bad < nbytes)
        return ccl_set_error(NULL, CCL_ERR_INVALID_PAYLOAD, "terngrad: bad code in byte %zu", bad);
    return CCL_SUCCESS;
}

static ccl_result_t terngrad_decode(const uint8_t *in, size_t len, const uint32_t hp[2],
                                    uint64_t seed, float *out, size_t count, int accumulate)
{
    CCL_CHECK(terngrad_check(in, len, hp, count));
    float s = ccl_get_f32(in);
    size_t i = 0;
#if defined(__x86_64__)
    if (ccl_simd_avx2())
        i = decode_avx2(in + 4, count, s, out, accumulate);
#endif
    decode_scalar(in + 4, i, count, s, out, accumulate);
    return CCL_SUCCESS;
}

const ccl_codec_ops_t ccl_codec_terngrad = {
    .size = sizeof(ccl_codec_ops_t), .name = "terngrad", .id = CCL_CODEC_ID_TERNGRAD,
    .flags = CCL_CODEC_SHARED_SCALE | CCL_CODEC_CHECKS_FINITE,
    .desc = "TernGrad: -s, 0 or +s per element (2 bits), s shared across ranks (their max)",
    .params = terngrad_params,
    .max_payload = terngrad_max_payload, .encode = terngrad_encode,
    .decode = terngrad_decode, .check = terngrad_check, .local_scale = terngrad_local_scale,
};
