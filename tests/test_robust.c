/* test_robust.c: ccl_allreduce_robust. Each rule against its definition on small inputs
 * (ties, equal vectors, n = 2f + 1); then ranks as processes with the last f ranks faulty:
 * value attacks (sign flip, large-norm noise, ALIE, inner-product manipulation, NaN) keep the
 * honest ranks' result within a bound of the honest mean while the plain average moves far or
 * fails; hostile messages (mismatched headers, wrong lengths, hostile compressed payloads)
 * are dropped and reported; results are bit-identical across honest ranks where promised; the
 * communicator stays usable; bad parameters are refused before anything is sent. */
#include "harness.h"
#include "collectives/robust/rules.h"
#include "collectives/compressed/step.h"

#include <math.h>

#define D 1001 /* not a multiple of 4: the distances' tail runs too */

static double urand(uint64_t *s) /* uniform in [-1, 1) */
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return (double)(*s >> 11) / 4503599627370496.0 - 1.0;
}

/* ---- single-process: each rule against its definition -------------------------------- */

static double dist2(const float *a, const float *b, size_t d)
{
    double s = 0;
    for (size_t k = 0; k < d; k++)
        s += ((double)a[k] - b[k]) * ((double)a[k] - b[k]);
    return s;
}

static int close_vec(const float *a, const double *b, size_t d, double tol)
{
    for (size_t k = 0; k < d; k++)
        if (fabs(a[k] - b[k]) > tol * (1.0 + fabs(b[k]))) {
            fprintf(stderr, "  [%zu]: %.9g vs %.9g\n", k, a[k], b[k]);
            return 0;
        }
    return 1;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static ccl_robust_params_t rule(ccl_robust_rule_t r, int f)
{
    ccl_robust_params_t p = {.rule = r, .f = f, .tau = 1.0f};
    return p;
}

static int run_rule(ccl_robust_params_t p, float **v, int m, int pivot, size_t d, float *out)
{
    ccl_robust_params_t q;
    char why[CCL_ERRSTR_LEN];
    if (ccl_robust_resolve(&p, m, &q, why) != CCL_SUCCESS) {
        fprintf(stderr, "  resolve: %s\n", why);
        return 0;
    }
    return ccl_robust_aggregate(&q, (const float *const *)v, m, q.f, pivot, d, out) ==
           CCL_SUCCESS;
}

/* Reference definitions, in double, written the plain way. */
static void ref_coord(float **v, int m, size_t d, int trim, double *out)
{
    double col[64];
    for (size_t k = 0; k < d; k++) {
        for (int i = 0; i < m; i++)
            col[i] = v[i][k];
        qsort(col, (size_t)m, sizeof(double), cmp_double);
        if (trim < 0) {
            out[k] = m % 2 ? col[m / 2] : 0.5 * (col[m / 2 - 1] + col[m / 2]);
        } else {
            double s = 0;
            for (int i = trim; i < m - trim; i++)
                s += col[i];
            out[k] = s / (m - 2 * trim);
        }
    }
}

static int ref_krum_best(float **v, int m, int f, size_t d, double *score)
{
    int best = 0;
    for (int i = 0; i < m; i++) {
        double dd[64];
        int c = 0;
        for (int j = 0; j < m; j++)
            if (j != i)
                dd[c++] = dist2(v[i], v[j], d);
        qsort(dd, (size_t)c, sizeof(double), cmp_double);
        score[i] = 0;
        for (int j = 0; j < m - f - 2; j++)
            score[i] += dd[j];
        if (score[i] < score[best])
            best = i;
    }
    return best;
}

static void ref_mean(float **v, const int *sel, int m, size_t d, double *out)
{
    int c = 0;
    for (int i = 0; i < m; i++)
        c += sel == NULL || sel[i];
    for (size_t k = 0; k < d; k++) {
        double s = 0;
        for (int i = 0; i < m; i++)
            if (sel == NULL || sel[i])
                s += v[i][k];
        out[k] = s / c;
    }
}

static void ref_geomed(float **v, int m, size_t d, int iters, double nu, double *z)
{
    for (size_t k = 0; k < d; k++)
        z[k] = 0;
    for (int t = 0; t < iters; t++) {
        double b[64], bs = 0, zn[D];
        for (int i = 0; i < m; i++) {
            double s = 0;
            for (size_t k = 0; k < d; k++)
                s += (z[k] - v[i][k]) * (z[k] - v[i][k]);
            b[i] = 1.0 / fmax(nu, sqrt(s));
            bs += b[i];
        }
        for (size_t k = 0; k < d; k++) {
            zn[k] = 0;
            for (int i = 0; i < m; i++)
                zn[k] += b[i] * v[i][k];
        }
        for (size_t k = 0; k < d; k++)
            z[k] = zn[k] / bs;
    }
}

/* m random vectors of d floats in one block (rows). */
static float **rand_vecs(int m, size_t d, uint64_t seed, float *block)
{
    static float *rows[64];
    for (int i = 0; i < m; i++) {
        rows[i] = block + (size_t)i * d;
        for (size_t k = 0; k < d; k++)
            rows[i][k] = (float)urand(&seed);
    }
    return rows;
}

static int unit_definitions(void)
{
    static float block[16 * D], out[D];
    static double ref[D];
    int ok = 1;
    for (int m = 3; m <= 9 && ok; m++) {
        for (int f = 0; 2 * f < m && ok; f++) {
            float **v = rand_vecs(m, D, 0x1234 + (uint64_t)m * 31 + (uint64_t)f, block);
            ok &= run_rule(rule(CCL_ROBUST_MEDIAN, f), v, m, 0, D, out);
            ref_coord(v, m, D, -1, ref);
            ok &= close_vec(out, ref, D, 1e-6);
            ok &= run_rule(rule(CCL_ROBUST_TRIMMED_MEAN, f), v, m, 0, D, out);
            ref_coord(v, m, D, f, ref);
            ok &= close_vec(out, ref, D, 1e-6);
            ok &= run_rule(rule(CCL_ROBUST_MEAN, f), v, m, 0, D, out);
            ref_mean(v, NULL, m, D, ref);
            ok &= close_vec(out, ref, D, 1e-6);
            /* NNA from each pivot: the mean of the m - f nearest. */
            for (int piv = 0; piv < m && ok; piv++) {
                int sel[64] = {0}, order[64];
                double dd[64];
                for (int i = 0; i < m; i++) {
                    dd[i] = dist2(v[piv], v[i], D);
                    order[i] = i;
                }
                for (int i = 1; i < m; i++)
                    for (int j = i; j > 0 && dd[order[j - 1]] > dd[order[j]]; j--) {
                        int t = order[j];
                        order[j] = order[j - 1];
                        order[j - 1] = t;
                    }
                for (int i = 0; i < m - f; i++)
                    sel[order[i]] = 1;
                ok &= run_rule(rule(CCL_ROBUST_NNA, f), v, m, piv, D, out);
                ref_mean(v, sel, m, D, ref);
                ok &= close_vec(out, ref, D, 1e-6);
            }
            if (m > 2 * f + 2) {
                double score[64];
                int best = ref_krum_best(v, m, f, D, score);
                ok &= run_rule(rule(CCL_ROBUST_KRUM, f), v, m, 0, D, out);
                int same = 1;
                for (size_t k = 0; k < D; k++)
                    same &= out[k] == v[best][k];
                if (!same)
                    fprintf(stderr, "  krum m=%d f=%d: not vector %d\n", m, f, best);
                ok &= same;
                /* Multi-Krum with k = m - f: the mean of the best m - f. */
                int sel[64] = {0};
                for (int c = 0; c < m - f; c++) {
                    int b = -1;
                    for (int i = 0; i < m; i++)
                        if (!sel[i] && (b < 0 || score[i] < score[b]))
                            b = i;
                    sel[b] = 1;
                }
                ok &= run_rule(rule(CCL_ROBUST_MULTI_KRUM, f), v, m, 0, D, out);
                ref_mean(v, sel, m, D, ref);
                ok &= close_vec(out, ref, D, 1e-6);
            }
            ok &= run_rule(rule(CCL_ROBUST_GEOMED, f), v, m, 0, D, out);
            ref_geomed(v, m, D, 3, 0.1, ref);
            ok &= close_vec(out, ref, D, 1e-6);
            if (!ok)
                fprintf(stderr, "  rules failed at m=%d f=%d\n", m, f);
        }
    }
    return ok;
}

/* n - f equal honest vectors and f outliers far away: NNA (honest pivot), median, trimmed
 * mean, Krum and Multi-Krum return the honest vector exactly; ties go to the lower index. */
static int unit_outliers_and_ties(void)
{
    static float block[16 * D], out[D];
    int ok = 1;
    for (int m = 3; m <= 9; m++)
        for (int f = 1; 2 * f < m; f++) {
            float **v = rand_vecs(m, D, 77 + (uint64_t)m, block);
            for (int i = 1; i < m - f; i++)
                memcpy(v[i], v[0], D * sizeof(float));
            for (int i = m - f; i < m; i++)
                for (size_t k = 0; k < D; k++)
                    v[i][k] = 1e6f * (float)(i + 1) * (k % 2 ? 1.0f : -1.0f);
            const ccl_robust_rule_t rules[] = {CCL_ROBUST_NNA, CCL_ROBUST_MEDIAN,
                                               CCL_ROBUST_TRIMMED_MEAN, CCL_ROBUST_KRUM,
                                               CCL_ROBUST_MULTI_KRUM};
            for (size_t r = 0; r < sizeof(rules) / sizeof(rules[0]); r++) {
                if (rules[r] >= CCL_ROBUST_KRUM && m <= 2 * f + 2)
                    continue;
                ok &= run_rule(rule(rules[r], f), v, m, 1, D, out);
                if (memcmp(out, v[0], sizeof(out)) != 0) {
                    fprintf(stderr, "  rule %d m=%d f=%d: not the honest vector\n", (int)rules[r], m, f);
                    ok = 0;
                }
            }
        }
    /* All vectors equal: every rule returns that vector; Krum's tie goes to vector 0. */
    float **v = rand_vecs(7, D, 5, block);
    for (int i = 1; i < 7; i++)
        memcpy(v[i], v[0], D * sizeof(float));
    for (int r = 0; r < CCL_ROBUST_NUM_RULES; r++) {
        ccl_robust_params_t p = rule((ccl_robust_rule_t)r, 2);
        p.pre = CCL_ROBUST_PRE_ARC | CCL_ROBUST_PRE_NNM;
        ok &= run_rule(p, v, 7, 3, D, out);
        for (size_t k = 0; k < D; k++)
            if (fabsf(out[k] - v[0][k]) > (r == CCL_ROBUST_GEOMED ? 1e-5f : 0.0f)) {
                fprintf(stderr, "  rule %d on equal vectors: [%zu] %g vs %g\n", r, k, out[k],
                        v[0][k]);
                ok = 0;
                break;
            }
    }
    /* Krum on two tied clusters: the lower index wins. */
    v = rand_vecs(7, 4, 9, block);
    for (int i = 0; i < 7; i++)
        for (int k = 0; k < 4; k++)
            v[i][k] = i < 3 ? 0.0f : (i < 6 ? 1.0f : 50.0f);
    ok &= run_rule(rule(CCL_ROBUST_KRUM, 2), v, 7, 0, 4, out);
    ok &= out[0] == 0.0f;
    return ok;
}

/* Median and trimmed mean stay inside the coordinate-wise [min, max]; outputs do not depend
 * on the order of the inputs (beyond rounding). */
static int unit_range_and_permutation(void)
{
    static float block[16 * D], out[D], out2[D];
    static float *perm[64];
    int ok = 1;
    float **v = rand_vecs(8, D, 4242, block);
    for (int i = 0; i < 8; i++)
        perm[i] = v[7 - i];
    for (int r = 0; r < CCL_ROBUST_NUM_RULES; r++) {
        if (r == CCL_ROBUST_NNA)
            continue;
        ccl_robust_params_t p = rule((ccl_robust_rule_t)r, r >= CCL_ROBUST_KRUM && r <= CCL_ROBUST_MULTI_KRUM ? 2 : 3);
        ok &= run_rule(p, v, 8, 0, D, out);
        ok &= run_rule(p, perm, 8, 0, D, out2);
        for (size_t k = 0; k < D; k++) {
            if (fabsf(out[k] - out2[k]) > 1e-5f) {
                fprintf(stderr, "  rule %d depends on the order: [%zu] %g vs %g\n", r, k, out[k], out2[k]);
                ok = 0;
                break;
            }
            if (r == CCL_ROBUST_MEDIAN || r == CCL_ROBUST_TRIMMED_MEAN) {
                float lo = v[0][k], hi = v[0][k];
                for (int i = 1; i < 8; i++) {
                    lo = fminf(lo, v[i][k]);
                    hi = fmaxf(hi, v[i][k]);
                }
                if (out[k] < lo || out[k] > hi)
                    ok = 0;
            }
        }
    }
    return ok;
}

/* ARC clips the floor(2f(n - f)/n) largest to the next one's norm; NNM replaces each vector by
 * the mean of its n - f nearest (then a plain mean shows the mix). */
static int unit_pre_steps(void)
{
    static float block[16 * D], out[D];
    static double ref[D];
    int ok = 1;
    /* n = 6, f = 2: k = floor(2*2*4/6) = 2 clipped to the norm of the third largest. */
    float **v = rand_vecs(6, D, 99, block);
    double scale[6] = {1, 2, 3, 4, 5, 6};
    for (int i = 0; i < 6; i++) {
        double nrm = sqrt(dist2(v[i], (float[D]){0}, D));
        for (size_t k = 0; k < D; k++)
            v[i][k] = (float)(v[i][k] / nrm * scale[i]);
    }
    ccl_robust_params_t p = rule(CCL_ROBUST_MEAN, 2);
    p.pre = CCL_ROBUST_PRE_ARC;
    ok &= run_rule(p, v, 6, 0, D, out);
    for (size_t k = 0; k < D; k++) {
        double s = 0;
        for (int i = 0; i < 6; i++)
            s += v[i][k] * (i >= 4 ? 4.0 / scale[i] : 1.0);
        ref[k] = s / 6;
    }
    ok &= close_vec(out, ref, D, 1e-5);
    /* NNM then mean: the mean over i of (mean of i's n - f nearest). */
    v = rand_vecs(6, D, 100, block);
    p = rule(CCL_ROBUST_MEAN, 2);
    p.pre = CCL_ROBUST_PRE_NNM;
    ok &= run_rule(p, v, 6, 0, D, out);
    for (size_t k = 0; k < D; k++)
        ref[k] = 0;
    for (int i = 0; i < 6; i++) {
        double dd[6];
        int order[6] = {0, 1, 2, 3, 4, 5};
        for (int j = 0; j < 6; j++)
            dd[j] = dist2(v[i], v[j], D);
        for (int a = 1; a < 6; a++)
            for (int b = a; b > 0 && dd[order[b - 1]] > dd[order[b]]; b--) {
                int t = order[b];
                order[b] = order[b - 1];
                order[b - 1] = t;
            }
        for (int j = 0; j < 4; j++)
            for (size_t k = 0; k < D; k++)
                ref[k] += v[order[j]][k] / 4.0 / 6.0;
    }
    ok &= close_vec(out, ref, D, 1e-5);
    return ok;
}

static int unit_resolve(void)
{
    struct {
        ccl_robust_params_t p;
        int n;
        const char *needle;
    } bad[] = {
        {{.rule = CCL_ROBUST_NNA, .f = 2}, 4, "2f < nranks"},
        {{.rule = CCL_ROBUST_MEDIAN, .f = -1}, 4, "2f < nranks"},
        {{.rule = CCL_ROBUST_KRUM, .f = 1}, 4, "Krum"},
        {{.rule = CCL_ROBUST_MULTI_KRUM, .f = 1, .multi_k = 5}, 5, "multi_k"},
        {{.rule = CCL_ROBUST_CCLIP, .f = 1}, 5, "tau"},
        {{.rule = CCL_ROBUST_GEOMED, .f = 1, .nu = -1}, 5, "nu"},
        {{.rule = (ccl_robust_rule_t)99, .f = 1}, 5, "unknown robust rule"},
        {{.rule = CCL_ROBUST_NNA, .f = 1, .pre = 8}, 5, "pre-aggregation"},
        {{.rule = CCL_ROBUST_NNA, .f = 1, .iters = -2}, 5, "iters"},
    };
    int ok = 1;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ccl_robust_params_t q;
        char why[CCL_ERRSTR_LEN] = "";
        if (ccl_robust_resolve(&bad[i].p, bad[i].n, &q, why) != CCL_ERR_INVALID_ARG ||
            strstr(why, bad[i].needle) == NULL) {
            fprintf(stderr, "  bad params %zu accepted or unexplained: '%s'\n", i, why);
            ok = 0;
        }
    }
    ccl_robust_params_t q, p = {.rule = CCL_ROBUST_MULTI_KRUM, .f = 1};
    char why[CCL_ERRSTR_LEN];
    ok &= ccl_robust_resolve(&p, 5, &q, why) == CCL_SUCCESS && q.multi_k == 4 && q.iters == 3 &&
          q.nu == 0.1f;
    return ok;
}

