/* bytes.h: little-endian loads and stores of 32- and 64-bit integers that never assume
 * alignment, for everything that crosses the wire or a checkpoint. */
#ifndef CCL_BYTES_H
#define CCL_BYTES_H

#include <stdint.h>

static inline void ccl_put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static inline uint32_t ccl_get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline void ccl_put_u64(uint8_t *p, uint64_t v)
{
    ccl_put_u32(p, (uint32_t)v);
    ccl_put_u32(p + 4, (uint32_t)(v >> 32));
}

static inline uint64_t ccl_get_u64(const uint8_t *p)
{
    return (uint64_t)ccl_get_u32(p) | (uint64_t)ccl_get_u32(p + 4) << 32;
}

#endif
