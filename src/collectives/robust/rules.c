/* rules.c: robust aggregation rules (docs/robust.md): NNA, coordinate-wise median and trimmed
 * mean, Krum and Multi-Krum, geometric median, centered clipping, and the pre-aggregation
 * steps ARC and NNM. Sums run in double, in a fixed order: equal inputs give equal bits. */
#include "collectives/robust/rules.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef float ccl_v4f __attribute__((vector_size(16))); /* SSE2 and NEON width: native */
typedef int32_t ccl_v4i __attribute__((vector_size(16)));

#define DEFAULT_ITERS 3
#define DEFAULT_NU    0.1f

ccl_result_t ccl_robust_resolve(const ccl_robust_params_t *p, int n, ccl_robust_params_t *out,
                                char *why)
{
#define BAD(...) (snprintf(why, CCL_ERRSTR_LEN, __VA_ARGS__), CCL_ERR_INVALID_ARG)
    if (p == NULL)
        return BAD("params is NULL");
    *out = *p;
    if ((unsigned)p->rule >= CCL_ROBUST_NUM_RULES)
        return BAD("unknown robust rule %d", (int)p->rule);
    if (p->pre & ~(CCL_ROBUST_PRE_ARC | CCL_ROBUST_PRE_NNM))
        return BAD("unknown pre-aggregation bits 0x%x", p->pre);
    if (p->f < 0 || 2 * (long)p->f >= n)
        return BAD("f = %d faulty ranks out of %d: a robust rule needs 0 <= 2f < nranks",
                   p->f, n);
    if ((p->rule == CCL_ROBUST_KRUM || p->rule == CCL_ROBUST_MULTI_KRUM) &&
        2 * (long)p->f + 2 >= n)
        return BAD("Krum scores each vector by its nranks - f - 2 nearest: f = %d needs more "
                   "than %d ranks, not %d", p->f, 2 * p->f + 2, n);
    if (out->multi_k == 0)
        out->multi_k = n - p->f;
    if (p->rule == CCL_ROBUST_MULTI_KRUM && (out->multi_k < 1 || out->multi_k > n - p->f))
        return BAD("multi_k = %d: Multi-Krum averages 1 .. nranks - f = %d vectors", p->multi_k,
                   n - p->f);
    if (p->iters < 0 || p->iters > 1000)
        return BAD("iters = %d: 0 (default %d) to 1000", p->iters, DEFAULT_ITERS);
    if (out->iters == 0)
        out->iters = DEFAULT_ITERS;
    if (!(p->nu >= 0.0f) || !isfinite(p->nu))
        return BAD("nu = %g: the geometric median's smoothing is >= 0 (0: %g)", (double)p->nu,
                   (double)DEFAULT_NU);
    if (out->nu == 0.0f)
        out->nu = DEFAULT_NU;
    if (p->rule == CCL_ROBUST_CCLIP && !(p->tau > 0.0f && isfinite(p->tau)))
        return BAD("tau = %g: centered clipping needs a radius > 0", (double)p->tau);
    return CCL_SUCCESS;
#undef BAD
}

/* ||a - b||^2: float differences squared and summed in four float lanes over 64 elements at
 * a time, each such sum then added in double (a fixed order: the bits do not depend on who
 * asks). */
static double sqdist(const float *a, const float *b, size_t d)
{
    double s = 0;
    size_t k = 0;
    for (; k + 64 <= d; k += 64) {
        ccl_v4f acc = {0, 0, 0, 0};
        for (size_t j = 0; j < 64; j += 4) {
            ccl_v4f x, y;
            memcpy(&x, a + k + j, sizeof(x));
            memcpy(&y, b + k + j, sizeof(y));
            x -= y;
            acc += x * x;
        }
        s += ((double)acc[0] + acc[1]) + ((double)acc[2] + acc[3]);
    }
    for (; k < d; k++) {
        double e = (double)a[k] - b[k];
        s += e * e;
    }
    return s;
}

static double sqnorm(const float *a, size_t d)
{
    double s0 = 0, s1 = 0;
    size_t k = 0;
    for (; k + 2 <= d; k += 2) {
        s0 += (double)a[k] * a[k];
        s1 += (double)a[k + 1] * a[k + 1];
    }
    if (k < d)
        s0 += (double)a[k] * a[k];
    return s0 + s1;
}

