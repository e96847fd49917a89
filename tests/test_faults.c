/* test_faults.c: a peer killed mid-allreduce, a silent peer, mismatched calls, abort from
 * another thread, bad arguments, and strangers at the rendezvous port. Every rank must get
 * an error (never hang), and no buffer may be written past its end. */
#include "harness.h"
#include "base/base.h"
#include "core/bootstrap.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <sys/socket.h>

#define TIMEOUT_S 3.0 /* CCLZ_TIMEOUT for these tests */

static int is_fault_error(ccl_result_t r)
{
    return r == CCL_ERR_TRANSPORT || r == CCL_ERR_TIMEOUT || r == CCL_ERR_REMOTE ||
           r == CCL_ERR_MISMATCH;
}

/* Destroys a failed communicator with stdout caught in a file: the peers' messages of calls
 * that will never be made are dropped without a warning apiece (UCX logs to stdout). */
static int destroy_quietly(ccl_comm_t comm)
{
    char path[] = "/tmp/cclz_destroy.XXXXXX", line[512];
    int fd = mkstemp(path), saved = dup(STDOUT_FILENO), warnings = 0;
    fflush(stdout);
    dup2(fd, STDOUT_FILENO);
    ccl_comm_destroy(comm);
    fflush(stdout);
    dup2(saved, STDOUT_FILENO);
    close(saved);
    FILE *f = fdopen(fd, "r");
    rewind(f);
    while (fgets(line, sizeof(line), f) != NULL)
        if (strstr(line, "WARN") != NULL && warnings++ < 3)
            fprintf(stderr, "destroy printed: %s", line);
    fclose(f);
    unlink(path);
    return warnings == 0;
}

/* Rank 2 dies 150 ms into a stream of 64 MB allreduces. */
static int sc_kill(int rank, int p, ccl_comm_t comm)
{
    size_t n = 16u << 20;
    float *buf = calloc(n, sizeof(float));
    pthread_t th;
    ccl_result_t r = CCL_SUCCESS;
    if (rank == 2)
        pthread_create(&th, NULL, h_killer, (void *)(intptr_t)150000);
    for (int it = 0; it < 1000 && r == CCL_SUCCESS; it++)
        r = ccl_allreduce(buf, buf, n, CCL_FLOAT32, CCL_SUM, comm);
    fprintf(stderr, "rank %d: after the kill: %d (%s)\n", rank, r, ccl_get_last_error(comm));
    /* A second call must fail at once, not hang. */
    if (ccl_allreduce(buf, buf, 1, CCL_FLOAT32, CCL_SUM, comm) == CCL_SUCCESS)
        return 2;
    return !is_fault_error(r) ? 1 : destroy_quietly(comm) ? 0 : 3;
}

/* Rank 2 dies 150 ms into a stream of compressed allreduces (spec): the others return an
 * error well before the timeout, though on one host no send to the dead rank may fail. */
static int sc_kill_compressed(int rank, int p, ccl_comm_t comm, const char *spec)
{
    size_t n = 1u << 22;
    float *x = calloc(n, sizeof(float)), *y = calloc(n, sizeof(float));
    ccl_compressor_t c;
    pthread_t th;
    ccl_result_t r = CCL_SUCCESS;
    double last = h_now();
    for (size_t i = 0; i < n; i++)
        x[i] = (float)(i % 97) - 48.0f;
    if (ccl_compressor_create(comm, spec, n, CCL_FLOAT32, &c) != CCL_SUCCESS)
        return 2;
    if (rank == 2)
        pthread_create(&th, NULL, h_killer, (void *)(intptr_t)150000);
    for (int it = 0; it < 100000 && r == CCL_SUCCESS; it++) {
        last = h_now();
        r = ccl_allreduce_compressed(x, y, n, CCL_FLOAT32, CCL_SUM, c, comm);
    }
    double took = h_now() - last;
    fprintf(stderr, "rank %d: %s after the kill: %d in %.3f s (%s)\n", rank, spec, r, took,
            ccl_get_last_error(comm));
    ccl_compressor_destroy(c);
    ccl_comm_destroy(comm);
    return is_fault_error(r) && took < TIMEOUT_S / 2 ? 0 : 1;
}

