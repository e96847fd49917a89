/* compressed.c: compressors (spec parsing, state, checkpoints), the two compressed entry
 * points, and "auto": a measured cost model that picks compression only where it pays. */
#include "compressed.h"
#include "../core/config.h"
#include "../core/reduce.h"
#include "../compress/wire.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const ccl_calgo_t *const ccl_calgos[] = {
    &ccl_callreduce_sra, &ccl_callreduce_ring, &ccl_callreduce_tree,
    &ccl_callreduce_sparse_allgather, &ccl_callreduce_sparse_rd,
    &ccl_callreduce_sparse_split, &ccl_callreduce_sign_vote, &ccl_callreduce_powersgd,
    &ccl_callgather_direct, NULL,
};

/* auto's compressed path, and the same codec without state for the start-up measurement:
 * without algo=, both take the cost model's algorithm for the size, so the measurement
 * times what auto will run. */
#define AUTO_SPEC       "int:bits=8,ef=classic"
#define AUTO_PROBE_SPEC "int:bits=8,ef=none"

static uint32_t codec_kind(const ccl_codec_t *c)
{
    if (c->ops->flags & CCL_CODEC_SPARSE)
        return CCL_CALGO_SPARSE;
    if (c->ops->id == CCL_CODEC_ID_SIGN && c->params.sign_scale == CCL_SIGN_SCALE_NONE)
        return CCL_CALGO_SIGN | CCL_CALGO_DENSE;
    return CCL_CALGO_DENSE;
}

static int is_float_type(ccl_datatype_t dt)
{
    return dt == CCL_FLOAT32 || dt == CCL_FLOAT16 || dt == CCL_BFLOAT16;
}

uint64_t ccl_comp_seed(const struct ccl_compressor *c, int rank, uint32_t chunk)
{
    uint64_t key[3] = {c->ef->steps, (uint64_t)chunk,
                       (c->codec.ops->flags & CCL_CODEC_NEEDS_SHARED_SEED) ? 0 : (uint64_t)rank + 1};
    return ccl_hash64(key, sizeof(key), c->spec_hash);
}

int ccl_comp_is_skip(const void *buf, size_t len)
{
    return len == CCL_SKIP_TOKEN_LEN && memcmp(buf, CCL_SKIP_TOKEN, CCL_SKIP_TOKEN_LEN) == 0;
}

ccl_result_t ccl_comp_encode_own(struct ccl_compressor *c, int rank, uint8_t *dst, size_t cap,
                                 size_t *len_p, float *recon, int *skip)
{
    ccl_result_t res = ccl_codec_encode(&c->eff, c->p, c->count, ccl_comp_seed(c, rank, 0), dst,
                                        cap, len_p, recon);
    if (res != CCL_ERR_INVALID_ARG || !c->check_in_encoder || ccl_all_finite(c->p, c->count))
        return res;
    /* The encoder found what the prepare's check would have: skip as the prepare would. */
    c->local_bad = 1;
    c->ef->skipped++;
    *skip = 1;
    return CCL_SUCCESS;
}

ccl_result_t ccl_comp_skip_result(ccl_coll_ctx_t *ctx)
{
    struct ccl_compressor *c = ctx->args->comp;
    if (!c->local_bad)
        c->ef->skipped++;
    ctx->keep_comm = 1;
    return ccl_set_error(ctx->comm, CCL_ERR_INVALID_ARG,
                         "%s: %s; the step is skipped on every rank and the error-feedback "
                         "state kept", ccl_coll_name(ctx->args->coll),
                         c->local_bad ? "a gradient holds NaN or Inf on this rank"
                                      : "a gradient holds NaN or Inf on another rank, or a sum "
                                        "of finite gradients overflowed float32");
}

ccl_result_t ccl_comp_encode(ccl_coll_ctx_t *ctx, const float *src, size_t n, uint64_t seed,
                             uint8_t *dst, size_t cap, size_t *len_p, float *recon, int *skip)
{
    ccl_result_t res = CCL_SUCCESS;
    if (!*skip) {
        res = ccl_codec_encode(&ctx->args->comp->eff, src, n, seed, dst, cap, len_p, recon);
        /* The encoders refuse non-finite input; only then is the input read again. */
        if (res == CCL_ERR_INVALID_ARG && !ccl_all_finite(src, n))
            *skip = 1;
        else if (res != CCL_SUCCESS)
            return ccl_set_error(ctx->comm, res, "encoding: %s", ccl_get_last_error(NULL));
    }
    if (*skip) {
        memcpy(dst, CCL_SKIP_TOKEN, CCL_SKIP_TOKEN_LEN);
        *len_p = CCL_SKIP_TOKEN_LEN;
    }
    return CCL_SUCCESS;
}

void ccl_comp_sent_exact(const struct ccl_compressor *c, float *recon, size_t off, size_t len)
{
    if (recon == NULL)
        return;
    if (c->eff.params.fb_residual)
        memset(recon + off, 0, len * sizeof(float));
    else
        memcpy(recon + off, c->p + off, len * sizeof(float));
}

ccl_result_t ccl_comp_commit(struct ccl_compressor *c, float *recon, size_t count)
{
    uint32_t *idx;
    float *val;
    size_t k;
    if (c->own_msg == NULL) {
        ccl_ef_commit(c->ef, recon);
        return CCL_SUCCESS;
    }
    CCL_CHECK(ccl_codec_read_sparse(c->own_msg, c->own_len, count, &idx, &val, &k));
    ccl_ef_commit_list(c->ef, idx, val, k);
    free(idx);
    free(val);
    return CCL_SUCCESS;
}

