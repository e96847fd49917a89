/* request.c: nonblocking calls. Each communicator has one queue of issued calls, run one at
 * a time in issue order by its progress thread (or, without one, inside ccl_test and
 * ccl_wait); a blocking call runs at once on its caller's thread when nothing is queued,
 * else takes its turn in the queue. */
#define _GNU_SOURCE /* pthread_attr_setaffinity_np, CPU_SET */
#include "collectives/request.h"
#include "core/placement.h"
#include "collectives/compressed/compressor.h"
#include "base/env_config.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

struct ccl_request {
    struct ccl_reqq    *q;     /* outlives the communicator after an abort (below) */
    ccl_call_t          call;
    ccl_result_t        res;
    int                 done;  /* under the queue's lock, as are the links */
    char                error[CCL_ERRSTR_LEN];
    struct ccl_request *next;  /* the queue: issued, not yet started */
    struct ccl_request *live_prev, *live_next; /* every request not yet freed */
};

struct ccl_reqq {
    /* NULL once the communicator was aborted with requests not yet waited on: the queue then
     * stays for them alone (they are done), and the last one released frees it. */
    struct ccl_comm    *comm;
    pthread_mutex_t     mu;
    pthread_cond_t      work;    /* to the thread: a request queued, the runner free, or stop */
    pthread_cond_t      changed; /* to waiters: a request done, the runner free, or a waiter left */
    struct ccl_request *head, *tail;
    struct ccl_request *live;
    int                 running; /* a call of this comm runs now, on some thread */
    int                 waiters; /* threads inside ccl_test or ccl_wait on this comm */
    int                 stop;    /* destroy or abort began: no new requests */
    int                 want_thread, have_thread;
    int                 cpu;
    pthread_t           thread;
};

/* The communicator whose call this thread runs now: calls it makes on that communicator
 * (a _stream call's host call, a compressed call's exact fallback) run inline. */
static __thread struct ccl_comm *tls_running;

ccl_result_t ccl_reqq_create(struct ccl_comm *comm)
{
    struct ccl_reqq *q = calloc(1, sizeof(*q));
    if (q == NULL)
        return ccl_set_error(NULL, CCL_ERR_NO_MEMORY, "no memory for the request queue");
    pthread_mutex_init(&q->mu, NULL);
    pthread_cond_init(&q->work, NULL);
    pthread_cond_init(&q->changed, NULL);
    q->want_thread = ccl_config_get()->progress_thread;
    q->cpu = ccl_config_get()->progress_cpu;
    q->comm = comm;
    comm->reqq = q;
    return CCL_SUCCESS;
}

/* Bytes of input c was given (ccl_stats_t.bytes_in). */
static uint64_t input_bytes(const ccl_call_t *c)
{
    uint64_t n = (uint64_t)c->count * ccl_datatype_size(c->dtype);
    if (c->kind == CCL_CALL_BARRIER)
        return 0;
    return c->kind == CCL_CALL_REDUCE_SCATTER || c->kind == CCL_CALL_REDUCE_SCATTER_COMPRESSED
               ? n * (uint64_t)c->comm->nranks
               : n;
}

/* Runs c on this thread as the communicator's one running call (q->running is set), and
 * counts it. An exact call returns CCL_ERR_INVALID_ARG only from its checks, before it
 * runs; a compressed one also when a step is refused for a NaN or Inf, so its checks are
 * made apart first to tell the two (exact calls, the latency-bound ones, check once). */
static ccl_result_t run_claimed(struct ccl_comm *comm, const ccl_call_t *c, int sleeps)
{
    struct ccl_comm *outer = tls_running;
    uint64_t sent = comm->stats.bytes_sent;
    tls_running = comm;
    comm->progress_sleeps = sleeps;
    /* Robust calls, like compressed ones, refuse a non-finite vector after they ran. */
    const int refuses_late = c->comp != NULL || c->kind == CCL_CALL_ALLREDUCE_ROBUST;
    ccl_result_t res = refuses_late ? ccl_call_run(c, 1) : CCL_SUCCESS;
    int checked = res == CCL_SUCCESS;
    if (checked)
        res = ccl_call_run(c, 0);
    comm->progress_sleeps = 0;
    tls_running = outer;
    if (!checked || (!refuses_late && res == CCL_ERR_INVALID_ARG))
        return res;
    comm->stats.calls++;
    comm->stats.bytes_in += input_bytes(c);
    if (res == CCL_ERR_INVALID_ARG)
        comm->stats.skipped++;
    if (c->comp != NULL) {
        c->comp->stats.calls++;
        c->comp->stats.bytes_in += input_bytes(c);
        c->comp->stats.bytes_sent += comm->stats.bytes_sent - sent;
        if (res == CCL_ERR_INVALID_ARG)
            c->comp->stats.skipped++;
    }
    return res;
}

