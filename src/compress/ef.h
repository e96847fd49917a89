/* ef.h: error-feedback state for one buffer: the residual the compressor left out, added
 * back before the next compression, so nothing is lost over time. */
#ifndef CCL_EF_H
#define CCL_EF_H

#include "codec.h"

typedef struct {
    size_t   count;
    float   *residual;   /* e_t */
    uint64_t steps;      /* compressions done */
    uint64_t skipped;    /* steps refused for a non-finite gradient */
    float   *scratch;    /* 2*count: p and the reconstruction, kept across calls */
} ccl_ef_t;

ccl_result_t ccl_ef_create(size_t count, ccl_ef_t **ef_p);
void ccl_ef_destroy(ccl_ef_t *ef);
void ccl_ef_reset(ccl_ef_t *ef);

/* Classic error feedback (Seide; Karimireddy et al.): p = g + e; send C(p); e = p - C(p).
 * Policy for non-finite input: if g holds a NaN or an infinity nothing is encoded, the
 * residual is left as it was, `skipped` counts the step, and CCL_ERR_INVALID_ARG names the
 * first bad index; the caller skips the step (as mixed-precision training does on overflow)
 * and the next finite gradient proceeds normally. So one bad step never poisons the state. */
ccl_result_t ccl_ef_encode(ccl_ef_t *ef, const ccl_codec_t *codec, const float *g,
                           uint64_t seed, void *dst, size_t cap, size_t *len_p);

/* Checkpoints: the state as bytes (magic, version, count, steps, residual) and back. restore
 * checks every byte (count must match this buffer's, values finite) and changes nothing
 * unless all is well. */
size_t ccl_ef_saved_size(const ccl_ef_t *ef);
ccl_result_t ccl_ef_save(const ccl_ef_t *ef, void *buf, size_t cap, size_t *len_p);
ccl_result_t ccl_ef_restore(ccl_ef_t *ef, const void *buf, size_t len);

#endif