ccl_result_t ccl_comp_finish(ccl_coll_ctx_t *ctx, float *recon, float *out, size_t count)
{
    struct ccl_compressor *c = ctx->args->comp;
    if (c->dev != NULL) /* an allgather only commits: EF21 is refused there, op is a sum */
        return c->dev->finish(c, out, count,
                              ctx->args->coll == CCL_COLL_ALLREDUCE ? ctx->args->op : CCL_SUM,
                              ctx->comm->nranks);
    CCL_CHECK(ccl_comp_commit(c, recon, count));
    if (ctx->args->coll != CCL_COLL_ALLREDUCE)
        return CCL_SUCCESS;
    ccl_ef_aggregate(c->ef, out);
    if (ctx->args->op == CCL_AVG) {
        float inv = 1.0f / (float)ctx->comm->nranks;
        for (size_t i = 0; i < count; i++)
            out[i] *= inv;
    }
    return CCL_SUCCESS;
}

void *ccl_comp_alloc(ccl_coll_ctx_t *ctx, size_t bytes)
{
    void *p = ccl_comm_scratch(ctx->comm, CCL_MAX(bytes, (size_t)64));
    if (p == NULL)
        ccl_set_error(ctx->comm, CCL_ERR_NO_MEMORY, "no memory for %zu bytes of messages", bytes);
    return p;
}

ccl_result_t ccl_comp_exchange(ccl_coll_ctx_t *ctx, uint8_t ***slot_p, size_t **len_p,
                               int *skip_p)
{
    struct ccl_compressor *c = ctx->args->comp;
    struct ccl_comm *comm = ctx->comm;
    const int P = comm->nranks, r = comm->rank;
    size_t cap = CCL_MAX(ccl_codec_max_encoded_size(&c->eff, c->count), (size_t)CCL_SKIP_TOKEN_LEN);
    ccl_p2p_req_t *reqs;
    ccl_result_t res;
    CCL_CHECK(ccl_ctx_reqs(ctx, 2 * P, &reqs));
    if (cap > SIZE_MAX / (size_t)P / 2)
        return ccl_set_error(comm, CCL_ERR_INVALID_ARG, "messages too large");
    /* One block of the communicator's scratch: the pointer and length tables, then the
     * slots. */
    size_t tables = (size_t)P * (sizeof(uint8_t *) + sizeof(size_t));
    uint8_t *mem = ccl_comp_alloc(ctx, tables + (size_t)P * cap);
    if (mem == NULL)
        return CCL_ERR_NO_MEMORY;
    uint8_t **slot = (uint8_t **)(void *)mem;
    size_t *len = (size_t *)(void *)(slot + P);
    for (int i = 0; i < P; i++)
        slot[i] = mem + tables + (size_t)i * cap;
    for (int i = 0; i < P; i++)
        if (i != r)
            CCL_CHECK(ccl_p2p_irecv_v(ctx, i, 0, slot[i], cap, &reqs[i]));
    if (!c->local_bad && c->dev != NULL) {
        CCL_CHECK(c->dev->encode(c, ccl_comp_seed(c, r, 0), slot[r], cap, &len[r]));
    } else if (!c->local_bad) {
        /* Where the state can commit from this message, no reconstruction is written. */
        const int list = ccl_ef_commits_list(c->ef);
        CCL_CHECK(ccl_comp_encode_own(c, r, slot[r], cap, &len[r], list ? NULL : ccl_ef_recon(c->ef),
                                      skip_p));
        c->own_msg = list ? slot[r] : NULL;
        c->own_len = len[r];
    }
    *skip_p = c->local_bad;
    if (c->local_bad) {
        memcpy(slot[r], CCL_SKIP_TOKEN, CCL_SKIP_TOKEN_LEN);
        len[r] = CCL_SKIP_TOKEN_LEN;
        c->own_msg = NULL;
    }
    for (int t = 1; t < P; t++) {
        int i = (r + t) % P;
        CCL_CHECK(ccl_p2p_isend_v(ctx, i, 0, slot[r], len[r], cap, &reqs[P + i]));
    }
    for (int i = 0; i < P; i++) {
        if (i == r)
            continue;
        if ((res = ccl_p2p_wait(ctx, &reqs[i])) != CCL_SUCCESS)
            return res;
        len[i] = reqs[i].len;
        *skip_p |= ccl_comp_is_skip(slot[i], len[i]);
    }
    CCL_CHECK(ccl_p2p_waitall(ctx, reqs + P, P));
    *slot_p = slot;
    *len_p = len;
    return CCL_SUCCESS;
}

ccl_result_t ccl_comp_exchange_sum(ccl_coll_ctx_t *ctx, float *out, int *skip_p)
{
    size_t count = ctx->args->count, *len;
    uint8_t **slot;
    CCL_CHECK(ccl_comp_exchange(ctx, &slot, &len, skip_p));
    if (*skip_p)
        return CCL_SUCCESS;
    if (ctx->args->comp->dev != NULL)
        CCL_CHECK(ctx->args->comp->dev->zero(ctx->args->comp, out, count));
    else
        memset(out, 0, count * sizeof(float));
    for (int i = 0; i < ctx->comm->nranks; i++)
        CCL_CHECK(ccl_comp_decode_from(ctx, i, slot[i], len[i], out, count, 1));
    return CCL_SUCCESS;
}

ccl_result_t ccl_comp_take(ccl_coll_ctx_t *ctx, ccl_p2p_req_t *req, const uint8_t *msg, float *out,
                           size_t count, int accumulate, int *skip)
{
    CCL_CHECK(ccl_p2p_wait(ctx, req));
    if (ccl_comp_is_skip(msg, req->len))
        *skip = 1;
    else if (!*skip)
        return ccl_comp_decode_from(ctx, req->peer, msg, req->len, out, count, accumulate);
    return CCL_SUCCESS;
}

ccl_result_t ccl_comp_decode_from(ccl_coll_ctx_t *ctx, int peer, const uint8_t *buf, size_t len,
                                  float *out, size_t count, int accumulate)
{
    struct ccl_compressor *c = ctx->args->comp;
    ccl_result_t res = c->dev != NULL ? c->dev->decode(c, buf, len, out, count, accumulate)
                                      : ccl_codec_decode(buf, len, out, count, accumulate);
    if (res == CCL_SUCCESS)
        return CCL_SUCCESS;
    if (res != CCL_ERR_INVALID_PAYLOAD)
        return ccl_set_error(ctx->comm, res, "decoding rank %d's payload: %s", peer,
                             ccl_get_last_error(NULL));
    return ccl_set_error(ctx->comm, CCL_ERR_INVALID_PAYLOAD, "rank %d sent a bad payload: %s",
                         peer, ccl_get_last_error(NULL));
}

