/* coll.h: what an algorithm is, the per-call context every algorithm runs in, and the one
 * registry and selector of exact and compressed algorithms (select.c). */
#ifndef CCL_COLL_H
#define CCL_COLL_H

#include "core/comm.h"

typedef enum {
    CCL_COLL_ALLREDUCE = 0,
    CCL_COLL_ALLGATHER,
    CCL_COLL_REDUCE_SCATTER,
    CCL_COLL_BROADCAST,
    CCL_COLL_BARRIER,
    CCL_COLL_ALLREDUCE_ROBUST,
    CCL_NUM_COLLS
} ccl_coll_t;

typedef struct {
    ccl_coll_t     coll;
    const void    *sendbuf;
    void          *recvbuf;
    size_t         count;    /* allgather: per rank; reduce_scatter: per rank (recvcount) */
    ccl_datatype_t dtype;
    ccl_redop_t    op;
    int            root;
    size_t         dt_size;
    /* Compressed calls: the call in progress (compressed/step.h), the compressor's codec
     * (for the estimates) and the algorithm it chose (run instead of selecting one);
     * sig_extra joins the call's signature (the compressor's spec). NULL for exact calls. */
    struct ccl_comp_step *step;
    const struct ccl_codec *codec;
    const struct ccl_algo *algo;
    uint64_t       sig_extra;
    int            unchecked; /* CCLZ_CHECK_CALLS's own comparison: not compared itself */
    const void    *algo_arg;  /* the algorithm's own parameters (a robust rule), or NULL */
} ccl_coll_args_t;

struct ccl_p2p_req;

/* One collective call in progress. */
typedef struct {
    struct ccl_comm       *comm;
    const ccl_coll_args_t *args;
    uint32_t               seq;       /* same on every rank for this call */
    uint64_t               sig;       /* hash of what must match across ranks */
    double                 last_progress; /* when progress_seen last changed */
    unsigned               progress;      /* messages completed so far */
    unsigned               progress_seen; /* progress at the last health check */
    double                 last_probe;    /* when a local peer's process was last looked at */
    struct ccl_p2p_req    *reqs;      /* requests the algorithm asked for */
    int                    nreqs;
    void                  *owned_buf; /* freed after the requests, in ccl_coll_ctx_finish */
    int                    keep_comm; /* the error is this call's alone: the comm stays usable */
    /* A robust call's (robust/robust.c): per rank, why its message was refused (ccl_fault_t);
     * a receive that fails a check then completes refused instead of failing the comm.
     * NULL in every other call. */
    uint8_t               *faults;
} ccl_coll_ctx_t;

/* What an algorithm can move (ccl_algo_t.carries), and what a call needs moved. */
#define CCL_CARRY_EXACT   (1u << 0) /* the elements themselves */
#define CCL_CARRY_DENSE   (1u << 1) /* a quantizer's or a cast's encoding */
#define CCL_CARRY_SPARSE  (1u << 2) /* (index, value) encodings */
#define CCL_CARRY_SIGN    (1u << 3) /* sign:scale=none's votes */
#define CCL_CARRY_LOWRANK (1u << 4) /* PowerSGD's factors */

/* ccl_algo_t.flags */
#define CCL_ALGO_PREPARES_PIECES (1u << 0) /* prepares error feedback piece by piece, just
                                            * before it encodes each (compressed/step.h) */
#define CCL_ALGO_NESTED          (1u << 1) /* runs whole collectives of its own through
                                            * ccl_coll_run, and sends nothing itself */
#define CCL_ALGO_TOLERANT        (1u << 2) /* drops a peer whose message fails a check
                                            * (robust calls): CCLZ_CHECK_CALLS does not
                                            * compare its calls, which one rank could fail */
#define CCL_ALGO_SHARDS          (1u << 3) /* compressed, runs each shard with a compressor
                                            * of that shard's own (ccl_compressor's
                                            * shard_comp), which keeps its error feedback:
                                            * the call's compressor prepares nothing */
#define CCL_ALGO_ENCODES_WHOLE   (1u << 4) /* compressed, each rank encodes its whole buffer
                                            * in one message (a sparse codec's layout then
                                            * selects per tensor) */

typedef struct ccl_algo {
    const char *name;
    const char *desc;
    ccl_coll_t  coll;
    uint32_t    carries;     /* CCL_CARRY_*: what it can move when named */
    uint32_t    default_for; /* CCL_CARRY_*: what the selector may choose it for unnamed */
    uint32_t    flags;       /* CCL_ALGO_* */
    ccl_result_t (*run)(ccl_coll_ctx_t *ctx);
    /* Cost model: estimated microseconds for this call on nranks ranks. NULL: chosen
     * unnamed only where no candidate has an estimate (the one default for its kind), or
     * named only. */
    double (*estimate_us)(const ccl_coll_args_t *args, const ccl_tuning_t *t, int nranks);
} ccl_algo_t;

const char *ccl_coll_name(ccl_coll_t coll);

/* Runs one call on comm (checks done): sequence number, signature, algorithm, cleanup. */
CCL_NODISCARD
ccl_result_t ccl_coll_run(struct ccl_comm *comm, ccl_coll_args_t *a);

/* ---- select.c: every algorithm, one table per collective (<coll>/<coll>.c) ---- */

/* coll's algorithms, NULL-terminated; NULL for no such collective. */
const ccl_algo_t *const *ccl_algo_table(ccl_coll_t coll);

/* The algorithm of coll called name that carries some of `carries`; NULL if none. */
const ccl_algo_t *ccl_algo_find(ccl_coll_t coll, const char *name, uint32_t carries);

/* The algorithm for a call that needs `want` carried: for exact calls CCLZ_ALGO's choice
 * where it names one, else the lowest estimate among those whose default_for has `want`
 * (ties: the earlier in the table). *us_p (may be NULL): that estimate, -1 where none was
 * made. Logs the choice at debug level. */
const ccl_algo_t *ccl_algo_select(const ccl_coll_args_t *args, uint32_t want,
                                  const ccl_tuning_t *t, int nranks, double *us_p);

#endif
