/* compressor.c: the compressor handle: spec parsing (codec, ef=, weight=, algo=), the
 * compressed algorithms' registry and default choice, create, destroy and reset. */
#include "compressor.h"
#include "../../compress/wire.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const ccl_calgo_t *const ccl_calgos[] = {
    &ccl_allreduce_quant_sra, &ccl_allreduce_quant_ring, &ccl_allreduce_quant_tree,
    &ccl_allreduce_sparse_allgather, &ccl_allreduce_sparse_rd,
    &ccl_allreduce_sparse_split, &ccl_allreduce_sign_vote, &ccl_allreduce_powersgd,
    &ccl_allgather_direct_encoded, NULL,
};

static uint32_t codec_kind(const ccl_codec_t *c)
{
    if (c->ops->flags & CCL_CODEC_SPARSE)
        return CCL_CALGO_SPARSE;
    if (c->ops->id == CCL_CODEC_ID_SIGN && c->params.sign_scale == CCL_SIGN_SCALE_NONE)
        return CCL_CALGO_SIGN | CCL_CALGO_DENSE;
    return CCL_CALGO_DENSE;
}

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
    c->algo = &ccl_allreduce_powersgd;
    snprintf(c->spec, sizeof(c->spec), "powersgd:rank=%u,rows=%zu,warm=%d,seed=%llu,ef=%s,algo=powersgd",
             p.rank, p.rows, p.warm, (unsigned long long)p.seed, ccl_ef_mode_name(c->ef_mode));
    if (!ccl_powersgd_pays(&p)) {
        ccl_info("powersgd: %zu x %zu at rank %u is no smaller than the matrix; exact path",
                 p.rows, p.cols, p.rank);
        c->kind = CCL_COMP_NONE;
        return CCL_SUCCESS;
    }
    c->kind = CCL_COMP_LOWRANK;
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
        return &ccl_allreduce_sign_vote;
    if (kind & CCL_CALGO_SPARSE)
        return &ccl_allreduce_sparse_allgather;
    const ccl_calgo_t *best = &ccl_allreduce_quant_sra;
    ccl_coll_args_t a = {.coll = CCL_COLL_ALLREDUCE, .count = c->count, .dtype = CCL_FLOAT32,
                         .dt_size = sizeof(float), .codec = &c->codec};
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
    c->kind = CCL_COMP_STREAM;
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
    if (!(c->algo->kinds & kind) || c->algo == &ccl_allreduce_powersgd)
        return ccl_set_error(NULL, CCL_ERR_INVALID_ARG, "algo=%s cannot carry codec %s%s",
                             algo, c->codec.ops->name,
                             c->algo == &ccl_allreduce_sign_vote ? " (sign_vote needs sign:scale=none)" : "");
    snprintf(c->spec, sizeof(c->spec), "%s%sef=%s,algo=%s", codec_spec,
             strchr(codec_spec, ':') ? "," : ":",
             c->ef_mode == CCL_EF_DGC ? "dgc" : ccl_ef_mode_name(c->ef_mode), c->algo->base.name);
    return CCL_SUCCESS;
}

ccl_result_t ccl_comp_create(struct ccl_comm *comm, const char *spec, size_t count,
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
        c->kind = CCL_COMP_NONE;
        snprintf(c->spec, sizeof(c->spec), "none");
    } else if (strcmp(spec, "auto") == 0) {
        c->kind = CCL_COMP_AUTO;
        c->auto_decided = -1;
        snprintf(c->spec, sizeof(c->spec), "auto"); /* auto.c adds its compressor */
    } else {
        res = parse_spec(c, spec, &weight);
        if (res == CCL_SUCCESS && ccl_comp_is_float(dtype) && c->kind != CCL_COMP_NONE) {
            res = ccl_ef_create(count, c->ef_mode, &c->ef);
            if (res == CCL_SUCCESS)
                res = ccl_ef_set_group(c->ef, comm->nranks, weight);
        }
        if (res == CCL_SUCCESS && dtype != CCL_FLOAT32 && ccl_comp_is_float(dtype) &&
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