/* ---- specs ---- */

static const ccl_calgo_t *calgo_by_name(const char *name, ccl_coll_t coll)
{
    for (int i = 0; ccl_calgos[i] != NULL; i++)
        if (ccl_calgos[i]->base.coll == coll && strcmp(ccl_calgos[i]->base.name, name) == 0)
            return ccl_calgos[i];
    return NULL;
}

/* PowerSGD is no stream codec: its own parameters, error feedback none or classic. */
static ccl_result_t parse_powersgd(struct ccl_compressor *c, const char *codec_spec,
                                   const char *ef, const char *algo)
{
    ccl_powersgd_params_t p;
    CCL_CHECK(ccl_powersgd_parse(codec_spec, c->count, &p));
    if (ef[0] != '\0' && strcmp(ef, "none") != 0 && strcmp(ef, "classic") != 0)
        return ccl_set_error(NULL, CCL_ERR_INVALID_ARG, "ef=%s: powersgd takes ef=none or ef=classic", ef);
    if (algo[0] != '\0' && strcmp(algo, "powersgd") != 0)
        return ccl_set_error(NULL, CCL_ERR_INVALID_ARG, "algo=%s cannot carry powersgd", algo);
    c->ef_mode = strcmp(ef, "none") == 0 ? CCL_EF_NONE : CCL_EF_CLASSIC;
    c->algo = &ccl_callreduce_powersgd;
    snprintf(c->spec, sizeof(c->spec), "powersgd:rank=%u,rows=%zu,warm=%d,seed=%llu,ef=%s,algo=powersgd",
             p.rank, p.rows, p.warm, (unsigned long long)p.seed, ccl_ef_mode_name(c->ef_mode));
    if (!ccl_powersgd_pays(&p)) {
        ccl_info("powersgd: %zu x %zu at rank %u is no smaller than the matrix; exact path",
                 p.rows, p.cols, p.rank);
        c->none = 1;
        return CCL_SUCCESS;
    }
    return ccl_powersgd_create(&p, &c->lowrank);
}

/* A spec without algo=: majority vote for sign:scale=none, the sparse allgather for sparse
 * codecs, and for dense ones the cheapest estimate among the algorithms that have one (sra,
 * or the tree for small, latency-bound buffers). The ring is never chosen this way: it
 * quantizes an element P - 1 times where sra does twice. The estimate depends on the codec,
 * count and rank count alone, so every rank chooses alike. */
const ccl_calgo_t *ccl_comp_default_algo(struct ccl_compressor *c, double *us_p)
{
    const uint32_t kind = codec_kind(&c->codec);
    *us_p = -1;
    if (kind & CCL_CALGO_SIGN)
        return &ccl_callreduce_sign_vote;
    if (kind & CCL_CALGO_SPARSE)
        return &ccl_callreduce_sparse_allgather;
    const ccl_calgo_t *best = &ccl_callreduce_sra;
    ccl_coll_args_t a = {.coll = CCL_COLL_ALLREDUCE, .count = c->count, .dtype = CCL_FLOAT32,
                         .dt_size = sizeof(float), .comp = c};
    for (int i = 0; ccl_calgos[i] != NULL; i++) {
        const ccl_calgo_t *al = ccl_calgos[i];
        if (al->base.coll != CCL_COLL_ALLREDUCE || !(al->kinds & CCL_CALGO_DENSE) ||
            al->base.estimate_us == NULL)
            continue;
        double us = al->base.estimate_us(&a, c->nranks);
        if (*us_p < 0 || us < *us_p) { /* ties: the earlier in ccl_calgos */
            *us_p = us;
            best = al;
        }
    }
    return best;
}

/* Splits the handle's keys (ef, weight, algo) off the codec spec, parses both, and writes
 * the normalised spec. */
