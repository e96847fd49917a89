/* shim.c: libcclz_mpi.so, a PMPI interposition library: unmodified MPI programs get
 * compressed MPI_Allreduce for the calls where that is safe.
 *
 *   mpirun -x LD_PRELOAD=libcclz_mpi.so -x CCLZ_COMPRESS=int:bits=8 ./app
 *
 * Eligible: MPI_Allreduce and MPI_Iallreduce of MPI_FLOAT (and MPI_Allreduce of MPI_DOUBLE
 * with CCLZ_MPI_DOUBLE=1), MPI_SUM, on an intracommunicator of 2 ranks or more, at least
 * CCLZ_MPI_MIN_BYTES elements' worth of floats; MPI_Allgather of MPI_FLOAT likewise. Everything else goes to PMPI_* untouched. Every eligibility test reads
 * only what MPI requires to be the same on every rank (count, datatype, op, communicator) and
 * settings, so every rank takes the same path for the same call.
 *
 * Each MPI communicator that has an eligible call gets a cclz communicator, made then
 * (the unique id broadcast through PMPI) and kept in an attribute whose delete callback frees
 * it (MPI_Comm_free, and MPI_Finalize for the rest). Error feedback is per buffer: compressors
 * keyed by (receive buffer, count) in a table per communicator, least recently used out. The
 * table's lookups differ between ranks (addresses do), which is safe because making a
 * compressor is local for every spec the shim accepts ("auto" measures the links collectively
 * and is refused: int:bits=8 is used instead).
 *
 * MPI_Iallreduce hands the program a generalized request (MPI_Grequest_start) and issues the
 * cclz nonblocking call, which cclz's progress thread runs while the program computes; the
 * interposed MPI_Wait/Test family (and MPI_Request_free) completes the generalized request
 * once the cclz one is done, then lets MPI finish it as any other.
 *
 * Failures: a cclz error goes to the communicator's MPI error handler (with
 * MPI_ERRORS_ARE_FATAL the job aborts with cclz's message); a step refused because some rank's
 * floats hold NaN or Inf runs through PMPI_Allreduce instead, whose sum is what plain MPI gives.
 *
 * Uses only the public API of cclz.h. */
#include <cclz.h>
#include <mpi.h>

#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct shim_entry {
    void             *buf;   /* the receive buffer it serves */
    size_t            count;
    int               gather; /* an MPI_Allgather's (its own error feedback) */
    uint64_t          used;  /* the table's clock at the last use */
    int               inflight; /* MPI_Iallreduce calls not completed: not evicted */
    ccl_compressor_t  comp;
    float            *f32;   /* CCLZ_MPI_DOUBLE: the doubles as floats, count of them */
} shim_entry_t;

/* The cclz side of one MPI communicator. */
typedef struct shim_comm {
    MPI_Comm          mpi;
    ccl_comm_t        comm;
    int               failed; /* made and failed: later calls go to PMPI */
    shim_entry_t    **table;  /* n entries, cap allocated (over the setting while in flight) */
    int               n, cap;
    uint64_t          clock;
    struct shim_comm *next, *prev; /* every live one, for MPI_Finalize */
} shim_comm_t;

static struct {
    int              ready;     /* settings read (MPI_Init) */
    int              keyval;
    char             spec[256];
    size_t           min_bytes;
    int              table_cap;
    int              stats;
    int              doubles;   /* CCLZ_MPI_DOUBLE=1: MPI_DOUBLE sums compressed too */
    shim_comm_t     *live;
    pthread_mutex_t  mu;
    /* CCLZ_MPI_STATS, this rank's (updated atomically: calls on different communicators
     * may run in different threads) */
    uint64_t         intercepted, compressed, passed, bytes_in, bytes_sent, ring_bytes;
    uint64_t         nanoseconds;
} g = {.keyval = MPI_KEYVAL_INVALID, .mu = PTHREAD_MUTEX_INITIALIZER};

