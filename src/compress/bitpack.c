/* bitpack.c: the packer's loop, compiled once for every quantizer. */
#include "compress/bitpack.h"

void pack_codes(packer_t *pk, const uint8_t *q, size_t n)
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

void unpack_codes(unpacker_t *u, uint8_t *q, size_t n)
{
    size_t i = 0;
    if (u->bits == 8 && u->nacc == 0 && u->pos <= u->len && n <= u->len - u->pos) {
        memcpy(q, u->in + u->pos, n);
        u->pos += n;
        return;
    }
    if (u->bits == 4) {
        if (u->nacc == 4 && n > 0) { /* the half byte the last call left */
            q[0] = (uint8_t)(u->acc & 15);
            u->acc = 0;
            u->nacc = 0;
            i = 1;
        }
        size_t pairs = (n - i) / 2;
        if (u->nacc == 0 && u->pos <= u->len && pairs <= u->len - u->pos) {
            const uint8_t *c = u->in + u->pos;
            for (size_t k = 0; k < pairs; k++) {
                q[i + 2 * k] = c[k] & 15;
                q[i + 2 * k + 1] = c[k] >> 4;
            }
            u->pos += pairs;
            i += 2 * pairs;
        }
    }
    for (; i < n; i++)
        q[i] = (uint8_t)unpack_next(u);
}