static ccl_result_t parse_spec(struct ccl_compressor *c, const char *spec, float *weight_p)
{
    char codec_spec[256], item[128], ef[128] = "", algo[128] = "";
    size_t n = strcspn(spec, ":"), clen;
    const char *p = spec + n;
    if (n >= sizeof(codec_spec) || strlen(spec) >= sizeof(codec_spec))
        return ccl_set_error(NULL, CCL_ERR_INVALID_ARG, "compression spec too long: '%s'", spec);
    memcpy(codec_spec, spec, n);
    clen = n;
    codec_spec[clen] = '\0';
    *weight_p = 0;
    if (*p == ':')
        p++;
    while (*p != '\0') {
        size_t len = strcspn(p, ",");
        snprintf(item, sizeof(item), "%.*s", (int)CCL_MIN(len, sizeof(item) - 1), p);
        p += len + (p[len] == ',');
        if (strncmp(item, "ef=", 3) == 0) {
            snprintf(ef, sizeof(ef), "%s", item + 3);
        } else if (strncmp(item, "algo=", 5) == 0) {
            snprintf(algo, sizeof(algo), "%s", item + 5);
        } else if (strncmp(item, "weight=", 7) == 0) {
            double w;
            if (ccl_param_double(item + 7, 1e-9, 1, &w) != 0)
                return ccl_set_error(NULL, CCL_ERR_INVALID_ARG, "weight=%s: want a number in (0, 1]",
                                     item + 7);
            *weight_p = (float)w;
        } else {
            clen += (size_t)snprintf(codec_spec + clen, sizeof(codec_spec) - clen, "%s%s",
                                     strchr(codec_spec, ':') ? "," : ":", item);
        }
    }
    if (strcmp(codec_spec, "powersgd") == 0 || strncmp(codec_spec, "powersgd:", 9) == 0)
        return parse_powersgd(c, codec_spec, ef, algo);
    CCL_CHECK(ccl_codec_parse(codec_spec, &c->codec));
    uint32_t kind = codec_kind(&c->codec);
    if (ef[0] == '\0')
        c->ef_mode = c->codec.ops->id == CCL_CODEC_ID_DGC ? CCL_EF_DGC
                   : (kind & CCL_CALGO_SIGN) ? CCL_EF_NONE : CCL_EF_CLASSIC;
    else if (ccl_ef_mode_parse(ef) < 0 || strcmp(ef, "dgc") == 0)
        return ccl_set_error(NULL, CCL_ERR_INVALID_ARG,
                             "ef=%s: want none, classic, ef21 or ef21w (dgc's state comes with "
                             "the dgc codec)", ef);
    else
        c->ef_mode = (ccl_ef_mode_t)ccl_ef_mode_parse(ef);
    if (algo[0] == '\0') {
        double us;
        c->algo = ccl_comp_default_algo(c, &us);
        if (us >= 0)
            ccl_info("%s for %zu elements on %d ranks: algorithm %s (cost model: %.0f us)",
                     c->codec.ops->name, c->count, c->nranks, c->algo->base.name, us);
    } else if ((c->algo = calgo_by_name(algo, CCL_COLL_ALLREDUCE)) == NULL)
        return ccl_set_error(NULL, CCL_ERR_INVALID_ARG,
                             "algo=%s: no compressed allreduce of that name (sra, ring, tree, "
                             "sparse_allgather, sparse_rd, sparse_split, sign_vote; powersgd "
                             "comes with the powersgd spec)", algo);
    if (!(c->algo->kinds & kind) || c->algo == &ccl_callreduce_powersgd)
        return ccl_set_error(NULL, CCL_ERR_INVALID_ARG, "algo=%s cannot carry codec %s%s",
                             algo, c->codec.ops->name,
                             c->algo == &ccl_callreduce_sign_vote ? " (sign_vote needs sign:scale=none)" : "");
    snprintf(c->spec, sizeof(c->spec), "%s%sef=%s,algo=%s", codec_spec,
             strchr(codec_spec, ':') ? "," : ":",
             c->ef_mode == CCL_EF_DGC ? "dgc" : ccl_ef_mode_name(c->ef_mode), c->algo->base.name);
    return CCL_SUCCESS;
}

static ccl_result_t auto_calibrate(struct ccl_comm *comm);
static ccl_result_t run_compressed(ccl_compressor_t c, ccl_comm_t comm, ccl_coll_t coll,
                                   const void *sendbuf, void *recvbuf, size_t out_count,
                                   ccl_redop_t op, const ccl_calgo_t *algo);

static ccl_result_t comp_create(struct ccl_comm *comm, const char *spec, size_t count,
                                ccl_datatype_t dtype, struct ccl_compressor **comp_p)
{
    struct ccl_compressor *c = calloc(1, sizeof(*c));
    float weight = 0;
    ccl_result_t res = CCL_SUCCESS;
    if (c == NULL)
        return ccl_set_error(comm, CCL_ERR_NO_MEMORY, "no memory for a compressor");
    c->count = count;
    c->dtype = dtype;
    c->rank = comm->rank;
    c->nranks = comm->nranks;
    if (strcmp(spec, "none") == 0) {
        c->none = 1;
        snprintf(c->spec, sizeof(c->spec), "none");
    } else if (strcmp(spec, "auto") == 0) {
        c->is_auto = 1;
        c->auto_decided = -1;
        snprintf(c->spec, sizeof(c->spec), "auto");
        res = comp_create(comm, AUTO_SPEC, count, dtype, &c->auto_sub);
    } else {
        res = parse_spec(c, spec, &weight);
        if (res == CCL_SUCCESS && is_float_type(dtype) && !c->none) {
            res = ccl_ef_create(count, c->ef_mode, &c->ef);
            if (res == CCL_SUCCESS)
                res = ccl_ef_set_group(c->ef, comm->nranks, weight);
        }
        if (res == CCL_SUCCESS && dtype != CCL_FLOAT32 && is_float_type(dtype) &&
            (c->f32_in = malloc(CCL_MAX(count, (size_t)1) * sizeof(float))) == NULL)
            res = ccl_set_error(comm, CCL_ERR_NO_MEMORY, "no memory for %zu floats", count);
    }
    c->spec_hash = ccl_hash64(c->spec, strlen(c->spec), 0x636f6d70ULL);
    if (res != CCL_SUCCESS) {
        ccl_set_error(comm, res, "%s", ccl_get_last_error(NULL));
        ccl_compressor_destroy(c);
        return res;
    }
    *comp_p = c;
    return CCL_SUCCESS;
}

ccl_result_t ccl_compressor_create(ccl_comm_t comm, const char *spec, size_t count,
                                   ccl_datatype_t dtype, ccl_compressor_t *comp_p)
{
    const char *env = ccl_config_get()->compress;
    if (comm == NULL || comp_p == NULL || spec == NULL)
        return ccl_set_error(NULL, CCL_ERR_INVALID_ARG, "%s is NULL",
                             comm == NULL ? "comm" : comp_p == NULL ? "comp_p" : "spec");
    if ((unsigned)dtype >= CCL_NUM_DATATYPES)
        return ccl_set_error(comm, CCL_ERR_INVALID_ARG, "unknown datatype %d", (int)dtype);
    if (env != NULL && env[0] != '\0') {
        ccl_info("CCLZ_COMPRESS=%s replaces the spec '%s'", env, spec);
        spec = env;
    }
    CCL_CHECK(comp_create(comm, spec, count, dtype, comp_p));
    if ((*comp_p)->is_auto && comm->automodel.done == 0) {
        ccl_result_t res = auto_calibrate(comm);
        if (res != CCL_SUCCESS) {
            ccl_compressor_destroy(*comp_p);
            *comp_p = NULL;
            return res;
        }
    }
    ccl_debug("rank %d: compressor '%s' for %zu elements", comm->rank, (*comp_p)->spec, count);
    return CCL_SUCCESS;
}

