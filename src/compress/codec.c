/* codec.c: a codec from its spec (lookup by name and by wire id, parameters from its rows),
 * and the entry points every codec is called through: encode, decode, check. */
#include "compress/wire.h"
#include "compress/sparse.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const ccl_codec_ops_t *codec_by_id(unsigned id)
{
    for (int i = 0; ccl_codecs[i] != NULL; i++)
        if ((unsigned)ccl_codecs[i]->id == id)
            return ccl_codecs[i];
    return NULL;
}

const char *const ccl_rounding_names[] = {"nearest", "stochastic", NULL};

ccl_result_t ccl_codec_parse(const char *spec, ccl_codec_t *codec)
{
    char name[32], err[640], names[128] = "";
    size_t n;
    if (spec == NULL || codec == NULL)
        return ccl_set_error(NULL, CCL_ERR_INVALID_ARG, "NULL spec");
    n = strcspn(spec, ":");
    if (n == 0 || n >= sizeof(name))
        return ccl_set_error(NULL, CCL_ERR_INVALID_ARG, "spec '%s' does not start with a codec name", spec);
    memcpy(name, spec, n);
    name[n] = '\0';
    codec->ops = NULL;
    for (int i = 0; ccl_codecs[i] != NULL; i++)
        if (strcmp(ccl_codecs[i]->name, name) == 0)
            codec->ops = ccl_codecs[i];
    if (codec->ops == NULL) {
        /* The names from the registry, so that a new codec is listed without more typing. */
        for (int i = 0; ccl_codecs[i] != NULL; i++)
            snprintf(names + strlen(names), sizeof(names) - strlen(names), "%s%s", i ? ", " : "",
                     ccl_codecs[i]->name);
        return ccl_set_error(NULL, CCL_ERR_INVALID_ARG, "unknown codec '%s' (%s)", name, names);
    }
    memset(&codec->params, 0, sizeof(codec->params));
    if (ccl_param_defaults(codec->ops->params, &codec->params) != 0)
        return ccl_set_error(NULL, CCL_ERR_INTERNAL, "%s: a default does not parse", name);
    if (ccl_param_apply(codec->ops->params, &codec->params, spec[n] == ':' ? spec + n + 1 : "",
                        err, sizeof(err)) != 0)
        return ccl_set_error(NULL, CCL_ERR_INVALID_ARG, "%s: %s", name, err);
    return CCL_SUCCESS;
}

static int by_tensor(const ccl_codec_t *codec, size_t count);
static size_t by_tensor_kmax(const ccl_codec_t *codec);
static int scales_per_tensor(const ccl_codec_t *codec);

/* A segmented payload's table: the segment count, then per segment its element count and
 * payload length. */
#define SEG_HEAD 4u
#define SEG_ROW  12u

int ccl_codec_per_element(const ccl_codec_t *codec)
{
    return (codec->ops->flags & CCL_CODEC_PER_ELEMENT) ||
           (codec->ops->id == CCL_CODEC_ID_SIGN && codec->params.sign_scale == CCL_SIGN_SCALE_NONE);
}

size_t ccl_codec_max_encoded_size(const ccl_codec_t *codec, size_t count)
{
    const ccl_codec_ops_t *ops = codec->ops;
    size_t whole = ops->max_payload(&codec->params, count);
    /* Tensor by tensor, every tensor's k, with indices (random-k's too). */
    if (by_tensor(codec, count))
        whole = CCL_MAX(whole, ccl_sparse_max_payload(count, by_tensor_kmax(codec),
                                                      codec->params.fp16_values, 1));
    /* Cut at tensor boundaries: at most one segment per tensor, each costing at most one
     * element's payload more than its share of the whole (max_payload's contract). */
    if (scales_per_tensor(codec) && count > 1) {
        size_t nseg = CCL_MIN(count, (size_t)codec->params.layout->n);
        whole += SEG_HEAD + nseg * SEG_ROW + (nseg - 1) * ops->max_payload(&codec->params, 1);
    }
    return CCL_WIRE_HDR_LEN + whole;
}

/* ---- layouts: a sparse codec selecting in every tensor of a buffer on its own ---- */

/* Whether codec's encoding of count elements goes tensor by tensor. */
static int by_tensor(const ccl_codec_t *codec, size_t count)
{
    const ccl_layout_t *lay = codec->params.layout;
    /* threshold decides per element (no select): the same bits whole. */
    return lay != NULL && (lay->n > 1 || (codec->params.dense_1d && lay->rows[0] == 0)) &&
           lay->total == count && codec->ops->select != NULL;
}

