/* sparse.c: the (index, value) payload of the sparse codecs, its hostile-input decoder, and
 * random-k's index generator. */
#include "compress/sparse.h"

#include <math.h>
#include <stdlib.h>
#include <stddef.h>
#include <string.h>

static size_t bitmap_bytes(size_t count) { return (count + 7) / 8; }

static int use_bitmap(size_t count, size_t k) { return bitmap_bytes(count) < 4 * k; }

size_t ccl_sparse_max_payload(size_t count, size_t kmax, int fp16, int with_indices)
{
    size_t idx = with_indices ? CCL_MIN(4 * kmax, bitmap_bytes(count)) : 0;
    return idx + kmax * (fp16 ? 2 : 4);
}

size_t ccl_sparse_k(const ccl_codec_params_t *p, size_t count)
{
    size_t k = p->k ? p->k : (size_t)ceil(p->ratio * (double)count);
    if (count == 0)
        return 0;
    return CCL_MAX((size_t)1, CCL_MIN(k, count));
}

void ccl_sparse_ratio_set(void *p)
{
    ((ccl_codec_params_t *)p)->k = 0;
}

/* Bytes of the LEB128 encoding of the gaps idx[j] - idx[j-1] - 1 (idx[-1] = base - 1). */
static size_t delta_bytes(const uint32_t *idx, size_t k, uint32_t base)
{
    size_t n = 0;
    uint32_t prev = base - 1;
    for (size_t j = 0; j < k; j++) {
        uint32_t gap = idx[j] - prev - 1;
        n += gap < (1u << 7) ? 1 : gap < (1u << 14) ? 2 : gap < (1u << 21) ? 3 : gap < (1u << 28) ? 4 : 5;
        prev = idx[j];
    }
    return n;
}

/* packed: src holds the k values in order (src[j]), else the whole vector (src[idx[j]]). */
static void put_values(const float *src, int packed, const uint32_t *idx, size_t k, int fp16,
                       uint8_t *out, float *recon, int residual)
{
    size_t pos = 0;
    for (size_t j = 0; j < k; j++) {
        const float x = packed ? src[j] : src[idx[j]];
        float v = x;
        if (fp16) { /* saturating, as the cast codec (and cuda/sparse_codec.cu) */
            uint16_t h = ccl_cast_code(x, 0);
            out[pos++] = (uint8_t)h;
            out[pos++] = (uint8_t)(h >> 8);
            v = ccl_cast_value(h, 0);
        } else {
            ccl_put_f32(out + pos, v);
            pos += 4;
        }
        if (recon)
            recon[idx[j]] = ccl_fb_value(residual, x, v);
    }
}

/* The index coding of k ascending indices in [base, base + count): a CCL_SPARSE_* flag (0
 * for the u32 list) and its bytes; the smallest of the three, NOIDX without indices. */
static uint32_t pick_coding(const uint32_t *idx, size_t k, uint32_t base, size_t count,
                            int with_indices, size_t *ibytes)
{
    size_t dbytes;
    if (!with_indices) {
        *ibytes = 0;
        return CCL_SPARSE_NOIDX;
    }
    dbytes = delta_bytes(idx, k, base);
    if (dbytes < 4 * k && dbytes < bitmap_bytes(count)) {
        *ibytes = dbytes;
        return CCL_SPARSE_DELTA;
    }
    *ibytes = use_bitmap(count, k) ? bitmap_bytes(count) : 4 * k;
    return use_bitmap(count, k) ? CCL_SPARSE_BITMAP : 0;
}

static void put_indices(uint32_t coding, const uint32_t *idx, size_t k, uint32_t base,
                        size_t count, uint8_t *out)
{
    if (coding == CCL_SPARSE_DELTA) { /* the gaps, 7 bits a byte */
        uint32_t prev = base - 1;
        for (size_t j = 0; j < k; j++) {
            uint32_t gap = idx[j] - prev - 1;
            prev = idx[j];
            while (gap >= 0x80) {
                *out++ = (uint8_t)(gap | 0x80);
                gap >>= 7;
            }
            *out++ = (uint8_t)gap;
        }
    } else if (coding == CCL_SPARSE_BITMAP) {
        memset(out, 0, bitmap_bytes(count));
        for (size_t j = 0; j < k; j++)
            out[(idx[j] - base) >> 3] |= (uint8_t)(1u << ((idx[j] - base) & 7));
    } else if (coding == 0) {
        for (size_t j = 0; j < k; j++)
            ccl_put_u32(out + 4 * j, idx[j] - base);
    }
}