ccl_result_t ccl_compressor_destroy(ccl_compressor_t c)
{
    if (c == NULL)
        return CCL_SUCCESS;
    if (c->auto_sub)
        ccl_compressor_destroy(c->auto_sub);
    ccl_ef_destroy(c->ef);
    ccl_powersgd_destroy(c->lowrank);
    free(c->f32_in);
    free(c->f32_out);
    free(c);
    return CCL_SUCCESS;
}

ccl_result_t ccl_compressor_reset(ccl_compressor_t c)
{
    if (c == NULL)
        return ccl_set_error(NULL, CCL_ERR_INVALID_ARG, "compressor is NULL");
    if (c->auto_sub)
        return ccl_compressor_reset(c->auto_sub);
    if (c->ef)
        ccl_ef_reset(c->ef);
    if (c->lowrank)
        c->lowrank->have_q = 0;
    return CCL_SUCCESS;
}

const char *ccl_compressor_spec(ccl_compressor_t c) { return c ? c->spec : ""; }

/* Checkpoint: "CZCP", version 1, the spec hash, then the error-feedback state (if any),
 * then powersgd's warm start (if any). */
#define CP_HDR 16
static ccl_compressor_t state_owner(ccl_compressor_t c) { return c->auto_sub ? c->auto_sub : c; }

size_t ccl_compressor_state_size(ccl_compressor_t c)
{
    if (c == NULL)
        return 0;
    c = state_owner(c);
    return CP_HDR + (c->ef ? ccl_ef_saved_size(c->ef) : 0) +
           (c->lowrank ? ccl_powersgd_saved_size(c->lowrank) : 0);
}

ccl_result_t ccl_compressor_save(ccl_compressor_t c, void *buf, size_t cap, size_t *len_p)
{
    uint8_t *b = buf;
    size_t n = 0;
    if (c == NULL || buf == NULL || len_p == NULL)
        return ccl_set_error(NULL, CCL_ERR_INVALID_ARG, "NULL argument");
    if (cap < ccl_compressor_state_size(c))
        return ccl_set_error(NULL, CCL_ERR_INVALID_ARG, "checkpoint needs %zu bytes, got %zu",
                             ccl_compressor_state_size(c), cap);
    c = state_owner(c);
    memcpy(b, "CZCP", 4);
    ccl_put_u32(b + 4, 1);
    ccl_put_u32(b + 8, (uint32_t)c->spec_hash);
    ccl_put_u32(b + 12, (uint32_t)(c->spec_hash >> 32));
    if (c->ef)
        CCL_CHECK(ccl_ef_save(c->ef, b + CP_HDR, cap - CP_HDR, &n));
    if (c->lowrank) {
        ccl_powersgd_save(c->lowrank, b + CP_HDR + n);
        n += ccl_powersgd_saved_size(c->lowrank);
    }
    *len_p = CP_HDR + n;
    return CCL_SUCCESS;
}

ccl_result_t ccl_compressor_restore(ccl_compressor_t c, const void *buf, size_t len)
{
    const uint8_t *b = buf;
    if (c == NULL || buf == NULL)
        return ccl_set_error(NULL, CCL_ERR_INVALID_ARG, "NULL argument");
    c = state_owner(c);
    if (len < CP_HDR || memcmp(b, "CZCP", 4) != 0 || ccl_get_u32(b + 4) != 1)
        return ccl_set_error(NULL, CCL_ERR_INVALID_PAYLOAD, "not a cclz compressor checkpoint");
    if (ccl_get_u32(b + 8) != (uint32_t)c->spec_hash ||
        ccl_get_u32(b + 12) != (uint32_t)(c->spec_hash >> 32))
        return ccl_set_error(NULL, CCL_ERR_INVALID_PAYLOAD,
                             "checkpoint was saved by a compressor of another spec (this one: %s)", c->spec);
    if (c->ef == NULL)
        return len == CP_HDR ? CCL_SUCCESS
                             : ccl_set_error(NULL, CCL_ERR_INVALID_PAYLOAD, "checkpoint has extra bytes");
    if (c->lowrank == NULL)
        return ccl_ef_restore(c->ef, b + CP_HDR, len - CP_HDR);
    /* The error feedback, then the warm start: the warm start is checked first, and the
     * error feedback changes nothing when it refuses, so a bad checkpoint changes neither. */
    size_t ef_len = ccl_ef_saved_size(c->ef), lr_len = ccl_powersgd_saved_size(c->lowrank);
    if (len != CP_HDR + ef_len + lr_len)
        return ccl_set_error(NULL, CCL_ERR_INVALID_PAYLOAD, "checkpoint of %zu bytes, %zu expected",
                             len, CP_HDR + ef_len + lr_len);
    CCL_CHECK(ccl_powersgd_check(c->lowrank, b + CP_HDR + ef_len, lr_len));
    CCL_CHECK(ccl_ef_restore(c->ef, b + CP_HDR, ef_len));
    return ccl_powersgd_restore(c->lowrank, b + CP_HDR + ef_len, lr_len);
}

/* ---- auto ---- */

static ccl_result_t time_allreduce(struct ccl_comm *comm, float *buf, size_t n, int reps, double *us)
{
    double t0 = ccl_time_now();
    for (int i = 0; i < reps; i++)
        CCL_CHECK(ccl_allreduce(buf, buf, n, CCL_FLOAT32, CCL_SUM, comm));
    *us = (ccl_time_now() - t0) * 1e6 / reps;
    return CCL_SUCCESS;
}

static ccl_result_t time_compressed(struct ccl_comm *comm, ccl_compressor_t probe, float *in,
                                    float *out, int reps, double *us)
{
    double t0 = ccl_time_now();
    for (int i = 0; i < reps; i++)
        CCL_CHECK(run_compressed(probe, comm, CCL_COLL_ALLREDUCE, in, out, probe->count, CCL_SUM,
                                 probe->algo));
    *us = (ccl_time_now() - t0) * 1e6 / reps;
    return CCL_SUCCESS;
}