/* Whether tensor t of codec's layout goes whole (dense_1d: it has no matrix shape). */
static int whole_tensor(const ccl_codec_t *codec, int t)
{
    return codec->params.dense_1d && codec->params.layout->rows[t] == 0;
}

/* The most elements a by-tensor encoding keeps: every tensor's k (DGC's at the first stage of
 * its warm-up, its largest). */
static size_t by_tensor_kmax(const ccl_codec_t *codec)
{
    const ccl_layout_t *lay = codec->params.layout;
    ccl_codec_params_t p = codec->params;
    size_t k = 0;
    if (codec->ops->id == CCL_CODEC_ID_DGC && ccl_dgc_ratio(&p.dgc, p.ratio, 0) != p.ratio) {
        p.ratio = ccl_dgc_ratio(&p.dgc, p.ratio, 0);
        p.k = 0;
    }
    for (int t = 0; t < lay->n; t++)
        k += whole_tensor(codec, t) ? lay->count[t] : ccl_sparse_k(&p, lay->count[t]);
    return CCL_MIN(k, lay->total);
}

uint64_t ccl_codec_part_seed(uint64_t seed, int t)
{
    uint64_t key[2] = {seed, (uint64_t)t};
    return ccl_hash64(key, sizeof(key), 0x6c61796fULL);
}

/* Every tensor's selection (the codec's select, with the tensor's own seed), then one payload
 * of the kept elements of the whole buffer, recon written whole as encode writes it. */
static ccl_result_t encode_by_tensor(const ccl_codec_t *codec, const float *src, size_t count,
                                     uint64_t seed, uint8_t *dst, size_t *len_p, float *recon)
{
    const ccl_layout_t *lay = codec->params.layout;
    const size_t kmax = by_tensor_kmax(codec);
    uint32_t *idx = malloc(CCL_MAX(kmax, (size_t)1) * sizeof(uint32_t));
    size_t k = 0;
    ccl_result_t res = CCL_SUCCESS;
    if (idx == NULL)
        return ccl_set_error(NULL, CCL_ERR_NO_MEMORY, "%s: no memory for a layout's encoding",
                             codec->ops->name);
    for (int t = 0; t < lay->n && res == CCL_SUCCESS; t++) {
        const size_t off = lay->off[t];
        uint32_t *ti = NULL;
        size_t kt = 0;
        ccl_codec_params_t p = codec->params;
        if (whole_tensor(codec, t)) { /* every element: the codec at ratio 1 */
            p.ratio = 1;
            p.k = 0;
        }
        res = codec->ops->select(&p, src + off, lay->count[t], ccl_codec_part_seed(seed, t),
                                 &ti, &kt);
        if (res == CCL_SUCCESS && k + kt > kmax)
            res = ccl_set_error(NULL, CCL_ERR_INTERNAL, "%s: tensor %d kept %zu elements, more "
                                "than its bound", codec->ops->name, t, kt);
        for (size_t j = 0; res == CCL_SUCCESS && j < kt; j++)
            idx[k + j] = (uint32_t)(ti[j] + off);
        if (res == CCL_SUCCESS)
            k += kt;
        free(ti);
    }
    if (res == CCL_SUCCESS) {
        ccl_wire_hdr_t h = {.codec_id = (uint8_t)codec->ops->id, .count = count, .seed = seed};
        size_t plen = 0;
        ccl_sparse_write(src, count, idx, k, codec->params.fp16_values, 1,
                         dst + CCL_WIRE_HDR_LEN, &plen, h.params, recon,
                         codec->params.fb_residual);
        h.payload_len = (uint32_t)plen;
        ccl_wire_put(dst, &h);
        *len_p = CCL_WIRE_HDR_LEN + plen;
    }
    free(idx);
    return res;
}

/* ---- layouts: a dense codec's scales per tensor (segmented messages) ---- */

/* Whether codec, with a layout, scales every tensor on its own. */
static int scales_per_tensor(const ccl_codec_t *codec)
{
    const ccl_layout_t *lay = codec->params.layout;
    return lay != NULL && lay->n > 1 && !(codec->ops->flags & CCL_CODEC_SPARSE) &&
           !ccl_codec_per_element(codec);
}

/* The tensor holding element i of the layout (i < total). */
static int tensor_of(const ccl_layout_t *lay, size_t i)
{
    int lo = 0, hi = lay->n - 1;
    while (lo < hi) {
        int mid = lo + (hi - lo + 1) / 2;
        if (lay->off[mid] <= i)
            lo = mid;
        else
            hi = mid - 1;
    }
    return lo;
}

