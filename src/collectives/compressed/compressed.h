/* compressed.h: compressors (a codec, its error-feedback state and the algorithm that moves
 * it), the helpers compressed algorithms call (step.c), and the compressed algorithms, one
 * file each under src/collectives/allreduce/ and allgather/. */
#ifndef CCL_COMPRESSED_H
#define CCL_COMPRESSED_H

#include "../p2p.h"
#include "../../compress/ef.h"
#include "../../compress/powersgd.h"

/* Codec kinds an algorithm accepts. */
#define CCL_CALGO_DENSE  (1u << 0) /* quantizers and casts */
#define CCL_CALGO_SPARSE (1u << 1) /* (index, value) codecs */
#define CCL_CALGO_SIGN   (1u << 2) /* sign:scale=none only */
#define CCL_CALGO_LOWRANK (1u << 3) /* powersgd */

typedef struct ccl_calgo {
    /* name, desc, collective, run; estimate_us (args->comp and args->count set) for the
     * algorithms a spec without algo= chooses among by the cost model, NULL for the rest */
    ccl_algo_t base;
    uint32_t   kinds;
    /* The algorithm prepares error feedback piece by piece (ccl_comp_prepare) just before it
     * encodes each piece, so the pass overlaps the first messages; else all of it is
     * prepared before the algorithm runs. */
    int        prepares_pieces;
} ccl_calgo_t;

extern const ccl_calgo_t ccl_callreduce_sra;
extern const ccl_calgo_t ccl_callreduce_ring;
extern const ccl_calgo_t ccl_callreduce_tree;
extern const ccl_calgo_t ccl_callreduce_sparse_allgather;
extern const ccl_calgo_t ccl_callreduce_sparse_rd;
extern const ccl_calgo_t ccl_callreduce_sparse_split;
extern const ccl_calgo_t ccl_callreduce_sign_vote;
extern const ccl_calgo_t ccl_callreduce_powersgd;
extern const ccl_calgo_t ccl_callgather_direct;
/* NULL-terminated, for lookup by name and for the info tool. */
extern const ccl_calgo_t *const ccl_calgos[];

struct ccl_compressor;

/* The allreduce algorithm for a spec without algo= (codec, count and nranks set); *us_p: the
 * cost model's estimate where it chose, else -1. */
const ccl_calgo_t *ccl_comp_default_algo(struct ccl_compressor *c, double *us_p);

/* The steps of a compressed call that touch its vectors, for a call on device buffers
 * (cuda/gpu_comp.c): encode c->p into host bytes (error feedback's recon kept on the
 * device), decode host bytes into out, zero out, and finish (commit, aggregate, average).
 * A compressor's `dev` is NULL on the host. */
typedef struct {
    ccl_result_t (*encode)(struct ccl_compressor *c, uint64_t seed, void *dst, size_t cap,
                           size_t *len_p);
    ccl_result_t (*decode)(struct ccl_compressor *c, const void *src, size_t len, float *out,
                           size_t count, int accumulate);
    ccl_result_t (*zero)(struct ccl_compressor *c, float *out, size_t count);
    ccl_result_t (*finish)(struct ccl_compressor *c, float *out, size_t count, ccl_redop_t op,
                           int nranks);
} ccl_comp_dev_t;

