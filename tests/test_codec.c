/* test_codec.c: the codecs' stated properties (docs/algorithms.md), edge cases, hostile payloads,
 * and error feedback (telescoping identity, non-finite policy, checkpoints). */
#include "harness.h"
#include "compress/ef.h"
#include "compress/powersgd.h"
#include "compress/sparse.h"
#include "compress/wire.h"
#include "base/half.h"

#include <math.h>

/* A call the test needs to succeed before it can check anything. */
#define MUST(call)                                                                         \
    do {                                                                                   \
        if ((call) != CCL_SUCCESS) {                                                       \
            fprintf(stderr, "%s: %s\n", #call, ccl_get_last_error(NULL));                  \
            abort();                                                                       \
        }                                                                                  \
    } while (0)

/* A codec from a spec the test knows to be good; a test that cannot make it stops here. */
static void parse_or_die(const char *spec, ccl_codec_t *c)
{
    if (ccl_codec_parse(spec, c) != CCL_SUCCESS) {
        fprintf(stderr, "%s: %s\n", spec, ccl_get_last_error(NULL));
        abort();
    }
}

static float *randvec(size_t n, uint64_t seed, float scale)
{
    float *v = malloc(CCL_MAX(n, (size_t)1) * sizeof(float));
    for (size_t i = 0; i < n; i++)
        v[i] = (ccl_rng_unit(seed, i) * 2 - 1) * scale;
    return v;
}

/* Encodes, decodes into a fresh vector and checks that the encoder's reconstruction is what
 * the decoder produces, bit for bit. Returns the decoded vector (caller frees) or NULL. */
static float *roundtrip(const char *spec, const float *x, size_t n, uint64_t seed,
                        uint8_t **enc_p, size_t *len_p)
{
    ccl_codec_t c;
    if (ccl_codec_parse(spec, &c) != CCL_SUCCESS)
        return NULL;
    size_t cap = ccl_codec_max_encoded_size(&c, n), len;
    uint8_t *enc = malloc(cap);
    float *recon = malloc(CCL_MAX(n, (size_t)1) * 4), *dec = malloc(CCL_MAX(n, (size_t)1) * 4);
    if (ccl_codec_encode(&c, x, n, seed, enc, cap, &len, recon) != CCL_SUCCESS ||
        ccl_codec_decode(enc, len, dec, n, 0) != CCL_SUCCESS ||
        (n && memcmp(recon, dec, n * 4) != 0)) {
        fprintf(stderr, "roundtrip %s n=%zu failed: %s\n", spec, n, ccl_get_last_error(NULL));
        free(enc);
        free(recon);
        free(dec);
        return NULL;
    }
    free(recon);
    if (enc_p) {
        *enc_p = enc;
        *len_p = len;
    } else {
        free(enc);
    }
    return dec;
}

static int test_spec_parse(void)
{
    ccl_codec_t c;
    static const char *good[] = {"int", "int:bits=4,bucket=512,round=stochastic", "topk:ratio=0.001",
                                 "topk:k=10,fp16_values=1", "cast:type=bf16", "threshold:t=0.5",
                                 "randomk:ratio=0.1", "qsgd:bits=8,bucket=8192,norm=l2",
                                 "terngrad:clip=0", "sign:scale=l2", "dgc:ratio=0.001,momentum=0.9,nesterov=1"};
    static const char *bad[] = {"", "nope", "int:bits=9", "int:bits=0", "int:bucket=0",
                                "int:round=up", "int:bits", "int:=4", "topk:ratio=0",
                                "topk:ratio=1.5", "topk:colour=red", "cast:type=fp8",
                                "threshold:t=-1", "topk:ratio=0.1,", "qsgd:bits=1",
                                "terngrad:clip=x", "sign:scale=l3", "dgc:momentum=1",
                                "dgc:sample=0", "dgc:nesterov=2"};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        if (ccl_codec_parse(good[i], &c) != CCL_SUCCESS) {
            fprintf(stderr, "refused %s: %s\n", good[i], ccl_get_last_error(NULL));
            return 0;
        }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (ccl_codec_parse(bad[i], &c) != CCL_ERR_INVALID_ARG ||
            strlen(ccl_get_last_error(NULL)) == 0) {
            /* "topk:ratio=0.1," ends in an empty item: refused too. */
            fprintf(stderr, "accepted bad spec '%s'\n", bad[i]);
            return 0;
        }
    parse_or_die("int:bits=3,bucket=7", &c);
    return c.params.bits == 3 && c.params.bucket == 7 && c.params.rounding == CCL_ROUND_NEAREST;
}

/* A table's rows each have a name and a doc, and a default that parses through the row. */
static int rows_sound(const char *what, const ccl_param_field_t *rows, void *scratch)
{
    for (const ccl_param_field_t *r = rows; r->name != NULL; r++)
        if (r->name[0] == '\0' || r->doc == NULL || r->doc[0] == '\0' ||
            (r->dflt != NULL && ccl_param_parse(r, scratch, r->dflt) != 0)) {
            fprintf(stderr, "%s: row '%s' lacks a doc or its default '%s' does not parse\n", what,
                    r->name, r->dflt ? r->dflt : "(none)");
            return 0;
        }
    return ccl_param_defaults(rows, scratch) == 0;
}

static int test_param_rows(void)
{
    ccl_codec_params_t p;
    ccl_powersgd_params_t ps;
    ccl_codec_t c;
    char want[64];
    int ok = 1;
    for (int i = 0; ccl_codecs[i] != NULL && ok; i++) {
        memset(&p, 0, sizeof(p));
        ok = ccl_codecs[i]->params != NULL &&
             rows_sound(ccl_codecs[i]->name, ccl_codecs[i]->params, &p) &&
             ccl_codec_parse(ccl_codecs[i]->name, &c) == CCL_SUCCESS &&
             memcmp(&c.params, &p, sizeof(p)) == 0; /* the spec's defaults are the rows' */
        /* The unknown-codec message lists every registered codec. */
        ok = ok && ccl_codec_parse("nope", &c) == CCL_ERR_INVALID_ARG;
        snprintf(want, sizeof(want), "%s", ccl_codecs[i]->name);
        ok = ok && strstr(ccl_get_last_error(NULL), want) != NULL;
    }
    memset(&ps, 0, sizeof(ps));
    ok = ok && rows_sound("powersgd", ccl_powersgd_param_table(), &ps);
    /* Rows store at the field's own width and map names to the enum's values. */
    ok = ok && ccl_codec_parse("dgc:warmup_steps=4294967295,momentum=0.5,sample=0.25", &c) == 0 &&
         c.params.dgc.warmup_steps == UINT32_MAX && c.params.dgc.momentum == 0.5f &&
         c.params.sample == 0.25 && c.params.dgc.warmup_stages == 4 && c.params.dgc.masking == 1;
    ok = ok && ccl_codec_parse("qsgd:norm=l2,round=nearest", &c) == 0 &&
         c.params.norm == CCL_NORM_L2 && c.params.rounding == CCL_ROUND_NEAREST &&
         ccl_codec_parse("sign:scale=none", &c) == 0 &&
         c.params.sign_scale == CCL_SIGN_SCALE_NONE &&
         ccl_codec_parse("cast:type=bf16", &c) == 0 && c.params.half_bf16 == 1;
    /* ratio= clears k=, so the later of the two wins. */
    ok = ok && ccl_codec_parse("topk:k=5,ratio=0.5", &c) == 0 && c.params.k == 0 &&
         ccl_codec_parse("topk:ratio=0.5,k=5", &c) == 0 && c.params.k == 5;
    /* A float row refuses what a float cannot hold; the message lists the keys. */
    ok = ok && ccl_codec_parse("threshold:t=1e39", &c) == CCL_ERR_INVALID_ARG &&
         ccl_codec_parse("int:colour=red", &c) == CCL_ERR_INVALID_ARG &&
         strstr(ccl_get_last_error(NULL), "round=nearest|stochastic") != NULL;
    return ok;
}

static int test_int_nearest_bound(void)
{
    static const size_t counts[] = {0, 1, 7, 512, 513, 10000};
    for (int bits = 1; bits <= 8; bits++)
        for (size_t ci = 0; ci < 6; ci++) {
            size_t n = counts[ci], B = 100;
            char spec[64];
            snprintf(spec, sizeof(spec), "int:bits=%d,bucket=%zu", bits, B);
            float *x = randvec(n, 11 + (uint64_t)bits, 3.0f), *d = roundtrip(spec, x, n, 1, NULL, NULL);
            if (d == NULL)
                return 0;
            for (size_t b = 0; b * B < n; b++) {
                size_t lo = b * B, hi = CCL_MIN(lo + B, n);
                float mn = x[lo], mx = x[lo];
                for (size_t i = lo; i < hi; i++) {
                    mn = fminf(mn, x[i]);
                    mx = fmaxf(mx, x[i]);
                }
                float unit = (mx - mn) / (float)((1 << bits) - 1);
                for (size_t i = lo; i < hi; i++)
                    if (fabsf(d[i] - x[i]) > unit * 0.5f * (1 + 1e-5f) + 1e-6f) {
                        fprintf(stderr, "int%d: |err| %g > unit/2 %g\n", bits, fabsf(d[i] - x[i]), unit / 2);
                        return 0;
                    }
            }
            free(x);
            free(d);
        }
    return 1;
}

static int test_int_edges(void)
{
    /* Constant buckets and all zeros come back exactly; so do denormals in a constant bucket. */
    float x[300];
    for (int i = 0; i < 300; i++)
        x[i] = i < 100 ? 0.0f : i < 200 ? -2.5f : 1e-40f;
    float *d = roundtrip("int:bits=4,bucket=100", x, 300, 3, NULL, NULL);
    int ok = d != NULL && memcmp(d, x, sizeof(x)) == 0;
    free(d);
    /* Non-finite input is refused with the index. */
    ccl_codec_t c;
    uint8_t buf[4096];
    size_t len;
    x[17] = NAN;
    parse_or_die("int:bits=8", &c);
    ok = ok && ccl_codec_encode(&c, x, 300, 0, buf, sizeof(buf), &len, NULL) == CCL_ERR_INVALID_ARG &&
         strstr(ccl_get_last_error(NULL), "17") != NULL;
    x[17] = INFINITY;
    ok = ok && ccl_codec_encode(&c, x, 300, 0, buf, sizeof(buf), &len, NULL) == CCL_ERR_INVALID_ARG;
    /* A buffer smaller than the stated maximum is refused before anything is written. */
    x[17] = 0;
    ok = ok && ccl_codec_encode(&c, x, 300, 0, buf, 100, &len, NULL) == CCL_ERR_INVALID_ARG;
    return ok;
}

/* codec refuses x with a NaN, +inf and -inf in turn at each of at[0..nat), naming the index;
 * x is left as it was. */
static int refuses_each(const ccl_codec_t *codec, const char *spec, float *x, size_t n,
                        const size_t *at, size_t nat, uint8_t *buf, size_t cap)
{
    const float bad[] = {NAN, INFINITY, -INFINITY};
    size_t len;
    int ok = 1;
    for (size_t a = 0; a < nat && ok; a++)
        for (size_t b = 0; b < 3 && ok; b++) {
            char want[32];
            float keep = x[at[a]];
            x[at[a]] = bad[b];
            snprintf(want, sizeof(want), "index %zu", at[a]);
            ok = ccl_codec_encode(codec, x, n, 1, buf, cap, &len, NULL) == CCL_ERR_INVALID_ARG &&
                 strstr(ccl_get_last_error(NULL), want) != NULL;
            if (!ok)
                fprintf(stderr, "%s n=%zu: %g at %zu not refused (%s)\n", spec, n, bad[b], at[a],
                        ccl_get_last_error(NULL));
            x[at[a]] = keep;
        }
    return ok;
}

/* Every dense codec refuses a NaN or an infinity anywhere, naming its index, in its vector
 * loops and in its scalar references (generic mode), in the body and in the tail. */
static int test_dense_nonfinite(void)
{
    static const char *specs[] = {"cast:type=fp16", "cast:type=bf16", "sign", "sign:scale=none",
                                  "int:bits=4", "int:bits=8,round=stochastic", "qsgd:bits=4",
                                  "qsgd:bits=8,norm=l2,round=nearest", "terngrad", "terngrad:scale=2"};
    const size_t n = 1003, at[] = {0, 500, 1001, 1002};
    float *x = randvec(n, 37, 1.0f);
    int ok = 1;
    for (int generic = 0; generic < 2 && ok; generic++) {
        ccl_compress_force_generic(generic);
        for (size_t c = 0; c < sizeof(specs) / sizeof(specs[0]) && ok; c++) {
            ccl_codec_t codec;
            ok = ccl_codec_parse(specs[c], &codec) == CCL_SUCCESS;
            size_t cap = ccl_codec_max_encoded_size(&codec, n), len;
            uint8_t *buf = malloc(cap);
            ok = ok && refuses_each(&codec, specs[c], x, n, at, 4, buf, cap) &&
                 ccl_codec_encode(&codec, x, n, 1, buf, cap, &len, NULL) == CCL_SUCCESS;
            if (!ok)
                fprintf(stderr, "(generic mode %d)\n", generic);
            free(buf);
        }
    }
    ccl_compress_force_generic(0);
    free(x);
    return ok;
}

/* topk and dgc check their input without a pass of their own (the candidates above their
 * threshold hold every NaN and infinity): a non-finite element anywhere is refused with its
 * index, small or large buffer (sampled or not), sampled position or not, one or many. */
static int test_sparse_nonfinite(void)
{
    static const char *specs[] = {"topk:ratio=0.001", "dgc:ratio=0.001", "topk:ratio=1", "dgc:ratio=1",
                                  "topk:ratio=0.3", "dgc:ratio=0.01,sample=0.5"};
    static const size_t ns[] = {1000, 1000003};
    int ok = 1;
    for (size_t s = 0; s < 2 && ok; s++) {
        const size_t n = ns[s];
        float *x = randvec(n, 31 + s, 1.0f);
        for (size_t c = 0; c < sizeof(specs) / sizeof(specs[0]) && ok; c++) {
            ccl_codec_t codec;
            ok = ccl_codec_parse(specs[c], &codec) == CCL_SUCCESS;
            size_t cap = ccl_codec_max_encoded_size(&codec, n), len;
            uint8_t *buf = malloc(cap);
            const size_t at[] = {0, n / 2, n - 1, (n / 65536) / 2, 15 * (n / 65536) + (n / 65536) / 2};
            ok = ok && refuses_each(&codec, specs[c], x, n, at, 5, buf, cap);
            /* Many: every 100th element; the lowest is named. */
            for (size_t i = 7; i < n && ok; i += 100)
                x[i] = NAN;
            ok = ok && ccl_codec_encode(&codec, x, n, 1, buf, cap, &len, NULL) == CCL_ERR_INVALID_ARG &&
                 strstr(ccl_get_last_error(NULL), "index 7") != NULL;
            for (size_t i = 7; i < n; i += 100)
                x[i] = 0.5f;
            ok = ok && ccl_codec_encode(&codec, x, n, 1, buf, cap, &len, NULL) == CCL_SUCCESS;
            free(buf);
        }
        free(x);
    }
    return ok;
}

static int test_int_stochastic_unbiased(void)
{
    /* The mean over many seeds converges to x (5 sigma), and every output is on the grid. */
    enum { N = 64, T = 4000 };
    float *x = randvec(N, 5, 1.0f);
    double sum[N] = {0}, sq[N] = {0};
    for (int t = 0; t < T; t++) {
        float *d = roundtrip("int:bits=2,bucket=64,round=stochastic", x, N, (uint64_t)t * 7919, NULL, NULL);
        if (d == NULL)
            return 0;
        for (int i = 0; i < N; i++) {
            sum[i] += d[i];
            sq[i] += (double)d[i] * d[i];
        }
        free(d);
    }
    for (int i = 0; i < N; i++) {
        double mean = sum[i] / T, var = sq[i] / T - mean * mean;
        double sigma = sqrt(var > 1e-12 ? var : 1e-12) / sqrt((double)T);
        if (fabs(mean - x[i]) > 5 * sigma + 1e-6) {
            fprintf(stderr, "biased at %d: mean %g, x %g, sigma %g\n", i, mean, x[i], sigma);
            return 0;
        }
    }
    free(x);
    return 1;
}

static int cmp_desc_mag(const void *a, const void *b)
{
    const float *x = *(const float *const *)a, *y = *(const float *const *)b;
    float fx = fabsf(*x), fy = fabsf(*y);
    if (fx != fy)
        return fx > fy ? -1 : 1;
    return x < y ? -1 : 1; /* lower index first */
}

/* topk of x[0..n) decodes to the reference: sorted by magnitude, ties to the lower index. */
static int topk_matches_reference(const float *x, size_t n, size_t k)
{
    char spec[64];
    snprintf(spec, sizeof(spec), "topk:k=%zu", k);
    float *d = roundtrip(spec, x, n, 0, NULL, NULL);
    const float **ord = malloc(n * sizeof(*ord));
    for (size_t i = 0; i < n; i++)
        ord[i] = &x[i];
    qsort(ord, n, sizeof(*ord), cmp_desc_mag);
    float *ref = calloc(n, 4);
    for (size_t j = 0; j < k; j++)
        ref[ord[j] - x] = *ord[j];
    int ok = d != NULL && memcmp(d, ref, n * 4) == 0;
    if (!ok)
        fprintf(stderr, "topk: n %zu, k %zu differs from the reference\n", n, k);
    free(d);
    free(ord);
    free(ref);
    return ok;
}

/* Sets every element topk's sample of n elements reads (runs of 16 neighbours at a stride,
 * min(65536, n / 8, n^(2/3)) of them, as topk.c takes it) to v. */
static void fool_topk_sample(float *x, size_t n, float v)
{
    const double c = cbrt((double)n);
    size_t ns = (size_t)(c * c);
    ns = ns < 65536 ? ns : 65536;
    ns = ns < n / 8 ? ns : n / 8;
    const size_t stride = n / (ns / 16);
    for (size_t j = 0; j < n / stride; j++)
        for (size_t i = 0; i < 16; i++)
            x[j * stride + (stride - 16) / 2 + i] = v;
}

static int cmp_desc_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? 1 : x > y ? -1 : 0;
}

