/* test_unit.c: single-process checks: half-precision conversions, reduction kernels, size
 * parsing, segment and tree arithmetic, unique ids, argument checks before a communicator. */
#include "harness.h"
#include "collectives/patterns/patterns.h"
#include "collectives/patterns/sparse_vec.h"
#include "compress/wire.h"
#include "collectives/compressed/compressor.h"
#include "base/env_config.h"
#include "core/reduce.h"

#include <math.h>

static int test_half_roundtrip(void)
{
    /* Every half except NaNs survives half -> float -> half unchanged. */
    for (uint32_t h = 0; h < 65536; h++) {
        float f = ccl_half_to_float((uint16_t)h);
        if (isnan(f)) {
            if (!isnan(ccl_half_to_float(ccl_float_to_half(f))))
                return 0;
            continue;
        }
        if (ccl_float_to_half(f) != h)
            return 0;
    }
    return 1;
}

static int test_half_rounding(void)
{
    /* 1 + 2^-11 is halfway between 1 and 1+2^-10: ties go to even (1.0). */
    if (ccl_float_to_half(1.0f + ldexpf(1, -11)) != 0x3c00)
        return 0;
    /* 1 + 3*2^-11 is halfway between 1+2^-10 (odd) and 1+2^-9: rounds up to even. */
    if (ccl_float_to_half(1.0f + 3 * ldexpf(1, -11)) != 0x3c02)
        return 0;
    if (ccl_float_to_half(65504.0f) != 0x7bff || ccl_float_to_half(65520.0f) != 0x7c00)
        return 0;
    if (ccl_float_to_half(ldexpf(1, -24)) != 0x0001 || ccl_float_to_half(ldexpf(1, -26)) != 0)
        return 0;
    if (ccl_float_to_half(-INFINITY) != 0xfc00 || !isnan(ccl_half_to_float(ccl_float_to_half(NAN))))
        return 0;
    return 1;
}

static int test_bf16(void)
{
    for (uint32_t h = 0; h < 65536; h++) {
        float f = ccl_bf16_to_float((uint16_t)h);
        if (!isnan(f) && ccl_float_to_bf16(f) != h)
            return 0;
    }
    /* 1 + 2^-8 is halfway between 1 and the next bf16: to even. */
    return ccl_float_to_bf16(1.0f + ldexpf(1, -8)) == 0x3f80 &&
           ccl_float_to_bf16(1.0f + 3 * ldexpf(1, -8)) == 0x3f82 &&
           isnan(ccl_bf16_to_float(ccl_float_to_bf16(NAN)));
}

static int test_reduce_kernels(void)
{
    enum { N = 1031 }; /* not a multiple of any vector width */
    float a[N], b[N], d[N];
    int32_t ia[N], ib[N], id[N];
    int8_t ca[N], cb[N], cd[N];
    for (int i = 0; i < N; i++) {
        a[i] = (float)(i % 13) - 6.5f;
        b[i] = (float)(i % 7) * 0.25f;
        ia[i] = i * 1000003;
        ib[i] = INT32_MAX - i;
        ca[i] = (int8_t)(i * 37);
        cb[i] = (int8_t)(i * 11);
    }
    ccl_reduce(d, a, b, N, CCL_FLOAT32, CCL_SUM);
    for (int i = 0; i < N; i++)
        if (d[i] != a[i] + b[i])
            return 0;
    ccl_reduce(d, a, b, N, CCL_FLOAT32, CCL_MAX);
    for (int i = 0; i < N; i++)
        if (d[i] != (a[i] > b[i] ? a[i] : b[i]))
            return 0;
    /* Integer sums wrap instead of being undefined. */
    ccl_reduce(id, ia, ib, N, CCL_INT32, CCL_SUM);
    for (int i = 0; i < N; i++)
        if (id[i] != (int32_t)((uint32_t)ia[i] + (uint32_t)ib[i]))
            return 0;
    ccl_reduce(cd, ca, cb, N, CCL_INT8, CCL_PROD);
    for (int i = 0; i < N; i++)
        if (cd[i] != (int8_t)(uint8_t)((unsigned)(uint8_t)ca[i] * (unsigned)(uint8_t)cb[i]))
            return 0;
    ccl_reduce(cd, ca, cb, N, CCL_INT8, CCL_MIN);
    for (int i = 0; i < N; i++)
        if (cd[i] != (ca[i] < cb[i] ? ca[i] : cb[i]))
            return 0;
    /* In place (dst == a). */
    memcpy(d, a, sizeof(a));
    ccl_reduce(d, d, b, N, CCL_FLOAT32, CCL_PROD);
    for (int i = 0; i < N; i++)
        if (d[i] != a[i] * b[i])
            return 0;
    return 1;
}

