/* qsgd.c: QSGD (Alistarh et al.): per bucket a norm (L2, or max as in practical bucketed
 * versions), then per element a sign bit and a level l in 0..s, s = 2^(bits-1) - 1, value =
 * sign * norm * l / s. Stochastic rounding between levels makes it unbiased. */
#include "compress/bitpack.h"
#include "compress/simd.h"

#include <float.h>
#include <math.h>
#include <string.h>

static const char *const qsgd_norms[] = {"l2", "max", NULL}; /* ccl_norm_t order */

static const ccl_param_field_t qsgd_params[] = {
    {"bits", "4", "bits per element: a sign bit and bits-1 for the level", CCL_PARAM_INT,
     CCL_CODEC_PARAM(bits), .lo = 2, .hi = 8},
    {"bucket", "512", "elements per bucket, each with its own norm", CCL_PARAM_INT,
     CCL_CODEC_PARAM(bucket), .lo = 1, .hi = 1 << 30},
    {"norm", "max", "the bucket's norm: L2 (the paper's) or max |x|", CCL_PARAM_ENUM,
     CCL_CODEC_PARAM(norm), .names = qsgd_norms},
    {"round", "stochastic", "stochastic between levels (unbiased) or nearest", CCL_PARAM_ENUM,
     CCL_CODEC_PARAM(rounding), .names = ccl_rounding_names},
    CCL_PARAM_END,
};

static size_t qsgd_payload(unsigned bits, size_t bucket, size_t count)
{
    return 4 * ((count + bucket - 1) / bucket) + (count * bits + 7) / 8;
}

static size_t qsgd_max_payload(const ccl_codec_params_t *p, size_t count)
{
    return qsgd_payload((unsigned)p->bits, p->bucket, count);
}

/* The reference loops. Codes of elements [from, n) of a tile whose first element has index
 * `at` in the buffer; recon's entries likewise (NULL: none). Returns nonzero if x holds a NaN
 * or an infinity there. */
static int codes_scalar(const float *x, size_t from, size_t n, uint64_t at, float inv,
                        float unit, unsigned s, int stochastic, uint64_t seed, uint8_t *q,
                        float *recon, int fb_residual)
{
    int bad = 0;
    for (size_t i = from; i < n; i++) {
        bad |= !isfinite(x[i]);
        q[i] = (uint8_t)ccl_qsgd_code(x[i], inv, s, stochastic, seed, at + i);
        if (recon)
            recon[i] = ccl_fb_value(fb_residual, x[i], ccl_qsgd_value(q[i], unit, s));
    }
    return bad;
}

static void values_scalar(const uint8_t *q, size_t from, size_t n, float unit, unsigned s,
                          float *out, int accumulate)
{
    for (size_t i = from; i < n; i++) {
        float v = ccl_qsgd_value(q[i], unit, s);
        out[i] = accumulate ? out[i] + v : v;
    }
}

static float max_abs_scalar(const float *x, size_t n)
{
    float mx = 0;
    for (size_t i = 0; i < n; i++)
        mx = fabsf(x[i]) > mx ? fabsf(x[i]) : mx;
    return mx;
}

#if defined(__x86_64__)
CCL_AVX2 static float max_abs_avx2(const float *x, size_t n)
{
    const __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    __m256 m = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        m = _mm256_max_ps(_mm256_and_ps(_mm256_loadu_ps(x + i), absmask), m);
    float lanes[8], mx = max_abs_scalar(x + i, n - i);
    _mm256_storeu_ps(lanes, m);
    for (int k = 0; k < 8; k++) /* finite input: the largest in any order */
        mx = lanes[k] > mx ? lanes[k] : mx;
    return mx;
}

/* 8 codes as ccl_qsgd_code makes them, as 32-bit lanes; their values (ccl_qsgd_value) into
 * *v. */
CCL_AVX2 static __m256i codes8(__m256 x, __m256 r, __m256 inv, __m256 unit, unsigned s,
                               int stochastic, __m256 *v)
{
    const __m256 zero = _mm256_setzero_ps(), top = _mm256_set1_ps((float)s);
    const __m256i vs = _mm256_set1_epi32((int)s);
    __m256 a = _mm256_mul_ps(_mm256_and_ps(x, _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff))), inv);
    /* a > 0 (not NaN) truncated, at most s */
    __m256i l = _mm256_cvttps_epi32(_mm256_min_ps(_mm256_and_ps(a, _mm256_cmp_ps(a, zero, _CMP_GT_OQ)), top));
    __m256 frac = _mm256_sub_ps(a, _mm256_cvtepi32_ps(l));
    __m256 up = stochastic ? _mm256_cmp_ps(r, frac, _CMP_LT_OQ)
                           : _mm256_cmp_ps(frac, _mm256_set1_ps(0.5f), _CMP_GE_OQ);
    l = _mm256_sub_epi32(l, _mm256_and_si256(_mm256_castps_si256(up), _mm256_cmpgt_epi32(vs, l)));
    __m256i neg = _mm256_and_si256(_mm256_castps_si256(_mm256_cmp_ps(x, zero, _CMP_LT_OQ)),
                                   _mm256_cmpgt_epi32(l, _mm256_setzero_si256()));
    *v = _mm256_mul_ps(_mm256_blendv_ps(unit, _mm256_xor_ps(unit, _mm256_set1_ps(-0.0f)), _mm256_castsi256_ps(neg)),
                       _mm256_cvtepi32_ps(l));
    return _mm256_or_si256(l, _mm256_and_si256(neg, _mm256_set1_epi32((int)s + 1)));
}

