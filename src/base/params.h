/* params.h: tables of named parameters, one row each (name, default, doc, parser, field). */
#ifndef CCL_PARAMS_H
#define CCL_PARAMS_H

#include <stddef.h>

/* How a row reads its text, and what it stores. Integers and numbers are stored at the
 * field's own width (the row's size), so one kind serves int, uint32_t, enums and size_t,
 * or float and double. */
typedef enum {
    CCL_PARAM_INT,    /* base-10 integer in [lo, hi] */
    CCL_PARAM_REAL,   /* number in [lo, hi] (lo excluded with CCL_PARAM_OPEN_LO); a float
                       * field also refuses what overflows a float */
    CCL_PARAM_BOOL,   /* exactly "0" or "1", stored as an integer */
    CCL_PARAM_SIZE,   /* bytes, "64K", "1M", "2G" (ccl_parse_size), in [lo, hi] */
    CCL_PARAM_ENUM,   /* one of names[], stored as its index */
    CCL_PARAM_STRING, /* the text itself, stored as a const char *: not copied, so the text
                       * must outlive the struct (defaults and getenv values do) */
} ccl_param_kind_t;

#define CCL_PARAM_OPEN_LO (1u << 0) /* REAL: lo itself is refused, e.g. a ratio in (0, 1] */

typedef struct ccl_param_field {
    const char      *name;
    const char      *dflt;    /* parsed by the row itself; NULL: none, the field stays zero */
    const char      *doc;
    ccl_param_kind_t kind;
    size_t           offset;  /* into the struct the table fills */
    size_t           size;    /* of that field; 0: a documented setting with no field here */
    double           lo, hi;  /* INT, REAL, SIZE */
    const char *const *names; /* ENUM: NULL-terminated */
    unsigned         flags;   /* CCL_PARAM_OPEN_LO */
    /* After a successful set: a side effect on other fields (topk's ratio= clears k=, so the
     * later of the two wins). NULL: none. */
    void (*then)(void *obj);
} ccl_param_field_t;

/* The offset and size of a row's field, e.g. CCL_PARAM_AT(ccl_codec_params_t, bits), as
 * designated initializers: a row can then stop there, or go on with .lo = ... */
#define CCL_PARAM_AT(type, member)                                                             \
    .offset = offsetof(type, member), .size = sizeof(((type *)0)->member)

/* Tables end with a row whose name is NULL. */
#define CCL_PARAM_END {.name = NULL}

/* The row named key, or NULL. */
const ccl_param_field_t *ccl_param_find(const ccl_param_field_t *rows, const char *key);

/* Parses val by the row into its field of obj. Returns 0, or -1 (bad value: obj unchanged). */
int ccl_param_parse(const ccl_param_field_t *row, void *obj, const char *val);

/* ccl_param_parse on the row named key; -1 also for an unknown key. */
int ccl_param_set(const ccl_param_field_t *rows, void *obj, const char *key, const char *val);

/* Every row's default into obj (rows without one are left alone). Returns 0, or -1 if a
 * default does not parse (a table bug, which the tests look for). */
int ccl_param_defaults(const ccl_param_field_t *rows, void *obj);

/* Applies "key=value,key=value" (empty: nothing). Returns 0, or -1 with the reason, which
 * names the accepted keys and values, in err. */
int ccl_param_apply(const ccl_param_field_t *rows, void *obj, const char *list, char *err,
                    size_t errlen);

/* What a row accepts, e.g. "1..8", "(0, 1]", "nearest|stochastic", into buf (truncated to
 * len); returns buf. */
char *ccl_param_values(const ccl_param_field_t *row, char *buf, size_t len);

/* "key=values key=values ..." for every row, into buf (truncated to len); returns buf. */
char *ccl_param_usage(const ccl_param_field_t *rows, char *buf, size_t len);

/* Value parsers the rows use, for hand-parsed keys elsewhere: an integer or a number within
 * [lo, hi]. Return 0, or -1 if v is not entirely such a value. */
int ccl_param_long(const char *v, long lo, long hi, long *out);
int ccl_param_double(const char *v, double lo, double hi, double *out);

/* Parses "123", "64K", "1M", "2G" (powers of 1024; a trailing B is allowed). Returns 0 on
 * success. */
int ccl_parse_size(const char *s, size_t *out);

#endif
