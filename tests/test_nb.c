/* test_nb.c: nonblocking calls. 64 requests of every kind outstanding at once and waited in
 * another order give the blocking calls' results bit for bit; compressed and exact requests
 * interleave on several compressors; tests polled from another thread, and issue in one
 * thread while another waits; abort with requests pending; a killed peer; a NaN inside a
 * queue; a busy compressor; bad arguments; destroy with requests never waited on. Run with
 * and without the progress thread (CCLZ_PROGRESS_THREAD). */
#include "harness.h"

#include <math.h>
#include <pthread.h>
#include <stdint.h>

#define TIMEOUT_S 3.0
#define NOPS 64
#define NCOMP 8

static const char *specs[NCOMP] = {"int:bits=8", "int:bits=4,bucket=64", "topk:ratio=0.05",
                                   "cast:type=bf16", "qsgd:bits=4", "sign", "randomk:ratio=0.1",
                                   "dgc:ratio=0.01"};

typedef enum { K_ALLREDUCE, K_ALLGATHER, K_REDUCE_SCATTER, K_BROADCAST, K_BARRIER, K_COMP,
               K_COMP_GATHER, K_KINDS } kind_t;

typedef struct {
    kind_t kind;
    size_t count;
    ccl_datatype_t dtype;
    ccl_redop_t op;
    int root, comp;
    void *send, *recv;
    size_t send_bytes, recv_bytes;
} op_t;

static uint64_t mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    return x;
}

/* The same list of calls on every rank (seeded by the batch); inputs differ per rank. The
 * compressed calls use compressors 0..NCOMP-1 once each per batch. */
static void plan(op_t *ops, int batch, int rank, int p)
{
    static const ccl_datatype_t dts[] = {CCL_FLOAT32, CCL_INT32, CCL_FLOAT64, CCL_INT64};
    int comp = 0;
    for (int i = 0; i < NOPS; i++) {
        op_t *o = &ops[i];
        uint64_t h = mix((uint64_t)batch * 1000 + (uint64_t)i + 1);
        memset(o, 0, sizeof(*o));
        o->kind = (kind_t)(h % 5);
        if (i % 8 == 3 && comp < NCOMP) {
            o->kind = comp == 2 ? K_COMP_GATHER : K_COMP;
            o->comp = comp++;
        }
        o->count = (h >> 8) % 5 == 0 ? (h >> 16) % 7 : 1 + (h >> 16) % 20000;
        if (o->kind >= K_COMP)
            o->count = 1000 + 997 * (size_t)o->comp; /* the compressor's, in every batch */
        o->dtype = o->kind >= K_COMP ? CCL_FLOAT32 : dts[(h >> 40) % 4];
        o->op = o->kind == K_ALLREDUCE && (h >> 44) % 3 == 0 ? CCL_MAX : CCL_SUM;
        o->root = (int)((h >> 48) % (uint64_t)p);
        size_t es = ccl_datatype_size(o->dtype), n = o->count;
        o->send_bytes = (o->kind == K_REDUCE_SCATTER ? n * (size_t)p : n) * es;
        o->recv_bytes = (o->kind == K_ALLGATHER || o->kind == K_COMP_GATHER ? n * (size_t)p : n) * es;
        o->send = calloc(1, o->send_bytes + 8);
        o->recv = calloc(1, o->recv_bytes + 8);
        for (size_t b = 0; b < o->send_bytes / es; b++) {
            uint64_t v = mix(h + (uint64_t)rank * 7919 + b);
            if (o->dtype == CCL_FLOAT32)
                ((float *)o->send)[b] = o->kind >= K_COMP ? (float)((int64_t)(v % 2001) - 1000) / 97.0f
                                                          : (float)(v % 64);
            else if (o->dtype == CCL_FLOAT64)
                ((double *)o->send)[b] = (double)(v % 1000);
            else if (o->dtype == CCL_INT32)
                ((int32_t *)o->send)[b] = (int32_t)(v % 100000);
            else
                ((int64_t *)o->send)[b] = (int64_t)(v % 100000);
        }
    }
}

