/* int.c: bucketed max-min quantization (as CGX does): per bucket of B elements a minimum and
 * a unit (max-min)/(2^b-1) as float32, then b-bit codes, bucket after bucket, packed LSB
 * first. Nearest rounding errs by at most unit/2; stochastic rounding is unbiased. */
#include "compress/bitpack.h"
#include "compress/simd.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const ccl_param_field_t int_params[] = {
    {"bits", "8", "bits per code", CCL_PARAM_INT, CCL_CODEC_PARAM(bits), .lo = 1, .hi = 8},
    {"bucket", "512", "elements per bucket, each with its own minimum and unit", CCL_PARAM_INT,
     CCL_CODEC_PARAM(bucket), .lo = 1, .hi = 1 << 30},
    {"round", "nearest", "nearest errs by at most unit/2; stochastic is unbiased",
     CCL_PARAM_ENUM, CCL_CODEC_PARAM(rounding), .names = ccl_rounding_names},
    CCL_PARAM_END,
};

static size_t nbuckets(size_t count, size_t b) { return (count + b - 1) / b; }

static size_t int_payload(unsigned bits, size_t bucket, size_t count)
{
    return 8 * nbuckets(count, bucket) + (count * bits + 7) / 8;
}

static size_t int_max_payload(const ccl_codec_params_t *p, size_t count)
{
    return int_payload((unsigned)p->bits, p->bucket, count);
}

/* Hot loops: a scalar reference, and AVX2 versions picked at run time that must produce
 * the same bytes (tests/test_codec.c checks). The input is known finite. */
#define INT_VEC __attribute__((target_clones("avx2", "default")))

/* Returns nonzero if x holds a NaN or an infinity. */
static int minmax_scalar(const float *x, size_t n, float *mn_p, float *mx_p)
{
    float mn = x[0], mx = x[0];
    int nonfinite = !isfinite(x[0]);
    for (size_t i = 1; i < n; i++) {
        mn = x[i] < mn ? x[i] : mn;
        mx = x[i] > mx ? x[i] : mx;
        nonfinite |= !isfinite(x[i]);
    }
    *mn_p = mn;
    *mx_p = mx;
    return nonfinite;
}

static void quantize_scalar(const float *x, size_t n, float mn, float inv, float levels,
                            uint8_t *q)
{
    for (size_t i = 0; i < n; i++)
        q[i] = (uint8_t)ccl_int_code(x[i], mn, inv, levels, 0.5f);
}

#if defined(__x86_64__)
#include <immintrin.h>

__attribute__((target("avx2"))) static int minmax_avx2(const float *x, size_t n,
                                                       float *mn_p, float *mx_p)
{
    __m256 vmn = _mm256_set1_ps(x[0]), vmx = vmn;
    const __m256i expo = _mm256_set1_epi32(0x7f800000);
    __m256i bad = _mm256_setzero_si256();
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_loadu_ps(x + i);
        vmn = _mm256_min_ps(vmn, v);
        vmx = _mm256_max_ps(vmx, v);
        /* Exponent all ones: NaN or infinity. Checked here, in the pass that reads x. */
        __m256i e = _mm256_and_si256(_mm256_castps_si256(v), expo);
        bad = _mm256_or_si256(bad, _mm256_cmpeq_epi32(e, expo));
    }
    float a[8], b[8];
    _mm256_storeu_ps(a, vmn);
    _mm256_storeu_ps(b, vmx);
    float mn = a[0], mx = b[0];
    for (int k = 1; k < 8; k++) {
        mn = a[k] < mn ? a[k] : mn;
        mx = b[k] > mx ? b[k] : mx;
    }
    int nonfinite = !_mm256_testz_si256(bad, bad);
    for (; i < n; i++) {
        mn = x[i] < mn ? x[i] : mn;
        mx = x[i] > mx ? x[i] : mx;
        nonfinite |= !isfinite(x[i]);
    }
    *mn_p = mn;
    *mx_p = mx;
    return nonfinite;
}

/* Codes of x[0, n); stochastic: offsets from the generator at (seed, base + i), else 0.5.
 * Returns the elements done (whole groups of 32). */
__attribute__((target("avx2"))) static size_t quantize_avx2(const float *x, size_t n, float mn,
                                                            float inv, float levels, int stochastic,
                                                            uint64_t seed, size_t base, uint8_t *q)
{
    const __m256 vmn = _mm256_set1_ps(mn), vinv = _mm256_set1_ps(inv);
    const __m256 half = _mm256_set1_ps(0.5f), zero = _mm256_setzero_ps();
    const __m256 top = _mm256_set1_ps(levels);
    const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m256i c[4];
        for (int k = 0; k < 4; k++) {
            __m256 off = stochastic ? ccl_rng_unit8_avx2(seed, base + i + 8 * k) : half;
            /* Same operations, in the same order, as the scalar loop (no fused multiply-add). */
            __m256 v = _mm256_add_ps(_mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(x + i + 8 * k), vmn), vinv), off);
            v = _mm256_min_ps(_mm256_max_ps(v, zero), top);
            c[k] = _mm256_cvttps_epi32(v);
        }
        __m256i w = _mm256_packus_epi16(_mm256_packus_epi32(c[0], c[1]),
                                        _mm256_packus_epi32(c[2], c[3]));
        _mm256_storeu_si256((__m256i *)(void *)(q + i), _mm256_permutevar8x32_epi32(w, order));
    }
    return i;
}
#endif

