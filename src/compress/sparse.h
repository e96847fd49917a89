/* sparse.h: the payload shared by the sparse codecs (topk, threshold, randomk): the kept
 * indices (a u32 list, a bitmap, or LEB128 gaps, whichever is smallest) and their values. */
#ifndef CCL_SPARSE_H
#define CCL_SPARSE_H

#include "compress/wire.h"

#include <string.h>

#define CCL_SPARSE_FP16   1u /* params[1] bit: values are fp16 */
#define CCL_SPARSE_BITMAP 2u /* params[1] bit: indices are a bitmap of count bits */
#define CCL_SPARSE_NOIDX  4u /* params[1] bit: no indices travel (randomk: from the seed) */
#define CCL_SPARSE_DELTA  8u /* params[1] bit: values, then the index gaps in LEB128 */

/* Largest payload for up to kmax kept elements of count. */
size_t ccl_sparse_max_payload(size_t count, size_t kmax, int fp16, int with_indices);

/* Writes idx[0..k) (ascending) and src at those indices. recon, if given, becomes the
 * decoded vector (zeros elsewhere), or with `residual` src minus it (ccl_fb_value). */
void ccl_sparse_write(const float *src, size_t count, const uint32_t *idx, size_t k, int fp16,
                      int with_indices, uint8_t *out, size_t *len_p, uint32_t hp[2],
                      float *recon, int residual);

/* The payload of ccl_sparse_write from parts made elsewhere (a GPU's selection): idx[0..k)
 * ascending below count, and the k values already in their wire form (vals: k float32 or,
 * with fp16, k halves, little-endian), indices written unless !with_indices (randomk). */
void ccl_sparse_assemble(const uint32_t *idx, size_t k, const void *vals, int fp16,
                         int with_indices, size_t count, uint8_t *out, size_t *len_p,
                         uint32_t hp[2]);

/* The same for k float32 values given in index order (val[j] belongs to idx[j]), with
 * indices, in whichever index coding is smallest; the indices lie in [base, base + count)
 * and are written relative to base. Values travel as fp16 where fp16 is set (then they must
 * be halves already, or they are rounded). */
void ccl_sparse_write_list(const float *val, size_t count, const uint32_t *idx, uint32_t base,
                           size_t k, int fp16, uint8_t *out, size_t *len_p, uint32_t hp[2]);

/* A sparse codec's selection (ccl_codec_ops_t.select). */
typedef ccl_result_t (*ccl_sparse_select_t)(const ccl_codec_params_t *p, const float *src,
                                            size_t count, uint64_t seed, uint32_t **idx_p,
                                            size_t *k_p);

/* The encode of a codec that chooses its elements: its selection, then ccl_sparse_write
 * (indices written unless !with_indices: randomk's come from the seed). */
ccl_result_t ccl_sparse_encode_selected(ccl_sparse_select_t select, int with_indices,
                                        const ccl_codec_params_t *p, const float *src,
                                        size_t count, uint64_t seed, uint8_t *out,
                                        size_t *len_p, uint32_t hp[2], float *recon);

/* Checks a sparse payload and reads its hp[0] (<= count) ascending indices and finite
 * values into idx and val (room for hp[0] each). CCL_ERR_INVALID_PAYLOAD on any
 * inconsistency; idx and val are then garbage. */
ccl_result_t ccl_sparse_read(const uint8_t *in, size_t len, const uint32_t hp[2], uint64_t seed,
                             size_t count, uint32_t *idx, float *val);

/* Checks and decodes a sparse payload. For payloads without indices, idx_from_seed
 * regenerates them. */
ccl_result_t ccl_sparse_decode(const uint8_t *in, size_t len, const uint32_t hp[2],
                               uint64_t seed, float *out, size_t count, int accumulate);

/* k for a ratio or a fixed k, clamped to [min(1, count), count]. */
size_t ccl_sparse_k(const ccl_codec_params_t *p, size_t count);

/* The k indices random-k keeps for this seed, ascending. Returns 0, or -1 without memory. */
int ccl_randomk_indices(uint64_t seed, size_t count, size_t k, uint32_t *idx);

/* The rows the sparse codecs share (ratio=, k=, fp16_values=), for their parameter tables;
 * ratio is the codec's default ratio, as text. A ratio= clears k (ccl_sparse_ratio_set), so
 * whichever of the two comes later in a spec wins; k has no default (0: ratio decides). */
#define CCL_SPARSE_FP16_ROW                                                                    \
    {"fp16_values", "0", "values travel as fp16 (half the bytes)", CCL_PARAM_BOOL,             \
     CCL_CODEC_PARAM(fp16_values), .lo = 0, .hi = 1}
#define CCL_SPARSE_PARAMS(dflt_ratio)                                                          \
    {"ratio", dflt_ratio, "k = ceil(ratio * count), at least 1", CCL_PARAM_REAL,               \
     CCL_CODEC_PARAM(ratio), .lo = 0, .hi = 1, .flags = CCL_PARAM_OPEN_LO,                     \
     .then = ccl_sparse_ratio_set},                                                            \
    {"k", NULL, "a fixed k instead of ratio", CCL_PARAM_INT, CCL_CODEC_PARAM(k), .lo = 1,     \
     .hi = UINT32_MAX},                                                                        \
    {"dense_1d", "0", "with a layout, every tensor that is no matrix (a bias, a norm's "       \
     "scale) goes whole, as DGC's reference sends its 1-D parameters", CCL_PARAM_BOOL,         \
     CCL_CODEC_PARAM(dense_1d)},                                                               \
    CCL_SPARSE_FP16_ROW
void ccl_sparse_ratio_set(void *p);

/* DGC's sampling stride for count elements (1: no sampling; see dgc.c). */
size_t ccl_dgc_stride(const ccl_codec_params_t *p, size_t count);

/* DGC's sample for count > k elements: the stride, how many of the count / stride samples
 * set the threshold (ks), and the first sample's offset, drawn from the seed. */
void ccl_dgc_plan(const ccl_codec_params_t *p, size_t count, uint64_t seed, size_t *stride,
                  size_t *ks, size_t *off);

/* Counts the x[i] whose magnitude bits (ccl_mag_bits) are >= t and stores the first
 * (lowest) cap of their indices; t = 1 finds the non-zeros. */
size_t ccl_sparse_collect(const float *x, size_t n, uint32_t t, uint32_t *idx, size_t cap);

/* For sparse encoders that check their own input (CCL_CODEC_CHECKS_FINITE) without a pass
 * of their own. NaNs and infinities have the largest magnitude bits (0x7f800000 and up):
 * when cand[0..n) holds every element whose magnitude bits reach thr and thr is below
 * 0x7f800000, every non-finite element is among them; a thr of 0x7f800000 or more came from
 * a non-finite element, which a scan then finds, as it does for cand NULL (every element).
 * Returns the lowest non-finite index, or count if there is none. */
size_t ccl_sparse_first_nonfinite(const float *src, size_t count, const uint32_t *cand, size_t n,
                                  uint32_t thr);

/* The k-th largest (1-based) of keys[0..n), which it may reorder (linear time: quickselect, or
 * one pass for k <= 64). */
uint64_t ccl_kth_largest(uint64_t *keys, size_t n, size_t k);

#endif
