/* codec.h: the codec vtable and the calls the collectives make to compress and decompress.
 * One file per codec in this folder; the wire format is in wire.h and docs/wire-format.md. */
#ifndef CCL_CODEC_H
#define CCL_CODEC_H

#include "base/params.h"
#include "base/base.h"
#include "compress/elem.h"  /* ccl_rng64, ccl_rng_unit and the per-element steps */

/* Flags a codec declares about itself. Lossy codecs are never applied to integer types or
 * to ops other than sum and avg. */
#define CCL_CODEC_LOSSLESS          (1u << 0)
#define CCL_CODEC_SPARSE            (1u << 1) /* payload is (index, value) pairs */
#define CCL_CODEC_NEEDS_SHARED_SEED (1u << 2) /* every rank must encode with the same seed */
#define CCL_CODEC_CHECKS_FINITE     (1u << 3) /* encode refuses NaN/Inf itself, in its own pass */
#define CCL_CODEC_SHARED_SCALE      (1u << 4) /* all ranks encode with one scale: the max of
                                               * local_scale() over ranks, set in p->scale */
#define CCL_CODEC_PER_ELEMENT       (1u << 5) /* each element encoded alone (cast, threshold):
                                               * a layout changes nothing */

typedef enum {
    CCL_CODEC_ID_CAST      = 1,
    CCL_CODEC_ID_INT       = 2,
    CCL_CODEC_ID_TOPK      = 3,
    CCL_CODEC_ID_THRESHOLD = 4,
    CCL_CODEC_ID_RANDOMK   = 5,
    CCL_CODEC_ID_QSGD      = 6,
    CCL_CODEC_ID_TERNGRAD  = 7,
    CCL_CODEC_ID_SIGN      = 8,
    CCL_CODEC_ID_DGC       = 9,
} ccl_codec_id_t;

typedef enum { CCL_ROUND_NEAREST = 0, CCL_ROUND_STOCHASTIC = 1 } ccl_rounding_t;
/* The spec's names of ccl_rounding_t, in enum order (a table row stores the index). */
extern const char *const ccl_rounding_names[];

typedef enum { CCL_NORM_L2 = 0, CCL_NORM_MAX = 1 } ccl_norm_t;
typedef enum { CCL_SIGN_SCALE_L1 = 0, CCL_SIGN_SCALE_L2 = 1, CCL_SIGN_SCALE_NONE = 2 } ccl_sign_scale_t;

/* DGC's per-buffer training options (Lin et al.): read by the error-feedback state, not by
 * the codec's encoder, but given in the same spec string ("dgc:ratio=0.001,momentum=0.9"). */
typedef struct {
    float    momentum;      /* m; 0 turns momentum correction off */
    int      nesterov;
    int      masking;       /* momentum factor masking: u[I] = 0 after sending I */
    float    clip;          /* global gradient-norm threshold; each rank clips to clip/sqrt(P);
                             * 0 = off */
    uint32_t warmup_steps;  /* sparsity ramp length in steps (0 = off) */
    uint32_t warmup_stages; /* stages in the ramp (the paper's 4 epochs) */
} ccl_dgc_params_t;

/* The tensors a buffer is made of (ccl_compressor_set_layout), in order: tensor t holds
 * elements [off[t], off[t] + count[t]), and where rows[t] is not 0 it is a rows x cols
 * matrix. */
typedef struct ccl_layout {
    int     n;
    size_t  total;      /* the sum of the counts: the buffer's */
    size_t *off, *count, *rows, *cols;
} ccl_layout_t;

/* Every parameter any codec takes; each codec reads its own, and its rows (ops->params)
 * fill them. */
typedef struct {
    int            half_bf16;   /* cast: 0 = fp16, 1 = bf16 */
    int            bits;        /* int, qsgd: 1..8 (qsgd 2..8: a sign bit and bits-1 for the level) */
    uint32_t       bucket;      /* int, qsgd: elements per bucket */
    ccl_rounding_t rounding;    /* int, qsgd */
    ccl_norm_t     norm;        /* qsgd: bucket norm */
    double         ratio;       /* topk, randomk, dgc: k = ceil(ratio * count), at least 1 */
    uint32_t       k;           /* topk, randomk: fixed k instead of ratio (0 = use ratio) */
    float          threshold;   /* threshold: keep |x| >= threshold */
    int            fp16_values; /* sparse codecs: values travel as fp16 */
    int            dense_1d;    /* sparse codecs with a layout: non-matrix tensors go whole */
    float          clip;        /* terngrad: scaler = clip * std (0: max |x|) */
    float          scale;       /* codecs with CCL_CODEC_SHARED_SCALE: the agreed scale (0: local) */
    ccl_sign_scale_t sign_scale; /* sign: magnitude sent with the signs */
    double         sample;      /* dgc: fraction of elements sampled for the threshold */
    ccl_dgc_params_t dgc;
    /* Set by a compressor with a layout, never by a spec: a sparse codec encoding the whole
     * buffer (count == layout->total) selects in every tensor on its own (ccl_codec_encode). */
    const ccl_layout_t *layout;
    /* CCL_CODEC_SHARED_SCALE codecs with a layout: the agreed scale of every tensor (set per
     * call like `scale`), or NULL. */
    const float   *scales;
    int            fb_residual; /* set by error feedback, never by a spec: the encoder's
                                 * `recon` receives src minus the decoded value (the new
                                 * residual) instead of the decoded value */
} ccl_codec_params_t;

