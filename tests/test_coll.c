/* test_coll.c: every collective x dtype x op, in place and out of place, at several counts,
 * on the rank counts given (default 1 2 3 4 5 8), against exactly known results. Run it
 * once per CCLZ_ALGO to cover every algorithm. */
#include "harness.h"
#include "core/reduce.h"

#include <stdint.h>

#define CANARY 0xA5
#define GUARD  64

static const size_t counts[] = {0, 1, 7, 1000, 70001};
static const char *dt_names[] = {"f32", "f16", "bf16", "f64", "i8", "u8", "i32", "i64"};
static const char *op_names[] = {"sum", "prod", "min", "max", "avg"};

/* Input of rank r at index i: small integers, so every sum and product is exact in every
 * type (products stay within 2^8, which wraps to 0 in the 8-bit types, as specified). */
static int64_t val(int r, size_t i, ccl_redop_t op, ccl_datatype_t dt)
{
    if (op == CCL_PROD)
        return ((size_t)r + i) % 3 == 0 ? 2 : 1;
    int64_t v = (int64_t)((r * 7 + (int64_t)(i % 1009) * 3) % 11);
    return dt == CCL_UINT8 ? v : v - 5;
}

static void put(void *buf, size_t i, ccl_datatype_t dt, int64_t v)
{
    switch (dt) {
    case CCL_FLOAT32: ((float *)buf)[i] = (float)v; break;
    case CCL_FLOAT64: ((double *)buf)[i] = (double)v; break;
    case CCL_FLOAT16: ((uint16_t *)buf)[i] = ccl_float_to_half((float)v); break;
    case CCL_BFLOAT16: ((uint16_t *)buf)[i] = ccl_float_to_bf16((float)v); break;
    case CCL_INT8: ((int8_t *)buf)[i] = (int8_t)(uint8_t)v; break;
    case CCL_UINT8: ((uint8_t *)buf)[i] = (uint8_t)v; break;
    case CCL_INT32: ((int32_t *)buf)[i] = (int32_t)v; break;
    case CCL_INT64: ((int64_t *)buf)[i] = v; break;
    default: break;
    }
}

/* The exact reduction over ranks of val(q, i), written in dt's representation. */
static void put_expected(void *buf, size_t slot, size_t i, int p, ccl_datatype_t dt,
                         ccl_redop_t op)
{
    int64_t acc = val(0, i, op, dt);
    for (int q = 1; q < p; q++) {
        int64_t v = val(q, i, op, dt);
        switch (op) {
        case CCL_PROD: acc *= v; break;
        case CCL_MIN: acc = v < acc ? v : acc; break;
        case CCL_MAX: acc = v > acc ? v : acc; break;
        default: acc += v; break;
        }
    }
    if (op != CCL_AVG) {
        put(buf, slot, dt, acc);
        return;
    }
    switch (dt) {
    case CCL_FLOAT32: ((float *)buf)[slot] = (float)acc / (float)p; break;
    case CCL_FLOAT64: ((double *)buf)[slot] = (double)acc / (double)p; break;
    case CCL_FLOAT16: ((uint16_t *)buf)[slot] = ccl_float_to_half((float)acc / (float)p); break;
    case CCL_BFLOAT16: ((uint16_t *)buf)[slot] = ccl_float_to_bf16((float)acc / (float)p); break;
    default: put(buf, slot, dt, acc / p); break;
    }
}

/* Buffer with a guard zone after its end that must stay untouched. */
static uint8_t *gbuf(size_t bytes)
{
    uint8_t *b = malloc(bytes + GUARD);
    memset(b, 0x5a, bytes);
    memset(b + bytes, CANARY, GUARD);
    return b;
}
static int guard_ok(const uint8_t *b, size_t bytes)
{
    for (size_t i = 0; i < GUARD; i++)
        if (b[bytes + i] != CANARY)
            return 0;
    return 1;
}

typedef struct {
    int rank, p, verbose;
} tctx_t;

