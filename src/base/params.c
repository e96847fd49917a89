/* params.c: parsing, defaults and usage text of parameter tables (params.h). */
#include "base/params.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CCL_PARAM_MIN(a, b) ((a) < (b) ? (a) : (b))

int ccl_param_long(const char *v, long lo, long hi, long *out)
{
    char *end;
    long x = strtol(v, &end, 10);
    if (end == v || *end != '\0' || x < lo || x > hi)
        return -1;
    *out = x;
    return 0;
}

int ccl_param_double(const char *v, double lo, double hi, double *out)
{
    char *end;
    double x = strtod(v, &end);
    if (end == v || *end != '\0' || !(x >= lo && x <= hi))
        return -1;
    *out = x;
    return 0;
}

int ccl_parse_size(const char *s, size_t *out)
{
    char *end;
    unsigned long long v;
    errno = 0;
    if (s == NULL || *s == '\0' || *s == '-')
        return -1;
    v = strtoull(s, &end, 10);
    if (errno != 0 || end == s)
        return -1;
    switch (*end) {
    case 'k': case 'K': v <<= 10; end++; break;
    case 'm': case 'M': v <<= 20; end++; break;
    case 'g': case 'G': v <<= 30; end++; break;
    default: break;
    }
    if (*end == 'B' || *end == 'b')
        end++;
    if (*end != '\0')
        return -1;
    *out = (size_t)v;
    return 0;
}

/* A row's parsed value, before it goes into the field. */
typedef union {
    long long   i; /* INT, BOOL, ENUM, SIZE */
    double      d; /* REAL */
    const char *s; /* STRING */
} param_value_t;

static int parse_value(const ccl_param_field_t *row, const char *val, param_value_t *v)
{
    long x;
    size_t z;
    /* The bounds are doubles; every bound a table uses is exact in one. */
    switch (row->kind) {
    case CCL_PARAM_INT:
        if (ccl_param_long(val, LONG_MIN, LONG_MAX, &x) != 0 || (double)x < row->lo ||
            (double)x > row->hi)
            return -1;
        v->i = x;
        return 0;
    case CCL_PARAM_REAL: {
        char *end;
        double d = strtod(val, &end);
        int above = (row->flags & CCL_PARAM_OPEN_LO) ? d > row->lo : d >= row->lo;
        if (end == val || *end != '\0' || !above || !(d <= row->hi))
            return -1;
        v->d = d;
        return 0;
    }
    case CCL_PARAM_BOOL:
        /* Exactly the two strings: "01" or " 1" are refused. */
        if (strcmp(val, "0") != 0 && strcmp(val, "1") != 0)
            return -1;
        v->i = val[0] == '1';
        return 0;
    case CCL_PARAM_SIZE:
        if (ccl_parse_size(val, &z) != 0 || (double)z < row->lo || (double)z > row->hi)
            return -1;
        v->i = (long long)z;
        return 0;
    case CCL_PARAM_ENUM:
        for (int j = 0; row->names != NULL && row->names[j] != NULL; j++)
            if (strcmp(val, row->names[j]) == 0) {
                v->i = j;
                return 0;
            }
        return -1;
    case CCL_PARAM_STRING:
        v->s = val;
        return 0;
    }
    return -1;
}

/* Integers go in at the field's width: a value within the row's bounds fits the field, and
 * the conversion to the unsigned type of that width keeps its bits, signed field or not. */
static int store_value(const ccl_param_field_t *row, void *obj, const param_value_t *v)
{
    char *at = (char *)obj + row->offset;
    if (row->size == 0) /* a documented setting read elsewhere: checked, not stored */
        return 0;
    if (row->kind == CCL_PARAM_STRING) {
        if (row->size != sizeof(v->s))
            return -1;
        memcpy(at, &v->s, sizeof(v->s));
        return 0;
    }
    if (row->kind == CCL_PARAM_REAL) {
        float f = (float)v->d;
        if (row->size == sizeof(double))
            memcpy(at, &v->d, sizeof(double));
        else if (row->size == sizeof(float) && isfinite(f)) /* none overflows into inf */
            memcpy(at, &f, sizeof(float));
        else
            return -1;
        return 0;
    }
    switch (row->size) {
    case 1: { uint8_t x = (uint8_t)v->i; memcpy(at, &x, 1); return 0; }
    case 2: { uint16_t x = (uint16_t)v->i; memcpy(at, &x, 2); return 0; }
    case 4: { uint32_t x = (uint32_t)v->i; memcpy(at, &x, 4); return 0; }
    case 8: { uint64_t x = (uint64_t)v->i; memcpy(at, &x, 8); return 0; }
    default: return -1;
    }
}