/* Measures, once per communicator, the exact allreduce and the compressed one (the auto
 * compressor without error feedback) at 1 KB, 2 MB and 16 MB, under the conditions of real
 * calls (the largest size leaves the caches, as large gradients do); the maxima over ranks
 * make the model, so every rank decides alike. The cost: about ten calls of 16 MB. */
static ccl_result_t auto_calibrate(struct ccl_comm *comm)
{
    static const size_t counts[CCL_AUTO_POINTS] = {256, 1 << 19, 1 << 22};
    const size_t nmax = counts[CCL_AUTO_POINTS - 1];
    double m[2 * CCL_AUTO_POINTS];
    float *buf = malloc(nmax * sizeof(float)), *out = malloc(nmax * sizeof(float));
    ccl_compressor_t probe = NULL;
    ccl_result_t res = CCL_ERR_NO_MEMORY;
    if (buf == NULL || out == NULL)
        goto out;
    for (size_t i = 0; i < nmax; i++)
        buf[i] = out[i] = ccl_rng_unit((uint64_t)comm->rank, i) - 0.5f; /* in place: sums grow x P */
    for (int k = 0; k < CCL_AUTO_POINTS; k++) {
        int reps = k == 0 ? 20 : k == 1 ? 5 : 2;
        if ((res = time_allreduce(comm, out, counts[k], 1, &m[k])) != CCL_SUCCESS ||
            (res = time_allreduce(comm, out, counts[k], reps, &m[k])) != CCL_SUCCESS ||
            (res = comp_create(comm, AUTO_PROBE_SPEC, counts[k], CCL_FLOAT32,
                               &probe)) != CCL_SUCCESS ||
            (res = time_compressed(comm, probe, buf, out, 1, &m[CCL_AUTO_POINTS + k])) != CCL_SUCCESS ||
            (res = time_compressed(comm, probe, buf, out, reps, &m[CCL_AUTO_POINTS + k])) != CCL_SUCCESS)
            goto out;
        ccl_compressor_destroy(probe);
        probe = NULL;
    }
    if ((res = ccl_allreduce(m, m, 2 * CCL_AUTO_POINTS, CCL_FLOAT64, CCL_MAX, comm)) != CCL_SUCCESS)
        goto out;
    for (int k = 0; k < CCL_AUTO_POINTS; k++) {
        comm->automodel.bytes[k] = 4.0 * (double)counts[k];
        comm->automodel.us[0][k] = m[k];
        comm->automodel.us[1][k] = m[CCL_AUTO_POINTS + k];
    }
    comm->automodel.exact_scale = comm->automodel.comp_scale = 1;
    comm->automodel.done = 1;
    ccl_info("auto: exact allreduce %.0f/%.0f/%.0f us, compressed %.0f/%.0f/%.0f us at 1 KB/2 MB/16 MB",
             m[0], m[1], m[2], m[3], m[4], m[5]);
out:
    ccl_compressor_destroy(probe);
    free(buf);
    free(out);
    return res == CCL_SUCCESS ? res : ccl_set_error(comm, res, "auto calibration failed: %s",
                                                     ccl_get_last_error(comm));
}

/* Piecewise-linear through the measured points, the last slope extended. */
double ccl_auto_model_us(const struct ccl_comm *comm, int method, double b)
{
    const double *x = comm->automodel.bytes, *y = comm->automodel.us[method];
    int k = 0;
    while (k < CCL_AUTO_POINTS - 2 && b > x[k + 1])
        k++;
    double slope = fmax(y[k + 1] - y[k], 0) / (x[k + 1] - x[k]);
    return fmax(y[k] + (b - x[k]) * slope, 0) *
           (method ? comm->automodel.comp_scale : comm->automodel.exact_scale);
}

/* Predicted microseconds of the exact (0) and compressed (1) allreduce of `bytes`. */
static void auto_predict(const struct ccl_comm *comm, size_t bytes, double us[2])
{
    us[0] = ccl_auto_model_us(comm, 0, (double)bytes);
    us[1] = ccl_auto_model_us(comm, 1, (double)bytes);
}

/* Every 32 auto calls the ranks agree (max) on how far the model was off, per method. */
static ccl_result_t auto_refresh(struct ccl_comm *comm)
{
    double f[2];
    for (int m = 0; m < 2; m++)
        f[m] = comm->automodel.pred[m] > 0 ? comm->automodel.obs[m] / comm->automodel.pred[m] : 0;
    CCL_CHECK(ccl_allreduce(f, f, 2, CCL_FLOAT64, CCL_MAX, comm));
    if (f[0] > 0)
        comm->automodel.exact_scale *= f[0];
    if (f[1] > 0)
        comm->automodel.comp_scale *= f[1];
    memset(comm->automodel.obs, 0, sizeof(comm->automodel.obs));
    memset(comm->automodel.pred, 0, sizeof(comm->automodel.pred));
    return CCL_SUCCESS;
}

/* ---- calls ---- */

static ccl_result_t check_call(ccl_compressor_t c, ccl_comm_t comm, const void *sendbuf,
                               const void *recvbuf, size_t count, ccl_datatype_t dtype)
{
    if (comm == NULL || c == NULL)
        return ccl_set_error(comm, CCL_ERR_INVALID_ARG, "%s is NULL", comm == NULL ? "comm" : "compressor");
    if (count != c->count || dtype != c->dtype)
        return ccl_set_error(comm, CCL_ERR_INVALID_ARG,
                             "compressor was made for %zu elements of type %d; called with %zu of type %d",
                             c->count, (int)c->dtype, count, (int)dtype);
    if (count > 0 && (sendbuf == NULL || recvbuf == NULL))
        return ccl_set_error(comm, CCL_ERR_INVALID_ARG, "%s is NULL with count %zu",
                             sendbuf == NULL ? "sendbuf" : "recvbuf", count);
    return CCL_SUCCESS;
}

