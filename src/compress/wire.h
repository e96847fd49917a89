/* wire.h: the header in front of every compressed buffer (docs/wire-format.md). */
#ifndef CCL_WIRE_H
#define CCL_WIRE_H

#include "compress/codec.h"
#include "base/bytes.h"

#define CCL_WIRE_MAGIC   0x575a4343u /* "CCZW" little-endian */
#define CCL_WIRE_VERSION 1u
#define CCL_WIRE_HDR_LEN 40u

/* Header flags (byte 6). */
#define CCL_WIRE_SEGMENTED 1u /* the payload is a table of segments, each a payload of its own
                               * (a layout's tensors: codec.c) */

typedef struct {
    uint8_t  codec_id;
    uint8_t  flags;
    uint64_t count;
    uint64_t seed;
    uint32_t params[2];
    uint32_t payload_len;
} ccl_wire_hdr_t;

/* Writes the 40 header bytes, little-endian whatever the host. */
void ccl_wire_put(uint8_t *dst, const ccl_wire_hdr_t *h);

/* Reads and checks a header against the buffer length: magic, version, known flags, reserved
 * bytes zero,
 * payload length equal to what follows. Returns CCL_ERR_INVALID_PAYLOAD with the reason. */
ccl_result_t ccl_wire_get(const uint8_t *src, size_t len, ccl_wire_hdr_t *h);

/* float32: ccl_get_f32 and ccl_put_f32 (elem.h, shared with the GPU kernels). */

#endif