/* ---- ranks as processes --------------------------------------------------------------- */

typedef enum { ATK_NONE, ATK_SIGNFLIP, ATK_NOISE, ATK_ALIE, ATK_IPM, ATK_NAN, NUM_ATK } attack_t;
static const char *atk_name[] = {"none", "sign flip", "large noise", "ALIE", "IPM", "NaN"};

/* Rank i's honest vector for call t: a common direction plus small per-rank noise. */
static void honest(int i, int t, float *x)
{
    uint64_t s = 0x9e3779b97f4a7c15ULL * (uint64_t)(t + 1), q = s ^ (0xabcdefULL * (uint64_t)(i + 7));
    for (size_t k = 0; k < D; k++)
        x[k] = (float)(urand(&s) + 0.1 * urand(&q));
}

/* What faulty rank b sends under attack a, knowing every honest vector (rows 0..h-1). */
static void attack(attack_t a, int b, int t, float (*hv)[D], int h, float *x)
{
    double mu[D], sd[D];
    for (size_t k = 0; k < D; k++) {
        double s = 0, s2 = 0;
        for (int i = 0; i < h; i++) {
            s += hv[i][k];
            s2 += (double)hv[i][k] * hv[i][k];
        }
        mu[k] = s / h;
        sd[k] = sqrt(fmax(s2 / h - mu[k] * mu[k], 0));
    }
    uint64_t s = 0x5151ULL + (uint64_t)b * 1000 + (uint64_t)t;
    for (size_t k = 0; k < D; k++) {
        switch (a) {
        case ATK_NONE:     honest(b, t, x); return;
        case ATK_SIGNFLIP: x[k] = (float)(-10.0 * mu[k]); break;
        case ATK_NOISE:    x[k] = (float)(mu[k] + 100.0 * urand(&s)); break;
        case ATK_ALIE:     x[k] = (float)(mu[k] - 1.5 * sd[k]); break;
        case ATK_IPM:      x[k] = (float)(-0.5 * mu[k]); break;
        case ATK_NAN:      x[k] = k == 17 ? NAN : (float)mu[k]; break;
        default: break;
        }
    }
}