/* ccl_kth_largest equals the k-th of the keys sorted descending, for k on both sides of its
 * one-pass path (k <= 64) and quickselect: ties, ascending and descending runs, k = 1, k = n. */
static int test_kth_largest(void)
{
    static const size_t ns[] = {1, 2, 7, 64, 65, 300, 5000};
    int ok = 1;
    for (size_t t = 0; t < sizeof(ns) / sizeof(ns[0]); t++) {
        const size_t n = ns[t];
        uint64_t *keys = malloc(n * sizeof(uint64_t)), *sorted = malloc(n * sizeof(uint64_t)),
                 *work = malloc(n * sizeof(uint64_t));
        for (int pattern = 0; pattern < 4; pattern++) {
            for (size_t i = 0; i < n; i++)
                keys[i] = pattern == 0 ? (i * 2654435761u) % 97     /* many ties */
                        : pattern == 1 ? i                          /* ascending */
                        : pattern == 2 ? n - i                      /* descending */
                                       : ((uint64_t)(i * 40503u % 1009) << 32) | i;
            memcpy(sorted, keys, n * sizeof(uint64_t));
            qsort(sorted, n, sizeof(uint64_t), cmp_desc_u64);
            static const size_t ks[] = {1, 2, 3, 63, 64, 65, 200};
            for (size_t j = 0; j < sizeof(ks) / sizeof(ks[0]) + 1; j++) {
                size_t k = j < sizeof(ks) / sizeof(ks[0]) ? ks[j] : n;
                if (k > n)
                    continue;
                memcpy(work, keys, n * sizeof(uint64_t));
                if (ccl_kth_largest(work, n, k) != sorted[k - 1]) {
                    fprintf(stderr, "kth largest: n %zu pattern %d k %zu wrong\n", n, pattern, k);
                    ok = 0;
                }
            }
        }
        free(keys);
        free(sorted);
        free(work);
    }
    return ok;
}

static int test_topk_exact(void)
{
    static const size_t ns[] = {1, 2, 10, 1000, 100003};
    for (size_t t = 0; t < 5; t++) {
        size_t n = ns[t];
        float *x = randvec(n, 100 + t, 1.0f);
        for (size_t i = 0; i < n; i += 7)
            x[i] = 0.25f; /* many ties */
        int ok = topk_matches_reference(x, n, n / 3 + 1);
        free(x);
        if (!ok)
            return 0;
    }
    /* Mid-size buffers (a layout's tensors) sample fewer of their elements: exact too,
     * with ties and with samples that see only large values or only zeros. */
    static const size_t mids[] = {8192, 20011, 100003};
    for (size_t t = 0; t < 3; t++) {
        size_t n = mids[t], k = n / 100;
        float *x = randvec(n, 200 + t, 1.0f);
        int ok = topk_matches_reference(x, n, k);
        for (size_t i = 0; i < n; i += 13)
            x[i] = 0.999f;
        ok = ok && topk_matches_reference(x, n, k);
        fool_topk_sample(x, n, 10.0f);
        ok = ok && topk_matches_reference(x, n, k);
        fool_topk_sample(x, n, 0.0f);
        ok = ok && topk_matches_reference(x, n, k);
        free(x);
        if (!ok)
            return 0;
    }
    /* Large buffers take a threshold from a strided sample: exact whatever the values,
     * including those that fool the sample. */
    const size_t n = 1000003;
    float *x = randvec(n, 7, 1.0f);
    int ok = topk_matches_reference(x, n, 1000);
    for (size_t i = 0; i < n; i += 97)
        x[i] = 0.9995f; /* ties across the k-th magnitude, decided by index */
    ok = ok && topk_matches_reference(x, n, 1000);
    for (size_t i = 0; i < n; i++)
        x[i] = (float)((int)(i * 7919 % 17) - 8); /* integers: huge ties */
    ok = ok && topk_matches_reference(x, n, 5000);
    free(x);
    x = randvec(n, 8, 1.0f);
    fool_topk_sample(x, n, 10.0f); /* the sample sees only large values: its guess is too high */
    ok = ok && topk_matches_reference(x, n, n / 8);
    fool_topk_sample(x, n, 0.0f); /* the sample sees only zeros: its guess takes everything */
    ok = ok && topk_matches_reference(x, n, 1000);
    free(x);
    if (!ok)
        return 0;
    /* k = count is lossless; fp16 values round as fp16 does. */
    float y[5] = {1, -2, 3, 0.1f, 70000};
    float *d = roundtrip("topk:ratio=1", y, 5, 0, NULL, NULL);
    ok = d && memcmp(d, y, sizeof(y)) == 0;
    free(d);
    d = roundtrip("topk:ratio=1,fp16_values=1", y, 5, 0, NULL, NULL);
    ok = ok && d && d[3] == ccl_h2f(ccl_f2h(0.1f)) && d[4] == 65504.0f;
    free(d);
    return ok;
}

static int test_threshold_and_randomk(void)
{
    size_t n = 5000;
    float *x = randvec(n, 77, 1.0f);
    float *d = roundtrip("threshold:t=0.9", x, n, 0, NULL, NULL);
    int ok = d != NULL;
    for (size_t i = 0; ok && i < n; i++)
        ok = d[i] == (fabsf(x[i]) >= 0.9f ? x[i] : 0.0f);
    free(d);
    /* randomk: the same seed picks the same k distinct indices on every rank. */
    uint32_t a[50], b[50], c[50];
    ok = ok && ccl_randomk_indices(42, n, 50, a) == 0 && ccl_randomk_indices(42, n, 50, b) == 0 &&
         ccl_randomk_indices(43, n, 50, c) == 0 && memcmp(a, b, sizeof(a)) == 0 &&
         memcmp(a, c, sizeof(a)) != 0;
    for (int j = 1; ok && j < 50; j++)
        ok = a[j] > a[j - 1] && a[j] < n;
    uint8_t *enc;
    size_t len;
    d = roundtrip("randomk:k=50", x, n, 42, &enc, &len);
    ok = ok && d != NULL && len == CCL_WIRE_HDR_LEN + 50 * 4; /* values only */
    for (int j = 0; ok && j < 50; j++)
        ok = d[a[j]] == x[a[j]];
    free(d);
    free(enc);
    free(x);
    return ok;
}

static int test_cast(void)
{
    /* Beyond a format's largest finite value: saturated, not an infinity (which the decoder
     * would refuse as a bad payload). */
    float x[8] = {1.0f, -0.1f, 1e5f, -1e5f, 3.14159f, 1e-8f, FLT_MAX, -3.39e38f};
    float *h = roundtrip("cast:type=fp16", x, 8, 0, NULL, NULL);
    float *b = roundtrip("cast:type=bf16", x, 8, 0, NULL, NULL);
    const float bf16_max = ccl_bf2f(0x7f7f);
    int ok = h && b && h[0] == 1.0f && h[2] == 65504.0f && h[3] == -65504.0f &&
             h[1] == ccl_h2f(ccl_f2h(-0.1f)) && h[6] == 65504.0f &&
             b[2] == ccl_bf2f(ccl_f2bf(1e5f)) && b[6] == bf16_max &&
             b[7] == -bf16_max;
    free(h);
    free(b);
    return ok;
}

/* Every prefix of a valid encoding, and every single-byte corruption of its header, must be
 * refused or decoded in bounds; never crash (the fuzz target covers the rest). */
static int test_hostile(void)
{
    static const char *specs[] = {"int:bits=3,bucket=10", "topk:k=20", "topk:k=200",
                                  "threshold:t=0.5,fp16_values=1", "randomk:k=9", "cast"};
    size_t n = 300;
    float *x = randvec(n, 9, 1.0f), *out = malloc((n + 16) * 4);
    for (size_t s = 0; s < sizeof(specs) / sizeof(specs[0]); s++) {
        uint8_t *enc;
        size_t len;
        float *d = roundtrip(specs[s], x, n, 5, &enc, &len);
        if (d == NULL)
            return 0;
        free(d);
        for (size_t cut = 0; cut < len; cut++)
            if (ccl_codec_decode(enc, cut, out, n, 0) != CCL_ERR_INVALID_PAYLOAD) {
                fprintf(stderr, "%s: truncation to %zu accepted\n", specs[s], cut);
                return 0;
            }
        if (ccl_codec_decode(enc, len, out, n + 1, 0) != CCL_ERR_INVALID_PAYLOAD)
            return 0; /* wrong count */
        for (size_t pos = 0; pos < CCL_WIRE_HDR_LEN; pos++) {
            uint8_t save = enc[pos];
            enc[pos] ^= 0x5a;
            out[n] = 12345.0f; /* guard element past the end */
            ccl_result_t r = ccl_codec_decode(enc, len, out, n, 1);
            enc[pos] = save;
            if ((r != CCL_SUCCESS && r != CCL_ERR_INVALID_PAYLOAD) || out[n] != 12345.0f)
                return 0;
            /* Header fields that must be checked: magic, version, reserved, count, length. */
            if (r == CCL_SUCCESS && (pos < 16 || (pos >= 32 && pos < 40))) {
                fprintf(stderr, "%s: corrupt header byte %zu accepted\n", specs[s], pos);
                return 0;
            }
        }
        free(enc);
    }
    free(x);
    free(out);
    return 1;
}

