/* ef.h: the per-buffer state of error feedback: what the compressor left out (or, for EF21,
 * what the receivers already know), carried into the next compression so nothing is lost. */
#ifndef CCL_EF_H
#define CCL_EF_H

#include "compress/codec.h"

typedef enum {
    CCL_EF_NONE    = 0, /* compress the gradient as it is */
    CCL_EF_CLASSIC = 1, /* Seide; Karimireddy et al.: p = g + e, e = p - C(p) */
    CCL_EF_EF21    = 2, /* Richtarik et al.: send C(g - g_i), g_i += C(...) */
    CCL_EF_EF21W   = 3, /* EF21 with per-rank weights w_i (sum 1) */
    CCL_EF_DGC     = 4, /* DGC: momentum correction and masking, clipping, warm-up */
} ccl_ef_mode_t;

typedef struct ccl_ef {
    ccl_ef_mode_t mode;
    size_t   count;
    float   *residual;   /* classic: e; EF21: g_i, this rank's estimate; DGC: v, the accumulator */
    float   *velocity;   /* DGC: u, the momentum (NULL otherwise) */
    float   *global;     /* EF21: G, the aggregate every rank holds identically (NULL otherwise) */
    int      nranks;     /* EF21-W's n and DGC clipping's P (default 1) */
    float    weight;     /* EF21-W: this rank's w_i (default 1/nranks) */
    int      masking;    /* DGC: the step being committed masks the momentum it sent */
    const struct ccl_layout *whole; /* DGC, that step: a layout whose tensors without a matrix
                                     * shape went whole (dense_1d) and keep their momentum */
    int      sparse_sent; /* this step's codec is sparse: in classic mode recon holds the
                           * decoded values (not p minus them); commit touches only what was
                           * sent, and can take it as a list (ccl_ef_commit_list) */
    uint64_t steps;      /* compressions done */
    uint64_t skipped;    /* steps refused for a non-finite gradient */
    float   *p, *recon;  /* per-call buffers, kept across calls: p, its reconstruction */
    float   *u;          /* DGC: the new velocity, until commit */
    /* Calls on device buffers keep the vectors on the GPU (cuda/exec_cuda.c): `gpu` holds the
     * device copies, `on_gpu` says that they, not the host vectors, are current. Every
     * function here first brings the state back (to_host) and ccl_ef_destroy frees the
     * device copies (gpu_free); both are set by exec_cuda.c. */
    void    *gpu;
    int      on_gpu;
    void   (*to_host)(struct ccl_ef *ef);
    void   (*gpu_free)(struct ccl_ef *ef);
} ccl_ef_t;

/* Names for spec strings and logs: "none", "classic", "ef21", "ef21w", "dgc"; -1 if unknown. */
int ccl_ef_mode_parse(const char *name);
const char *ccl_ef_mode_name(ccl_ef_mode_t mode);

CCL_NODISCARD
ccl_result_t ccl_ef_create(size_t count, ccl_ef_mode_t mode, ccl_ef_t **ef_p);
void ccl_ef_destroy(ccl_ef_t *ef);
/* Back to the state of a new buffer (zeros, step 0). */
void ccl_ef_reset(ccl_ef_t *ef);
/* Tells the state the job size and this rank's EF21-W weight (<= 0: 1/nranks). */
CCL_NODISCARD
ccl_result_t ccl_ef_set_group(ccl_ef_t *ef, int nranks, float weight);

/* One step is prepare, then encode `p` (in one piece or in chunks), then commit with what the
 * receivers will decode, then, once the collective has summed every rank's decoded message,
 * aggregate.
 *
 * prepare returns in *p_p the vector to compress, and in *eff the codec to use for this step
 * (DGC's warm-up lowers the ratio over the first steps; classic error feedback with a dense
 * codec sets eff->params.fb_residual, so the encoder writes the new residual p - decoded). Modes:
 *   none: p = g;  classic: p = g + e;  EF21: p = g - g_i;  EF21-W: p = g/n - w_i g_i
 *   (so that the decoded message is w_i c_i with c_i = C(g/(n w_i) - g_i));
 *   DGC: g clipped to norm clip/sqrt(P) if clip is set; u = m u + g; v += u (Nesterov:
 *   u = m (u + g); v += u + g); p = v.
 * Policy for non-finite input: if g holds a NaN or an infinity nothing changes, `skipped`
 * counts the step, and CCL_ERR_INVALID_ARG names the first bad index; the caller skips the
 * step (as mixed-precision training does on overflow) and the next finite gradient proceeds
 * normally. So one bad step never poisons the state. */