static size_t env_size(const char *name, size_t dflt)
{
    const char *v = getenv(name);
    char *end;
    if (v == NULL || *v == '\0')
        return dflt;
    unsigned long long x = strtoull(v, &end, 10);
    unsigned long long mult = *end == 'K' || *end == 'k' ? 1024ULL
                              : *end == 'M' || *end == 'm' ? 1024ULL * 1024
                                                           : 1;
    return (size_t)(x * mult);
}

#define COUNT(field, n) __atomic_fetch_add(&g.field, (uint64_t)(n), __ATOMIC_RELAXED)

static void settle_comm(shim_comm_t *s);

static void shim_comm_free(shim_comm_t *s)
{
    /* MPI_Comm_free lets pending operations complete: this communicator's Iallreduce
     * requests end before their compressors and communicator go. */
    settle_comm(s);
    for (int i = 0; i < s->n; i++) {
        ccl_compressor_destroy(s->table[i]->comp);
        free(s->table[i]->f32);
        free(s->table[i]);
    }
    free(s->table);
    if (s->comm != NULL) {
        ccl_stats_t st;
        if (ccl_comm_get_stats(s->comm, &st) == CCL_SUCCESS)
            COUNT(bytes_sent, st.bytes_sent);
        if (s->failed)
            ccl_comm_abort(s->comm);
        else
            ccl_comm_destroy(s->comm);
    }
    if (s->prev != NULL)
        s->prev->next = s->next;
    else
        g.live = s->next;
    if (s->next != NULL)
        s->next->prev = s->prev;
    free(s);
}

static int delete_attr(MPI_Comm comm, int keyval, void *value, void *extra)
{
    (void)comm, (void)keyval, (void)extra;
    pthread_mutex_lock(&g.mu);
    shim_comm_free(value);
    pthread_mutex_unlock(&g.mu);
    return MPI_SUCCESS;
}

static void setup(void)
{
    const char *spec = getenv("CCLZ_COMPRESS");
    if (spec == NULL || *spec == '\0')
        spec = "int:bits=8";
    if (strcmp(spec, "auto") == 0) {
        fprintf(stderr, "cclz_mpi: CCLZ_COMPRESS=auto measures links collectively when a "
                        "compressor is made, which the shim's per-buffer table cannot keep in "
                        "step; using int:bits=8\n");
        spec = "int:bits=8";
    }
    snprintf(g.spec, sizeof(g.spec), "%s", spec);
    g.min_bytes = env_size("CCLZ_MPI_MIN_BYTES", 64 * 1024);
    g.table_cap = (int)env_size("CCLZ_MPI_TABLE", 64);
    if (g.table_cap < 1)
        g.table_cap = 1;
    g.stats = getenv("CCLZ_MPI_STATS") != NULL && strcmp(getenv("CCLZ_MPI_STATS"), "1") == 0;
    g.doubles = getenv("CCLZ_MPI_DOUBLE") != NULL && strcmp(getenv("CCLZ_MPI_DOUBLE"), "1") == 0;
    PMPI_Comm_create_keyval(MPI_COMM_NULL_COPY_FN, delete_attr, &g.keyval, NULL);
    g.ready = 1;
}

int MPI_Init(int *argc, char ***argv)
{
    int rc = PMPI_Init(argc, argv);
    if (rc == MPI_SUCCESS)
        setup();
    return rc;
}

int MPI_Init_thread(int *argc, char ***argv, int required, int *provided)
{
    int rc = PMPI_Init_thread(argc, argv, required, provided);
    if (rc == MPI_SUCCESS)
        setup();
    return rc;
}

/* The cclz state of comm, made on its first eligible call (collective over comm: every
 * rank makes the same eligible calls). NULL where it cannot be had: the call goes to PMPI. */