static void unplan(op_t *ops)
{
    for (int i = 0; i < NOPS; i++) {
        free(ops[i].send);
        free(ops[i].recv);
    }
}

static ccl_result_t issue(op_t *o, ccl_compressor_t *comps, ccl_comm_t comm, ccl_request_t *req)
{
    switch (o->kind) {
    case K_ALLREDUCE:
        return ccl_iallreduce(o->send, o->recv, o->count, o->dtype, o->op, comm, req);
    case K_ALLGATHER:
        return ccl_iallgather(o->send, o->recv, o->count, o->dtype, comm, req);
    case K_REDUCE_SCATTER:
        return ccl_ireduce_scatter(o->send, o->recv, o->count, o->dtype, o->op, comm, req);
    case K_BROADCAST:
        return ccl_ibroadcast(o->send, o->recv, o->count, o->dtype, o->root, comm, req);
    case K_BARRIER:
        return ccl_ibarrier(comm, req);
    case K_COMP:
        return ccl_iallreduce_compressed(o->send, o->recv, o->count, o->dtype, CCL_SUM,
                                         comps[o->comp], comm, req);
    default:
        return ccl_iallgather_compressed(o->send, o->recv, o->count, o->dtype, comps[o->comp],
                                         comm, req);
    }
}

static ccl_result_t blocking(op_t *o, ccl_compressor_t *comps, ccl_comm_t comm)
{
    switch (o->kind) {
    case K_ALLREDUCE:
        return ccl_allreduce(o->send, o->recv, o->count, o->dtype, o->op, comm);
    case K_ALLGATHER:
        return ccl_allgather(o->send, o->recv, o->count, o->dtype, comm);
    case K_REDUCE_SCATTER:
        return ccl_reduce_scatter(o->send, o->recv, o->count, o->dtype, o->op, comm);
    case K_BROADCAST:
        return ccl_broadcast(o->send, o->recv, o->count, o->dtype, o->root, comm);
    case K_BARRIER:
        return ccl_barrier(comm);
    case K_COMP:
        return ccl_allreduce_compressed(o->send, o->recv, o->count, o->dtype, CCL_SUM,
                                        comps[o->comp], comm);
    default:
        return ccl_allgather_compressed(o->send, o->recv, o->count, o->dtype, comps[o->comp],
                                        comm);
    }
}

/* Compressors for the plan's compressed calls (compressor j has the same count in every
 * batch). */
static int make_comps(ccl_comm_t comm, op_t *ops, ccl_compressor_t *comps)
{
    for (int i = 0; i < NOPS; i++)
        if (ops[i].kind >= K_COMP &&
            ccl_compressor_create(comm, specs[ops[i].comp], ops[i].count, CCL_FLOAT32,
                                  &comps[ops[i].comp]) != CCL_SUCCESS) {
            fprintf(stderr, "compressor %s: %s\n", specs[ops[i].comp], ccl_get_last_error(comm));
            return 0;
        }
    return 1;
}

/* Batches of 64 calls of every kind: blocking into reference buffers, then the same calls
 * issued all at once and waited in a shuffled order (or polled from another thread); the
 * results must be the same bytes. Compressed calls carry error feedback across batches on
 * both sides. */
typedef struct {
    ccl_request_t *reqs;
    int n, bad;
} poller_t;

static void *poll_all(void *arg)
{
    poller_t *pl = arg;
    for (int left = pl->n; left > 0;)
        for (int i = 0; i < pl->n; i++) {
            int done = 0;
            if (pl->reqs[i] == NULL)
                continue;
            if (ccl_test(&pl->reqs[i], &done) != CCL_SUCCESS)
                pl->bad++;
            left -= done;
        }
    return NULL;
}

