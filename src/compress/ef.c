/* ef.c: error-feedback state (classic, EF21, EF21-W, DGC) with checkpoints and a
 * non-finite-input policy. The steps are documented in ef.h. */
#include "compress/ef.h"
#include "compress/sparse.h"
#include "compress/wire.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define EF_MAGIC   0x45465a43u /* "CZFE" */
#define EF_VERSION 2u
#define EF_HDR_LEN 48u

static const char *const mode_names[] = {"none", "classic", "ef21", "ef21w", "dgc"};

int ccl_ef_mode_parse(const char *name)
{
    for (int m = 0; m < 5; m++)
        if (strcmp(name, mode_names[m]) == 0)
            return m;
    return -1;
}

const char *ccl_ef_mode_name(ccl_ef_mode_t mode)
{
    return (unsigned)mode < 5 ? mode_names[mode] : "?";
}

/* The host vectors current again, if a GPU held the state. */
static void on_host(ccl_ef_t *ef)
{
    if (ef->on_gpu && ef->to_host != NULL)
        ef->to_host(ef);
}

static int is_ef21(const ccl_ef_t *ef) { return ef->mode == CCL_EF_EF21 || ef->mode == CCL_EF_EF21W; }

/* n zeros whose pages are mapped now rather than by the first calls, whose buffers swap roles
 * (p becomes the residual) and would each fault their pages in during a collective. calloc
 * maps large blocks lazily, and a compiler may turn malloc + memset into calloc, so each page
 * is written through a volatile pointer. */
static float *zeros(size_t n)
{
    float *x = calloc(n, sizeof(float));
    if (x != NULL)
        for (size_t b = 0; b < n * sizeof(float); b += 4096)
            ((volatile char *)x)[b] = 0;
    return x;
}

ccl_result_t ccl_ef_create(size_t count, ccl_ef_mode_t mode, ccl_ef_t **ef_p)
{
    size_t n = CCL_MAX(count, (size_t)1);
    ccl_ef_t *ef;
    if ((unsigned)mode > CCL_EF_DGC)
        return ccl_set_error(NULL, CCL_ERR_INVALID_ARG, "unknown error-feedback mode %d", (int)mode);
    ef = calloc(1, sizeof(*ef));
    /* Every per-call buffer is allocated once here, not on every step; without error
     * feedback the gradient is encoded as it is and nothing is reconstructed. */
    if (ef == NULL || (ef->residual = zeros(n)) == NULL ||
        (mode != CCL_EF_NONE && (ef->p = zeros(n)) == NULL) ||
        (mode != CCL_EF_NONE && (ef->recon = zeros(n)) == NULL) ||
        (mode == CCL_EF_DGC && (ef->u = zeros(n)) == NULL) ||
        (mode == CCL_EF_DGC && (ef->velocity = zeros(n)) == NULL) ||
        ((mode == CCL_EF_EF21 || mode == CCL_EF_EF21W) && (ef->global = zeros(n)) == NULL)) {
        ccl_ef_destroy(ef);
        return ccl_set_error(NULL, CCL_ERR_NO_MEMORY, "no memory for the error-feedback state "
                             "of %zu elements", count);
    }
    ef->mode = mode;
    ef->count = count;
    ef->nranks = 1;
    ef->weight = 1.0f;
    *ef_p = ef;
    return CCL_SUCCESS;
}

void ccl_ef_destroy(ccl_ef_t *ef)
{
    if (ef != NULL) {
        if (ef->gpu != NULL && ef->gpu_free != NULL)
            ef->gpu_free(ef);
        free(ef->residual);
        free(ef->velocity);
        free(ef->global);
        free(ef->p);
        free(ef->recon);
        free(ef->u);
    }
    free(ef);
}

void ccl_ef_reset(ccl_ef_t *ef)
{
    size_t bytes = ef->count * sizeof(float);
    on_host(ef);
    memset(ef->residual, 0, bytes);
    if (ef->velocity)
        memset(ef->velocity, 0, bytes);
    if (ef->global)
        memset(ef->global, 0, bytes);
    ef->steps = ef->skipped = 0;
}