/* [off, off + count) of the layout's buffer, which tensors t0..t1 hold, tensor by tensor:
 * segment s is the part of tensor t0 + s, encoded alone with its seed (from the call's and s) and, for a codec whose
 * ranks agree on scales, its tensor's agreed scale. */
static ccl_result_t encode_segments(const ccl_codec_t *codec, const float *src, size_t off,
                                    size_t count, int t0, int t1, uint64_t seed, uint8_t *dst,
                                    size_t cap, size_t *len_p, float *recon)
{
    const ccl_layout_t *lay = codec->params.layout;
    const uint32_t nseg = (uint32_t)(t1 - t0 + 1);
    uint8_t *pay = dst + CCL_WIRE_HDR_LEN;
    size_t pos = SEG_HEAD + (size_t)nseg * SEG_ROW, at = 0;
    ccl_wire_hdr_t h = {.codec_id = (uint8_t)codec->ops->id, .flags = CCL_WIRE_SEGMENTED,
                        .count = count, .seed = seed};
    ccl_codec_params_t p = codec->params;
    ccl_put_u32(pay, nseg);
    for (uint32_t sg = 0; sg < nseg; sg++) {
        const int t = t0 + (int)sg;
        const size_t end = CCL_MIN(lay->off[t] + lay->count[t], off + count) - off, n = end - at;
        uint32_t hp[2];
        size_t len = 0;
        if (codec->params.scales != NULL)
            p.scale = codec->params.scales[t];
        CCL_CHECK(codec->ops->encode(&p, src + at, n, ccl_codec_part_seed(seed, (int)sg),
                                     pay + pos, cap - CCL_WIRE_HDR_LEN - pos, &len, hp,
                                     recon != NULL ? recon + at : NULL));
        /* A dense codec's header words depend on its parameters only. */
        if (sg == 0)
            memcpy(h.params, hp, sizeof(hp));
        else if (hp[0] != h.params[0] || hp[1] != h.params[1])
            return ccl_set_error(NULL, CCL_ERR_INTERNAL, "%s: segment %u's header words differ",
                                 codec->ops->name, sg);
        ccl_put_u64(pay + SEG_HEAD + sg * SEG_ROW, n);
        ccl_put_u32(pay + SEG_HEAD + sg * SEG_ROW + 8, (uint32_t)len);
        pos += len;
        at = end;
    }
    h.payload_len = (uint32_t)pos;
    ccl_wire_put(dst, &h);
    *len_p = CCL_WIRE_HDR_LEN + pos;
    return CCL_SUCCESS;
}

/* A segmented payload's table, checked against count and the payload's length: every
 * segment holds at least one element, the counts sum to count and the lengths to what
 * follows the table. */
static ccl_result_t segments_check(const uint8_t *pay, size_t len, size_t count, uint32_t *nseg_p)
{
    uint32_t nseg;
    size_t sum = 0, bytes = 0;
    if (len < SEG_HEAD)
        return ccl_set_error(NULL, CCL_ERR_INVALID_PAYLOAD, "segmented payload of %zu bytes", len);
    nseg = ccl_get_u32(pay);
    if (nseg == 0 || nseg > count || nseg > (len - SEG_HEAD) / SEG_ROW)
        return ccl_set_error(NULL, CCL_ERR_INVALID_PAYLOAD, "%u segments for %zu elements in "
                             "%zu bytes", nseg, count, len);
    for (uint32_t sg = 0; sg < nseg; sg++) {
        uint64_t n = ccl_get_u64(pay + SEG_HEAD + sg * SEG_ROW);
        uint32_t l = ccl_get_u32(pay + SEG_HEAD + sg * SEG_ROW + 8);
        if (n == 0 || n > count - sum)
            return ccl_set_error(NULL, CCL_ERR_INVALID_PAYLOAD, "segment %u holds %llu of the "
                                 "%zu elements left", sg, (unsigned long long)n, count - sum);
        sum += (size_t)n;
        bytes += l; /* nseg * UINT32_MAX fits a size_t */
    }
    if (sum != count || bytes != len - SEG_HEAD - (size_t)nseg * SEG_ROW)
        return ccl_set_error(NULL, CCL_ERR_INVALID_PAYLOAD, "segments hold %zu elements in %zu "
                             "bytes; the message %zu in %zu", sum, bytes, count,
                             len - SEG_HEAD - (size_t)nseg * SEG_ROW);
    *nseg_p = nseg;
    return CCL_SUCCESS;
}

