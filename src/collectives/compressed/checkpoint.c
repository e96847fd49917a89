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
 *   48  body: the error-feedback state (if any), then PowerSGD's warm start (if any: the
 *       buffer's matrix, or with a layout every approximated tensor's in order), then
 *       for each shard compressor of the hierarchical allreduce, in shard order, a u64 length
 *       and that compressor's own checkpoint.
 * Restore checks all of it before it changes anything. */
#define CP_VERSION 2
#define CP_HDR     48

static ccl_compressor_t state_owner(ccl_compressor_t c) { return c->auto_sub ? c->auto_sub : c; }

/* PowerSGD's warm starts: the buffer's one, or a layout's per tensor (NULL entries sent
 * exact). *n_p: how many entries. */
static ccl_powersgd_t *const *warm_starts(ccl_compressor_t c, int *n_p)
{
    *n_p = c->lr_tensor != NULL ? c->layout->n : c->lowrank != NULL;
    return c->lr_tensor != NULL ? c->lr_tensor : &c->lowrank;
}

static size_t body_size(ccl_compressor_t c)
{
    size_t n = c->ef ? ccl_ef_saved_size(c->ef) : 0;
    int nw;
    ccl_powersgd_t *const *w = warm_starts(c, &nw);
    for (int i = 0; i < nw; i++)
        n += w[i] != NULL ? ccl_powersgd_saved_size(w[i]) : 0;
    for (int k = 0; k < c->nshard_comp; k++)
        if (c->shard_comp[k] != NULL)
            n += 8 + ccl_compressor_state_size(c->shard_comp[k]);
    return n;
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
    int nw;
    ccl_powersgd_t *const *w = warm_starts(c, &nw);
    for (int i = 0; i < nw; i++) {
        if (w[i] == NULL)
            continue;
        ccl_powersgd_save(w[i], b + CP_HDR + n);
        n += ccl_powersgd_saved_size(w[i]);
    }
    for (int k = 0; k < c->nshard_comp; k++) {
        size_t sub_len;
        if (c->shard_comp[k] == NULL)
            continue;
        CCL_CHECK(ccl_compressor_save(c->shard_comp[k], b + CP_HDR + n + 8, cap - CP_HDR - n - 8,
                                      &sub_len));
        ccl_put_u64(b + CP_HDR + n, (uint64_t)sub_len);
        n += 8 + sub_len;
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

/* A hierarchical compressor's shards: every one's checkpoint checked, then restored. The
 * whole checkpoint's checksum already covers their bytes. */
static ccl_result_t restore_shards(ccl_compressor_t c, const uint8_t *p, size_t len)
{
    for (int pass = 0; pass < 2; pass++) {
        size_t off = 0;
        for (int k = 0; k < c->nshard_comp; k++) {
            ccl_compressor_t sub = c->shard_comp[k];
            if (sub == NULL)
                continue;
            uint64_t sub_len = len - off >= 8 ? ccl_get_u64(p + off) : UINT64_MAX;
            if (sub_len > len - off - 8)
                return ccl_set_error(NULL, CCL_ERR_INVALID_PAYLOAD,
                                     "checkpoint: shard %d's state is cut", k);
            if (pass == 0)
                CCL_CHECK(check_header(sub, p + off + 8, (size_t)sub_len));
            else
                CCL_CHECK(ccl_compressor_restore(sub, p + off + 8, (size_t)sub_len));
            off += 8 + (size_t)sub_len;
        }
    }
    return CCL_SUCCESS;
}

ccl_result_t ccl_compressor_restore(ccl_compressor_t c, const void *buf, size_t len)
{
    const uint8_t *b = buf;
    if (c == NULL || buf == NULL)
        return ccl_set_error(NULL, CCL_ERR_INVALID_ARG, "NULL argument");
    c = state_owner(c);
    if (c->nshard_comp > 0) {
        /* Saved after an allgather or reduce-scatter made the whole buffer's state: make it
         * here too (the sizes tell; kept only if the checkpoint then fits). */
        int made = 0;
        if (c->ef == NULL && len >= CP_HDR && len - CP_HDR != body_size(c))
            made = ccl_comp_make_ef(c) == CCL_SUCCESS;
        ccl_result_t res = check_header(c, b, len);
        size_t ef_len = c->ef ? ccl_ef_saved_size(c->ef) : 0;
        if (res == CCL_SUCCESS)
            res = restore_shards(c, b + CP_HDR + ef_len, len - CP_HDR - ef_len);
        if (res == CCL_SUCCESS && c->ef != NULL)
            res = ccl_ef_restore(c->ef, b + CP_HDR, ef_len);
        if (res != CCL_SUCCESS && made) {
            ccl_ef_destroy(c->ef);
            c->ef = NULL;
        }
        return res;
    }
    CCL_CHECK(check_header(c, b, len));
    if (c->ef == NULL)
        return CCL_SUCCESS;
    size_t ef_len = ccl_ef_saved_size(c->ef), at = CP_HDR + ef_len;
    int nw;
    ccl_powersgd_t *const *w = warm_starts(c, &nw);
    /* The error feedback, then the warm starts: the warm starts are checked first, and the
     * error feedback changes nothing when it refuses, so a bad checkpoint changes nothing. */
    for (int i = 0; i < nw; i++) {
        if (w[i] == NULL)
            continue;
        CCL_CHECK(ccl_powersgd_check(w[i], b + at, ccl_powersgd_saved_size(w[i])));
        at += ccl_powersgd_saved_size(w[i]);
    }
    CCL_CHECK(ccl_ef_restore(c->ef, b + CP_HDR, ef_len));
    at = CP_HDR + ef_len;
    for (int i = 0; i < nw; i++) {
        if (w[i] == NULL)
            continue;
        CCL_CHECK(ccl_powersgd_restore(w[i], b + at, ccl_powersgd_saved_size(w[i])));
        at += ccl_powersgd_saved_size(w[i]);
    }
    return CCL_SUCCESS;
}