static int sc_mixed(int rank, int p, ccl_comm_t comm, int polled)
{
    op_t ref[NOPS], nb[NOPS];
    ccl_compressor_t cref[NCOMP] = {0}, cnb[NCOMP] = {0};
    ccl_request_t reqs[NOPS];
    int bad = 0;
    plan(ref, 0, rank, p);
    if (!make_comps(comm, ref, cref) || !make_comps(comm, ref, cnb))
        return 2;
    unplan(ref);
    for (int batch = 0; batch < 3; batch++) {
        plan(ref, batch, rank, p);
        plan(nb, batch, rank, p);
        for (int i = 0; i < NOPS; i++)
            if (blocking(&ref[i], cref, comm) != CCL_SUCCESS) {
                fprintf(stderr, "rank %d: blocking op %d: %s\n", rank, i, ccl_get_last_error(comm));
                return 3;
            }
        for (int i = 0; i < NOPS; i++)
            if (issue(&nb[i], cnb, comm, &reqs[i]) != CCL_SUCCESS) {
                fprintf(stderr, "rank %d: issue %d: %s\n", rank, i, ccl_get_last_error(comm));
                return 4;
            }
        if (polled) {
            poller_t pl = {reqs, NOPS, 0};
            pthread_t th;
            pthread_create(&th, NULL, poll_all, &pl);
            pthread_join(th, NULL);
            bad += pl.bad;
        } else {
            /* Waits in another order than issued: odd ones from the back, then the rest. */
            for (int i = NOPS - 1; i >= 0; i -= 2)
                bad += ccl_wait(&reqs[i]) != CCL_SUCCESS || reqs[i] != NULL;
            bad += ccl_waitall(NOPS, reqs) != CCL_SUCCESS;
        }
        for (int i = 0; i < NOPS; i++)
            if (memcmp(ref[i].recv, nb[i].recv, ref[i].recv_bytes) != 0) {
                fprintf(stderr, "rank %d batch %d op %d (kind %d, count %zu): differs\n", rank,
                        batch, i, (int)ref[i].kind, ref[i].count);
                bad++;
            }
        unplan(ref);
        unplan(nb);
    }
    for (int j = 0; j < NCOMP; j++) {
        ccl_compressor_destroy(cref[j]);
        ccl_compressor_destroy(cnb[j]);
    }
    ccl_comm_destroy(comm);
    return bad ? 1 : 0;
}

/* One thread issues 200 allreduces while another waits on each as it appears. */
typedef struct {
    pthread_mutex_t mu;
    ccl_request_t reqs[200];
    int issued, bad;
    float *bufs;
    int p;
} relay_t;

static void *relay_waiter(void *arg)
{
    relay_t *rl = arg;
    for (int i = 0; i < 200; i++) {
        ccl_request_t r = NULL;
        while (r == NULL) {
            pthread_mutex_lock(&rl->mu);
            if (i < rl->issued)
                r = rl->reqs[i];
            pthread_mutex_unlock(&rl->mu);
            if (r == NULL)
                sched_yield();
        }
        if (ccl_wait(&r) != CCL_SUCCESS)
            rl->bad++;
        float want = (float)(i * rl->p + rl->p * (rl->p - 1) / 2);
        for (int k = 0; k < 1000; k++)
            rl->bad += rl->bufs[i * 1000 + k] != want;
    }
    return NULL;
}