/* dist[i*m + j] = ||v_i - v_j||^2, each pair computed once. */
static void pairwise(const float *const *v, int m, size_t d, double *dist)
{
    for (int i = 0; i < m; i++) {
        dist[(size_t)i * m + i] = 0.0;
        for (int j = i + 1; j < m; j++)
            dist[(size_t)i * m + j] = dist[(size_t)j * m + i] = sqdist(v[i], v[j], d);
    }
}

/* order[0..m-1] = indices sorted by key ascending, ties by index (stable). */
static void argsort(const double *key, int m, int *order)
{
    for (int i = 0; i < m; i++)
        order[i] = i;
    for (int i = 1; i < m; i++) {
        int x = order[i], j = i;
        while (j > 0 && key[order[j - 1]] > key[x]) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = x;
    }
}

/* Coordinates per block of the coordinate-wise loops: small enough to stay in L1. */
#define BLOCK 256

/* out = mean of the vectors v[i] with sel[i] set, added in index order (vector by vector
 * over a block of coordinates, which the compiler vectorizes; the order per coordinate is
 * the same). */
static void mean_of(const float *const *v, const uint8_t *sel, int m, size_t d, float *out)
{
    double acc[BLOCK];
    int c = 0;
    for (int i = 0; i < m; i++)
        c += sel == NULL || sel[i];
    const double inv = 1.0 / c;
    for (size_t k0 = 0; k0 < d; k0 += BLOCK) {
        const size_t nb = CCL_MIN((size_t)BLOCK, d - k0);
        memset(acc, 0, sizeof(acc));
        for (int i = 0; i < m; i++) {
            if (sel != NULL && !sel[i])
                continue;
            const float *x = v[i] + k0;
            for (size_t k = 0; k < nb; k++)
                acc[k] += x[k];
        }
        for (size_t k = 0; k < nb; k++)
            out[k0 + k] = (float)(acc[k] * inv);
    }
}

/* sel = the `keep` vectors nearest to vector p (by row p of dist; ties by index). */
static void nearest(const double *dist_row, int m, int keep, int *order, uint8_t *sel)
{
    argsort(dist_row, m, order);
    memset(sel, 0, (size_t)m);
    for (int j = 0; j < keep; j++)
        sel[order[j]] = 1;
}

/* a[k], b[k] = min, max of the two, for a block of coordinates: a select on compare masks in
 * the compiler's vector types (minps and maxps do the same, but a plain ternary on floats is
 * not turned into them without -ffinite-math-only). Inputs are finite. */
static void exchange(float *a, float *b)
{
    for (size_t k = 0; k < BLOCK; k += 4) {
        ccl_v4f x, y;
        memcpy(&x, a + k, sizeof(x));
        memcpy(&y, b + k, sizeof(y));
        ccl_v4i lt = x < y, xi = (ccl_v4i)x, yi = (ccl_v4i)y;
        ccl_v4i lo = (xi & lt) | (yi & ~lt), hi = (yi & lt) | (xi & ~lt);
        memcpy(a + k, &lo, sizeof(lo));
        memcpy(b + k, &hi, sizeof(hi));
    }
}

/* Coordinate-wise: the median (trim < 0) or the mean of the sorted values [trim, m - trim).
 * A block of coordinates is sorted at once by an odd-even transposition network across the
 * m values (compare-exchanges the compiler vectorizes over the block); the sums then add the
 * sorted values in order. */