/* Takes the queue's first request and runs it; called and returns with q->mu held. */
static void run_head_locked(struct ccl_comm *comm, struct ccl_reqq *q, int sleeps)
{
    struct ccl_request *r = q->head;
    q->head = r->next;
    if (q->head == NULL)
        q->tail = NULL;
    q->running = 1;
    pthread_mutex_unlock(&q->mu);
    ccl_result_t res = run_claimed(comm, &r->call, sleeps);
    if (res < 0)
        snprintf(r->error, sizeof(r->error), "%s", ccl_get_last_error(comm));
    pthread_mutex_lock(&q->mu);
    if (r->call.comp != NULL)
        atomic_store(&r->call.comp->busy, 0);
    r->res = res;
    r->done = 1;
    q->running = 0;
    pthread_cond_broadcast(&q->changed);
}

static void *progress_main(void *arg)
{
    struct ccl_comm *comm = arg;
    struct ccl_reqq *q = comm->reqq;
    if (q->cpu < 0) /* CCLZ_PROGRESS_CPU unset: this rank's NUMA node's cores */
        ccl_place_bind_thread();
    pthread_mutex_lock(&q->mu);
    for (;;) {
        while (!q->stop && (q->head == NULL || q->running))
            pthread_cond_wait(&q->work, &q->mu);
        if (q->head == NULL || q->running)
            break; /* stop, and nothing left that this thread may run */
        run_head_locked(comm, q, 1);
    }
    pthread_mutex_unlock(&q->mu);
    return NULL;
}

/* Starts the progress thread on the first request; without one, requests run inside
 * ccl_test and ccl_wait. Called with q->mu held. */
static void start_thread_locked(struct ccl_comm *comm, struct ccl_reqq *q)
{
    pthread_attr_t attr;
    q->want_thread = 0; /* one try */
    pthread_attr_init(&attr);
    if (q->cpu >= 0 && q->cpu < CPU_SETSIZE) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(q->cpu, &set);
        pthread_attr_setaffinity_np(&attr, sizeof(set), &set);
    }
    int err = pthread_create(&q->thread, &attr, progress_main, comm);
    pthread_attr_destroy(&attr);
    if (err != 0) {
        ccl_warn("rank %d: no progress thread (%s): requests run inside ccl_test and ccl_wait",
                 comm->rank, strerror(err));
        return;
    }
    q->have_thread = 1;
}

ccl_result_t ccl_call_issue(const ccl_call_t *c, ccl_request_t *req_p)
{
    if (req_p == NULL)
        return ccl_set_error(c->comm, CCL_ERR_INVALID_ARG, "req_p is NULL");
    *req_p = NULL;
    CCL_CHECK(ccl_call_run(c, 1));
    struct ccl_comm *comm = c->comm;
    struct ccl_reqq *q = comm->reqq;
    if (c->comp != NULL && atomic_exchange(&c->comp->busy, 1) != 0)
        return ccl_set_error(comm, CCL_ERR_INVALID_ARG,
                             "compressor '%s' already has a call in flight; wait for it first",
                             c->comp->spec);
    struct ccl_request *r = calloc(1, sizeof(*r));
    if (r == NULL) {
        if (c->comp != NULL)
            atomic_store(&c->comp->busy, 0);
        return ccl_set_error(comm, CCL_ERR_NO_MEMORY, "no memory for a request");
    }
    r->q = q;
    r->call = *c;
    pthread_mutex_lock(&q->mu);
    if (q->stop) {
        pthread_mutex_unlock(&q->mu);
        if (c->comp != NULL)
            atomic_store(&c->comp->busy, 0);
        free(r);
        return ccl_set_error(comm, CCL_ERR_ABORTED, "the communicator is being destroyed");
    }
    if (q->tail != NULL)
        q->tail->next = r;
    else
        q->head = r;
    q->tail = r;
    r->live_next = q->live;
    if (q->live != NULL)
        q->live->live_prev = r;
    q->live = r;
    if (q->want_thread)
        start_thread_locked(comm, q);
    pthread_cond_signal(&q->work);
    pthread_mutex_unlock(&q->mu);
    *req_p = r;
    return CCL_SUCCESS;
}

