/* bootstrap.h: TCP rendezvous at the root, guarded by the unique id's secret. */
#ifndef CCL_BOOTSTRAP_H
#define CCL_BOOTSTRAP_H

#include "base/base.h"

#include <netinet/in.h>
#include <sys/socket.h>

#define CCL_BOOTSTRAP_MAGIC   0x5a4c4343u /* "CCLZ" */
#define CCL_BOOTSTRAP_VERSION 1u
#define CCL_SECRET_BYTES      16

/* An IPv4 or IPv6 address, small enough for the unique id. */
typedef union {
    struct sockaddr     sa;
    struct sockaddr_in  in;
    struct sockaddr_in6 in6;
} ccl_sockaddr_t;

/* The layout inside ccl_unique_id_t. */
typedef struct {
    uint32_t magic;
    uint32_t version;
    ccl_sockaddr_t root;   /* where the root listens */
    uint8_t  secret[CCL_SECRET_BYTES];
} ccl_bootstrap_id_t;

/* Opens a listener on `bind_addr` (port 0: any, or from CCLZ_PORT_RANGE) and serves one
 * rendezvous from a detached thread. On success `bound` holds the address actually bound. */
ccl_result_t ccl_bootstrap_root_start(const ccl_sockaddr_t *bind_addr,
                                      const uint8_t secret[CCL_SECRET_BYTES], double timeout_s,
                                      ccl_sockaddr_t *bound);

/* Joins the rendezvous: sends this rank's transport address and receives everyone's.
 * On success *blob_p holds all addresses back to back, lens[r] and offs[r] locate rank r's;
 * the caller frees *blob_p, *lens_p and *offs_p. */
ccl_result_t ccl_bootstrap_exchange(const ccl_bootstrap_id_t *id, int rank, int nranks,
                                    const void *addr, size_t addr_len, double timeout_s,
                                    uint8_t **blob_p, size_t **lens_p, size_t **offs_p);

/* Resolves "host:port" (or "[v6]:port") into an address. */
ccl_result_t ccl_bootstrap_parse_hostport(const char *s, ccl_sockaddr_t *out);

/* Address of interface `ifname` ("" = first non-loopback interface that is up, else
 * loopback), port 0. */
ccl_result_t ccl_bootstrap_local_addr(const char *ifname, ccl_sockaddr_t *out);

#endif