static int bucket_minmax(const float *x, size_t n, float *mn_p, float *mx_p)
{
    int nonfinite;
#if defined(__x86_64__)
    if (ccl_simd_avx2())
        nonfinite = minmax_avx2(x, n, mn_p, mx_p);
    else
#endif
        nonfinite = minmax_scalar(x, n, mn_p, mx_p);
    /* -0 and +0 compare equal: which one min() returns depends on the order of the
     * comparisons. Canonicalise so every implementation writes the same bytes. */
    *mn_p += 0.0f;
    *mx_p += 0.0f;
    return nonfinite;
}

static void quantize_nearest(const float *x, size_t n, float mn, float inv, float levels,
                             uint8_t *q)
{
    size_t i = 0;
#if defined(__x86_64__)
    if (ccl_simd_avx2())
        i = quantize_avx2(x, n, mn, inv, levels, 0, 0, 0, q);
#endif
    quantize_scalar(x + i, n - i, mn, inv, levels, q + i);
}

static void quantize_stochastic(const float *x, size_t n, size_t base, uint64_t seed,
                                float mn, float inv, float levels, uint8_t *q)
{
    size_t i = 0;
#if defined(__x86_64__)
    if (ccl_simd_avx2())
        i = quantize_avx2(x, n, mn, inv, levels, 1, seed, base, q);
#endif
    for (; i < n; i++)
        q[i] = (uint8_t)ccl_int_code(x[i], mn, inv, levels, ccl_rng_unit(seed, base + i));
}

#define INT_TILE 4096

static ccl_result_t int_encode(const ccl_codec_params_t *p, const float *src, size_t count,
                               uint64_t seed, uint8_t *out, size_t cap, size_t *len_p,
                               uint32_t hp[2], float *recon)
{
    const unsigned bits = (unsigned)p->bits, levels = (1u << bits) - 1;
    const size_t B = p->bucket, nb = nbuckets(count, B);
    packer_t pk = {.out = out + 8 * nb, .bits = bits};
    uint8_t q[INT_TILE]; /* codes of one tile, a byte each, packed right after */

    for (size_t b = 0; b < nb; b++) {
        size_t lo = b * B, n = CCL_MIN(B, count - lo);
        float mn, mx;
        if (bucket_minmax(src + lo, n, &mn, &mx))
            return ccl_nonfinite_error("int", lo + ccl_first_nonfinite(src + lo, n));
        float unit, inv;
        ccl_int_scale(mn, mx, levels, &unit, &inv);
        ccl_put_f32(out + 8 * b, mn);
        ccl_put_f32(out + 8 * b + 4, unit);
        for (size_t t = 0; t < n; t += INT_TILE) {
            size_t m = CCL_MIN((size_t)INT_TILE, n - t);
            /* 8-bit codes need no packing: quantize straight into the payload. */
            uint8_t *dst = bits == 8 ? pk.out + pk.pos : q;
            if (p->rounding == CCL_ROUND_STOCHASTIC)
                quantize_stochastic(src + lo + t, m, lo + t, seed, mn, inv, (float)levels, dst);
            else
                quantize_nearest(src + lo + t, m, mn, inv, (float)levels, dst);
            if (recon && p->fb_residual)
                for (size_t i = 0; i < m; i++)
                    recon[lo + t + i] = src[lo + t + i] - ccl_int_value(dst[i], mn, unit);
            else if (recon)
                for (size_t i = 0; i < m; i++)
                    recon[lo + t + i] = ccl_int_value(dst[i], mn, unit);
            if (bits == 8)
                pk.pos += m;
            else
                pack_codes(&pk, q, m);
        }
    }
    pack_flush(&pk);
    hp[0] = bits | (unsigned)p->rounding << 8;
    hp[1] = (uint32_t)B;
    *len_p = 8 * nb + pk.pos;
    return CCL_SUCCESS;
}

static INT_VEC void dequant8(const uint8_t *c, size_t n, float mn, float unit, float *out,
                             int accumulate)
{
    if (accumulate)
        for (size_t i = 0; i < n; i++)
            out[i] += mn + unit * (float)c[i];
    else
        for (size_t i = 0; i < n; i++)
            out[i] = mn + unit * (float)c[i];
}