static int test_nan_minmax(void)
{
    float a[3] = {NAN, 1, 2}, b[3] = {0, NAN, 1}, d[3];
    double da[2] = {NAN, -1}, db[2] = {5, NAN}, dd[2];
    ccl_reduce(d, a, b, 3, CCL_FLOAT32, CCL_MIN);
    if (!isnan(d[0]) || !isnan(d[1]) || d[2] != 1)
        return 0;
    ccl_reduce(dd, da, db, 2, CCL_FLOAT64, CCL_MAX);
    return isnan(dd[0]) && isnan(dd[1]);
}

static int test_half_sum(void)
{
    uint16_t a[300], b[300], d[300];
    for (int i = 0; i < 300; i++) {
        a[i] = ccl_float_to_half((float)i);
        b[i] = ccl_float_to_half(0.5f);
    }
    ccl_reduce(d, a, b, 300, CCL_FLOAT16, CCL_SUM);
    for (int i = 0; i < 300; i++)
        if (d[i] != ccl_float_to_half((float)i + 0.5f))
            return 0;
    ccl_reduce_scale_avg(d, 300, CCL_FLOAT16, 2);
    return d[3] == ccl_float_to_half(1.75f);
}

static int test_avg_int(void)
{
    int32_t v[4] = {7, -7, 8, 0};
    ccl_reduce_scale_avg(v, 4, CCL_INT32, 2);
    return v[0] == 3 && v[1] == -3 && v[2] == 4 && v[3] == 0;
}

static int test_parse_size(void)
{
    size_t v;
    return ccl_parse_size("512K", &v) == 0 && v == 512 * 1024 &&
           ccl_parse_size("2M", &v) == 0 && v == 2u << 20 &&
           ccl_parse_size("7", &v) == 0 && v == 7 && ccl_parse_size("1GB", &v) == 0 &&
           v == 1u << 30 && ccl_parse_size("-1", &v) != 0 && ccl_parse_size("x", &v) != 0 &&
           ccl_parse_size("12Q", &v) != 0 && ccl_parse_size("", &v) != 0;
}

static int test_segments(void)
{
    for (size_t count = 0; count < 50; count++)
        for (int n = 1; n <= 9; n++) {
            size_t off = 0;
            for (int s = 0; s < n; s++) {
                if (ccl_seg_off(count, n, s) != off)
                    return 0;
                off += ccl_seg_len(count, n, s);
            }
            if (off != count)
                return 0;
        }
    return 1;
}

static int test_binomial(void)
{
    for (int n = 1; n <= 17; n++)
        for (int root = 0; root < n; root++) {
            int parents[17], nparent_refs[17] = {0};
            for (int r = 0; r < n; r++) {
                int kids[32], k = ccl_binomial_tree(r, root, n, &parents[r], kids);
                for (int i = 0; i < k; i++)
                    nparent_refs[kids[i]]++;
            }
            for (int r = 0; r < n; r++) {
                if ((r == root) != (parents[r] < 0))
                    return 0;
                if (nparent_refs[r] != (r == root ? 0 : 1))
                    return 0;
                /* The child lists agree with the parents. */
                if (r != root) {
                    int kids[32], k = ccl_binomial_tree(parents[r], root, n, &(int){0}, kids), seen = 0;
                    for (int i = 0; i < k; i++)
                        seen |= kids[i] == r;
                    if (!seen)
                        return 0;
                }
            }
        }
    return 1;
}

static int test_rd_ranks(void)
{
    for (int p = 1; p <= 20; p++) {
        int pof2 = ccl_pow2_floor(p), rem = p - pof2, seen[32] = {0};
        for (int r = 0; r < p; r++) {
            int nr = ccl_rd_newrank(r, rem);
            if (nr >= 0) {
                if (nr >= pof2 || ccl_rd_oldrank(nr, rem) != r)
                    return 0;
                seen[nr]++;
            }
        }
        for (int i = 0; i < pof2; i++)
            if (seen[i] != 1)
                return 0;
    }
    return 1;
}

