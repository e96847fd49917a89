/* cast.c: fp16 or bf16 values, rounded to nearest even; 2 bytes per element. Values beyond
 * the format's range saturate to its largest finite value (+-65504 for fp16, about
 * +-3.39e38 for bf16) rather than becoming infinities. */
#include "compress/wire.h"

#include <math.h>
#include <string.h>

static const char *const cast_types[] = {"fp16", "bf16", NULL}; /* half_bf16 = index */

static const ccl_param_field_t cast_params[] = {
    {"type", "fp16", "fp16 (more precision) or bf16 (float32's range)", CCL_PARAM_ENUM,
     CCL_CODEC_PARAM(half_bf16), .names = cast_types},
    CCL_PARAM_END,
};

static size_t cast_max_payload(const ccl_codec_params_t *p, size_t count) { return 2 * count; }

/* Scalar references of the three loops, from element `from` on. The encoder returns
 * nonzero if the input holds a NaN or an infinity (its output is then of no use). */
static int encode_scalar(const float *src, size_t from, size_t count, int bf16, int fb_residual,
                         uint8_t *out, float *recon)
{
    int bad = 0;
    for (size_t i = from; i < count; i++) {
        bad |= !isfinite(src[i]);
        uint16_t h = ccl_cast_code(src[i], bf16);
        if (recon)
            recon[i] = ccl_fb_value(fb_residual, src[i], ccl_cast_value(h, bf16));
        out[2 * i] = (uint8_t)h;
        out[2 * i + 1] = (uint8_t)(h >> 8);
    }
    return bad;
}

/* Index of the first non-finite value from `from`, or count. */
static size_t check_scalar(const uint8_t *in, size_t from, size_t count, uint16_t expo)
{
    for (size_t i = from; i < count; i++)
        if (((in[2 * i] | in[2 * i + 1] << 8) & expo) == expo)
            return i;
    return count;
}

static void decode_scalar(const uint8_t *in, size_t from, size_t count, int bf16, float *out,
                          int acc)
{
    for (size_t i = from; i < count; i++) {
        float v = ccl_cast_value((uint16_t)(in[2 * i] | in[2 * i + 1] << 8), bf16);
        out[i] = acc ? out[i] + v : v;
    }
}

#if defined(__x86_64__)
#include <immintrin.h>
#define CAST_AVX2 __attribute__((target("avx2,f16c")))

/* 8 values as 16-bit codes, clamped as ccl_cast_code clamps them: fp16 (F16C rounds to
 * nearest even, as ccl_f2h does) or bf16 (ccl_f2bf's integer rounding; the input is finite,
 * so its NaN case never arises). */
CAST_AVX2 static __m128i code8(__m256 x, int bf16)
{
    const float top = bf16 ? CCL_BF16_MAX : 65504.0f;
    x = _mm256_max_ps(_mm256_min_ps(x, _mm256_set1_ps(top)), _mm256_set1_ps(-top));
    if (!bf16)
        return _mm256_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT);
    __m256i f = _mm256_castps_si256(x);
    __m256i odd = _mm256_and_si256(_mm256_srli_epi32(f, 16), _mm256_set1_epi32(1));
    f = _mm256_srli_epi32(_mm256_add_epi32(f, _mm256_add_epi32(_mm256_set1_epi32(0x7fff), odd)), 16);
    return _mm_packus_epi32(_mm256_castsi256_si128(f), _mm256_extracti128_si256(f, 1));
}

CAST_AVX2 static __m256 value8(__m128i h, int bf16)
{
    return bf16 ? _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16))
                : _mm256_cvtph_ps(h);
}

CAST_AVX2 static int encode_avx2(const float *src, size_t count, int bf16, int fb_residual,
                                 uint8_t *out, float *recon)
{
    const __m256i expo = _mm256_set1_epi32(0x7f800000);
    __m256i bad = _mm256_setzero_si256();
    size_t i = 0;
    for (; i + 8 <= count; i += 8) {
        __m256 x = _mm256_loadu_ps(src + i);
        bad = _mm256_or_si256(bad, _mm256_cmpeq_epi32(_mm256_and_si256(_mm256_castps_si256(x), expo), expo));
        __m128i h = code8(x, bf16);
        _mm_storeu_si128((__m128i *)(void *)(out + 2 * i), h);
        if (recon) {
            __m256 v = value8(h, bf16);
            _mm256_storeu_ps(recon + i, fb_residual ? _mm256_sub_ps(x, v) : v);
        }
    }
    return encode_scalar(src, i, count, bf16, fb_residual, out, recon) | !_mm256_testz_si256(bad, bad);
}