static shim_comm_t *state_of(MPI_Comm comm)
{
    void *val;
    int found = 0;
    PMPI_Comm_get_attr(comm, g.keyval, &val, &found);
    if (found)
        return ((shim_comm_t *)val)->failed ? NULL : val;
    int rank, size;
    PMPI_Comm_rank(comm, &rank);
    PMPI_Comm_size(comm, &size);
    ccl_unique_id_t id;
    int ok = rank != 0 || ccl_get_unique_id(&id) == CCL_SUCCESS;
    PMPI_Bcast(&ok, 1, MPI_INT, 0, comm);
    if (ok) /* the root's word: the same decision on every rank */
        PMPI_Bcast(&id, sizeof(id), MPI_BYTE, 0, comm);
    shim_comm_t *s = calloc(1, sizeof(*s));
    ok = ok && s != NULL;
    if (ok) {
        ok = ccl_comm_init_rank(&s->comm, size, id, rank) == CCL_SUCCESS;
        if (!ok)
            fprintf(stderr, "cclz_mpi: rank %d: no cclz communicator (%s); this "
                            "communicator's calls go to MPI\n", rank, ccl_get_last_error(NULL));
    }
    /* Agree: where any rank has none, no rank uses it. */
    int all = ok;
    PMPI_Allreduce(&ok, &all, 1, MPI_INT, MPI_MIN, comm);
    if (s == NULL) { /* the others now hold a failed state: this rank cannot follow */
        fprintf(stderr, "cclz_mpi: rank %d: no memory for a communicator's state\n", rank);
        PMPI_Abort(comm, 1);
    }
    s->mpi = comm;
    s->failed = !all;
    pthread_mutex_lock(&g.mu);
    s->next = g.live;
    if (g.live != NULL)
        g.live->prev = s;
    g.live = s;
    pthread_mutex_unlock(&g.mu);
    PMPI_Comm_set_attr(comm, g.keyval, s);
    return s->failed ? NULL : s;
}

/* The entry for (buf, count) in s's table: made on first use, the least recently used one
 * not in flight out when the table is full (it grows past the setting only while every
 * entry is in flight). */
static shim_entry_t *entry_of(shim_comm_t *s, void *buf, size_t count, int gather)
{
    shim_entry_t *e = NULL;
    for (int i = 0; i < s->n && e == NULL; i++)
        if (s->table[i]->buf == buf && s->table[i]->count == count &&
            s->table[i]->gather == gather)
            e = s->table[i];
    if (e == NULL) {
        int victim = -1;
        for (int i = 0; s->n >= g.table_cap && i < s->n; i++)
            if (s->table[i]->inflight == 0 &&
                (victim < 0 || s->table[i]->used < s->table[victim]->used))
                victim = i;
        if (victim >= 0) {
            e = s->table[victim];
            ccl_compressor_destroy(e->comp);
            free(e->f32);
        } else {
            if (s->n == s->cap) {
                int cap = s->cap ? 2 * s->cap : g.table_cap;
                shim_entry_t **t = realloc(s->table, (size_t)cap * sizeof(*t));
                if (t == NULL)
                    return NULL;
                s->table = t;
                s->cap = cap;
            }
            if ((e = malloc(sizeof(*e))) == NULL)
                return NULL;
            s->table[s->n++] = e;
        }
        *e = (shim_entry_t){.buf = buf, .count = count, .gather = gather};
        if (ccl_compressor_create(s->comm, g.spec, count, CCL_FLOAT32, &e->comp) != CCL_SUCCESS) {
            for (int i = 0; i < s->n; i++)
                if (s->table[i] == e)
                    s->table[i] = s->table[--s->n];
            free(e);
            return NULL;
        }
    }
    e->used = ++s->clock;
    return e;
}

/* Reads only what MPI requires to be the same on every rank, and the settings. doubles: the
 * call may take MPI_DOUBLE (compressed as floats) where CCLZ_MPI_DOUBLE=1. */
static int eligible(int count, MPI_Datatype dt, MPI_Op op, MPI_Comm comm, int doubles)
{
    int inter = 0, size = 1;
    int type_ok = dt == MPI_FLOAT || (doubles && g.doubles && dt == MPI_DOUBLE);
    if (!g.ready || !type_ok || op != MPI_SUM || count <= 0 || comm == MPI_COMM_NULL ||
        (size_t)count * sizeof(float) < g.min_bytes)
        return 0;
    PMPI_Comm_test_inter(comm, &inter);
    PMPI_Comm_size(comm, &size);
    return !inter && size > 1;
}