ccl_result_t ccl_ef_set_group(ccl_ef_t *ef, int nranks, float weight)
{
    if (nranks < 1 || !(weight <= 1) || !isfinite(weight))
        return ccl_set_error(NULL, CCL_ERR_INVALID_ARG, "bad group: %d ranks, weight %g", nranks, weight);
    ef->nranks = nranks;
    ef->weight = weight > 0 ? weight : 1.0f / (float)nranks;
    return CCL_SUCCESS;
}


static void swap_bufs(float **a, float **b)
{
    float *t = *a;
    *a = *b;
    *b = t;
}

/* DGC: each rank clips its gradient to norm clip/sqrt(P) (1 when off or within); the sum of
 * squares in elem.h's fixed order, as the GPU takes it. */
static float dgc_clip_scale(const ccl_ef_t *ef, const ccl_dgc_params_t *d, const float *g)
{
    if (d->clip <= 0)
        return 1.0f;
    return ccl_dgc_clip_scale(ccl_fixed_sum(g, ef->count, CCL_SUM_SQ, 0, NULL), d->clip, ef->nranks);
}

/* Blocks small enough to stay in the cache between the passes over them. */
#define EF_BLOCK 2048

#define NONFINITE(x) ((ccl_f32_bits(x) & 0x7f800000u) == 0x7f800000u)
/* p[i] = RULE for i in [0, m), checking g and p for NaN and infinities in the same pass. */
#define EF_LOOP(RULE)                                                                        \
    for (size_t i = 0; i < m; i++) {                                                         \
        const float v_ = (RULE);                                                             \
        p[i] = v_;                                                                           \
        bad_g |= NONFINITE(g[i]);                                                            \
        bad_p |= NONFINITE(v_);                                                              \
    }

/* p[0..m) for the elements from `at`, by the mode's rule (ef.h); DGC's momentum correction
 * goes to the scratch u (the state changes at commit). One branch-free pass, so that it
 * vectorises: bit 0 of the result says that g holds a NaN or an infinity, bit 1 that p does
 * (a finite g plus a finite state can overflow). */
__attribute__((target_clones("avx2", "default")))
static uint32_t combine(const ccl_ef_t *ef, const ccl_codec_t *codec, float clip_scale, size_t at,
                        const float *restrict g, float *restrict p, size_t m)
{
    const float *restrict e = ef->residual + at;
    uint32_t bad_g = 0, bad_p = 0;
    switch (ef->mode) {
    case CCL_EF_NONE:
        for (size_t i = 0; i < m; i++)
            bad_g |= NONFINITE(g[i]);
        break;
    case CCL_EF_CLASSIC:
        EF_LOOP(g[i] + e[i]);
        break;
    case CCL_EF_EF21:
        EF_LOOP(g[i] - e[i]);
        break;
    case CCL_EF_EF21W: {
        const float inv_n = 1.0f / (float)ef->nranks, w = ef->weight;
        EF_LOOP(ccl_ef21w_p(g[i], e[i], inv_n, w));
        break;
    }
    case CCL_EF_DGC: {
        const ccl_dgc_params_t *d = &codec->params.dgc;
        const float mo = d->momentum, *restrict vel = ef->velocity + at;
        float *restrict u = ef->u + at;
        if (d->nesterov)
            EF_LOOP(ccl_dgc_p(g[i], e[i], vel[i], clip_scale, mo, 1, &u[i]))
        else
            EF_LOOP(ccl_dgc_p(g[i], e[i], vel[i], clip_scale, mo, 0, &u[i]))
        break;
    }
    }
    return bad_g | bad_p << 1;
}

void ccl_ef_prepare_begin(ccl_ef_t *ef, const ccl_codec_t *codec, const float *g,
                          const float **p_p, ccl_codec_t *eff, float *clip_scale)
{
    on_host(ef);
    /* This step's codec first, also for a step that is refused later: the collective still
     * runs (it sends the skip token) and sizes the other ranks' messages by it. */
    ccl_ef_step_codec(ef, codec, eff);
    *clip_scale = ef->mode == CCL_EF_DGC ? dgc_clip_scale(ef, &codec->params.dgc, g) : 1.0f;
    /* Without error feedback the gradient is compressed as it is: no copy. */
    *p_p = ef->mode == CCL_EF_NONE ? g : ef->p;
}

