/* powersgd.c: PowerSGD's matrix steps and warm-start state (powersgd.h). The loops are laid
 * out for the vectoriser: P = M Q as r dot products per row over Q transposed, M^T P and
 * P Q^T as row-wise axpys. */
#include "compress/powersgd.h"
#include "compress/codec.h"
#include "compress/wire.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* warm is an integer 0..1 rather than a BOOL row: it has always taken what strtol reads as
 * 0 or 1. rows has no default: the shape is the caller's, or the layout's. */
static const ccl_param_field_t powersgd_params[] = {
    {"rank", "4", "r, the columns of P and Q (clamped to the matrix's smaller side)",
     CCL_PARAM_INT, CCL_PARAM_AT(ccl_powersgd_params_t, rank), .lo = 1, .hi = 1024},
    {"rows", NULL, "rows of the buffer's matrix (columns are count / rows); without it, the "
     "matrices are a layout's tensors (ccl_compressor_set_layout)",
     CCL_PARAM_INT, CCL_PARAM_AT(ccl_powersgd_params_t, rows), .lo = 1, .hi = UINT32_MAX},
    {"warm", "1", "start each step's power iteration from the last step's Q", CCL_PARAM_INT,
     CCL_PARAM_AT(ccl_powersgd_params_t, warm), .lo = 0, .hi = 1},
    {"seed", "0", "the random start, the same on every rank", CCL_PARAM_INT,
     CCL_PARAM_AT(ccl_powersgd_params_t, seed), .lo = 0, .hi = INT32_MAX},
    CCL_PARAM_END,
};

const ccl_param_field_t *ccl_powersgd_param_table(void)
{
    return powersgd_params;
}

ccl_result_t ccl_powersgd_parse(const char *spec, size_t count, ccl_powersgd_params_t *p)
{
    char err[512], list[512];
    size_t n;
    memset(p, 0, sizeof(*p));
    if (strncmp(spec, "powersgd", 8) != 0 || (spec[8] != '\0' && spec[8] != ':'))
        return ccl_set_error(NULL, CCL_ERR_INVALID_ARG, "not a powersgd spec: '%s'", spec);
    if ((n = (size_t)snprintf(list, sizeof(list), "%s", spec[8] ? spec + 9 : "")) >= sizeof(list))
        return ccl_set_error(NULL, CCL_ERR_INVALID_ARG, "powersgd spec too long: '%s'", spec);
    /* One trailing ',' has always been let through here (ccl_codec_parse refuses it). */
    if (n > 0 && list[n - 1] == ',')
        list[n - 1] = '\0';
    if (ccl_param_defaults(powersgd_params, p) != 0)
        return ccl_set_error(NULL, CCL_ERR_INTERNAL, "powersgd: a default does not parse");
    if (ccl_param_apply(powersgd_params, p, list, err, sizeof(err)) != 0)
        return ccl_set_error(NULL, CCL_ERR_INVALID_ARG, "powersgd: %s", err);
    if (p->rows == 0) /* the layout's matrices */
        return CCL_SUCCESS;
    if (count % p->rows != 0)
        return ccl_set_error(NULL, CCL_ERR_INVALID_ARG,
                             "powersgd: rows=%zu does not divide the buffer's %zu elements",
                             p->rows, count);
    p->cols = count / p->rows;
    p->rank = (uint32_t)CCL_MIN((size_t)p->rank, CCL_MIN(p->rows, p->cols));
    return CCL_SUCCESS;
}

int ccl_powersgd_pays(const ccl_powersgd_params_t *p)
{
    return (p->rows + p->cols) * p->rank < p->rows * p->cols;
}

ccl_result_t ccl_powersgd_create(const ccl_powersgd_params_t *p, ccl_powersgd_t **s_p)
{
    ccl_powersgd_t *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return ccl_set_error(NULL, CCL_ERR_NO_MEMORY, "no memory for powersgd");
    s->p = *p;
    s->qt = malloc((p->cols * p->rank + 1) * sizeof(float)); /* + 1: count 0 has none */
    s->pm = malloc((p->rows * p->rank + 1) * sizeof(float));
    if (s->qt == NULL || s->pm == NULL) {
        ccl_powersgd_destroy(s);
        return ccl_set_error(NULL, CCL_ERR_NO_MEMORY, "no memory for powersgd's factors");
    }
    *s_p = s;
    return CCL_SUCCESS;
}

void ccl_powersgd_destroy(ccl_powersgd_t *s)
{
    if (s == NULL)
        return;
    free(s->qt);
    free(s->pm);
    free(s);
}

void ccl_powersgd_start(ccl_powersgd_t *s, uint64_t step)
{
    if (s->have_q && s->p.warm)
        return;
    /* Uniform in [-1, 1): any start of full rank does; the same on every rank. */
    uint64_t seed = ccl_rng64(s->p.seed ^ 0x70737764ULL, s->p.warm ? 0 : step);
    for (size_t i = 0; i < s->p.cols * s->p.rank; i++)
        s->qt[i] = 2.0f * ccl_rng_unit(seed, i) - 1.0f;
}