/* A compressed allreduce of count elements of elem bytes: its input, and what a ring
 * allreduce would have sent. */
static void count_compressed(MPI_Comm comm, int count, size_t elem)
{
    int size;
    PMPI_Comm_size(comm, &size);
    COUNT(compressed, 1);
    COUNT(bytes_in, (uint64_t)count * elem);
    COUNT(ring_bytes, 2.0 * (size - 1) / size * (double)count * elem);
}

/* Hands a cclz error to comm's MPI error handler (MPI_ERRORS_ARE_FATAL aborts the job). */
static int fail(shim_comm_t *s, MPI_Comm comm, int count, const char *why)
{
    fprintf(stderr, "cclz_mpi: a collective of %d floats: %s\n", count, why);
    s->failed = 1;
    PMPI_Comm_call_errhandler(comm, MPI_ERR_OTHER);
    return MPI_ERR_OTHER;
}

/* CCLZ_MPI_DOUBLE=1: a double sum compressed as floats (the codecs work in float32), through
 * the entry's float copy; the values must fit float32's range. */
static int allreduce_doubles(shim_comm_t *s, const void *sendbuf, void *recvbuf, int count,
                             MPI_Comm comm)
{
    double t0 = PMPI_Wtime();
    shim_entry_t *e = entry_of(s, recvbuf, (size_t)count, 0);
    if (e != NULL && e->f32 == NULL)
        e->f32 = malloc((size_t)count * sizeof(float));
    if (e == NULL || e->f32 == NULL)
        return fail(s, comm, count, "no memory for a compressor or its float copy");
    const double *in = sendbuf == MPI_IN_PLACE ? recvbuf : sendbuf;
    double *out = recvbuf;
    for (int i = 0; i < count; i++)
        e->f32[i] = (float)in[i];
    ccl_result_t res = ccl_allreduce_compressed(e->f32, e->f32, (size_t)count, CCL_FLOAT32,
                                                CCL_SUM, e->comp, s->comm);
    COUNT(nanoseconds, (PMPI_Wtime() - t0) * 1e9);
    if (res == CCL_ERR_INVALID_ARG) { /* NaN or Inf, or out of float's range: MPI's sum */
        COUNT(passed, 1);
        return PMPI_Allreduce(sendbuf, recvbuf, count, MPI_DOUBLE, MPI_SUM, comm);
    }
    if (res != CCL_SUCCESS)
        return fail(s, comm, count, ccl_get_last_error(s->comm));
    for (int i = 0; i < count; i++)
        out[i] = e->f32[i];
    count_compressed(comm, count, sizeof(double));
    return MPI_SUCCESS;
}

int MPI_Allreduce(const void *sendbuf, void *recvbuf, int count, MPI_Datatype datatype,
                  MPI_Op op, MPI_Comm comm)
{
    COUNT(intercepted, 1);
    shim_comm_t *s = eligible(count, datatype, op, comm, 1) ? state_of(comm) : NULL;
    if (s == NULL) {
        COUNT(passed, 1);
        return PMPI_Allreduce(sendbuf, recvbuf, count, datatype, op, comm);
    }
    if (datatype == MPI_DOUBLE)
        return allreduce_doubles(s, sendbuf, recvbuf, count, comm);
    double t0 = PMPI_Wtime();
    /* Making a compressor is local; it fails only for want of memory, and the peers then
     * time out in the call: both sides report it. */
    shim_entry_t *e = entry_of(s, recvbuf, (size_t)count, 0);
    if (e == NULL)
        return fail(s, comm, count, ccl_get_last_error(s->comm));
    const void *in = sendbuf == MPI_IN_PLACE ? recvbuf : sendbuf;
    ccl_result_t res = ccl_allreduce_compressed(in, recvbuf, (size_t)count, CCL_FLOAT32, CCL_SUM,
                                                e->comp, s->comm);
    COUNT(nanoseconds, (PMPI_Wtime() - t0) * 1e9);
    if (res == CCL_ERR_INVALID_ARG) {
        /* NaN or Inf on some rank: every rank skipped the step; plain MPI's sum instead. */
        COUNT(passed, 1);
        return PMPI_Allreduce(sendbuf, recvbuf, count, datatype, op, comm);
    }
    if (res != CCL_SUCCESS)
        return fail(s, comm, count, ccl_get_last_error(s->comm));
    count_compressed(comm, count, sizeof(float));
    return MPI_SUCCESS;
}