static int check(const tctx_t *t, const char *what, ccl_result_t res, const uint8_t *got,
                 const uint8_t *exp, size_t bytes, const uint8_t *guarded, size_t gbytes,
                 ccl_comm_t comm)
{
    if (res != CCL_SUCCESS) {
        fprintf(stderr, "rank %d: %s returned %d: %s\n", t->rank, what, res,
                ccl_get_last_error(comm));
        return 1;
    }
    if (bytes && memcmp(got, exp, bytes) != 0) {
        size_t k = 0;
        while (got[k] == exp[k])
            k++;
        fprintf(stderr, "rank %d: %s wrong result (first differing byte %zu)\n", t->rank, what, k);
        return 1;
    }
    if (!guard_ok(guarded, gbytes)) {
        fprintf(stderr, "rank %d: %s wrote past the end of its buffer\n", t->rank, what);
        return 1;
    }
    return 0;
}

static int t_allreduce(const tctx_t *t, ccl_comm_t comm, ccl_datatype_t dt, ccl_redop_t op,
                       size_t n, int inplace)
{
    size_t dts = ccl_datatype_size(dt), bytes = n * dts;
    uint8_t *in = gbuf(bytes), *out = inplace ? in : gbuf(bytes), *exp = malloc(bytes + 1);
    char what[96];
    for (size_t i = 0; i < n; i++) {
        put(in, i, dt, val(t->rank, i, op, dt));
        put_expected(exp, i, i, t->p, dt, op);
    }
    snprintf(what, sizeof(what), "allreduce %s %s n=%zu %s", dt_names[dt], op_names[op], n,
             inplace ? "in-place" : "out-of-place");
    int bad = check(t, what, inplace ? ccl_allreduce(in, out, n, dt, op, comm)
                                     : ccl_allreduce_stream(in, out, n, dt, op, comm, NULL), out, exp, bytes, out,
                    bytes, comm);
    if (!inplace) {
        free(out);
    }
    free(in);
    free(exp);
    return bad;
}

static int t_reduce_scatter(const tctx_t *t, ccl_comm_t comm, ccl_datatype_t dt,
                            ccl_redop_t op, size_t n, int inplace)
{
    size_t dts = ccl_datatype_size(dt), bytes = n * dts, total = bytes * (size_t)t->p;
    uint8_t *in = gbuf(total), *exp = malloc(bytes + 1);
    uint8_t *out = inplace ? in + (size_t)t->rank * bytes : gbuf(bytes);
    char what[96];
    for (size_t i = 0; i < n * (size_t)t->p; i++)
        put(in, i, dt, val(t->rank, i, op, dt));
    for (size_t i = 0; i < n; i++)
        put_expected(exp, i, (size_t)t->rank * n + i, t->p, dt, op);
    snprintf(what, sizeof(what), "reduce_scatter %s %s n=%zu %s", dt_names[dt], op_names[op],
             n, inplace ? "in-place" : "out-of-place");
    int bad = check(t, what, inplace ? ccl_reduce_scatter(in, out, n, dt, op, comm)
                                     : ccl_reduce_scatter_stream(in, out, n, dt, op, comm, NULL), out, exp, bytes,
                    inplace ? in : out, inplace ? total : bytes, comm);
    if (!inplace)
        free(out);
    free(in);
    free(exp);
    return bad;
}

static int t_allgather(const tctx_t *t, ccl_comm_t comm, ccl_datatype_t dt, size_t n,
                       int inplace)
{
    size_t dts = ccl_datatype_size(dt), bytes = n * dts, total = bytes * (size_t)t->p;
    uint8_t *out = gbuf(total), *exp = malloc(total + 1);
    uint8_t *in = inplace ? out + (size_t)t->rank * bytes : gbuf(bytes);
    char what[96];
    for (size_t i = 0; i < n; i++)
        put(in, i, dt, val(t->rank, i, CCL_SUM, dt));
    for (int q = 0; q < t->p; q++)
        for (size_t i = 0; i < n; i++)
            put(exp, (size_t)q * n + i, dt, val(q, i, CCL_SUM, dt));
    snprintf(what, sizeof(what), "allgather %s n=%zu %s", dt_names[dt], n,
             inplace ? "in-place" : "out-of-place");
    int bad = check(t, what, inplace ? ccl_allgather(in, out, n, dt, comm)
                                     : ccl_allgather_stream(in, out, n, dt, comm, NULL), out, exp, total, out, total,
                    comm);
    if (!inplace)
        free(in);
    free(out);
    free(exp);
    return bad;
}

