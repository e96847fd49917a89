/* bootstrap.c: TCP rendezvous: ranks send their transport address to the root, which
 * answers with everyone's once all have joined. Connections without the secret are refused. */
#define _GNU_SOURCE /* accept4 */
#include "core/bootstrap.h"
#include "base/env_config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define HELLO_MAX_ADDR  65536u
#define ROOT_MAX_CONNS  1024
#define STRANGER_GRACE_S 10.0  /* an unauthenticated connection is dropped after this */

/* Rank -> root. */
typedef struct {
    uint32_t magic;
    uint32_t version;
    uint8_t  secret[CCL_SECRET_BYTES];
    int32_t  rank;
    int32_t  nranks;
    uint32_t addr_len;
    uint32_t reserved;
} hello_t;

/* Root -> rank: status, then (on success) nranks lengths and the concatenated addresses,
 * or (on refusal) a reason string of `total` bytes. */
typedef struct {
    int32_t  status;
    uint32_t nranks;
    uint64_t total;
} reply_t;

static const char *addr_str(const ccl_sockaddr_t *ss, char *buf, size_t len)
{
    char host[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (ss->sa.sa_family == AF_INET) {
        const struct sockaddr_in *in = (const void *)ss;
        inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
        port = ntohs(in->sin_port);
    } else if (ss->sa.sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const void *)ss;
        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
        port = ntohs(in6->sin6_port);
    }
    snprintf(buf, len, "%s:%d", host, port);
    return buf;
}

static socklen_t ss_len(const ccl_sockaddr_t *ss)
{
    return ss->sa.sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
}