static ccl_result_t coordinatewise(const float *const *v, int m, size_t d, int trim, float *out)
{
    /* Zeroed: the lanes past d of the last block hold no uninitialized floats. */
    float *col = calloc((size_t)m * BLOCK, sizeof(float));
    if (col == NULL)
        return CCL_ERR_NO_MEMORY;
    for (size_t k0 = 0; k0 < d; k0 += BLOCK) {
        const size_t nb = CCL_MIN((size_t)BLOCK, d - k0);
        for (int i = 0; i < m; i++)
            memcpy(col + (size_t)i * BLOCK, v[i] + k0, nb * sizeof(float));
        for (int pass = 0; pass < m; pass++)
            for (int i = pass & 1; i + 1 < m; i += 2)
                exchange(col + (size_t)i * BLOCK, col + (size_t)(i + 1) * BLOCK);
        for (size_t k = 0; k < nb; k++) {
            if (trim < 0 && (m & 1)) {
                out[k0 + k] = col[(size_t)(m / 2) * BLOCK + k];
            } else if (trim < 0) {
                out[k0 + k] = (float)(((double)col[(size_t)(m / 2 - 1) * BLOCK + k] +
                                       col[(size_t)(m / 2) * BLOCK + k]) * 0.5);
            } else {
                double s = 0;
                for (int i = trim; i < m - trim; i++)
                    s += col[(size_t)i * BLOCK + k];
                out[k0 + k] = (float)(s / (m - 2 * trim));
            }
        }
    }
    free(col);
    return CCL_SUCCESS;
}

/* Krum's scores: the sum of each vector's m - f - 2 smallest squared distances to others. */
static void krum_scores(const double *dist, int m, int f, double *score, int *order)
{
    const int nb = m - f - 2;
    double row[m];
    for (int i = 0; i < m; i++) {
        int c = 0;
        for (int j = 0; j < m; j++)
            if (j != i)
                row[c++] = dist[(size_t)i * m + j];
        argsort(row, c, order);
        double s = 0;
        for (int j = 0; j < nb; j++)
            s += row[order[j]];
        score[i] = s;
    }
}

/* Smoothed Weiszfeld from z = 0: z = sum b_i x_i / sum b_i, b_i = 1 / max(nu, ||z - x_i||). */
static ccl_result_t geomed(const float *const *v, int m, size_t d, int iters, float nu,
                           float *out)
{
    double *acc = malloc(CCL_MAX(d, (size_t)1) * sizeof(double));
    double b[m];
    if (acc == NULL)
        return CCL_ERR_NO_MEMORY;
    memset(out, 0, d * sizeof(float));
    for (int t = 0; t < iters; t++) {
        double bs = 0;
        for (int i = 0; i < m; i++) {
            double dist = sqrt(sqdist(out, v[i], d));
            b[i] = 1.0 / (dist > nu ? dist : (double)nu);
            bs += b[i];
        }
        memset(acc, 0, d * sizeof(double));
        for (int i = 0; i < m; i++)
            for (size_t k = 0; k < d; k++)
                acc[k] += b[i] * v[i][k];
        for (size_t k = 0; k < d; k++)
            out[k] = (float)(acc[k] / bs);
    }
    free(acc);
    return CCL_SUCCESS;
}

/* Centered clipping from the coordinate-wise median: v += mean_i clip_tau(x_i - v). */
static ccl_result_t cclip(const float *const *v, int m, size_t d, int iters, float tau,
                          float *out)
{
    double *acc = malloc(CCL_MAX(d, (size_t)1) * sizeof(double));
    if (acc == NULL || coordinatewise(v, m, d, -1, out) != CCL_SUCCESS) {
        free(acc);
        return CCL_ERR_NO_MEMORY;
    }
    for (int t = 0; t < iters; t++) {
        memset(acc, 0, d * sizeof(double));
        for (int i = 0; i < m; i++) {
            double norm = sqrt(sqdist(v[i], out, d));
            double s = norm > tau ? tau / norm : 1.0;
            for (size_t k = 0; k < d; k++)
                acc[k] += s * ((double)v[i][k] - out[k]);
        }
        for (size_t k = 0; k < d; k++)
            out[k] = (float)(out[k] + acc[k] / m);
    }
    free(acc);
    return CCL_SUCCESS;
}

/* ARC: the k = floor(2f(m - f)/m) largest vectors scaled down to the norm of the next largest.
 * Clipped copies go to work (k vectors of d); v is repointed at them. */
