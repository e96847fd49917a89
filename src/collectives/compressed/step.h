/* step.h: one compressed call in progress (ccl_comp_step_t, on run.c's stack) and the
 * helpers the compressed algorithms call to encode, exchange, decode and finish it. */
#ifndef CCL_COMPRESSED_STEP_H
#define CCL_COMPRESSED_STEP_H

#include "collectives/compressed/compressor.h"
#include "collectives/p2p.h"

struct ccl_comp_step;

/* Where a step's vectors live and its vector work runs: the host (exec_host.c) or a GPU
 * (cuda/exec_cuda.c). The helpers below call these, never ask which it is. */
typedef struct ccl_step_exec {
    const char *name;
    /* This rank's whole input encoded into dst (bytes in host memory) with the seed of
     * `rank`, its reconstruction kept for error feedback; a non-finite input the encoder
     * was left to check sets *skip instead. */
    ccl_result_t (*encode_own)(struct ccl_comp_step *st, int rank, uint8_t *dst, size_t cap,
                               size_t *len_p, int *skip);
    /* Host bytes decoded into out (count floats), added to it where accumulate is set. */
    ccl_result_t (*decode)(struct ccl_comp_step *st, const void *src, size_t len, float *out,
                           size_t count, int accumulate);
    ccl_result_t (*zero)(struct ccl_comp_step *st, float *out, size_t count);
    /* The step's end once out holds the result: commit error feedback (from recon or the own
     * message); where `reduced` (an allreduce), aggregate (EF21) and divide for avg. */
    ccl_result_t (*finish)(struct ccl_comp_step *st, float *recon, float *out, size_t count,
                           int reduced, ccl_redop_t op, int nranks);
} ccl_step_exec_t;

extern const ccl_step_exec_t ccl_step_exec_host;

/* One call, prepared before the collective starts (run.c), read and updated by the
 * algorithm; ccl_coll_args_t.step points here. */
typedef struct ccl_comp_step {
    struct ccl_compressor *comp;
    const float  *input;          /* the vector to compress (error feedback applied) */
    ccl_codec_t   codec;          /* the codec for this step (its agreed scale, say) */
    int           local_skip;     /* this rank's gradient was not finite */
    /* The prepare made no pass of its own: input is the gradient itself (no error
     * feedback), and the sparse encoder, which checks its input in its candidate pass,
     * finds NaN and infinities instead (ccl_step_encode_own). */
    int           encoder_checks_finite;
    /* The algorithm prepares input piece by piece (CCL_ALGO_PREPARES_PIECES): the
     * gradient and DGC's clipping scale; pending_grad is NULL when input is already whole. */
    const float  *pending_grad;
    float         clip_scale;
    /* This rank's encoding of input, when ccl_step_exchange encoded it without a
     * reconstruction (ccl_ef_commits_list): ccl_step_commit commits from it. NULL otherwise. */
    const uint8_t *own_msg;
    size_t        own_len;
    const ccl_step_exec_t *exec;  /* where its vectors are: the host or a GPU */
    void         *stream;         /* the GPU's stream (NULL on the host) */
} ccl_comp_step_t;

/* The seed of one encoding: the same on every rank for codecs that need a shared seed,
 * distinct per rank otherwise; distinct per step and chunk. */
uint64_t ccl_step_seed(const ccl_comp_step_t *st, int rank, uint32_t chunk);

/* Marks a message that carries no payload because the sender's gradient was not finite, or
 * a sum it made overflowed float32: every rank then skips the step. */
#define CCL_SKIP_TOKEN     "SKIP"
#define CCL_SKIP_TOKEN_LEN 4
int ccl_step_is_skip(const void *buf, size_t len);

/* Encodes this rank's whole input (rank: this rank, for the seed) into dst. Where the encoder
 * refuses a non-finite gradient that the prepare left to it (encoder_checks_finite), this rank's
 * step is skipped as if the prepare had found it: local_skip and *skip set, CCL_SUCCESS. */
CCL_NODISCARD
ccl_result_t ccl_step_encode_own(ccl_comp_step_t *st, int rank, uint8_t *dst, size_t cap,
                                 size_t *len_p, float *recon, int *skip);

/* Ends a call whose step some rank skipped: the state is kept, the comm stays usable. */
CCL_NODISCARD
ccl_result_t ccl_step_skip_result(ccl_coll_ctx_t *ctx);

/* Commits this rank's error feedback for the step: from its own message where
 * ccl_step_exchange kept it (st->own_msg), else from recon (ccl_ef_recon, filled by the
 * encoder and ccl_step_sent_exact). count: the elements of the compressor. */
CCL_NODISCARD
ccl_result_t ccl_step_commit(ccl_comp_step_t *st, float *recon, size_t count);

/* After the sum is in out (count floats, identical on every rank): commit the error
 * feedback (recon: ccl_ef_recon, filled by the encoder and ccl_step_sent_exact), aggregate
 * (EF21), divide for avg, through the step's executor. */
