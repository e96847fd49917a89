/* wire.c: packing and checking the header in front of every compressed buffer
 * (docs/wire-format.md). */
#include "compress/wire.h"

#include <string.h>

void ccl_wire_put(uint8_t *dst, const ccl_wire_hdr_t *h)
{
    ccl_put_u32(dst, CCL_WIRE_MAGIC);
    dst[4] = CCL_WIRE_VERSION;
    dst[5] = h->codec_id;
    dst[6] = h->flags;
    dst[7] = 0;
    ccl_put_u64(dst + 8, h->count);
    ccl_put_u64(dst + 16, h->seed);
    ccl_put_u32(dst + 24, h->params[0]);
    ccl_put_u32(dst + 28, h->params[1]);
    ccl_put_u32(dst + 32, h->payload_len);
    ccl_put_u32(dst + 36, 0);
}

ccl_result_t ccl_wire_get(const uint8_t *src, size_t len, ccl_wire_hdr_t *h)
{
    if (src == NULL || len < CCL_WIRE_HDR_LEN)
        return ccl_set_error(NULL, CCL_ERR_INVALID_PAYLOAD, "payload of %zu bytes is shorter "
                             "than the %u-byte header", len, CCL_WIRE_HDR_LEN);
    if (ccl_get_u32(src) != CCL_WIRE_MAGIC)
        return ccl_set_error(NULL, CCL_ERR_INVALID_PAYLOAD, "bad magic 0x%08x", ccl_get_u32(src));
    if (src[4] != CCL_WIRE_VERSION)
        return ccl_set_error(NULL, CCL_ERR_INVALID_PAYLOAD, "wire version %u, this build reads %u",
                             src[4], CCL_WIRE_VERSION);
    if ((src[6] & ~CCL_WIRE_SEGMENTED) != 0 || src[7] != 0 || ccl_get_u32(src + 36) != 0)
        return ccl_set_error(NULL, CCL_ERR_INVALID_PAYLOAD, "reserved header bytes are not zero");
    h->codec_id = src[5];
    h->flags = src[6];
    h->count = ccl_get_u64(src + 8);
    h->seed = ccl_get_u64(src + 16);
    h->params[0] = ccl_get_u32(src + 24);
    h->params[1] = ccl_get_u32(src + 28);
    h->payload_len = ccl_get_u32(src + 32);
    if ((uint64_t)h->payload_len != (uint64_t)(len - CCL_WIRE_HDR_LEN))
        return ccl_set_error(NULL, CCL_ERR_INVALID_PAYLOAD,
                             "header says %u payload bytes, %zu arrived", h->payload_len,
                             len - CCL_WIRE_HDR_LEN);
    return CCL_SUCCESS;
}
