/* fault_time.c: how long after a fault the other ranks' calls return an error. Every rank
 * loops on one kind of allreduce (exact with an algorithm, or compressed with a spec); one
 * rank, the victim, meets a fault after a delay: SIGKILL, SIGSTOP, or its network link taken
 * down. Just before, it writes the time and its pid to a stamp file; each rank whose call
 * fails prints how long after that time it returned, and the error.
 *
 *   fault_time -np 4 -s dgc:ratio=0.001 -f kill           forks 4 ranks on this host
 *   perf/netns_cluster.sh -n 4 -- fault_time -s int:bits=8 -f linkdown -t /tmp/stamp
 *
 * Under a launcher (CCLZ_RANK set) the ranks come from ccl_comm_init_from_env and -t names a
 * stamp file all of them can read. With -f stop, the first rank to report kills the stopped
 * victim at the end. Output, one line per rank that saw an error:
 *   fault_time: rank 1 of 4: CCL_ERR_TRANSPORT after 0.061 s: <the error message> */
#include "cclz.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    int np, victim, delay_ms;
    size_t count;
    const char *spec, *algo, *fault, *stamp;
    double give_up_s; /* a rank that sees no error for this long reports that */
} opts_t;

static opts_t o = {4, 2, 300, 1u << 22, NULL, NULL, "kill", NULL, 60.0};

static double wall_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts); /* shared by every network namespace of the host */
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void usage(void)
{
    fprintf(stderr, "usage: fault_time [-np N] [-s SPEC | -a ALGO] [-n COUNT] [-f kill|stop|linkdown]\n"
                    "                  [-v VICTIM] [-d DELAY_MS] [-t STAMP_FILE] [-g GIVE_UP_S]\n");
    exit(2);
}

static void parse(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (v == NULL)
            usage();
        if (strcmp(a, "-np") == 0)
            o.np = atoi(v);
        else if (strcmp(a, "-s") == 0)
            o.spec = v;
        else if (strcmp(a, "-a") == 0)
            o.algo = v;
        else if (strcmp(a, "-n") == 0)
            o.count = strtoull(v, NULL, 0);
        else if (strcmp(a, "-f") == 0)
            o.fault = v;
        else if (strcmp(a, "-v") == 0)
            o.victim = atoi(v);
        else if (strcmp(a, "-d") == 0)
            o.delay_ms = atoi(v);
        else if (strcmp(a, "-t") == 0)
            o.stamp = v;
        else if (strcmp(a, "-g") == 0)
            o.give_up_s = atof(v);
        else
            usage();
        i++;
    }
    if (strcmp(o.fault, "kill") != 0 && strcmp(o.fault, "stop") != 0 &&
        strcmp(o.fault, "linkdown") != 0)
        usage();
}

static void write_stamp(void)
{
    FILE *f = fopen(o.stamp, "w");
    if (f == NULL) {
        perror(o.stamp);
        return;
    }
    fprintf(f, "%.6f %d\n", wall_now(), (int)getpid());
    fclose(f);
}

static void *victim_thread(void *arg)
{
    (void)arg;
    usleep((useconds_t)o.delay_ms * 1000u);
    if (strcmp(o.fault, "linkdown") == 0) {
        /* This process is alone in its network namespace: its eth0 is its host's link. */
        if (system("ip link set eth0 down") != 0)
            fprintf(stderr, "fault_time: could not take eth0 down\n");
        write_stamp();
        return NULL;
    }
    write_stamp();
    raise(strcmp(o.fault, "kill") == 0 ? SIGKILL : SIGSTOP);
    return NULL;
}