static int test_unique_id(void)
{
    ccl_unique_id_t id, back;
    char s[CCL_UNIQUE_ID_STRLEN], bad[CCL_UNIQUE_ID_STRLEN];
    if (ccl_get_unique_id(&id) != CCL_SUCCESS)
        return 0;
    if (ccl_unique_id_to_string(&id, s, sizeof(s)) != CCL_SUCCESS ||
        ccl_unique_id_from_string(s, &back) != CCL_SUCCESS ||
        memcmp(&id, &back, sizeof(id)) != 0)
        return 0;
    memcpy(bad, s, sizeof(bad));
    bad[5] = 'z';
    if (ccl_unique_id_from_string(bad, &back) != CCL_ERR_INVALID_ARG ||
        ccl_unique_id_from_string("abc", &back) != CCL_ERR_INVALID_ARG ||
        ccl_unique_id_to_string(&id, s, 10) != CCL_ERR_INVALID_ARG)
        return 0;
    /* Two ids never share a secret. */
    ccl_unique_id_t id2;
    ccl_get_unique_id(&id2);
    return memcmp(&id, &id2, sizeof(id)) != 0;
}

static int test_init_args(void)
{
    ccl_comm_t comm;
    ccl_unique_id_t id;
    memset(&id, 0, sizeof(id));
    if (ccl_comm_init_rank(&comm, 2, id, 0) != CCL_ERR_INVALID_ARG) /* not from get_unique_id */
        return 0;
    ccl_get_unique_id(&id);
    if (ccl_comm_init_rank(&comm, 0, id, 0) != CCL_ERR_INVALID_ARG ||
        ccl_comm_init_rank(&comm, 2, id, 2) != CCL_ERR_INVALID_ARG ||
        ccl_comm_init_rank(&comm, 2, id, -1) != CCL_ERR_INVALID_ARG ||
        ccl_comm_init_rank(NULL, 2, id, 0) != CCL_ERR_INVALID_ARG)
        return 0;
    return strlen(ccl_get_last_error(NULL)) > 0;
}

static int test_env_missing(void)
{
    ccl_comm_t comm;
    static const char *vars[] = {"CCLZ_RANK", "CCLZ_NRANKS", "RANK", "WORLD_SIZE",
                                 "OMPI_COMM_WORLD_RANK", "SLURM_PROCID"};
    for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
        unsetenv(vars[i]);
    if (ccl_comm_init_from_env(&comm) != CCL_ERR_INVALID_ARG ||
        strstr(ccl_get_last_error(NULL), "launcher") == NULL)
        return 0;
    setenv("CCLZ_RANK", "0", 1);
    setenv("CCLZ_NRANKS", "2", 1);
    int ok = ccl_comm_init_from_env(&comm) == CCL_ERR_INVALID_ARG &&
             strstr(ccl_get_last_error(NULL), "CCLZ_ROOT") != NULL;
    unsetenv("CCLZ_RANK");
    unsetenv("CCLZ_NRANKS");
    return ok;
}

static int test_error_strings(void)
{
    for (int r = CCL_ERR_INVALID_PAYLOAD; r <= 0; r++)
        if (strlen(ccl_get_error_string((ccl_result_t)r)) == 0 ||
            strcmp(ccl_get_error_string((ccl_result_t)r), "unknown result code") == 0)
            return 0;
    int v = 0;
    return ccl_get_version(&v) == CCL_SUCCESS && v == 100 && ccl_datatype_size(CCL_BFLOAT16) == 2 &&
           ccl_datatype_size((ccl_datatype_t)42) == 0;
}

static int test_selection(void)
{
    /* Tiny messages go to the one-shot exchange where ranks are few, to recursive doubling
     * where they are many; large ones to the ring. */
    ccl_coll_args_t tiny = {.coll = CCL_COLL_ALLREDUCE, .count = 2, .dtype = CCL_FLOAT32,
                            .op = CCL_SUM, .dt_size = 4},
                    small = tiny, large = tiny;
    small.count = 1024;
    large.count = 1 << 24;
#define SEL(a, n) ccl_algo_select(&(a), CCL_CARRY_EXACT, &ccl_tuning_default, n, NULL)->name
    return strcmp(SEL(tiny, 4), "direct") == 0 && strcmp(SEL(tiny, 3), "direct") == 0 &&
           strcmp(SEL(tiny, 16), "rec_doubling") == 0 &&
           strcmp(SEL(small, 4), "rec_doubling") == 0 && strcmp(SEL(large, 4), "ring") == 0 &&
           strcmp(SEL(large, 3), "ring") == 0;
#undef SEL
}