/* MPI_Allgather of floats: each rank's part compressed (with its own error feedback), every
 * rank decoding the same bytes. Eligible as MPI_Allreduce is, with the same type and count
 * on both sides (a rank's send count is its part of the receive buffer). */
int MPI_Allgather(const void *sendbuf, int sendcount, MPI_Datatype sendtype, void *recvbuf,
                  int recvcount, MPI_Datatype recvtype, MPI_Comm comm)
{
    COUNT(intercepted, 1);
    int same = sendbuf == MPI_IN_PLACE || (sendtype == recvtype && sendcount == recvcount);
    shim_comm_t *s = same && eligible(recvcount, recvtype, MPI_SUM, comm, 0) ? state_of(comm) : NULL;
    if (s == NULL) {
        COUNT(passed, 1);
        return PMPI_Allgather(sendbuf, sendcount, sendtype, recvbuf, recvcount, recvtype, comm);
    }
    double t0 = PMPI_Wtime();
    shim_entry_t *e = entry_of(s, recvbuf, (size_t)recvcount, 1);
    if (e == NULL)
        return fail(s, comm, recvcount, ccl_get_last_error(s->comm));
    int rank;
    PMPI_Comm_rank(comm, &rank);
    const float *in = sendbuf == MPI_IN_PLACE ? (const float *)recvbuf + (size_t)rank * recvcount
                                              : sendbuf;
    ccl_result_t res = ccl_allgather_compressed(in, recvbuf, (size_t)recvcount, CCL_FLOAT32,
                                                e->comp, s->comm);
    COUNT(nanoseconds, (PMPI_Wtime() - t0) * 1e9);
    if (res == CCL_ERR_INVALID_ARG) { /* NaN or Inf somewhere: MPI's own gather instead */
        COUNT(passed, 1);
        return PMPI_Allgather(sendbuf, sendcount, sendtype, recvbuf, recvcount, recvtype, comm);
    }
    if (res != CCL_SUCCESS)
        return fail(s, comm, recvcount, ccl_get_last_error(s->comm));
    int size;
    PMPI_Comm_size(comm, &size);
    COUNT(compressed, 1);
    COUNT(bytes_in, (uint64_t)recvcount * sizeof(float));
    COUNT(ring_bytes, (double)(size - 1) * recvcount * sizeof(float));
    return MPI_SUCCESS;
}

/* ---- MPI_Iallreduce: a generalized request completed by the interposed wait and test
 * calls once the cclz request is done ---- */

typedef struct shim_req {
    ccl_request_t    req;    /* NULL once done */
    MPI_Request      greq;   /* what the program holds */
    shim_comm_t     *owner;
    shim_entry_t    *entry;
    float           *recvbuf;
    int              count;
    int              error;  /* the MPI error class the request completes with */
    struct shim_req *next, *prev; /* every request not yet freed by MPI */
} shim_req_t;

static shim_req_t *reqs; /* under g.mu */

static int query_fn(void *extra, MPI_Status *status)
{
    shim_req_t *r = extra;
    MPI_Status_set_elements(status, MPI_FLOAT, r->error == MPI_SUCCESS ? r->count : 0);
    MPI_Status_set_cancelled(status, 0);
    status->MPI_SOURCE = MPI_UNDEFINED;
    status->MPI_TAG = MPI_UNDEFINED;
    status->MPI_ERROR = r->error;
    return r->error;
}

static int free_fn(void *extra)
{
    shim_req_t *r = extra;
    pthread_mutex_lock(&g.mu);
    if (r->prev != NULL)
        r->prev->next = r->next;
    else
        reqs = r->next;
    if (r->next != NULL)
        r->next->prev = r->prev;
    pthread_mutex_unlock(&g.mu);
    free(r);
    return MPI_SUCCESS;
}

