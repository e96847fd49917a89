/* simd.c: whether the codecs run their vector loops or their scalar references. Each
 * vector loop writes the same bytes as its reference (tests/test_codec.c compares them); the
 * references are what other CPUs, and the tests' generic mode, run. */
#include "codec.h"

static int use_avx2 = -1; /* -1: not decided yet */

void ccl_compress_force_generic(int generic)
{
    use_avx2 = generic ? 0 : -1;
}

int ccl_simd_avx2(void)
{
#if defined(__x86_64__)
    /* F16C came with AVX2 on every x86 CPU that has both; the fp16 loops use it. */
    if (use_avx2 < 0)
        use_avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("f16c") ? 1 : 0;
    return use_avx2;
#else
    return 0;
#endif
}