struct ccl_compressor {
    char          spec[400];      /* normalised: codec:params,ef=...,algo=... */
    int           none;           /* exact collectives only */
    int           is_auto;
    struct ccl_compressor *auto_sub; /* auto: the compressor it uses when compression pays */
    uint64_t      auto_calls;
    /* auto: where the model is unsure, both methods are tried on this very buffer and the
     * faster one kept (identical on every rank); see auto_allreduce. */
    int           auto_decided;   /* -1 none, else the method in force (0 exact, 1 compressed) */
    int           auto_in_trial;
    uint64_t      auto_trial_at;  /* the call at which the current trial began */
    double        auto_best[2];   /* this rank's fastest trial call per method, us */
    ccl_codec_t   codec;          /* ops is NULL for powersgd, which is no stream codec */
    ccl_powersgd_t *lowrank;      /* powersgd's factors and warm start */
    ccl_ef_mode_t ef_mode;
    ccl_ef_t     *ef;             /* state for `count` float32 */
    const ccl_calgo_t *algo;      /* allreduce algorithm */
    size_t        count;
    ccl_datatype_t dtype;
    int           rank, nranks;
    uint64_t      spec_hash;      /* joins every call's signature */
    float        *f32_in, *f32_out; /* float16/bfloat16 calls go through float32 */
    size_t        f32_out_count;
    /* This call, prepared before the collective starts: */
    const float  *p;              /* the vector to compress (error feedback applied) */
    ccl_codec_t   eff;            /* the codec for this step */
    int           local_bad;      /* this rank's gradient was not finite */
    /* The prepare made no pass of its own: p is the gradient itself (no error feedback),
     * and the sparse encoder, which checks its input in its candidate pass, finds NaN and
     * infinities instead (ccl_comp_encode_own). */
    int           check_in_encoder;
    /* The algorithm prepares p piece by piece (ccl_calgo_t.prepares_pieces): g and DGC's
     * clipping scale; prepare_g is NULL when p is already whole. */
    const float  *prepare_g;
    float         prepare_clip;
    /* This rank's encoding of p, when ccl_comp_exchange encoded it without a reconstruction
     * (ccl_ef_commits_list): ccl_comp_commit commits from it. NULL otherwise. */
    const uint8_t *own_msg;
    size_t        own_len;
    const ccl_comp_dev_t *dev;    /* this call's buffers are on a GPU (NULL: host) */
    void         *dev_stream;
};

/* Lossy compression applies to these types only. */
static inline int ccl_comp_is_float(ccl_datatype_t dt)
{
    return dt == CCL_FLOAT32 || dt == CCL_FLOAT16 || dt == CCL_BFLOAT16;
}

/* A handle for spec ("none", "auto" without its sub-compressor, or a codec spec) on comm. */
ccl_result_t ccl_comp_create(struct ccl_comm *comm, const char *spec, size_t count,
                             ccl_datatype_t dtype, struct ccl_compressor **comp_p);

/* The seed of one encoding: the same on every rank for codecs that need a shared seed,
 * distinct per rank otherwise; distinct per step and chunk. */
uint64_t ccl_comp_seed(const struct ccl_compressor *c, int rank, uint32_t chunk);

/* Marks a message that carries no payload because the sender's gradient was not finite, or
 * a sum it made overflowed float32: every rank then skips the step. */
#define CCL_SKIP_TOKEN     "SKIP"
#define CCL_SKIP_TOKEN_LEN 4
int ccl_comp_is_skip(const void *buf, size_t len);

/* Encodes this rank's whole p (rank: this rank, for the seed) into dst. Where the encoder
 * refuses a non-finite gradient that the prepare left to it (check_in_encoder), this rank's
 * step is skipped as if the prepare had found it: local_bad and *skip set, CCL_SUCCESS. */
ccl_result_t ccl_comp_encode_own(struct ccl_compressor *c, int rank, uint8_t *dst, size_t cap,
                                 size_t *len_p, float *recon, int *skip);

/* Ends a call whose step some rank skipped: the state is kept, the comm stays usable. */
ccl_result_t ccl_comp_skip_result(ccl_coll_ctx_t *ctx);

/* Commits this rank's error feedback for the step: from its own message where
 * ccl_comp_exchange kept it (c->own_msg), else from recon (ccl_ef_recon, filled by the
 * encoder and ccl_comp_sent_exact). count: the elements of the compressor. */
ccl_result_t ccl_comp_commit(struct ccl_compressor *c, float *recon, size_t count);

/* After the sum is in out (count floats, identical on every rank): commit the error
 * feedback (recon: ccl_ef_recon, filled by the encoder and ccl_comp_sent_exact), aggregate
 * (EF21), divide for avg. On device buffers, c->dev's finish does it. */
ccl_result_t ccl_comp_finish(ccl_coll_ctx_t *ctx, float *recon, float *out, size_t count);