/* Decodes a hand-made payload (accumulating and not) into a vector of ones: both must be
 * refused as invalid, and the vector left unchanged. Returns the number of failures. */
static int refused(const uint8_t *buf, size_t len, size_t count, int line)
{
    float out[64];
    int bad = 0;
    for (int acc = 0; acc < 2; acc++) {
        for (size_t i = 0; i < count; i++)
            out[i] = 1.0f;
        if (ccl_codec_decode(buf, len, out, count, acc) != CCL_ERR_INVALID_PAYLOAD)
            bad++;
        for (size_t i = 0; i < count; i++)
            bad += out[i] != 1.0f;
    }
    if (bad)
        fprintf(stderr, "hostile payload of line %d was not refused cleanly\n", line);
    return bad;
}

/* A payload of plen_ bytes behind a header of codec id_ with params p0_, p1_ for count_
 * elements, zeros but for what `fill` writes at pl: the decoder must refuse it cleanly.
 * Needs buf, h and bad in scope. */
#define TRY_HDR(id_, p0_, p1_, plen_, count_, fill)                                          \
    do {                                                                                   \
        h.codec_id = (id_);                                                                \
        h.count = (count_);                                                                \
        h.params[0] = (p0_);                                                               \
        h.params[1] = (p1_);                                                               \
        h.payload_len = (plen_);                                                           \
        memset(buf, 0, sizeof(buf));                                                       \
        ccl_wire_put(buf, &h);                                                             \
        uint8_t *pl = buf + CCL_WIRE_HDR_LEN;                                              \
        (void)pl;                                                                          \
        fill;                                                                              \
        bad += refused(buf, CCL_WIRE_HDR_LEN + (plen_), (count_), __LINE__);               \
    } while (0)

/* Hand-made sparse payloads: out-of-range, duplicate and descending indices, bad bitmaps,
 * non-finite values, k larger than count. */
static int test_hostile_sparse(void)
{
    uint8_t buf[CCL_WIRE_HDR_LEN + 64];
    ccl_wire_hdr_t h = {.codec_id = CCL_CODEC_ID_TOPK, .count = 64};
    int bad = 0;
#define TRY(k_, flags_, plen_, fill) TRY_HDR(h.codec_id, k_, flags_, plen_, 64, fill)
    TRY(2, 0, 16, (ccl_put_u32(pl, 3), ccl_put_u32(pl + 4, 64)));               /* index = count */
    TRY(2, 0, 16, (ccl_put_u32(pl, 5), ccl_put_u32(pl + 4, 5)));                /* duplicate */
    TRY(2, 0, 16, (ccl_put_u32(pl, 9), ccl_put_u32(pl + 4, 2)));                /* descending */
    TRY(1, 0, 8, (ccl_put_u32(pl, 1), ccl_put_f32(pl + 4, NAN)));               /* NaN value */
    TRY(65, 0, 8, (void)0);                                                     /* k > count */
    TRY(2, CCL_SPARSE_BITMAP, 16, (pl[0] = 7));                                 /* 3 bits, k=2 */
    TRY(1, 0x80, 8, (void)0);                                                   /* unknown flag */
    TRY(1, CCL_SPARSE_BITMAP | CCL_SPARSE_NOIDX, 4, (void)0);                   /* both */
    TRY(2, CCL_SPARSE_DELTA, 10, (pl[8] = 0x80, pl[9] = 0x80));                /* unterminated gap */
    TRY(2, CCL_SPARSE_DELTA, 10, (pl[8] = 63, pl[9] = 0));                      /* 63 then 64 */
    TRY(1, CCL_SPARSE_DELTA, 6, (void)0);                                       /* trailing byte */
    TRY(1, CCL_SPARSE_DELTA, 9, (memset(pl + 4, 0xff, 4), pl[8] = 0x7f));       /* 35-bit gap */
    TRY(2, CCL_SPARSE_DELTA, 9, (void)0);                                       /* too short */
    TRY(1, CCL_SPARSE_DELTA | CCL_SPARSE_BITMAP, 5, (void)0);                   /* two codings */
    h.codec_id = 99;
    TRY(0, 0, 0, (void)0);                                                      /* unknown codec */
    h.codec_id = CCL_CODEC_ID_INT;
    TRY(8 | 0, 64, 8 + 64, (ccl_put_f32(pl, 0), ccl_put_f32(pl + 4, INFINITY))); /* inf unit */
    TRY(9, 64, 8 + 72, (void)0);                                                /* 9 bits */
#undef TRY
    return bad == 0;
}

static int test_sparse_index_codings(void)
{
    /* Each index coding (u32 list, bitmap, LEB128 gaps) is picked where it is smallest and
     * decodes to exactly the kept elements. */
    static const struct { size_t n; const char *spec; uint32_t coding; } cases[] = {
        {1000000, "topk:ratio=0.001", CCL_SPARSE_DELTA},  /* gaps ~1000: 2 bytes each */
        {100000000 / 4, "topk:k=3", 0},                    /* gaps too wide for delta */
        {1000, "topk:ratio=0.5", CCL_SPARSE_BITMAP},
        {1000000, "topk:ratio=0.001,fp16_values=1", CCL_SPARSE_DELTA},
    };
    int ok = 1;
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]) && ok; c++) {
        size_t n = cases[c].n, len;
        uint8_t *enc;
        float *x = randvec(n, 77 + c, 1.0f);
        x[n - 1] = 5.0f; /* the last index is always kept */
        if (cases[c].coding == 0) /* three kept elements, every gap over 2^21 */
            x[3000000] = x[9000000] = 4.0f;
        float *d = roundtrip(cases[c].spec, x, n, 1, &enc, &len);
        ccl_wire_hdr_t h;
        ok = d != NULL && ccl_wire_get(enc, len, &h) == CCL_SUCCESS &&
             (h.params[1] & (CCL_SPARSE_DELTA | CCL_SPARSE_BITMAP)) == cases[c].coding &&
             d[n - 1] == 5.0f;
        if (!ok)
            fprintf(stderr, "%s on %zu: coding flags %u\n", cases[c].spec, n, h.params[1]);
        if (d != NULL) {
            free(enc);
            free(d);
        }
        free(x);
    }
    return ok;
}

/* A dense codec's header words, which an encoder elsewhere (cuda/gpu_codec.c) takes from
 * ccl_codec_header_params, are those of a real encoding, and its payload is max_payload long;
 * sparse codecs have no such words. */
static int test_dense_header_params(void)
{
    static const char *specs[] = {"cast:type=fp16", "cast:type=bf16", "int:bits=3,bucket=10,round=stochastic",
                                  "int", "qsgd:bits=5,norm=l2", "qsgd", "sign:scale=none", "sign",
                                  "terngrad:clip=2", "topk", "dgc"};
    size_t n = 1001;
    float *x = randvec(n, 5, 2.0f);
    int ok = 1;
    for (size_t s = 0; ok && s < sizeof(specs) / sizeof(specs[0]); s++) {
        ccl_codec_t c;
        uint32_t hp[2];
        ccl_wire_hdr_t h;
        parse_or_die(specs[s], &c);
        size_t cap = ccl_codec_max_encoded_size(&c, n), len;
        uint8_t *enc = malloc(cap);
        ok = ccl_codec_encode(&c, x, n, 3, enc, cap, &len, NULL) == CCL_SUCCESS &&
             ccl_wire_get(enc, len, &h) == CCL_SUCCESS;
        if (c.ops->flags & CCL_CODEC_SPARSE)
            ok = ok && ccl_codec_header_params(&c, hp) == CCL_ERR_UNSUPPORTED;
        else
            ok = ok && ccl_codec_header_params(&c, hp) == CCL_SUCCESS && hp[0] == h.params[0] &&
                 hp[1] == h.params[1] && h.payload_len == c.ops->max_payload(&c.params, n);
        if (!ok)
            fprintf(stderr, "%s: header words or payload length differ\n", specs[s]);
        free(enc);
    }
    free(x);
    return ok;
}

/* A sparse payload assembled from its parts (what a GPU selection gives: the kept indices
 * and their values in wire form) is the encoder's, byte for byte and header words too: each
 * index coding, fp32 and fp16 values, randomk without indices, k = 0. */
static int test_sparse_assemble(void)
{
    static const struct { size_t n; const char *spec; } cases[] = {
        {1000000, "topk:ratio=0.001"}, {1000000, "dgc:ratio=0.001,fp16_values=1"},
        {5000000, "topk:k=3"}, {1000, "topk:ratio=0.5,fp16_values=1"}, {1000, "threshold:t=0.5"},
        {1000, "threshold:t=100"}, {100000, "randomk:ratio=0.01"}, {1000, "randomk:k=7,fp16_values=1"},
    };
    int ok = 1;
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]) && ok; c++) {
        size_t n = cases[c].n, len, k, alen;
        ccl_codec_t codec;
        ccl_wire_hdr_t h;
        uint32_t *idx = NULL, hp[2];
        float *val = NULL, *x = randvec(n, 91 + c, 1.0f);
        ok = ccl_codec_parse(cases[c].spec, &codec) == CCL_SUCCESS;
        size_t cap = ccl_codec_max_encoded_size(&codec, n);
        uint8_t *enc = malloc(cap), *asm_out = malloc(cap), *vbytes = malloc(4 * n + 1);
        ok = ok && ccl_codec_encode(&codec, x, n, 13, enc, cap, &len, NULL) == CCL_SUCCESS &&
             ccl_wire_get(enc, len, &h) == CCL_SUCCESS &&
             ccl_codec_read_sparse(enc, len, n, &idx, &val, &k) == CCL_SUCCESS;
        for (size_t j = 0; ok && j < k; j++) {
            if (codec.params.fp16_values) {
                uint16_t hv = ccl_f2h(val[j]);
                vbytes[2 * j] = (uint8_t)hv;
                vbytes[2 * j + 1] = (uint8_t)(hv >> 8);
            } else {
                ccl_put_f32(vbytes + 4 * j, val[j]);
            }
        }
        if (ok) {
            ccl_sparse_assemble(idx, k, vbytes, codec.params.fp16_values,
                                codec.ops->id != CCL_CODEC_ID_RANDOMK, n, asm_out, &alen, hp);
            ok = alen == h.payload_len && hp[0] == h.params[0] && hp[1] == h.params[1] &&
                 memcmp(asm_out, enc + CCL_WIRE_HDR_LEN, alen) == 0;
            if (!ok)
                fprintf(stderr, "%s: assembled payload differs (k %zu, flags %u/%u)\n",
                        cases[c].spec, k, hp[1], h.params[1]);
        }
        free(idx);
        free(val);
        free(x);
        free(enc);
        free(asm_out);
        free(vbytes);
    }
    return ok;
}

/* Encodes x with spec and seed; decodes into out (count n). Returns the encoded length or 0. */
static size_t enc_dec(const char *spec, const float *x, size_t n, uint64_t seed, float *out)
{
    ccl_codec_t c;
    if (ccl_codec_parse(spec, &c) != CCL_SUCCESS)
        return 0;
    size_t cap = ccl_codec_max_encoded_size(&c, n), len = 0;
    uint8_t *enc = malloc(cap);
    if (ccl_codec_encode(&c, x, n, seed, enc, cap, &len, NULL) != CCL_SUCCESS ||
        ccl_codec_decode(enc, len, out, n, 0) != CCL_SUCCESS)
        len = 0;
    free(enc);
    return len;
}

static int test_qsgd(void)
{
    /* Unbiased; E|Q-v|^2 equals sum (norm/s)^2 p(1-p) and respects min(d/s^2, sqrt(d)/s)|v|^2;
     * outputs on the grid norm*{0..s}/s; a zero bucket is zeros. */
    const size_t n = 64, draws = 20000;
    const unsigned s = 7; /* bits=4 */
    float *x = randvec(n, 5, 1.0f), *q = malloc(n * 4);
    double mean[64] = {0}, mse = 0, norm = 0, expect = 0;
    for (size_t i = 0; i < n; i++)
        norm += (double)x[i] * x[i];
    norm = sqrt(norm);
    for (size_t i = 0; i < n; i++) {
        double a = fabs(x[i]) / norm * s, p = a - floor(a);
        expect += (norm / s) * (norm / s) * p * (1 - p);
    }
    for (size_t t = 0; t < draws; t++) {
        if (!enc_dec("qsgd:bits=4,bucket=64,norm=l2", x, n, t, q))
            return 0;
        for (size_t i = 0; i < n; i++) {
            double lvl = fabs(q[i]) / (float)norm * s;
            if (fabs(lvl - round(lvl)) > 1e-3 || (q[i] != 0 && (q[i] < 0) != (x[i] < 0))) {
                fprintf(stderr, "qsgd: %g is off the grid\n", q[i]);
                return 0;
            }
            mean[i] += q[i];
            mse += ((double)q[i] - x[i]) * ((double)q[i] - x[i]);
        }
    }
    mse /= draws;
    for (size_t i = 0; i < n; i++) {
        double a = fabs(x[i]) / norm * s, p = a - floor(a);
        double sd = norm / s * sqrt(p * (1 - p) / draws) + 1e-7;
        if (fabs(mean[i] / draws - x[i]) > 5 * sd) {
            fprintf(stderr, "qsgd biased at %zu: %g vs %g\n", i, mean[i] / draws, x[i]);
            return 0;
        }
    }
    double bound = fmin((double)n / (s * s), sqrt((double)n) / s) * norm * norm;
    if (fabs(mse - expect) > 0.05 * expect || expect > bound) {
        fprintf(stderr, "qsgd mse %g, expected %g, bound %g\n", mse, expect, bound);
        return 0;
    }
    memset(x, 0, n * 4);
    if (!enc_dec("qsgd", x, n, 1, q))
        return 0;
    for (size_t i = 0; i < n; i++)
        if (q[i] != 0)
            return 0;
    /* max norm, nearest rounding: error at most half a level; count not a multiple of B. */
    float *y = randvec(1001, 8, 3.0f), *r = malloc(1001 * 4);
    int ok = enc_dec("qsgd:bits=8,bucket=100,round=nearest", y, 1001, 1, r) != 0;
    for (size_t b = 0; b < 1001 && ok; b += 100) {
        float m = 0;
        for (size_t i = b; i < CCL_MIN(b + 100, (size_t)1001); i++)
            m = fmaxf(m, fabsf(y[i]));
        for (size_t i = b; i < CCL_MIN(b + 100, (size_t)1001); i++)
            ok &= fabsf(r[i] - y[i]) <= m / 127 / 2 * 1.0001f;
    }
    free(x);
    free(q);
    free(y);
    free(r);
    return ok;
}

