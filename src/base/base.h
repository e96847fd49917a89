/* base.h: the conventions every layer shares: error checks and records, logging, small
 * helpers. The lowest layer: it includes nothing of the project but the public header. */
#ifndef CCL_BASE_H
#define CCL_BASE_H

#include "cclz.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Internal only: an operation that has not finished yet. Never returned by a public call. */
#define CCL_INPROGRESS 1

typedef enum { CCL_LOG_ERROR = 0, CCL_LOG_WARN, CCL_LOG_INFO, CCL_LOG_DEBUG, CCL_LOG_TRACE } ccl_log_level_t;

extern int ccl_log_level;

void ccl_log_write(ccl_log_level_t level, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#define ccl_log(_lvl, ...)                                                          \
    do {                                                                            \
        if ((int)(_lvl) <= ccl_log_level)                                           \
            ccl_log_write((_lvl), __FILE__, __LINE__, __VA_ARGS__);                 \
    } while (0)
#define ccl_error(...) ccl_log(CCL_LOG_ERROR, __VA_ARGS__)
#define ccl_warn(...)  ccl_log(CCL_LOG_WARN, __VA_ARGS__)
#define ccl_info(...)  ccl_log(CCL_LOG_INFO, __VA_ARGS__)
#define ccl_debug(...) ccl_log(CCL_LOG_DEBUG, __VA_ARGS__)
#define ccl_trace(...) ccl_log(CCL_LOG_TRACE, __VA_ARGS__)

#define CCL_ERRSTR_LEN 512

/* A last-error record. struct ccl_comm begins with one, so that this layer can record an
 * error on a communicator while knowing nothing else of it. */
typedef struct {
    char text[CCL_ERRSTR_LEN];
} ccl_errbuf_t;

/* Records the cause of an error where it is first detected: into comm's last-error string
 * (or the thread's, for comm NULL), and into the debug log. Returns `res` so a caller can
 * write `return ccl_set_error(comm, CCL_ERR_INVALID_ARG, "count overflows")`. */
struct ccl_comm;
ccl_result_t ccl_set_error(struct ccl_comm *comm, ccl_result_t res, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Propagates an error, adding one trace line per hop (as NCCL's NCCLCHECK does). */
#define CCL_CHECK(_call)                                                            \
    do {                                                                            \
        ccl_result_t _r = (_call);                                                  \
        if (_r < 0) {                                                               \
            ccl_trace("%s -> %d", #_call, (int)_r);                                 \
            return _r;                                                              \
        }                                                                           \
    } while (0)

/* Same, but jumps to a cleanup label after storing the result in `res`. */
#define CCL_CHECK_GOTO(_call, _res, _label)                                         \
    do {                                                                            \
        (_res) = (_call);                                                           \
        if ((_res) < 0) {                                                           \
            ccl_trace("%s -> %d", #_call, (int)(_res));                             \
            goto _label;                                                            \
        }                                                                           \
    } while (0)

/* On internal functions whose result must be looked at. */
#define CCL_NODISCARD __attribute__((warn_unused_result))

#define CCL_MIN(a, b) ((a) < (b) ? (a) : (b))
#define CCL_MAX(a, b) ((a) > (b) ? (a) : (b))
#define CCL_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* A fail point for tests: after ccl_test_fail_alloc(n), the n-th call of ccl_alloc_fails
 * on this thread returns 1, once; every other call returns 0. Allocations that a test must be
 * able to refuse ask it first (the communicator's scratch, say). */
void ccl_test_fail_alloc(int nth);
int ccl_alloc_fails(void);

double ccl_time_now(void);           /* monotonic seconds */
uint64_t ccl_hash64(const void *buf, size_t len, uint64_t seed);
int ccl_random_bytes(void *buf, size_t len); /* 0 on success */

#endif /* CCL_BASE_H */