CAST_AVX2 static size_t check_avx2(const uint8_t *in, size_t count, uint16_t expo)
{
    const __m256i e = _mm256_set1_epi16((short)expo);
    size_t i = 0;
    for (; i + 16 <= count; i += 16) {
        __m256i h = _mm256_loadu_si256((const __m256i *)(const void *)(in + 2 * i));
        __m256i bad = _mm256_cmpeq_epi16(_mm256_and_si256(h, e), e);
        if (!_mm256_testz_si256(bad, bad))
            break; /* the scalar loop names the element */
    }
    return check_scalar(in, i, count, expo);
}

CAST_AVX2 static void decode_avx2(const uint8_t *in, size_t count, int bf16, float *out, int acc)
{
    size_t i = 0;
    for (; i + 8 <= count; i += 8) {
        __m256 v = value8(_mm_loadu_si128((const __m128i *)(const void *)(in + 2 * i)), bf16);
        _mm256_storeu_ps(out + i, acc ? _mm256_add_ps(_mm256_loadu_ps(out + i), v) : v);
    }
    decode_scalar(in, i, count, bf16, out, acc);
}
#endif

static ccl_result_t cast_encode(const ccl_codec_params_t *p, const float *src, size_t count,
                                uint64_t seed, uint8_t *out, size_t cap, size_t *len_p,
                                uint32_t hp[2], float *recon)
{
    int bad;
#if defined(__x86_64__)
    if (ccl_simd_avx2())
        bad = encode_avx2(src, count, p->half_bf16, p->fb_residual, out, recon);
    else
#endif
        bad = encode_scalar(src, 0, count, p->half_bf16, p->fb_residual, out, recon);
    if (bad)
        return ccl_nonfinite_error("cast", ccl_first_nonfinite(src, count));
    hp[0] = (uint32_t)p->half_bf16;
    hp[1] = 0;
    *len_p = 2 * count;
    return CCL_SUCCESS;
}

static ccl_result_t cast_check(const uint8_t *in, size_t len, const uint32_t hp[2], size_t count)
{
    if (hp[0] > 1 || hp[1] != 0 || len != 2 * count)
        return ccl_set_error(NULL, CCL_ERR_INVALID_PAYLOAD, "cast: bad parameters or length");
    /* All exponent bits set: an infinity or a NaN. */
    const uint16_t expo = hp[0] ? 0x7f80u : 0x7c00u;
    size_t bad;
#if defined(__x86_64__)
    if (ccl_simd_avx2())
        bad = check_avx2(in, count, expo);
    else
#endif
        bad = check_scalar(in, 0, count, expo);
    if (bad < count)
        return ccl_set_error(NULL, CCL_ERR_INVALID_PAYLOAD, "cast: non-finite value at %zu", bad);
    return CCL_SUCCESS;
}

static ccl_result_t cast_decode(const uint8_t *in, size_t len, const uint32_t hp[2],
                                uint64_t seed, float *out, size_t count, int acc)
{
    CCL_CHECK(cast_check(in, len, hp, count));
#if defined(__x86_64__)
    if (ccl_simd_avx2())
        decode_avx2(in, count, (int)hp[0], out, acc);
    else
#endif
        decode_scalar(in, 0, count, (int)hp[0], out, acc);
    return CCL_SUCCESS;
}

const ccl_codec_ops_t ccl_codec_cast = {
    .size = sizeof(ccl_codec_ops_t), .name = "cast", .id = CCL_CODEC_ID_CAST,
    .flags = CCL_CODEC_CHECKS_FINITE | CCL_CODEC_PER_ELEMENT,
    .desc = "fp16 or bf16 values (round to nearest even), 2 bytes per element",
    .params = cast_params, .max_payload = cast_max_payload,
    .encode = cast_encode, .decode = cast_decode, .check = cast_check,
};