/* Everything of the payload but the values: picks the index coding, writes the indices where
 * it puts them (delta-coded gaps after the values, the u32 list and the bitmap before them,
 * none for NOIDX), the header words and the total length. Returns the values' offset. */
static size_t sparse_frame(const uint32_t *idx, size_t k, uint32_t base, size_t count, int fp16,
                           int with_indices, uint8_t *out, size_t *len_p, uint32_t hp[2])
{
    size_t ibytes, vbytes = k * (fp16 ? 2 : 4);
    uint32_t coding = pick_coding(idx, k, base, count, with_indices, &ibytes);
    int values_first = coding == CCL_SPARSE_DELTA || coding == CCL_SPARSE_NOIDX;
    put_indices(coding, idx, k, base, count, values_first ? out + vbytes : out);
    hp[0] = (uint32_t)k;
    hp[1] = coding | (fp16 ? CCL_SPARSE_FP16 : 0);
    *len_p = ibytes + vbytes;
    return values_first ? 0 : ibytes;
}

/* base: the indices are written as idx[j] - base (a range of a longer vector). */
static void sparse_write(const float *src, int packed, size_t count, const uint32_t *idx,
                         uint32_t base, size_t k, int fp16, int with_indices, uint8_t *out,
                         size_t *len_p, uint32_t hp[2], float *recon, int residual)
{
    size_t voff = sparse_frame(idx, k, base, count, fp16, with_indices, out, len_p, hp);
    /* recon: zeros (decoded values) or the input (residuals) where nothing is sent. */
    if (recon && residual)
        memcpy(recon, src, count * sizeof(float));
    else if (recon)
        memset(recon, 0, count * sizeof(float));
    put_values(src, packed, idx, k, fp16, out + voff, recon, residual);
}

void ccl_sparse_assemble(const uint32_t *idx, size_t k, const void *vals, int fp16,
                         int with_indices, size_t count, uint8_t *out, size_t *len_p,
                         uint32_t hp[2])
{
    size_t voff = sparse_frame(idx, k, 0, count, fp16, with_indices, out, len_p, hp);
    if (k > 0)
        memcpy(out + voff, vals, k * (fp16 ? 2 : 4));
}

ccl_result_t ccl_sparse_encode_selected(ccl_sparse_select_t select, int with_indices,
                                        const ccl_codec_params_t *p, const float *src,
                                        size_t count, uint64_t seed, uint8_t *out,
                                        size_t *len_p, uint32_t hp[2], float *recon)
{
    uint32_t *idx = NULL;
    size_t k = 0;
    CCL_CHECK(select(p, src, count, seed, &idx, &k));
    ccl_sparse_write(src, count, idx, k, p->fp16_values, with_indices, out, len_p, hp, recon,
                     p->fb_residual);
    free(idx);
    return CCL_SUCCESS;
}

void ccl_sparse_write(const float *src, size_t count, const uint32_t *idx, size_t k, int fp16,
                      int with_indices, uint8_t *out, size_t *len_p, uint32_t hp[2],
                      float *recon, int residual)
{
    sparse_write(src, 0, count, idx, 0, k, fp16, with_indices, out, len_p, hp, recon, residual);
}

void ccl_sparse_write_list(const float *val, size_t count, const uint32_t *idx, uint32_t base,
                           size_t k, int fp16, uint8_t *out, size_t *len_p, uint32_t hp[2])
{
    sparse_write(val, 1, count, idx, base, k, fp16, 1, out, len_p, hp, NULL, 0);
}

