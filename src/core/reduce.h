/* reduce.h: element-wise reductions for every datatype and op. */
#ifndef CCL_REDUCE_H
#define CCL_REDUCE_H

#include "base/base.h"

/* dst[i] = a[i] op b[i] for i < count. dst may alias a or b. AVG reduces as SUM; the caller
 * divides once at the end with ccl_reduce_scale_avg. Callers pass a and b in an order that
 * every rank agrees on (min(+0,-0) is not symmetric), which keeps results identical. */
void ccl_reduce(void *dst, const void *a, const void *b, size_t count, ccl_datatype_t dt,
                ccl_redop_t op);

/* buf[i] /= nranks (integer division truncates toward zero). */
void ccl_reduce_scale_avg(void *buf, size_t count, ccl_datatype_t dt, int nranks);

/* Conversions used by the half-precision reductions (round to nearest even). */
float ccl_half_to_float(uint16_t h);
uint16_t ccl_float_to_half(float f);
float ccl_bf16_to_float(uint16_t h);
uint16_t ccl_float_to_bf16(float f);

#endif
