/* coll.h: what an algorithm is (the table the selector and the info tool read) and the
 * per-call context every algorithm runs in. */
#ifndef CCL_COLL_H
#define CCL_COLL_H

#include "../core/comm.h"

typedef enum {
    CCL_COLL_ALLREDUCE = 0,
    CCL_COLL_ALLGATHER,
    CCL_COLL_REDUCE_SCATTER,
    CCL_COLL_BROADCAST,
    CCL_COLL_BARRIER,
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
     * (for the estimates) and the algorithm it chose (run instead of the table's);
     * sig_extra joins the call's signature (the compressor's spec). NULL for exact calls. */
    struct ccl_comp_step *step;
    const struct ccl_codec *codec;
    const struct ccl_calgo *calgo;
    uint64_t       sig_extra;
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
    struct ccl_p2p_req    *reqs;      /* requests the algorithm asked for */
    int                    nreqs;
    void                  *owned_buf; /* freed after the requests, in ccl_coll_ctx_finish */
    int                    keep_comm; /* the error is this call's alone: the comm stays usable */
} ccl_coll_ctx_t;

typedef struct ccl_algo {
    const char *name;
    const char *desc;
    ccl_coll_t  coll;
    ccl_result_t (*run)(ccl_coll_ctx_t *ctx);
    /* Cost model: estimated microseconds for this call on nranks ranks; NULL for an
     * algorithm that runs only when CCLZ_ALGO names it. */
    double (*estimate_us)(const ccl_coll_args_t *args, int nranks);
} ccl_algo_t;

/* Every algorithm, one file each under src/collectives/<coll>/. */
extern const ccl_algo_t ccl_allreduce_ring;
extern const ccl_algo_t ccl_allreduce_rec_doubling;
extern const ccl_algo_t ccl_allreduce_direct;
extern const ccl_algo_t ccl_allreduce_halving_doubling;
extern const ccl_algo_t ccl_allgather_ring;
extern const ccl_algo_t ccl_reduce_scatter_ring;
extern const ccl_algo_t ccl_broadcast_binomial;
extern const ccl_algo_t ccl_barrier_dissemination;

/* All algorithms, NULL-terminated, for selection and listing. */
extern const ccl_algo_t *const ccl_algos[];

const char *ccl_coll_name(ccl_coll_t coll);

/* Runs one call on comm (checks done): sequence number, signature, algorithm, cleanup. */
ccl_result_t ccl_coll_run(struct ccl_comm *comm, ccl_coll_args_t *a);

/* Picks the algorithm for a call: CCLZ_ALGO if it names one for this collective, else the
 * lowest estimate of the cost model. Logs the choice at debug level. */
const ccl_algo_t *ccl_select_algo(const ccl_coll_args_t *args, int nranks);

/* The α-β link model the estimates use (microseconds, and microseconds per byte). */
typedef struct {
    double alpha_us;
    double beta_us_per_byte;
    double reduce_us_per_byte;
} ccl_cost_model_t;
extern ccl_cost_model_t ccl_cost_model;

#endif
