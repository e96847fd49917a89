/* ef.c: classic error feedback with checkpointing and a non-finite-input policy. */
#include "ef.h"
#include "wire.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define EF_MAGIC   0x45465a43u /* "CZFE" */
#define EF_VERSION 1u
#define EF_HDR_LEN 24u

ccl_result_t ccl_ef_create(size_t count, ccl_ef_t **ef_p)
{
    ccl_ef_t *ef = calloc(1, sizeof(*ef));
    size_t n = CCL_MAX(count, (size_t)1);
    /* The per-call buffers are allocated once here, not on every encode. */
    if (ef == NULL || (ef->residual = calloc(n, sizeof(float))) == NULL ||
        (ef->scratch = calloc(2 * n, sizeof(float))) == NULL) {
        if (ef != NULL)
            free(ef->residual);
        free(ef);
        return ccl_set_error(NULL, CCL_ERR_NO_MEMORY, "no memory for %zu residuals", count);
    }
    ef->count = count;
    *ef_p = ef;
    return CCL_SUCCESS;
}

void ccl_ef_destroy(ccl_ef_t *ef)
{
    if (ef != NULL) {
        free(ef->residual);
        free(ef->scratch);
    }
    free(ef);
}

void ccl_ef_reset(ccl_ef_t *ef)
{
    memset(ef->residual, 0, ef->count * sizeof(float));
    ef->steps = ef->skipped = 0;
}

ccl_result_t ccl_ef_encode(ccl_ef_t *ef, const ccl_codec_t *codec, const float *g,
                           uint64_t seed, void *dst, size_t cap, size_t *len_p)
{
    size_t n = ef->count;
    float *p = ef->scratch, *recon = ef->scratch + CCL_MAX(n, (size_t)1);
    ccl_result_t res;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(g[i])) {
            ef->skipped++;
            return ccl_set_error(NULL, CCL_ERR_INVALID_ARG,
                                 "non-finite gradient at index %zu: step skipped, error "
                                 "feedback kept", i);
        }
        p[i] = g[i] + ef->residual[i];
        /* A finite g plus a finite residual can still overflow: keep the gradient alone. */
        if (!isfinite(p[i]))
            p[i] = g[i];
    }
    res = ccl_codec_encode(codec, p, n, seed, dst, cap, len_p, recon);
    if (res == CCL_SUCCESS) {
        for (size_t i = 0; i < n; i++)
            ef->residual[i] = p[i] - recon[i];
        ef->steps++;
    }
    return res;
}

static void put_u64(uint8_t *b, uint64_t v)
{
    ccl_put_u32(b, (uint32_t)v);
    ccl_put_u32(b + 4, (uint32_t)(v >> 32));
}
static uint64_t get_u64(const uint8_t *b)
{
    return (uint64_t)ccl_get_u32(b) | (uint64_t)ccl_get_u32(b + 4) << 32;
}

size_t ccl_ef_saved_size(const ccl_ef_t *ef) { return EF_HDR_LEN + 4 * ef->count; }

ccl_result_t ccl_ef_save(const ccl_ef_t *ef, void *buf, size_t cap, size_t *len_p)
{
    uint8_t *b = buf;
    if (b == NULL || cap < ccl_ef_saved_size(ef))
        return ccl_set_error(NULL, CCL_ERR_INVALID_ARG, "checkpoint needs %zu bytes",
                             ccl_ef_saved_size(ef));
    ccl_put_u32(b, EF_MAGIC);
    ccl_put_u32(b + 4, EF_VERSION);
    put_u64(b + 8, ef->count);
    put_u64(b + 16, ef->steps);
    for (size_t i = 0; i < ef->count; i++)
        ccl_put_f32(b + EF_HDR_LEN + 4 * i, ef->residual[i]);
    *len_p = ccl_ef_saved_size(ef);
    return CCL_SUCCESS;
}

ccl_result_t ccl_ef_restore(ccl_ef_t *ef, const void *buf, size_t len)
{
    const uint8_t *b = buf;
    if (b == NULL || len < EF_HDR_LEN || ccl_get_u32(b) != EF_MAGIC ||
        ccl_get_u32(b + 4) != EF_VERSION)
        return ccl_set_error(NULL, CCL_ERR_INVALID_PAYLOAD, "not an error-feedback checkpoint");
    if (get_u64(b + 8) != ef->count || len != ccl_ef_saved_size(ef))
        return ccl_set_error(NULL, CCL_ERR_INVALID_PAYLOAD,
                             "checkpoint is for %llu elements, this buffer has %zu",
                             (unsigned long long)get_u64(b + 8), ef->count);
    for (size_t i = 0; i < ef->count; i++)
        if (!isfinite(ccl_get_f32(b + EF_HDR_LEN + 4 * i)))
            return ccl_set_error(NULL, CCL_ERR_INVALID_PAYLOAD, "checkpoint residual %zu is not finite", i);
    for (size_t i = 0; i < ef->count; i++)
        ef->residual[i] = ccl_get_f32(b + EF_HDR_LEN + 4 * i);
    ef->steps = get_u64(b + 16);
    return CCL_SUCCESS;
}