ccl_result_t ccl_ef_prepare_range(ccl_ef_t *ef, const ccl_codec_t *codec, const float *g,
                                  float clip_scale, size_t off, size_t len)
{
    float *p = ef->mode == CCL_EF_NONE ? NULL : ef->p;
    for (size_t lo = off; lo < off + len; lo += EF_BLOCK) {
        const size_t m = CCL_MIN((size_t)EF_BLOCK, off + len - lo);
        const uint32_t bad = combine(ef, codec, clip_scale, lo, g + lo, p != NULL ? p + lo : NULL, m);
        if (bad & 1)
            for (size_t i = lo; i < lo + m; i++)
                if (!isfinite(g[i]))
                    return ccl_set_error(NULL, CCL_ERR_INVALID_ARG, "non-finite gradient at index "
                                         "%zu: step skipped, error feedback kept", i);
        if (bad & 2) /* send the gradient alone where g + state overflowed */
            for (size_t i = lo; i < lo + m; i++)
                if (!isfinite(p[i]))
                    p[i] = g[i];
    }
    return CCL_SUCCESS;
}

ccl_result_t ccl_ef_prepare(ccl_ef_t *ef, const ccl_codec_t *codec, const float *g,
                            const float **p_p, ccl_codec_t *eff)
{
    float clip_scale;
    ccl_ef_prepare_begin(ef, codec, g, p_p, eff, &clip_scale);
    ccl_result_t res = ccl_ef_prepare_range(ef, codec, g, clip_scale, 0, ef->count);
    if (res != CCL_SUCCESS)
        ef->skipped++;
    return res;
}

void ccl_ef_step_codec(ccl_ef_t *ef, const ccl_codec_t *codec, ccl_codec_t *eff)
{
    *eff = *codec;
    /* Classic error feedback with a dense codec takes the new residual straight from the
     * encoder (commit then swaps buffers instead of making a pass); with a sparse codec it
     * subtracts the few decoded values from p, as DGC does. The other modes need the
     * decoded values. */
    ef->sparse_sent = codec->ops != NULL && (codec->ops->flags & CCL_CODEC_SPARSE);
    eff->params.fb_residual = ef->mode == CCL_EF_CLASSIC && !ef->sparse_sent;
    if (ef->mode == CCL_EF_DGC) {
        ef->masking = codec->params.dgc.masking;
        const ccl_layout_t *lay = codec->params.layout;
        ef->whole = codec->params.dense_1d && lay != NULL && lay->total == ef->count ? lay : NULL;
        eff->params.ratio = ccl_dgc_ratio(&codec->params.dgc, codec->params.ratio, ef->steps);
        if (eff->params.ratio != codec->params.ratio)
            eff->params.k = 0;
        eff->params.dgc.warmup_steps = 0; /* this step's codec: the ratio is settled */
    }
}

/* Where e = p - sent: p becomes e by a swap of buffers (DGC's new momentum u becomes the
 * velocity likewise) and only the sent elements are touched afterwards. Returns the velocity
 * whose sent elements restart from zero (DGC's masking), or NULL. */
static float *adopt_p(ccl_ef_t *ef)
{
    swap_bufs(&ef->residual, &ef->p);
    if (ef->mode != CCL_EF_DGC)
        return NULL;
    swap_bufs(&ef->velocity, &ef->u);
    return ef->masking ? ef->velocity : NULL;
}

/* Walks a commit's sent elements in index order through ef->whole's tensors. */
typedef struct {
    const ccl_layout_t *lay;
    int t;
} mask_walk_t;

/* Whether masking restarts sent element i's momentum: not in a tensor that went whole (a
 * bias or a norm under dense_1d), which is momentum SGD's as DGC's reference leaves it. */
static inline int masks(mask_walk_t *w, size_t i)
{
    if (w->lay == NULL)
        return 1;
    while (w->t + 1 < w->lay->n && i >= w->lay->off[w->t] + w->lay->count[w->t])
        w->t++;
    return w->lay->rows[w->t] != 0;
}

