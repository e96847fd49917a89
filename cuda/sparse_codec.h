/* sparse_codec.h: the sparse codecs (topk, dgc, threshold, randomk; docs/wire-format.md) on
 * the GPU. The GPU selects the kept elements and writes their values in wire form; the host
 * then writes the payload around them (ccl_sparse_assemble), so that only the kept pairs
 * cross PCIe and the bytes are the CPU encoder's. Decoding scatters an (index, value) list
 * the host has already read and checked (ccl_codec_read_sparse). Device memory throughout;
 * asynchronous on `stream`; 0 or a cudaError_t. */
#ifndef CCL_CUDA_SPARSE_CODEC_H
#define CCL_CUDA_SPARSE_CODEC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The indices, ascending, of exactly the k elements of largest magnitude (ties: the lower
 * index), 0 < k <= count < 2^32, into idx (room for k). A radix select on elem.h's
 * ccl_mag_key: three passes over |x|'s bits, three more over the index only where ties
 * at the k-th magnitude must be broken, then one selection pass. */
int ccl_cuda_topk_select(const float *src, size_t count, size_t k, uint32_t *idx, void *stream);

/* DGC's sampled-threshold selection (src/compress/dgc.c), the CPU's indices exactly: the
 * host gives k, the sampling stride, the sample's k (ks) and offset as dgc.c computes them.
 * idx needs room for 2k; *n (device) receives how many were kept (at most k). */
int ccl_cuda_dgc_select(const float *src, size_t count, size_t k, size_t stride, size_t ks,
                        size_t off, uint32_t *idx, uint32_t *n, void *stream);

/* Every index with |x| >= t, ascending, into idx (room for count); their number into *n. */
int ccl_cuda_threshold_select(const float *src, size_t count, float t, uint32_t *idx,
                              uint32_t *n, void *stream);

/* For the *n (device; NULL: kmax) indices idx[j] < count: their values into vals in wire
 * form (float32, or fp16 saturated at 65504, little-endian), and recon (NULL for none) as
 * the CPU encoder makes it: zeros or, with fb_residual, the input where nothing is sent,
 * and at idx[j] the decoded value or the input minus it. kmax bounds *n. */
int ccl_cuda_sparse_values(const float *src, size_t count, const uint32_t *idx,
                           const uint32_t *n, size_t kmax, int fp16, void *vals, float *recon,
                           int fb_residual, void *stream);

/* out[idx[j]] += val[j] for j < k, after zeroing out unless `accumulate`: a list the host
 * has checked (distinct indices below count, finite values). */
int ccl_cuda_sparse_scatter(const uint32_t *idx, const float *val, size_t k, float *out,
                            size_t count, int accumulate, void *stream);

/* *bad = 1 if src holds a NaN or an infinity (the CPU encoder's refusal). */
int ccl_cuda_flag_nonfinite(const float *src, size_t count, int *bad, void *stream);

#ifdef __cplusplus
}
#endif

#endif
