/* finite.c: finding NaN and infinities in a gradient, and the one message for refusing it. */
#include "compress/codec.h"

#include <math.h>

/* Branch-free so it vectorises: counts elements whose exponent bits are all ones. */
__attribute__((target_clones("avx2", "default"))) static int all_finite(const float *x, size_t n)
{
    const uint32_t *b = (const uint32_t *)(const void *)x;
    uint32_t bad = 0;
    for (size_t i = 0; i < n; i++)
        bad |= (uint32_t)((b[i] & 0x7f800000u) == 0x7f800000u);
    return bad == 0;
}

int ccl_all_finite(const float *x, size_t n)
{
    return all_finite(x, n);
}

/* The library exports cclz.h alone: the clones stay static, behind a plain function. */
__attribute__((target_clones("avx2", "default"))) static int copy_all_finite(float *dst,
                                                                            const float *src,
                                                                            size_t n)
{
    const uint32_t *b = (const uint32_t *)(const void *)src;
    uint32_t *d = (uint32_t *)(void *)dst, bad = 0;
    for (size_t i = 0; i < n; i++) {
        d[i] = b[i];
        bad |= (uint32_t)((b[i] & 0x7f800000u) == 0x7f800000u);
    }
    return bad == 0;
}

int ccl_copy_all_finite(float *dst, const float *src, size_t n)
{
    return copy_all_finite(dst, src, n);
}

size_t ccl_first_nonfinite(const float *x, size_t n)
{
    if (all_finite(x, n))
        return n;
    size_t i = 0;
    while (i < n && isfinite(x[i]))
        i++;
    return i;
}

ccl_result_t ccl_nonfinite_error(const char *codec, size_t at)
{
    return ccl_set_error(NULL, CCL_ERR_INVALID_ARG, "%s: non-finite input at index %zu", codec, at);
}