static double norm_diff(const float *a, const double *b)
{
    double s = 0;
    for (size_t k = 0; k < D; k++)
        s += (a[k] - b[k]) * (a[k] - b[k]);
    return sqrt(s);
}

/* mean = the mean of the h honest vectors; returns their largest distance from it. */
static double honest_mean(float (*hv)[D], int h, double *mean)
{
    double rho = 0;
    for (size_t k = 0; k < D; k++) {
        double s = 0;
        for (int i = 0; i < h; i++)
            s += hv[i][k];
        mean[k] = s / h;
    }
    for (int i = 0; i < h; i++)
        rho = fmax(rho, norm_diff(hv[i], mean));
    return rho;
}

/* Every honest rank (the first h) holds the same bytes. Faulty ranks take part honestly. */
static int honest_agree(ccl_comm_t comm, const float *x, int h)
{
    uint64_t mine = h_hash_floats(x, D), all[64];
    if (ccl_allgather(&mine, all, 1, CCL_INT64, comm) != CCL_SUCCESS)
        return 0;
    for (int r = 1; r < h; r++)
        if (all[r] != all[0])
            return 0;
    return 1;
}

/* All ranks agree that ok held on every honest rank (an exact allreduce: the comm works). */
static int all_ok(ccl_comm_t comm, int ok)
{
    int32_t v = ok ? 0 : 1;
    if (ccl_allreduce(&v, &v, 1, CCL_INT32, CCL_MAX, comm) != CCL_SUCCESS)
        return 0;
    return v == 0;
}

