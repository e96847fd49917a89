/* sparse_vec.c: sparse-or-dense vectors, their messages and their exact sum (sparse_vec.h).
 *
 * Message: u32 kind, then for kind 1 (sparse) u32 k, u32 index-coding flags and the sparse
 * codecs' payload with float32 values (docs/wire-format.md); for kind 2 (dense) count
 * float32. Little-endian. */
#include "collectives/patterns/sparse_vec.h"
#include "compress/sparse.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MSG_SPARSE 1u
#define MSG_DENSE  2u
#define MSG_HDR    12u

void ccl_svec_init(ccl_svec_t *v, size_t count, float *dense)
{
    memset(v, 0, sizeof(*v));
    v->count = count;
    v->dense = dense;
}

void ccl_svec_free(ccl_svec_t *v)
{
    free(v->idx);
    free(v->val);
    v->idx = NULL;
    v->val = NULL;
    v->n = 0;
}

void ccl_svec_adopt(ccl_svec_t *v, uint32_t *idx, float *val, size_t n)
{
    ccl_svec_free(v);
    v->is_dense = 0;
    v->idx = idx;
    v->val = val;
    v->n = n;
    for (size_t j = 0; j < n; j++)
        val[j] += 0.0f; /* -0 becomes +0 */
}

static int dense_cheaper(size_t n, size_t count) { return 2 * n >= count && count > 0; }

int ccl_svec_wants_dense(const ccl_svec_t *v) { return v->is_dense || dense_cheaper(v->n, v->count); }

size_t ccl_svec_msg_cap(size_t count) { return MSG_HDR + 4 * count; }

/* Sparse (under count / 2 entries): at most 4 bytes of index and 4 of value each; dense
 * otherwise, and then 4 count <= 8 n. */
size_t ccl_svec_range_bound(size_t n, size_t count) { return MSG_HDR + 4 * CCL_MIN(2 * n, count); }

void ccl_svec_densify(ccl_svec_t *v)
{
    if (v->is_dense)
        return;
    memset(v->dense, 0, v->count * sizeof(float));
    for (size_t j = 0; j < v->n; j++)
        v->dense[v->idx[j]] = v->val[j];
    ccl_svec_free(v);
    v->is_dense = 1;
}

static size_t write_dense(const float *x, size_t count, uint8_t *buf)
{
    ccl_put_u32(buf, MSG_DENSE);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    memcpy(buf + 4, x, count * sizeof(float));
#else
    for (size_t i = 0; i < count; i++)
        ccl_put_f32(buf + 4 + 4 * i, x[i]);
#endif
    return 4 + 4 * count;
}

size_t ccl_svec_write_range(const uint32_t *idx, const float *val, size_t n, uint32_t base,
                            size_t count, uint8_t *buf)
{
    if (dense_cheaper(n, count)) {
        ccl_put_u32(buf, MSG_DENSE);
        memset(buf + 4, 0, 4 * count);
        for (size_t j = 0; j < n; j++)
            ccl_put_f32(buf + 4 + 4 * (size_t)(idx[j] - base), val[j]);
        return 4 + 4 * count;
    }
    uint32_t hp[2];
    size_t len = 0;
    ccl_sparse_write_list(val, count, idx, base, n, 0, buf + MSG_HDR, &len, hp);
    ccl_put_u32(buf, MSG_SPARSE);
    ccl_put_u32(buf + 4, hp[0]);
    ccl_put_u32(buf + 8, hp[1]);
    return MSG_HDR + len;
}

size_t ccl_svec_write(const ccl_svec_t *v, uint8_t *buf)
{
    if (v->is_dense)
        return write_dense(v->dense, v->count, buf);
    return ccl_svec_write_range(v->idx, v->val, v->n, 0, v->count, buf);
}

int ccl_svec_finite(const ccl_svec_t *v)
{
    return v->is_dense ? ccl_all_finite(v->dense, v->count) : ccl_all_finite(v->val, v->n);
}

/* c = a + b over two ascending lists; returns the length. */
static size_t merge(const uint32_t *ai, const float *av, size_t an, const uint32_t *bi,
                    const float *bv, size_t bn, uint32_t *ci, float *cv)
{
    size_t i = 0, j = 0, n = 0;
    while (i < an && j < bn) {
        if (ai[i] == bi[j]) {
            ci[n] = ai[i];
            cv[n++] = av[i++] + bv[j++];
        } else if (ai[i] < bi[j]) {
            ci[n] = ai[i];
            cv[n++] = av[i++];
        } else {
            ci[n] = bi[j];
            cv[n++] = bv[j++];
        }
    }
    for (; i < an; i++, n++) {
        ci[n] = ai[i];
        cv[n] = av[i];
    }
    for (; j < bn; j++, n++) {
        ci[n] = bi[j];
        cv[n] = bv[j];
    }
    return n;
}