static int sc_relay(int rank, int p, ccl_comm_t comm)
{
    relay_t rl = {.mu = PTHREAD_MUTEX_INITIALIZER, .p = p};
    pthread_t th;
    rl.bufs = malloc(200 * 1000 * sizeof(float));
    pthread_create(&th, NULL, relay_waiter, &rl);
    for (int i = 0; i < 200; i++) {
        ccl_request_t r;
        for (int k = 0; k < 1000; k++)
            rl.bufs[i * 1000 + k] = (float)(i + rank);
        if (ccl_iallreduce(rl.bufs + i * 1000, rl.bufs + i * 1000, 1000, CCL_FLOAT32, CCL_SUM,
                           comm, &r) != CCL_SUCCESS)
            rl.bad++;
        pthread_mutex_lock(&rl.mu);
        rl.reqs[i] = r;
        rl.issued++;
        pthread_mutex_unlock(&rl.mu);
    }
    pthread_join(th, NULL);
    free(rl.bufs);
    ccl_comm_destroy(comm);
    return rl.bad ? 1 : 0;
}

/* Rank 0 aborts from another thread while its main thread waits on 64 large requests; it
 * gets CCL_ERR_ABORTED, the others an error, nobody hangs. */
static void *aborter(void *arg)
{
    usleep(200000);
    ccl_comm_abort(arg);
    return NULL;
}

/* 64 allreduces of 16 MB on one buffer (seconds of work) issued; on rank 0 a thread that
 * aborts 200 ms later. */
static float *issue_for_abort(int rank, ccl_comm_t comm, ccl_request_t *reqs, pthread_t *th)
{
    size_t n = 1u << 22;
    float *b = calloc(n, sizeof(float));
    for (int i = 0; i < 64; i++)
        if (ccl_iallreduce(b, b, n, CCL_FLOAT32, CCL_SUM, comm, &reqs[i]) != CCL_SUCCESS) {
            free(b);
            return NULL;
        }
    if (rank == 0)
        pthread_create(th, NULL, aborter, comm);
    return b;
}

static int sc_abort(int rank, int p, ccl_comm_t comm)
{
    ccl_request_t reqs[64];
    pthread_t th;
    float *b = issue_for_abort(rank, comm, reqs, &th);
    (void)p;
    if (b == NULL)
        return 2;
    double t0 = h_now();
    ccl_result_t r = CCL_SUCCESS;
    /* One wait after another, racing the abort: every handle stays valid after it, and the
     * requests it cut short return CCL_ERR_ABORTED. */
    ccl_result_t last = CCL_SUCCESS;
    for (int i = 0; i < 64; i++) {
        last = ccl_wait(&reqs[i]);
        if (r == CCL_SUCCESS)
            r = last;
    }
    double took = h_now() - t0;
    fprintf(stderr, "rank %d: abort with requests pending: %d after %.3f s\n", rank, (int)r, took);
    if (rank == 0)
        pthread_join(th, NULL);
    else
        ccl_comm_destroy(comm);
    free(b);
    if (rank == 0)
        return r == CCL_ERR_ABORTED && last == CCL_ERR_ABORTED && took < TIMEOUT_S ? 0 : 1;
    return r != CCL_SUCCESS && took < 2 * TIMEOUT_S ? 0 : 1;
}

/* Rank 0 makes an "auto" compressor (a collective) that rank 1 never joins; another thread
 * aborts meanwhile: create returns an error, and abort waits for it (under AddressSanitizer:
 * nothing read after the free). */
static int sc_abort_create(int rank, int p, ccl_comm_t comm)
{
    ccl_compressor_t c = NULL;
    pthread_t th;
    (void)p;
    if (rank == 1) {
        usleep(1500000);
        ccl_comm_destroy(comm);
        return 0;
    }
    pthread_create(&th, NULL, aborter, comm);
    ccl_result_t r = ccl_compressor_create(comm, "auto", 1000, CCL_FLOAT32, &c);
    pthread_join(th, NULL);
    return r != CCL_SUCCESS && c == NULL ? 0 : 1;
}