/* A codec row's field: CCL_PARAM_AT for ccl_codec_params_t. */
#define CCL_CODEC_PARAM(member) CCL_PARAM_AT(ccl_codec_params_t, member)

/* What an encoder writes to `recon` for an element: the decoded value, or with
 * fb_residual the input minus it. */
/* The sum over x[0, n) of x, |x|, x^2 or (x - mean)^2 (kind: CCL_SUM_*), in double, in the
 * fixed order of elem.h, which the GPU kernels follow: the same bits on both. absmax (NULL
 * for none) receives the largest |x|, NaNs passed over. */
double ccl_fixed_sum(const float *x, size_t n, int kind, double mean, float *absmax);

static inline float ccl_fb_value(int residual, float src, float decoded)
{
    return residual ? src - decoded : decoded;
}

typedef struct ccl_codec_ops {
    size_t      size;           /* sizeof(ccl_codec_ops_t) */
    const char *name;
    ccl_codec_id_t id;
    uint32_t    flags;
    const char *desc;
    /* The spec's keys: one row each, filling ccl_codec_params_t (CCL_CODEC_PARAM), ended by
     * CCL_PARAM_END. ccl_codec_parse zeroes the params, applies every row's default, then
     * the spec's key=value items; cclz_info prints the rows. */
    const ccl_param_field_t *params;
    /* Largest payload (without the wire header) for count elements. A dense codec's must be
     * subadditive up to one element's: max_payload(a) + max_payload(b) <= max_payload(a + b)
     * + max_payload(1), which bounds a message cut at tensor boundaries (codec.c). */
    size_t (*max_payload)(const ccl_codec_params_t *p, size_t count);
    /* Encodes count float32 values; `seed` drives every random choice, so the same seed
     * gives the same bytes. `recon`, when not NULL, receives what the decoder will produce
     * (error feedback needs it), or src minus that with p->fb_residual (ccl_fb_value). Writes the payload and the header's two parameter words. */
    ccl_result_t (*encode)(const ccl_codec_params_t *p, const float *src, size_t count,
                           uint64_t seed, uint8_t *payload, size_t cap, size_t *len_p,
                           uint32_t hdr_params[2], float *recon);
    /* Decodes a payload whose header was already checked: out[i] += value (accumulate) or
     * out[i] = value. Every length, index and scale is checked; the only error is
     * CCL_ERR_INVALID_PAYLOAD. */
    ccl_result_t (*decode)(const uint8_t *payload, size_t len, const uint32_t hdr_params[2],
                           uint64_t seed, float *out, size_t count, int accumulate);
    /* Codecs with a GPU decoder (which trusts its input): every check decode makes, without
     * decoding, so that a payload that passes decodes without error. NULL if none. */
    ccl_result_t (*check)(const uint8_t *payload, size_t len, const uint32_t hdr_params[2],
                          size_t count);
    /* Sparse codecs that choose their elements (topk, randomk, dgc): the indices encode
     * would keep, ascending, in *idx_p (malloc'd; NULL where k is 0), after the same checks
     * (non-finite input: CCL_ERR_INVALID_ARG). encode is this and ccl_sparse_write. NULL for
     * the others. */
    ccl_result_t (*select)(const ccl_codec_params_t *p, const float *src, size_t count,
                           uint64_t seed, uint32_t **idx_p, size_t *k_p);
    /* CCL_CODEC_SHARED_SCALE codecs only: this rank's scale for src (finite input). */
    float (*local_scale)(const ccl_codec_params_t *p, const float *src, size_t count);
} ccl_codec_ops_t;

/* Every codec, NULL-terminated (codecs.c), for lookup by name or id and for the info tool. */
extern const ccl_codec_ops_t *const ccl_codecs[];

/* A codec with its parameters, made from a spec string such as
 * "int:bits=4,bucket=512,round=stochastic" or "topk:ratio=0.001,fp16_values=1". */
typedef struct ccl_codec {
    const ccl_codec_ops_t *ops;
    ccl_codec_params_t     params;
} ccl_codec_t;

/* DGC's warm-up: the ratio in force at step `step` (over warmup_steps split in warmup_stages
 * stages, ratio^((e+1)/(stages+1)) in stage e, then ratio; docs/algorithms.md section 1). */