static int test_terngrad(void)
{
    /* Values in {-s, 0, s}; clip=0 (s = max|x|) is unbiased; a given scale is used as is. */
    const size_t n = 50, draws = 20000;
    float *x = randvec(n, 6, 2.0f), *q = malloc(n * 4), s = 0;
    double mean[50] = {0};
    for (size_t i = 0; i < n; i++)
        s = fmaxf(s, fabsf(x[i]));
    for (size_t t = 0; t < draws; t++) {
        if (!enc_dec("terngrad:clip=0", x, n, t, q))
            return 0;
        for (size_t i = 0; i < n; i++) {
            if (q[i] != 0 && q[i] != s && q[i] != -s)
                return 0;
            mean[i] += q[i];
        }
    }
    for (size_t i = 0; i < n; i++) {
        double var = s * fabs(x[i]) - (double)x[i] * x[i];
        if (fabs(mean[i] / draws - x[i]) > 5 * sqrt(var / draws) + 1e-6) {
            fprintf(stderr, "terngrad biased at %zu\n", i);
            return 0;
        }
    }
    if (!enc_dec("terngrad:scale=10", x, n, 3, q))
        return 0;
    for (size_t i = 0; i < n; i++)
        if (q[i] != 0 && fabsf(q[i]) != 10.0f)
            return 0;
    /* The default scaler is 2.5 std; values beyond it come back clipped to it. */
    x[7] = 1000.0f;
    if (!enc_dec("terngrad", x, n, 3, q) || !(q[7] > 0 && q[7] < 1000.0f))
        return 0;
    ccl_codec_t c;
    parse_or_die("terngrad", &c);
    float ls = c.ops->local_scale(&c.params, x, n);
    free(x);
    free(q);
    return (c.ops->flags & CCL_CODEC_SHARED_SCALE) && ls > 0;
}

static int test_sign(void)
{
    /* Scaled sign: |C(p)|_1 = |p|_1 and |C(p)-p|^2 = |p|^2 - |p|_1^2/d; sign(0) = +1;
     * majority vote: summed scale=none decodings are the vote counts. */
    const size_t n = 1003;
    float *x = randvec(n, 9, 1.0f), *q = malloc(n * 4);
    double l1 = 0, l2 = 0, cl1 = 0, err = 0;
    x[0] = 0.0f;
    x[1] = -0.0f;
    if (!enc_dec("sign", x, n, 0, q))
        return 0;
    for (size_t i = 0; i < n; i++) {
        l1 += fabs(x[i]);
        l2 += (double)x[i] * x[i];
        cl1 += fabs(q[i]);
        err += ((double)q[i] - x[i]) * ((double)q[i] - x[i]);
    }
    int ok = q[0] > 0 && q[1] > 0 && fabs(cl1 - l1) < 1e-4 * l1 &&
             fabs(err - (l2 - l1 * l1 / n)) < 1e-4 * l2;
    /* Five voters; the sum of their +-1 decodings has the majority's sign, never 0. */
    float votes[1003] = {0};
    for (int w = 0; w < 5 && ok; w++) {
        float *g = randvec(n, 100 + w, 1.0f);
        ok &= enc_dec("sign:scale=none", g, n, 0, q) != 0;
        for (size_t i = 0; i < n; i++)
            votes[i] += q[i];
        free(g);
    }
    for (size_t i = 0; i < n && ok; i++)
        ok &= votes[i] != 0 && votes[i] == roundf(votes[i]) && fabsf(votes[i]) <= 5;
    free(x);
    free(q);
    return ok;
}

static int test_dgc(void)
{
    ccl_codec_t c;
    int ok = 1;
    /* The reference's worked example: d = 1e6, ratio 0.001 -> stride 97 (10309 samples). */
    parse_or_die("dgc:ratio=0.001", &c);
    ok &= ccl_dgc_stride(&c.params, 1000000) == 97 && ccl_dgc_stride(&c.params, 2000) == 1;
    /* Without sampling it is exactly top-k: the same bytes as topk, but for the codec id. */
    {
        size_t n = 1500, la, lb;
        float *x = randvec(n, 12, 1.0f);
        uint8_t *a, *b;
        float *da = roundtrip("dgc:ratio=0.01", x, n, 4, &a, &la);
        float *db = roundtrip("topk:ratio=0.01", x, n, 4, &b, &lb);
        ok &= da && db && la == lb && memcmp(a + 6, b + 6, la - 6) == 0 && memcmp(da, db, n * 4) == 0;
        free(x), free(a), free(b), free(da), free(db);
    }
    /* Sampled: between 1 and k elements, each at least as large as every element left out
     * whenever the exact refinement ran; on a buffer of zeros, k zeros. */
    for (int shape = 0; shape < 3 && ok; shape++) {
        size_t n = 2000000, k = 2000, len;
        float *x = randvec(n, 20 + shape, 1.0f);
        if (shape == 1) /* heavy tail: the sample misjudges, refinement or lowering runs */
            for (size_t i = 0; i < n; i += 1013)
                x[i] *= 1000.0f;
        if (shape == 2)
            memset(x, 0, n * 4);
        uint8_t *enc;
        float *d = roundtrip("dgc:ratio=0.001", x, n, 7, &enc, &len);
        ccl_wire_hdr_t h;
        ok &= d != NULL && ccl_wire_get(enc, len, &h) == CCL_SUCCESS && h.params[0] >= 1 &&
              h.params[0] <= k;
        if (shape == 2)
            ok &= h.params[0] == k;
        for (size_t i = 0; d && i < n && ok; i++)
            ok &= d[i] == 0 || d[i] == x[i];
        if (!ok)
            fprintf(stderr, "dgc shape %d: %u kept\n", shape, h.params[0]);
        free(x);
        free(d);
        free(enc);
    }
    /* ratio 1 keeps everything. */
    float y[10] = {1, -2, 3, 0, 5, 6, -7, 8, 9, 10}, z[10];
    ok &= enc_dec("dgc:ratio=1", y, 10, 0, z) != 0 && memcmp(y, z, sizeof(y)) == 0;
    return ok;
}

static int test_hostile_quantizers(void)
{
    uint8_t buf[CCL_WIRE_HDR_LEN + 64];
    ccl_wire_hdr_t h = {.count = 20};
    int bad = 0;
#define TRYQ(id_, p0_, p1_, plen_, fill) TRY_HDR(id_, p0_, p1_, plen_, 20, fill)
    TRYQ(CCL_CODEC_ID_QSGD, 4, 8, 4 * 3 + 10, ccl_put_f32(pl, NAN));         /* NaN norm */
    TRYQ(CCL_CODEC_ID_QSGD, 4, 8, 4 * 3 + 10, ccl_put_f32(pl + 8, -1.0f));   /* negative norm */
    TRYQ(CCL_CODEC_ID_QSGD, 1, 8, 4 * 3 + 3, (void)0);                      /* 1 bit */
    TRYQ(CCL_CODEC_ID_QSGD, 4, 0, 10, (void)0);                             /* bucket 0 */
    TRYQ(CCL_CODEC_ID_QSGD, 4, 8, 4 * 3 + 9, (void)0);                      /* short */
    TRYQ(CCL_CODEC_ID_TERNGRAD, 0, 0, 4 + 5, pl[5] = 3);                    /* code 3 */
    TRYQ(CCL_CODEC_ID_TERNGRAD, 0, 0, 4 + 5, ccl_put_f32(pl, INFINITY));    /* inf scaler */
    TRYQ(CCL_CODEC_ID_TERNGRAD, 0, 0, 4 + 6, (void)0);                      /* long */
    TRYQ(CCL_CODEC_ID_SIGN, 0, 0, 4 + 3, ccl_put_f32(pl, -2.0f));           /* negative scale */
    TRYQ(CCL_CODEC_ID_SIGN, 0, 0, 4 + 3, pl[6] = 0x10);                     /* bit past the end */
    TRYQ(CCL_CODEC_ID_SIGN, 2, 0, 4 + 3, ccl_put_f32(pl, 3.0f));            /* none but not 1 */
    TRYQ(CCL_CODEC_ID_SIGN, 3, 0, 4 + 3, (void)0);                          /* unknown scale */
    TRYQ(CCL_CODEC_ID_DGC, 2, 0, 16, (ccl_put_u32(pl, 3), ccl_put_u32(pl + 4, 20))); /* idx = n */
#undef TRYQ
    return bad == 0;
}

static int test_ef_telescoping(void)
{
    /* Sum of what was sent plus the final residual equals the sum of the gradients, exactly:
     * with dyadic inputs and top-k (which sends values unchanged) no rounding happens. */
    enum { N = 1000, T = 100 };
    ccl_ef_t *ef;
    ccl_codec_t c;
    parse_or_die("topk:k=37", &c);
    MUST(ccl_ef_create(N, CCL_EF_CLASSIC, &ef));
    double sent[N] = {0}, gsum[N] = {0};
    size_t cap = ccl_codec_max_encoded_size(&c, N), len;
    uint8_t *buf = malloc(cap);
    float g[N], d[N];
    for (int t = 0; t < T; t++) {
        for (int i = 0; i < N; i++) {
            g[i] = (float)((int)(ccl_rng64((uint64_t)t, (uint64_t)i) % 64) - 32) / 64.0f;
            gsum[i] += g[i];
        }
        if (ccl_ef_encode(ef, &c, g, (uint64_t)t, buf, cap, &len) != CCL_SUCCESS ||
            ccl_codec_decode(buf, len, d, N, 0) != CCL_SUCCESS)
            return 0;
        for (int i = 0; i < N; i++)
            sent[i] += d[i];
    }
    int ok = ef->steps == T;
    for (int i = 0; ok && i < N; i++)
        ok = sent[i] + ef->residual[i] == gsum[i];
    /* With a lossy quantizer the identity holds to rounding. */
    parse_or_die("int:bits=2,bucket=64", &c);
    ccl_ef_reset(ef);
    memset(sent, 0, sizeof(sent));
    memset(gsum, 0, sizeof(gsum));
    free(buf);
    cap = ccl_codec_max_encoded_size(&c, N);
    buf = malloc(cap);
    for (int t = 0; ok && t < T; t++) {
        for (int i = 0; i < N; i++) {
            g[i] = ccl_rng_unit((uint64_t)t + 1000, (uint64_t)i) - 0.5f;
            gsum[i] += g[i];
        }
        ok = ccl_ef_encode(ef, &c, g, (uint64_t)t, buf, cap, &len) == CCL_SUCCESS &&
             ccl_codec_decode(buf, len, d, N, 0) == CCL_SUCCESS;
        for (int i = 0; i < N; i++)
            sent[i] += d[i];
    }
    for (int i = 0; ok && i < N; i++)
        ok = fabs(sent[i] + ef->residual[i] - gsum[i]) < 1e-4;
    free(buf);
    ccl_ef_destroy(ef);
    return ok;
}

/* One step's new residual is p minus what the receivers decode, bit for bit, where the commit
 * touches only the sent elements (sparse codecs; fp16 values make the decoded value differ
 * from p) and where the encoder writes it (a dense codec). */
