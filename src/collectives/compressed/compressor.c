/* compressor.c: the compressor handle: spec parsing (codec, ef=, weight=, algo=, the
 * algorithm resolved in the one registry), create, destroy and reset. */
#include "collectives/compressed/compressor.h"
#include "compress/wire.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CARRY_STREAM (CCL_CARRY_DENSE | CCL_CARRY_SPARSE | CCL_CARRY_SIGN)

uint32_t ccl_comp_carries(const ccl_codec_t *codec)
{
    if (codec->ops->flags & CCL_CODEC_SPARSE)
        return CCL_CARRY_SPARSE;
    if (codec->ops->id == CCL_CODEC_ID_SIGN && codec->params.sign_scale == CCL_SIGN_SCALE_NONE)
        return CCL_CARRY_SIGN | CCL_CARRY_DENSE;
    return CCL_CARRY_DENSE;
}

const ccl_algo_t *ccl_comp_select_algo(ccl_coll_t coll, const ccl_codec_t *codec, size_t count,
                                       const ccl_tuning_t *t, int nranks, double *us_p)
{
    uint32_t carries = ccl_comp_carries(codec);
    ccl_coll_args_t a = {.coll = coll, .count = count, .dtype = CCL_FLOAT32,
                         .dt_size = sizeof(float), .codec = codec};
    /* The vote is what sign:scale=none is for, though a dense algorithm can carry it too. */
    return ccl_algo_select(&a, (carries & CCL_CARRY_SIGN) ? CCL_CARRY_SIGN : carries, t, nranks,
                           us_p);
}

/* "sra, ring, ...": the names of the compressed allreduces, for an error message. */
static const char *stream_algo_names(char *buf, size_t cap)
{
    const ccl_algo_t *const *t = ccl_algo_table(CCL_COLL_ALLREDUCE);
    size_t n = 0;
    buf[0] = '\0';
    for (int i = 0; t[i] != NULL && n < cap; i++)
        if (t[i]->carries & CARRY_STREAM)
            n += (size_t)snprintf(buf + n, cap - n, "%s%s", n ? ", " : "", t[i]->name);
    return buf;
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
    c->algo = ccl_algo_find(CCL_COLL_ALLREDUCE, "powersgd", CCL_CARRY_LOWRANK);
    c->lr_spec = p;
    char rows[40] = "";
    if (p.rows > 0)
        snprintf(rows, sizeof(rows), ",rows=%zu", p.rows);
    snprintf(c->spec, sizeof(c->spec), "powersgd:rank=%u%s,warm=%d,seed=%llu,ef=%s,algo=powersgd",
             p.rank, rows, p.warm, (unsigned long long)p.seed, ccl_ef_mode_name(c->ef_mode));
    if (p.rows == 0) { /* the matrices come with a layout (lowrank_layout) */
        c->kind = CCL_COMP_LOWRANK;
        return CCL_SUCCESS;
    }
    if (!ccl_powersgd_pays(&p)) {
        ccl_info("powersgd: %zu x %zu at rank %u is no smaller than the matrix; exact path",
                 p.rows, p.cols, p.rank);
        c->kind = CCL_COMP_NONE;
        return CCL_SUCCESS;
    }
    c->kind = CCL_COMP_LOWRANK;
    return ccl_powersgd_create(&p, &c->lowrank);
}

/* The handle's own keys in a spec, as written ("" or NULL: the default). */
typedef struct {
    const char *ef, *algo;
    double      weight; /* 0: 1/nranks */
} spec_keys_t;

const ccl_param_field_t ccl_comp_spec_keys[] = {
    {"ef", NULL, "error feedback: none, classic, ef21 or ef21w (default classic; dgc brings its "
     "own state, sign:scale=none none)", CCL_PARAM_STRING, CCL_PARAM_AT(spec_keys_t, ef)},
    {"weight", NULL, "EF21-W: this rank's weight (default 1/nranks)", CCL_PARAM_REAL,
     CCL_PARAM_AT(spec_keys_t, weight), .lo = 1e-9, .hi = 1},
    {"algo", NULL, "the compressed allreduce to run (default: the selector's choice, as the "
     "table below shows for dense codecs)", CCL_PARAM_STRING, CCL_PARAM_AT(spec_keys_t, algo)},
    CCL_PARAM_END,
};