CCL_NODISCARD
ccl_result_t ccl_step_finish(ccl_coll_ctx_t *ctx, float *recon, float *out, size_t count);

/* How every compressed algorithm ends: ccl_step_skip_result where some rank skipped the
 * step, else ccl_step_finish. */
CCL_NODISCARD
ccl_result_t ccl_step_end(ccl_coll_ctx_t *ctx, int skip, float *recon, float *out, size_t count);

/* Elements [off, off + len) of st->input went to the sum unencoded: their entry in recon (the
 * error feedback's buffer, NULL without error feedback) says so, whichever form it takes
 * (decoded values: input; residuals: zero). */
void ccl_step_sent_exact(const ccl_comp_step_t *st, float *recon, size_t off, size_t len);

/* recon's entries from off (NULL stays NULL: no error feedback). */
static inline float *ccl_step_recon_at(float *recon, size_t off)
{
    return recon != NULL ? recon + off : NULL;
}

/* How ccl_step_exchange moves the messages. */
typedef enum {
    CCL_ROUTE_DIRECT, /* every message to every rank at once */
    CCL_ROUTE_ROUNDS, /* round t sends to rank + t and receives from rank - t: one message
                       * into each rank at a time */
    CCL_ROUTE_RELAY,  /* across hosts once: a message goes to one rank of every other host
                       * (its relay), which hands it on inside its host; DIRECT where the
                       * ranks are not on several hosts, some of several ranks */
} ccl_route_t;

/* Every rank encodes its whole input (error feedback's reconstruction into its state) and
 * sends it to every other rank. On return slot[i], len[i] hold rank i's encoding (the own
 * one included) and *skip_p tells whether some rank skipped the step. slot and len have
 * nranks entries, in the communicator's scratch (ccl_step_alloc). */
CCL_NODISCARD
ccl_result_t ccl_step_exchange(ccl_coll_ctx_t *ctx, uint8_t ***slot_p, size_t **len_p,
                               int *skip_p, ccl_route_t route);

/* ccl_step_exchange, then out = the sum of every rank's decoded payload, added in rank
 * order so that every rank computes the same bits. Nothing is written if a rank skipped. */
CCL_NODISCARD
ccl_result_t ccl_step_exchange_sum(ccl_coll_ctx_t *ctx, float *out, int *skip_p,
                                   ccl_route_t route);

/* A whole sparse allreduce (sparse_allgather, sparse_hier): ccl_step_exchange_sum into the
 * call's recvbuf, then the step's end (error feedback committed, or the skip reported). */
CCL_NODISCARD
ccl_result_t ccl_step_allreduce_sparse(ccl_coll_ctx_t *ctx, ccl_route_t route);

/* Tests only (tests/test_robust.c links the layers to reach it): where set, rewrites this
 * rank's message in a robust call before it is sent (at most cap bytes), so that a test rank
 * can play a hostile peer. NULL in every program built on libcclz.so, which hides it. */
extern void (*ccl_step_tamper)(int rank, uint8_t *msg, size_t *len, size_t cap);

/* Encodes n floats of src, elements [off, off + n) of the call's buffer (this rank's input,
 * or a sum made in this call), with the step's codec into dst (ccl_codec_encode_range: a
 * layout's tensors scaled apart), or the skip token if *skip is set. A sum of finite values can overflow float32,
 * and no lossy encoding of an infinity exists: then the skip token goes instead and *skip
 * is set, so that every rank skips the step (the state kept, the communicator usable). */
CCL_NODISCARD
ccl_result_t ccl_step_encode(ccl_coll_ctx_t *ctx, const float *src, size_t off, size_t n,
                             uint64_t seed, uint8_t *dst, size_t cap, size_t *len_p, float *recon,
                             int *skip);

/* Waits for a message (req, received into msg), then: a skip token sets *skip; otherwise,
 * unless *skip is already set, decodes it into out (accumulating or not). */
CCL_NODISCARD
ccl_result_t ccl_step_take(ccl_coll_ctx_t *ctx, ccl_p2p_req_t *req, const uint8_t *msg, float *out,
                           size_t count, int accumulate, int *skip);

/* Decodes what peer sent; a payload that fails its checks fails the call (hostile bytes). */
CCL_NODISCARD
ccl_result_t ccl_step_decode_from(ccl_coll_ctx_t *ctx, int peer, const uint8_t *buf, size_t len,
                                  float *out, size_t count, int accumulate);

/* The call's message buffers: the communicator's scratch, reused across calls (no
 * allocation per call once it is large enough). One block per call. */
void *ccl_step_alloc(ccl_coll_ctx_t *ctx, size_t bytes);

/* For an algorithm with CCL_ALGO_PREPARES_PIECES: error feedback's prepare of input[off, off + len), once
 * per element, before anything reads it there. A non-finite gradient there sets *skip (the
 * algorithm then sends skip tokens, and every rank skips the step) and counts the skipped
 * step once. Nothing to do where input was prepared whole (a GPU call, a shared scale). */
void ccl_step_prepare(ccl_comp_step_t *st, size_t off, size_t len, int *skip);

#endif