/* x . y over n floats, eight partial sums (a shape the vectoriser turns into one register). */
static float dot(const float *x, const float *y, size_t n)
{
    float acc[8] = {0};
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int l = 0; l < 8; l++)
            acc[l] += x[i + l] * y[i + l];
    float s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    for (; i < n; i++)
        s += x[i] * y[i];
    return s;
}

void ccl_powersgd_project(const ccl_powersgd_t *s, const float *m)
{
    const size_t rows = s->p.rows, cols = s->p.cols, r = s->p.rank;
    for (size_t i = 0; i < rows; i++)
        for (size_t k = 0; k < r; k++)
            s->pm[i * r + k] = dot(m + i * cols, s->qt + k * cols, cols);
}

void ccl_powersgd_orthogonalize(ccl_powersgd_t *s)
{
    const size_t rows = s->p.rows, r = s->p.rank;
    float *pm = s->pm;
    for (size_t k = 0; k < r; k++) {
        double norm0 = 0;
        for (size_t i = 0; i < rows; i++)
            norm0 += (double)pm[i * r + k] * pm[i * r + k];
        for (size_t j = 0; j < k; j++) {
            double d = 0;
            for (size_t i = 0; i < rows; i++)
                d += (double)pm[i * r + k] * pm[i * r + j];
            for (size_t i = 0; i < rows; i++)
                pm[i * r + k] -= (float)(d * pm[i * r + j]);
        }
        double norm = 0;
        for (size_t i = 0; i < rows; i++)
            norm += (double)pm[i * r + k] * pm[i * r + k];
        /* What is left of a column (nearly) spanned by the others is mostly rounding noise,
         * which one pass would not make orthogonal: drop it. */
        double inv = norm > 1e-8 * norm0 && norm > 0 ? 1.0 / sqrt(norm) : 0.0;
        for (size_t i = 0; i < rows; i++)
            pm[i * r + k] = (float)(pm[i * r + k] * inv);
    }
}

void ccl_powersgd_back(ccl_powersgd_t *s, const float *m)
{
    const size_t rows = s->p.rows, cols = s->p.cols, r = s->p.rank;
    memset(s->qt, 0, cols * r * sizeof(float));
    for (size_t i = 0; i < rows; i++)
        for (size_t k = 0; k < r; k++) {
            float a = s->pm[i * r + k];
            float *q = s->qt + k * cols;
            const float *row = m + i * cols;
            for (size_t j = 0; j < cols; j++)
                q[j] += a * row[j];
        }
}

void ccl_powersgd_expand(const ccl_powersgd_t *s, const float *from, float *out)
{
    const size_t rows = s->p.rows, cols = s->p.cols, r = s->p.rank;
    for (size_t i = 0; i < rows; i++) {
        float *row = out + i * cols;
        memset(row, 0, cols * sizeof(float));
        for (size_t k = 0; k < r; k++) {
            float a = s->pm[i * r + k];
            const float *q = s->qt + k * cols;
            for (size_t j = 0; j < cols; j++)
                row[j] += a * q[j];
        }
        if (from != NULL) /* the row is still in the cache */
            for (size_t j = 0; j < cols; j++)
                row[j] = from[i * cols + j] - row[j];
    }
}

size_t ccl_powersgd_saved_size(const ccl_powersgd_t *s)
{
    return 4 + s->p.cols * s->p.rank * 4;
}

void ccl_powersgd_save(const ccl_powersgd_t *s, uint8_t *buf)
{
    ccl_put_u32(buf, (uint32_t)s->have_q);
    for (size_t i = 0; i < s->p.cols * s->p.rank; i++)
        ccl_put_f32(buf + 4 + 4 * i, s->qt[i]);
}

ccl_result_t ccl_powersgd_check(const ccl_powersgd_t *s, const uint8_t *buf, size_t len)
{
    if (len != ccl_powersgd_saved_size(s) || ccl_get_u32(buf) > 1)
        return ccl_set_error(NULL, CCL_ERR_INVALID_PAYLOAD, "powersgd checkpoint: bad length or flag");
    for (size_t i = 0; i < s->p.cols * s->p.rank; i++)
        if (!isfinite(ccl_get_f32(buf + 4 + 4 * i)))
            return ccl_set_error(NULL, CCL_ERR_INVALID_PAYLOAD,
                                 "powersgd checkpoint: Q holds a non-finite value");
    return CCL_SUCCESS;
}

ccl_result_t ccl_powersgd_restore(ccl_powersgd_t *s, const uint8_t *buf, size_t len)
{
    size_t nq = s->p.cols * s->p.rank;
    CCL_CHECK(ccl_powersgd_check(s, buf, len));
    s->have_q = (int)ccl_get_u32(buf);
    for (size_t i = 0; i < nq; i++)
        s->qt[i] = ccl_get_f32(buf + 4 + 4 * i);
    return CCL_SUCCESS;
}