/* One registry serves exact and compressed calls: every algorithm is found by its name and
 * what it carries, a name shared by an exact and a compressed algorithm resolves by what the
 * call carries, and the one selector makes the compressed defaults. */
static int test_registry(void)
{
    const ccl_tuning_t *t = &ccl_tuning_default;
    ccl_codec_t int8, topk, vote;
    int ok = ccl_codec_parse("int:bits=8", &int8) == CCL_SUCCESS &&
             ccl_codec_parse("topk:ratio=0.01", &topk) == CCL_SUCCESS &&
             ccl_codec_parse("sign:scale=none", &vote) == CCL_SUCCESS;
    for (int c = 0; ok && c < CCL_NUM_COLLS; c++) {
        const ccl_algo_t *const *tab = ccl_algo_table((ccl_coll_t)c);
        for (int i = 0; ok && tab[i] != NULL; i++)
            ok = tab[i]->coll == (ccl_coll_t)c && tab[i]->carries != 0 &&
                 ccl_algo_find((ccl_coll_t)c, tab[i]->name, tab[i]->carries) == tab[i] &&
                 (tab[i]->default_for & ~tab[i]->carries) == 0;
    }
    const ccl_algo_t *exact_ring = ccl_algo_find(CCL_COLL_ALLREDUCE, "ring", CCL_CARRY_EXACT),
                     *quant_ring = ccl_algo_find(CCL_COLL_ALLREDUCE, "ring", CCL_CARRY_DENSE);
#define DFLT(codec, n, P) \
    ccl_comp_select_algo(CCL_COLL_ALLREDUCE, &(codec), n, t, P, NULL)->name
    return ok && exact_ring != NULL && quant_ring != NULL && exact_ring != quant_ring &&
           ccl_algo_find(CCL_COLL_ALLREDUCE, "sign_vote", CCL_CARRY_DENSE) == NULL &&
           ccl_algo_find(CCL_COLL_ALLREDUCE, "powersgd", CCL_CARRY_DENSE) == NULL &&
           strcmp(DFLT(int8, 256, 4), "tree") == 0 && strcmp(DFLT(int8, 1 << 24, 4), "sra") == 0 &&
           strcmp(DFLT(topk, 1 << 24, 4), "sparse_allgather") == 0 &&
           strcmp(DFLT(vote, 1 << 24, 4), "sign_vote") == 0 &&
           strcmp(ccl_comp_select_algo(CCL_COLL_ALLGATHER, &topk, 100, t, 4, NULL)->name,
                  "direct") == 0;
#undef DFLT
}

/* With a hierarchy (hosts of 2 ranks, links as measured on the emulated 1 Gbit/s hosts) the
 * cost model picks hier for large exact and int8 calls, flat for tiny ones, and never for
 * sparse codecs; without one, never. flat sra's estimate counts the host's link shared by
 * its ranks (it picked sra on 4 x 2, which took 1.5x hier's time). */
static int test_hier_selection(void)
{
    ccl_tuning_t t = ccl_tuning_default;
    t.hier_local = 2;
    t.beta_local_us_per_byte = 1e-3;  /* 1 GB/s */
    t.beta_us_per_byte = 9e-3;        /* 0.11 GB/s */
    ccl_codec_t int8, topk;
    int ok = ccl_codec_parse("int:bits=8", &int8) == CCL_SUCCESS &&
             ccl_codec_parse("topk:ratio=0.01", &topk) == CCL_SUCCESS;
    ccl_coll_args_t big = {.coll = CCL_COLL_ALLREDUCE, .count = 25000000, .dtype = CCL_FLOAT32,
                           .op = CCL_SUM, .dt_size = 4},
                    tiny = big;
    tiny.count = 2;
#define COMP(codec, n, P) ccl_comp_select_algo(CCL_COLL_ALLREDUCE, &(codec), n, &t, P, NULL)->name
#define EXACT(a, P) ccl_algo_select(&(a), CCL_CARRY_EXACT, &t, P, NULL)->name
    for (int hosts = 2; ok && hosts <= 4; hosts += 2) {
        const int P = 2 * hosts;
        t.hier_hosts = hosts;
        ok = strcmp(COMP(int8, 25000000, P), "hier") == 0 && strcmp(EXACT(big, P), "hier") == 0 &&
             strcmp(EXACT(tiny, P), "hier") != 0 &&
             strcmp(COMP(topk, 25000000, P), "sparse_hier") == 0;
        if (!ok)
            fprintf(stderr, "%d hosts: int8 %s, exact %s / %s, topk %s\n", hosts,
                    COMP(int8, 25000000, P), EXACT(big, P), EXACT(tiny, P),
                    COMP(topk, 25000000, P));
    }
    t.hier_hosts = 0;
    ok &= strcmp(COMP(int8, 25000000, 4), "sra") == 0 && strcmp(EXACT(big, 4), "ring") == 0 &&
          strcmp(COMP(topk, 25000000, 4), "sparse_allgather") == 0;
#undef COMP
#undef EXACT
    return ok;
}

