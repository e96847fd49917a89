/* bitpack.h: packing b-bit codes (1..8 bits) LSB first into a byte stream, and reading them
 * back. Shared by the quantizers (int, qsgd). */
#ifndef CCL_BITPACK_H
#define CCL_BITPACK_H

#include "wire.h"

#include <string.h>

/* Packs codes of `bits` bits LSB first into a continuous stream, tile after tile. */
typedef struct {
    uint8_t *out;
    size_t   pos;
    uint64_t acc;
    unsigned nacc;
    unsigned bits;
} packer_t;

__attribute__((target_clones("avx2", "default"))) static inline void
pack_codes(packer_t *pk, const uint8_t *q, size_t n)
{
    size_t i = 0;
    if (pk->bits == 8) {
        memcpy(pk->out + pk->pos, q, n);
        pk->pos += n;
        return;
    }
    if (pk->bits == 4) {
        if (pk->nacc == 4 && n > 0) { /* finish the half byte left by the last tile */
            pk->out[pk->pos++] = (uint8_t)(pk->acc | (uint64_t)q[0] << 4);
            pk->acc = 0;
            pk->nacc = 0;
            i = 1;
        }
        size_t pairs = (n - i) / 2;
        uint8_t *o = pk->out + pk->pos;
        for (size_t k = 0; k < pairs; k++)
            o[k] = (uint8_t)(q[i + 2 * k] | q[i + 2 * k + 1] << 4);
        pk->pos += pairs;
        if ((n - i) & 1) {
            pk->acc = q[n - 1];
            pk->nacc = 4;
        }
        return;
    }
    for (; i < n; i++) {
        pk->acc |= (uint64_t)q[i] << pk->nacc;
        pk->nacc += pk->bits;
        if (pk->nacc >= 32) {
            ccl_put_u32(pk->out + pk->pos, (uint32_t)pk->acc);
            pk->pos += 4;
            pk->acc >>= 32;
            pk->nacc -= 32;
        }
    }
}

static inline void pack_flush(packer_t *pk)
{
    for (; pk->nacc > 0; pk->nacc = pk->nacc > 8 ? pk->nacc - 8 : 0) {
        pk->out[pk->pos++] = (uint8_t)pk->acc;
        pk->acc >>= 8;
    }
}

/* Reads codes back in order. The caller checks the stream length first; reading past
 * `len` yields zeros, never memory outside the stream. */
typedef struct {
    const uint8_t *in;
    size_t   len, pos;
    uint64_t acc;
    unsigned nacc;
    unsigned bits;
} unpacker_t;

static inline unsigned unpack_next(unpacker_t *u)
{
    if (u->nacc < u->bits) {
        u->acc |= (uint64_t)(u->pos < u->len ? u->in[u->pos] : 0) << u->nacc;
        u->pos++;
        u->nacc += 8;
    }
    unsigned q = (unsigned)(u->acc & ((1u << u->bits) - 1));
    u->acc >>= u->bits;
    u->nacc -= u->bits;
    return q;
}

#endif