/* The same with a waitall in progress: abort waits for it to end, then frees the rest. */
static int sc_abort_waitall(int rank, int p, ccl_comm_t comm)
{
    ccl_request_t reqs[64];
    pthread_t th;
    float *b = issue_for_abort(rank, comm, reqs, &th);
    (void)p;
    if (b == NULL)
        return 2;
    ccl_result_t r = ccl_waitall(64, reqs);
    int cleared = 1;
    for (int i = 0; i < 64; i++)
        cleared &= reqs[i] == NULL;
    if (rank == 0)
        pthread_join(th, NULL);
    else
        ccl_comm_destroy(comm);
    free(b);
    if (rank == 0)
        return r == CCL_ERR_ABORTED && cleared ? 0 : 1;
    return r != CCL_SUCCESS && cleared ? 0 : 1;
}

/* Rank 2 is killed while 32 large requests are pending (once its first is done, so that
 * 31 are: a kill after a fixed delay could come after all 32 on a fast machine): every
 * other rank's requests end, the last ones with an error, within the timeout. */
static int sc_kill(int rank, int p, ccl_comm_t comm)
{
    size_t n = 1u << 19;
    float *b = calloc(32 * n, sizeof(float));
    ccl_request_t reqs[32];
    (void)p;
    for (int i = 0; i < 32; i++)
        if (ccl_iallreduce(b + i * n, b + i * n, n, CCL_FLOAT32, CCL_SUM, comm, &reqs[i]) != CCL_SUCCESS)
            return 2;
    if (rank == 2) {
        ccl_wait(&reqs[0]);
        raise(SIGKILL);
    }
    double t0 = h_now();
    ccl_result_t last = CCL_SUCCESS;
    for (int i = 0; i < 32; i++)
        last = ccl_wait(&reqs[i]);
    double took = h_now() - t0;
    fprintf(stderr, "rank %d: killed peer, last request: %d after %.3f s\n", rank, (int)last, took);
    ccl_comm_destroy(comm);
    free(b);
    return last != CCL_SUCCESS && took < TIMEOUT_S + 1.0 ? 0 : 1;
}

/* Ten compressed requests on ten compressors; rank 1's fifth input holds a NaN: that request
 * fails with CCL_ERR_INVALID_ARG on every rank, the others succeed, and the communicator
 * goes on. */
static int sc_nan(int rank, int p, ccl_comm_t comm)
{
    enum { N = 10, C = 4096 };
    ccl_compressor_t comps[N];
    ccl_request_t reqs[N];
    float *x = calloc(N * C, sizeof(float)), *y = calloc(N * C, sizeof(float));
    int bad = 0;
    (void)p;
    for (int i = 0; i < N * C; i++)
        x[i] = (float)(i % 13) - 6.0f;
    if (rank == 1)
        x[4 * C + 17] = NAN;
    for (int i = 0; i < N; i++)
        if (ccl_compressor_create(comm, i % 2 ? "topk:ratio=0.1" : "int:bits=8", C, CCL_FLOAT32,
                                  &comps[i]) != CCL_SUCCESS)
            return 2;
    for (int i = 0; i < N; i++)
        if (ccl_iallreduce_compressed(x + i * C, y + i * C, C, CCL_FLOAT32, CCL_SUM, comps[i],
                                      comm, &reqs[i]) != CCL_SUCCESS)
            return 3;
    for (int i = 0; i < N; i++) {
        ccl_result_t r = ccl_wait(&reqs[i]);
        bad += i == 4 ? r != CCL_ERR_INVALID_ARG : r != CCL_SUCCESS;
    }
    float one = 1;
    bad += ccl_allreduce(&one, &one, 1, CCL_FLOAT32, CCL_SUM, comm) != CCL_SUCCESS;
    for (int i = 0; i < N; i++)
        ccl_compressor_destroy(comps[i]);
    ccl_comm_destroy(comm);
    free(x);
    free(y);
    return bad ? 1 : 0;
}

/* A compressor with a call in flight refuses a second call and its destroy; bad arguments
 * are refused at the call, with no request. */
