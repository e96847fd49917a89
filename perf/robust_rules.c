/* robust_rules.c: the robust rules' compute alone (ccl_robust_aggregate on one core), on n
 * vectors of d float32 with f faulty, beside the time to read them once (a plain mean).
 *   perf/robust_rules N D F [REPS]
 * Prints one line per rule: milliseconds (the fastest of REPS) and the multiple of the mean's. */
#include "collectives/robust/rules.h"
#include "perf_common.h"

static const char *names[] = {"mean", "nna", "median", "trimmed_mean", "krum", "multi_krum",
                              "geomed", "cclip", "nnm+trimmed_mean", "arc+nnm+median"};

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: %s N D F [REPS]\n", argv[0]);
        return 2;
    }
    const int n = atoi(argv[1]), f = atoi(argv[3]), reps = argc > 4 ? atoi(argv[4]) : 3;
    const size_t d = perf_parse_size(argv[2]);
    float *block = malloc((size_t)n * d * sizeof(float)), *out = malloc(d * sizeof(float));
    const float *v[256];
    if (block == NULL || out == NULL || n > 256) {
        fprintf(stderr, "no memory for %d vectors of %zu floats\n", n, d);
        return 1;
    }
    for (int i = 0; i < n; i++) {
        for (size_t k = 0; k < d; k++)
            block[(size_t)i * d + k] = (float)perf_normal(i, k);
        v[i] = block + (size_t)i * d;
    }
    printf("# robust rules on %d vectors of %zu float32, f = %d, one core, fastest of %d\n", n,
           d, f, reps);
    printf("# %-18s %10s %8s\n", "rule", "ms", "x mean");
    double mean_ms = 0;
    for (int r = 0; r < (int)(sizeof(names) / sizeof(names[0])); r++) {
        ccl_robust_params_t p = {.rule = (ccl_robust_rule_t)(r < CCL_ROBUST_NUM_RULES ? r : 0),
                                 .f = f, .tau = 1.0f}, q;
        if (r == CCL_ROBUST_NUM_RULES) {
            p.rule = CCL_ROBUST_TRIMMED_MEAN;
            p.pre = CCL_ROBUST_PRE_NNM;
        } else if (r == CCL_ROBUST_NUM_RULES + 1) {
            p.rule = CCL_ROBUST_MEDIAN;
            p.pre = CCL_ROBUST_PRE_ARC | CCL_ROBUST_PRE_NNM;
        }
        char why[CCL_ERRSTR_LEN];
        if (ccl_robust_resolve(&p, n, &q, why) != CCL_SUCCESS) {
            printf("  %-18s %10s (%s)\n", names[r], "-", why);
            continue;
        }
        double best = 1e30;
        for (int t = 0; t < reps; t++) {
            double t0 = perf_now();
            if (ccl_robust_aggregate(&q, v, n, f, 0, d, out) != CCL_SUCCESS) {
                fprintf(stderr, "%s failed\n", names[r]);
                return 1;
            }
            best = fmin(best, perf_now() - t0);
        }
        if (r == 0)
            mean_ms = best * 1e3;
        printf("  %-18s %10.1f %8.2f\n", names[r], best * 1e3, best * 1e3 / mean_ms);
        fflush(stdout);
    }
    free(block);
    free(out);
    return 0;
}