/* The rules tried against each attack, with the bound on their distance from the honest
 * mean, in units of the honest vectors' largest distance from it. */
static const struct {
    const char *name;
    ccl_robust_params_t p;
} kRules[] = {
    {"nna", {.rule = CCL_ROBUST_NNA}},
    {"median", {.rule = CCL_ROBUST_MEDIAN}},
    {"trimmed", {.rule = CCL_ROBUST_TRIMMED_MEAN}},
    {"krum", {.rule = CCL_ROBUST_KRUM}},
    {"multikrum", {.rule = CCL_ROBUST_MULTI_KRUM}},
    {"geomed", {.rule = CCL_ROBUST_GEOMED}},
    {"cclip", {.rule = CCL_ROBUST_CCLIP, .tau = 2.0f}},
    {"nnm+trimmed", {.rule = CCL_ROBUST_TRIMMED_MEAN, .pre = CCL_ROBUST_PRE_NNM}},
    {"arc+nnm+median", {.rule = CCL_ROBUST_MEDIAN, .pre = CCL_ROBUST_PRE_ARC | CCL_ROBUST_PRE_NNM}},
};
#define BOUND 3.0

/* n ranks, the last f faulty: every rule against every attack. Honest ranks check their result
 * is the rule over the vectors as sent (computed here), within BOUND of the honest mean,
 * bit-identical across honest ranks (all but NNA), and the plain average's distance for the
 * contrast. */