static int sc_misuse(int rank, int p, ccl_comm_t comm)
{
    ccl_compressor_t c;
    ccl_request_t r = NULL, r2 = (ccl_request_t)(uintptr_t)1;
    float x[256] = {0}, y[256];
    int bad = 0, done = 0;
    if (ccl_compressor_create(comm, "int:bits=8", 256, CCL_FLOAT32, &c) != CCL_SUCCESS)
        return 2;
    /* The peers issue late, so rank 0's call cannot be done while it tries the others. */
    if (rank != 0)
        usleep(300000);
    bad += ccl_iallreduce_compressed(x, y, 256, CCL_FLOAT32, CCL_SUM, c, comm, &r) != CCL_SUCCESS;
    if (rank == 0) {
        bad += ccl_iallreduce_compressed(x, y, 256, CCL_FLOAT32, CCL_SUM, c, comm, &r2) !=
               CCL_ERR_INVALID_ARG;
        bad += r2 != NULL;
        bad += ccl_allreduce_compressed(x, y, 256, CCL_FLOAT32, CCL_SUM, c, comm) !=
               CCL_ERR_INVALID_ARG;
        bad += ccl_compressor_destroy(c) != CCL_ERR_INVALID_ARG;
        bad += strstr(ccl_get_last_error(NULL), "in flight") == NULL;
    }
    bad += ccl_wait(&r) != CCL_SUCCESS || r != NULL;
    bad += ccl_wait(&r) != CCL_SUCCESS;          /* a NULL request is done */
    bad += ccl_test(&r, &done) != CCL_SUCCESS || !done;
    bad += ccl_wait(NULL) != CCL_ERR_INVALID_ARG;
    bad += ccl_test(&r, NULL) != CCL_ERR_INVALID_ARG;
    bad += ccl_waitall(-1, NULL) != CCL_ERR_INVALID_ARG;
    bad += ccl_iallreduce(NULL, y, 4, CCL_FLOAT32, CCL_SUM, comm, &r) != CCL_ERR_INVALID_ARG;
    bad += r != NULL;
    bad += ccl_iallreduce(x, y, 4, CCL_FLOAT32, CCL_SUM, comm, NULL) != CCL_ERR_INVALID_ARG;
    bad += ccl_ibroadcast(x, y, 4, CCL_FLOAT32, p, comm, &r) != CCL_ERR_INVALID_ARG;
    bad += ccl_ibarrier(NULL, &r) != CCL_ERR_INVALID_ARG;
    /* After the wait the compressor works again, blocking and not. */
    bad += ccl_allreduce_compressed(x, y, 256, CCL_FLOAT32, CCL_SUM, c, comm) != CCL_SUCCESS;
    bad += ccl_compressor_destroy(c) != CCL_SUCCESS;
    ccl_comm_destroy(comm);
    return bad;
}

/* Requests issued and never waited on: destroy runs them (the peers do the same) and frees
 * them; a blocking call after pending requests runs after them. */
static int sc_unwaited(int rank, int p, ccl_comm_t comm)
{
    float a[8][100], s = (float)rank;
    ccl_request_t reqs[8];
    (void)p;
    for (int i = 0; i < 8; i++) {
        for (int k = 0; k < 100; k++)
            a[i][k] = (float)i;
        if (ccl_iallreduce(a[i], a[i], 100, CCL_FLOAT32, CCL_SUM, comm, &reqs[i]) != CCL_SUCCESS)
            return 2;
    }
    /* Blocking, behind the 8 pending: if it ran first the ranks would disagree on the order
     * and fail with a mismatch. */
    if (ccl_allreduce(&s, &s, 1, CCL_FLOAT32, CCL_SUM, comm) != CCL_SUCCESS ||
        s != (float)(p * (p - 1) / 2))
        return 3;
    for (int i = 0; i < 8; i++)
        if (a[i][99] != (float)(i * p))
            return 4; /* done before the blocking call returned */
    ccl_request_t late[4];
    for (int i = 0; i < 4; i++)
        if (ccl_iallreduce(a[i], a[i], 100, CCL_FLOAT32, CCL_SUM, comm, &late[i]) != CCL_SUCCESS)
            return 5;
    ccl_comm_destroy(comm); /* waits for the 4, frees all 12 */
    return 0;
}