static void to_f32(const void *src, float *dst, size_t n, ccl_datatype_t dt)
{
    const uint16_t *h = src;
    for (size_t i = 0; i < n; i++)
        dst[i] = dt == CCL_FLOAT16 ? ccl_half_to_float(h[i]) : ccl_bf16_to_float(h[i]);
}

static void from_f32(const float *src, void *dst, size_t n, ccl_datatype_t dt)
{
    uint16_t *h = dst;
    for (size_t i = 0; i < n; i++)
        h[i] = dt == CCL_FLOAT16 ? ccl_float_to_half(src[i]) : ccl_float_to_bf16(src[i]);
}

void ccl_comp_prepare(struct ccl_compressor *c, size_t off, size_t len, int *skip)
{
    if (c->prepare_g == NULL || c->local_bad)
        return;
    if (ccl_ef_prepare_range(c->ef, &c->codec, c->prepare_g, c->prepare_clip, off, len) != CCL_SUCCESS) {
        c->local_bad = 1;
        c->ef->skipped++;
        *skip = 1;
    }
}

ccl_result_t ccl_comp_agree_scale(struct ccl_compressor *c, struct ccl_comm *comm, float local)
{
    /* One small exact allreduce agrees on the scale (max) and on skipping. */
    double v[2] = {c->local_bad ? 1.0 : 0.0, c->local_bad ? 0.0 : (double)local};
    CCL_CHECK(ccl_allreduce(v, v, 2, CCL_FLOAT64, CCL_MAX, comm));
    if (v[0] > 0) {
        if (!c->local_bad)
            c->ef->skipped++;
        return ccl_set_error(comm, CCL_ERR_INVALID_ARG, "a gradient holds NaN or Inf; the "
                             "step is skipped on every rank and the error-feedback state kept");
    }
    c->eff.params.scale = (float)v[1];
    return CCL_SUCCESS;
}

/* Runs one compressed collective: prepare (error feedback), agree on a shared scale where
 * the codec needs one, then the algorithm. out_count: floats in the output. */
static ccl_result_t run_compressed(ccl_compressor_t c, ccl_comm_t comm, ccl_coll_t coll,
                                   const void *sendbuf, void *recvbuf, size_t out_count,
                                   ccl_redop_t op, const ccl_calgo_t *algo)
{
    const float *in = sendbuf;
    float *out = recvbuf;
    ccl_result_t res;
    if (c->dtype != CCL_FLOAT32) {
        if (c->f32_out_count < out_count) {
            free(c->f32_out);
            c->f32_out_count = 0;
            if ((c->f32_out = malloc(CCL_MAX(out_count, (size_t)1) * sizeof(float))) == NULL)
                return ccl_set_error(comm, CCL_ERR_NO_MEMORY, "no memory for %zu floats", out_count);
            c->f32_out_count = out_count;
        }
        to_f32(sendbuf, c->f32_in, c->count, c->dtype);
        in = c->f32_in;
        out = c->f32_out;
    }
    c->prepare_g = NULL;
    c->check_in_encoder = c->ef_mode == CCL_EF_NONE && c->codec.ops != NULL &&
                          (c->codec.ops->flags & CCL_CODEC_SPARSE) &&
                          (c->codec.ops->flags & CCL_CODEC_CHECKS_FINITE) && !algo->prepares_pieces;
    if (c->check_in_encoder) {
        /* p is the gradient as it is; the sparse algorithms encode it whole, first thing. */
        float unused;
        ccl_ef_prepare_begin(c->ef, &c->codec, in, &c->p, &c->eff, &unused);
        res = CCL_SUCCESS;
    } else if (algo->prepares_pieces && !(c->codec.ops->flags & CCL_CODEC_SHARED_SCALE)) {
        /* The algorithm prepares each piece as it goes (ccl_comp_prepare). */
        ccl_ef_prepare_begin(c->ef, &c->codec, in, &c->p, &c->eff, &c->prepare_clip);
        c->prepare_g = in;
        res = CCL_SUCCESS;
    } else {
        res = ccl_ef_prepare(c->ef, &c->codec, in, &c->p, &c->eff);
    }
    c->local_bad = res != CCL_SUCCESS;
    c->own_msg = NULL;
    if (res != CCL_SUCCESS && res != CCL_ERR_INVALID_ARG)
        return res;
    if (c->lowrank != NULL) {
        res = ccl_powersgd_allreduce(c, comm, out, op);
        if (res == CCL_SUCCESS && c->dtype != CCL_FLOAT32)
            from_f32(out, recvbuf, out_count, c->dtype);
        return res;
    }
    if (c->codec.ops->flags & CCL_CODEC_SHARED_SCALE)
        CCL_CHECK(ccl_comp_agree_scale(c, comm, c->local_bad ? 0.0f :
                                       c->eff.ops->local_scale(&c->eff.params, c->p, c->count)));
    ccl_coll_args_t a = {coll, in, out, c->count, c->dtype, op, 0, sizeof(float), c, algo, c->spec_hash};
    res = ccl_coll_run(comm, &a);
    if (res == CCL_SUCCESS && c->dtype != CCL_FLOAT32)
        from_f32(out, recvbuf, out_count, c->dtype);
    return res;
}

/* auto's choice for one call: 0 exact, 1 compressed. The model decides where it is sure; where
 * it is not (a predicted ratio within CCLZ_AUTO_TRIAL_RATIO, or a buffer beyond the largest
 * calibrated size, where it extrapolates), the handle runs a trial on its own buffer: AUTO_TRIALS calls
 * of each method, alternating, then the ranks agree (max over ranks of each method's fastest
 * call) and keep the faster for AUTO_RETRY calls. Compression must win outright: the target
 * is never to be slower than the exact path. */
#define AUTO_TRIALS 3
#define AUTO_RETRY  4096