static int run_rank(ccl_comm_t comm)
{
    int rank = 0, p = 0;
    ccl_comm_rank(comm, &rank);
    ccl_comm_size(comm, &p);
    float *x = malloc(o.count * sizeof(float)), *y = malloc(o.count * sizeof(float));
    ccl_compressor_t c = NULL;
    if (x == NULL || y == NULL)
        return 3;
    for (size_t i = 0; i < o.count; i++)
        x[i] = (float)((i * 7919u + (size_t)rank * 31u) % 1999u) / 1000.0f - 1.0f;
    if (o.spec != NULL && ccl_compressor_create(comm, o.spec, o.count, CCL_FLOAT32, &c) != CCL_SUCCESS) {
        fprintf(stderr, "fault_time: %s: %s\n", o.spec, ccl_get_last_error(comm));
        return 3;
    }
    pthread_t th;
    if (rank == o.victim)
        pthread_create(&th, NULL, victim_thread, NULL);
    ccl_result_t r = CCL_SUCCESS;
    double start = wall_now();
    while (r == CCL_SUCCESS && wall_now() - start < o.give_up_s)
        r = c != NULL ? ccl_allreduce_compressed(x, y, o.count, CCL_FLOAT32, CCL_SUM, c, comm)
                      : ccl_allreduce(x, y, o.count, CCL_FLOAT32, CCL_SUM, comm);
    double t_err = wall_now(), t_fault = 0;
    int victim_pid = 0;
    FILE *f = fopen(o.stamp, "r");
    if (f == NULL || fscanf(f, "%lf %d", &t_fault, &victim_pid) != 2) {
        fprintf(stderr, "fault_time: rank %d: no stamp from the victim in %s\n", rank, o.stamp);
        return 4;
    }
    fclose(f);
    if (r == CCL_SUCCESS)
        printf("fault_time: rank %d of %d: no error after %.3f s\n", rank, p, t_err - t_fault);
    else
        printf("fault_time: rank %d of %d: %s after %.3f s: %s\n", rank, p, ccl_get_error_string(r),
               t_err - t_fault, ccl_get_last_error(comm));
    fflush(stdout);
    if (strcmp(o.fault, "stop") == 0 && victim_pid > 0 && rank == (o.victim == 0 ? 1 : 0))
        kill(victim_pid, SIGKILL);
    if (c != NULL)
        ccl_compressor_destroy(c);
    ccl_comm_destroy(comm);
    return r == CCL_SUCCESS ? 1 : 0;
}

int main(int argc, char **argv)
{
    parse(argc, argv);
    if (o.algo != NULL)
        setenv("CCLZ_ALGO", o.algo, 1);
    if (getenv("CCLZ_RANK") != NULL) {
        if (o.stamp == NULL)
            usage();
        ccl_comm_t comm;
        if (ccl_comm_init_from_env(&comm) != CCL_SUCCESS) {
            fprintf(stderr, "fault_time: init: %s\n", ccl_get_last_error(NULL));
            return 3;
        }
        return run_rank(comm);
    }
    /* Ranks on this host, each a fresh exec of this program (a fork alone would inherit the
     * rendezvous thread's locks); the parent reaps each as it ends, as a launcher does. */
    if (getenv("FT_ID") != NULL) {
        ccl_unique_id_t id;
        ccl_comm_t comm;
        int r = atoi(getenv("FT_RANK"));
        o.stamp = getenv("FT_STAMP");
        if (ccl_unique_id_from_string(getenv("FT_ID"), &id) != CCL_SUCCESS ||
            ccl_comm_init_rank(&comm, o.np, id, r) != CCL_SUCCESS) {
            fprintf(stderr, "fault_time: rank %d: init: %s\n", r, ccl_get_last_error(NULL));
            return 3;
        }
        return run_rank(comm);
    }
    char stamp[] = "/tmp/fault_time.XXXXXX", idstr[CCL_UNIQUE_ID_STRLEN], rankstr[16];
    int fd = mkstemp(stamp);
    if (fd < 0 || o.np < 2 || o.victim < 0 || o.victim >= o.np)
        usage();
    close(fd);
    ccl_unique_id_t id;
    if (ccl_get_unique_id(&id) != CCL_SUCCESS ||
        ccl_unique_id_to_string(&id, idstr, sizeof(idstr)) != CCL_SUCCESS)
        return 3;
    setenv("FT_ID", idstr, 1);
    setenv("FT_STAMP", stamp, 1);
    fflush(stdout);
    for (int r = 0; r < o.np; r++) {
        snprintf(rankstr, sizeof(rankstr), "%d", r);
        setenv("FT_RANK", rankstr, 1);
        if (fork() == 0) {
            execv("/proc/self/exe", argv);
            _exit(127);
        }
    }
    int worst = 0, st;
    while (wait(&st) > 0)
        if (WIFEXITED(st) && WEXITSTATUS(st) > worst)
            worst = WEXITSTATUS(st);
    unlink(stamp);
    return worst;
}