static int test_setting_rows(void)
{
    ccl_config_t scratch;
    memset(&scratch, 0, sizeof(scratch));
    for (const ccl_param_field_t *r = ccl_config_table(); r->name != NULL; r++)
        if (r->doc == NULL || r->doc[0] == '\0' || r->dflt == NULL ||
            ccl_param_parse(r, &scratch, r->dflt) != 0) {
            fprintf(stderr, "CCLZ_%s: no doc, or its default does not parse\n", r->name);
            return 0;
        }
    /* The defaults land in their fields. */
    return scratch.timeout_s == 30 && scratch.chunk_size == 512 * 1024 &&
           scratch.small_msg_size == 8192 && scratch.gpu_encode == 1 &&
           strcmp(scratch.log_level, "warn") == 0;
}

/* The sparse reductions' messages (patterns/sparse_vec.c): a sum of two vectors is exact and
 * the same in either order and form; hostile messages are refused and change nothing. */
static int test_sparse_vec(void)
{
    enum { C = 40 };
    float da[C], db[C], ref[C];
    uint8_t msg[12 + 4 * C];
    int ok = 1;
    for (int form = 0; form < 4; form++) {
        /* a: even indices, b: multiples of 3, either sparse or dense */
        ccl_svec_t a, b;
        ccl_svec_init(&a, C, da);
        ccl_svec_init(&b, C, db);
        uint32_t *ai = malloc(C * 4), *bi = malloc(C * 4);
        float *av = malloc(C * 4), *bv = malloc(C * 4);
        size_t an = 0, bn = 0;
        for (uint32_t i = 0; i < C; i++) {
            if (i % 2 == 0) { ai[an] = i; av[an++] = (float)i * 0.25f - 3; }
            if (i % 3 == 0) { bi[bn] = i; bv[bn++] = i == 0 ? -0.0f : (float)i * -0.5f + 1; }
        }
        ccl_svec_adopt(&a, ai, av, an);
        ccl_svec_adopt(&b, bi, bv, bn);
        if (form & 1)
            ccl_svec_densify(&a);
        if (form & 2)
            ccl_svec_densify(&b);
        size_t alen = ccl_svec_write(&a, msg);
        uint8_t amsg[sizeof(msg)];
        memcpy(amsg, msg, alen);
        size_t blen = ccl_svec_write(&b, msg);
        ok &= ccl_svec_add_msg(NULL, 0, &a, msg, blen) == CCL_SUCCESS;   /* a + b */
        ok &= ccl_svec_add_msg(NULL, 0, &b, amsg, alen) == CCL_SUCCESS;  /* b + a */
        ccl_svec_densify(&a);
        ccl_svec_densify(&b);
        for (int i = 0; i < C; i++) {
            float want = (i % 2 == 0 ? (float)i * 0.25f - 3 : 0) + (i % 3 == 0 ? (i == 0 ? 0.0f : (float)i * -0.5f + 1) : 0);
            ok &= da[i] == want && memcmp(&da[i], &db[i], 4) == 0 && !signbit(da[i] == 0 ? da[i] : 1);
        }
        if (form == 0)
            memcpy(ref, da, sizeof(ref));
        ok &= memcmp(ref, da, sizeof(ref)) == 0;
        ccl_svec_free(&a);
        ccl_svec_free(&b);
    }
    /* Hostile: each refused, the running sum unchanged. */
    uint32_t idx[3] = {1, 7, 9};
    float val[3] = {1, 2, 3};
    size_t good = ccl_svec_write_range(idx, val, 3, 0, C, msg), dlen;
    struct { size_t off; uint32_t v; size_t len; } bad[] = {
        {0, 3, 0}, {0, 0, 0}, {4, C + 1, 0}, {4, 4, 0}, {8, 1, 0}, {8, 16, 0},
        /* delta coding: three values from byte 12, then the gaps 1, 5, 1 */
        {12, 0x7fc00000u, 0}, {16, 0x7f800000u, 0}, {24, 0x7f, 0}, {24, 0x80808080u, 0},
        {0, 1, 5}, {0, 1, 11}, {0, 1, 26}, {0, 1, 28},
    };
    for (size_t t = 0; t < sizeof(bad) / sizeof(bad[0]); t++) {
        uint8_t m[sizeof(msg)];
        memcpy(m, msg, good);
        ccl_put_u32(m + bad[t].off, bad[t].v);
        ccl_svec_t v;
        ccl_svec_init(&v, C, da);
        uint32_t *vi = malloc(4);
        float *vv = malloc(4);
        vi[0] = 2;
        vv[0] = 5;
        ccl_svec_adopt(&v, vi, vv, 1);
        int r = ccl_svec_add_msg(NULL, 3, &v, m, bad[t].len ? bad[t].len : good);
        if (r != CCL_ERR_INVALID_PAYLOAD || v.is_dense || v.n != 1 || v.idx[0] != 2 || v.val[0] != 5) {
            fprintf(stderr, "sparse message case %zu: %d\n", t, r);
            ok = 0;
        }
        ccl_svec_free(&v);
    }
    /* A dense message with a NaN, and one of the wrong length. */
    float x[C] = {0};
    x[5] = NAN;
    ccl_svec_t d;
    ccl_svec_init(&d, C, x);
    d.is_dense = 1;
    dlen = ccl_svec_write(&d, msg);
    ccl_svec_init(&d, C, da);
    memset(da, 0, sizeof(da));
    d.is_dense = 1;
    ok &= ccl_svec_add_msg(NULL, 3, &d, msg, dlen) == CCL_ERR_INVALID_PAYLOAD && da[0] == 0;
    ok &= ccl_svec_add_msg(NULL, 3, &d, msg, dlen - 4) == CCL_ERR_INVALID_PAYLOAD;
    return ok;
}

