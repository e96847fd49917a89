/* bitpack.h: packing b-bit codes (1..8 bits) LSB first into a byte stream, and reading them
 * back. Shared by the quantizers (int, qsgd). */
#ifndef CCL_BITPACK_H
#define CCL_BITPACK_H

#include "compress/wire.h"

#include <string.h>

/* Packs codes of `bits` bits LSB first into a continuous stream, tile after tile. */
typedef struct {
    uint8_t *out;
    size_t   pos;
    uint64_t acc;
    unsigned nacc;
    unsigned bits;
} packer_t;

/* Appends n codes (one per byte of q, each < 2^bits). */
void pack_codes(packer_t *pk, const uint8_t *q, size_t n);

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

/* Reads the next n codes into q, a byte each: unpack_next n times, with whole bytes at a
 * time for 8- and 4-bit codes. */
void unpack_codes(unpacker_t *u, uint8_t *q, size_t n);

#endif
