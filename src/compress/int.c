/* int.c: bucketed max-min quantization (as CGX does): per bucket of B elements a minimum and
 * a unit (max-min)/(2^b-1) as float32, then b-bit codes, bucket after bucket, packed LSB
 * first. Nearest rounding errs by at most unit/2; stochastic rounding is unbiased. */
#include "wire.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static void int_defaults(ccl_codec_params_t *p)
{
    p->bits = 8;
    p->bucket = 512;
    p->rounding = CCL_ROUND_NEAREST;
}

static int int_set(ccl_codec_params_t *p, const char *k, const char *v)
{
    char *end;
    long x = strtol(v, &end, 10);
    if (strcmp(k, "bits") == 0) {
        if (*end != '\0' || x < 1 || x > 8)
            return -1;
        p->bits = (int)x;
    } else if (strcmp(k, "bucket") == 0) {
        if (*end != '\0' || x < 1 || x > (1L << 30))
            return -1;
        p->bucket = (uint32_t)x;
    } else if (strcmp(k, "round") == 0) {
        if (strcmp(v, "nearest") == 0)
            p->rounding = CCL_ROUND_NEAREST;
        else if (strcmp(v, "stochastic") == 0)
            p->rounding = CCL_ROUND_STOCHASTIC;
        else
            return -1;
    } else {
        return -1;
    }
    return 0;
}

static size_t nbuckets(size_t count, size_t b) { return (count + b - 1) / b; }

static size_t int_payload(unsigned bits, size_t bucket, size_t count)
{
    return 8 * nbuckets(count, bucket) + (count * bits + 7) / 8;
}

static size_t int_max_payload(const ccl_codec_params_t *p, size_t count)
{
    return int_payload((unsigned)p->bits, p->bucket, count);
}

static ccl_result_t int_encode(const ccl_codec_params_t *p, const float *src, size_t count,
                               uint64_t seed, uint8_t *out, size_t cap, size_t *len_p,
                               uint32_t hp[2], float *recon)
{
    const unsigned bits = (unsigned)p->bits, levels = (1u << bits) - 1;
    const size_t B = p->bucket, nb = nbuckets(count, B);
    uint8_t *codes = out + 8 * nb;
    uint64_t acc = 0;
    unsigned nacc = 0;
    size_t pos = 0;

    for (size_t b = 0; b < nb; b++) {
        size_t lo = b * B, hi = CCL_MIN(lo + B, count);
        float mn = src[lo], mx = src[lo];
        for (size_t i = lo + 1; i < hi; i++) {
            mn = src[i] < mn ? src[i] : mn;
            mx = src[i] > mx ? src[i] : mx;
        }
        float unit = (mx - mn) / (float)levels;
        /* A constant bucket (or one too narrow to resolve) is all zeros: exact. */
        float inv = unit > 0 && isfinite(unit) ? 1.0f / unit : 0.0f;
        if (inv == 0.0f || !isfinite(inv)) {
            unit = 0.0f;
            inv = 0.0f;
        }
        ccl_put_f32(out + 8 * b, mn);
        ccl_put_f32(out + 8 * b + 4, unit);
        for (size_t i = lo; i < hi; i++) {
            float r = p->rounding == CCL_ROUND_STOCHASTIC ? ccl_rng_unit(seed, i) : 0.5f;
            float qf = (src[i] - mn) * inv + r;
            unsigned q = qf <= 0 ? 0 : qf >= (float)levels ? levels : (unsigned)qf;
            if (recon)
                recon[i] = mn + unit * (float)q;
            acc |= (uint64_t)q << nacc;
            nacc += bits;
            if (nacc >= 32) {
                ccl_put_u32(codes + pos, (uint32_t)acc);
                pos += 4;
                acc >>= 32;
                nacc -= 32;
            }
        }
    }
    while (nacc > 0) {
        codes[pos++] = (uint8_t)acc;
        acc >>= 8;
        nacc = nacc > 8 ? nacc - 8 : 0;
    }
    hp[0] = bits | (unsigned)p->rounding << 8;
    hp[1] = (uint32_t)B;
    *len_p = 8 * nb + pos;
    return CCL_SUCCESS;
}

static ccl_result_t int_decode(const uint8_t *in, size_t len, const uint32_t hp[2],
                               uint64_t seed, float *out, size_t count, int accumulate)
{
    unsigned bits = hp[0] & 0xff, levels;
    size_t B = hp[1], nb;
    if (bits < 1 || bits > 8 || (hp[0] >> 8) > 1 || B == 0)
        return ccl_set_error(NULL, CCL_ERR_INVALID_PAYLOAD, "int: bad parameters %u/%zu", hp[0], B);
    nb = nbuckets(count, B);
    if (len != int_payload(bits, B, count))
        return ccl_set_error(NULL, CCL_ERR_INVALID_PAYLOAD, "int: %zu payload bytes, %zu expected",
                             len, int_payload(bits, B, count));
    levels = (1u << bits) - 1;
    const uint8_t *codes = in + 8 * nb;
    uint64_t acc = 0;
    unsigned nacc = 0;
    size_t pos = 0, ncode_bytes = len - 8 * nb;
    for (size_t b = 0; b < nb; b++) {
        float mn = ccl_get_f32(in + 8 * b), unit = ccl_get_f32(in + 8 * b + 4);
        if (!isfinite(mn) || !isfinite(unit) || unit < 0 || !isfinite(mn + unit * (float)levels))
            return ccl_set_error(NULL, CCL_ERR_INVALID_PAYLOAD, "int: bucket %zu has scale %g/%g",
                                 b, mn, unit);
        size_t lo = b * B, hi = CCL_MIN(lo + B, count);
        for (size_t i = lo; i < hi; i++) {
            if (nacc < bits) {
                /* Refill a byte at a time; the length check above makes this in bounds. */
                acc |= (uint64_t)(pos < ncode_bytes ? codes[pos] : 0) << nacc;
                pos++;
                nacc += 8;
            }
            unsigned q = (unsigned)(acc & levels);
            acc >>= bits;
            nacc -= bits;
            float v = mn + unit * (float)q;
            out[i] = accumulate ? out[i] + v : v;
        }
    }
    return CCL_SUCCESS;
}

const ccl_codec_ops_t ccl_codec_int = {
    .size = sizeof(ccl_codec_ops_t), .name = "int", .id = CCL_CODEC_ID_INT, .flags = 0,
    .desc = "bucketed max-min quantization to 1-8 bits, nearest or stochastic rounding",
    .params_doc = "bits=1..8 bucket=N round=nearest|stochastic",
    .defaults = int_defaults, .set_param = int_set, .max_payload = int_max_payload,
    .encode = int_encode, .decode = int_decode,
};