ccl_result_t ccl_call_blocking(const ccl_call_t *c)
{
    struct ccl_comm *comm = c->comm;
    if (comm == NULL || comm->reqq == NULL || tls_running == comm)
        return ccl_call_run(c, 0);
    struct ccl_reqq *q = comm->reqq;
    if (c->comp != NULL && atomic_load(&c->comp->busy))
        return ccl_set_error(comm, CCL_ERR_INVALID_ARG,
                             "compressor '%s' has a call in flight; wait for it first",
                             c->comp->spec);
    pthread_mutex_lock(&q->mu);
    if (q->head != NULL || q->running) {
        /* Issued calls run first, in order: take a turn behind them. */
        pthread_mutex_unlock(&q->mu);
        ccl_request_t r;
        CCL_CHECK(ccl_call_issue(c, &r));
        return ccl_wait(&r);
    }
    q->running = 1;
    pthread_mutex_unlock(&q->mu);
    ccl_result_t res = run_claimed(comm, c, 0);
    pthread_mutex_lock(&q->mu);
    q->running = 0;
    if (q->head != NULL)
        pthread_cond_signal(&q->work);
    pthread_cond_broadcast(&q->changed);
    pthread_mutex_unlock(&q->mu);
    return res;
}

/* Until r is done: on the progress thread's word, or (without a thread) running the queue
 * up to r here. Called and returns with q->mu held. */
static void await_locked(struct ccl_comm *comm, struct ccl_reqq *q, struct ccl_request *r)
{
    while (!r->done) {
        if (!q->have_thread && !q->running && q->head != NULL)
            run_head_locked(comm, q, 0);
        else
            pthread_cond_wait(&q->changed, &q->mu);
    }
}

/* Frees a finished request and returns its result and message. */
static ccl_result_t release_locked(struct ccl_reqq *q, struct ccl_request *r, char *error)
{
    ccl_result_t res = r->res;
    if (r->live_prev != NULL)
        r->live_prev->live_next = r->live_next;
    else
        q->live = r->live_next;
    if (r->live_next != NULL)
        r->live_next->live_prev = r->live_prev;
    memcpy(error, r->error, CCL_ERRSTR_LEN);
    free(r);
    return res;
}

static void queue_free(struct ccl_reqq *q)
{
    pthread_mutex_destroy(&q->mu);
    pthread_cond_destroy(&q->work);
    pthread_cond_destroy(&q->changed);
    free(q);
}

/* Leaves a ccl_test, ccl_wait or ccl_waitall begun with q->waiters++: unlocks, frees a
 * queue that outlived its communicator once its last request is gone, and gives the result
 * with its message (on comm, or on this thread where comm is gone). */
static ccl_result_t leave(struct ccl_reqq *q, ccl_result_t res, const char *error)
{
    struct ccl_comm *comm = q->comm;
    int orphan_done = comm == NULL && q->live == NULL;
    /* The message goes on comm while this thread still counts as a waiter: an abort in
     * another thread frees comm only once no waiter is left. */
    if (res < 0)
        ccl_set_error(comm, res, "%s", error);
    q->waiters--;
    pthread_cond_broadcast(&q->changed);
    pthread_mutex_unlock(&q->mu);
    if (orphan_done)
        queue_free(q);
    return res;
}

ccl_result_t ccl_wait(ccl_request_t *req_p)
{
    if (req_p == NULL)
        return ccl_set_error(NULL, CCL_ERR_INVALID_ARG, "req_p is NULL");
    struct ccl_request *r = *req_p;
    if (r == NULL)
        return CCL_SUCCESS; /* as MPI_Wait on MPI_REQUEST_NULL */
    struct ccl_reqq *q = r->q;
    char error[CCL_ERRSTR_LEN];
    pthread_mutex_lock(&q->mu);
    q->waiters++;
    await_locked(q->comm, q, r);
    ccl_result_t res = release_locked(q, r, error);
    *req_p = NULL;
    return leave(q, res, error);
}

