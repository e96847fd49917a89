/* compressor.h: the compressor handle (one per gradient buffer, as long as the buffer
 * lives) and the compressed algorithms' descriptors. */
#ifndef CCL_COMPRESSED_COMPRESSOR_H
#define CCL_COMPRESSED_COMPRESSOR_H

#include "../coll.h"
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
    /* The algorithm prepares error feedback piece by piece (ccl_step_prepare) just before it
     * encodes each piece, so the pass overlaps the first messages; else all of it is
     * prepared before the algorithm runs. */
    int        prepares_pieces;
} ccl_calgo_t;

extern const ccl_calgo_t ccl_allreduce_quant_sra;
extern const ccl_calgo_t ccl_allreduce_quant_ring;
extern const ccl_calgo_t ccl_allreduce_quant_tree;
extern const ccl_calgo_t ccl_allreduce_sparse_allgather;
extern const ccl_calgo_t ccl_allreduce_sparse_rd;
extern const ccl_calgo_t ccl_allreduce_sparse_split;
extern const ccl_calgo_t ccl_allreduce_sign_vote;
extern const ccl_calgo_t ccl_allreduce_powersgd;
extern const ccl_calgo_t ccl_allgather_direct_encoded;
/* NULL-terminated, for lookup by name and for the info tool. */
extern const ccl_calgo_t *const ccl_calgos[];

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
};

/* The allreduce algorithm for a spec without algo= (codec, count and nranks set); *us_p: the
 * cost model's estimate where it chose, else -1. */
const ccl_calgo_t *ccl_comp_default_algo(struct ccl_compressor *c, double *us_p);

/* Lossy compression applies to these types only. */
static inline int ccl_comp_is_float(ccl_datatype_t dt)
{
    return dt == CCL_FLOAT32 || dt == CCL_FLOAT16 || dt == CCL_BFLOAT16;
}

/* A handle for spec ("none", "auto" without its sub-compressor, or a codec spec) on comm. */
ccl_result_t ccl_comp_create(struct ccl_comm *comm, const char *spec, size_t count,
                             ccl_datatype_t dtype, struct ccl_compressor **comp_p);

#endif