/* Rank p-1 never calls; the others must time out (or hear of the timeout). */
static int sc_silent(int rank, int p, ccl_comm_t comm)
{
    double x = 1;
    if (rank == p - 1) {
        sleep((unsigned)(3 * TIMEOUT_S));
        return 0;
    }
    ccl_result_t r = ccl_allreduce(&x, &x, 1, CCL_FLOAT64, CCL_SUM, comm);
    fprintf(stderr, "rank %d: silent peer: %d (%s)\n", rank, r, ccl_get_last_error(comm));
    return r == CCL_ERR_TIMEOUT || r == CCL_ERR_REMOTE ? 0 : 1;
}

/* Each mismatch kind: every rank must get an error, and the guard bytes must survive. */
static int sc_mismatch(int rank, int p, ccl_comm_t comm, const char *kind)
{
    size_t n = strstr(kind, "large") ? (1u << 20) : 100, cap = 2 * n + 64;
    uint8_t *buf = calloc(cap * 8 + 64, 1);
    size_t cnt = n;
    ccl_datatype_t dt = CCL_FLOAT32;
    ccl_redop_t op = CCL_SUM;
    ccl_result_t r;
    memset(buf + n * 4, 0xA5, 64);
    if (rank == 1 && strstr(kind, "count"))
        cnt = n / 2;
    if (rank == 1 && strstr(kind, "dtype"))
        dt = CCL_INT32;
    if (rank == 1 && strstr(kind, "op"))
        op = CCL_MAX;
    if (rank == 0 && strstr(kind, "coll"))
        r = ccl_broadcast(buf, buf, cnt, dt, 0, comm);
    else
        r = ccl_allreduce(buf, buf, cnt, dt, op, comm);
    /* The broadcast root may finish before it hears; its next call must fail. */
    if (r == CCL_SUCCESS && rank == 0 && strstr(kind, "coll"))
        r = ccl_barrier(comm);
    fprintf(stderr, "rank %d: mismatch %s: %d (%s)\n", rank, kind, r, ccl_get_last_error(comm));
    for (int i = 0; i < 64; i++)
        if (buf[n * 4 + i] != 0xA5)
            return 3;
    ccl_comm_destroy(comm);
    /* A peer that saw the mismatch first may already have closed its endpoints: then a send
     * to it fails in the transport (UCX's shared memory refuses the attach), an error too. */
    return r == CCL_ERR_MISMATCH || r == CCL_ERR_REMOTE || r == CCL_ERR_TIMEOUT ||
                   r == CCL_ERR_TRANSPORT ? 0 : 1;
}

static void *aborter(void *arg)
{
    usleep(300000);
    ccl_comm_abort((ccl_comm_t)arg);
    return NULL;
}

/* Rank 1 never joins the allreduce; rank 0's other thread aborts the stuck call. */
static int sc_abort(int rank, int p, ccl_comm_t comm)
{
    float x = 1;
    pthread_t th;
    if (rank != 0) {
        sleep(2);
        return 0;
    }
    pthread_create(&th, NULL, aborter, comm);
    double t0 = h_now();
    ccl_result_t r = ccl_allreduce(&x, &x, 1, CCL_FLOAT32, CCL_SUM, comm);
    pthread_join(th, NULL);
    fprintf(stderr, "rank 0: abort: %d after %.2f s\n", r, h_now() - t0);
    return r == CCL_ERR_ABORTED ? 0 : 1;
}