/* One sent element i, decoded as v (non-zero: a sent zero counts as nothing sent). */
static inline void take_sent(ccl_ef_t *ef, float *velocity, mask_walk_t *w, size_t i, float v)
{
    ef->residual[i] -= v;
    if (velocity != NULL && masks(w, i))
        velocity[i] = 0.0f;
}

/* e = p - recon after adopt_p: the non-zeros of recon, found a block at a time by
 * ccl_sparse_collect's vector scan. */
static void subtract_sent(ccl_ef_t *ef, float *velocity, const float *recon)
{
    uint32_t idx[EF_BLOCK];
    mask_walk_t w = {ef->whole, 0};
    for (size_t lo = 0; lo < ef->count; lo += EF_BLOCK) {
        const size_t m = CCL_MIN((size_t)EF_BLOCK, ef->count - lo);
        const size_t hits = ccl_sparse_collect(recon + lo, m, 1, idx, EF_BLOCK);
        for (size_t j = 0; j < hits; j++)
            take_sent(ef, velocity, &w, lo + idx[j], recon[lo + idx[j]]);
    }
}

void ccl_ef_commit(ccl_ef_t *ef, float *recon)
{
    size_t n = ef->count;
    on_host(ef);
    switch (ef->mode) {
    case CCL_EF_NONE:
        break;
    case CCL_EF_CLASSIC:
    case CCL_EF_DGC:
        if (ef->mode == CCL_EF_CLASSIC && !ef->sparse_sent) {
            /* recon holds p - decoded (fb_residual): it becomes the residual. */
            swap_bufs(&ef->residual, &ef->recon);
        } else { /* recon holds the decoded values */
            float *velocity = adopt_p(ef);
            subtract_sent(ef, velocity, recon);
        }
        break;
    case CCL_EF_EF21:
        for (size_t i = 0; i < n; i++)
            ef->residual[i] += recon[i];
        break;
    case CCL_EF_EF21W:
        for (size_t i = 0; i < n; i++)
            ef->residual[i] += recon[i] / ef->weight;
        break;
    }
    ef->steps++;
}

int ccl_ef_commits_list(const ccl_ef_t *ef)
{
    return ef->sparse_sent && (ef->mode == CCL_EF_CLASSIC || ef->mode == CCL_EF_DGC);
}

void ccl_ef_commit_list(ccl_ef_t *ef, const uint32_t *idx, const float *val, size_t k)
{
    on_host(ef);
    float *velocity = adopt_p(ef);
    mask_walk_t w = {ef->whole, 0};
    for (size_t j = 0; j < k; j++) /* idx ascending, as every sparse payload's */
        if (val[j] != 0) /* as in recon, where a sent zero is nothing sent */
            take_sent(ef, velocity, &w, idx[j], val[j]);
    ef->steps++;
}

void ccl_ef_skip_step(ccl_ef_t *ef)
{
    ef->steps++;
}

void ccl_ef_aggregate(ccl_ef_t *ef, float *sum)
{
    if (!is_ef21(ef))
        return;
    on_host(ef);
    float scale = ef->mode == CCL_EF_EF21W ? (float)ef->nranks : 1.0f;
    for (size_t i = 0; i < ef->count; i++) {
        ef->global[i] += sum[i];
        sum[i] = ef->global[i] * scale;
    }
}

float *ccl_ef_recon(ccl_ef_t *ef) { return ef->mode == CCL_EF_NONE ? NULL : ef->recon; }

ccl_result_t ccl_ef_encode(ccl_ef_t *ef, const ccl_codec_t *codec, const float *g,
                           uint64_t seed, void *dst, size_t cap, size_t *len_p)
{
    const float *p;
    ccl_codec_t eff;
    CCL_CHECK(ccl_ef_prepare(ef, codec, g, &p, &eff));
    CCL_CHECK(ccl_codec_encode(&eff, p, ef->count, seed, dst, cap, len_p, ccl_ef_recon(ef)));
    ccl_ef_commit(ef, ccl_ef_recon(ef));
    return CCL_SUCCESS;
}

/* The state's vectors in checkpoint order. */
static int state_vectors(const ccl_ef_t *ef, float *v[3])
{
    int n = 0;
    v[n++] = ef->residual;
    if (ef->velocity)
        v[n++] = ef->velocity;
    if (ef->global)
        v[n++] = ef->global;
    return n;
}