/* Splits the handle's keys (ccl_comp_spec_keys) off the codec spec, parses both, and writes
 * the normalised spec. */
static ccl_result_t parse_spec(struct ccl_compressor *c, const char *spec, const ccl_tuning_t *t,
                               float *weight_p)
{
    char codec_spec[256], buf[256];
    spec_keys_t keys = {0};
    size_t n = strcspn(spec, ":"), clen;
    if (n >= sizeof(codec_spec) || strlen(spec) >= sizeof(codec_spec))
        return ccl_set_error(NULL, CCL_ERR_INVALID_ARG, "compression spec too long: '%s'", spec);
    memcpy(codec_spec, spec, n);
    clen = n;
    codec_spec[clen] = '\0';
    /* The items after the codec's name, split in place (the keys point into buf). */
    snprintf(buf, sizeof(buf), "%s", spec[n] == ':' ? spec + n + 1 : "");
    for (char *item = buf, *next; *buf != '\0' && item != NULL; item = next) {
        char *eq = strchr(item, '=');
        const ccl_param_field_t *row = NULL;
        if ((next = strchr(item, ',')) != NULL)
            *next++ = '\0';
        if (eq != NULL) {
            *eq = '\0';
            row = ccl_param_find(ccl_comp_spec_keys, item);
            *eq = '=';
        }
        if (row == NULL) {
            clen += (size_t)snprintf(codec_spec + clen, sizeof(codec_spec) - clen, "%s%s",
                                     strchr(codec_spec, ':') ? "," : ":", item);
        } else if (ccl_param_parse(row, &keys, eq + 1) != 0) {
            char values[64];
            return ccl_set_error(NULL, CCL_ERR_INVALID_ARG, "%s: want %s", item,
                                 ccl_param_values(row, values, sizeof(values)));
        }
    }
    const char *ef = keys.ef != NULL ? keys.ef : "", *algo = keys.algo != NULL ? keys.algo : "";
    *weight_p = (float)keys.weight;
    if (strcmp(codec_spec, "powersgd") == 0 || strncmp(codec_spec, "powersgd:", 9) == 0)
        return parse_powersgd(c, codec_spec, ef, algo);
    CCL_CHECK(ccl_codec_parse(codec_spec, &c->codec));
    c->kind = CCL_COMP_STREAM;
    uint32_t carries = ccl_comp_carries(&c->codec);
    if (ef[0] == '\0')
        c->ef_mode = c->codec.ops->id == CCL_CODEC_ID_DGC ? CCL_EF_DGC
                   : (carries & CCL_CARRY_SIGN) ? CCL_EF_NONE : CCL_EF_CLASSIC;
    else if (ccl_ef_mode_parse(ef) < 0 || strcmp(ef, "dgc") == 0)
        return ccl_set_error(NULL, CCL_ERR_INVALID_ARG,
                             "ef=%s: want none, classic, ef21 or ef21w (dgc's state comes with "
                             "the dgc codec)", ef);
    else
        c->ef_mode = (ccl_ef_mode_t)ccl_ef_mode_parse(ef);
    if (algo[0] == '\0') {
        double us;
        c->algo = ccl_comp_select_algo(CCL_COLL_ALLREDUCE, &c->codec, c->count, t, c->nranks, &us);
        if (us >= 0)
            ccl_info("%s for %zu elements on %d ranks: algorithm %s (cost model: %.0f us)",
                     c->codec.ops->name, c->count, c->nranks, c->algo->name, us);
    } else if ((c->algo = ccl_algo_find(CCL_COLL_ALLREDUCE, algo, carries)) == NULL) {
        char names[256];
        const ccl_algo_t *named = ccl_algo_find(CCL_COLL_ALLREDUCE, algo, CARRY_STREAM);
        if (named == NULL)
            return ccl_set_error(NULL, CCL_ERR_INVALID_ARG,
                                 "algo=%s: no compressed allreduce of that name (%s; powersgd "
                                 "comes with the powersgd spec)", algo,
                                 stream_algo_names(names, sizeof(names)));
        return ccl_set_error(NULL, CCL_ERR_INVALID_ARG, "algo=%s cannot carry codec %s%s", algo,
                             c->codec.ops->name, named->carries == CCL_CARRY_SIGN
                                 ? " (sign_vote needs sign:scale=none)" : "");
    }
    if (c->algo->flags & CCL_ALGO_SHARDS) {
        /* A shard's compressors are per host, not per rank: EF21-W's rank weight means
         * nothing to them. Named where no hierarchy exists: the flat choice. */
        if (keys.weight > 0 && algo[0] != '\0')
            return ccl_set_error(NULL, CCL_ERR_INVALID_ARG, "weight= gives a rank's EF21-W "
                                 "weight; algo=%s reduces per host first and takes none",
                                 c->algo->name);
        if (t->hier_hosts == 0 || keys.weight > 0) {
            ccl_tuning_t flat = *t;
            flat.hier_hosts = 0;
            c->algo = ccl_comp_select_algo(CCL_COLL_ALLREDUCE, &c->codec, c->count, &flat,
                                           c->nranks, NULL);
            if (t->hier_hosts == 0)
                ccl_info("algo=hier: this communicator has no hierarchy (one host, or one "
                         "rank per host); %s instead", c->algo->name);
        }
    }
    const char *efname = c->ef_mode == CCL_EF_DGC ? "dgc" : ccl_ef_mode_name(c->ef_mode);
    const char *sep = strchr(codec_spec, ':') ? "," : ":";
    snprintf(c->spec, sizeof(c->spec), "%s%sef=%s,algo=%s", codec_spec, sep, efname,
             c->algo->name);
    /* The shards' compressors: the same codec and error feedback, their own algorithm. */
    if (c->ef_mode == CCL_EF_DGC)
        snprintf(c->shard_spec, sizeof(c->shard_spec), "%s", codec_spec);
    else
        snprintf(c->shard_spec, sizeof(c->shard_spec), "%s%sef=%s", codec_spec, sep, efname);
    return CCL_SUCCESS;
}

