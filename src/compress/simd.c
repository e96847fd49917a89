/* simd.c: whether the codecs run their vector loops or their scalar references. Each
 * vector loop writes the same bytes as its reference (tests/test_codec.c compares them); the
 * references are what other CPUs, and the tests' generic mode, run. */
#include "compress/codec.h"

#if defined(__x86_64__)
#include <cpuid.h>
#endif

static int use_avx2 = -1; /* -1: not decided yet */

void ccl_compress_force_generic(int generic)
{
    use_avx2 = generic ? 0 : -1;
}

int ccl_simd_avx2(void)
{
#if defined(__x86_64__)
    /* The fp16 loops also need F16C (CPUID leaf 1, ECX bit 29), which not every compiler's
     * __builtin_cpu_supports knows by name. */
    unsigned a, b, c = 0, d;
    if (use_avx2 < 0)
        use_avx2 = __builtin_cpu_supports("avx2") && __get_cpuid(1, &a, &b, &c, &d) && (c >> 29 & 1);
    return use_avx2;
#else
    return 0;
#endif
}