static int rank_attacks(ccl_comm_t comm, int rank, int n, int f)
{
    const int h = n - f, faulty = rank >= h;
    static float hv[64][D], sent[64][D], out[D], mine[D];
    static double mean_h[D];
    int ok = 1;
    for (int a = 0; a < NUM_ATK; a++) {
        for (size_t ri = 0; ri < sizeof(kRules) / sizeof(kRules[0]); ri++) {
            ccl_robust_params_t p = kRules[ri].p;
            p.f = f;
            if ((p.rule == CCL_ROBUST_KRUM || p.rule == CCL_ROBUST_MULTI_KRUM) && n <= 2 * f + 2)
                continue;
            const int t = a * 100 + (int)ri;
            for (int i = 0; i < h; i++)
                honest(i, t, hv[i]);
            for (int i = 0; i < n; i++) {
                if (i < h)
                    memcpy(sent[i], hv[i], sizeof(mine));
                else
                    attack((attack_t)a, i, t, hv, h, sent[i]);
            }
            memcpy(mine, sent[rank], sizeof(mine));
            uint8_t faults[64];
            p.faults = faults;
            ccl_result_t res = ccl_allreduce_robust(mine, out, D, CCL_FLOAT32, &p, NULL, comm);
            int good = 1;
            if (!faulty) {
                double rho = honest_mean(hv, h, mean_h);
                /* Expected: the rule over what was sent, NaN senders dropped. */
                const float *vv[64];
                int m = 0, piv = 0, dropped = 0;
                for (int i = 0; i < n; i++) {
                    if (a == ATK_NAN && i >= h) {
                        dropped++;
                        good &= faults[i] == CCL_FAULT_NONFINITE;
                        continue;
                    }
                    good &= faults[i] == CCL_FAULT_NONE;
                    if (i == rank)
                        piv = m;
                    vv[m++] = sent[i];
                }
                ccl_robust_params_t q;
                char why[CCL_ERRSTR_LEN];
                static float expect[D];
                good &= res == CCL_SUCCESS;
                good &= ccl_robust_resolve(&p, n, &q, why) == CCL_SUCCESS &&
                        ccl_robust_aggregate(&q, vv, m, f - dropped, piv, D, expect) == CCL_SUCCESS &&
                        memcmp(expect, out, sizeof(out)) == 0;
                double err = norm_diff(out, mean_h);
                if (err > BOUND * rho) {
                    fprintf(stderr, "rank %d: n=%d f=%d %s under %s: %.3g from the honest mean, "
                            "bound %.3g\n", rank, n, f, kRules[ri].name, atk_name[a], err,
                            BOUND * rho);
                    good = 0;
                }
                if (!good)
                    fprintf(stderr, "rank %d: n=%d f=%d %s under %s failed (res %d: %s)\n", rank,
                            n, f, kRules[ri].name, atk_name[a], res, ccl_get_last_error(comm));
            }
            if (p.rule != CCL_ROBUST_NNA && !honest_agree(comm, out, h)) {
                fprintf(stderr, "rank %d: %s under %s: honest ranks differ\n", rank,
                        kRules[ri].name, atk_name[a]);
                good = 0;
            }
            ok &= all_ok(comm, good);
        }
        /* The contrast: the plain average (f = 0) under the same attack. */
        const int t = a * 100 + 99;
        for (int i = 0; i < h; i++)
            honest(i, t, hv[i]);
        attack((attack_t)a, rank, t, hv, h, mine);
        if (!faulty)
            memcpy(mine, hv[rank], sizeof(mine));
        ccl_robust_params_t p = {.rule = CCL_ROBUST_MEAN, .f = 0};
        ccl_result_t res = ccl_allreduce_robust(mine, out, D, CCL_FLOAT32, &p, NULL, comm);
        int good = 1;
        if (!faulty && a != ATK_NONE) {
            double rho = honest_mean(hv, h, mean_h);
            if (a == ATK_NAN) {
                good = res == CCL_ERR_INVALID_PAYLOAD; /* f = 0: one bad vector is too many */
            } else if (a == ATK_SIGNFLIP || a == ATK_NOISE) {
                double err = norm_diff(out, mean_h);
                good = res == CCL_SUCCESS && err > 10 * rho;
                if (rank == 0)
                    printf("INFO n=%d f=%d plain average under %s: %.1f from the honest mean "
                           "(%.1f x the honest spread)\n", n, f, atk_name[a], err, err / rho);
            }
        }
        ok &= all_ok(comm, good);
    }
    return ok;
}