/* n codes of 4 bits starting at nibble `first` (0 or 1) of c. */
static INT_VEC void dequant4(const uint8_t *c, unsigned first, size_t n, float mn, float unit,
                             float *out, int accumulate)
{
    size_t i = 0;
    if (first && n > 0) {
        float v = mn + unit * (float)(c[0] >> 4);
        out[0] = accumulate ? out[0] + v : v;
        c++;
        i = 1;
    }
    size_t pairs = (n - i) / 2;
    float *o = out + i;
    if (accumulate)
        for (size_t k = 0; k < pairs; k++) {
            o[2 * k] += mn + unit * (float)(c[k] & 15);
            o[2 * k + 1] += mn + unit * (float)(c[k] >> 4);
        }
    else
        for (size_t k = 0; k < pairs; k++) {
            o[2 * k] = mn + unit * (float)(c[k] & 15);
            o[2 * k + 1] = mn + unit * (float)(c[k] >> 4);
        }
    if ((n - i) & 1) {
        float v = mn + unit * (float)(c[pairs] & 15);
        out[n - 1] = accumulate ? out[n - 1] + v : v;
    }
}

/* The parameters and the length; *bits_p and *bucket_p for the caller. */
static ccl_result_t int_check_layout(size_t len, const uint32_t hp[2], size_t count,
                                     unsigned *bits_p, size_t *bucket_p)
{
    unsigned bits = hp[0] & 0xff;
    size_t B = hp[1];
    if (bits < 1 || bits > 8 || (hp[0] >> 8) > 1 || B == 0)
        return ccl_set_error(NULL, CCL_ERR_INVALID_PAYLOAD, "int: bad parameters %u/%zu", hp[0], B);
    if (len != int_payload(bits, B, count))
        return ccl_set_error(NULL, CCL_ERR_INVALID_PAYLOAD, "int: %zu payload bytes, %zu expected",
                             len, int_payload(bits, B, count));
    *bits_p = bits;
    *bucket_p = B;
    return CCL_SUCCESS;
}

/* Bucket b's minimum and step: finite, a step not negative, and the top level finite. */
static ccl_result_t int_check_bucket(const uint8_t *in, size_t b, unsigned levels, float *mn_p,
                                     float *unit_p)
{
    float mn = ccl_get_f32(in + 8 * b), unit = ccl_get_f32(in + 8 * b + 4);
    if (!isfinite(mn) || !isfinite(unit) || unit < 0 || !isfinite(mn + unit * (float)levels))
        return ccl_set_error(NULL, CCL_ERR_INVALID_PAYLOAD, "int: bucket %zu has scale %g/%g",
                             b, mn, unit);
    *mn_p = mn;
    *unit_p = unit;
    return CCL_SUCCESS;
}

static ccl_result_t int_check(const uint8_t *in, size_t len, const uint32_t hp[2], size_t count)
{
    unsigned bits = 1;
    size_t B = 1;
    float mn = 0, unit = 0;
    CCL_CHECK(int_check_layout(len, hp, count, &bits, &B));
    for (size_t b = 0; b < nbuckets(count, B); b++)
        CCL_CHECK(int_check_bucket(in, b, (1u << bits) - 1, &mn, &unit));
    return CCL_SUCCESS;
}

static ccl_result_t int_decode(const uint8_t *in, size_t len, const uint32_t hp[2],
                               uint64_t seed, float *out, size_t count, int accumulate)
{
    unsigned bits = 1, levels;
    size_t B = 1, nb;
    CCL_CHECK(int_check_layout(len, hp, count, &bits, &B));
    nb = nbuckets(count, B);
    levels = (1u << bits) - 1;
    const uint8_t *codes = in + 8 * nb;
    for (size_t b = 0; b < nb; b++) {
        float mn = 0, unit = 0;
        CCL_CHECK(int_check_bucket(in, b, levels, &mn, &unit));
        size_t lo = b * B, hi = CCL_MIN(lo + B, count);
        /* The length check above guarantees every code below lies inside the payload. */
        if (bits == 8) {
            dequant8(codes + lo, hi - lo, mn, unit, out + lo, accumulate);
            continue;
        }
        if (bits == 4) {
            dequant4(codes + lo / 2, (unsigned)(lo & 1), hi - lo, mn, unit, out + lo, accumulate);
            continue;
        }
        for (size_t i = lo; i < hi; i++) {
            float v = ccl_int_value(ccl_code_at(codes, len - 8 * nb, i, bits), mn, unit);
            out[i] = accumulate ? out[i] + v : v;
        }
    }
    return CCL_SUCCESS;
}

const ccl_codec_ops_t ccl_codec_int = {
    .size = sizeof(ccl_codec_ops_t), .name = "int", .id = CCL_CODEC_ID_INT,
    .flags = CCL_CODEC_CHECKS_FINITE,
    .desc = "bucketed max-min quantization to 1-8 bits, nearest or stochastic rounding",
    .params = int_params, .max_payload = int_max_payload,
    .encode = int_encode, .decode = int_decode, .check = int_check,
};