/* c's shard compressors, on comm's hierarchy: for every chunk of the hierarchical
 * allreduce's pipeline (ccl_hier_chunks), one per shard this rank owns, of that shard's count. */
static ccl_result_t shards_create(struct ccl_compressor *c, struct ccl_comm *comm)
{
    const ccl_hier_t *h = comm->hier;
    const int C = ccl_hier_chunks(c->count, h->nshards, 1), own = h->end - h->first;
    const size_t cs = (c->count + (size_t)C - 1) / (size_t)C;
    c->nshard_comp = C * own;
    c->shard_comp = calloc((size_t)c->nshard_comp, sizeof(*c->shard_comp));
    c->shard_off = calloc((size_t)c->nshard_comp, sizeof(*c->shard_off));
    if (c->shard_comp == NULL || c->shard_off == NULL)
        return ccl_set_error(NULL, CCL_ERR_NO_MEMORY, "no memory for the shards' compressors");
    for (int ch = 0; ch < C; ch++) {
        size_t off = (size_t)ch * cs, n = off >= c->count ? 0 : CCL_MIN(cs, c->count - off);
        size_t s = (n + (size_t)h->nshards - 1) / (size_t)h->nshards;
        for (int k = 0; k < own; k++) {
            size_t at = (size_t)(h->first + k) * s;
            if (at >= n)
                continue;
            c->shard_off[ch * own + k] = off + at;
            CCL_CHECK(ccl_comp_create(h->cross[k], c->shard_spec, CCL_MIN(s, n - at),
                                      CCL_FLOAT32, &c->shard_comp[ch * own + k]));
        }
    }
    return CCL_SUCCESS;
}

ccl_result_t ccl_comp_make_ef(struct ccl_compressor *c)
{
    ccl_result_t res = ccl_ef_create(c->count, c->ef_mode, &c->ef);
    if (res == CCL_SUCCESS)
        res = ccl_ef_set_group(c->ef, c->nranks, c->weight);
    if (res != CCL_SUCCESS) {
        ccl_ef_destroy(c->ef);
        c->ef = NULL;
    }
    return res;
}