static ccl_result_t bad(ccl_coll_ctx_t *ctx, int peer, const char *why)
{
    return ccl_set_error(ctx ? ctx->comm : NULL, CCL_ERR_INVALID_PAYLOAD,
                         "rank %d sent a bad sparse message: %s", peer, why);
}

static ccl_result_t add_dense_msg(ccl_coll_ctx_t *ctx, int peer, ccl_svec_t *v, const uint8_t *m)
{
    size_t count = v->count;
    /* Check every value before changing anything. */
    int finite = 1;
    for (size_t i = 0; i < count; i++)
        finite &= isfinite(ccl_get_f32(m + 4 * i)) != 0;
    if (!finite)
        return bad(ctx, peer, "a dense value is NaN or infinite");
    float *d = v->dense;
    if (v->is_dense) {
        for (size_t i = 0; i < count; i++)
            d[i] += ccl_get_f32(m + 4 * i);
    } else {
        for (size_t i = 0; i < count; i++)
            d[i] = ccl_get_f32(m + 4 * i) + 0.0f;
        for (size_t j = 0; j < v->n; j++)
            d[v->idx[j]] += v->val[j];
        ccl_svec_free(v);
        v->is_dense = 1;
    }
    return CCL_SUCCESS;
}

ccl_result_t ccl_svec_add_msg(ccl_coll_ctx_t *ctx, int peer, ccl_svec_t *v, const uint8_t *buf,
                              size_t len)
{
    size_t count = v->count;
    if (len < 4)
        return bad(ctx, peer, "too short");
    uint32_t kind = ccl_get_u32(buf);
    if (kind == MSG_DENSE) {
        if (len != 4 + 4 * count)
            return bad(ctx, peer, "dense message of the wrong length");
        return add_dense_msg(ctx, peer, v, buf + 4);
    }
    if (kind != MSG_SPARSE || len < MSG_HDR)
        return bad(ctx, peer, "unknown message kind");
    uint32_t hp[2] = {ccl_get_u32(buf + 4), ccl_get_u32(buf + 8)};
    size_t k = hp[0];
    if (k > count || (hp[1] & (CCL_SPARSE_FP16 | CCL_SPARSE_NOIDX)))
        return bad(ctx, peer, "bad sparse parameters");
    uint32_t *ti = malloc(CCL_MAX(k, (size_t)1) * sizeof(uint32_t));
    float *tv = malloc(CCL_MAX(k, (size_t)1) * sizeof(float));
    uint32_t *ci = NULL;
    float *cv = NULL;
    ccl_result_t res = CCL_ERR_NO_MEMORY;
    if (ti == NULL || tv == NULL)
        goto nomem;
    if (ccl_sparse_read(buf + MSG_HDR, len - MSG_HDR, hp, 0, count, ti, tv) != CCL_SUCCESS) {
        res = bad(ctx, peer, ccl_get_last_error(NULL));
        goto out;
    }
    for (size_t j = 0; j < k; j++)
        tv[j] += 0.0f; /* -0 becomes +0 */
    if (v->is_dense) {
        for (size_t j = 0; j < k; j++)
            v->dense[ti[j]] += tv[j];
        res = CCL_SUCCESS;
        goto out;
    }
    if ((ci = malloc(CCL_MAX(v->n + k, (size_t)1) * sizeof(uint32_t))) == NULL ||
        (cv = malloc(CCL_MAX(v->n + k, (size_t)1) * sizeof(float))) == NULL)
        goto nomem;
    size_t n = merge(v->idx, v->val, v->n, ti, tv, k, ci, cv);
    ccl_svec_free(v);
    v->idx = ci;
    v->val = cv;
    v->n = n;
    ci = NULL;
    cv = NULL;
    if (dense_cheaper(n, count))
        ccl_svec_densify(v);
    res = CCL_SUCCESS;
    goto out;
nomem:
    res = ccl_set_error(ctx ? ctx->comm : NULL, CCL_ERR_NO_MEMORY,
                        "no memory for a sparse sum of %zu elements", count);
out:
    free(ti);
    free(tv);
    free(ci);
    free(cv);
    return res;
}
