/* base.c: logging, error strings and last-error records, the allocation fail point, clocks,
 * hashing, randomness. */
#include "base/base.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

int ccl_log_level = CCL_LOG_WARN;

static __thread ccl_errbuf_t tls_last_error;

/* Where comm's errors go: the record struct ccl_comm begins with (core/comm.h). */
static ccl_errbuf_t *errbuf_of(struct ccl_comm *comm)
{
    return comm != NULL ? (ccl_errbuf_t *)(void *)comm : &tls_last_error;
}

void ccl_log_write(ccl_log_level_t level, const char *file, int line, const char *fmt, ...)
{
    static const char *names[] = {"ERROR", "WARN", "INFO", "DEBUG", "TRACE"};
    char msg[1024];
    va_list ap;
    const char *base = strrchr(file, '/');
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    /* One write per line so lines from several ranks do not interleave mid-line. */
    char out[1200];
    int n = snprintf(out, sizeof(out), "cclz %d %s %s:%d %s\n", (int)getpid(), names[level],
                     base ? base + 1 : file, line, msg);
    if (n > 0)
        (void)!write(2, out, (size_t)CCL_MIN(n, (int)sizeof(out) - 1));
}

ccl_result_t ccl_set_error(struct ccl_comm *comm, ccl_result_t res, const char *fmt, ...)
{
    char *dst = errbuf_of(comm)->text;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(dst, CCL_ERRSTR_LEN, fmt, ap);
    va_end(ap);
    ccl_debug("error %d (%s): %s", (int)res, ccl_get_error_string(res), dst);
    return res;
}

const char *ccl_get_error_string(ccl_result_t result)
{
    switch (result) {
    case CCL_SUCCESS:         return "success";
    case CCL_ERR_INVALID_ARG: return "invalid argument";
    case CCL_ERR_NO_MEMORY:   return "out of memory";
    case CCL_ERR_SYSTEM:      return "system call failed";
    case CCL_ERR_TRANSPORT:   return "transport error";
    case CCL_ERR_TIMEOUT:     return "timed out";
    case CCL_ERR_MISMATCH:    return "ranks called with mismatched arguments";
    case CCL_ERR_REMOTE:      return "another rank failed";
    case CCL_ERR_ABORTED:     return "communicator aborted";
    case CCL_ERR_UNSUPPORTED: return "not supported";
    case CCL_ERR_INTERNAL:    return "internal error";
    case CCL_ERR_BOOTSTRAP:   return "rendezvous failed";
    case CCL_ERR_INVALID_PAYLOAD: return "invalid compressed payload";
    }
    return "unknown result code";
}

const char *ccl_get_last_error(ccl_comm_t comm)
{
    return errbuf_of(comm)->text;
}

ccl_result_t ccl_get_version(int *version_p)
{
    if (version_p == NULL)
        return ccl_set_error(NULL, CCL_ERR_INVALID_ARG, "version_p is NULL");
    *version_p = CCLZ_VERSION_MAJOR * 10000 + CCLZ_VERSION_MINOR * 100 + CCLZ_VERSION_PATCH;
    return CCL_SUCCESS;
}

static __thread int fail_alloc_in; /* 0: no fail point armed */

void ccl_test_fail_alloc(int nth)
{
    fail_alloc_in = nth > 0 ? nth : 0;
}

int ccl_alloc_fails(void)
{
    return fail_alloc_in > 0 && --fail_alloc_in == 0;
}

double ccl_time_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* FNV-1a, 64-bit: used for call signatures, not for security. */
uint64_t ccl_hash64(const void *buf, size_t len, uint64_t seed)
{
    const uint8_t *p = buf;
    uint64_t h = 1469598103934665603ULL ^ seed;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 1099511628211ULL;
    }
    return h;
}

int ccl_random_bytes(void *buf, size_t len)
{
    uint8_t *p = buf;
    while (len > 0) {
        ssize_t n = getrandom(p, len, 0);
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}
