/* compressor.h: the compressor handle (one per gradient buffer, as long as the buffer
 * lives). */
#ifndef CCL_COMPRESSED_COMPRESSOR_H
#define CCL_COMPRESSED_COMPRESSOR_H

#include "collectives/coll.h"
#include "compress/ef.h"
#include "compress/powersgd.h"

#include <stdatomic.h>

/* What a compressor does with a call. */
typedef enum {
    CCL_COMP_NONE = 0, /* the exact collectives ("none", or PowerSGD where it would not pay) */
    CCL_COMP_AUTO,     /* exact or compressed per call, as auto.c decides */
    CCL_COMP_STREAM,   /* a stream codec (codec.ops) and an algorithm that moves its bytes */
    CCL_COMP_LOWRANK,  /* PowerSGD: low-rank factors summed exactly (lowrank) */
} ccl_comp_kind_t;

struct ccl_compressor {
    char          spec[400];      /* normalised: codec:params,ef=...,algo=... */
    ccl_comp_kind_t kind;
    struct ccl_compressor *auto_sub; /* auto: the compressor it uses when compression pays */
    uint64_t      auto_calls;
    /* auto: where the model is unsure, both methods are tried on this very buffer and the
     * faster one kept (identical on every rank); see auto.c. */
    int           auto_decided;   /* -1 none, else the method in force (0 exact, 1 compressed) */
    int           auto_in_trial;
    uint64_t      auto_trial_at;  /* the call at which the current trial began */
    double        auto_best[2];   /* this rank's fastest trial call per method, us */
    ccl_codec_t   codec;          /* ops is NULL for powersgd, which is no stream codec */
    ccl_powersgd_t *lowrank;      /* powersgd's factors and warm start: the buffer as one
                                   * rows x cols matrix (rows= in the spec), else NULL */
    ccl_powersgd_params_t lr_spec; /* powersgd's rank, warm and seed, as the spec gave them */
    /* powersgd with a layout (allreduce/powersgd.c): a state per tensor it approximates (NULL
     * for a tensor sent exact), layout->n entries; the packed buffers of the two exact
     * allreduces: every P, then the exact tensors' elements, then the skip flag (lr_np + 1
     * floats); every Q (lr_nq). */
    ccl_powersgd_t **lr_tensor;
    float        *lr_p, *lr_q;
    size_t        lr_np, lr_nq;
    ccl_ef_mode_t ef_mode;
    ccl_ef_t     *ef;             /* state for `count` float32; with an algorithm that keeps
                                   * it per shard (CCL_ALGO_SHARDS), made only once an
                                   * allgather or reduce-scatter needs it */
    float         weight;         /* EF21-W's, as the spec gave it (0: 1/nranks) */
    ccl_layout_t *layout;         /* the buffer's tensors (ccl_compressor_set_layout), or NULL;
                                   * codec.params.layout points here */
    float        *scales;         /* a CCL_CODEC_SHARED_SCALE codec with a layout: the agreed
                                   * scale of every tensor (run.c), else NULL */
    double       *scale_votes;    /* their exact allreduce's buffer: 1 + layout->n */
    /* The hierarchical allreduce (CCL_ALGO_SHARDS): one compressor per shard this rank owns
     * (NULL for an empty one), on that shard's sub-communicator, made from shard_spec. */
    struct ccl_compressor **shard_comp;
    size_t       *shard_off;      /* where each one's elements begin in the buffer */
    int           nshard_comp;
    char          shard_spec[300];
    const ccl_algo_t *algo;       /* allreduce algorithm */
    size_t        count;
    ccl_datatype_t dtype;
    int           rank, nranks;
    uint64_t      spec_hash;      /* joins every call's signature */
    float        *f32_in, *f32_out; /* float16/bfloat16 calls go through float32 */
    size_t        f32_out_count;
    atomic_int    busy;           /* a nonblocking call on it is issued and not yet done */
    ccl_stats_t   stats;          /* ccl_compressor_get_stats (collectives/request.c counts) */
};

/* The keys a spec gives the handle itself (ef=, weight=, algo=), beside the codec's. */
extern const ccl_param_field_t ccl_comp_spec_keys[];

/* What an algorithm must carry for codec: CCL_CARRY_DENSE, _SPARSE, or _SIGN | _DENSE for
 * sign:scale=none. */
uint32_t ccl_comp_carries(const ccl_codec_t *codec);

/* The algorithm for a call of coll with codec and no algo=, through the one selector:
 * majority vote for sign:scale=none, the sparse allgather for sparse codecs, and for dense
 * ones the cheapest estimate (sra, or the tree for small, latency-bound buffers; the ring,
 * which quantizes an element P - 1 times, only when named). The estimate depends on the
 * codec, count, rank count and the cost model's constants (the same on every rank: nothing
 * measures them per rank), so every rank chooses alike. *us_p: as the selector's. */
const ccl_algo_t *ccl_comp_select_algo(ccl_coll_t coll, const ccl_codec_t *codec, size_t count,
                                       const ccl_tuning_t *t, int nranks, double *us_p);

/* Lossy compression applies to these types only. */
static inline int ccl_comp_is_float(ccl_datatype_t dt)
{
    return dt == CCL_FLOAT32 || dt == CCL_FLOAT16 || dt == CCL_BFLOAT16;
}

/* The checks every compressed call makes: comm and c set, count and dtype those c was made
 * for, buffers set where count > 0. */
CCL_NODISCARD
ccl_result_t ccl_comp_check_call(ccl_compressor_t c, ccl_comm_t comm, const void *sendbuf,
                                 const void *recvbuf, size_t count, ccl_datatype_t dtype);

/* c->ef, for c's count, mode, rank count and weight (NULL again where it fails). */
CCL_NODISCARD
ccl_result_t ccl_comp_make_ef(struct ccl_compressor *c);

/* Makes c's error-feedback state for the whole buffer where it has none yet (a compressor of
 * the hierarchical allreduce, called for an allgather or a reduce-scatter). */
CCL_NODISCARD
ccl_result_t ccl_comp_whole_state(struct ccl_compressor *c, struct ccl_comm *comm);

/* A handle for spec ("none", "auto" without its sub-compressor, or a codec spec) on comm. */
CCL_NODISCARD
ccl_result_t ccl_comp_create(struct ccl_comm *comm, const char *spec, size_t count,
                             ccl_datatype_t dtype, struct ccl_compressor **comp_p);

#endif