static int test_ef_commit_one_step(void)
{
    enum { N = 5000 };
    static const struct { const char *spec; ccl_ef_mode_t mode; } cases[] = {
        {"topk:ratio=0.01,fp16_values=1", CCL_EF_CLASSIC}, {"threshold:threshold=0.9", CCL_EF_CLASSIC},
        {"randomk:ratio=0.1,fp16_values=1", CCL_EF_CLASSIC}, {"int:bits=4", CCL_EF_CLASSIC},
        {"dgc:ratio=0.01,fp16_values=1,momentum=0", CCL_EF_DGC},
        {"dgc:ratio=0.01,fp16_values=1", CCL_EF_DGC},
    };
    static float g[N], e0[N], d[N];
    int ok = 1;
    for (size_t c = 0; ok && c < sizeof(cases) / sizeof(cases[0]); c++) {
        ccl_codec_t codec;
        ccl_ef_t *ef, *ef2;
        ok = ccl_codec_parse(cases[c].spec, &codec) == CCL_SUCCESS &&
             ccl_ef_create(N, cases[c].mode, &ef) == CCL_SUCCESS &&
             ccl_ef_create(N, cases[c].mode, &ef2) == CCL_SUCCESS;
        if (!ok)
            break;
        const int momentum = strstr(cases[c].spec, "momentum=0") == NULL && cases[c].mode == CCL_EF_DGC;
        size_t cap = ccl_codec_max_encoded_size(&codec, N), len;
        uint8_t *buf = malloc(cap);
        for (int step = 0; ok && step < 3; step++) {
            for (int i = 0; i < N; i++)
                g[i] = ccl_rng_unit((uint64_t)step + 77, (uint64_t)i) * 2.0f - 1.0f;
            memcpy(e0, ef->residual, sizeof(e0));
            ok = ccl_ef_encode(ef, &codec, g, (uint64_t)step, buf, cap, &len) == CCL_SUCCESS &&
                 ccl_codec_decode(buf, len, d, N, 0) == CCL_SUCCESS;
            /* momentum=0 and no clipping: DGC's p is g + e as classic's is */
            for (int i = 0; ok && !momentum && i < N; i++) {
                float p = g[i] + e0[i], want = p - d[i];
                ok = memcmp(&want, &ef->residual[i], sizeof(float)) == 0;
                if (!ok)
                    fprintf(stderr, "%s step %d [%d]: residual %.9g, p - decoded %.9g\n",
                            cases[c].spec, step, i, ef->residual[i], want);
            }
            /* Committing from the message's (index, value) list gives the same state. */
            if (ok && ccl_ef_commits_list(ef2)) {
                const float *p;
                ccl_codec_t eff;
                uint32_t *idx;
                float *val;
                size_t k;
                ok = ccl_ef_prepare(ef2, &codec, g, &p, &eff) == CCL_SUCCESS &&
                     ccl_codec_encode(&eff, p, N, (uint64_t)step, buf, cap, &len, NULL) == CCL_SUCCESS &&
                     ccl_codec_read_sparse(buf, len, N, &idx, &val, &k) == CCL_SUCCESS;
                if (ok) {
                    ccl_ef_commit_list(ef2, idx, val, k);
                    free(idx);
                    free(val);
                }
                ok = ok && memcmp(ef->residual, ef2->residual, N * sizeof(float)) == 0 &&
                     (ef->velocity == NULL || memcmp(ef->velocity, ef2->velocity, N * sizeof(float)) == 0);
                if (!ok)
                    fprintf(stderr, "%s step %d: the list commit differs\n", cases[c].spec, step);
            } else if (ok) {
                /* ccl_ef_commits_list is known after the first prepare; run it the dense way */
                ok = ccl_ef_encode(ef2, &codec, g, (uint64_t)step, buf, cap, &len) == CCL_SUCCESS;
            }
        }
        ok = ok && (ccl_ef_commits_list(ef2) == (cases[c].mode == CCL_EF_DGC ||
                                                  strncmp(cases[c].spec, "int", 3) != 0));
        free(buf);
        ccl_ef_destroy(ef);
        ccl_ef_destroy(ef2);
    }
    return ok;
}

/* ccl_sparse_collect finds what a plain loop finds: 32 and 8 at a time, the tail, a short
 * cap. */
static int test_sparse_collect(void)
{
    enum { N = 300 };
    float x[N];
    uint32_t a[N], b[N];
    int ok = 1;
    for (int i = 0; i < N; i++)
        x[i] = (ccl_rng_unit(5, (uint64_t)i) - 0.5f) * (i % 97 == 0 ? 100.0f : 1.0f);
    for (size_t n = 0; ok && n < 200; n += 13)
        for (size_t cap = 0; ok && cap <= 40; cap += 20) {
            const uint32_t t = ccl_mag_bits(0.45f);
            size_t want = 0;
            for (size_t i = 0; i < n; i++)
                if (ccl_mag_bits(x[i + 7]) >= t && want++ < cap)
                    b[want - 1] = (uint32_t)i;
            ok = ccl_sparse_collect(x + 7, n, t, a, cap) == want &&
                 memcmp(a, b, CCL_MIN(want, cap) * sizeof(uint32_t)) == 0;
        }
    return ok;
}

static int test_ef_nonfinite_policy(void)
{
    enum { N = 100 };
    ccl_ef_t *ef;
    ccl_codec_t c;
    float g[N], before[N];
    parse_or_die("topk:k=5", &c);
    MUST(ccl_ef_create(N, CCL_EF_CLASSIC, &ef));
    size_t cap = ccl_codec_max_encoded_size(&c, N), len;
    uint8_t *buf = malloc(cap);
    for (int i = 0; i < N; i++)
        g[i] = (float)i / 100;
    int ok = ccl_ef_encode(ef, &c, g, 0, buf, cap, &len) == CCL_SUCCESS;
    memcpy(before, ef->residual, sizeof(before));
    g[42] = NAN;
    ok = ok && ccl_ef_encode(ef, &c, g, 1, buf, cap, &len) == CCL_ERR_INVALID_ARG &&
         memcmp(before, ef->residual, sizeof(before)) == 0 && ef->skipped == 1 && ef->steps == 1;
    g[42] = INFINITY;
    ok = ok && ccl_ef_encode(ef, &c, g, 1, buf, cap, &len) == CCL_ERR_INVALID_ARG;
    g[42] = 0.42f;
    ok = ok && ccl_ef_encode(ef, &c, g, 2, buf, cap, &len) == CCL_SUCCESS && ef->steps == 2;
    for (int i = 0; ok && i < N; i++)
        ok = isfinite(ef->residual[i]);
    free(buf);
    ccl_ef_destroy(ef);
    return ok;
}

static int ef_checkpoint_mode(ccl_ef_mode_t mode, const char *spec)
{
    /* 30 steps, checkpoint, 30 more; a fresh state restored from the checkpoint and given the
     * same 30 gradients produces the same bytes. */
    enum { N = 500 };
    ccl_codec_t c;
    ccl_ef_t *a, *b;
    parse_or_die(spec, &c);
    MUST(ccl_ef_create(N, mode, &a));
    MUST(ccl_ef_create(N, mode, &b));
    MUST(ccl_ef_set_group(a, 3, 0.25f));
    size_t cap = ccl_codec_max_encoded_size(&c, N), la, lb, slen;
    uint8_t *ea = malloc(cap), *eb = malloc(cap), *ck = malloc(ccl_ef_saved_size(a));
    float g[N];
    int ok = 1;
    for (int t = 0; t < 60 && ok; t++) {
        for (int i = 0; i < N; i++)
            g[i] = ccl_rng_unit((uint64_t)t, (uint64_t)i) - 0.5f;
        if (t == 30) {
            ok = ccl_ef_save(a, ck, ccl_ef_saved_size(a), &slen) == CCL_SUCCESS &&
                 ccl_ef_restore(b, ck, slen) == CCL_SUCCESS && b->nranks == 3 && b->weight == 0.25f;
        }
        ok = ok && ccl_ef_encode(a, &c, g, (uint64_t)t, ea, cap, &la) == CCL_SUCCESS;
        if (t >= 30)
            ok = ok && ccl_ef_encode(b, &c, g, (uint64_t)t, eb, cap, &lb) == CCL_SUCCESS &&
                 la == lb && memcmp(ea, eb, la) == 0;
    }
    /* Restore refuses: another size or mode, a bad magic, a non-finite value; and changes
     * nothing. */
    ccl_ef_t *small, *other;
    MUST(ccl_ef_create(N - 1, mode, &small));
    MUST(ccl_ef_create(N, mode == CCL_EF_CLASSIC ? CCL_EF_NONE : CCL_EF_CLASSIC, &other));
    ok = ok && ccl_ef_restore(small, ck, slen) == CCL_ERR_INVALID_PAYLOAD;
    ok = ok && ccl_ef_restore(other, ck, slen) == CCL_ERR_INVALID_PAYLOAD;
    ck[0] ^= 1;
    ok = ok && ccl_ef_restore(b, ck, slen) == CCL_ERR_INVALID_PAYLOAD;
    ck[0] ^= 1;
    ccl_put_f32(ck + slen - 4, NAN);
    float keep = b->residual[N - 1];
    ok = ok && ccl_ef_restore(b, ck, slen) == CCL_ERR_INVALID_PAYLOAD && b->residual[N - 1] == keep;
    ok = ok && ccl_ef_restore(b, ck, slen - 1) == CCL_ERR_INVALID_PAYLOAD;
    if (!ok)
        fprintf(stderr, "checkpoint of error feedback '%s' failed\n", ccl_ef_mode_name(mode));
    ccl_ef_destroy(small);
    ccl_ef_destroy(other);
    ccl_ef_destroy(a);
    ccl_ef_destroy(b);
    free(ea);
    free(eb);
    free(ck);
    return ok;
}

static int test_ef_checkpoint(void)
{
    return ef_checkpoint_mode(CCL_EF_CLASSIC, "int:bits=4,bucket=50,round=stochastic") &&
           ef_checkpoint_mode(CCL_EF_EF21, "topk:k=20") &&
           ef_checkpoint_mode(CCL_EF_EF21W, "qsgd:bits=4") &&
           ef_checkpoint_mode(CCL_EF_DGC, "dgc:ratio=0.05,warmup_steps=40,clip=3");
}

/* n workers with constant gradients grad[w] run EF21 (or EF21-W with weights w) with top-k,
 * the "collective" being a plain sum of the decoded messages. */
static int ef21_run(ccl_ef_mode_t mode, const float *weights, int steps_needed)
{
    enum { W = 3, N = 60, K = 7 };
    ccl_ef_t *ef[W];
    ccl_codec_t c;
    float grad[W][N], sum[N], dec[N], truth[N] = {0};
    double prev_err = INFINITY;
    size_t cap, len;
    int ok = 1;
    parse_or_die("topk:k=7", &c);
    cap = ccl_codec_max_encoded_size(&c, N);
    uint8_t *buf = malloc(cap);
    for (int w = 0; w < W; w++) {
        MUST(ccl_ef_create(N, mode, &ef[w]));
        MUST(ccl_ef_set_group(ef[w], W, weights ? weights[w] : 0));
        for (int i = 0; i < N; i++) {
            grad[w][i] = (float)((int)(ccl_rng64(w, i) % 200) - 100) / 16.0f;
            truth[i] += grad[w][i];
        }
    }
    for (int t = 0; t < steps_needed && ok; t++) {
        memset(sum, 0, sizeof(sum));
        for (int w = 0; w < W; w++) {
            ok &= ccl_ef_encode(ef[w], &c, grad[w], t, buf, cap, &len) == CCL_SUCCESS &&
                  ccl_codec_decode(buf, len, dec, N, 0) == CCL_SUCCESS;
            for (int i = 0; i < N; i++)
                sum[i] += dec[i];
        }
        float out[W][N];
        for (int w = 0; w < W; w++) {
            memcpy(out[w], sum, sizeof(sum));
            ccl_ef_aggregate(ef[w], out[w]);
            ok &= memcmp(out[w], out[0], sizeof(sum)) == 0; /* G identical everywhere */
        }
        /* Each worker's distance to its target never grows. */
        double err = 0;
        for (int w = 0; w < W; w++)
            for (int i = 0; i < N; i++) {
                double target = mode == CCL_EF_EF21W ? grad[w][i] / (W * ef[w]->weight) : grad[w][i];
                err += fabs(target - ef[w]->residual[i]);
            }
        ok &= err <= prev_err * (1 + 1e-6);
        prev_err = err;
        if (t == steps_needed - 1)
            for (int i = 0; i < N; i++)
                ok &= fabsf(out[0][i] - truth[i]) <= 1e-5f * (1 + fabsf(truth[i]));
    }
    for (int w = 0; w < W; w++)
        ccl_ef_destroy(ef[w]);
    free(buf);
    return ok;
}

static int test_ef21(void)
{
    /* Fixed point: after ceil(N/K) = 9 steps each g_i equals its gradient, and the aggregate
     * the sum of the gradients; EF21-W's weighted aggregate reaches the same sum. */
    static const float w[3] = {0.5f, 0.3f, 0.2f};
    return ef21_run(CCL_EF_EF21, NULL, 9) && ef21_run(CCL_EF_EF21W, w, 9) &&
           ef21_run(CCL_EF_EF21W, NULL, 9);
}

static int test_dgc_state(void)
{
    enum { N = 200, T = 20 };
    int ok = 1;
    /* ratio 1, no masking: what is sent is momentum SGD's velocity u_t = m u_{t-1} + g_t;
     * with masking it is the gradient itself. Nesterov: u = m(u + g), sent u + g. */
    for (int variant = 0; variant < 3 && ok; variant++) {
        const char *spec = variant == 0 ? "dgc:ratio=1,momentum=0.9,masking=0"
                         : variant == 1 ? "dgc:ratio=1,momentum=0.9,masking=1"
                                        : "dgc:ratio=1,momentum=0.9,masking=0,nesterov=1";
        ccl_codec_t c;
        ccl_ef_t *ef;
        parse_or_die(spec, &c);
        MUST(ccl_ef_create(N, CCL_EF_DGC, &ef));
        size_t cap = ccl_codec_max_encoded_size(&c, N), len;
        uint8_t *buf = malloc(cap);
        double u[N] = {0};
        float g[N], d[N];
        for (int t = 0; t < T && ok; t++) {
            for (int i = 0; i < N; i++)
                g[i] = ccl_rng_unit(t, i) - 0.5f;
            ok &= ccl_ef_encode(ef, &c, g, t, buf, cap, &len) == CCL_SUCCESS &&
                  ccl_codec_decode(buf, len, d, N, 0) == CCL_SUCCESS;
            for (int i = 0; i < N && ok; i++) {
                double want;
                if (variant == 0)
                    want = u[i] = 0.9 * u[i] + g[i];
                else if (variant == 1)
                    want = g[i];
                else
                    want = (u[i] = 0.9 * (u[i] + g[i])) + g[i];
                ok &= fabs(d[i] - want) <= 1e-5 * (1 + fabs(want));
            }
        }
        free(buf);
        ccl_ef_destroy(ef);
    }
    /* Sparse: conservation sum(sent) + v_T = sum(increments of v), here with momentum 0 so
     * the increments are the (clipped) gradients; and local clipping to clip/sqrt(P). */
    {
        ccl_codec_t c;
        ccl_ef_t *ef;
        parse_or_die("dgc:ratio=0.05,momentum=0,clip=2", &c);
        MUST(ccl_ef_create(N, CCL_EF_DGC, &ef));
        MUST(ccl_ef_set_group(ef, 4, 0)); /* each rank clips to 2/sqrt(4) = 1 */
        size_t cap = ccl_codec_max_encoded_size(&c, N), len;
        uint8_t *buf = malloc(cap);
        double sent[N] = {0}, added[N] = {0};
        float g[N], d[N];
        for (int t = 0; t < T && ok; t++) {
            double norm = 0;
            for (int i = 0; i < N; i++) {
                g[i] = ccl_rng_unit(t + 50, i) - 0.5f;
                norm += (double)g[i] * g[i];
            }
            norm = sqrt(norm);
            ok &= ccl_ef_encode(ef, &c, g, t, buf, cap, &len) == CCL_SUCCESS &&
                  ccl_codec_decode(buf, len, d, N, 0) == CCL_SUCCESS;
            for (int i = 0; i < N; i++) {
                sent[i] += d[i];
                added[i] += g[i] * (norm > 1 ? 1 / norm : 1);
            }
        }
        for (int i = 0; i < N && ok; i++)
            ok &= fabs(sent[i] + ef->residual[i] - added[i]) < 1e-4;
        free(buf);
        ccl_ef_destroy(ef);
    }
    /* Warm-up: 4 stages at ratio 0.001 give 0.2512, 0.0631, 0.01585, 0.00398, then 0.001. */
    ccl_dgc_params_t wu = {.warmup_steps = 400, .warmup_stages = 4};
    static const double want[5] = {0.2512, 0.0631, 0.01585, 0.00398, 0.001};
    for (int e = 0; e < 5; e++)
        ok &= fabs(ccl_dgc_ratio(&wu, 0.001, (uint64_t)e * 100 + 50) - want[e]) < 5e-4 * want[e] + 1e-5;
    return ok;
}