CCL_NODISCARD
ccl_result_t ccl_ef_prepare(ccl_ef_t *ef, const ccl_codec_t *codec, const float *g,
                            const float **p_p, ccl_codec_t *eff);
/* ccl_ef_prepare in parts, for an algorithm that prepares each piece just before it encodes
 * it: begin sets *p_p, *eff and DGC's clipping scale (a pass over g where clipping is on);
 * range prepares [off, off + len) and refuses a non-finite g there (the caller counts the
 * skipped step once). Every element must be prepared once before the step commits. */
void ccl_ef_prepare_begin(ccl_ef_t *ef, const ccl_codec_t *codec, const float *g,
                          const float **p_p, ccl_codec_t *eff, float *clip_scale);
CCL_NODISCARD
ccl_result_t ccl_ef_prepare_range(ccl_ef_t *ef, const ccl_codec_t *codec, const float *g,
                                  float clip_scale, size_t off, size_t len);
/* The codec of this step (what prepare returns in *eff): DGC's warm-up ratio, and
 * fb_residual for classic error feedback with a dense codec. */
void ccl_ef_step_codec(ccl_ef_t *ef, const ccl_codec_t *codec, ccl_codec_t *eff);

/* recon: ccl_ef_recon's buffer, filled for every element: what the receivers decode from
 * this rank's message, except in classic mode with a dense codec (fb_residual), where it
 * holds p minus that.
 *   classic: e = recon (a swap of buffers); with a sparse codec e = p - recon;
 *   EF21: g_i += recon;  EF21-W: g_i += recon / w_i;
 *   DGC: v = p - recon (zero where sent in full), u = 0 where sent if masking.
 * Where e = p - recon, p becomes e by a swap of buffers and only the non-zeros of recon are
 * subtracted: a sparse codec sends few elements, so the commit touches little memory. */
void ccl_ef_commit(ccl_ef_t *ef, float *recon);
/* Whether this step's commit can take the (index, value) list of what was sent instead of
 * a dense recon: classic error feedback or DGC with a sparse codec. A caller that has this
 * rank's message at hand then encodes with no recon (no pass over it) and commits with
 * ccl_ef_commit_list, which gives the same state as ccl_ef_commit. */
int ccl_ef_commits_list(const ccl_ef_t *ef);
/* ccl_ef_commit from what the receivers decode from this rank's message: the k values val
 * at the ascending indices idx (touching only those elements). */
void ccl_ef_commit_list(ccl_ef_t *ef, const uint32_t *idx, const float *val, size_t k);

/* A step this rank sat out while its peers' committed (a robust call refusing this rank's own
 * non-finite vector): the state is kept and the step counted, so that the seeds and DGC's
 * warm-up, which follow the count, stay in step with the peers'. */
void ccl_ef_skip_step(ccl_ef_t *ef);

/* sum: the sum over ranks of the decoded messages. EF21 modes add it to G and return the
 * estimate of the sum of the gradients (EF21: G = sum g_i; EF21-W: n sum w_i g_i) in sum;
 * other modes leave sum as it is. */
void ccl_ef_aggregate(ccl_ef_t *ef, float *sum);

/* Where the caller builds what commit takes (count floats, owned by ef); NULL without error
 * feedback, where nothing reads it. */
float *ccl_ef_recon(ccl_ef_t *ef);

/* prepare + ccl_codec_encode of the whole p + commit. */
CCL_NODISCARD
ccl_result_t ccl_ef_encode(ccl_ef_t *ef, const ccl_codec_t *codec, const float *g,
                           uint64_t seed, void *dst, size_t cap, size_t *len_p);

/* Checkpoints: the state as bytes (magic, version, mode, count, steps, skipped, nranks,
 * weight, then its vectors) and back. restore checks every byte (mode and count must match
 * this buffer's, values finite) and changes nothing unless all is well. */
size_t ccl_ef_saved_size(const ccl_ef_t *ef);
CCL_NODISCARD
ccl_result_t ccl_ef_save(const ccl_ef_t *ef, void *buf, size_t cap, size_t *len_p);
CCL_NODISCARD
ccl_result_t ccl_ef_restore(ccl_ef_t *ef, const void *buf, size_t len);

#endif
