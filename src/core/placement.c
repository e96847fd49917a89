/* placement.c: this process's cores, NUMA node and nearby devices (placement.h), through
 * hwloc where configure found it, else the cores from the scheduler alone. */
#define _GNU_SOURCE
#ifdef HAVE_CONFIG_H
#include "config.h" /* CCLZ_HAVE_HWLOC */
#endif
#include "core/placement.h"
#include "base/base.h"

#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>


/* "0-3,8" from a CPU set (without hwloc). */
static void cpus_list(const cpu_set_t *set, char *out, size_t cap)
{
    size_t n = 0;
    out[0] = '\0';
    for (int c = 0; c < CPU_SETSIZE && n < cap; c++) {
        if (!CPU_ISSET(c, set))
            continue;
        int e = c;
        while (e + 1 < CPU_SETSIZE && CPU_ISSET(e + 1, set))
            e++;
        n += (size_t)snprintf(out + n, cap - n, e > c ? "%s%d-%d" : "%s%d", n ? "," : "", c, e);
        c = e;
    }
}

#ifdef CCLZ_HAVE_HWLOC
#include <hwloc.h>

static hwloc_topology_t topo;
static int topo_ok;
static pthread_once_t topo_once = PTHREAD_ONCE_INIT;

static void topo_load(void)
{
    if (hwloc_topology_init(&topo) != 0)
        return;
    hwloc_topology_set_io_types_filter(topo, HWLOC_TYPE_FILTER_KEEP_IMPORTANT);
    if (hwloc_topology_load(topo) != 0) {
        hwloc_topology_destroy(topo);
        return;
    }
    topo_ok = 1;
}

/* This process's cores (its binding, else every core it is allowed). */
static hwloc_bitmap_t own_cpus(void)
{
    hwloc_bitmap_t set = hwloc_bitmap_alloc();
    if (set != NULL && hwloc_get_cpubind(topo, set, HWLOC_CPUBIND_PROCESS) != 0)
        hwloc_bitmap_copy(set, hwloc_topology_get_allowed_cpuset(topo));
    return set;
}

/* Whether I/O object o hangs below a part of the machine that holds some of cpus. */
static int near(hwloc_obj_t o, hwloc_const_bitmap_t cpus)
{
    hwloc_obj_t up = hwloc_get_non_io_ancestor_obj(topo, o);
    return up != NULL && up->cpuset != NULL && hwloc_bitmap_intersects(up->cpuset, cpus);
}

static void append(char *out, size_t cap, const char *word)
{
    size_t n = strlen(out);
    snprintf(out + n, cap - n, "%s%s", n ? " " : "", word);
}

/* The one NUMA node holding cpus, or -1 (unknown, or several). */
static int numa_of(hwloc_const_bitmap_t cpus)
{
    hwloc_bitmap_t nodes = hwloc_bitmap_alloc();
    int numa = -1;
    if (nodes != NULL) {
        hwloc_cpuset_to_nodeset(topo, cpus, nodes);
        if (hwloc_bitmap_weight(nodes) == 1)
            numa = hwloc_bitmap_first(nodes);
    }
    hwloc_bitmap_free(nodes);
    return numa;
}

void ccl_place_probe(ccl_place_t *p)
{
    memset(p, 0, sizeof(*p));
    p->numa = -1;
    pthread_once(&topo_once, topo_load);
    if (!topo_ok) {
        cpu_set_t set;
        if (sched_getaffinity(0, sizeof(set), &set) == 0) {
            p->ncores = CPU_COUNT(&set);
            cpus_list(&set, p->cores, sizeof(p->cores));
        }
        return;
    }
    p->hwloc = 1;
    hwloc_bitmap_t cpus = own_cpus();
    if (cpus == NULL)
        return;
    p->ncores = hwloc_bitmap_weight(cpus);
    hwloc_bitmap_list_snprintf(p->cores, sizeof(p->cores), cpus);
    p->numa = numa_of(cpus);
    for (hwloc_obj_t o = NULL; (o = hwloc_get_next_osdev(topo, o)) != NULL;)
        if ((o->attr->osdev.type == HWLOC_OBJ_OSDEV_NETWORK ||
             o->attr->osdev.type == HWLOC_OBJ_OSDEV_OPENFABRICS) && near(o, cpus))
            append(p->nics, sizeof(p->nics), o->name);
    for (hwloc_obj_t o = NULL; (o = hwloc_get_next_pcidev(topo, o)) != NULL;) {
        char bus[32];
        if ((o->attr->pcidev.class_id >> 8) != 0x03 || !near(o, cpus))
            continue; /* display controllers: GPUs */
        snprintf(bus, sizeof(bus), "%04x:%02x:%02x.%x", o->attr->pcidev.domain,
                 o->attr->pcidev.bus, o->attr->pcidev.dev, o->attr->pcidev.func);
        append(p->gpus, sizeof(p->gpus), bus);
    }
    hwloc_bitmap_free(cpus);
}

/* The cores of this process's node that it may use, or NULL where the node is unknown
 * (no scan of the devices: this runs whenever a scratch buffer grows). */
static hwloc_bitmap_t node_cpus(hwloc_bitmap_t *nodes_p)
{
    pthread_once(&topo_once, topo_load);
    if (!topo_ok)
        return NULL;
    hwloc_bitmap_t mine = own_cpus();
    int numa = mine != NULL ? numa_of(mine) : -1;
    hwloc_obj_t node = numa >= 0 ? hwloc_get_numanode_obj_by_os_index(topo, (unsigned)numa)
                                 : NULL;
    if (node == NULL || node->cpuset == NULL) {
        hwloc_bitmap_free(mine);
        return NULL;
    }
    hwloc_bitmap_t set = hwloc_bitmap_dup(node->cpuset);
    if (set != NULL)
        hwloc_bitmap_and(set, set, mine);
    hwloc_bitmap_free(mine);
    if (nodes_p != NULL)
        *nodes_p = hwloc_bitmap_dup(node->nodeset);
    return set;
}

int ccl_place_bind_thread(void)
{
    hwloc_bitmap_t set = node_cpus(NULL);
    int rc = 0;
    if (set != NULL && !hwloc_bitmap_iszero(set))
        rc = hwloc_set_cpubind(topo, set, HWLOC_CPUBIND_THREAD);
    hwloc_bitmap_free(set);
    return rc;
}

void ccl_place_memory(void *buf, size_t bytes)
{
    hwloc_bitmap_t nodes = NULL, set = node_cpus(&nodes);
    if (set != NULL && nodes != NULL && bytes > 0)
        (void)hwloc_set_area_membind(topo, buf, bytes, nodes, HWLOC_MEMBIND_BIND,
                                     HWLOC_MEMBIND_BYNODESET);
    hwloc_bitmap_free(set);
    hwloc_bitmap_free(nodes);
}

#else /* no hwloc: the cores alone */

void ccl_place_probe(ccl_place_t *p)
{
    cpu_set_t set;
    memset(p, 0, sizeof(*p));
    p->numa = -1;
    if (sched_getaffinity(0, sizeof(set), &set) == 0) {
        p->ncores = CPU_COUNT(&set);
        cpus_list(&set, p->cores, sizeof(p->cores));
    }
}

int ccl_place_bind_thread(void) { return 0; }

void ccl_place_memory(void *buf, size_t bytes)
{
    (void)buf;
    (void)bytes;
}

#endif