int main(void)
{
    h_report(test_half_roundtrip(), "fp16 round trip of every half value");
    h_report(test_half_rounding(), "fp16 round to nearest even, overflow, subnormals");
    h_report(test_bf16(), "bf16 round trip and rounding");
    h_report(test_reduce_kernels(), "reduction kernels match scalar reference (wrapping ints)");
    h_report(test_nan_minmax(), "min/max propagate NaN");
    h_report(test_half_sum(), "fp16 sum and average");
    h_report(test_avg_int(), "integer average truncates toward zero");
    h_report(test_parse_size(), "size settings parse with suffixes and reject junk");
    h_report(test_hier_selection(), "cost model: hier for large exact and int8 calls on hosts "
             "of 2 ranks (2 and 4 hosts), flat for tiny, sparse_hier for sparse, never without a "
             "hierarchy");
    h_report(test_setting_rows(),
             "CCLZ_* rows: each has a doc and a default that parses into its field");
    h_report(test_segments(), "ring segments tile the buffer");
    h_report(test_binomial(), "binomial tree: one parent each, children agree");
    h_report(test_rd_ranks(), "recursive doubling folds any rank count onto a power of two");
    h_report(test_unique_id(), "unique id string round trip; malformed strings refused");
    h_report(test_init_args(), "ccl_comm_init_rank rejects bad ranks and foreign ids");
    h_report(test_env_missing(), "ccl_comm_init_from_env explains a missing launcher");
    h_report(test_error_strings(), "every result code has a message; version; dtype sizes");
    h_report(test_selection(), "cost model: tiny allreduce one-shot (few ranks), small by recursive doubling, large by ring");
    h_report(test_registry(), "one algorithm registry: each found by name and carries; compressed defaults from the one selector");
    h_report(test_sparse_vec(), "sparse sums: exact, same bits in either order and form, no -0; "
             "hostile messages refused, sum unchanged");
    return h_failed ? 1 : 0;
}
