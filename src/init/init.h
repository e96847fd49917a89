/* init.h: making a communicator (init.c), for the launcher-driven init in env.c. */
#ifndef CCL_INIT_H
#define CCL_INIT_H

#include "core/bootstrap.h"

/* Creates a communicator through the rendezvous that id describes. */
struct ccl_comm;
ccl_result_t ccl_comm_init_with_id(struct ccl_comm **comm_p, int nranks,
                                   const ccl_bootstrap_id_t *id, int rank);

#endif