/* Hostile messages from the faulty ranks, in ccl_step_tamper. */
static int tamper_mode;
static void tamper(int rank, uint8_t *msg, size_t *len, size_t cap)
{
    switch (tamper_mode) {
    case 1: /* half the bytes */
        *len /= 2;
        break;
    case 2: /* garbage with the right length */
        for (size_t i = 0; i < *len; i++)
            msg[i] = (uint8_t)(0xA5 ^ (i * 131) ^ (size_t)rank);
        break;
    case 4: /* a longer message than the codec could make */
        *len = cap;
        memset(msg, 0x7f, cap);
        break;
    }
}

/* Hostile messages: a header of other arguments (the faulty rank passes another f), a wrong
 * length, garbage payloads (exact and int8-compressed), a non-finite vector. The honest ranks
 * drop them, report the ranks, return the rule over the honest vectors, and the
 * communicator stays usable; more than f faulty gives CCL_ERR_INVALID_PAYLOAD everywhere
 * honest. */
static int rank_messages(ccl_comm_t comm, int rank, int n, int f)
{
    const int h = n - f, faulty = rank >= h;
    static float hv[64][D], out[D], mine[D], expect[D];
    int ok = 1;
    ccl_compressor_t c8 = NULL;
    if (ccl_compressor_create(comm, "int:bits=8,ef=classic", D, CCL_FLOAT32, &c8) != CCL_SUCCESS)
        return 0;
    /* case: 0 other params, 1 short, 10+k int8-compressed tamper k, 20 too many faulty */
    const int cases[] = {0, 1, 11, 12, 14, 20};
    for (size_t ci = 0; ci < sizeof(cases) / sizeof(cases[0]); ci++) {
        const int cs = cases[ci], compressed = cs >= 10 && cs < 20;
        const int t = 1000 + (int)ci;
        for (int i = 0; i < n; i++)
            honest(i, t, hv[i]);
        memcpy(mine, hv[rank], sizeof(mine));
        ccl_robust_params_t p = {.rule = CCL_ROBUST_MEDIAN, .f = f};
        uint8_t faults[64];
        p.faults = faults;
        tamper_mode = 0;
        ccl_step_tamper = NULL;
        int nbad = f;
        if (cs == 20) {
            nbad = f + 1; /* one honest-looking rank too many sends garbage */
        }
        const int bad_here = rank >= n - nbad;
        if (bad_here) {
            if (cs == 0)
                p.rule = CCL_ROBUST_TRIMMED_MEAN;
            tamper_mode = cs == 0 ? 0 : cs == 20 ? 1 : cs % 10;
            ccl_step_tamper = tamper_mode ? tamper : NULL;
        }
        ccl_result_t res = ccl_allreduce_robust(mine, out, D, CCL_FLOAT32, &p,
                                                compressed ? c8 : NULL, comm);
        ccl_step_tamper = NULL;
        int good = 1;
        if (rank < n - nbad) {
            if (cs == 20) {
                good = res == CCL_ERR_INVALID_PAYLOAD &&
                       strstr(ccl_get_last_error(comm), "more than f") != NULL;
            } else {
                /* The rule over the honest vectors (decoded, when compressed) with f - f. */
                const float *vv[64];
                for (int i = 0; i < h; i++)
                    vv[i] = hv[i];
                good = res == CCL_SUCCESS;
                for (int i = 0; i < n; i++)
                    good &= faults[i] == (i < h ? CCL_FAULT_NONE
                                                : cs == 0 || cs == 1
                                                      ? CCL_FAULT_MESSAGE
                                                      : CCL_FAULT_PAYLOAD);
                if (!compressed) {
                    ccl_robust_params_t q;
                    char why[CCL_ERRSTR_LEN];
                    good &= ccl_robust_resolve(&p, n, &q, why) == CCL_SUCCESS &&
                            ccl_robust_aggregate(&q, vv, h, 0, 0, D, expect) == CCL_SUCCESS &&
                            memcmp(expect, out, sizeof(out)) == 0;
                } else {
                    double mh[D], rho = honest_mean(hv, h, mh);
                    good &= norm_diff(out, mh) < BOUND * rho;
                }
            }
            if (!good) {
                fprintf(stderr, "rank %d: message case %d: res %d (%s), faults", rank, cs, res,
                        ccl_get_last_error(comm));
                for (int i = 0; i < n; i++)
                    fprintf(stderr, " %d", faults[i]);
                fprintf(stderr, "\n");
            }
        }
        if (!faulty && cs != 20 && !honest_agree(comm, out, h))
            good = 0;
        else if (faulty || cs == 20)
            (void)honest_agree(comm, out, 0);
        ok &= all_ok(comm, good);
    }
    ccl_compressor_destroy(c8);
    return ok;
}

