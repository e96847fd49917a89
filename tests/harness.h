/* harness.h: runs ranks as forked processes of one test program and reports results as
 * "PASS name" / "FAIL name" / "SKIP name: reason" lines for tests/run-tests.sh. */
#ifndef CCL_TEST_HARNESS_H
#define CCL_TEST_HARNESS_H

#include "cclz.h"

#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int h_failed;

static void h_report(int ok, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("%s ", ok ? "PASS" : "FAIL");
    vprintf(fmt, ap);
    printf("\n");
    fflush(stdout);
    va_end(ap);
    if (!ok)
        h_failed++;
}

static double h_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* FNV-1a of n floats' bytes: equal results compared across ranks by their hashes. */
__attribute__((unused)) static uint64_t h_hash_floats(const float *x, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    const uint8_t *b = (const uint8_t *)x;
    for (size_t i = 0; i < n * sizeof(float); i++)
        h = (h ^ b[i]) * 1099511628211ULL;
    return h;
}

/* A rank's communicator, or exit 90 with the reason. */
__attribute__((unused)) static ccl_comm_t h_init_comm(int rank, int nranks, ccl_unique_id_t id)
{
    ccl_comm_t comm;
    if (ccl_comm_init_rank(&comm, nranks, id, rank) != CCL_SUCCESS) {
        fprintf(stderr, "rank %d: init: %s\n", rank, ccl_get_last_error(NULL));
        exit(90);
    }
    return comm;
}

/* A thread body that kills this process after arg microseconds (an intptr_t). */
__attribute__((unused)) static void *h_killer(void *arg)
{
    usleep((useconds_t)(intptr_t)arg);
    raise(SIGKILL);
    return NULL;
}

typedef int (*h_rank_fn)(int rank, int nranks, ccl_unique_id_t id, const char *arg);

static h_rank_fn h_entry;
static char h_self[4096];

/* Call first in main(): when this process is a rank started by h_spawn, runs the rank
 * function and exits; otherwise records fn for h_spawn and returns. Ranks are started with
 * fork and exec so that each begins with no threads and no inherited library state. */
__attribute__((unused)) static void h_init(int argc, char **argv, h_rank_fn fn)
{
    const char *r = getenv("H_RANK");
    ssize_t n = readlink("/proc/self/exe", h_self, sizeof(h_self) - 1);
    h_self[n > 0 ? n : 0] = '\0';
    h_entry = fn;
    (void)argc;
    (void)argv;
    if (r != NULL) {
        ccl_unique_id_t id;
        if (ccl_unique_id_from_string(getenv("H_ID"), &id) != CCL_SUCCESS)
            exit(251);
        exit(fn(atoi(r), atoi(getenv("H_NRANKS")), id, getenv("H_ARG")));
    }
}

/* Starts nranks ranks running the h_init function with `arg`; the calling process serves
 * the rendezvous. A rank still running after timeout_s is killed and reported as 200.
 * codes[r] gets the exit code, or 128+signal. Returns nonzero if any code is. */
__attribute__((unused)) static int h_spawn(int nranks, const char *arg, double timeout_s, int *codes)
{
    ccl_unique_id_t id;
    char idstr[CCL_UNIQUE_ID_STRLEN], buf[32];
    pid_t pids[64];
    int any = 0;
    /* H_FIXED_ID: join a rendezvous this process already opened (for the stranger test). */
    const char *fixed = getenv("H_FIXED_ID");
    if (nranks > 64 || (fixed ? ccl_unique_id_from_string(fixed, &id)
                              : ccl_get_unique_id(&id)) != CCL_SUCCESS) {
        fprintf(stderr, "harness: cannot make a unique id: %s\n", ccl_get_last_error(NULL));
        for (int r = 0; r < nranks && r < 64; r++)
            codes[r] = 250;
        return -1;
    }
    ccl_unique_id_to_string(&id, idstr, sizeof(idstr));
    fflush(stdout);
    fflush(stderr);
    for (int r = 0; r < nranks; r++) {
        pids[r] = fork();
        if (pids[r] == 0) {
            char *av[] = {h_self, NULL};
            snprintf(buf, sizeof(buf), "%d", r);
            setenv("H_RANK", buf, 1);
            snprintf(buf, sizeof(buf), "%d", nranks);
            setenv("H_NRANKS", buf, 1);
            setenv("H_ID", idstr, 1);
            setenv("H_ARG", arg ? arg : "", 1);
            unsetenv("H_FIXED_ID");
            execv(h_self, av);
            _exit(252);
        }
    }
    double deadline = h_now() + timeout_s;
    for (int r = 0; r < nranks; r++)
        codes[r] = -1;
    for (int left = nranks; left > 0;) {
        int st;
        pid_t pid = waitpid(-1, &st, WNOHANG);
        if (pid <= 0) {
            if (h_now() > deadline) {
                for (int r = 0; r < nranks; r++)
                    if (codes[r] == -1) {
                        fprintf(stderr, "harness: rank %d hung; killing it\n", r);
                        kill(pids[r], SIGKILL);
                        waitpid(pids[r], NULL, 0);
                        codes[r] = 200;
                        left--;
                    }
                break;
            }
            usleep(2000);
            continue;
        }
        for (int r = 0; r < nranks; r++)
            if (pids[r] == pid) {
                codes[r] = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
                left--;
            }
    }
    for (int r = 0; r < nranks; r++)
        any |= codes[r] != 0;
    return any;
}

#endif