static void arc(const float **v, int m, int f, size_t d, float *work)
{
    const int k = (int)((2 * (int64_t)f * (m - f)) / m);
    double norm[m];
    int order[m];
    if (k <= 0)
        return;
    for (int i = 0; i < m; i++)
        norm[i] = -sqrt(sqnorm(v[i], d)); /* ascending order of -norm: largest first */
    argsort(norm, m, order);
    const double cap = -norm[order[k]];
    for (int j = 0; j < k; j++) {
        int i = order[j];
        double nrm = -norm[i];
        if (nrm <= cap)
            continue;
        float *dst = work + (size_t)j * d;
        const float s = (float)(cap / nrm);
        for (size_t c = 0; c < d; c++)
            dst[c] = v[i][c] * s;
        v[i] = dst;
    }
}

ccl_result_t ccl_robust_aggregate(const ccl_robust_params_t *p, const float *const *v_in, int m,
                                  int f, int pivot, size_t d, float *out)
{
    ccl_result_t res = CCL_SUCCESS;
    const float *v[m];
    double *dist = NULL;
    float *work = NULL;
    int order[m];
    uint8_t sel[m];
    if (d == 0)
        return CCL_SUCCESS;
    memcpy(v, v_in, sizeof(v));
    const int rule_dist = p->rule == CCL_ROBUST_NNA || p->rule == CCL_ROBUST_KRUM ||
                          p->rule == CCL_ROBUST_MULTI_KRUM;
    const int need_dist = rule_dist || (p->pre & CCL_ROBUST_PRE_NNM);
    /* Workspace: ARC's clipped copies (fewer than m), then NNM's m mixed vectors. */
    const int copies = ((p->pre & CCL_ROBUST_PRE_ARC) ? m : 0) + ((p->pre & CCL_ROBUST_PRE_NNM) ? m : 0);
    if (copies > 0 && (work = malloc((size_t)copies * CCL_MAX(d, (size_t)1) * sizeof(float))) == NULL)
        return CCL_ERR_NO_MEMORY;
    if (need_dist && (dist = malloc((size_t)m * m * sizeof(double))) == NULL) {
        free(work);
        return CCL_ERR_NO_MEMORY;
    }
    if (p->pre & CCL_ROBUST_PRE_ARC)
        arc(v, m, f, d, work);
    if (p->pre & CCL_ROBUST_PRE_NNM) {
        float *mixed = work + ((p->pre & CCL_ROBUST_PRE_ARC) ? (size_t)m * d : 0);
        pairwise(v, m, d, dist);
        for (int i = 0; i < m; i++) {
            nearest(dist + (size_t)i * m, m, m - f, order, sel);
            mean_of(v, sel, m, d, mixed + (size_t)i * d);
        }
        for (int i = 0; i < m; i++)
            v[i] = mixed + (size_t)i * d;
    }
    if (rule_dist)
        pairwise(v, m, d, dist);
    switch (p->rule) {
    case CCL_ROBUST_MEAN:
        mean_of(v, NULL, m, d, out);
        break;
    case CCL_ROBUST_NNA:
        nearest(dist + (size_t)pivot * m, m, m - f, order, sel);
        mean_of(v, sel, m, d, out);
        break;
    case CCL_ROBUST_MEDIAN:
        res = coordinatewise(v, m, d, -1, out);
        break;
    case CCL_ROBUST_TRIMMED_MEAN:
        res = coordinatewise(v, m, d, f, out);
        break;
    case CCL_ROBUST_KRUM:
    case CCL_ROBUST_MULTI_KRUM: {
        double score[m];
        krum_scores(dist, m, f, score, order);
        argsort(score, m, order);
        /* Dropped vectors take one off both m and f: m - f, and multi_k <= nranks - f,
         * stay what they were. */
        int keep = p->rule == CCL_ROBUST_KRUM ? 1 : CCL_MIN(p->multi_k, m - f);
        memset(sel, 0, sizeof(sel));
        for (int j = 0; j < keep; j++)
            sel[order[j]] = 1;
        mean_of(v, sel, m, d, out);
        break;
    }
    case CCL_ROBUST_GEOMED:
        res = geomed(v, m, d, p->iters, p->nu, out);
        break;
    case CCL_ROBUST_CCLIP:
        res = cclip(v, m, d, p->iters, p->tau, out);
        break;
    default:
        res = CCL_ERR_INTERNAL;
    }
    free(dist);
    free(work);
    return res;
}
