/* reduce.c: element-wise reduction kernels, vectorised by the compiler with AVX2 dispatch. */
#include "core/reduce.h"
#include "base/half.h"

#include <math.h>
#include <string.h>

/* The conversions live in base/half.h, shared with the GPU kernels. */
float ccl_half_to_float(uint16_t h) { return ccl_h2f(h); }
uint16_t ccl_float_to_half(float f) { return ccl_f2h(f); }
float ccl_bf16_to_float(uint16_t h) { return ccl_bf2f(h); }
uint16_t ccl_float_to_bf16(float f) { return ccl_f2bf(f); }

/* NaN-propagating min/max; the caller's operand order is the same on every rank. */
#define FMIN(a, b) ((a) != (a) ? (a) : (b) != (b) ? (b) : (b) < (a) ? (b) : (a))
#define FMAX(a, b) ((a) != (a) ? (a) : (b) != (b) ? (b) : (b) > (a) ? (b) : (a))
#define IMIN(a, b) ((b) < (a) ? (b) : (a))
#define IMAX(a, b) ((b) > (a) ? (b) : (a))

#define CCL_VEC __attribute__((target_clones("avx2", "default")))

/* One kernel per (type, op). Integer sums and products go through the unsigned type so
 * overflow wraps instead of being undefined. */
#define DEF_ARITH(name, T, UT)                                                             \
    static CCL_VEC void name##_sum(T *d, const T *a, const T *b, size_t n)                 \
    {                                                                                      \
        for (size_t i = 0; i < n; i++)                                                     \
            d[i] = (T)((UT)a[i] + (UT)b[i]);                                               \
    }                                                                                      \
    static CCL_VEC void name##_prod(T *d, const T *a, const T *b, size_t n)                \
    {                                                                                      \
        for (size_t i = 0; i < n; i++)                                                     \
            d[i] = (T)((UT)a[i] * (UT)b[i]);                                               \
    }
#define DEF_MINMAX(name, T, MIN, MAX)                                                      \
    static CCL_VEC void name##_min(T *d, const T *a, const T *b, size_t n)                 \
    {                                                                                      \
        for (size_t i = 0; i < n; i++)                                                     \
            d[i] = MIN(a[i], b[i]);                                                        \
    }                                                                                      \
    static CCL_VEC void name##_max(T *d, const T *a, const T *b, size_t n)                 \
    {                                                                                      \
        for (size_t i = 0; i < n; i++)                                                     \
            d[i] = MAX(a[i], b[i]);                                                        \
    }

DEF_ARITH(f32, float, float)
DEF_MINMAX(f32, float, FMIN, FMAX)
DEF_ARITH(f64, double, double)
DEF_MINMAX(f64, double, FMIN, FMAX)
DEF_ARITH(i8, int8_t, uint8_t)
DEF_MINMAX(i8, int8_t, IMIN, IMAX)
DEF_ARITH(u8, uint8_t, uint8_t)
DEF_MINMAX(u8, uint8_t, IMIN, IMAX)
DEF_ARITH(i32, int32_t, uint32_t)
DEF_MINMAX(i32, int32_t, IMIN, IMAX)
DEF_ARITH(i64, int64_t, uint64_t)
DEF_MINMAX(i64, int64_t, IMIN, IMAX)

/* Half types reduce in float and round once per hop, as NCCL does. Blocks of float keep
 * the loops vectorisable. */
typedef float (*to_float_fn)(uint16_t);
typedef uint16_t (*from_float_fn)(float);

static void half_reduce(uint16_t *d, const uint16_t *a, const uint16_t *b, size_t n,
                        ccl_redop_t op, to_float_fn to, from_float_fn from)
{
    float fa[256], fb[256];
    for (size_t off = 0; off < n; off += 256) {
        size_t m = CCL_MIN((size_t)256, n - off);
        for (size_t i = 0; i < m; i++) {
            fa[i] = to(a[off + i]);
            fb[i] = to(b[off + i]);
        }
        switch (op) {
        case CCL_PROD: f32_prod(fa, fa, fb, m); break;
        case CCL_MIN:  f32_min(fa, fa, fb, m); break;
        case CCL_MAX:  f32_max(fa, fa, fb, m); break;
        default:       f32_sum(fa, fa, fb, m); break;
        }
        for (size_t i = 0; i < m; i++)
            d[off + i] = from(fa[i]);
    }
}