size_t ccl_ef_saved_size(const ccl_ef_t *ef)
{
    float *v[3];
    return EF_HDR_LEN + (size_t)state_vectors(ef, v) * 4 * ef->count;
}

ccl_result_t ccl_ef_save(const ccl_ef_t *ef, void *buf, size_t cap, size_t *len_p)
{
    uint8_t *b = buf, *at;
    float *v[3];
    on_host((ccl_ef_t *)ef); /* the state's value is unchanged; only where it lives */
    int nv = state_vectors(ef, v);
    if (b == NULL || cap < ccl_ef_saved_size(ef))
        return ccl_set_error(NULL, CCL_ERR_INVALID_ARG, "checkpoint needs %zu bytes",
                             ccl_ef_saved_size(ef));
    memset(b, 0, EF_HDR_LEN);
    ccl_put_u32(b, EF_MAGIC);
    ccl_put_u32(b + 4, EF_VERSION);
    ccl_put_u32(b + 8, (uint32_t)ef->mode);
    ccl_put_u64(b + 16, ef->count);
    ccl_put_u64(b + 24, ef->steps);
    ccl_put_u64(b + 32, ef->skipped);
    ccl_put_u32(b + 40, (uint32_t)ef->nranks);
    ccl_put_f32(b + 44, ef->weight);
    at = b + EF_HDR_LEN;
    for (int k = 0; k < nv; k++)
        for (size_t i = 0; i < ef->count; i++, at += 4)
            ccl_put_f32(at, v[k][i]);
    *len_p = ccl_ef_saved_size(ef);
    return CCL_SUCCESS;
}

ccl_result_t ccl_ef_restore(ccl_ef_t *ef, const void *buf, size_t len)
{
    const uint8_t *b = buf, *at;
    float *v[3], w;
    on_host(ef);
    int nv = state_vectors(ef, v);
    size_t total = (size_t)nv * ef->count;
    if (b == NULL || len < EF_HDR_LEN || ccl_get_u32(b) != EF_MAGIC ||
        ccl_get_u32(b + 4) != EF_VERSION || ccl_get_u32(b + 12) != 0)
        return ccl_set_error(NULL, CCL_ERR_INVALID_PAYLOAD, "not an error-feedback checkpoint "
                             "(version %u)", EF_VERSION);
    if (ccl_get_u32(b + 8) != (uint32_t)ef->mode)
        return ccl_set_error(NULL, CCL_ERR_INVALID_PAYLOAD, "checkpoint is for error feedback '%s', "
                             "this buffer uses '%s'", ccl_ef_mode_name(ccl_get_u32(b + 8)),
                             ccl_ef_mode_name(ef->mode));
    if (ccl_get_u64(b + 16) != ef->count || len != ccl_ef_saved_size(ef))
        return ccl_set_error(NULL, CCL_ERR_INVALID_PAYLOAD,
                             "checkpoint is for %llu elements, this buffer has %zu",
                             (unsigned long long)ccl_get_u64(b + 16), ef->count);
    w = ccl_get_f32(b + 44);
    if (ccl_get_u32(b + 40) < 1 || ccl_get_u32(b + 40) > (1u << 24) || !(w > 0 && w <= 1))
        return ccl_set_error(NULL, CCL_ERR_INVALID_PAYLOAD, "checkpoint has a bad group");
    for (size_t i = 0; i < total; i++)
        if (!isfinite(ccl_get_f32(b + EF_HDR_LEN + 4 * i)))
            return ccl_set_error(NULL, CCL_ERR_INVALID_PAYLOAD, "checkpoint value %zu is not finite", i);
    at = b + EF_HDR_LEN;
    for (int k = 0; k < nv; k++)
        for (size_t i = 0; i < ef->count; i++, at += 4)
            v[k][i] = ccl_get_f32(at);
    ef->steps = ccl_get_u64(b + 24);
    ef->skipped = ccl_get_u64(b + 32);
    ef->nranks = (int)ccl_get_u32(b + 40);
    ef->weight = w;
    return CCL_SUCCESS;
}