double ccl_dgc_ratio(const ccl_dgc_params_t *d, double ratio, uint64_t step);

/* Parses a spec; on error returns CCL_ERR_INVALID_ARG with the reason in the last error. */
CCL_NODISCARD
ccl_result_t ccl_codec_parse(const char *spec, ccl_codec_t *codec);

/* Bytes needed for the encoding of count elements, header included. */
size_t ccl_codec_max_encoded_size(const ccl_codec_t *codec, size_t count);

/* Header + payload. `seed` must be the same on every rank for codecs that need it. With a
 * layout (params.layout) and count its total, a sparse codec that selects (topk, randomk,
 * dgc; threshold decides per element) encodes every tensor alone, with
 * a seed of its own drawn from `seed` and its index, and writes one message of buffer-wide
 * indices: each tensor keeps k = ratio x its count (at least 1), as if encoded alone. A
 * dense codec that scales encodes as ccl_codec_encode_range from 0. */
CCL_NODISCARD
ccl_result_t ccl_codec_encode(const ccl_codec_t *codec, const float *src, size_t count,
                              uint64_t seed, void *dst, size_t cap, size_t *len_p,
                              float *recon);

/* ccl_codec_encode of elements [off, off + count) of a buffer (src points at element off).
 * With a layout, a dense codec that scales (int, qsgd, terngrad, sign with a scale) encodes
 * every tensor's part of the range on its own, so that no scale covers two tensors, and
 * writes one message of those parts (docs/wire-format.md, "segmented"); a range inside one
 * tensor, or any codec without a layout, encodes as ccl_codec_encode. The decoder needs
 * nothing more than the message. */
CCL_NODISCARD
ccl_result_t ccl_codec_encode_range(const ccl_codec_t *codec, const float *src, size_t off,
                                    size_t count, uint64_t seed, void *dst, size_t cap,
                                    size_t *len_p, float *recon);

/* The seed of part t of a message cut by a layout (a sparse codec's tensor t, a dense codec's
 * segment t), drawn from the message's seed. */
uint64_t ccl_codec_part_seed(uint64_t seed, int t);

/* Whether codec encodes each element alone (cast, threshold, sign without a scale), so that a
 * layout changes nothing for it. */
int ccl_codec_per_element(const ccl_codec_t *codec);

/* A dense codec's two header parameter words (they do not depend on the data), for an
 * encoder elsewhere (cuda/); CCL_ERR_UNSUPPORTED for a sparse codec. */
CCL_NODISCARD
ccl_result_t ccl_codec_header_params(const ccl_codec_t *codec, uint32_t hp[2]);

/* Decodes bytes from the network: the header names the codec; any inconsistency (magic,
 * version, codec, count, lengths, indices, scales) gives CCL_ERR_INVALID_PAYLOAD with the
 * reason,
 * and never touches memory outside src[0..len) and out[0..count). */
CCL_NODISCARD
ccl_result_t ccl_codec_decode(const void *src, size_t len, float *out, size_t count,
                              int accumulate);

/* The checks of ccl_codec_decode without the decoding, for a payload a GPU kernel will
 * decode (cuda/). CCL_ERR_UNSUPPORTED for a codec that has no such check. */
CCL_NODISCARD
ccl_result_t ccl_codec_check(const void *src, size_t len, size_t count);

/* A sparse codec's encoding as its (index, value) list: the same checks as
 * ccl_codec_decode; on success *idx_p and *val_p (ascending indices, k_p of them) are
 * malloc'd and the caller frees them. */
CCL_NODISCARD
ccl_result_t ccl_codec_read_sparse(const void *src, size_t len, size_t count, uint32_t **idx_p,
                                   float **val_p, size_t *k_p);

/* The index of the first NaN or infinity in x[0, n), or n. */
size_t ccl_first_nonfinite(const float *x, size_t n);
/* CCL_ERR_INVALID_ARG for input refused for the NaN or infinity at index `at`. */
CCL_NODISCARD
ccl_result_t ccl_nonfinite_error(const char *codec, size_t at);

/* Nonzero if no x[i] is a NaN or an infinity (a branch-free, vectorised pass). */
int ccl_all_finite(const float *x, size_t n);

/* dst = src (n floats, not overlapping), in one pass that also tells whether all are finite. */
int ccl_copy_all_finite(float *dst, const float *src, size_t n);

/* Makes the codecs use their scalar reference loops (generic != 0) or pick the fastest the
 * CPU supports (0, the default). For tests that compare the two. */
void ccl_compress_force_generic(int generic);

/* Nonzero where the codecs' AVX2 (and F16C) loops run: the CPU has them and no test forced
 * the scalar references (simd.c). */
int ccl_simd_avx2(void);

#endif