int ccl_param_parse(const ccl_param_field_t *row, void *obj, const char *val)
{
    param_value_t v;
    if (val == NULL || parse_value(row, val, &v) != 0 || store_value(row, obj, &v) != 0)
        return -1;
    if (row->then != NULL)
        row->then(obj);
    return 0;
}

const ccl_param_field_t *ccl_param_find(const ccl_param_field_t *rows, const char *key)
{
    for (; rows->name != NULL; rows++)
        if (strcmp(rows->name, key) == 0)
            return rows;
    return NULL;
}

int ccl_param_set(const ccl_param_field_t *rows, void *obj, const char *key, const char *val)
{
    const ccl_param_field_t *row = ccl_param_find(rows, key);
    return row != NULL ? ccl_param_parse(row, obj, val) : -1;
}

int ccl_param_defaults(const ccl_param_field_t *rows, void *obj)
{
    int res = 0;
    for (; rows->name != NULL; rows++)
        if (rows->dflt != NULL && ccl_param_parse(rows, obj, rows->dflt) != 0)
            res = -1;
    return res;
}

/* snprintf that appends at *used and never runs past len. */
static void append(char *buf, size_t len, size_t *used, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void append(char *buf, size_t len, size_t *used, const char *fmt, ...)
{
    va_list ap;
    int n;
    if (*used >= len)
        return;
    va_start(ap, fmt);
    n = vsnprintf(buf + *used, len - *used, fmt, ap);
    va_end(ap);
    *used = n < 0 ? len : CCL_PARAM_MIN(*used + (size_t)n, len);
}

char *ccl_param_values(const ccl_param_field_t *row, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    switch (row->kind) {
    case CCL_PARAM_INT:
        append(buf, len, &used, "%.0f..%.0f", row->lo, row->hi);
        break;
    case CCL_PARAM_REAL:
        append(buf, len, &used, "%c%g, %g%c", (row->flags & CCL_PARAM_OPEN_LO) ? '(' : '[',
               row->lo, row->hi, isinf(row->hi) ? ')' : ']');
        break;
    case CCL_PARAM_BOOL:
        append(buf, len, &used, "0|1");
        break;
    case CCL_PARAM_SIZE:
        append(buf, len, &used, "bytes (K, M, G suffixes), at least %.0f", row->lo);
        break;
    case CCL_PARAM_ENUM:
        for (int j = 0; row->names[j] != NULL; j++)
            append(buf, len, &used, "%s%s", j ? "|" : "", row->names[j]);
        break;
    case CCL_PARAM_STRING:
        append(buf, len, &used, "text");
        break;
    }
    return buf;
}

char *ccl_param_usage(const ccl_param_field_t *rows, char *buf, size_t len)
{
    char values[128];
    size_t used = 0;
    buf[0] = '\0';
    for (const ccl_param_field_t *r = rows; r->name != NULL; r++)
        append(buf, len, &used, "%s%s=%s", r == rows ? "" : " ", r->name,
               ccl_param_values(r, values, sizeof(values)));
    return buf;
}

int ccl_param_apply(const ccl_param_field_t *rows, void *obj, const char *list, char *err,
                    size_t errlen)
{
    char key[64], val[64], usage[512];
    const char *p = list;
    while (*p != '\0') {
        size_t item = strcspn(p, ","), eq = strcspn(p, "=");
        if (eq >= item || eq == 0 || eq >= sizeof(key) || item - eq - 1 >= sizeof(val) ||
            item - eq - 1 == 0) {
            snprintf(err, errlen, "expected key=value in '%.*s'", (int)item, p);
            return -1;
        }
        memcpy(key, p, eq);
        key[eq] = '\0';
        memcpy(val, p + eq + 1, item - eq - 1);
        val[item - eq - 1] = '\0';
        if (ccl_param_set(rows, obj, key, val) != 0) {
            snprintf(err, errlen, "bad parameter %s=%s (takes %s)", key, val,
                     ccl_param_usage(rows, usage, sizeof(usage)));
            return -1;
        }
        p += item;
        if (*p == ',' && *++p == '\0') {
            snprintf(err, errlen, "empty parameter after ','");
            return -1;
        }
    }
    return 0;
}