static void ss_set_port(ccl_sockaddr_t *ss, int port)
{
    if (ss->sa.sa_family == AF_INET6)
        ((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)port);
    else
        ((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
}

ccl_result_t ccl_bootstrap_parse_hostport(const char *s, ccl_sockaddr_t *out)
{
    char host[256];
    const char *colon, *hs = s;
    size_t hlen;
    struct addrinfo hints = {0}, *res = NULL;
    char *end;
    long port;

    if (s == NULL || *s == '\0')
        return ccl_set_error(NULL, CCL_ERR_INVALID_ARG, "empty host:port");
    if (*s == '[') { /* [v6]:port */
        colon = strchr(s, ']');
        if (colon == NULL || colon[1] != ':')
            return ccl_set_error(NULL, CCL_ERR_INVALID_ARG, "bad address '%s'", s);
        hs = s + 1;
        hlen = (size_t)(colon - hs);
        colon++;
    } else {
        colon = strrchr(s, ':');
        if (colon == NULL)
            return ccl_set_error(NULL, CCL_ERR_INVALID_ARG, "'%s' is not host:port", s);
        hlen = (size_t)(colon - s);
    }
    if (hlen == 0 || hlen >= sizeof(host))
        return ccl_set_error(NULL, CCL_ERR_INVALID_ARG, "bad host in '%s'", s);
    memcpy(host, hs, hlen);
    host[hlen] = '\0';
    port = strtol(colon + 1, &end, 10);
    if (*end != '\0' || port <= 0 || port > 65535)
        return ccl_set_error(NULL, CCL_ERR_INVALID_ARG, "bad port in '%s'", s);

    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(host, NULL, &hints, &res) != 0 || res == NULL)
        return ccl_set_error(NULL, CCL_ERR_BOOTSTRAP, "cannot resolve host '%s'", host);
    memset(out, 0, sizeof(*out));
    memcpy(out, res->ai_addr, CCL_MIN((size_t)res->ai_addrlen, sizeof(*out)));
    freeaddrinfo(res);
    ss_set_port(out, (int)port);
    return CCL_SUCCESS;
}

ccl_result_t ccl_bootstrap_local_addr(const char *ifname, ccl_sockaddr_t *out)
{
    struct ifaddrs *ifs, *it;
    memset(out, 0, sizeof(*out));
    if (getifaddrs(&ifs) != 0)
        return ccl_set_error(NULL, CCL_ERR_SYSTEM, "getifaddrs: %s", strerror(errno));
    for (it = ifs; it != NULL; it = it->ifa_next) {
        if (it->ifa_addr == NULL || it->ifa_addr->sa_family != AF_INET ||
            !(it->ifa_flags & IFF_UP))
            continue;
        if (ifname[0] != '\0' ? strcmp(it->ifa_name, ifname) != 0
                              : (it->ifa_flags & IFF_LOOPBACK) != 0)
            continue;
        memcpy(out, it->ifa_addr, sizeof(struct sockaddr_in));
        break;
    }
    freeifaddrs(ifs);
    if (out->sa.sa_family == 0) {
        if (ifname[0] != '\0')
            return ccl_set_error(NULL, CCL_ERR_INVALID_ARG,
                                 "CCLZ_IFNAME=%s: no such interface with an IPv4 address",
                                 ifname);
        struct sockaddr_in *in = (struct sockaddr_in *)out;
        in->sin_family = AF_INET;
        in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    }
    return CCL_SUCCESS;
}

/* ---- root side ---- */

typedef struct {
    int      fd;
    double   since;
    size_t   got;        /* bytes of hello (then address) read so far */
    hello_t  hello;
    uint8_t *addr;
    int      authed;     /* secret checked and rank accepted */
} root_conn_t;

typedef struct {
    int      listen_fd;
    uint8_t  secret[CCL_SECRET_BYTES];
    double   timeout_s;
} root_args_t;

static int secret_equal(const uint8_t *a, const uint8_t *b)
{
    uint8_t diff = 0;
    for (int i = 0; i < CCL_SECRET_BYTES; i++)
        diff |= (uint8_t)(a[i] ^ b[i]);
    return diff == 0;
}

static int write_all(int fd, const void *buf, size_t len)
{
    const uint8_t *p = buf;
    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
            struct pollfd pfd = {.fd = fd, .events = POLLOUT};
            poll(&pfd, 1, 1000);
            continue;
        }
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static void root_refuse(root_conn_t *c, const char *why)
{
    reply_t r = {.status = -1, .nranks = 0, .total = strlen(why)};
    (void)write_all(c->fd, &r, sizeof(r));
    (void)write_all(c->fd, why, strlen(why));
}

static void conn_close(root_conn_t *c)
{
    if (c->fd >= 0)
        close(c->fd);
    free(c->addr);
    memset(c, 0, sizeof(*c));
    c->fd = -1;
}

/* Reads what is available; returns 1 when the hello and address are complete, 0 if more is
 * needed, -1 if the connection must be dropped. */
static int root_read(root_conn_t *c, const root_args_t *args)
{
    ssize_t n;
    if (c->got < sizeof(hello_t)) {
        n = recv(c->fd, (uint8_t *)&c->hello + c->got, sizeof(hello_t) - c->got, MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
            return -1;
        if (n < 0)
            return 0;
        c->got += (size_t)n;
        if (c->got < sizeof(hello_t))
            return 0;
        if (c->hello.magic != CCL_BOOTSTRAP_MAGIC || c->hello.version != CCL_BOOTSTRAP_VERSION ||
            !secret_equal(c->hello.secret, args->secret)) {
            ccl_warn("rendezvous: refused a connection that did not present the job's secret");
            return -1;
        }
        if (c->hello.addr_len == 0 || c->hello.addr_len > HELLO_MAX_ADDR) {
            ccl_warn("rendezvous: refused a hello with address length %u", c->hello.addr_len);
            return -1;
        }
        c->addr = malloc(c->hello.addr_len);
        if (c->addr == NULL)
            return -1;
    }
    size_t need = sizeof(hello_t) + c->hello.addr_len;
    if (c->got < need) {
        n = recv(c->fd, c->addr + (c->got - sizeof(hello_t)), need - c->got, MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
            return -1;
        if (n > 0)
            c->got += (size_t)n;
    }
    return c->got == need ? 1 : 0;
}

/* The connection to give way when the table is full: of those that have not completed a
 * hello, one that sent nothing, else any, the longest waiting first. -1 if every one is a
 * rank that has joined. */
static int root_victim(const root_conn_t *conns)
{
    int victim = -1;
    for (int i = 0; i < ROOT_MAX_CONNS; i++) {
        const root_conn_t *c = &conns[i];
        if (c->fd < 0 || c->authed)
            continue;
        if (victim < 0 || (c->got == 0) > (conns[victim].got == 0) ||
            ((c->got == 0) == (conns[victim].got == 0) && c->since < conns[victim].since))
            victim = i;
    }
    return victim;
}

static void *root_thread(void *arg)
{
    root_args_t *args = arg;
    root_conn_t *conns = calloc(ROOT_MAX_CONNS, sizeof(*conns));
    root_conn_t **by_rank = NULL;
    struct pollfd *pfds = calloc(ROOT_MAX_CONNS + 1, sizeof(*pfds));
    int nranks = -1, joined = 0, evicted = 0;
    double deadline = ccl_time_now() + args->timeout_s;

    if (conns == NULL || pfds == NULL)
        goto out;
    for (int i = 0; i < ROOT_MAX_CONNS; i++)
        conns[i].fd = -1;

    while (nranks < 0 || joined < nranks) {
        int np = 0;
        double now = ccl_time_now();
        if (now > deadline) {
            if (nranks < 0)
                ccl_warn("rendezvous: no rank joined within %g s", args->timeout_s);
            else
                ccl_warn("rendezvous: only %d of %d ranks joined within %g s", joined, nranks,
                         args->timeout_s);
            goto out;
        }
        pfds[np++] = (struct pollfd){.fd = args->listen_fd, .events = POLLIN};
        for (int i = 0; i < ROOT_MAX_CONNS; i++) {
            if (conns[i].fd < 0)
                continue;
            if (!conns[i].authed && now - conns[i].since > STRANGER_GRACE_S) {
                ccl_warn("rendezvous: dropped a connection that sent no valid hello in %.0f s",
                         STRANGER_GRACE_S);
                conn_close(&conns[i]);
                continue;
            }
            if (!conns[i].authed)
                pfds[np++] = (struct pollfd){.fd = conns[i].fd, .events = POLLIN};
        }
        if (poll(pfds, (nfds_t)np, 100) <= 0)
            continue;
        /* Every connection waiting, not one a round: a flood must not starve the ranks. */
        for (int k = 0; k < ROOT_MAX_CONNS && (pfds[0].revents & POLLIN); k++) {
            int fd = accept4(args->listen_fd, NULL, NULL, SOCK_CLOEXEC);
            if (fd < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
                break;
            if (fd < 0 && (errno == EMFILE || errno == ENFILE)) {
                /* Out of descriptors: a stranger's makes room, the next round accepts. */
                int victim = root_victim(conns);
                if (victim >= 0)
                    conn_close(&conns[victim]);
            } else if (fd >= 0) {
                int slot = -1;
                for (int i = 0; i < ROOT_MAX_CONNS && slot < 0; i++)
                    if (conns[i].fd < 0)
                        slot = i;
                /* The table full of connections that have not said who they are (a flood):
                 * the one waiting longest gives way, so a rank is never turned away by them. */
                if (slot < 0 && (slot = root_victim(conns)) >= 0) {
                    if (evicted++ == 0)
                        ccl_warn("rendezvous: connection table full (%d): dropping the "
                                 "longest-silent connections to make room", ROOT_MAX_CONNS);
                    conn_close(&conns[slot]);
                }
                if (slot < 0) {
                    ccl_warn("rendezvous: too many connections, refusing one");
                    close(fd);
                } else {
                    conns[slot].fd = fd;
                    conns[slot].since = ccl_time_now();
                }
            }
        }
        for (int p = 1; p < np; p++) {
            root_conn_t *c = NULL;
            int rc;
            if (!(pfds[p].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            for (int i = 0; i < ROOT_MAX_CONNS; i++)
                if (conns[i].fd == pfds[p].fd)
                    c = &conns[i];
            if (c == NULL)
                continue;
            rc = root_read(c, args);
            if (rc < 0) {
                conn_close(c);
                continue;
            }
            if (rc == 0)
                continue;
            /* A complete hello with the right secret: check it fits the job. */
            if (nranks < 0) {
                if (c->hello.nranks <= 0 || c->hello.nranks > (1 << 24)) {
                    root_refuse(c, "invalid number of ranks");
                    conn_close(c);
                    continue;
                }
                nranks = c->hello.nranks;
                by_rank = calloc((size_t)nranks, sizeof(*by_rank));
                if (by_rank == NULL)
                    goto out;
            }
            char why[160] = "";
            if (c->hello.nranks != nranks)
                snprintf(why, sizeof(why), "rank %d says nranks=%d but the job has %d",
                         c->hello.rank, c->hello.nranks, nranks);
            else if (c->hello.rank < 0 || c->hello.rank >= nranks)
                snprintf(why, sizeof(why), "rank %d is out of range [0, %d)", c->hello.rank,
                         nranks);
            else if (by_rank[c->hello.rank] != NULL)
                snprintf(why, sizeof(why), "rank %d joined twice", c->hello.rank);
            if (why[0] != '\0') {
                ccl_warn("rendezvous: %s", why);
                root_refuse(c, why);
                conn_close(c);
                continue;
            }
            c->authed = 1;
            by_rank[c->hello.rank] = c;
            joined++;
        }
    }

    /* Everyone is here: answer each with the full table. */
    {
        uint64_t total = 0;
        uint32_t *lens = calloc((size_t)nranks, sizeof(uint32_t));
        uint8_t *blob;
        if (lens == NULL)
            goto out;
        for (int r = 0; r < nranks; r++) {
            lens[r] = by_rank[r]->hello.addr_len;
            total += lens[r];
        }
        blob = malloc(total);
        if (blob == NULL) {
            free(lens);
            goto out;
        }
        for (uint64_t r = 0, off = 0; r < (uint64_t)nranks; off += lens[r], r++)
            memcpy(blob + off, by_rank[r]->addr, lens[r]);
        reply_t rep = {.status = 0, .nranks = (uint32_t)nranks, .total = total};
        for (int r = 0; r < nranks; r++) {
            int fd = by_rank[r]->fd;
            if (write_all(fd, &rep, sizeof(rep)) != 0 ||
                write_all(fd, lens, (size_t)nranks * sizeof(uint32_t)) != 0 ||
                write_all(fd, blob, total) != 0)
                ccl_warn("rendezvous: could not answer rank %d", r);
        }
        free(lens);
        free(blob);
        ccl_debug("rendezvous: %d ranks joined", nranks);
    }

out:
    if (conns != NULL)
        for (int i = 0; i < ROOT_MAX_CONNS; i++)
            if (conns[i].fd >= 0)
                conn_close(&conns[i]);
    free(conns);
    free(pfds);
    free(by_rank);
    close(args->listen_fd);
    free(args);
    return NULL;
}

static int listen_on(ccl_sockaddr_t *ss, int lo_port)
{
    int fd = socket(ss->sa.sa_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    int one = 1;
    if (fd < 0)
        return -1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    int port = lo_port;
    for (;;) {
        ss_set_port(ss, port);
        if (bind(fd, (struct sockaddr *)ss, ss_len(ss)) == 0)
            break;
        if (port == 0 || errno != EADDRINUSE || ++port > 65535) {
            close(fd);
            return -1;
        }
    }
    if (listen(fd, 256) != 0) {
        close(fd);
        return -1;
    }
    socklen_t len = sizeof(*ss);
    getsockname(fd, (struct sockaddr *)ss, &len);
    return fd;
}

ccl_result_t ccl_bootstrap_root_start(const ccl_sockaddr_t *bind_addr,
                                      const uint8_t secret[CCL_SECRET_BYTES], double timeout_s,
                                      ccl_sockaddr_t *bound)
{
    root_args_t *args = calloc(1, sizeof(*args));
    ccl_sockaddr_t ss = *bind_addr;
    pthread_t th;
    pthread_attr_t attr;
    char buf[80];
    int port = ss.sa.sa_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                                        : ntohs(((struct sockaddr_in *)&ss)->sin_port);

    if (args == NULL)
        return ccl_set_error(NULL, CCL_ERR_NO_MEMORY, "no memory for the rendezvous");
    if (port == 0)
        port = ccl_config_get()->port_range_lo;
    args->listen_fd = listen_on(&ss, port);
    if (args->listen_fd < 0) {
        int e = errno;
        free(args);
        return ccl_set_error(NULL, CCL_ERR_BOOTSTRAP, "cannot listen on %s: %s",
                             addr_str(bind_addr, buf, sizeof(buf)), strerror(e));
    }
    memcpy(args->secret, secret, CCL_SECRET_BYTES);
    args->timeout_s = timeout_s;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&th, &attr, root_thread, args) != 0) {
        pthread_attr_destroy(&attr);
        close(args->listen_fd);
        free(args);
        return ccl_set_error(NULL, CCL_ERR_SYSTEM, "cannot start the rendezvous thread");
    }
    pthread_attr_destroy(&attr);
    *bound = ss;
    ccl_debug("rendezvous listening on %s", addr_str(&ss, buf, sizeof(buf)));
    return CCL_SUCCESS;
}

/* ---- rank side ---- */

static int read_all(int fd, void *buf, size_t len, double deadline)
{
    uint8_t *p = buf;
    while (len > 0) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        int ms = (int)((deadline - ccl_time_now()) * 1000);
        if (ms <= 0)
            return -2;
        if (poll(&pfd, 1, CCL_MIN(ms, 1000)) <= 0)
            continue;
        ssize_t n = recv(fd, p, len, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int connect_retry(const ccl_sockaddr_t *root, double deadline)
{
    while (ccl_time_now() < deadline) {
        int fd = socket(root->sa.sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        int one = 1;
        if (fd < 0)
            return -1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        if (connect(fd, (const struct sockaddr *)root, ss_len(root)) == 0)
            return fd;
        close(fd);
        /* The root may not be listening yet when all ranks start together. */
        usleep(20000);
    }
    return -1;
}

ccl_result_t ccl_bootstrap_exchange(const ccl_bootstrap_id_t *id, int rank, int nranks,
                                    const void *addr, size_t addr_len, double timeout_s,
                                    uint8_t **blob_p, size_t **lens_p, size_t **offs_p)
{
    double deadline = ccl_time_now() + timeout_s;
    char buf[80];
    hello_t hello = {0};
    reply_t rep;
    uint32_t *lens32 = NULL;
    uint8_t *blob = NULL;
    size_t *lens = NULL, *offs = NULL;
    ccl_result_t res = CCL_ERR_BOOTSTRAP;
    int fd, rc;

    fd = connect_retry(&id->root, deadline);
    if (fd < 0)
        return ccl_set_error(NULL, CCL_ERR_BOOTSTRAP,
                             "rank %d: cannot reach the rendezvous at %s within %.0f s", rank,
                             addr_str(&id->root, buf, sizeof(buf)), timeout_s);
    hello.magic = CCL_BOOTSTRAP_MAGIC;
    hello.version = CCL_BOOTSTRAP_VERSION;
    memcpy(hello.secret, id->secret, CCL_SECRET_BYTES);
    hello.rank = rank;
    hello.nranks = nranks;
    hello.addr_len = (uint32_t)addr_len;
    if (write_all(fd, &hello, sizeof(hello)) != 0 || write_all(fd, addr, addr_len) != 0) {
        ccl_set_error(NULL, res, "rank %d: lost the rendezvous connection", rank);
        goto out;
    }
    rc = read_all(fd, &rep, sizeof(rep), deadline);
    if (rc != 0) {
        ccl_set_error(NULL, rc == -2 ? CCL_ERR_TIMEOUT : res,
                      rc == -2 ? "rank %d: not every rank joined within CCLZ_TIMEOUT"
                               : "rank %d: the rendezvous closed the connection "
                                 "(wrong secret, or the root gave up)",
                      rank);
        res = rc == -2 ? CCL_ERR_TIMEOUT : res;
        goto out;
    }
    if (rep.status != 0) {
        char why[256] = "";
        size_t n = CCL_MIN((size_t)rep.total, sizeof(why) - 1);
        (void)read_all(fd, why, n, deadline);
        ccl_set_error(NULL, res, "rank %d: rendezvous refused: %s", rank, why);
        goto out;
    }
    if ((int)rep.nranks != nranks || rep.total > (uint64_t)nranks * HELLO_MAX_ADDR) {
        ccl_set_error(NULL, res, "rank %d: malformed rendezvous reply", rank);
        goto out;
    }
    lens32 = malloc((size_t)nranks * sizeof(uint32_t));
    lens = malloc((size_t)nranks * sizeof(size_t));
    offs = malloc((size_t)nranks * sizeof(size_t));
    blob = malloc(rep.total ? rep.total : 1);
    if (lens32 == NULL || lens == NULL || offs == NULL || blob == NULL) {
        res = ccl_set_error(NULL, CCL_ERR_NO_MEMORY, "no memory for the address table");
        goto out;
    }
    if (read_all(fd, lens32, (size_t)nranks * sizeof(uint32_t), deadline) != 0 ||
        read_all(fd, blob, rep.total, deadline) != 0) {
        ccl_set_error(NULL, res, "rank %d: rendezvous reply cut short", rank);
        goto out;
    }
    uint64_t sum = 0;
    for (int r = 0; r < nranks; r++) {
        offs[r] = (size_t)sum;
        lens[r] = lens32[r];
        sum += lens32[r];
    }
    if (sum != rep.total) {
        ccl_set_error(NULL, res, "rank %d: inconsistent rendezvous reply", rank);
        goto out;
    }
    *blob_p = blob;
    *lens_p = lens;
    *offs_p = offs;
    blob = NULL;
    lens = offs = NULL;
    res = CCL_SUCCESS;
out:
    close(fd);
    free(lens32);
    free(lens);
    free(offs);
    free(blob);
    return res;
}