/* Reads k LEB128 gaps filling exactly in[0..n); -1 on any inconsistency. */
static int read_deltas(const uint8_t *in, size_t n, size_t k, size_t count, uint32_t *idx)
{
    size_t pos = 0;
    uint64_t prev = UINT64_MAX; /* idx[-1] = -1 */
    for (size_t j = 0; j < k; j++) {
        uint64_t gap = 0;
        for (unsigned shift = 0;; shift += 7) {
            if (pos >= n || shift > 28)
                return -1;
            uint8_t b = in[pos++];
            gap |= (uint64_t)(b & 0x7f) << shift;
            if (!(b & 0x80))
                break;
        }
        prev = prev + 1 + gap;
        if (prev >= count)
            return -1;
        idx[j] = (uint32_t)prev;
    }
    return pos == n ? 0 : -1;
}

int ccl_randomk_indices(uint64_t seed, size_t count, size_t k, uint32_t *idx)
{
    /* Floyd's algorithm: k distinct draws, each O(1), marked in a bitmap, then read back
     * in ascending order so encoder and decoder agree on the value order. */
    uint64_t *mark = calloc((count + 63) / 64, sizeof(uint64_t));
    if (mark == NULL)
        return -1;
    for (size_t j = count - k, n = 0; j < count; j++, n++) {
        size_t t = (size_t)(ccl_rng64(seed, n) % (j + 1));
        if (mark[t >> 6] & (1ULL << (t & 63)))
            t = j;
        mark[t >> 6] |= 1ULL << (t & 63);
    }
    size_t n = 0;
    for (size_t w = 0; w < (count + 63) / 64; w++)
        for (uint64_t m = mark[w]; m; m &= m - 1)
            idx[n++] = (uint32_t)(w * 64 + (size_t)__builtin_ctzll(m));
    free(mark);
    return 0;
}

ccl_result_t ccl_sparse_read(const uint8_t *in, size_t len, const uint32_t hp[2], uint64_t seed,
                             size_t count, uint32_t *idx, float *val)
{
    size_t k = hp[0], pos = 0;
    uint32_t flags = hp[1];
    int fp16 = (flags & CCL_SPARSE_FP16) != 0, noidx = (flags & CCL_SPARSE_NOIDX) != 0;
    int bitmap = (flags & CCL_SPARSE_BITMAP) != 0, delta = (flags & CCL_SPARSE_DELTA) != 0;
    size_t vbytes = fp16 ? 2 : 4, ibytes, voff;

    if ((flags & ~15u) != 0 || noidx + bitmap + delta > 1 || k > count || count > UINT32_MAX)
        return ccl_set_error(NULL, CCL_ERR_INVALID_PAYLOAD, "sparse: bad parameters k=%zu flags=%u",
                             k, flags);
    if (delta) {
        /* Values first, then between k and 5k bytes of gaps. */
        if (len < k * vbytes + k || len > k * vbytes + 5 * k)
            return ccl_set_error(NULL, CCL_ERR_INVALID_PAYLOAD,
                                 "sparse: %zu payload bytes cannot hold %zu delta-coded pairs", len, k);
        ibytes = len - k * vbytes;
        voff = 0;
    } else {
        ibytes = noidx ? 0 : bitmap ? bitmap_bytes(count) : 4 * k;
        voff = ibytes;
        if (len != ibytes + k * vbytes)
            return ccl_set_error(NULL, CCL_ERR_INVALID_PAYLOAD,
                                 "sparse: %zu payload bytes, %zu expected", len, ibytes + k * vbytes);
    }
    if (k == 0)
        return CCL_SUCCESS;
    if (delta) {
        if (read_deltas(in + k * vbytes, ibytes, k, count, idx) != 0)
            return ccl_set_error(NULL, CCL_ERR_INVALID_PAYLOAD,
                                 "sparse: delta-coded indices are malformed or out of range");
    } else if (noidx) {
        if (ccl_randomk_indices(seed, count, k, idx) != 0)
            return ccl_set_error(NULL, CCL_ERR_NO_MEMORY, "randomk: no memory");
    } else if (bitmap) {
        size_t n = 0;
        for (size_t i = 0; i < count; i++)
            if (in[i >> 3] & (1u << (i & 7))) {
                if (n == k)
                    break;
                idx[n++] = (uint32_t)i;
            }
        /* Exactly k bits, none past the end. */
        size_t ones = 0;
        for (size_t b = 0; b < ibytes; b++)
            ones += (size_t)__builtin_popcount(in[b]);
        if (n != k || ones != k)
            return ccl_set_error(NULL, CCL_ERR_INVALID_PAYLOAD, "sparse: bitmap has %zu bits, k=%zu",
                                 ones, k);
    } else {
        for (size_t j = 0; j < k; j++) {
            idx[j] = ccl_get_u32(in + 4 * j);
            /* Ascending and in range: no duplicates, no write outside out[]. */
            if (idx[j] >= count || (j > 0 && idx[j] <= idx[j - 1]))
                return ccl_set_error(NULL, CCL_ERR_INVALID_PAYLOAD,
                                     "sparse: index %u at %zu is out of range or not ascending",
                                     idx[j], j);
        }
    }
    pos = voff;
    for (size_t j = 0; j < k; j++, pos += vbytes) {
        float v = fp16 ? ccl_h2f((uint16_t)(in[pos] | in[pos + 1] << 8))
                       : ccl_get_f32(in + pos);
        if (!isfinite(v))
            return ccl_set_error(NULL, CCL_ERR_INVALID_PAYLOAD, "sparse: non-finite value at %zu", j);
        val[j] = v;
    }
    return CCL_SUCCESS;
}