/* On 5 ranks: refusals before anything moves, this rank's own NaN, nonblocking = blocking,
 * in place, compressed refusals. */
static int rank_calls(ccl_comm_t comm, int rank, int n)
{
    static float x[D], out[D], out2[D];
    int ok = 1;
    honest(rank, 7, x);
    /* Invalid parameters on every rank: refused, the comm untouched. */
    ccl_robust_params_t bad = {.rule = CCL_ROBUST_NNA, .f = (n + 1) / 2};
    ok &= ccl_allreduce_robust(x, out, D, CCL_FLOAT32, &bad, NULL, comm) == CCL_ERR_INVALID_ARG;
    ok &= strstr(ccl_get_last_error(comm), "2f < nranks") != NULL;
    ccl_robust_params_t p = {.rule = CCL_ROBUST_GEOMED, .f = 1};
    ok &= ccl_allreduce_robust(x, out, D, CCL_FLOAT64, &p, NULL, comm) == CCL_ERR_INVALID_ARG;
    ok &= ccl_allreduce_robust(x, out, D, CCL_FLOAT32, NULL, NULL, comm) == CCL_ERR_INVALID_ARG;
    const char *refused[] = {"terngrad", "sign:scale=none", "powersgd:rank=1,rows=7",
                             "topk:ratio=0.1,ef=ef21", "auto"};
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        ccl_compressor_t c;
        if (ccl_compressor_create(comm, refused[i], D, CCL_FLOAT32, &c) != CCL_SUCCESS) {
            fprintf(stderr, "create %s: %s\n", refused[i], ccl_get_last_error(comm));
            ok = 0;
            continue;
        }
        if (ccl_allreduce_robust(x, out, D, CCL_FLOAT32, &p, c, comm) != CCL_ERR_INVALID_ARG) {
            fprintf(stderr, "rank %d: robust call with %s not refused\n", rank, refused[i]);
            ok = 0;
        }
        ccl_compressor_destroy(c);
    }
    ok = all_ok(comm, ok);
    /* Nonblocking and in place equal blocking, bit for bit. */
    ok &= ccl_allreduce_robust(x, out, D, CCL_FLOAT32, &p, NULL, comm) == CCL_SUCCESS;
    ccl_request_t req;
    memcpy(out2, x, sizeof(x));
    ok &= ccl_iallreduce_robust(out2, out2, D, CCL_FLOAT32, &p, NULL, comm, &req) == CCL_SUCCESS;
    ok &= ccl_wait(&req) == CCL_SUCCESS && memcmp(out, out2, sizeof(out)) == 0;
    ok = all_ok(comm, ok);
    /* Rank 1's own vector holds an Inf: it returns CCL_ERR_INVALID_ARG, the others drop it. */
    if (rank == 1)
        x[5] = INFINITY;
    uint8_t faults[64];
    p.faults = faults;
    ccl_result_t res = ccl_allreduce_robust(x, out, D, CCL_FLOAT32, &p, NULL, comm);
    if (rank == 1)
        ok &= res == CCL_ERR_INVALID_ARG && strstr(ccl_get_last_error(comm), "NaN or Inf");
    else
        ok &= res == CCL_SUCCESS && faults[1] == CCL_FAULT_NONFINITE && faults[0] == 0;
    ok = all_ok(comm, ok);
    /* Rank 1's own NaN under DGC's warm-up (whose ratio, and so message size, follows the step
     * count): the steps after it still pass every check on every rank. */
    {
        ccl_compressor_t c;
        ccl_robust_params_t q = {.rule = CCL_ROBUST_MEDIAN, .f = 1, .faults = faults};
        if (ccl_compressor_create(comm, "dgc:ratio=0.01,warmup_steps=6", D, CCL_FLOAT32, &c) !=
            CCL_SUCCESS)
            return 0;
        for (int step = 0; step < 6; step++) {
            honest(rank, 20 + step, x);
            if (rank == 1 && step == 1)
                x[3] = NAN;
            res = ccl_allreduce_robust(x, out, D, CCL_FLOAT32, &q, c, comm);
            int want_ok = !(rank == 1 && step == 1);
            int clean = 1;
            for (int i = 0; i < n; i++)
                clean &= faults[i] == (step == 1 && i == 1 ? CCL_FAULT_NONFINITE : CCL_FAULT_NONE);
            if ((res == CCL_SUCCESS) != want_ok || (want_ok && !clean)) {
                fprintf(stderr, "rank %d: dgc warm-up step %d after a NaN: res %d (%s)\n", rank,
                        step, res, ccl_get_last_error(comm));
                ok = 0;
            }
        }
        ccl_compressor_destroy(c);
    }
    ok = all_ok(comm, ok);
    /* Compressed: dgc and int8 robust calls keep error feedback; results bit-identical. */
    const char *specs[] = {"int:bits=8", "topk:ratio=0.1", "dgc:ratio=0.1"};
    for (size_t s = 0; s < 3; s++) {
        ccl_compressor_t c;
        ccl_robust_params_t q = {.rule = CCL_ROBUST_TRIMMED_MEAN, .f = 1};
        if (ccl_compressor_create(comm, specs[s], D, CCL_FLOAT32, &c) != CCL_SUCCESS)
            return 0;
        honest(rank, 8, x);
        for (int step = 0; step < 3; step++)
            ok &= ccl_allreduce_robust(x, out, D, CCL_FLOAT32, &q, c, comm) == CCL_SUCCESS;
        ok &= honest_agree(comm, out, n);
        ccl_stats_t st;
        ok &= ccl_compressor_get_stats(c, &st) == CCL_SUCCESS && st.calls == 3 &&
              st.bytes_sent < 3ull * (uint64_t)(n - 1) * D * sizeof(float) / (s == 0 ? 3 : 4);
        ccl_compressor_destroy(c);
    }
    return all_ok(comm, ok);
}

