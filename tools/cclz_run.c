/* cclz_run.c: starts N ranks of a program on this machine, with CCLZ_RANK, CCLZ_NRANKS,
 * CCLZ_ROOT and a fresh CCLZ_SECRET set, and ends the job when one rank fails. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void usage(void)
{
    fprintf(stderr,
            "usage: cclz_run -np N [--timeout SECONDS] [--] program [args...]\n"
            "Starts N ranks of program on this machine. Each gets CCLZ_RANK, CCLZ_NRANKS,\n"
            "CCLZ_LOCAL_RANK, CCLZ_ROOT (a free loopback port) and a random CCLZ_SECRET, which\n"
            "ccl_comm_init_from_env() reads. If a rank fails, the others are stopped; the exit\n"
            "status is the first failure's (128+signal for a signal, 124 for --timeout).\n");
    exit(2);
}

static int free_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

static void kill_all(pid_t *pids, int n, int sig)
{
    for (int i = 0; i < n; i++)
        if (pids[i] > 0)
            kill(pids[i], sig);
}

int main(int argc, char **argv)
{
    int np = -1, argi = 1;
    double timeout = 0;
    while (argi < argc && argv[argi][0] == '-') {
        if ((strcmp(argv[argi], "-np") == 0 || strcmp(argv[argi], "-n") == 0) && argi + 1 < argc) {
            np = atoi(argv[argi + 1]);
            argi += 2;
        } else if (strcmp(argv[argi], "--timeout") == 0 && argi + 1 < argc) {
            timeout = atof(argv[argi + 1]);
            argi += 2;
        } else if (strcmp(argv[argi], "--") == 0) {
            argi++;
            break;
        } else {
            usage();
        }
    }
    if (np <= 0 || argi >= argc)
        usage();

    int port = free_port();
    unsigned char secret[16];
    char root[64], hex[33], buf[32];
    if (port < 0 || getrandom(secret, sizeof(secret), 0) != (ssize_t)sizeof(secret)) {
        perror("cclz_run: setup");
        return 1;
    }
    for (int i = 0; i < 16; i++)
        snprintf(hex + 2 * i, 3, "%02x", secret[i]);
    snprintf(root, sizeof(root), "127.0.0.1:%d", port);
    setenv("CCLZ_ROOT", root, 1);
    setenv("CCLZ_SECRET", hex, 1);
    snprintf(buf, sizeof(buf), "%d", np);
    setenv("CCLZ_NRANKS", buf, 1);

    pid_t *pids = calloc((size_t)np, sizeof(pid_t));
    for (int r = 0; r < np; r++) {
        pid_t pid = fork();
        if (pid < 0) {
            perror("cclz_run: fork");
            kill_all(pids, r, SIGKILL);
            return 1;
        }
        if (pid == 0) {
            snprintf(buf, sizeof(buf), "%d", r);
            setenv("CCLZ_RANK", buf, 1);
            setenv("CCLZ_LOCAL_RANK", buf, 1);
            execvp(argv[argi], argv + argi);
            fprintf(stderr, "cclz_run: cannot run %s: %s\n", argv[argi], strerror(errno));
            _exit(127);
        }
        pids[r] = pid;
    }

    int status_out = 0, left = np;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (left > 0) {
        int st;
        pid_t pid = waitpid(-1, &st, WNOHANG);
        if (pid == 0) {
            struct timespec t;
            clock_gettime(CLOCK_MONOTONIC, &t);
            if (timeout > 0 && (double)(t.tv_sec - t0.tv_sec) > timeout) {
                fprintf(stderr, "cclz_run: --timeout %.0f s reached, stopping the job\n", timeout);
                kill_all(pids, np, SIGKILL);
                if (status_out == 0)
                    status_out = 124;
            }
            usleep(10000);
            continue;
        }
        if (pid < 0)
            break;
        left--;
        for (int r = 0; r < np; r++) {
            if (pids[r] != pid)
                continue;
            pids[r] = 0;
            int code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
            if (code != 0 && status_out == 0) {
                fprintf(stderr, "cclz_run: rank %d %s %d; stopping the other ranks\n", r,
                        WIFEXITED(st) ? "exited with status" : "was killed by signal",
                        WIFEXITED(st) ? code : WTERMSIG(st));
                status_out = code;
                kill_all(pids, np, SIGTERM);
            }
        }
    }
    free(pids);
    return status_out;
}