ccl_result_t ccl_test(ccl_request_t *req_p, int *done_p)
{
    if (req_p == NULL || done_p == NULL)
        return ccl_set_error(NULL, CCL_ERR_INVALID_ARG, "%s is NULL",
                             req_p == NULL ? "req_p" : "done_p");
    struct ccl_request *r = *req_p;
    *done_p = 1;
    if (r == NULL)
        return CCL_SUCCESS;
    struct ccl_reqq *q = r->q;
    char error[CCL_ERRSTR_LEN];
    pthread_mutex_lock(&q->mu);
    q->waiters++;
    if (!q->have_thread)
        await_locked(q->comm, q, r); /* no one else would ever run it */
    if (!r->done) {
        *done_p = 0;
        return leave(q, CCL_SUCCESS, "");
    }
    ccl_result_t res = release_locked(q, r, error);
    *req_p = NULL;
    return leave(q, res, error);
}

ccl_result_t ccl_waitall(int n, ccl_request_t *reqs)
{
    ccl_result_t first = CCL_SUCCESS;
    char error[CCL_ERRSTR_LEN], first_error[CCL_ERRSTR_LEN] = "";
    if (n < 0 || (n > 0 && reqs == NULL))
        return ccl_set_error(NULL, CCL_ERR_INVALID_ARG, "waitall of %d requests at %p", n,
                             (void *)reqs);
    struct ccl_reqq *q = NULL;
    for (int i = 0; i < n; i++) {
        if (reqs[i] == NULL)
            continue;
        if (q != NULL && reqs[i]->q != q) {
            /* Several communicators: one wait after another. */
            for (int j = 0; j < n; j++) {
                ccl_result_t res = ccl_wait(&reqs[j]);
                if (res < 0 && first == CCL_SUCCESS)
                    first = res;
            }
            return first;
        }
        q = reqs[i]->q;
    }
    if (q == NULL)
        return CCL_SUCCESS;
    /* One communicator: one waiter throughout, so that an abort from another thread finds
     * this call inside and lets it finish. */
    pthread_mutex_lock(&q->mu);
    q->waiters++;
    for (int i = 0; i < n; i++) {
        if (reqs[i] == NULL)
            continue;
        await_locked(q->comm, q, reqs[i]);
        ccl_result_t res = release_locked(q, reqs[i], error);
        reqs[i] = NULL;
        if (res < 0 && first == CCL_SUCCESS) {
            first = res;
            memcpy(first_error, error, sizeof(error));
        }
    }
    return leave(q, first, first_error);
}

void ccl_reqq_shutdown(struct ccl_comm *comm, int abort)
{
    struct ccl_reqq *q = comm->reqq;
    if (q == NULL)
        return;
    pthread_mutex_lock(&q->mu);
    if (abort) {
        /* The running call sees the abort flag; the queued ones never start. */
        for (struct ccl_request *r = q->head; r != NULL; r = r->next) {
            r->res = CCL_ERR_ABORTED;
            snprintf(r->error, sizeof(r->error), "ccl_comm_abort was called before it ran");
            r->done = 1;
        }
        q->head = q->tail = NULL;
    } else {
        /* Destroy: every issued call runs first (its peers run it too). */
        while (q->head != NULL || q->running) {
            if (!q->have_thread && !q->running)
                run_head_locked(comm, q, 0);
            else
                pthread_cond_wait(&q->changed, &q->mu);
        }
    }
    q->stop = 1;
    pthread_cond_broadcast(&q->work);
    pthread_cond_broadcast(&q->changed);
    pthread_mutex_unlock(&q->mu);
    if (q->have_thread)
        pthread_join(q->thread, NULL);
    pthread_mutex_lock(&q->mu);
    while (q->waiters > 0 || q->running) /* a running blocking call, or a woken waiter */
        pthread_cond_wait(&q->changed, &q->mu);
    comm->reqq = NULL;
    for (struct ccl_request *r = q->live; r != NULL; r = r->live_next)
        if (r->call.comp != NULL)
            atomic_store(&r->call.comp->busy, 0);
    if (abort && q->live != NULL) {
        /* Requests the caller still holds, every one done: each gives its result to the wait
         * or test that comes for it, and the last one frees the queue. */
        q->comm = NULL;
        pthread_mutex_unlock(&q->mu);
        return;
    }
    while (q->live != NULL) {
        struct ccl_request *r = q->live;
        q->live = r->live_next;
        free(r);
    }
    pthread_mutex_unlock(&q->mu);
    queue_free(q);
}