ccl_result_t ccl_sparse_decode(const uint8_t *in, size_t len, const uint32_t hp[2],
                               uint64_t seed, float *out, size_t count, int accumulate)
{
    size_t k = hp[0];
    uint32_t *idx = NULL;
    float *val = NULL;
    ccl_result_t res;
    if (k > count)
        return ccl_set_error(NULL, CCL_ERR_INVALID_PAYLOAD, "sparse: k=%zu of %zu elements", k,
                             count);
    if (k > 0 && ((idx = malloc(k * sizeof(uint32_t))) == NULL ||
                  (val = malloc(k * sizeof(float))) == NULL)) {
        free(idx);
        return ccl_set_error(NULL, CCL_ERR_NO_MEMORY, "sparse: no memory for %zu pairs", k);
    }
    res = ccl_sparse_read(in, len, hp, seed, count, idx, val);
    /* Values are applied only once all are known good: a bad payload changes nothing. */
    if (res == CCL_SUCCESS) {
        if (!accumulate)
            memset(out, 0, count * sizeof(float));
        for (size_t j = 0; j < k; j++)
            out[idx[j]] += val[j];
    }
    free(idx);
    free(val);
    return res;
}

/* Returns the k-th largest of keys[0..n) (1-based k), reordering keys: quickselect with a
 * three-way partition (larger | equal | smaller) around a median-of-three pivot. */
/* The k-th largest for a small k: one pass keeping the k largest so far in order; most keys
 * fail the first compare, which the branch predictor learns, where quickselect's partition
 * mispredicts about every other key. At most KTH_SMALL compares a key. */
#define KTH_SMALL 64
static uint64_t kth_small(const uint64_t *keys, size_t n, size_t k)
{
    uint64_t top[KTH_SMALL]; /* descending */
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        const uint64_t t = keys[i];
        if (m == k && t <= top[k - 1])
            continue;
        size_t j = m < k ? m++ : k - 1; /* full: the smallest of the k drops out */
        for (; j > 0 && top[j - 1] < t; j--)
            top[j] = top[j - 1];
        top[j] = t;
    }
    return top[k - 1];
}

uint64_t ccl_kth_largest(uint64_t *keys, size_t n, size_t k)
{
    if (k >= 1 && k <= KTH_SMALL && k <= n)
        return kth_small(keys, n, k);
    ptrdiff_t lo = 0, hi = (ptrdiff_t)n - 1, want = (ptrdiff_t)k - 1;
    while (lo < hi) {
        uint64_t a = keys[lo], b = keys[lo + (hi - lo) / 2], c = keys[hi];
        uint64_t pivot = a < b ? (b < c ? b : (a < c ? c : a)) : (a < c ? a : (b < c ? c : b));
        ptrdiff_t lt = lo, i = lo, gt = hi;
        while (i <= gt) {
            uint64_t t = keys[i];
            if (t > pivot) {
                keys[i++] = keys[lt];
                keys[lt++] = t;
            } else if (t < pivot) {
                keys[i] = keys[gt];
                keys[gt--] = t;
            } else {
                i++;
            }
        }
        if (want < lt)
            hi = lt - 1;
        else if (want > gt)
            lo = gt + 1;
        else
            return pivot;
    }
    return keys[want];
}