CCL_AVX2 static int codes_avx2(const float *x, size_t n, uint64_t at, float inv, float unit,
                               unsigned s, int stochastic, uint64_t seed, uint8_t *q,
                               float *recon, int fb_residual)
{
    const __m256 vinv = _mm256_set1_ps(inv), vunit = _mm256_set1_ps(unit);
    const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7), expo = _mm256_set1_epi32(0x7f800000);
    __m256i bad = _mm256_setzero_si256();
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m256i c[4];
        for (int k = 0; k < 4; k++) {
            __m256 xv = _mm256_loadu_ps(x + i + 8 * k), v;
            bad = _mm256_or_si256(bad, _mm256_cmpeq_epi32(_mm256_and_si256(_mm256_castps_si256(xv), expo), expo));
            __m256 r = stochastic ? ccl_rng_unit8_avx2(seed, at + i + 8 * k) : _mm256_setzero_ps();
            c[k] = codes8(xv, r, vinv, vunit, s, stochastic, &v);
            if (recon)
                _mm256_storeu_ps(recon + i + 8 * k, fb_residual ? _mm256_sub_ps(xv, v) : v);
        }
        __m256i w = _mm256_packus_epi16(_mm256_packus_epi32(c[0], c[1]), _mm256_packus_epi32(c[2], c[3]));
        _mm256_storeu_si256((__m256i *)(void *)(q + i), _mm256_permutevar8x32_epi32(w, order));
    }
    return codes_scalar(x, i, n, at, inv, unit, s, stochastic, seed, q, recon, fb_residual) |
           !_mm256_testz_si256(bad, bad);
}

CCL_AVX2 static void values_avx2(const uint8_t *q, size_t n, float unit, unsigned s, float *out,
                                 int accumulate)
{
    const __m256i vs = _mm256_set1_epi32((int)s), sbit = _mm256_set1_epi32((int)s + 1);
    const __m256 vunit = _mm256_set1_ps(unit), vneg = _mm256_set1_ps(-unit);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256i c = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(const void *)(q + i)));
        __m256i l = _mm256_and_si256(c, vs);
        __m256i neg = _mm256_andnot_si256(_mm256_cmpeq_epi32(_mm256_and_si256(c, sbit), _mm256_setzero_si256()),
                                          _mm256_cmpgt_epi32(l, _mm256_setzero_si256()));
        __m256 v = _mm256_mul_ps(_mm256_blendv_ps(vunit, vneg, _mm256_castsi256_ps(neg)), _mm256_cvtepi32_ps(l));
        _mm256_storeu_ps(out + i, accumulate ? _mm256_add_ps(_mm256_loadu_ps(out + i), v) : v);
    }
    values_scalar(q, i, n, unit, s, out, accumulate);
}
#endif

/* The bucket's norm: the largest |x|, or the L2 norm from elem.h's fixed-order sum, so that
 * the GPU encoder (cuda/qsgd_codec.cu) finds the same bits. */
static float bucket_norm(const float *x, size_t n, ccl_norm_t norm)
{
    if (norm == CCL_NORM_MAX) {
#if defined(__x86_64__)
        if (ccl_simd_avx2())
            return max_abs_avx2(x, n);
#endif
        return max_abs_scalar(x, n);
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
            size_t m = CCL_MIN((size_t)QSGD_TILE, n - t), at = lo + t;
            float *rc = recon ? recon + at : NULL;
            int bad;
#if defined(__x86_64__)
            if (ccl_simd_avx2())
                bad = codes_avx2(src + at, m, at, inv, unit, s, stochastic, seed, q, rc, p->fb_residual);
            else
#endif
                bad = codes_scalar(src + at, 0, m, at, inv, unit, s, stochastic, seed, q, rc, p->fb_residual);
            if (bad)
                return ccl_nonfinite_error("qsgd", ccl_first_nonfinite(src, count));
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
    uint8_t q[QSGD_TILE];
    for (size_t b = 0; b < nb; b++) {
        float unit = ccl_qsgd_unit(ccl_get_f32(in + 4 * b), s);
        for (size_t t = b * B, hi = CCL_MIN(b * B + B, count); t < hi; t += QSGD_TILE) {
            size_t m = CCL_MIN((size_t)QSGD_TILE, hi - t);
            unpack_codes(&up, q, m);
#if defined(__x86_64__)
            if (ccl_simd_avx2())
                values_avx2(q, m, unit, s, out + t, accumulate);
            else
#endif
                values_scalar(q, 0, m, unit, s, out + t, accumulate);
        }
    }
    return CCL_SUCCESS;
}

const ccl_codec_ops_t ccl_codec_qsgd = {
    .size = sizeof(ccl_codec_ops_t), .name = "qsgd", .id = CCL_CODEC_ID_QSGD,
    .flags = CCL_CODEC_CHECKS_FINITE,
    .desc = "QSGD: per-bucket norm, sign and 2^(bits-1)-1 levels, unbiased stochastic rounding",
    .params = qsgd_params, .max_payload = qsgd_max_payload,
    .encode = qsgd_encode, .decode = qsgd_decode, .check = qsgd_check,
};
