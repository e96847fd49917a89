/* checkpoint.c: a compressor's state saved and restored (ccl_compressor_state_size, _save,
 * _restore). */
#include "collectives/compressed/compressor.h"
#include "compress/wire.h"

#include <string.h>

/* Checkpoint: "CZCP", version 1, the spec hash, then the error-feedback state (if any),
 * then powersgd's warm start (if any). */
#define CP_HDR 16
static ccl_compressor_t state_owner(ccl_compressor_t c) { return c->auto_sub ? c->auto_sub : c; }

size_t ccl_compressor_state_size(ccl_compressor_t c)
{
    if (c == NULL)
        return 0;
    c = state_owner(c);
    return CP_HDR + (c->ef ? ccl_ef_saved_size(c->ef) : 0) +
           (c->lowrank ? ccl_powersgd_saved_size(c->lowrank) : 0);
}

ccl_result_t ccl_compressor_save(ccl_compressor_t c, void *buf, size_t cap, size_t *len_p)
{
    uint8_t *b = buf;
    size_t n = 0;
    if (c == NULL || buf == NULL || len_p == NULL)
        return ccl_set_error(NULL, CCL_ERR_INVALID_ARG, "NULL argument");
    if (cap < ccl_compressor_state_size(c))
        return ccl_set_error(NULL, CCL_ERR_INVALID_ARG, "checkpoint needs %zu bytes, got %zu",
                             ccl_compressor_state_size(c), cap);
    c = state_owner(c);
    memcpy(b, "CZCP", 4);
    ccl_put_u32(b + 4, 1);
    ccl_put_u32(b + 8, (uint32_t)c->spec_hash);
    ccl_put_u32(b + 12, (uint32_t)(c->spec_hash >> 32));
    if (c->ef)
        CCL_CHECK(ccl_ef_save(c->ef, b + CP_HDR, cap - CP_HDR, &n));
    if (c->lowrank) {
        ccl_powersgd_save(c->lowrank, b + CP_HDR + n);
        n += ccl_powersgd_saved_size(c->lowrank);
    }
    *len_p = CP_HDR + n;
    return CCL_SUCCESS;
}

ccl_result_t ccl_compressor_restore(ccl_compressor_t c, const void *buf, size_t len)
{
    const uint8_t *b = buf;
    if (c == NULL || buf == NULL)
        return ccl_set_error(NULL, CCL_ERR_INVALID_ARG, "NULL argument");
    c = state_owner(c);
    if (len < CP_HDR || memcmp(b, "CZCP", 4) != 0 || ccl_get_u32(b + 4) != 1)
        return ccl_set_error(NULL, CCL_ERR_INVALID_PAYLOAD, "not a cclz compressor checkpoint");
    if (ccl_get_u32(b + 8) != (uint32_t)c->spec_hash ||
        ccl_get_u32(b + 12) != (uint32_t)(c->spec_hash >> 32))
        return ccl_set_error(NULL, CCL_ERR_INVALID_PAYLOAD,
                             "checkpoint was saved by a compressor of another spec (this one: %s)", c->spec);
    if (c->ef == NULL)
        return len == CP_HDR ? CCL_SUCCESS
                             : ccl_set_error(NULL, CCL_ERR_INVALID_PAYLOAD, "checkpoint has extra bytes");
    if (c->lowrank == NULL)
        return ccl_ef_restore(c->ef, b + CP_HDR, len - CP_HDR);
    /* The error feedback, then the warm start: the warm start is checked first, and the
     * error feedback changes nothing when it refuses, so a bad checkpoint changes neither. */
    size_t ef_len = ccl_ef_saved_size(c->ef), lr_len = ccl_powersgd_saved_size(c->lowrank);
    if (len != CP_HDR + ef_len + lr_len)
        return ccl_set_error(NULL, CCL_ERR_INVALID_PAYLOAD, "checkpoint of %zu bytes, %zu expected",
                             len, CP_HDR + ef_len + lr_len);
    CCL_CHECK(ccl_powersgd_check(c->lowrank, b + CP_HDR + ef_len, lr_len));
    CCL_CHECK(ccl_ef_restore(c->ef, b + CP_HDR, ef_len));
    return ccl_powersgd_restore(c->lowrank, b + CP_HDR + ef_len, lr_len);
}