static int cancel_fn(void *extra, int complete)
{
    (void)extra, (void)complete; /* a collective cannot be cancelled: it completes */
    return MPI_SUCCESS;
}

/* The shim's request behind handle, or NULL for MPI's own. */
static shim_req_t *lookup(MPI_Request handle)
{
    shim_req_t *r;
    if (handle == MPI_REQUEST_NULL)
        return NULL;
    pthread_mutex_lock(&g.mu);
    for (r = reqs; r != NULL && r->greq != handle; r = r->next)
        ;
    pthread_mutex_unlock(&g.mu);
    return r;
}

/* Waits for (block) or tests r's cclz request; once it is done, completes the generalized
 * request, so that MPI's own wait or test on it returns. A step refused for NaN or Inf on
 * some rank comes back as NaN everywhere (every rank refused it): what a sum holding them
 * would be. */
static void settle(shim_req_t *r, int block)
{
    int done = 1;
    if (r->req == NULL)
        return;
    ccl_result_t res = block ? ccl_wait(&r->req) : ccl_test(&r->req, &done);
    if (!done)
        return;
    r->req = NULL;
    r->entry->inflight--;
    if (res == CCL_ERR_INVALID_ARG) {
        for (int i = 0; i < r->count; i++)
            r->recvbuf[i] = NAN;
    } else if (res != CCL_SUCCESS) {
        fprintf(stderr, "cclz_mpi: MPI_Iallreduce of %d floats: %s\n", r->count,
                ccl_get_error_string(res));
        r->error = MPI_ERR_OTHER;
    }
    PMPI_Grequest_complete(r->greq);
}

/* Called with g.mu held (shim_comm_free). */
static void settle_comm(shim_comm_t *s)
{
    for (shim_req_t *r = reqs; r != NULL; r = r->next)
        if (r->owner == s)
            settle(r, 1);
}

static void settle_all(int n, const MPI_Request *handles, int block)
{
    for (int i = 0; i < n; i++) {
        shim_req_t *r = lookup(handles[i]);
        if (r != NULL)
            settle(r, block);
    }
}

static int any_ours(int n, const MPI_Request *handles)
{
    for (int i = 0; i < n; i++)
        if (lookup(handles[i]) != NULL)
            return 1;
    return 0;
}

int MPI_Iallreduce(const void *sendbuf, void *recvbuf, int count, MPI_Datatype datatype,
                   MPI_Op op, MPI_Comm comm, MPI_Request *request)
{
    COUNT(intercepted, 1);
    shim_comm_t *s = eligible(count, datatype, op, comm, 0) ? state_of(comm) : NULL;
    if (s == NULL) {
        COUNT(passed, 1);
        return PMPI_Iallreduce(sendbuf, recvbuf, count, datatype, op, comm, request);
    }
    shim_entry_t *e = entry_of(s, recvbuf, (size_t)count, 0);
    shim_req_t *r = calloc(1, sizeof(*r));
    if (e == NULL || r == NULL) {
        free(r);
        return fail(s, comm, count, "no memory for a compressor or a request");
    }
    const void *in = sendbuf == MPI_IN_PLACE ? recvbuf : sendbuf;
    if (ccl_iallreduce_compressed(in, recvbuf, (size_t)count, CCL_FLOAT32, CCL_SUM, e->comp,
                                  s->comm, &r->req) != CCL_SUCCESS) {
        free(r);
        /* Two calls in flight on one receive buffer, which MPI forbids, among others. */
        return fail(s, comm, count, ccl_get_last_error(s->comm));
    }
    r->owner = s;
    r->entry = e;
    r->recvbuf = recvbuf;
    r->count = count;
    e->inflight++;
    PMPI_Grequest_start(query_fn, free_fn, cancel_fn, r, &r->greq);
    pthread_mutex_lock(&g.mu);
    r->next = reqs;
    if (reqs != NULL)
        reqs->prev = r;
    reqs = r;
    pthread_mutex_unlock(&g.mu);
    *request = r->greq;
    count_compressed(comm, count, sizeof(float));
    return MPI_SUCCESS;
}

