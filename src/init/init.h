/* init.h: making a communicator (init.c), for the launcher-driven init in env.c. */
#ifndef CCL_INIT_H
#define CCL_INIT_H

#include "core/bootstrap.h"

/* Creates a communicator through the rendezvous that id describes. */
struct ccl_comm;
ccl_result_t ccl_comm_init_with_id(struct ccl_comm **comm_p, int nranks,
                                   const ccl_bootstrap_id_t *id, int rank);

/* The hierarchy of a new communicator (hier.c): where CCLZ_HIER allows and more than one
 * host holds ranks and some host several, its sub-communicators (comm.h, ccl_hier_t), made
 * through ccl_comm_split, and its links measured into comm->tuning, the same on every rank.
 * Collective over comm; nothing is made elsewhere. */
ccl_result_t ccl_hier_create(struct ccl_comm *comm);

/* Destroys comm's sub-communicators (abort: without flushing), if it has any. */
void ccl_hier_destroy(struct ccl_comm *comm, int abort);

#endif
