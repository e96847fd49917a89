/* sparse_vec.h: a vector that is sparse (ascending index list) until its support makes the
 * dense form cheaper, the messages that carry it, and exact addition of two of them. Used by
 * the sparse reductions (allreduce/sparse_rd.c, allreduce/sparse_split.c).
 *
 * Addition is element-wise a[i] + b[i] with an absent element counting as +0, which IEEE
 * addition makes commutative: two ranks adding the same two vectors in either order get the
 * same bits, whatever form each operand is in. Values never hold -0 (it is read as +0), so
 * "absent" and "+0 added" agree too. */
#ifndef CCL_SPARSE_VEC_H
#define CCL_SPARSE_VEC_H

#include "collectives/p2p.h"

typedef struct {
    size_t    count;     /* elements in the vector */
    float    *dense;     /* count floats of storage, owned by the caller */
    int       is_dense;  /* the values are in dense[]; else in idx/val */
    size_t    n;         /* sparse: entries */
    uint32_t *idx;       /* sparse: ascending, malloc'd */
    float    *val;
} ccl_svec_t;

/* An empty sparse vector of count elements whose dense form, if it comes to that, lives in
 * dense[0..count). */
void ccl_svec_init(ccl_svec_t *v, size_t count, float *dense);
void ccl_svec_free(ccl_svec_t *v);

/* Takes over n malloc'd pairs (ascending indices below count) as v's value. */
void ccl_svec_adopt(ccl_svec_t *v, uint32_t *idx, float *val, size_t n);

/* The dense form becomes cheaper to send once the support holds this share of the vector
 * (4-byte index plus 4-byte value against 4 bytes per element). */
int ccl_svec_wants_dense(const ccl_svec_t *v);

/* Largest message for a vector of count elements. */
size_t ccl_svec_msg_cap(size_t count);

/* Largest message for n entries of a vector of count elements (ccl_svec_write_range). */
size_t ccl_svec_range_bound(size_t n, size_t count);

/* Writes v as a message (sparse, or dense when v is dense); returns its length. Entries
 * [from, to) of a sparse v only, as a vector of their own that starts at index base:
 * ccl_svec_write_range. */
size_t ccl_svec_write(const ccl_svec_t *v, uint8_t *buf);

/* Whether every value of v is finite: a sum of finite values can overflow float32, and no
 * message may carry an infinity (receivers refuse it), so the step is skipped instead. */
int ccl_svec_finite(const ccl_svec_t *v);
size_t ccl_svec_write_range(const uint32_t *idx, const float *val, size_t n, uint32_t base,
                            size_t count, uint8_t *buf);

/* v += the vector in a message from peer (checked as hostile bytes: a bad one gives
 * CCL_ERR_INVALID_PAYLOAD and leaves v unchanged). ctx may be NULL (tests, fuzzing). Goes dense when the sum's support
 * makes dense cheaper. */
ccl_result_t ccl_svec_add_msg(ccl_coll_ctx_t *ctx, int peer, ccl_svec_t *v, const uint8_t *buf,
                              size_t len);

/* Puts v in its dense storage (zeros outside the support). */
void ccl_svec_densify(ccl_svec_t *v);

#endif
