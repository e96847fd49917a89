/* codec.h: the codec vtable (the seam for compression; codecs arrive one file each). */
#ifndef CCL_CODEC_H
#define CCL_CODEC_H

#include "../core/ccl_int.h"

/* Flags a codec declares about itself; the collectives use them to decide where it may run.
 * Lossy codecs are never applied to integer types or to ops other than sum and avg. */
#define CCL_CODEC_LOSSLESS         (1u << 0)
#define CCL_CODEC_SUMMABLE_ENCODED (1u << 1) /* encoded payloads can be added without decode */
#define CCL_CODEC_NEEDS_SHARED_SEED (1u << 2)

typedef struct ccl_codec_ops {
    size_t      size;   /* sizeof(ccl_codec_ops_t) */
    const char *name;
    uint16_t    id;     /* written into the wire header */
    uint32_t    flags;
    size_t (*max_encoded_size)(size_t count, ccl_datatype_t dt, const void *params);
    ccl_result_t (*encode)(const void *params, void *state, const void *src, size_t count,
                           ccl_datatype_t dt, void *dst, size_t *dst_bytes_p);
    /* Decodes src and adds it into inout; every length and index in src is checked. */
    ccl_result_t (*decode_accumulate)(const void *src, size_t src_bytes, void *inout,
                                      size_t count, ccl_datatype_t dt);
} ccl_codec_ops_t;

#endif