int MPI_Wait(MPI_Request *request, MPI_Status *status)
{
    settle_all(1, request, 1);
    return PMPI_Wait(request, status);
}

int MPI_Test(MPI_Request *request, int *flag, MPI_Status *status)
{
    settle_all(1, request, 0);
    return PMPI_Test(request, flag, status);
}

int MPI_Waitall(int count, MPI_Request requests[], MPI_Status statuses[])
{
    settle_all(count, requests, 1);
    return PMPI_Waitall(count, requests, statuses);
}

int MPI_Testall(int count, MPI_Request requests[], int *flag, MPI_Status statuses[])
{
    settle_all(count, requests, 0);
    return PMPI_Testall(count, requests, flag, statuses);
}

int MPI_Testany(int count, MPI_Request requests[], int *index, int *flag, MPI_Status *status)
{
    settle_all(count, requests, 0);
    return PMPI_Testany(count, requests, index, flag, status);
}

int MPI_Testsome(int incount, MPI_Request requests[], int *outcount, int indices[],
                 MPI_Status statuses[])
{
    settle_all(incount, requests, 0);
    return PMPI_Testsome(incount, requests, outcount, indices, statuses);
}

/* Waiting for any of a mix of the shim's requests and MPI's: test both until one is done. */
int MPI_Waitany(int count, MPI_Request requests[], int *index, MPI_Status *status)
{
    if (!any_ours(count, requests))
        return PMPI_Waitany(count, requests, index, status);
    for (;;) {
        int flag = 0;
        settle_all(count, requests, 0);
        int rc = PMPI_Testany(count, requests, index, &flag, status);
        if (rc != MPI_SUCCESS || flag)
            return rc;
        sched_yield();
    }
}

int MPI_Waitsome(int incount, MPI_Request requests[], int *outcount, int indices[],
                 MPI_Status statuses[])
{
    if (!any_ours(incount, requests))
        return PMPI_Waitsome(incount, requests, outcount, indices, statuses);
    for (;;) {
        settle_all(incount, requests, 0);
        int rc = PMPI_Testsome(incount, requests, outcount, indices, statuses);
        if (rc != MPI_SUCCESS || *outcount != 0)
            return rc;
        sched_yield();
    }
}

/* A freed request's operation still completes: here, before MPI forgets the handle. */
int MPI_Request_free(MPI_Request *request)
{
    settle_all(1, request, 1);
    return PMPI_Request_free(request);
}

int MPI_Finalize(void)
{
    if (g.ready) {
        /* Requests never waited on: their collectives end first. */
        for (shim_req_t *r = reqs; r != NULL; r = r->next)
            settle(r, 1);
        /* The communicators MPI_Comm_free has not freed: deleting the attribute runs the
         * delete callback, which frees the cclz side and unlinks it. */
        while (g.live != NULL)
            if (PMPI_Comm_delete_attr(g.live->mpi, g.keyval) != MPI_SUCCESS)
                shim_comm_free(g.live);
        PMPI_Comm_free_keyval(&g.keyval);
        if (g.stats) {
            int rank = 0;
            PMPI_Comm_rank(MPI_COMM_WORLD, &rank);
            double saved = (double)g.ring_bytes - (double)g.bytes_sent;
            if (rank == 0)
                fprintf(stderr, "cclz_mpi: rank 0: %llu MPI_(I)allreduce and MPI_Allgather calls: "
                                "%llu compressed "
                                "(%s), %llu passed to MPI; %.1f MB of input compressed, "
                                "%.1f MB sent for them, %.1f MB less than ring algorithms "
                                "send; %.3f s in compressed calls\n",
                        (unsigned long long)g.intercepted, (unsigned long long)g.compressed,
                        g.spec, (unsigned long long)g.passed, g.bytes_in / 1e6,
                        g.bytes_sent / 1e6, saved / 1e6, g.nanoseconds / 1e9);
        }
        g.ready = 0;
    }
    return PMPI_Finalize();
}