#define DISPATCH(name, T)                                                                  \
    switch (op) {                                                                          \
    case CCL_PROD: name##_prod((T *)dst, (const T *)a, (const T *)b, count); return;       \
    case CCL_MIN:  name##_min((T *)dst, (const T *)a, (const T *)b, count); return;        \
    case CCL_MAX:  name##_max((T *)dst, (const T *)a, (const T *)b, count); return;        \
    default:       name##_sum((T *)dst, (const T *)a, (const T *)b, count); return;        \
    }

void ccl_reduce(void *dst, const void *a, const void *b, size_t count, ccl_datatype_t dt,
                ccl_redop_t op)
{
    switch (dt) {
    case CCL_FLOAT32: DISPATCH(f32, float);
    case CCL_FLOAT64: DISPATCH(f64, double);
    case CCL_INT8:    DISPATCH(i8, int8_t);
    case CCL_UINT8:   DISPATCH(u8, uint8_t);
    case CCL_INT32:   DISPATCH(i32, int32_t);
    case CCL_INT64:   DISPATCH(i64, int64_t);
    case CCL_FLOAT16:
        half_reduce(dst, a, b, count, op, ccl_half_to_float, ccl_float_to_half);
        return;
    case CCL_BFLOAT16:
        half_reduce(dst, a, b, count, op, ccl_bf16_to_float, ccl_float_to_bf16);
        return;
    default:
        return;
    }
}

void ccl_reduce_scale_avg(void *buf, size_t count, ccl_datatype_t dt, int nranks)
{
    size_t i;
    switch (dt) {
    case CCL_FLOAT32: {
        float *p = buf;
        for (i = 0; i < count; i++)
            p[i] /= (float)nranks;
        return;
    }
    case CCL_FLOAT64: {
        double *p = buf;
        for (i = 0; i < count; i++)
            p[i] /= (double)nranks;
        return;
    }
    case CCL_FLOAT16: {
        uint16_t *p = buf;
        for (i = 0; i < count; i++)
            p[i] = ccl_float_to_half(ccl_half_to_float(p[i]) / (float)nranks);
        return;
    }
    case CCL_BFLOAT16: {
        uint16_t *p = buf;
        for (i = 0; i < count; i++)
            p[i] = ccl_float_to_bf16(ccl_bf16_to_float(p[i]) / (float)nranks);
        return;
    }
    case CCL_INT8: {
        int8_t *p = buf;
        for (i = 0; i < count; i++)
            p[i] = (int8_t)(p[i] / nranks);
        return;
    }
    case CCL_UINT8: {
        uint8_t *p = buf;
        for (i = 0; i < count; i++)
            p[i] = (uint8_t)(p[i] / (unsigned)nranks);
        return;
    }
    case CCL_INT32: {
        int32_t *p = buf;
        for (i = 0; i < count; i++)
            p[i] = p[i] / nranks;
        return;
    }
    case CCL_INT64: {
        int64_t *p = buf;
        for (i = 0; i < count; i++)
            p[i] = p[i] / nranks;
        return;
    }
    default:
        return;
    }
}

size_t ccl_datatype_size(ccl_datatype_t dtype)
{
    switch (dtype) {
    case CCL_FLOAT32: return 4;
    case CCL_FLOAT16: return 2;
    case CCL_BFLOAT16: return 2;
    case CCL_FLOAT64: return 8;
    case CCL_INT8: return 1;
    case CCL_UINT8: return 1;
    case CCL_INT32: return 4;
    case CCL_INT64: return 8;
    default: return 0;
    }
}