static int t_broadcast(const tctx_t *t, ccl_comm_t comm, ccl_datatype_t dt, size_t n,
                       int root, int inplace)
{
    size_t dts = ccl_datatype_size(dt), bytes = n * dts;
    uint8_t *out = gbuf(bytes), *exp = malloc(bytes + 1);
    uint8_t *in = inplace ? out : gbuf(bytes);
    char what[96];
    for (size_t i = 0; i < n; i++) {
        if (t->rank == root)
            put(in, i, dt, val(root, i, CCL_SUM, dt));
        put(exp, i, dt, val(root, i, CCL_SUM, dt));
    }
    snprintf(what, sizeof(what), "broadcast %s n=%zu root=%d %s", dt_names[dt], n, root,
             inplace ? "in-place" : "out-of-place");
    int bad = check(t, what, inplace ? ccl_broadcast(in, out, n, dt, root, comm)
                                     : ccl_broadcast_stream(in, out, n, dt, root, comm, NULL), out, exp, bytes, out,
                    bytes, comm);
    if (!inplace)
        free(in);
    free(out);
    free(exp);
    return bad;
}

/* Exit code: one bit per collective that failed anywhere, 64 for init. Out-of-place calls
 * go through the *_stream entry points (host buffers, no stream), in-place ones through
 * the plain calls. */
static int rank_main(int rank, int p, ccl_unique_id_t id, const char *arg)
{
    tctx_t t = {rank, p, 0};
    ccl_comm_t comm;
    int fails = 0;
    (void)arg;
    if (ccl_comm_init_rank(&comm, p, id, rank) != CCL_SUCCESS) {
        fprintf(stderr, "rank %d: init failed: %s\n", rank, ccl_get_last_error(NULL));
        return 64;
    }
    for (size_t ci = 0; ci < sizeof(counts) / sizeof(counts[0]); ci++) {
        size_t n = counts[ci];
        for (int dt = 0; dt < CCL_NUM_DATATYPES; dt++) {
            for (int inplace = 0; inplace < 2; inplace++) {
                for (int op = 0; op < CCL_NUM_OPS; op++) {
                    if (t_allreduce(&t, comm, dt, op, n, inplace))
                        fails |= 1;
                    if (t_reduce_scatter(&t, comm, dt, op, n / 4 + (n > 0), inplace))
                        fails |= 4;
                }
                if (t_allgather(&t, comm, dt, n / 4 + (n > 0), inplace))
                    fails |= 2;
                if (t_broadcast(&t, comm, dt, n, (int)(ci % (size_t)p), inplace))
                    fails |= 8;
            }
        }
    }
    if (ccl_barrier(comm) != CCL_SUCCESS)
        fails |= 16;
    ccl_comm_destroy(comm);
    return fails;
}

int main(int argc, char **argv)
{
    static const int dflt[] = {1, 2, 3, 4, 5, 8};
    static const char *colls[] = {"allreduce", "allgather", "reduce_scatter", "broadcast",
                                  "barrier"};
    const char *algo = getenv("CCLZ_ALGO");
    h_init(argc, argv, rank_main);
    int nsizes = argc > 1 ? argc - 1 : (int)(sizeof(dflt) / sizeof(dflt[0]));
    for (int s = 0; s < nsizes; s++) {
        int p = argc > 1 ? atoi(argv[s + 1]) : dflt[s], codes[64], all = 0;
        h_spawn(p, NULL, 600, codes);
        for (int r = 0; r < p; r++)
            all |= codes[r];
        for (int c = 0; c < 5; c++)
            h_report(!(all & (1 << c)) && !(all & (64 | 128 | 192)), "%s ranks=%d algo=%s",
                     colls[c], p, algo && *algo ? algo : "auto");
    }
    return h_failed ? 1 : 0;
}
