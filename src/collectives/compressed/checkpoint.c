/* checkpoint.c: a compressor's state saved and restored (ccl_compressor_state_size, _save,
 * _restore), with the identity of what saved it and a checksum over every byte. */
#include "collectives/compressed/compressor.h"
#include "compress/wire.h"

#include <string.h>
#include <zlib.h>

/* Checkpoint, version 2 (all little-endian):
 *    0  "CZCP"
 *    4  u32 version
 *    8  u64 spec hash       the compressor's normalised spec
 *   16  u64 count           its elements
 *   24  u32 rank, u32 nranks  who saved it
 *   32  u64 body length     the bytes after the header
 *   40  u32 CRC-32          zlib's, of bytes 0-39 and the body
 *   44  u32 zero
 *   48  body: the error-feedback state (if any), then PowerSGD's warm start (if any).
 * Restore checks all of it before it changes anything. */
#define CP_VERSION 2
#define CP_HDR     48

static ccl_compressor_t state_owner(ccl_compressor_t c) { return c->auto_sub ? c->auto_sub : c; }

static size_t body_size(ccl_compressor_t c)
{
    return (c->ef ? ccl_ef_saved_size(c->ef) : 0) +
           (c->lowrank ? ccl_powersgd_saved_size(c->lowrank) : 0);
}

static uint32_t checksum(const uint8_t *b, size_t body_len)
{
    uLong crc = crc32_z(0L, b, 40);
    return (uint32_t)crc32_z(crc, b + CP_HDR, body_len);
}

size_t ccl_compressor_state_size(ccl_compressor_t c)
{
    return c != NULL ? CP_HDR + body_size(state_owner(c)) : 0;
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
    if (c->ef)
        CCL_CHECK(ccl_ef_save(c->ef, b + CP_HDR, cap - CP_HDR, &n));
    if (c->lowrank) {
        ccl_powersgd_save(c->lowrank, b + CP_HDR + n);
        n += ccl_powersgd_saved_size(c->lowrank);
    }
    memcpy(b, "CZCP", 4);
    ccl_put_u32(b + 4, CP_VERSION);
    ccl_put_u64(b + 8, c->spec_hash);
    ccl_put_u64(b + 16, (uint64_t)c->count);
    ccl_put_u32(b + 24, (uint32_t)c->rank);
    ccl_put_u32(b + 28, (uint32_t)c->nranks);
    ccl_put_u64(b + 32, (uint64_t)n);
    ccl_put_u32(b + 40, checksum(b, n));
    ccl_put_u32(b + 44, 0);
    *len_p = CP_HDR + n;
    return CCL_SUCCESS;
}

/* The header: a checkpoint of this very compressor, every byte as saved. */
static ccl_result_t check_header(ccl_compressor_t c, const uint8_t *b, size_t len)
{
    if (len < CP_HDR || memcmp(b, "CZCP", 4) != 0)
        return ccl_set_error(NULL, CCL_ERR_INVALID_PAYLOAD, "not a cclz compressor checkpoint");
    if (ccl_get_u32(b + 4) != CP_VERSION)
        return ccl_set_error(NULL, CCL_ERR_INVALID_PAYLOAD,
                             "checkpoint of format version %u; this cclz reads version %u",
                             ccl_get_u32(b + 4), CP_VERSION);
    if (ccl_get_u64(b + 32) != (uint64_t)(len - CP_HDR) || ccl_get_u32(b + 44) != 0 ||
        ccl_get_u32(b + 40) != checksum(b, len - CP_HDR))
        return ccl_set_error(NULL, CCL_ERR_INVALID_PAYLOAD,
                             "checkpoint is corrupt or cut (length or checksum does not match)");
    if (ccl_get_u64(b + 8) != c->spec_hash || ccl_get_u64(b + 16) != (uint64_t)c->count)
        return ccl_set_error(NULL, CCL_ERR_INVALID_PAYLOAD,
                             "checkpoint was saved by a compressor of another spec or count "
                             "(this one: %s, %zu elements)", c->spec, c->count);
    if (ccl_get_u32(b + 24) != (uint32_t)c->rank || ccl_get_u32(b + 28) != (uint32_t)c->nranks)
        return ccl_set_error(NULL, CCL_ERR_INVALID_PAYLOAD,
                             "checkpoint was saved by rank %u of %u; this is rank %d of %d",
                             ccl_get_u32(b + 24), ccl_get_u32(b + 28), c->rank, c->nranks);
    if (len - CP_HDR != body_size(c))
        return ccl_set_error(NULL, CCL_ERR_INVALID_PAYLOAD, "checkpoint of %zu bytes, %zu expected",
                             len, CP_HDR + body_size(c));
    return CCL_SUCCESS;
}

ccl_result_t ccl_compressor_restore(ccl_compressor_t c, const void *buf, size_t len)
{
    const uint8_t *b = buf;
    if (c == NULL || buf == NULL)
        return ccl_set_error(NULL, CCL_ERR_INVALID_ARG, "NULL argument");
    c = state_owner(c);
    CCL_CHECK(check_header(c, b, len));
    if (c->ef == NULL)
        return CCL_SUCCESS;
    size_t ef_len = ccl_ef_saved_size(c->ef);
    if (c->lowrank == NULL)
        return ccl_ef_restore(c->ef, b + CP_HDR, ef_len);
    /* The error feedback, then the warm start: the warm start is checked first, and the
     * error feedback changes nothing when it refuses, so a bad checkpoint changes neither. */
    size_t lr_len = ccl_powersgd_saved_size(c->lowrank);
    CCL_CHECK(ccl_powersgd_check(c->lowrank, b + CP_HDR + ef_len, lr_len));
    CCL_CHECK(ccl_ef_restore(c->ef, b + CP_HDR, ef_len));
    return ccl_powersgd_restore(c->lowrank, b + CP_HDR + ef_len, lr_len);
}