/* Decodes every segment with the header's codec and words. */
static ccl_result_t decode_segments(const ccl_codec_ops_t *ops, const ccl_wire_hdr_t *h,
                                    const uint8_t *pay, float *out, size_t count, int accumulate)
{
    uint32_t nseg = 0;
    size_t pos, at = 0;
    CCL_CHECK(segments_check(pay, h->payload_len, count, &nseg));
    pos = SEG_HEAD + (size_t)nseg * SEG_ROW;
    for (uint32_t sg = 0; sg < nseg; sg++) {
        const size_t n = (size_t)ccl_get_u64(pay + SEG_HEAD + sg * SEG_ROW),
                     l = ccl_get_u32(pay + SEG_HEAD + sg * SEG_ROW + 8);
        ccl_result_t res = ops->decode(pay + pos, l, h->params,
                                       ccl_codec_part_seed(h->seed, (int)sg), out + at, n,
                                       accumulate);
        if (res != CCL_SUCCESS) {
            char why[CCL_ERRSTR_LEN]; /* the last error is the buffer being written */
            snprintf(why, sizeof(why), "%s", ccl_get_last_error(NULL));
            return ccl_set_error(NULL, res, "segment %u: %s", sg, why);
        }
        pos += l;
        at += n;
    }
    return CCL_SUCCESS;
}

ccl_result_t ccl_codec_encode(const ccl_codec_t *codec, const float *src, size_t count,
                              uint64_t seed, void *dst, size_t cap, size_t *len_p, float *recon)
{
    return ccl_codec_encode_range(codec, src, 0, count, seed, dst, cap, len_p, recon);
}

ccl_result_t ccl_codec_encode_range(const ccl_codec_t *codec, const float *src, size_t off,
                                    size_t count, uint64_t seed, void *dst, size_t cap,
                                    size_t *len_p, float *recon)
{
    ccl_wire_hdr_t h = {.codec_id = (uint8_t)codec->ops->id, .count = count, .seed = seed};
    const size_t need = ccl_codec_max_encoded_size(codec, count);
    size_t plen = 0;
    if (dst == NULL || len_p == NULL || (count > 0 && src == NULL))
        return ccl_set_error(NULL, CCL_ERR_INVALID_ARG, "NULL buffer");
    if (cap < need)
        return ccl_set_error(NULL, CCL_ERR_INVALID_ARG, "%zu-byte buffer; %s needs %zu", cap,
                             codec->ops->name, need);
    /* Non-finite input has no faithful encoding in most codecs, and the decoder refuses
     * non-finite scales and values: refuse it here, where the caller can act on it. */
    if (!(codec->ops->flags & CCL_CODEC_CHECKS_FINITE)) {
        size_t bad = ccl_first_nonfinite(src, count);
        if (bad < count)
            return ccl_nonfinite_error(codec->ops->name, bad);
    }
    if (need - CCL_WIRE_HDR_LEN > UINT32_MAX)
        return ccl_set_error(NULL, CCL_ERR_INVALID_ARG, "%zu elements do not fit one payload", count);
    if (off == 0 && by_tensor(codec, count))
        return encode_by_tensor(codec, src, count, seed, dst, len_p, recon);
    if (scales_per_tensor(codec) && count > 0) {
        const ccl_layout_t *lay = codec->params.layout;
        if (count > lay->total || off > lay->total - count)
            return ccl_set_error(NULL, CCL_ERR_INVALID_ARG, "elements [%zu, %zu) of a layout "
                                 "of %zu", off, off + count, lay->total);
        const int t0 = tensor_of(lay, off), t1 = tensor_of(lay, off + count - 1);
        if (t0 != t1)
            return encode_segments(codec, src, off, count, t0, t1, seed, dst, cap, len_p,
                                   recon);
    }
    CCL_CHECK(codec->ops->encode(&codec->params, src, count, seed,
                                 (uint8_t *)dst + CCL_WIRE_HDR_LEN, cap - CCL_WIRE_HDR_LEN,
                                 &plen, h.params, recon));
    h.payload_len = (uint32_t)plen;
    ccl_wire_put(dst, &h);
    *len_p = CCL_WIRE_HDR_LEN + plen;
    return CCL_SUCCESS;
}

ccl_result_t ccl_codec_header_params(const ccl_codec_t *codec, uint32_t hp[2])
{
    uint8_t scratch[16];
    float none = 0;
    size_t len;
    if (codec->ops->flags & CCL_CODEC_SPARSE)
        return ccl_set_error(NULL, CCL_ERR_UNSUPPORTED, "%s: header words depend on the data",
                             codec->ops->name);
    /* A dense codec's words depend on its parameters only: encode nothing. */
    return codec->ops->encode(&codec->params, &none, 0, 0, scratch, sizeof(scratch), &len, hp, NULL);
}

