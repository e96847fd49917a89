/* placement.h: where this process runs inside its host (hwloc where configure found it): its
 * cores, their NUMA node, the network devices and GPUs attached near them; and the binding
 * of a communicator's progress thread and scratch memory to that node. */
#ifndef CCL_PLACEMENT_H
#define CCL_PLACEMENT_H

#include <stddef.h>

typedef struct {
    int  hwloc;        /* 1: found through hwloc; 0: the cores alone (no hwloc) */
    int  numa;         /* the NUMA node holding this process's cores; -1: unknown or several */
    int  ncores;       /* cores (processing units) this process may run on */
    char cores[96];    /* those, as a list: "0-3,8" */
    char nics[160];    /* network devices whose PCI bridge sits on that node: "eth0 mlx5_0" */
    char gpus[160];    /* GPUs (PCI display controllers) on that node, by PCI address */
} ccl_place_t;

/* What this process finds (hwloc's topology is loaded once per process). */
void ccl_place_probe(ccl_place_t *p);

/* Binds the calling thread to this process's NUMA node's cores that the process may use
 * (nothing without hwloc or where the node is unknown). 0 on success or nothing to do. */
int ccl_place_bind_thread(void);

/* Asks that buf's pages live on this process's NUMA node (nothing without hwloc). */
void ccl_place_memory(void *buf, size_t bytes);

#endif
