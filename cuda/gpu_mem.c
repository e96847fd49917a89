/* gpu_mem.c: cclz's scratch pools (gpu_mem.h). */
#include "gpu_mem.h"

#include <cuda_runtime.h>
#include <pthread.h>
#include <stdint.h>

#define MAX_DEVICES 64

static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static cudaMemPool_t pools[MAX_DEVICES];
static int pool_failed[MAX_DEVICES];

/* The current device's pool, made on first use; NULL where pools are not supported. */
static cudaMemPool_t current_pool(void)
{
    int dev = -1;
    cudaMemPool_t pool = NULL;
    if (cudaGetDevice(&dev) != cudaSuccess || dev < 0 || dev >= MAX_DEVICES)
        return NULL;
    pthread_mutex_lock(&pool_lock);
    if (pools[dev] == NULL && !pool_failed[dev]) {
        struct cudaMemPoolProps props = {0};
        props.allocType = cudaMemAllocationTypePinned;
        props.location.type = cudaMemLocationTypeDevice;
        props.location.id = dev;
        uint64_t keep = CCL_GPU_POOL_KEEP;
        if (cudaMemPoolCreate(&pool, &props) == cudaSuccess &&
            cudaMemPoolSetAttribute(pool, cudaMemPoolAttrReleaseThreshold, &keep) == cudaSuccess) {
            pools[dev] = pool;
        } else {
            if (pool != NULL)
                cudaMemPoolDestroy(pool);
            cudaGetLastError(); /* not sticky: the default pool serves instead */
            pool_failed[dev] = 1;
        }
    }
    pool = pools[dev];
    pthread_mutex_unlock(&pool_lock);
    return pool;
}

int ccl_gpu_alloc_async(void **p, size_t bytes, void *stream)
{
    cudaMemPool_t pool = current_pool();
    if (pool == NULL)
        return (int)cudaMallocAsync(p, bytes, (cudaStream_t)stream);
    return (int)cudaMallocFromPoolAsync(p, bytes, pool, (cudaStream_t)stream);
}

int ccl_gpu_free_async(void *p, void *stream)
{
    return (int)cudaFreeAsync(p, (cudaStream_t)stream);
}