static int auto_choose(ccl_compressor_t c, struct ccl_comm *comm, size_t count, double pred[2])
{
    double bytes = (double)count * sizeof(float);
    auto_predict(comm, (size_t)bytes, pred);
    if (c->auto_decided >= 0 && c->auto_calls - c->auto_trial_at >= AUTO_RETRY)
        c->auto_decided = -1; /* links and load change: try again */
    if (c->auto_decided >= 0)
        return c->auto_decided;
    if (!c->auto_in_trial) {
        double r = ccl_config_get()->auto_trial_ratio;
        int beyond = bytes > comm->automodel.bytes[CCL_AUTO_POINTS - 1];
        /* Following the model, compress only with a margin: 10% within the measured sizes;
         * beyond, where the compressed path's memory traffic grows faster than linearly on a
         * loaded host (perf/RESULTS.md), 40%. */
        if (r <= 1 || (!beyond && (pred[1] * r < pred[0] || pred[1] > r * pred[0])))
            return pred[1] < (beyond ? 0.6 : 0.9) * pred[0];
        c->auto_in_trial = 1;
        c->auto_trial_at = c->auto_calls;
        c->auto_best[0] = c->auto_best[1] = HUGE_VAL;
    }
    return (int)((c->auto_calls - c->auto_trial_at) & 1);
}

/* After a trial call: record it, and once both methods had their calls, agree and decide. */
static ccl_result_t auto_trial_done(ccl_compressor_t c, struct ccl_comm *comm, int use, double us)
{
    c->auto_best[use] = fmin(c->auto_best[use], us);
    if (c->auto_calls + 1 - c->auto_trial_at < 2 * AUTO_TRIALS)
        return CCL_SUCCESS;
    double best[2] = {c->auto_best[0], c->auto_best[1]};
    CCL_CHECK(ccl_allreduce(best, best, 2, CCL_FLOAT64, CCL_MAX, comm));
    c->auto_in_trial = 0;
    c->auto_decided = best[1] < best[0];
    ccl_info("auto: %zu elements: trial exact %.0f us, %s %.0f us -> %s", c->count, best[0],
             c->auto_sub->spec, best[1], c->auto_decided ? c->auto_sub->spec : "exact");
    return CCL_SUCCESS;
}

static ccl_result_t auto_allreduce(ccl_compressor_t c, struct ccl_comm *comm,
                                   const void *sendbuf, void *recvbuf, size_t count,
                                   ccl_datatype_t dtype, ccl_redop_t op)
{
    double pred[2], t0 = ccl_time_now(), us;
    int use = auto_choose(c, comm, count, pred);
    ccl_result_t res;
    if (c->auto_calls == 0 || (c->auto_calls & 1023) == 0)
        ccl_info("auto: %zu elements -> %s (model: exact %.0f us, %s %.0f us)%s", count,
                 use ? c->auto_sub->spec : "exact", pred[0], c->auto_sub->spec, pred[1],
                 c->auto_in_trial ? "; trying both on this buffer" : "");
    res = use ? run_compressed(c->auto_sub, comm, CCL_COLL_ALLREDUCE, sendbuf, recvbuf, count,
                               op, c->auto_sub->algo)
              : ccl_allreduce(sendbuf, recvbuf, count, dtype, op, comm);
    if (res != CCL_SUCCESS)
        return res;
    us = (ccl_time_now() - t0) * 1e6;
    comm->automodel.obs[use] += us;
    comm->automodel.pred[use] += pred[use];
    if (c->auto_in_trial)
        CCL_CHECK(auto_trial_done(c, comm, use, us));
    if (++c->auto_calls % 32 == 0)
        CCL_CHECK(auto_refresh(comm));
    return CCL_SUCCESS;
}

ccl_result_t ccl_allreduce_compressed(const void *sendbuf, void *recvbuf, size_t count,
                                      ccl_datatype_t dtype, ccl_redop_t op,
                                      ccl_compressor_t c, ccl_comm_t comm)
{
    CCL_CHECK(check_call(c, comm, sendbuf, recvbuf, count, dtype));
    if ((unsigned)op >= CCL_NUM_OPS)
        return ccl_set_error(comm, CCL_ERR_INVALID_ARG, "unknown reduction op %d", (int)op);
    /* Lossy compression only for floating-point sums and averages. */
    if (c->none || !is_float_type(dtype) || (op != CCL_SUM && op != CCL_AVG))
        return ccl_allreduce(sendbuf, recvbuf, count, dtype, op, comm);
    if (c->is_auto)
        return auto_allreduce(c, comm, sendbuf, recvbuf, count, dtype, op);
    return run_compressed(c, comm, CCL_COLL_ALLREDUCE, sendbuf, recvbuf, count, op, c->algo);
}

ccl_result_t ccl_allgather_compressed(const void *sendbuf, void *recvbuf, size_t sendcount,
                                      ccl_datatype_t dtype, ccl_compressor_t c, ccl_comm_t comm)
{
    CCL_CHECK(check_call(c, comm, sendbuf, recvbuf, sendcount, dtype));
    if (c->is_auto || c->none || !is_float_type(dtype))
        return ccl_allgather(sendbuf, recvbuf, sendcount, dtype, comm);
    if (c->lowrank != NULL || c->algo == &ccl_callreduce_powersgd)
        return ccl_set_error(comm, CCL_ERR_INVALID_ARG, "powersgd approximates a sum; an "
                             "allgather takes a quantizer or a sparse codec");
    if (c->ef_mode == CCL_EF_EF21 || c->ef_mode == CCL_EF_EF21W)
        return ccl_set_error(comm, CCL_ERR_INVALID_ARG, "EF21 aggregates a sum; an allgather "
                             "takes ef=none or ef=classic");
    if (sendcount > SIZE_MAX / (size_t)comm->nranks)
        return ccl_set_error(comm, CCL_ERR_INVALID_ARG, "count %zu overflows", sendcount);
    return run_compressed(c, comm, CCL_COLL_ALLGATHER, sendbuf, recvbuf,
                          sendcount * (size_t)comm->nranks, CCL_SUM, &ccl_callgather_direct);
}