#define EXPECT_INVALID(call)                                                           \
    do {                                                                               \
        ccl_result_t _r = (call);                                                      \
        if (_r != CCL_ERR_INVALID_ARG || ccl_get_last_error(comm)[0] == '\0') {        \
            fprintf(stderr, "not rejected: %s -> %d\n", #call, _r);                    \
            return 1;                                                                  \
        }                                                                              \
    } while (0)

/* The same, and the last error names the argument (not an earlier call's cause). */
#define EXPECT_INVALID_SAYS(call, word)                                                \
    do {                                                                               \
        EXPECT_INVALID(call);                                                          \
        if (strstr(ccl_get_last_error(comm), word) == NULL) {                          \
            fprintf(stderr, "%s: last error '%s'\n", #call, ccl_get_last_error(comm));  \
            return 1;                                                                  \
        }                                                                              \
    } while (0)

static int sc_badargs(int rank, int p, ccl_comm_t comm)
{
    float x[4] = {1, 2, 3, 4}, y[16];
    ccl_compressor_t c;
    EXPECT_INVALID(ccl_allreduce(NULL, y, 4, CCL_FLOAT32, CCL_SUM, comm));
    EXPECT_INVALID(ccl_allreduce(x, NULL, 4, CCL_FLOAT32, CCL_SUM, comm));
    EXPECT_INVALID(ccl_allreduce(x, y, 4, (ccl_datatype_t)99, CCL_SUM, comm));
    EXPECT_INVALID(ccl_allreduce(x, y, 4, CCL_FLOAT32, (ccl_redop_t)-1, comm));
    EXPECT_INVALID(ccl_allreduce(x, y, SIZE_MAX / 2, CCL_FLOAT32, CCL_SUM, comm));
    EXPECT_INVALID(ccl_allgather(x, y, SIZE_MAX / 4, CCL_FLOAT32, comm));
    EXPECT_INVALID(ccl_reduce_scatter(x, y, SIZE_MAX / 4, CCL_FLOAT32, CCL_SUM, comm));
    EXPECT_INVALID(ccl_broadcast(x, y, 4, CCL_FLOAT32, p, comm));
    EXPECT_INVALID(ccl_broadcast(x, y, 4, CCL_FLOAT32, -1, comm));
    EXPECT_INVALID(ccl_broadcast(x, NULL, 4, CCL_FLOAT32, 0, comm));
    EXPECT_INVALID_SAYS(ccl_compressor_create(comm, NULL, 4, CCL_FLOAT32, &c), "spec");
    EXPECT_INVALID_SAYS(ccl_compressor_create(comm, "int:bits=8", 4, CCL_FLOAT32, NULL), "comp_p");
    EXPECT_INVALID_SAYS(ccl_compressor_create(comm, "int:bits=8", 4, (ccl_datatype_t)99, &c),
                        "datatype");
    if (ccl_allreduce(x, y, 4, CCL_FLOAT32, CCL_SUM, NULL) != CCL_ERR_INVALID_ARG)
        return 1;
    /* Bad arguments are caught before any message: the communicator still works. */
    if (ccl_allreduce(x, y, 4, CCL_FLOAT32, CCL_SUM, comm) != CCL_SUCCESS || y[3] != 4.0f * p)
        return 4;
    ccl_comm_destroy(comm);
    return 0;
}

/* Counts whose byte size no buffer can have (2^61 float32, and more): an invalid argument
 * before anything moves, on every rank that passes one, the communicator still usable; where
 * rank 0 alone passes one, the others get an error too, never success. */
static int sc_huge_count(int rank, int p, ccl_comm_t comm, int alone)
{
    float x[4] = {1, 2, 3, 4}, y = 0, one = 1;
    static const size_t huge[] = {(size_t)1 << 61, SIZE_MAX / 4, SIZE_MAX / 2};
    int ok = 1;
    if (!alone) {
        for (int k = 0; k < 3; k++) {
            ok &= ccl_allreduce(x, x, huge[k], CCL_FLOAT32, CCL_SUM, comm) == CCL_ERR_INVALID_ARG;
            ok &= ccl_allgather(x, x, huge[k], CCL_FLOAT32, comm) == CCL_ERR_INVALID_ARG;
            ok &= ccl_broadcast(x, x, huge[k], CCL_FLOAT32, 0, comm) == CCL_ERR_INVALID_ARG;
        }
        ok &= ccl_allreduce(&one, &y, 1, CCL_FLOAT32, CCL_SUM, comm) == CCL_SUCCESS && y == p;
    } else {
        ccl_result_t r = ccl_allreduce(x, x, rank == 0 ? huge[0] : 4, CCL_FLOAT32, CCL_SUM, comm);
        fprintf(stderr, "rank %d: %s count: %d (%s)\n", rank, rank == 0 ? "huge" : "plain",
                (int)r, ccl_get_last_error(comm));
        ok = rank == 0 ? r == CCL_ERR_INVALID_ARG : r != CCL_SUCCESS;
    }
    ccl_comm_destroy(comm);
    return !ok;
}

/* Under CCLZ_CHECK_CALLS=1, rank 0 makes one call and the others another: every rank gets
 * CCL_ERR_MISMATCH at once (not after the timeout), and the communicator still works. */
static int sc_checked(int rank, int p, ccl_comm_t comm, const char *kind)
{
    enum { N = 64 };
    static float a[N * 8], b[N * 8];
    const int other = rank != 0;
    ccl_compressor_t c = NULL;
    ccl_result_t r;
    if (strcmp(kind, "compressed") == 0 &&
        ccl_compressor_create(comm, "int:bits=8", N, CCL_FLOAT32, &c) != CCL_SUCCESS)
        return 2;
    double t0 = h_now();
    if (strcmp(kind, "bcast-root") == 0) /* rank 0 its own root, the others rank 1 */
        r = ccl_broadcast(a, a, N, CCL_FLOAT32, other ? 1 : 0, comm);
    else if (strcmp(kind, "bcast-self") == 0) /* every rank its own root */
        r = ccl_broadcast(a, a, N, CCL_FLOAT32, rank, comm);
    else if (strcmp(kind, "bcast-count") == 0)
        r = ccl_broadcast(a, a, other ? N / 2 : N, CCL_FLOAT32, 0, comm);
    else if (strcmp(kind, "allgather") == 0)
        r = other ? ccl_allreduce(a, b, N, CCL_FLOAT32, CCL_SUM, comm)
                  : ccl_allgather(a, b, N, CCL_FLOAT32, comm);
    else if (strcmp(kind, "barrier") == 0)
        r = other ? ccl_allreduce(a, b, N, CCL_FLOAT32, CCL_SUM, comm) : ccl_barrier(comm);
    else if (strcmp(kind, "reduce-scatter") == 0)
        r = other ? ccl_allreduce(a, b, N, CCL_FLOAT32, CCL_SUM, comm)
                  : ccl_reduce_scatter(a, b, N / 8, CCL_FLOAT32, CCL_SUM, comm);
    else if (strcmp(kind, "compressed") == 0)
        r = other ? ccl_allreduce(a, b, N, CCL_FLOAT32, CCL_SUM, comm)
                  : ccl_allreduce_compressed(a, b, N, CCL_FLOAT32, CCL_SUM, c, comm);
    else if (strcmp(kind, "op") == 0)
        r = ccl_allreduce(a, b, N, CCL_FLOAT32, other ? CCL_MAX : CCL_SUM, comm);
    else
        return 99;
    double took = h_now() - t0;
    float x = 1, y = 0;
    ccl_result_t after = ccl_allreduce(&x, &y, 1, CCL_FLOAT32, CCL_SUM, comm);
    fprintf(stderr, "rank %d: checked %s: %d in %.3f s (%s); then %d\n", rank, kind, (int)r, took,
            ccl_get_last_error(comm), (int)after);
    ccl_compressor_destroy(c);
    ccl_comm_destroy(comm);
    return r == CCL_ERR_MISMATCH && took < TIMEOUT_S / 2 && after == CCL_SUCCESS &&
                   y == (float)p ? 0 : 1;
}

/* Rank 0's message memory for a sparse_split allreduce cannot be had (its encoding
 * succeeded just before): it must return CCL_ERR_NO_MEMORY, not success, and its peer an
 * error, not a hang. */
static int sc_split_nomem(int rank, int p, ccl_comm_t comm)
{
    enum { N = 4096 };
    static float g[N], out[N];
    ccl_compressor_t c;
    for (int i = 0; i < N; i++)
        g[i] = (float)((i * 7 + rank) % 13) - 6.0f;
    if (ccl_compressor_create(comm, "topk:ratio=0.05,algo=sparse_split", N, CCL_FLOAT32, &c) !=
        CCL_SUCCESS)
        return 2;
    if (rank == 0)
        ccl_test_fail_alloc(1); /* the call's first scratch allocation: its message memory */
    ccl_result_t r = ccl_allreduce_compressed(g, out, N, CCL_FLOAT32, CCL_SUM, c, comm);
    ccl_test_fail_alloc(0);
    fprintf(stderr, "rank %d: sparse_split without message memory: %d (%s)\n", rank, (int)r,
            ccl_get_last_error(comm));
    ccl_compressor_destroy(c);
    ccl_comm_destroy(comm);
    return rank == 0 ? r != CCL_ERR_NO_MEMORY : !is_fault_error(r);
}

static int rank_entry(int rank, int p, ccl_unique_id_t id, const char *arg)
{
    if (strcmp(arg, "init-mismatch") == 0) {
        /* Rank 1 claims a different job size: it is refused, the rest time out. */
        ccl_comm_t comm;
        ccl_result_t r = ccl_comm_init_rank(&comm, rank == 1 ? p + 1 : p, id, rank);
        fprintf(stderr, "rank %d: init with wrong size: %d (%s)\n", rank, r,
                ccl_get_last_error(NULL));
        return r == CCL_ERR_BOOTSTRAP || r == CCL_ERR_TIMEOUT ? 0 : 1;
    }
    if (strcmp(arg, "init-exit") == 0) {
        /* Rank 0 leaves the moment its init returns; everyone else's init must still work:
         * init may only return once every rank has connected. */
        ccl_comm_t comm;
        ccl_result_t r = ccl_comm_init_rank(&comm, p, id, rank);
        if (r != CCL_SUCCESS)
            fprintf(stderr, "rank %d: init while rank 0 leaves: %s\n", rank, ccl_get_last_error(NULL));
        if (rank == 0 && r == CCL_SUCCESS)
            _exit(0);
        return r == CCL_SUCCESS ? 0 : 1;
    }
    if (strncmp(arg, "zombie:", 7) == 0) {
        /* Rank 2 is a child that its parent reaps only long after the kill: a zombie. */
        pid_t child = rank == 2 ? fork() : 0;
        if (child > 0) {
            int st;
            sleep((unsigned)(2 * TIMEOUT_S));
            waitpid(child, &st, 0);
            return WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL ? 0 : 1;
        }
        return sc_kill_compressed(rank, p, h_init_comm(rank, p, id), arg + 7);
    }
    ccl_comm_t comm = h_init_comm(rank, p, id);
    if (strcmp(arg, "kill") == 0)
        return sc_kill(rank, p, comm);
    if (strncmp(arg, "kill:", 5) == 0)
        return sc_kill_compressed(rank, p, comm, arg + 5);
    if (strcmp(arg, "silent") == 0)
        return sc_silent(rank, p, comm);
    if (strcmp(arg, "abort") == 0)
        return sc_abort(rank, p, comm);
    if (strcmp(arg, "badargs") == 0)
        return sc_badargs(rank, p, comm);
    if (strcmp(arg, "split-nomem") == 0)
        return sc_split_nomem(rank, p, comm);
    if (strncmp(arg, "huge-count", 10) == 0)
        return sc_huge_count(rank, p, comm, strcmp(arg, "huge-count-alone") == 0);
    if (strncmp(arg, "checked-", 8) == 0)
        return sc_checked(rank, p, comm, arg + 8);
    if (strncmp(arg, "mismatch", 8) == 0)
        return sc_mismatch(rank, p, comm, arg);
    if (strcmp(arg, "plain") == 0) {
        int64_t v = rank, s;
        ccl_result_t r = ccl_allreduce(&v, &s, 1, CCL_INT64, CCL_SUM, comm);
        ccl_comm_destroy(comm);
        return r == CCL_SUCCESS && s == (int64_t)p * (p - 1) / 2 ? 0 : 1;
    }
    return 99;
}

/* Connects to the rendezvous of `id` and, depending on mode, sends a hello with a wrong
 * secret, garbage, or nothing at all (the socket is returned open). */
static int stranger(const ccl_unique_id_t *uid, int mode)
{
    ccl_bootstrap_id_t id;
    memcpy(&id, uid->internal, sizeof(id));
    int fd = socket(id.root.sa.sa_family, SOCK_STREAM, 0);
    if (connect(fd, &id.root.sa, sizeof(id.root.in)) != 0)
        return -1;
    uint8_t hello[48] = {0};
    uint32_t magic = CCL_BOOTSTRAP_MAGIC, ver = CCL_BOOTSTRAP_VERSION;
    memcpy(hello, &magic, 4);
    memcpy(hello + 4, &ver, 4);
    memset(hello + 8, 0x42, 16); /* not the secret */
    if (mode == 0)
        (void)!write(fd, hello, sizeof(hello));
    else if (mode == 1)
        (void)!write(fd, "GET / HTTP/1.0\r\n\r\n", 18);
    return fd;
}

/* The parent plays strangers at the port, then starts a real job on the same id. */
static void test_strangers(void)
{
    int codes[8], fds[3];
    ccl_unique_id_t id;
    char idstr[CCL_UNIQUE_ID_STRLEN];
    if (ccl_get_unique_id(&id) != CCL_SUCCESS) {
        h_report(0, "strangers at the rendezvous port");
        return;
    }
    for (int m = 0; m < 3; m++)
        fds[m] = stranger(&id, m);
    usleep(200000);
    /* h_spawn makes a fresh id; reuse this one so the strangers hit the job's own port. */
    ccl_unique_id_to_string(&id, idstr, sizeof(idstr));
    setenv("H_FIXED_ID", idstr, 1);
    int bad = h_spawn(3, "plain", 60, codes);
    unsetenv("H_FIXED_ID");
    for (int m = 0; m < 3; m++)
        if (fds[m] >= 0)
            close(fds[m]);
    h_report(!bad && fds[0] >= 0, "strangers (wrong secret, garbage, silent) cannot disturb the rendezvous");
}

/* More silent connections than the rendezvous has room for, then a real job on the same
 * id: the silent ones give way, and the job forms. */
static void test_flood(void)
{
    enum { FLOOD = 1200 };
    int codes[8], *fds = malloc(FLOOD * sizeof(int)), opened = 0;
    ccl_unique_id_t id;
    char idstr[CCL_UNIQUE_ID_STRLEN];
    if (fds == NULL || ccl_get_unique_id(&id) != CCL_SUCCESS) {
        h_report(0, "a flood of silent connections at the rendezvous");
        free(fds);
        return;
    }
    for (int i = 0; i < FLOOD; i++)
        if ((fds[i] = stranger(&id, 2)) >= 0)
            opened++;
    usleep(500000);
    ccl_unique_id_to_string(&id, idstr, sizeof(idstr));
    setenv("H_FIXED_ID", idstr, 1);
    int bad = h_spawn(3, "plain", 60, codes);
    unsetenv("H_FIXED_ID");
    for (int i = 0; i < FLOOD; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    free(fds);
    h_report(!bad && opened == FLOOD, "%d silent connections (more than the rendezvous holds) "
             "cannot keep the job from forming", opened);
}

int main(int argc, char **argv)
{
    char t[16];
    int codes[8];
    snprintf(t, sizeof(t), "%.0f", TIMEOUT_S);
    setenv("CCLZ_TIMEOUT", t, 1);
    h_init(argc, argv, rank_entry);

    /* The suite quiets UCX's warnings; this case checks that destroy prints none. */
    const char *ucx_level = getenv("UCX_LOG_LEVEL");
    char *saved_level = ucx_level != NULL ? strdup(ucx_level) : NULL;
    unsetenv("UCX_LOG_LEVEL");
    int bad = h_spawn(4, "kill", 60, codes);
    if (saved_level != NULL)
        setenv("UCX_LOG_LEVEL", saved_level, 1);
    free(saved_level);
    h_report(codes[2] == 128 + SIGKILL && !codes[0] && !codes[1] && !codes[3],
             "rank killed mid-allreduce: the others return an error and destroy their "
             "communicators without a warning per stranded message");
    (void)bad;

    static const char *killed[] = {"kill:dgc:ratio=0.001", "kill:topk:ratio=0.001,ef=none",
                                   "kill:int:bits=8"};
    for (size_t k = 0; k < sizeof(killed) / sizeof(killed[0]); k++) {
        h_spawn(4, killed[k], 60, codes);
        h_report(codes[2] == 128 + SIGKILL && !codes[0] && !codes[1] && !codes[3],
                 "rank killed mid-%s: the others return an error within half the timeout",
                 killed[k] + 5);
    }

    h_spawn(4, "zombie:dgc:ratio=0.001", 60, codes);
    h_report(!codes[0] && !codes[1] && !codes[2] && !codes[3],
             "rank killed and left a zombie by its parent: the others return an error within "
             "half the timeout");

    bad = h_spawn(3, "silent", 60, codes);
    h_report(!bad, "silent rank: the others time out with an error");

    static const char *kinds[] = {"mismatch-count", "mismatch-count-large", "mismatch-dtype",
                                  "mismatch-op", "mismatch-coll"};
    for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
        bad = h_spawn(3, kinds[k], 60, codes);
        h_report(!bad, "%s: every rank gets an error, no buffer overrun", kinds[k]);
    }

    bad = h_spawn(2, "abort", 60, codes);
    h_report(!bad, "ccl_comm_abort from another thread unblocks a stuck allreduce");

    bad = h_spawn(2, "badargs", 60, codes);
    h_report(!bad, "invalid arguments give CCL_ERR_INVALID_ARG with a message naming them");

    bad = h_spawn(2, "split-nomem", 60, codes);
    h_report(!bad, "sparse_split without memory for its messages: CCL_ERR_NO_MEMORY there, an "
                   "error on the peer");

    bad = h_spawn(3, "huge-count", 60, codes);
    h_report(!bad, "counts no buffer can hold (2^61 float32 and up): CCL_ERR_INVALID_ARG on "
                   "every rank, the communicator still usable");
    bad = h_spawn(3, "huge-count-alone", 60, codes);
    h_report(!bad, "one rank alone passes a count no buffer can hold: it gets "
                   "CCL_ERR_INVALID_ARG, the others an error, never success");

    static const char *checked[] = {"checked-bcast-root", "checked-bcast-self",
                                    "checked-bcast-count", "checked-allgather", "checked-barrier",
                                    "checked-reduce-scatter", "checked-compressed", "checked-op"};
    setenv("CCLZ_CHECK_CALLS", "1", 1);
    for (size_t k = 0; k < sizeof(checked) / sizeof(checked[0]); k++) {
        bad = h_spawn(3, checked[k], 60, codes);
        h_report(!bad, "CCLZ_CHECK_CALLS=1, %s: CCL_ERR_MISMATCH on every rank at once, the "
                       "communicator still usable", checked[k] + 8);
    }
    unsetenv("CCLZ_CHECK_CALLS");

    bad = h_spawn(3, "init-mismatch", 60, codes);
    h_report(!bad, "a rank with the wrong job size is refused at the rendezvous");

    int init_bad = 0;
    for (int i = 0; i < 20; i++)
        init_bad |= h_spawn(4, "init-exit", 60, codes) != 0;
    h_report(!init_bad, "init returns only when every rank is connected (rank 0 exits at once, x20)");

    test_strangers();
    test_flood();
    return h_failed ? 1 : 0;
}