/* A faulty rank that dies is a crash fault: the others get an error, not a hang. */
static int rank_crash(ccl_comm_t comm, int rank, int n)
{
    static float x[D], out[D];
    honest(rank, 9, x);
    ccl_robust_params_t p = {.rule = CCL_ROBUST_NNA, .f = 1};
    if (ccl_allreduce_robust(x, out, D, CCL_FLOAT32, &p, NULL, comm) != CCL_SUCCESS) {
        ccl_comm_destroy(comm);
        return 1;
    }
    if (rank == n - 1)
        raise(SIGKILL);
    ccl_result_t res = ccl_allreduce_robust(x, out, D, CCL_FLOAT32, &p, NULL, comm);
    ccl_comm_destroy(comm);
    if (res == CCL_SUCCESS) {
        fprintf(stderr, "rank %d: a call with a dead peer succeeded\n", rank);
        return 1;
    }
    return 0;
}

static int rank_main(int rank, int n, ccl_unique_id_t id, const char *arg)
{
    ccl_comm_t comm = h_init_comm(rank, n, id);
    int f = atoi(arg + 2), ok;
    switch (arg[0]) {
    case 'a': ok = rank_attacks(comm, rank, n, f); break;
    case 'm': ok = rank_messages(comm, rank, n, f); break;
    case 'c': ok = rank_calls(comm, rank, n); break;
    case 'k': return rank_crash(comm, rank, n);
    default: ok = 0;
    }
    ccl_comm_destroy(comm);
    return ok ? 0 : 1;
}

static int spawn(int n, const char *arg)
{
    int codes[64];
    return h_spawn(n, arg, 240, codes) == 0;
}

int main(int argc, char **argv)
{
    h_init(argc, argv, rank_main);
    h_report(unit_definitions(), "robust: median, trimmed mean, mean, NNA, Krum, Multi-Krum, "
             "geometric median equal their definitions (m = 3..9, f < m/2)");
    h_report(unit_outliers_and_ties(), "robust: n - f equal honest vectors beat f far outliers "
             "exactly; equal vectors and ties");
    h_report(unit_range_and_permutation(), "robust: median and trimmed mean inside [min, max]; "
             "outputs independent of input order");
    h_report(unit_pre_steps(), "robust: ARC clips the largest to the next norm; NNM mixes "
             "nearest neighbours");
    h_report(unit_resolve(), "robust: invalid parameters refused with their reason, defaults");
    const struct { int n, f; } cfg[] = {{5, 1}, {7, 2}, {9, 2}};
    for (size_t i = 0; i < sizeof(cfg) / sizeof(cfg[0]); i++) {
        char arg[16];
        snprintf(arg, sizeof(arg), "a:%d", cfg[i].f);
        h_report(spawn(cfg[i].n, arg), "robust: n=%d f=%d: sign flip, noise, ALIE, IPM, NaN "
                 "within bound of the honest mean for every rule; plain average moved",
                 cfg[i].n, cfg[i].f);
    }
    h_report(spawn(7, "m:2"), "robust: n=7 f=2: mismatched headers, wrong lengths, hostile "
             "exact and int8 payloads dropped and reported; more than f refused; comm usable");
    h_report(spawn(5, "c:1"), "robust: refusals before sending, own Inf, nonblocking and in "
             "place, compressed robust calls (int8, topk, dgc)");
    int codes[64];
    h_spawn(4, "k:1", 240, codes);
    h_report(codes[0] == 0 && codes[1] == 0 && codes[2] == 0 && codes[3] == 128 + SIGKILL, "robust: a faulty rank that dies is a crash fault: an error, "
             "not a hang");
    return h_failed ? 1 : 0;
}
