/* powersgd.h: PowerSGD's low-rank approximation (Vogels et al., 2019), the arithmetic half:
 * the parameters, the warm-start state, and the matrix steps. The collective half (two
 * exact allreduces around these steps) is src/collectives/allreduce/powersgd.c.
 *
 * A buffer of rows x cols float32 (row-major, given by the caller as rows=) is approximated
 * as P Q^T with P rows x r and Q cols x r. */
#ifndef CCL_POWERSGD_H
#define CCL_POWERSGD_H

#include "base/params.h"
#include "base/base.h"

typedef struct {
    uint32_t rank;   /* r, clamped to min(rows, cols) */
    size_t   rows, cols;
    int      warm;   /* start each step's power iteration from the last step's Q */
    uint64_t seed;   /* the random start, the same on every rank */
} ccl_powersgd_params_t;

typedef struct {
    ccl_powersgd_params_t p;
    int    have_q;   /* qt holds the last step's Q (warm start) */
    float *qt;       /* Q transposed: r x cols */
    float *pm;       /* P: rows x r, then one float the collective uses as a skip flag */
} ccl_powersgd_t;

/* Parses "powersgd:rank=R,rows=N,warm=0|1,seed=S" for a buffer of count elements; without
 * rows (rows and cols 0, rank as given) the matrices come from a layout. CCL_ERR_INVALID_ARG
 * with the reason on a bad spec or a shape that does not divide count. */
ccl_result_t ccl_powersgd_parse(const char *spec, size_t count, ccl_powersgd_params_t *p);

/* The rows ccl_powersgd_parse reads, for the info tool and the tests. */
const ccl_param_field_t *ccl_powersgd_param_table(void);

/* Whether P and Q together are smaller than the matrix (else the exact path is cheaper). */
int ccl_powersgd_pays(const ccl_powersgd_params_t *p);

ccl_result_t ccl_powersgd_create(const ccl_powersgd_params_t *p, ccl_powersgd_t **s_p);
void ccl_powersgd_destroy(ccl_powersgd_t *s);

/* Q for this step: kept from the last step (warm start), or drawn from (seed, step). */
void ccl_powersgd_start(ccl_powersgd_t *s, uint64_t step);

/* P = M Q (into s->pm). */
void ccl_powersgd_project(const ccl_powersgd_t *s, const float *m);

/* Orthonormal columns of P by Gram-Schmidt (in double); a column that is (nearly) in the
 * span of the earlier ones becomes zero. The same bits on every rank for the same P. */
void ccl_powersgd_orthogonalize(ccl_powersgd_t *s);

/* Q = M^T P (into s->qt, transposed). */
void ccl_powersgd_back(ccl_powersgd_t *s, const float *m);

/* out = P Q^T, or with `from` (the same shape) out = from - P Q^T. */
void ccl_powersgd_expand(const ccl_powersgd_t *s, const float *from, float *out);

/* Checkpoint of the warm start: u32 have_q, then r x cols float32 (Q transposed). Check
 * refuses a wrong length, flag or a non-finite value; restore checks, then sets. */
size_t ccl_powersgd_saved_size(const ccl_powersgd_t *s);
ccl_result_t ccl_powersgd_check(const ccl_powersgd_t *s, const uint8_t *buf, size_t len);
void ccl_powersgd_save(const ccl_powersgd_t *s, uint8_t *buf);
ccl_result_t ccl_powersgd_restore(ccl_powersgd_t *s, const uint8_t *buf, size_t len);

#endif