/* Elements [off, off + len) of c->p went to the sum unencoded: their entry in recon (the
 * error feedback's buffer, NULL without error feedback) says so, whichever form it takes
 * (decoded values: p; residuals: zero). */
void ccl_comp_sent_exact(const struct ccl_compressor *c, float *recon, size_t off, size_t len);

/* recon's entries from off (NULL stays NULL: no error feedback). */
static inline float *ccl_comp_recon_at(float *recon, size_t off)
{
    return recon != NULL ? recon + off : NULL;
}

/* Every rank encodes its whole p (error feedback's reconstruction into its state) and
 * sends it to every other rank. On return slot[i], len[i] hold rank i's encoding (the own
 * one included) and *skip_p tells whether some rank skipped the step. slot and len have
 * nranks entries, in the communicator's scratch (ccl_comp_alloc). */
ccl_result_t ccl_comp_exchange(ccl_coll_ctx_t *ctx, uint8_t ***slot_p, size_t **len_p,
                               int *skip_p);

/* ccl_comp_exchange, then out = the sum of every rank's decoded payload, added in rank
 * order so that every rank computes the same bits. Nothing is written if a rank skipped. */
ccl_result_t ccl_comp_exchange_sum(ccl_coll_ctx_t *ctx, float *out, int *skip_p);

/* Encodes n floats of src (this rank's p, or a sum made in this call) with the step's codec
 * into dst, or the skip token if *skip is set. A sum of finite values can overflow float32,
 * and no lossy encoding of an infinity exists: then the skip token goes instead and *skip
 * is set, so that every rank skips the step (the state kept, the communicator usable). */
ccl_result_t ccl_comp_encode(ccl_coll_ctx_t *ctx, const float *src, size_t n, uint64_t seed,
                             uint8_t *dst, size_t cap, size_t *len_p, float *recon, int *skip);

/* Waits for a message (req, received into msg), then: a skip token sets *skip; otherwise,
 * unless *skip is already set, decodes it into out (accumulating or not). */
ccl_result_t ccl_comp_take(ccl_coll_ctx_t *ctx, ccl_p2p_req_t *req, const uint8_t *msg, float *out,
                           size_t count, int accumulate, int *skip);

/* Decodes what peer sent; a payload that fails its checks fails the call (hostile bytes). */
ccl_result_t ccl_comp_decode_from(ccl_coll_ctx_t *ctx, int peer, const uint8_t *buf, size_t len,
                                  float *out, size_t count, int accumulate);

/* PowerSGD's allreduce of c->p into out (allreduce/powersgd.c): two exact allreduces of
 * the factors, not a stream of encoded chunks, so it runs outside ccl_coll_run. */
ccl_result_t ccl_powersgd_allreduce(struct ccl_compressor *c, struct ccl_comm *comm, float *out,
                                    ccl_redop_t op);

/* auto's model: predicted microseconds of the exact (method 0) or compressed (1) allreduce
 * of `bytes` on comm (after calibration). */
double ccl_auto_model_us(const struct ccl_comm *comm, int method, double bytes);

/* The call's message buffers: the communicator's scratch, reused across calls (no
 * allocation per call once it is large enough). One block per call. */
void *ccl_comp_alloc(ccl_coll_ctx_t *ctx, size_t bytes);

/* For an algorithm with prepares_pieces: error feedback's prepare of p[off, off + len), once
 * per element, before anything reads it there. A non-finite gradient there sets *skip (the
 * algorithm then sends skip tokens, and every rank skips the step) and counts the skipped
 * step once. Nothing to do where p was prepared whole (a GPU call, a shared scale). */
void ccl_comp_prepare(struct ccl_compressor *c, size_t off, size_t len, int *skip);

/* Codecs with CCL_CODEC_SHARED_SCALE: one exact allreduce (max) of this rank's scale for
 * its input (`local`, unused where c->local_bad) and of its refusal. The step's codec gets
 * the agreed scale; if any rank refused its input, every rank gets CCL_ERR_INVALID_ARG
 * (the step skipped, the error-feedback state kept). */
ccl_result_t ccl_comp_agree_scale(struct ccl_compressor *c, struct ccl_comm *comm, float local);

#endif