/* DGC with a layout and dense_1d, as its reference treats a model: the matrices sparse (k of
 * their own, momentum masked where sent), every tensor without a matrix shape sent whole
 * every step with momentum SGD's velocity u = m u + g kept (no masking). Without dense_1d a
 * vector gets its own k (here 1) like any tensor. top-k and random-k take it the same way. */
static int test_dense_1d(void)
{
    enum { N = 600 + 7 + 300 + 1, T = 6 };
    size_t off[4] = {0, 600, 607, 907}, cnt[4] = {600, 7, 300, 1}, rows[4] = {20, 0, 10, 0},
           cols[4] = {30, 0, 30, 0};
    ccl_layout_t lay = {4, N, off, cnt, rows, cols};
    int ok = 1;
    for (int dense = 0; dense < 2 && ok; dense++) {
        ccl_codec_t c;
        ccl_ef_t *ef;
        parse_or_die(dense ? "dgc:ratio=0.01,momentum=0.9,dense_1d=1" : "dgc:ratio=0.01,momentum=0.9",
                     &c);
        c.params.layout = &lay;
        MUST(ccl_ef_create(N, CCL_EF_DGC, &ef));
        size_t cap = ccl_codec_max_encoded_size(&c, N), len;
        uint8_t *buf = malloc(cap);
        double u[N] = {0};
        float g[N], d[N];
        for (int t = 0; t < T && ok; t++) {
            for (int i = 0; i < N; i++)
                g[i] = ccl_rng_unit(t + 9, i) - 0.5f;
            ok &= ccl_ef_encode(ef, &c, g, t, buf, cap, &len) == CCL_SUCCESS &&
                  ccl_codec_decode(buf, len, d, N, 0) == CCL_SUCCESS;
            for (int tt = 0; tt < 4 && ok; tt++) {
                size_t sent = 0;
                for (size_t i = off[tt]; i < off[tt] + cnt[tt]; i++) {
                    sent += d[i] != 0;
                    if (dense && rows[tt] == 0) {
                        u[i] = 0.9 * u[i] + g[i];
                        ok &= fabs(d[i] - u[i]) <= 1e-5 * (1 + fabs(u[i]));
                    }
                }
                const size_t k = (size_t)ceil(0.01 * (double)cnt[tt]);
                ok &= dense && rows[tt] == 0 ? sent == cnt[tt] : sent == k;
                if (!ok)
                    fprintf(stderr, "dense_1d=%d step %d tensor %d: %zu sent\n", dense, t, tt, sent);
            }
        }
        free(buf);
        ccl_ef_destroy(ef);
    }
    /* top-k and random-k: the vectors whole, the matrices k each. */
    static const char *specs[] = {"topk:ratio=0.01,dense_1d=1", "randomk:ratio=0.01,dense_1d=1"};
    float *x = randvec(N, 5, 1.0f);
    for (int sp = 0; sp < 2 && ok; sp++) {
        ccl_codec_t c;
        parse_or_die(specs[sp], &c);
        c.params.layout = &lay;
        size_t cap = ccl_codec_max_encoded_size(&c, N), len;
        uint8_t *buf = malloc(cap);
        float d[N];
        ok &= ccl_codec_encode(&c, x, N, 3, buf, cap, &len, NULL) == CCL_SUCCESS &&
              ccl_codec_decode(buf, len, d, N, 0) == CCL_SUCCESS;
        for (int tt = 0; tt < 4 && ok; tt++) {
            size_t sent = 0;
            for (size_t i = off[tt]; i < off[tt] + cnt[tt]; i++)
                sent += d[i] != 0;
            ok &= sent == (rows[tt] == 0 ? cnt[tt] : (size_t)ceil(0.01 * (double)cnt[tt]));
        }
        free(buf);
    }
    free(x);
    return ok;
}

/* Writes one valid encoding per codec into dir: the fuzzer's seed corpus. */
static int write_corpus(const char *dir)
{
    static const char *specs[] = {"cast:type=fp16", "cast:type=bf16", "int:bits=4,bucket=16",
                                  "int:bits=8,bucket=64,round=stochastic", "int:bits=1,bucket=5",
                                  "topk:k=3", "topk:k=60", "topk:k=10,fp16_values=1", "topk:k=30",
                                  "threshold:t=0.7", "randomk:k=7", "qsgd:bits=4,bucket=16",
                                  "qsgd:bits=3,bucket=7,norm=l2", "terngrad", "sign",
                                  "sign:scale=none", "dgc:ratio=0.05"};
    float *x = randvec(100, 1, 1.0f);
    for (size_t s = 0; s < sizeof(specs) / sizeof(specs[0]); s++) {
        uint8_t *enc;
        size_t len;
        char path[512];
        float *d = roundtrip(specs[s], x, 100, 3, &enc, &len);
        snprintf(path, sizeof(path), "%s/seed%02zu", dir, s);
        FILE *f = fopen(path, "wb");
        if (d == NULL || f == NULL)
            return 1;
        fwrite(enc, 1, len, f);
        fclose(f);
        free(d);
        free(enc);
    }
    free(x);
    return 0;
}

/* One codec in generic mode (scalar references) and in its dispatched (AVX2) mode: encoded
 * bytes, both forms of the error-feedback values, and the decoded values, written and
 * accumulated, all identical. */
static int simd_same(const char *spec, const float *x, size_t n)
{
    ccl_codec_t c;
    if (ccl_codec_parse(spec, &c) != CCL_SUCCESS)
        return 0;
    size_t cap = ccl_codec_max_encoded_size(&c, n), len[2];
    uint8_t *enc[2];
    float *rec[2][2], *dec[2][2];
    int ok = 1;
    for (int m = 0; m < 2; m++) {
        ccl_compress_force_generic(m == 0);
        enc[m] = malloc(cap);
        for (int fb = 0; fb < 2; fb++) {
            rec[m][fb] = malloc(n * 4);
            dec[m][fb] = malloc(n * 4);
            c.params.fb_residual = fb;
            ok &= ccl_codec_encode(&c, x, n, 9, enc[m], cap, &len[m], rec[m][fb]) == CCL_SUCCESS;
            for (size_t i = 0; i < n; i++)
                dec[m][fb][i] = 0.25f * (float)(i % 7);
            ok &= ccl_codec_decode(enc[m], len[m], dec[m][fb], n, fb) == CCL_SUCCESS;
        }
    }
    ccl_compress_force_generic(0);
    ok = ok && len[0] == len[1] && memcmp(enc[0], enc[1], len[0]) == 0;
    for (int fb = 0; fb < 2; fb++)
        ok = ok && memcmp(rec[0][fb], rec[1][fb], n * 4) == 0 && memcmp(dec[0][fb], dec[1][fb], n * 4) == 0;
    for (int m = 0; m < 2; m++) {
        free(enc[m]);
        for (int fb = 0; fb < 2; fb++) {
            free(rec[m][fb]);
            free(dec[m][fb]);
        }
    }
    if (!ok)
        fprintf(stderr, "%s: SIMD and scalar loops differ\n", spec);
    return ok;
}

static int test_simd_matches_scalar(void)
{
    static const char *specs[] = {"int:bits=8,bucket=512", "int:bits=4,bucket=100",
                                  "int:bits=3,bucket=37", "int:bits=1,bucket=1000",
                                  "int:bits=4,round=stochastic", "int:bits=8,bucket=77,round=stochastic",
                                  "cast:type=fp16", "cast:type=bf16", "sign", "sign:scale=l2",
                                  "sign:scale=none", "terngrad", "terngrad:clip=0",
                                  "terngrad:scale=4", "qsgd:bits=4", "qsgd:bits=4,bucket=37",
                                  "qsgd:bits=8,bucket=8192,norm=l2", "qsgd:bits=3,bucket=100",
                                  "qsgd:bits=5,round=nearest", "qsgd:bits=2,bucket=7,norm=l2"};
    /* Values at fp16's and bf16's edges: the largest half and what rounds to it or past it,
     * half subnormals and what rounds to zero, float's largest (bf16 rounds it up to inf). */
    static const float edges[] = {65504.0f, 65519.99f, 65520.0f, -65520.0f, 1e9f, -3.4e38f,
                                  6.1e-5f, 6.0e-5f, 5.96e-8f, 2.98e-8f, 2.99e-8f, 1e-30f, -1e-40f,
                                  3.4028235e38f, 1.0f + 0x1p-9f, 1.0f + 0x3p-9f};
    size_t n = 100003;
    float *x = randvec(n, 31, 10.0f);
    int ok = 1;
    for (size_t i = 0; i < n; i += 97)
        x[i] = (i & 1) ? -0.0f : 0.0f; /* signed zeros must not change a byte */
    for (size_t i = 0; i < sizeof(edges) / sizeof(edges[0]); i++)
        x[1000 + 13 * i] = edges[i];
    for (size_t i = 2048; i < 2560; i++) /* a bucket of 0 and +-1e-45: qsgd's 1/norm overflows */
        x[i] = (i % 3 == 0) ? 0.0f : (i % 3 == 1) ? 1e-45f : -1e-45f;
    for (size_t s = 0; s < sizeof(specs) / sizeof(specs[0]); s++)
        ok &= simd_same(specs[s], x, n);
    free(x);
    return ok;
}

static int same_bits(float a, float b)
{
    return memcmp(&a, &b, sizeof(a)) == 0;
}

static int test_recon_forms(void)
{
    /* What an encoder reports for error feedback: the decoded values, or (fb_residual) the
     * input minus them, each bit-exact against the decoder, with the same bytes sent. */
    static const char *specs[] = {"cast:type=fp16", "cast:type=bf16", "int:bits=8,bucket=512",
                                  "int:bits=3,bucket=37,round=stochastic", "topk:k=50",
                                  "topk:k=40,fp16_values=1", "threshold:t=2", "randomk:k=30",
                                  "qsgd:bits=4,bucket=64", "terngrad", "sign", "dgc:ratio=0.01"};
    size_t n = 5003;
    float *x = randvec(n, 41, 3.0f);
    int ok = 1;
    for (size_t s = 0; ok && s < sizeof(specs) / sizeof(specs[0]); s++) {
        ccl_codec_t c;
        parse_or_die(specs[s], &c);
        size_t cap = ccl_codec_max_encoded_size(&c, n), la, lb;
        uint8_t *a = malloc(cap), *b = malloc(cap);
        float *dec = malloc(n * sizeof(float)), *val = malloc(n * sizeof(float)),
              *res = malloc(n * sizeof(float));
        ok = ccl_codec_encode(&c, x, n, 5, a, cap, &la, val) == CCL_SUCCESS;
        c.params.fb_residual = 1;
        ok = ok && ccl_codec_encode(&c, x, n, 5, b, cap, &lb, res) == CCL_SUCCESS &&
             la == lb && memcmp(a, b, la) == 0 &&
             ccl_codec_decode(a, la, dec, n, 0) == CCL_SUCCESS;
        for (size_t i = 0; ok && i < n; i++)
            if (!same_bits(val[i], dec[i]) || !same_bits(res[i], x[i] - dec[i])) {
                fprintf(stderr, "%s: element %zu: decoded %g, recon %g, residual %g (want %g)\n",
                        specs[s], i, dec[i], val[i], res[i], x[i] - dec[i]);
                ok = 0;
            }
        free(a);
        free(b);
        free(dec);
        free(val);
        free(res);
    }
    free(x);
    return ok;
}

/* The GPU int encoder's steps (elem.h: a header per bucket from its minimum and maximum,
 * then each byte of the code stream on its own, as one GPU thread computes it) run here
 * over a whole buffer: they must give the CPU encoder's bytes and recon. */
/* The payload and recon the device steps made (dev, rd) are the CPU encoder's (enc after its
 * header, rc). */