/* The header of an encoding of count elements, checked, and the codec it names. */
static ccl_result_t wire_open(const void *src, size_t len, size_t count, ccl_wire_hdr_t *h,
                              const ccl_codec_ops_t **ops_p)
{
    CCL_CHECK(ccl_wire_get(src, len, h));
    if (h->count != (uint64_t)count)
        return ccl_set_error(NULL, CCL_ERR_INVALID_PAYLOAD, "payload holds %llu elements, %zu expected",
                             (unsigned long long)h->count, count);
    if ((*ops_p = codec_by_id(h->codec_id)) == NULL)
        return ccl_set_error(NULL, CCL_ERR_INVALID_PAYLOAD, "unknown codec id %u", h->codec_id);
    /* Sparse codecs send buffer-wide indices, one payload whatever the layout. */
    if ((h->flags & CCL_WIRE_SEGMENTED) && ((*ops_p)->flags & CCL_CODEC_SPARSE))
        return ccl_set_error(NULL, CCL_ERR_INVALID_PAYLOAD, "codec %s sends no segments",
                             (*ops_p)->name);
    return CCL_SUCCESS;
}

ccl_result_t ccl_codec_decode(const void *src, size_t len, float *out, size_t count,
                              int accumulate)
{
    ccl_wire_hdr_t h;
    const ccl_codec_ops_t *ops = NULL;
    CCL_CHECK(wire_open(src, len, count, &h, &ops));
    if (count > 0 && out == NULL)
        return ccl_set_error(NULL, CCL_ERR_INVALID_ARG, "NULL output");
    if (h.flags & CCL_WIRE_SEGMENTED)
        return decode_segments(ops, &h, (const uint8_t *)src + CCL_WIRE_HDR_LEN, out, count,
                               accumulate);
    return ops->decode((const uint8_t *)src + CCL_WIRE_HDR_LEN, h.payload_len, h.params, h.seed,
                       out, count, accumulate);
}

ccl_result_t ccl_codec_check(const void *src, size_t len, size_t count)
{
    ccl_wire_hdr_t h;
    const ccl_codec_ops_t *ops = NULL;
    CCL_CHECK(wire_open(src, len, count, &h, &ops));
    if (ops->check == NULL)
        return ccl_set_error(NULL, CCL_ERR_UNSUPPORTED, "codec %s has no check without decoding",
                             ops->name);
    /* The GPU decoders read one payload: a segmented message (a layout's, which the host
     * decodes) is refused here. */
    if (h.flags & CCL_WIRE_SEGMENTED)
        return ccl_set_error(NULL, CCL_ERR_INVALID_PAYLOAD, "segmented %s payload where one "
                             "piece was expected", ops->name);
    return ops->check((const uint8_t *)src + CCL_WIRE_HDR_LEN, h.payload_len, h.params, count);
}

ccl_result_t ccl_codec_read_sparse(const void *src, size_t len, size_t count, uint32_t **idx_p,
                                   float **val_p, size_t *k_p)
{
    ccl_wire_hdr_t h;
    const ccl_codec_ops_t *ops = NULL;
    uint32_t *idx = NULL;
    float *val = NULL;
    ccl_result_t res;
    CCL_CHECK(wire_open(src, len, count, &h, &ops));
    if (!(ops->flags & CCL_CODEC_SPARSE))
        return ccl_set_error(NULL, CCL_ERR_INVALID_PAYLOAD, "codec id %u is not a sparse codec",
                             h.codec_id);
    if (h.params[0] > count)
        return ccl_set_error(NULL, CCL_ERR_INVALID_PAYLOAD, "sparse: k=%u of %zu elements",
                             h.params[0], count);
    size_t k = h.params[0];
    if ((idx = malloc(CCL_MAX(k, (size_t)1) * sizeof(uint32_t))) == NULL ||
        (val = malloc(CCL_MAX(k, (size_t)1) * sizeof(float))) == NULL) {
        free(idx);
        return ccl_set_error(NULL, CCL_ERR_NO_MEMORY, "no memory for %zu pairs", k);
    }
    res = ccl_sparse_read((const uint8_t *)src + CCL_WIRE_HDR_LEN, h.payload_len, h.params, h.seed,
                          count, idx, val);
    if (res != CCL_SUCCESS) {
        free(idx);
        free(val);
        return res;
    }
    *idx_p = idx;
    *val_p = val;
    *k_p = k;
    return CCL_SUCCESS;
}