static int sc_mixed_waited(int rank, int p, ccl_comm_t comm) { return sc_mixed(rank, p, comm, 0); }
static int sc_mixed_polled(int rank, int p, ccl_comm_t comm) { return sc_mixed(rank, p, comm, 1); }

static const struct {
    const char *name;
    int (*fn)(int rank, int p, ccl_comm_t comm);
} scenarios[] = {
    {"mixed", sc_mixed_waited}, {"polled", sc_mixed_polled}, {"relay", sc_relay},
    {"abort", sc_abort},        {"abort-waitall", sc_abort_waitall},
    {"kill", sc_kill},          {"nan", sc_nan},           {"misuse", sc_misuse},
    {"unwaited", sc_unwaited},  {"abort-create", sc_abort_create},
};

static int rank_entry(int rank, int p, ccl_unique_id_t id, const char *arg)
{
    for (size_t i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++)
        if (strcmp(arg, scenarios[i].name) == 0)
            return scenarios[i].fn(rank, p, h_init_comm(rank, p, id));
    return 99;
}

int main(int argc, char **argv)
{
    char t[16];
    int codes[8];
    snprintf(t, sizeof(t), "%.0f", TIMEOUT_S);
    setenv("CCLZ_TIMEOUT", t, 1);
    h_init(argc, argv, rank_entry);
    const char *mode = getenv("CCLZ_PROGRESS_THREAD");
    const char *how = mode != NULL && strcmp(mode, "0") == 0 ? "without a progress thread"
                                                             : "with the progress thread";

    h_report(!h_spawn(3, "mixed", 120, codes),
             "%s: 64 requests of every kind (8 compressed on 8 compressors) outstanding, waited "
             "out of order: the blocking calls' bytes, 3 batches on 3 ranks", how);
    h_report(!h_spawn(2, "polled", 120, codes),
             "%s: the same polled with ccl_test from another thread, 2 ranks", how);
    h_report(!h_spawn(2, "relay", 60, codes),
             "%s: one thread issues 200 allreduces while another waits on each", how);
    h_spawn(3, "abort", 60, codes);
    h_report(!codes[0] && !codes[1] && !codes[2],
             "%s: abort from another thread while this one waits on 64 requests in turn: each "
             "handle stays valid, CCL_ERR_ABORTED there, an error elsewhere, no hang", how);
    h_spawn(3, "abort-waitall", 60, codes);
    h_report(!codes[0] && !codes[1] && !codes[2],
             "%s: abort during a ccl_waitall: it returns CCL_ERR_ABORTED with every handle "
             "cleared", how);
    h_report(!h_spawn(2, "abort-create", 60, codes),
             "%s: abort from another thread during ccl_compressor_create(\"auto\"), a "
             "collective: create fails, abort waits for it", how);
    h_spawn(4, "kill", 60, codes);
    h_report(codes[2] == 128 + SIGKILL && !codes[0] && !codes[1] && !codes[3],
             "%s: a rank killed with 32 requests pending: the others' requests end in an "
             "error within the timeout", how);
    h_report(!h_spawn(3, "nan", 60, codes),
             "%s: a NaN in the 5th of 10 compressed requests: that one refused on every rank, "
             "the rest succeed", how);
    h_report(!h_spawn(2, "misuse", 60, codes),
             "%s: a compressor with a call in flight refuses another and its destroy; bad "
             "arguments give no request", how);
    h_report(!h_spawn(3, "unwaited", 60, codes),
             "%s: a blocking call runs after pending requests; destroy runs and frees "
             "requests never waited on", how);
    return h_failed ? 1 : 0;
}