static int steps_match(const uint8_t *enc, const uint8_t *dev, size_t plen, const float *rc,
                       const float *rd, size_t n, const char *spec, int residual)
{
    if (memcmp(enc + CCL_WIRE_HDR_LEN, dev, plen) == 0 && memcmp(rc, rd, n * 4) == 0)
        return 1;
    fprintf(stderr, "%s, %zu elements (residual %d): the device steps differ from the CPU encoder\n",
            spec, n, residual);
    return 0;
}

/* A GPU encoder's steps for codec c, run here on x: the payload (without the wire header)
 * into dev, recon into rd in the form c->params.fb_residual asks for; returns its length. */
typedef size_t (*device_steps_t)(const ccl_codec_t *c, const float *x, size_t n, uint64_t seed,
                                 uint8_t *dev, float *rd);

/* spec's CPU encoder and the device steps write the same payload and recon, in both recon
 * forms. With enc_p, the CPU's encoding (malloc'd) and its length are returned. */
static int device_steps_agree(const char *spec, const float *x, size_t n, uint64_t seed,
                              device_steps_t steps, uint8_t **enc_p, size_t *len_p)
{
    ccl_codec_t c;
    int ok = ccl_codec_parse(spec, &c) == CCL_SUCCESS;
    size_t cap = ccl_codec_max_encoded_size(&c, n), len = 0;
    uint8_t *enc = malloc(cap), *dev = malloc(cap);
    float *rc = malloc(n * 4 + 4), *rd = malloc(n * 4 + 4);
    for (int residual = 0; ok && residual < 2; residual++) {
        c.params.fb_residual = residual;
        ok = ccl_codec_encode(&c, x, n, seed, enc, cap, &len, rc) == CCL_SUCCESS;
        size_t plen = ok ? steps(&c, x, n, seed, dev, rd) : 0;
        ok = ok && len == CCL_WIRE_HDR_LEN + plen && steps_match(enc, dev, plen, rc, rd, n, spec, residual);
    }
    if (enc_p != NULL) {
        *enc_p = enc;
        *len_p = len;
    } else {
        free(enc);
    }
    free(dev);
    free(rc);
    free(rd);
    return ok;
}

/* int: bucket headers from each bucket's min and max, then one code byte at a time. */
static size_t int_steps(const ccl_codec_t *c, const float *x, size_t n, uint64_t seed,
                        uint8_t *dev, float *rd)
{
    const unsigned bits = (unsigned)c->params.bits, levels = (1u << bits) - 1;
    const size_t B = c->params.bucket, nb = (n + B - 1) / B, nbytes = (n * bits + 7) / 8;
    for (size_t b = 0; b < nb; b++) {
        float mn = x[b * B], mx = mn;
        for (size_t i = b * B; i < CCL_MIN((b + 1) * B, n); i++) {
            mn = fminf(mn, x[i]);
            mx = fmaxf(mx, x[i]);
        }
        ccl_int_header(mn, mx, levels, dev + 8 * b);
    }
    for (size_t byte = 0; byte < nbytes; byte++)
        dev[8 * nb + byte] = ccl_int_code_byte(x, n, dev, B, bits, c->params.rounding, seed, byte,
                                               rd, c->params.fb_residual);
    return 8 * nb + nbytes;
}

static int test_int_device_steps(void)
{
    static const char *specs[] = {"int:bits=8,bucket=512", "int:bits=4,bucket=100",
                                  "int:bits=3,bucket=37,round=stochastic", "int:bits=1,bucket=1000",
                                  "int:bits=5,bucket=7", "int:bits=7,bucket=64,round=stochastic"};
    size_t n = 20011;
    float *x = randvec(n, 53, 5.0f);
    for (size_t i = 0; i < n; i += 89)
        x[i] = (i & 1) ? -0.0f : 0.0f;
    for (size_t i = 300; i < 400; i++) /* a constant stretch: constant buckets */
        x[i] = 1.5f;
    int ok = 1;
    for (size_t s = 0; ok && s < sizeof(specs) / sizeof(specs[0]); s++)
        ok = device_steps_agree(specs[s], x, n, 77, int_steps, NULL, NULL);
    free(x);
    return ok;
}

/* The sum of x as the GPU kernels take it: per block, 32 lanes each summing its strided share,
 * combined by halving; then the block sums the same way. */
static double gpu_order_sum(const float *x, size_t n, int kind, double mean)
{
    size_t nb = (n + CCL_SUM_BLOCK - 1) / CCL_SUM_BLOCK;
    double *part = malloc((nb + 1) * sizeof(double)), acc[CCL_SUM_LANES];
    for (size_t b = 0; b < nb; b++) {
        for (unsigned j = 0; j < CCL_SUM_LANES; j++)
            acc[j] = ccl_sum_lane_f32(x, b * CCL_SUM_BLOCK, CCL_MIN((b + 1) * CCL_SUM_BLOCK, n), j,
                                      kind, mean);
        part[b] = ccl_sum_combine(acc);
    }
    for (unsigned j = 0; j < CCL_SUM_LANES; j++)
        acc[j] = ccl_sum_lane_f64(part, nb, j);
    free(part);
    return ccl_sum_combine(acc);
}

/* qsgd: each bucket's norm (max |x|, or L2 from the GPU's order of sums), then the code
 * bytes. */
static size_t qsgd_steps(const ccl_codec_t *c, const float *x, size_t n, uint64_t seed,
                         uint8_t *dev, float *rd)
{
    const unsigned bits = (unsigned)c->params.bits;
    const size_t B = c->params.bucket, nb = (n + B - 1) / B, nbytes = (n * bits + 7) / 8;
    for (size_t b = 0; b < nb; b++) {
        size_t lo = b * B, m = CCL_MIN(B, n - lo);
        float mx = 0;
        for (size_t i = lo; i < lo + m; i++)
            mx = fmaxf(mx, fabsf(x[i]));
        ccl_put_f32(dev + 4 * b, c->params.norm == CCL_NORM_MAX
                                     ? mx : ccl_qsgd_l2(gpu_order_sum(x + lo, m, CCL_SUM_SQ, 0)));
    }
    for (size_t byte = 0; byte < nbytes; byte++)
        dev[4 * nb + byte] = ccl_qsgd_code_byte(x, n, dev, B, bits,
                                                c->params.rounding == CCL_ROUND_STOCHASTIC, seed,
                                                byte, rd, c->params.fb_residual);
    return 4 * nb + nbytes;
}

/* qsgd on the GPU: bucket norms (max, or L2 from the fixed-order sum, buckets beyond one sum
 * block included) and the per-byte steps, run here, give the CPU encoder's bytes and recon;
 * zero stretches and a bucket of subnormals (whose inverse norm overflows) included. */
static int test_qsgd_device_steps(void)
{
    static const char *specs[] = {"qsgd", "qsgd:bits=8,norm=l2,round=nearest",
                                  "qsgd:bits=3,bucket=37,norm=l2", "qsgd:bits=2,bucket=10000,norm=l2",
                                  "qsgd:bits=5,bucket=7,round=nearest", "qsgd:bits=6,bucket=20011,norm=max"};
    size_t n = 20011, len;
    float *x = randvec(n, 57, 4.0f), *out = malloc(n * 4);
    for (size_t i = 1000; i < 1600; i++)
        x[i] = 0.0f;
    for (size_t i = 2048; i < 2560; i++) /* one whole default bucket: 0 and +-1e-45 */
        x[i] = (i % 3 == 0) ? 0.0f : (i % 3 == 1) ? 1e-45f : -1e-45f;
    int ok = 1;
    for (size_t s = 0; ok && s < sizeof(specs) / sizeof(specs[0]); s++) {
        uint8_t *enc = NULL;
        ok = device_steps_agree(specs[s], x, n, 79, qsgd_steps, &enc, &len) &&
             /* the subnormal bucket decodes to zeros, not NaNs */
             ccl_codec_decode(enc, len, out, n, 0) == CCL_SUCCESS && ccl_all_finite(out, n);
        free(enc);
    }
    free(x);
    free(out);
    return ok;
}

/* sign and terngrad: the magnitude or scaler from the GPU's order of sums, then the code
 * bytes. */
static size_t sign_tern_steps(const ccl_codec_t *c, const float *x, size_t n, uint64_t seed,
                              uint8_t *dev, float *rd)
{
    int is_sign = c->ops->id == CCL_CODEC_ID_SIGN;
    size_t nbytes = is_sign ? (n + 7) / 8 : (n + 3) / 4;
    float s_dev;
    if (is_sign) {
        int mode = (int)c->params.sign_scale;
        s_dev = ccl_sign_magnitude(gpu_order_sum(x, n, mode == 0 ? CCL_SUM_ABS : CCL_SUM_SQ, 0), n, mode);
    } else {
        float mx = 0;
        for (size_t i = 0; i < n; i++)
            mx = fmaxf(mx, fabsf(x[i]));
        double mean = gpu_order_sum(x, n, CCL_SUM_X, 0) / (double)n;
        s_dev = c->params.clip == 0 ? mx
                : ccl_tern_scale(gpu_order_sum(x, n, CCL_SUM_SQDEV, mean), n, c->params.clip, mx);
    }
    ccl_put_f32(dev, s_dev);
    for (size_t b = 0; b < nbytes; b++)
        dev[4 + b] = is_sign ? ccl_sign_byte(x, n, b, s_dev, rd, c->params.fb_residual)
                             : ccl_tern_byte(x, n, b, s_dev, seed, rd, c->params.fb_residual);
    return 4 + nbytes;
}

/* sign and terngrad on the GPU: the fixed-order sums, the magnitude or scaler, and the
 * per-byte steps, run here, give the CPU encoder's bytes and recon; cast's per-element step
 * is the CPU encoder's own. */
static int test_sign_tern_device_steps(void)
{
    static const size_t sizes[] = {0, 1, 33, 8192, 8193, 3 * 8192 + 77, 300001};
    static const char *specs[] = {"sign", "sign:scale=l2", "terngrad", "terngrad:clip=0"};
    int ok = 1;
    for (size_t z = 0; ok && z < sizeof(sizes) / sizeof(sizes[0]); z++) {
        size_t n = sizes[z];
        float *x = randvec(n + 1, 71 + z, 3.0f);
        for (int kind = 0; ok && kind < 8; kind++) { /* kinds 4-7: the scalar loops */
            float mx[2];
            ccl_compress_force_generic(kind >= 4);
            double a = ccl_fixed_sum(x, n, kind % 4, 0.25, &mx[kind / 4]),
                   b = gpu_order_sum(x, n, kind % 4, 0.25);
            ccl_compress_force_generic(0);
            ok = memcmp(&a, &b, sizeof(a)) == 0 && (kind < 4 || mx[0] == mx[1]);
            if (!ok)
                fprintf(stderr, "fixed sum n=%zu kind %d: CPU %.17g, GPU order %.17g\n", n, kind, a, b);
        }
        for (size_t s = 0; ok && n > 0 && s < sizeof(specs) / sizeof(specs[0]); s++)
            ok = device_steps_agree(specs[s], x, n, 91, sign_tern_steps, NULL, NULL);
        free(x);
    }
    return ok;
}

/* The check without decoding (for GPU decoders) accepts exactly what the decoder accepts:
 * a valid int encoding, and each of many corrupted copies of it. */
static int test_check_matches_decode(void)
{
    static const char *specs[] = {"int:bits=8,bucket=64", "int:bits=3,bucket=10,round=stochastic",
                                  "cast:type=fp16", "cast:type=bf16", "sign", "sign:scale=none",
                                  "terngrad", "qsgd:bits=4,bucket=10", "qsgd:bits=8,norm=l2"};
    size_t n = 500;
    float *x = randvec(n, 61, 2.0f), *out = malloc(n * 4);
    int ok = 1;
    for (size_t s = 0; ok && s < sizeof(specs) / sizeof(specs[0]); s++) {
        ccl_codec_t c;
        parse_or_die(specs[s], &c);
        size_t cap = ccl_codec_max_encoded_size(&c, n), len;
        uint8_t *enc = malloc(cap), *bad = malloc(cap);
        ok = ccl_codec_encode(&c, x, n, 3, enc, cap, &len, NULL) == CCL_SUCCESS &&
             ccl_codec_check(enc, len, n) == CCL_SUCCESS &&
             ccl_codec_check(enc, len, n + 1) == CCL_ERR_INVALID_PAYLOAD &&
             ccl_codec_check(enc, len - 1, n) == CCL_ERR_INVALID_PAYLOAD;
        uint64_t z = 99;
        for (int t = 0; ok && t < 3000; t++) {
            memcpy(bad, enc, len);
            /* one to three bytes of the header's parameters or the bucket scales */
            for (int k = 0; k <= t % 3; k++) {
                z = z * 6364136223846793005ULL + 1442695040888963407ULL;
                size_t at = (size_t)(z >> 33) % (CCL_WIRE_HDR_LEN + 8 * ((n + 9) / 10));
                bad[CCL_MIN(at, len - 1)] ^= (uint8_t)(z >> 20 | 1);
            }
            int chk = ccl_codec_check(bad, len, n) == CCL_SUCCESS,
                dec = ccl_codec_decode(bad, len, out, n, 0) == CCL_SUCCESS;
            if (chk != dec) {
                fprintf(stderr, "%s: mutation %d: check says %d, decode says %d\n", specs[s], t, chk, dec);
                ok = 0;
            }
        }
        free(enc);
        free(bad);
    }
    ccl_codec_t tk;
    parse_or_die("topk:k=5", &tk);
    size_t cap = ccl_codec_max_encoded_size(&tk, n), len;
    uint8_t *enc = malloc(cap);
    ok = ok && ccl_codec_encode(&tk, x, n, 1, enc, cap, &len, NULL) == CCL_SUCCESS &&
         ccl_codec_check(enc, len, n) == CCL_ERR_UNSUPPORTED;
    free(enc);
    free(x);
    free(out);
    return ok;
}

