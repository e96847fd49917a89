/* mem_probe.c: how long the passes over memory that error feedback with a sparse codec makes
 * on a 100 MB float32 gradient take, for the time floor of a compressed call when several
 * ranks share one machine's memory. Prints the mean time of each pass over REPS repetitions:
 *   combine: p = g + e (reads g and e, writes p: the error-feedback pass)
 *   scan:    counts elements of p with |x| >= t (the candidate pass of top-k)
 *   zero:    memset of the output (the sparse sum starts from zeros)
 * perf/mem_probe.sh runs 1, 2 and 4 copies at once: each copy's times are then what one
 * rank's passes take while the others make theirs. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    const size_t n = 25000000;
    const int reps = argc > 1 ? atoi(argv[1]) : 10;
    float *g = malloc(n * sizeof(float)), *e = malloc(n * sizeof(float)),
          *p = malloc(n * sizeof(float));
    double t_combine = 0, t_scan = 0, t_zero = 0;
    size_t hits = 0;
    if (g == NULL || e == NULL || p == NULL || reps < 1)
        return 1;
    for (size_t i = 0; i < n; i++) {
        g[i] = (float)(i % 1000) * 1e-3f - 0.5f; /* cheap: the set-up of one copy must not */
        e[i] = (float)(i % 777) * 1e-4f;          /* take the cores from the timed passes of another */
        p[i] = 0;
    }
    for (int r = 0; r < reps; r++) {
        double t0 = now();
        for (size_t i = 0; i < n; i++)
            p[i] = g[i] + e[i];
        double t1 = now();
        for (size_t i = 0; i < n; i++)
            hits += fabsf(p[i]) >= 0.57f;
        double t2 = now();
        memset(e, 0, n * sizeof(float));
        double t3 = now();
        t_combine += t1 - t0;
        t_scan += t2 - t1;
        t_zero += t3 - t2;
    }
    printf("combine %.1f ms, scan %.1f ms, zero %.1f ms (%zu hits)\n", t_combine * 1e3 / reps,
           t_scan * 1e3 / reps, t_zero * 1e3 / reps, hits / (size_t)reps);
    free(g);
    free(e);
    free(p);
    return 0;
}