ccl_result_t ccl_comp_whole_state(struct ccl_compressor *c, struct ccl_comm *comm)
{
    if (c->ef != NULL || c->kind != CCL_COMP_STREAM || !ccl_comp_is_float(c->dtype))
        return CCL_SUCCESS;
    ccl_result_t res = ccl_comp_make_ef(c);
    if (res != CCL_SUCCESS) {
        /* Its peers are about to call; they must not wait for it. */
        ccl_comm_fail(comm, res, ccl_get_last_error(NULL));
        return ccl_set_error(comm, res, "%s", ccl_get_last_error(NULL));
    }
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
        res = parse_spec(c, spec, &comm->tuning, &weight);
        c->weight = weight;
        if (res == CCL_SUCCESS && ccl_comp_is_float(dtype) && c->kind != CCL_COMP_NONE) {
            if (c->kind == CCL_COMP_STREAM && (c->algo->flags & CCL_ALGO_SHARDS)) {
                res = shards_create(c, comm);
            } else {
                res = ccl_comp_make_ef(c);
            }
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

static void layout_free(ccl_layout_t *lay);
static void lowrank_free(ccl_powersgd_t **t, int n, float *p, float *q);

ccl_result_t ccl_compressor_get_stats(ccl_compressor_t c, ccl_stats_t *stats)
{
    if (c == NULL || stats == NULL)
        return ccl_set_error(NULL, CCL_ERR_INVALID_ARG, "%s is NULL",
                             c == NULL ? "comp" : "stats");
    *stats = c->stats;
    return CCL_SUCCESS;
}

ccl_result_t ccl_compressor_destroy(ccl_compressor_t c)
{
    if (c == NULL)
        return CCL_SUCCESS;
    if (atomic_load(&c->busy))
        return ccl_set_error(NULL, CCL_ERR_INVALID_ARG, "compressor '%s' has a call in flight; "
                             "wait for it before destroying it", c->spec);
    if (c->auto_sub)
        ccl_compressor_destroy(c->auto_sub);
    for (int k = 0; k < c->nshard_comp; k++)
        ccl_compressor_destroy(c->shard_comp[k]);
    free(c->shard_comp);
    free(c->shard_off);
    lowrank_free(c->lr_tensor, c->layout != NULL ? c->layout->n : 0, c->lr_p, c->lr_q);
    layout_free(c->layout);
    free(c->scales);
    free(c->scale_votes);
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
    for (int k = 0; k < c->nshard_comp; k++)
        if (c->shard_comp[k] != NULL)
            CCL_CHECK(ccl_compressor_reset(c->shard_comp[k]));
    if (c->lowrank)
        c->lowrank->have_q = 0;
    for (int i = 0; c->lr_tensor != NULL && i < c->layout->n; i++)
        if (c->lr_tensor[i] != NULL)
            c->lr_tensor[i]->have_q = 0;
    return CCL_SUCCESS;
}

const char *ccl_compressor_spec(ccl_compressor_t c) { return c ? c->spec : ""; }

/* ---- layouts (ccl_compressor_set_layout) ---- */

static void layout_free(ccl_layout_t *lay)
{
    if (lay == NULL)
        return;
    free(lay->off);
    free(lay->count);
    free(lay->rows);
    free(lay->cols);
    free(lay);
}

/* The checks of a layout for c's buffer, each fault named. */
static ccl_result_t layout_check(const struct ccl_compressor *c, int n, const ccl_tensor_t *t)
{
    size_t sum = 0;
    if (n < 0 || (n > 0 && t == NULL))
        return ccl_set_error(NULL, CCL_ERR_INVALID_ARG, "layout of %d tensors at %p", n,
                             (const void *)t);
    if ((size_t)n > c->count)
        return ccl_set_error(NULL, CCL_ERR_INVALID_ARG, "layout of %d tensors for a buffer of "
                             "%zu elements: too many tensors", n, c->count);
    for (int i = 0; i < n; i++) {
        if (t[i].count == 0)
            return ccl_set_error(NULL, CCL_ERR_INVALID_ARG, "layout: tensor %d has no elements",
                                 i);
        if ((t[i].rows != 0 || t[i].cols != 0) &&
            (t[i].rows == 0 || t[i].cols > SIZE_MAX / t[i].rows ||
             t[i].rows * t[i].cols != t[i].count))
            return ccl_set_error(NULL, CCL_ERR_INVALID_ARG, "layout: tensor %d is %zu x %zu, "
                                 "not its %zu elements", i, t[i].rows, t[i].cols, t[i].count);
        if (t[i].count > c->count - sum)
            return ccl_set_error(NULL, CCL_ERR_INVALID_ARG, "layout: the tensors' counts pass "
                                 "the buffer's %zu elements at tensor %d", c->count, i);
        sum += t[i].count;
    }
    if (n > 0 && sum != c->count)
        return ccl_set_error(NULL, CCL_ERR_INVALID_ARG, "layout: the tensors' counts sum to %zu; "
                             "the buffer holds %zu", sum, c->count);
    /* auto has no codec of its own: the compressor it uses checked the layout. */
    /* One tensor selects as the whole buffer does, unless dense_1d sends it whole. */
    if (n == 0 || c->kind == CCL_COMP_NONE || c->kind == CCL_COMP_AUTO ||
        (n == 1 && c->kind == CCL_COMP_STREAM &&
         !(c->codec.params.dense_1d && t[0].rows == 0)))
        return CCL_SUCCESS;
    if (c->kind == CCL_COMP_LOWRANK)
        return CCL_SUCCESS; /* a matrix per tensor with a shape (lowrank_layout) */
    /* Element-wise codecs ignore it; the scaling ones cut every piece they encode at tensor
     * boundaries, whatever the algorithm. */
    if (ccl_codec_per_element(&c->codec) || !(c->codec.ops->flags & CCL_CODEC_SPARSE))
        return CCL_SUCCESS;
    if (c->codec.params.k != 0)
        return ccl_set_error(NULL, CCL_ERR_INVALID_ARG, "layout: k=%u fixes k for the whole "
                             "buffer; per tensor, give ratio=", c->codec.params.k);
    if (!(c->algo->flags & (CCL_ALGO_ENCODES_WHOLE | CCL_ALGO_SHARDS)))
        return ccl_set_error(NULL, CCL_ERR_UNSUPPORTED, "layout: algo=%s encodes pieces of the "
                             "buffer; a sparse codec with a layout needs sparse_allgather or "
                             "sparse_hier, which encode it whole, or hier", c->algo->name);
    return CCL_SUCCESS;
}

static void lowrank_free(ccl_powersgd_t **t, int n, float *p, float *q)
{
    for (int i = 0; t != NULL && i < n; i++)
        ccl_powersgd_destroy(t[i]);
    free(t);
    free(p);
    free(q);
}

/* PowerSGD with layout lay: a state of its own for every tensor with a 2-D shape, a rank
 * below its smaller side and factors smaller than the matrix (the spec's rank, warm and seed),
 * every other tensor exact; and the packed buffers of the two allreduces. Set on c only once
 * all is made. */
static ccl_result_t lowrank_layout(struct ccl_compressor *c, const ccl_layout_t *lay)
{
    const int n = lay != NULL ? lay->n : 0;
    ccl_powersgd_t **t = n > 0 ? calloc((size_t)n, sizeof(*t)) : NULL;
    size_t np = 0, nq = 0;
    float *pb = NULL, *qb = NULL;
    ccl_result_t res = n > 0 && t == NULL ? CCL_ERR_NO_MEMORY : CCL_SUCCESS;
    for (int i = 0; res == CCL_SUCCESS && i < n; i++) {
        ccl_powersgd_params_t p = c->lr_spec;
        p.rows = lay->rows[i];
        p.cols = lay->cols[i];
        if (p.rows > 0 && p.rank < CCL_MIN(p.rows, p.cols) && ccl_powersgd_pays(&p)) {
            res = ccl_powersgd_create(&p, &t[i]);
            np += p.rows * p.rank;
            nq += p.cols * p.rank;
        } else {
            np += lay->count[i];
        }
    }
    if (res == CCL_SUCCESS && n > 0 &&
        ((pb = malloc((np + 1) * sizeof(float))) == NULL ||
         (qb = malloc((nq + 1) * sizeof(float))) == NULL))
        res = CCL_ERR_NO_MEMORY;
    if (res != CCL_SUCCESS) {
        lowrank_free(t, n, pb, qb);
        return ccl_set_error(NULL, res, "no memory for powersgd's factors of %d tensors", n);
    }
    lowrank_free(c->lr_tensor, c->layout != NULL ? c->layout->n : 0, c->lr_p, c->lr_q);
    c->lr_tensor = t;
    c->lr_p = pb;
    c->lr_q = qb;
    c->lr_np = np;
    c->lr_nq = nq;
    return CCL_SUCCESS;
}

/* Sets on a shard's compressor, which compresses elements [off, off + its count) of the
 * buffer, the parts of the n tensors that fall there (a tensor cut by the shard loses its
 * shape). */
static ccl_result_t shard_layout(ccl_compressor_t sc, size_t off, int n, const ccl_tensor_t *t)
{
    ccl_tensor_t *part = n > 0 ? malloc((size_t)n * sizeof(*part)) : NULL;
    const size_t end = off + sc->count;
    size_t at = 0;
    int m = 0;
    if (n > 0 && part == NULL)
        return ccl_set_error(NULL, CCL_ERR_NO_MEMORY, "no memory for a shard's layout");
    for (int i = 0; i < n; at += t[i].count, i++) {
        size_t lo = CCL_MAX(at, off), hi = CCL_MIN(at + t[i].count, end);
        if (lo >= hi)
            continue;
        part[m] = t[i];
        if (lo != at || hi != at + t[i].count) /* a cut matrix stays one (dense_1d) */
            part[m] = t[i].rows != 0 ? (ccl_tensor_t){hi - lo, 1, hi - lo}
                                     : (ccl_tensor_t){.count = hi - lo};
        m++;
    }
    ccl_result_t res = ccl_compressor_set_layout(sc, m, part);
    free(part);
    return res;
}

ccl_result_t ccl_compressor_set_layout(ccl_compressor_t c, int n, const ccl_tensor_t *tensors)
{
    if (c == NULL)
        return ccl_set_error(NULL, CCL_ERR_INVALID_ARG, "compressor is NULL");
    if (atomic_load(&c->busy))
        return ccl_set_error(NULL, CCL_ERR_INVALID_ARG, "compressor '%s' has a call in flight; "
                             "wait for it before changing its layout", c->spec);
    if (c->auto_sub != NULL)
        CCL_CHECK(ccl_compressor_set_layout(c->auto_sub, n, tensors));
    CCL_CHECK(layout_check(c, n, tensors));
    ccl_layout_t *lay = NULL;
    uint64_t h = ccl_hash64(c->spec, strlen(c->spec), 0x636f6d70ULL);
    if (n > 0) {
        lay = calloc(1, sizeof(*lay));
        if (lay != NULL) {
            lay->off = malloc((size_t)n * sizeof(size_t));
            lay->count = malloc((size_t)n * sizeof(size_t));
            lay->rows = malloc((size_t)n * sizeof(size_t));
            lay->cols = malloc((size_t)n * sizeof(size_t));
        }
        if (lay == NULL || lay->off == NULL || lay->count == NULL || lay->rows == NULL ||
            lay->cols == NULL) {
            layout_free(lay);
            return ccl_set_error(NULL, CCL_ERR_NO_MEMORY, "no memory for a layout of %d tensors",
                                 n);
        }
        lay->n = n;
        for (int i = 0; i < n; i++) {
            lay->off[i] = lay->total;
            lay->count[i] = tensors[i].count;
            lay->rows[i] = tensors[i].rows;
            lay->cols[i] = tensors[i].cols;
            lay->total += tensors[i].count;
            uint64_t w[3] = {tensors[i].count, tensors[i].rows, tensors[i].cols};
            h = ccl_hash64(w, sizeof(w), h);
        }
    }
    /* A codec whose ranks agree on a scale agrees on one per tensor. */
    float *scales = NULL;
    double *votes = NULL;
    ccl_result_t res = CCL_SUCCESS;
    if (n > 1 && c->kind == CCL_COMP_STREAM && (c->codec.ops->flags & CCL_CODEC_SHARED_SCALE) &&
        ((scales = calloc((size_t)n, sizeof(float))) == NULL ||
         (votes = calloc((size_t)n + 1, sizeof(double))) == NULL))
        res = ccl_set_error(NULL, CCL_ERR_NO_MEMORY, "no memory for %d tensors' scales", n);
    if (res == CCL_SUCCESS && c->kind == CCL_COMP_LOWRANK)
        res = lowrank_layout(c, lay);
    /* The shards' compressors (hier) take the part of the layout in their shard. */
    for (int k = 0; res == CCL_SUCCESS && k < c->nshard_comp; k++)
        if (c->shard_comp[k] != NULL)
            res = shard_layout(c->shard_comp[k], c->shard_off[k], n, tensors);
    if (res != CCL_SUCCESS) {
        free(scales);
        free(votes);
        layout_free(lay);
        return res;
    }
    layout_free(c->layout);
    free(c->scales);
    free(c->scale_votes);
    c->layout = lay;
    c->codec.params.layout = lay;
    c->scales = scales;
    c->scale_votes = votes;
    /* The layout joins every call's signature and the checkpoint's identity. */
    c->spec_hash = h;
    return CCL_SUCCESS;
}

/* ---- state moved between compressors (ccl_compressor_copy_state) ---- */

/* The tensor of lay that is exactly [off, off + count), or -1. */
static int tensor_at(const ccl_layout_t *lay, size_t off, size_t count)
{
    for (int i = 0; lay != NULL && i < lay->n; i++)
        if (lay->off[i] == off && lay->count[i] == count)
            return i;
    return -1;
}

/* The length of a normalised spec without its algorithm (",algo=..." ends every one): the
 * state does not depend on which algorithm moves the messages. */
static size_t spec_state_len(const char *spec)
{
    const char *a = strstr(spec, ",algo=");
    return a != NULL ? (size_t)(a - spec) : strlen(spec);
}

static void copy_vec(float *dst, size_t dst_off, const float *src, size_t src_off, size_t n)
{
    if (dst != NULL && src != NULL)
        memmove(dst + dst_off, src + src_off, n * sizeof(float));
}

ccl_result_t ccl_compressor_copy_state(ccl_compressor_t dst, size_t dst_off,
                                       ccl_compressor_t src, size_t src_off, size_t count)
{
    if (dst == NULL || src == NULL)
        return ccl_set_error(NULL, CCL_ERR_INVALID_ARG, "%s is NULL", dst == NULL ? "dst" : "src");
    if (atomic_load(&dst->busy) || atomic_load(&src->busy))
        return ccl_set_error(NULL, CCL_ERR_INVALID_ARG, "compressor '%s' has a call in flight; "
                             "wait for it before moving state", atomic_load(&dst->busy)
                             ? dst->spec : src->spec);
    dst = dst->auto_sub != NULL ? dst->auto_sub : dst;
    src = src->auto_sub != NULL ? src->auto_sub : src;
    if (spec_state_len(dst->spec) != spec_state_len(src->spec) ||
        strncmp(dst->spec, src->spec, spec_state_len(src->spec)) != 0 ||
        dst->kind != src->kind)
        return ccl_set_error(NULL, CCL_ERR_INVALID_ARG, "state of '%s' cannot move into '%s'",
                             src->spec, dst->spec);
    if (count > src->count || src_off > src->count - count || count > dst->count ||
        dst_off > dst->count - count)
        return ccl_set_error(NULL, CCL_ERR_INVALID_ARG, "elements [%zu, +%zu) of %zu into "
                             "[%zu, +%zu) of %zu", src_off, count, src->count, dst_off, count,
                             dst->count);
    if (dst->nshard_comp > 0 || src->nshard_comp > 0)
        return ccl_set_error(NULL, CCL_ERR_UNSUPPORTED, "%s keeps its state per shard, on the "
                             "shard's owners: it cannot move between buffers", src->spec);
    if (src->ef == NULL || dst->ef == NULL || count == 0)
        return CCL_SUCCESS; /* nothing kept: exact, or no elements */
    ccl_ef_t *d = dst->ef, *s = src->ef;
    if (s->on_gpu && s->to_host != NULL)
        s->to_host(s);
    if (d->on_gpu && d->to_host != NULL)
        d->to_host(d);
    copy_vec(d->residual, dst_off, s->residual, src_off, count);
    copy_vec(d->velocity, dst_off, s->velocity, src_off, count);
    copy_vec(d->global, dst_off, s->global, src_off, count);
    d->steps = s->steps;
    /* PowerSGD's warm start belongs to a tensor: it comes along with a whole one. */
    int ti = src->lr_tensor != NULL ? tensor_at(src->layout, src_off, count) : -1,
        tj = dst->lr_tensor != NULL ? tensor_at(dst->layout, dst_off, count) : -1;
    if (ti >= 0 && tj >= 0 && src->lr_tensor[ti] != NULL && dst->lr_tensor[tj] != NULL &&
        src->layout->rows[ti] == dst->layout->rows[tj]) {
        ccl_powersgd_t *a = dst->lr_tensor[tj], *b = src->lr_tensor[ti];
        memcpy(a->qt, b->qt, a->p.cols * a->p.rank * sizeof(float));
        a->have_q = b->have_q;
    }
    return CCL_SUCCESS;
}