/* A layout cuts a dense codec's encoding of a range at tensor boundaries: every part decodes
 * to the bits of that part encoded alone (with its part seed), recon included; a range inside
 * one tensor is the plain encoding; the size stays within ccl_codec_max_encoded_size; agreed
 * scales apply per tensor; a hostile segment table is refused. */
static int test_layout_segments(void)
{
    static const char *specs[] = {"int:bits=8,bucket=64", "int:bits=3,bucket=50,round=stochastic",
                                  "qsgd:bits=4,bucket=16", "sign", "sign:scale=l2",
                                  "terngrad", "terngrad:clip=0"};
    static size_t count[] = {7, 1, 600, 33, 359, 1000};
    static const size_t ranges[][2] = {{0, 2000}, {5, 645}, {608, 33}, {3, 1}, {640, 1360},
                                       {7, 1}, {1999, 1}};
    size_t off[6], rows[6] = {0}, cols[6] = {0};
    const size_t n = 2000;
    ccl_layout_t lay = {.n = 6, .total = n, .off = off, .count = count, .rows = rows, .cols = cols};
    float *x = randvec(n, 7, 3.0f), *out = malloc(n * 4), *ref = malloc(n * 4),
          *rec = malloc(n * 4), *rref = malloc(n * 4);
    int ok = 1;
    for (size_t t = 0, at = 0; t < 6; at += count[t], t++)
        off[t] = at;
    for (size_t i = 8; i < 608; i++) /* a large tensor beside small ones */
        x[i] *= 1000.0f;
    for (size_t s = 0; s < sizeof(specs) / sizeof(specs[0]); s++) {
        ccl_codec_t c, plain;
        parse_or_die(specs[s], &c);
        parse_or_die(specs[s], &plain);
        c.params.layout = &lay;
        for (size_t r = 0; r < sizeof(ranges) / sizeof(ranges[0]); r++) {
            const size_t a = ranges[r][0], m = ranges[r][1];
            size_t cap = ccl_codec_max_encoded_size(&c, m), len = 0, at = a;
            uint8_t *enc = malloc(cap), *one = malloc(ccl_codec_max_encoded_size(&plain, m));
            int parts = 0, seg_ok = 1;
            seg_ok &= ccl_codec_encode_range(&c, x + a, a, m, 11, enc, cap, &len, rec) == CCL_SUCCESS &&
                      ccl_codec_decode(enc, len, out, m, 0) == CCL_SUCCESS;
            /* The reference: each tensor's part alone. */
            for (int t = 0; seg_ok && t < 6; t++) {
                size_t lo = CCL_MAX(a, off[t]), hi = CCL_MIN(a + m, off[t] + count[t]), l1;
                if (lo >= hi)
                    continue;
                seg_ok &= ccl_codec_encode(&plain, x + lo, hi - lo, ccl_codec_part_seed(11, parts),
                                           one, ccl_codec_max_encoded_size(&plain, hi - lo), &l1,
                                           rref + (lo - a)) == CCL_SUCCESS &&
                          ccl_codec_decode(one, l1, ref + (lo - a), hi - lo, 0) == CCL_SUCCESS;
                parts++;
                at = hi;
            }
            if (parts == 1) { /* inside one tensor: the plain encoding, its own seed */
                size_t l1;
                seg_ok &= ccl_codec_encode(&plain, x + a, m, 11, one,
                                           ccl_codec_max_encoded_size(&plain, m), &l1, rref) ==
                              CCL_SUCCESS &&
                          ccl_codec_decode(one, l1, ref, m, 0) == CCL_SUCCESS && l1 == len &&
                          memcmp(one, enc, len) == 0;
            }
            seg_ok &= at == a + m && (enc[6] == (parts > 1)) && memcmp(out, ref, m * 4) == 0 &&
                      memcmp(rec, rref, m * 4) == 0 && memcmp(rec, out, m * 4) == 0;
            if (!seg_ok)
                fprintf(stderr, "%s: range [%zu, +%zu) in %d parts: %s\n", specs[s], a, m, parts,
                        ccl_get_last_error(NULL));
            ok &= seg_ok;
            free(enc);
            free(one);
        }
    }
    /* Agreed scales per tensor (terngrad): every value of tensor t is 0 or +-scales[t]. */
    {
        ccl_codec_t c;
        float scales[6] = {1, 2, 3000, 4, 5, 6};
        parse_or_die("terngrad", &c);
        c.params.layout = &lay;
        c.params.scales = scales;
        size_t cap = ccl_codec_max_encoded_size(&c, n), len;
        uint8_t *enc = malloc(cap);
        ok &= ccl_codec_encode(&c, x, n, 5, enc, cap, &len, NULL) == CCL_SUCCESS &&
              ccl_codec_decode(enc, len, out, n, 0) == CCL_SUCCESS;
        for (int t = 0; t < 6; t++)
            for (size_t i = off[t]; i < off[t] + count[t]; i++)
                ok &= out[i] == 0.0f || fabsf(out[i]) == scales[t];
        free(enc);
    }
    /* Hostile tables: each fault refused, by the check (GPU decoders) too. */
    {
        ccl_codec_t c;
        parse_or_die("int:bits=8,bucket=64", &c);
        c.params.layout = &lay;
        size_t cap = ccl_codec_max_encoded_size(&c, n), len;
        uint8_t *enc = malloc(cap), *bad = malloc(cap);
        ok &= ccl_codec_encode(&c, x, n, 5, enc, cap, &len, NULL) == CCL_SUCCESS &&
              ccl_codec_check(enc, len, n) == CCL_ERR_INVALID_PAYLOAD;
        const size_t tab = CCL_WIRE_HDR_LEN;
        struct { size_t at; uint32_t v; int u64; } faults[] = {
            {tab, 0, 0},               /* no segment */
            {tab, 7, 0},               /* more segments than the table holds */
            {tab, 0xffffffffu, 0},     /* absurd count */
            {tab + 4, 0, 1},           /* a segment of no elements */
            {tab + 4, 8, 1},           /* counts that sum past the message's */
            {tab + 4, 6, 1},           /* counts that sum short of it */
            {tab + 4 + 8, 1, 0},       /* a length that does not match the bytes */
            {tab + 4 + 12 + 8, 0, 0},  /* a length of zero */
        };
        for (size_t f = 0; f < sizeof(faults) / sizeof(faults[0]); f++) {
            memcpy(bad, enc, len);
            if (faults[f].u64)
                ccl_put_u64(bad + faults[f].at, faults[f].v);
            else
                ccl_put_u32(bad + faults[f].at, faults[f].v);
            if (ccl_codec_decode(bad, len, out, n, 0) != CCL_ERR_INVALID_PAYLOAD) {
                fprintf(stderr, "segment table fault %zu accepted\n", f);
                ok = 0;
            }
        }
        /* A hostile part: its codec's reason, under the segment's number. */
        memcpy(bad, enc, len);
        ccl_put_f32(bad + tab + 4 + 6 * 12, NAN); /* segment 0's first bucket minimum */
        ok &= ccl_codec_decode(bad, len, out, n, 0) == CCL_ERR_INVALID_PAYLOAD &&
              strncmp(ccl_get_last_error(NULL), "segment 0: int: bucket 0", 24) == 0;
        if (!ok)
            fprintf(stderr, "hostile segment: '%s'\n", ccl_get_last_error(NULL));
        memcpy(bad, enc, len);
        bad[6] |= 2; /* an unknown flag */
        ok &= ccl_codec_decode(bad, len, out, n, 0) == CCL_ERR_INVALID_PAYLOAD;
        /* A sparse message claiming segments. */
        ccl_codec_t tk;
        uint32_t *idx = NULL;
        float *val = NULL;
        size_t k;
        parse_or_die("topk:k=5", &tk);
        ok &= ccl_codec_encode(&tk, x, n, 1, bad, cap, &len, NULL) == CCL_SUCCESS;
        bad[6] = 1;
        ok &= ccl_codec_decode(bad, len, out, n, 0) == CCL_ERR_INVALID_PAYLOAD &&
              ccl_codec_read_sparse(bad, len, n, &idx, &val, &k) == CCL_ERR_INVALID_PAYLOAD;
        free(enc);
        free(bad);
    }
    /* max_payload's contract, which bounds the cut messages, for every dense codec. */
    for (int i = 0; ccl_codecs[i] != NULL; i++) {
        ccl_codec_t c;
        if (ccl_codecs[i]->flags & CCL_CODEC_SPARSE)
            continue;
        parse_or_die(ccl_codecs[i]->name, &c);
        for (size_t a = 1; a < 300; a += 7)
            for (size_t b = 1; b < 300; b += 11)
                ok &= c.ops->max_payload(&c.params, a) + c.ops->max_payload(&c.params, b) <=
                      c.ops->max_payload(&c.params, a + b) + c.ops->max_payload(&c.params, 1);
    }
    free(x);
    free(out);
    free(ref);
    free(rec);
    free(rref);
    return ok;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--write-corpus") == 0)
        return write_corpus(argv[2]);
    h_report(test_spec_parse(), "codec specs: valid ones parse, bad ones are refused with a reason");
    h_report(test_param_rows(), "parameter rows: each has a doc and a default that parses");
    h_report(test_int_nearest_bound(), "int 1-8 bits, nearest: |error| <= unit/2, counts 0/1/odd");
    h_report(test_int_edges(), "int: constant buckets exact; NaN/Inf input refused; small buffer refused");
    h_report(test_int_stochastic_unbiased(), "int stochastic rounding is unbiased (5 sigma)");
    h_report(test_kth_largest(), "k-th largest key: one pass (k <= 64) and quickselect equal "
             "a sort (ties, sorted runs, k = 1 and n)");
    h_report(test_topk_exact(), "topk selects exactly the top-k set (ties: lower index)");
    h_report(test_threshold_and_randomk(), "threshold keeps |x| >= t; randomk indices shared by seed");
    h_report(test_cast(), "cast fp16 and bf16 round to nearest even, saturating at the largest finite value");
    h_report(test_hostile(), "decoders refuse truncated or corrupted payloads, stay in bounds");
    h_report(test_hostile_sparse(), "sparse decoder refuses bad indices, bitmaps, values, k");
    h_report(test_sparse_index_codings(), "sparse indices: u32, bitmap or LEB128 gaps, the smallest, round-trip");
    h_report(test_dense_header_params(), "dense codecs: header words from the parameters alone equal an encoding's, payload = max_payload");
    h_report(test_sparse_assemble(), "sparse payloads assembled from kept indices and wire-form values equal the encoder's, every index coding");
    h_report(test_qsgd(), "qsgd: unbiased, exact variance and its bound, on the grid, zero bucket");
    h_report(test_terngrad(), "terngrad: values in {-s,0,s}, unbiased without clipping, shared scale");
    h_report(test_sign(), "sign: l1 scale keeps |x|_1, error identity, sign(0)=+1, majority vote");
    h_report(test_dgc(), "dgc: stride of the reference, = topk unsampled, 1..k kept, zeros, ratio 1");
    h_report(test_hostile_quantizers(), "qsgd/terngrad/sign/dgc decoders refuse hostile payloads");
    h_report(test_dense_nonfinite(), "dense codecs refuse NaN and infinities anywhere, naming the index (vector and scalar loops)");
    h_report(test_simd_matches_scalar(), "SIMD and scalar loops write identical bytes, residuals and sums (int, cast, sign, terngrad, qsgd)");
    h_report(test_recon_forms(), "every codec's recon, decoded values or residuals, matches its decoder bit for bit");
    h_report(test_int_device_steps(), "int: the GPU encoder's steps, run on the CPU, give the CPU encoder's bytes and recon");
    h_report(test_qsgd_device_steps(), "qsgd: bucket norms and the GPU encoder's steps, run on the CPU, give the CPU encoder's bytes and recon");
    h_report(test_sign_tern_device_steps(), "sign, terngrad: fixed-order sums and the GPU encoder's steps, run on the CPU, give the CPU encoder's bytes and recon");
    h_report(test_check_matches_decode(), "int, cast, sign, terngrad, qsgd: the check without decoding accepts exactly what the decoder accepts (3000 corruptions each)");
    h_report(test_layout_segments(), "layout: dense codecs cut at tensor boundaries (int, qsgd, sign, terngrad): each part = that part alone, recon too; inside one tensor = plain; within the size bound; agreed scales per tensor; hostile segment tables refused");
    h_report(test_sparse_nonfinite(), "topk and dgc refuse NaN and infinities anywhere, naming the lowest index");
    h_report(test_ef_telescoping(), "error feedback telescoping identity over 100 steps");
    h_report(test_ef_commit_one_step(), "error feedback: new residual = p - decoded, bit for bit (sparse and dense); from the message's list the same");
    h_report(test_sparse_collect(), "sparse: the vector collect finds what a plain loop finds");
    h_report(test_ef_nonfinite_policy(), "error feedback: a NaN/Inf step is skipped, state kept");
    h_report(test_ef_checkpoint(), "error feedback checkpoints (every mode) restore bit-exactly; bad ones refused");
    h_report(test_ef21(), "EF21 and EF21-W reach the fixed point in ceil(d/k) steps, error non-increasing");
    h_report(test_dense_1d(), "dense_1d with a layout: vectors whole (DGC: with momentum SGD's "
             "velocity, unmasked), matrices k of their own; without it a vector's k is its own");
    h_report(test_dgc_state(), "DGC state: ratio 1 = momentum SGD (masking, Nesterov), conservation, clipping, warm-up");
    return h_failed ? 1 : 0;
}