/* Hits are rare (about k of count), so the vector version tests 32 elements at once and
 * walks only the groups of 8 that hold a hit. */
static size_t collect_scalar(const float *x, size_t lo, size_t n, uint32_t t, uint32_t *idx,
                             size_t cap, size_t c)
{
    for (size_t i = lo; i < n; i++)
        if (ccl_mag_bits(x[i]) >= t) {
            if (c < cap)
                idx[c] = (uint32_t)i;
            c++;
        }
    return c;
}

#if defined(__x86_64__)
#include <immintrin.h>
__attribute__((target("avx2"))) static size_t collect_avx2(const float *x, size_t n, uint32_t t,
                                                           uint32_t *idx, size_t cap)
{
    /* Magnitude bits are below 2^31, so a signed compare against t - 1 is |x| >= t. */
    const __m256i absmask = _mm256_set1_epi32(0x7fffffff), tm1 = _mm256_set1_epi32((int)t - 1);
    size_t c = 0, i = 0;
    if (t == 0)
        return collect_scalar(x, 0, n, t, idx, cap, 0);
    for (; i + 32 <= n; i += 32) { /* hits are rare: one test for 32 elements */
        const __m256i *q = (const __m256i *)(const void *)(x + i);
        __m256i h0 = _mm256_cmpgt_epi32(_mm256_and_si256(_mm256_loadu_si256(q), absmask), tm1);
        __m256i h1 = _mm256_cmpgt_epi32(_mm256_and_si256(_mm256_loadu_si256(q + 1), absmask), tm1);
        __m256i h2 = _mm256_cmpgt_epi32(_mm256_and_si256(_mm256_loadu_si256(q + 2), absmask), tm1);
        __m256i h3 = _mm256_cmpgt_epi32(_mm256_and_si256(_mm256_loadu_si256(q + 3), absmask), tm1);
        const __m256i any = _mm256_or_si256(_mm256_or_si256(h0, h1), _mm256_or_si256(h2, h3));
        if (_mm256_testz_si256(any, any))
            continue;
        const __m256i h[4] = {h0, h1, h2, h3};
        for (int b = 0; b < 4; b++)
            for (unsigned m = (unsigned)_mm256_movemask_ps(_mm256_castsi256_ps(h[b])); m; m &= m - 1) {
                if (c < cap)
                    idx[c] = (uint32_t)(i + 8 * (unsigned)b + (unsigned)__builtin_ctz(m));
                c++;
            }
    }
    for (; i + 8 <= n; i += 8) {
        __m256i v = _mm256_and_si256(_mm256_loadu_si256((const __m256i *)(const void *)(x + i)), absmask);
        unsigned m = (unsigned)_mm256_movemask_ps(_mm256_castsi256_ps(_mm256_cmpgt_epi32(v, tm1)));
        for (; m; m &= m - 1) {
            if (c < cap)
                idx[c] = (uint32_t)(i + (unsigned)__builtin_ctz(m));
            c++;
        }
    }
    return collect_scalar(x, i, n, t, idx, cap, c);
}
#endif

size_t ccl_sparse_collect(const float *x, size_t n, uint32_t t, uint32_t *idx, size_t cap)
{
#if defined(__x86_64__)
    if (__builtin_cpu_supports("avx2"))
        return collect_avx2(x, n, t, idx, cap);
#endif
    return collect_scalar(x, 0, n, t, idx, cap, 0);
}

size_t ccl_sparse_first_nonfinite(const float *src, size_t count, const uint32_t *cand, size_t n,
                                  uint32_t thr)
{
    if (cand == NULL || thr >= 0x7f800000u) { /* every element, or a threshold that came from
                                               * a NaN or an infinity: find it */
        return ccl_first_nonfinite(src, count);
    }
    for (size_t j = 0; j < n; j++)
        if (!isfinite(src[cand[j]]))
            return cand[j];
    return count;
}
