/* cast.c: fp16 or bf16 values, rounded to nearest even; 2 bytes per element. Values beyond
 * the format's range saturate to its largest finite value (+-65504 for fp16, about
 * +-3.39e38 for bf16) rather than becoming infinities. */
#include "wire.h"

#include <math.h>
#include <string.h>

static void cast_defaults(ccl_codec_params_t *p) { p->half_bf16 = 0; }

static int cast_set(ccl_codec_params_t *p, const char *k, const char *v)
{
    if (strcmp(k, "type") != 0)
        return -1;
    if (strcmp(v, "fp16") == 0)
        p->half_bf16 = 0;
    else if (strcmp(v, "bf16") == 0)
        p->half_bf16 = 1;
    else
        return -1;
    return 0;
}

static size_t cast_max_payload(const ccl_codec_params_t *p, size_t count) { return 2 * count; }

static ccl_result_t cast_encode(const ccl_codec_params_t *p, const float *src, size_t count,
                                uint64_t seed, uint8_t *out, size_t cap, size_t *len_p,
                                uint32_t hp[2], float *recon)
{
    for (size_t i = 0; i < count; i++) {
        uint16_t h = ccl_cast_code(src[i], p->half_bf16);
        if (recon)
            recon[i] = ccl_fb_value(p->fb_residual, src[i], ccl_cast_value(h, p->half_bf16));
        out[2 * i] = (uint8_t)h;
        out[2 * i + 1] = (uint8_t)(h >> 8);
    }
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
    for (size_t i = 0; i < count; i++)
        if (((in[2 * i] | in[2 * i + 1] << 8) & expo) == expo)
            return ccl_set_error(NULL, CCL_ERR_INVALID_PAYLOAD, "cast: non-finite value at %zu", i);
    return CCL_SUCCESS;
}

static ccl_result_t cast_decode(const uint8_t *in, size_t len, const uint32_t hp[2],
                                uint64_t seed, float *out, size_t count, int acc)
{
    CCL_CHECK(cast_check(in, len, hp, count));
    for (size_t i = 0; i < count; i++) {
        float v = ccl_cast_value((uint16_t)(in[2 * i] | in[2 * i + 1] << 8), (int)hp[0]);
        out[i] = acc ? out[i] + v : v;
    }
    return CCL_SUCCESS;
}

const ccl_codec_ops_t ccl_codec_cast = {
    .size = sizeof(ccl_codec_ops_t), .name = "cast", .id = CCL_CODEC_ID_CAST, .flags = 0,
    .desc = "fp16 or bf16 values (round to nearest even), 2 bytes per element",
    .params_doc = "type=fp16|bf16",
    .defaults = cast_defaults, .set_param = cast_set, .max_payload = cast_max_payload,
    .encode = cast_encode, .decode = cast_decode, .check = cast_check,
};
