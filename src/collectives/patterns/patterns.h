/* patterns.h: peer and segment arithmetic shared by every algorithm (ring, recursive
 * doubling, binomial tree), and the pipelined ring engine. */
#ifndef CCL_PATTERNS_H
#define CCL_PATTERNS_H

#include "collectives/p2p.h"

static inline int ccl_mod(int a, int n)
{
    int m = a % n;
    return m < 0 ? m + n : m;
}

/* Segment s of `count` elements split into n nearly equal parts (the first count % n parts
 * hold one element more). */
static inline size_t ccl_seg_off(size_t count, int n, int s)
{
    size_t base = count / (size_t)n, rem = count % (size_t)n;
    return (size_t)s * base + CCL_MIN((size_t)s, rem);
}
static inline size_t ccl_seg_len(size_t count, int n, int s)
{
    return count / (size_t)n + ((size_t)s < count % (size_t)n ? 1 : 0);
}

/* Piece c of segment s, with `count` elements cut into n segments and each segment into
 * `pieces` pieces, both as ccl_seg_off cuts. */
static inline void ccl_seg_piece(size_t count, int n, int s, int pieces, int c, size_t *off_p,
                                 size_t *len_p)
{
    size_t so = ccl_seg_off(count, n, s), sl = ccl_seg_len(count, n, s);
    *off_p = so + ccl_seg_off(sl, pieces, c);
    *len_p = ccl_seg_len(sl, pieces, c);
}

/* Largest power of two <= n, and ceil(log2(n)). */
static inline int ccl_pow2_floor(int n)
{
    int p = 1;
    while (p * 2 <= n)
        p *= 2;
    return p;
}
static inline int ccl_log2_ceil(int n)
{
    int l = 0;
    while ((1 << l) < n)
        l++;
    return l;
}

/* Recursive doubling on a rank count that is not a power of two: the first 2*rem ranks
 * pair up, even ones hand their data to the odd one and sit out. Returns the rank's index
 * among the pof2 active ranks, or -1 if it sits out. */
static inline int ccl_rd_newrank(int rank, int rem)
{
    if (rank < 2 * rem)
        return (rank & 1) ? rank / 2 : -1;
    return rank - rem;
}
static inline int ccl_rd_oldrank(int newrank, int rem)
{
    return newrank < rem ? newrank * 2 + 1 : newrank + rem;
}

/* Fold the extra ranks in before a power-of-two algorithm (tmp holds the full buffer), and
 * hand them the result afterwards. Message ids 0 and 1 are theirs. */
ccl_result_t ccl_fold_in(ccl_coll_ctx_t *ctx, void *buf, void *tmp, int rem);
ccl_result_t ccl_fold_out(ccl_coll_ctx_t *ctx, void *buf, int rem);

/* Binomial tree rooted at `root`: parent (-1 at the root) and the children, farthest
 * subtree first. Returns the number of children written to children[]. */
int ccl_binomial_tree(int rank, int root, int nranks, int *parent_p, int *children);

/* The pipelined ring. Step t sends segment (rank - t + shift) and receives segment
 * (rank - t - 1 + shift) from the left neighbour, chunk by chunk; a chunk received in step t
 * is forwarded in step t+1 as soon as it is ready. */
typedef struct {
    size_t seg_count;        /* elements per segment when all are equal, else 0 */
    size_t total_count;      /* elements across all segments (uneven split) */
    int    nsteps;
    int    nreduce_steps;    /* the first steps reduce, the rest copy */
    int    shift;
    const void *input;       /* this rank's contribution, full size (reduce steps) */
    void       *work;        /* full-size buffer the ring fills */
    int    avg;              /* divide the owned segment by nranks after the last reduce */
} ccl_ring_desc_t;

ccl_result_t ccl_ring_run(ccl_coll_ctx_t *ctx, const ccl_ring_desc_t *d);

/* The compressed scatter-reduce-allgather (sra.c) of the call's step. With gather, the
 * compressed allreduce (allreduce/quant_sra.c): every rank ends with the whole sum. Without,
 * the compressed reduce-scatter (reduce_scatter/quant_sra.c): args->count is the whole
 * input and recvbuf receives this rank's segment (ccl_seg_off, ccl_seg_len), summed in
 * float32 from the others' encoded pieces and its own unencoded one. */
ccl_result_t ccl_sra_run(ccl_coll_ctx_t *ctx, int gather);
double ccl_sra_estimate(const ccl_coll_args_t *a, const ccl_tuning_t *t, int P, int gather);

#endif
