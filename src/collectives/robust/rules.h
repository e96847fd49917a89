/* rules.h: the robust aggregation rules and pre-aggregation steps, on vectors already in
 * memory (robust.c moves them). Deterministic: the same vectors in the same order give the
 * same bits on every rank. */
#ifndef CCL_ROBUST_RULES_H
#define CCL_ROBUST_RULES_H

#include "base/base.h"

/* params with its defaults filled in, checked for nranks ranks: CCL_ERR_INVALID_ARG with the
 * reason in why (CCL_ERRSTR_LEN bytes) where they are invalid. */
CCL_NODISCARD
ccl_result_t ccl_robust_resolve(const ccl_robust_params_t *params, int nranks,
                                ccl_robust_params_t *out, char *why);

/* out = params' pre-steps and rule over the m vectors v[0..m-1] of d floats (finite), of which
 * at most f are faulty (m > 2f, Krum m > 2f + 2); pivot: NNA's own vector, an index into v.
 * out may not alias any v[i]. CCL_ERR_NO_MEMORY where a workspace cannot be had. */
CCL_NODISCARD
ccl_result_t ccl_robust_aggregate(const ccl_robust_params_t *params, const float *const *v,
                                  int m, int f, int pivot, size_t d, float *out);

#endif
