/* sparse_codec.cu: selection, values and scatter of the sparse codecs on the GPU
 * (sparse_codec.h).
 *
 * Selection is a radix select on elem.h's magnitude key (|x|'s 31 bits, then the inverted
 * index, so that ties go to the lower index): each pass histograms one digit of the keys
 * that share the digits found so far, and one block walks the histogram from the top to the
 * digit holding the wanted rank. The state (digits found, rank still wanted) stays in device
 * memory, so no pass waits for the host. The kept indices then come out in ascending order
 * from one stable selection pass (cub::DeviceSelect::If). */
#include "sparse_codec.h"
#include "kernel_util.cuh"
#include "gpu_mem.h"
#include "compress/elem.h"

#include <cub/block/block_scan.cuh>
#include <cub/device/device_select.cuh>
#include <thrust/iterator/counting_iterator.h>

#define SEL_BINS 2048    /* 2^11: the widest digit */
#define SEL_PICK_THREADS 1024

typedef struct {
    uint64_t prefix; /* the key's digits found so far, in place */
    uint32_t want;   /* the rank sought among the keys that share them (1 = largest) */
    uint32_t active; /* 0: finished; later passes do nothing */
    uint32_t hist[SEL_BINS];
} sel_state_t;

typedef struct {
    unsigned shift, width;
} sel_digit_t;

/* |x| (bits 62..32 of the key) in three digits, then the index part in three. */
static const sel_digit_t sel_digits[6] = {{52, 11}, {41, 11}, {32, 9}, {21, 11}, {10, 11}, {0, 10}};

/* The key of sample j: element off + j * stride, with or without its index. */
__device__ static inline uint64_t sel_key(const float *x, size_t j, size_t stride, size_t off,
                                          int with_index)
{
    size_t at = off + j * stride;
    return with_index ? ccl_mag_key(x[at], at) : (uint64_t)ccl_mag_bits(x[at]) << 32;
}

__global__ static void sel_hist_kernel(const float *x, size_t ns, size_t stride, size_t off,
                                       int with_index, sel_digit_t d, sel_state_t *st)
{
    __shared__ uint32_t h[SEL_BINS];
    if (!st->active)
        return;
    for (unsigned t = threadIdx.x; t < SEL_BINS; t += blockDim.x)
        h[t] = 0;
    __syncthreads();
    const unsigned above = d.shift + d.width; /* at most 63 */
    const uint64_t want_hi = st->prefix >> above;
    const unsigned mask = (1u << d.width) - 1;
    CCL_GRID_LOOP(j, ns) {
        uint64_t key = sel_key(x, j, stride, off, with_index);
        if ((key >> above) == want_hi)
            atomicAdd(&h[(unsigned)(key >> d.shift) & mask], 1u);
    }
    __syncthreads();
    for (unsigned t = threadIdx.x; t < SEL_BINS; t += blockDim.x)
        if (h[t] != 0)
            atomicAdd(&st->hist[t], h[t]);
}

/* One block: the digit whose bin holds the wanted rank, counting from the largest; then the
 * histogram is cleared for the next pass. `ties_end`: after |x|'s last digit of a keyed
 * select, if every key equal to the k-th is wanted, the index digits are not needed. */
__global__ static void sel_pick_kernel(sel_state_t *st, sel_digit_t d, int ties_end)
{
    typedef cub::BlockScan<uint32_t, SEL_PICK_THREADS> scan_t;
    __shared__ typename scan_t::TempStorage tmp;
    if (!st->active)
        return;
    const unsigned nbins = 1u << d.width, r0 = 2 * threadIdx.x;
    const uint32_t want = st->want;
    const uint64_t prefix = st->prefix;
    uint32_t c[2], before;
    for (unsigned q = 0; q < 2; q++)
        c[q] = r0 + q < nbins ? st->hist[nbins - 1 - (r0 + q)] : 0;
    scan_t(tmp).ExclusiveSum(c[0] + c[1], before);
    for (unsigned q = 0; q < 2; q++) {
        if (r0 + q < nbins && before < want && want <= before + c[q]) {
            st->prefix = prefix | (uint64_t)(nbins - 1 - (r0 + q)) << d.shift;
            st->want = want - before;
            if (ties_end && c[q] == want - before)
                st->active = 0; /* all keys of this magnitude are kept: index part 0 */
        }
        before += c[q];
    }
    __syncthreads();
    for (unsigned t = threadIdx.x; t < SEL_BINS; t += blockDim.x)
        st->hist[t] = 0;
}

static unsigned sel_grid(size_t n)
{
    size_t g = (n + CCL_THREADS * 16 - 1) / (CCL_THREADS * 16);
    return (unsigned)(g == 0 ? 1 : g > 1024 ? 1024 : g);
}

/* The passes of a select over samples off + j * stride (j < ns) of x, on a state already
 * holding want and active: the magnitude's digits, and with_index the index's too. */
static void sel_passes(const float *x, size_t ns, size_t stride, size_t off, int with_index,
                       sel_state_t *st, cudaStream_t s)
{
    for (int p = 0; p < (with_index ? 6 : 3); p++) {
        sel_hist_kernel<<<sel_grid(ns), CCL_THREADS, 0, s>>>(x, ns, stride, off, with_index,
                                                             sel_digits[p], st);
        sel_pick_kernel<<<1, SEL_PICK_THREADS, 0, s>>>(st, sel_digits[p], with_index && p == 2);
    }
}

__global__ static void sel_init_kernel(sel_state_t *st, uint32_t want)
{
    st->prefix = 0;
    st->want = want;
    st->active = 1;
}

/* Kept-element predicates for the selection pass. */
struct keep_key_at_least { /* ccl_mag_key >= the select's result */
    const float *x;
    const sel_state_t *st;
    __device__ bool operator()(uint32_t i) const { return ccl_mag_key(x[i], i) >= st->prefix; }
};

struct keep_mag_at_least { /* |x| >= t, as bits, t from device memory */
    const float *x;
    const uint32_t *t;
    __device__ bool operator()(uint32_t i) const { return ccl_mag_bits(x[i]) >= *t; }
};

struct keep_abs_at_least { /* fabsf(x) >= t, the threshold codec's test */
    const float *x;
    float t;
    __device__ bool operator()(uint32_t i) const { return fabsf(x[i]) >= t; }
};

/* The indices i < count for which keep(i), ascending, into idx; their number into *nsel. */
template <typename Pred>
static cudaError_t select_indices(size_t count, Pred keep, uint32_t *idx, int64_t *nsel,
                                  cudaStream_t s)
{
    thrust::counting_iterator<uint32_t> first(0);
    size_t bytes = 0;
    void *tmp = NULL;
    cudaError_t e = cub::DeviceSelect::If(tmp, bytes, first, idx, nsel, (int64_t)count, keep, s);
    if (e == cudaSuccess && (e = (cudaError_t)ccl_gpu_alloc_async((void **)&tmp, bytes ? bytes : 1, s)) == cudaSuccess) {
        e = cub::DeviceSelect::If(tmp, bytes, first, idx, nsel, (int64_t)count, keep, s);
        ccl_gpu_free_async(tmp, s);
    }
    return e;
}

__global__ static void store_count_kernel(const int64_t *nsel, size_t cap, uint32_t *n)
{
    *n = (uint32_t)(*nsel < (int64_t)cap ? *nsel : (int64_t)cap);
}

extern "C" int ccl_cuda_topk_select(const float *src, size_t count, size_t k, uint32_t *idx,
                                    void *stream)
{
    cudaStream_t s = (cudaStream_t)stream;
    sel_state_t *st = NULL;
    int64_t *nsel;
    cudaError_t e;
    if (k == 0 || k > count || count > UINT32_MAX)
        return (int)cudaErrorInvalidValue;
    if ((e = (cudaError_t)ccl_gpu_alloc_async((void **)&st, sizeof(*st) + sizeof(int64_t), s)) != cudaSuccess)
        return (int)e;
    nsel = (int64_t *)(st + 1);
    cudaMemsetAsync(st, 0, sizeof(*st), s);
    sel_init_kernel<<<1, 1, 0, s>>>(st, (uint32_t)k);
    sel_passes(src, count, 1, 0, 1, st, s);
    e = select_indices(count, keep_key_at_least{src, st}, idx, nsel, s);
    ccl_gpu_free_async(st, s);
    return e != cudaSuccess ? (int)e : (int)cudaGetLastError();
}

/* DGC: the thresholds thr * 0.8^j (j <= 10, each product rounded to float as dgc.c does),
 * how many elements reach each, and what the CPU's loop then does. */
#define DGC_STEPS 11
typedef struct {
    unsigned long long reach[DGC_STEPS]; /* elements whose first threshold reached is j */
    uint32_t thr;                        /* the threshold finally used, as bits */
    int      exact;                      /* refine to the exact top k */
} dgc_state_t;

__device__ static inline void dgc_thresholds(uint32_t thr0, uint32_t t[DGC_STEPS])
{
    t[0] = thr0;
    for (int j = 1; j < DGC_STEPS; j++)
        t[j] = ccl_f32_bits(__fmul_rn(ccl_bits_f32(t[j - 1]), 0.8f));
}

/* Each element lands in the bin of the largest threshold it reaches (the thresholds fall),
 * so reach(j) = the sum of bins 0..j. */
__global__ static void dgc_count_kernel(const float *x, size_t count, const sel_state_t *sample,
                                        dgc_state_t *ds)
{
    __shared__ unsigned long long bins[DGC_STEPS];
    uint32_t t[DGC_STEPS];
    unsigned long long mine[DGC_STEPS] = {0};
    dgc_thresholds((uint32_t)(sample->prefix >> 32), t);
    if (threadIdx.x < DGC_STEPS)
        bins[threadIdx.x] = 0;
    __syncthreads();
    CCL_GRID_LOOP(i, count) {
        uint32_t m = ccl_mag_bits(x[i]);
        for (int j = 0; j < DGC_STEPS; j++)
            if (m >= t[j]) {
                mine[j]++;
                break;
            }
    }
    for (int j = 0; j < DGC_STEPS; j++)
        if (mine[j] != 0)
            atomicAdd(&bins[j], mine[j]);
    __syncthreads();
    if (threadIdx.x < DGC_STEPS && bins[threadIdx.x] != 0)
        atomicAdd(&ds->reach[threadIdx.x], bins[threadIdx.x]);
}

/* One thread: dgc.c's loop (lower the threshold while fewer than 0.8k pass, at most 10
 * times, only when sampling), then exact refinement or the first k. Starts the exact select
 * on `full` where refinement is needed. */
__global__ static void dgc_decide_kernel(const sel_state_t *sample, dgc_state_t *ds, size_t k,
                                         size_t stride, sel_state_t *full)
{
    uint32_t t[DGC_STEPS];
    unsigned long long n = ds->reach[0];
    int j = 0;
    dgc_thresholds((uint32_t)(sample->prefix >> 32), t);
    for (; stride > 1 && j < 10 && n < k * 4 / 5 && t[j] > 0; j++)
        n += ds->reach[j + 1];
    ds->thr = t[j];
    ds->exact = n > k && (stride == 1 || n * 10 > k * 13);
    full->prefix = 0;
    full->want = (uint32_t)k;
    full->active = (uint32_t)ds->exact;
}

struct keep_dgc { /* the exact top k, or |x| >= the final threshold */
    const float *x;
    const dgc_state_t *ds;
    const sel_state_t *full;
    __device__ bool operator()(uint32_t i) const
    {
        return ds->exact ? ccl_mag_key(x[i], i) >= full->prefix : ccl_mag_bits(x[i]) >= ds->thr;
    }
};

extern "C" int ccl_cuda_dgc_select(const float *src, size_t count, size_t k, size_t stride,
                                   size_t ks, size_t off, uint32_t *idx, uint32_t *n, void *stream)
{
    cudaStream_t s = (cudaStream_t)stream;
    char *mem = NULL;
    cudaError_t e;
    size_t ns = stride > 0 ? count / stride : 0;
    if (k == 0 || k > count || count > UINT32_MAX || stride == 0 || ns == 0 || ks == 0 ||
        ks > ns || off >= stride)
        return (int)cudaErrorInvalidValue;
    const size_t bytes = 2 * sizeof(sel_state_t) + sizeof(dgc_state_t) + sizeof(int64_t);
    if ((e = (cudaError_t)ccl_gpu_alloc_async((void **)&mem, bytes, s)) != cudaSuccess)
        return (int)e;
    sel_state_t *sample = (sel_state_t *)mem, *full = sample + 1;
    dgc_state_t *ds = (dgc_state_t *)(full + 1);
    int64_t *nsel = (int64_t *)(ds + 1);
    cudaMemsetAsync(mem, 0, bytes, s);
    sel_init_kernel<<<1, 1, 0, s>>>(sample, (uint32_t)ks);
    sel_passes(src, ns, stride, off, 0, sample, s);
    dgc_count_kernel<<<sel_grid(count), CCL_THREADS, 0, s>>>(src, count, sample, ds);
    dgc_decide_kernel<<<1, 1, 0, s>>>(sample, ds, k, stride, full);
    sel_passes(src, count, 1, 0, 1, full, s); /* nothing to do unless refining */
    e = select_indices(count, keep_dgc{src, ds, full}, idx, nsel, s);
    if (e == cudaSuccess)
        store_count_kernel<<<1, 1, 0, s>>>(nsel, k, n);
    ccl_gpu_free_async(mem, s);
    return e != cudaSuccess ? (int)e : (int)cudaGetLastError();
}

extern "C" int ccl_cuda_threshold_select(const float *src, size_t count, float t, uint32_t *idx,
                                         uint32_t *n, void *stream)
{
    cudaStream_t s = (cudaStream_t)stream;
    int64_t *nsel = NULL;
    cudaError_t e;
    if (count > UINT32_MAX || !(t >= 0.0f))
        return (int)cudaErrorInvalidValue;
    if ((e = (cudaError_t)ccl_gpu_alloc_async((void **)&nsel, sizeof(int64_t), s)) != cudaSuccess)
        return (int)e;
    e = select_indices(count, keep_abs_at_least{src, t}, idx, nsel, s);
    if (e == cudaSuccess)
        store_count_kernel<<<1, 1, 0, s>>>(nsel, count, n);
    ccl_gpu_free_async(nsel, s);
    return e != cudaSuccess ? (int)e : (int)cudaGetLastError();
}

__global__ static void recon_fill_kernel(const float *src, size_t count, float *recon,
                                         int fb_residual)
{
    CCL_GRID_LOOP(i, count)
        recon[i] = fb_residual ? src[i] : 0.0f;
}

__global__ static void values_kernel(const float *src, const uint32_t *idx, const uint32_t *n,
                                     size_t kmax, int fp16, uint8_t *vals, float *recon,
                                     int fb_residual)
{
    const size_t k = n != NULL && *n < kmax ? *n : kmax;
    CCL_GRID_LOOP(j, k) {
        float x = src[idx[j]], v = x;
        if (fp16) {
            uint16_t h = ccl_cast_code(x, 0);
            vals[2 * j] = (uint8_t)h;
            vals[2 * j + 1] = (uint8_t)(h >> 8);
            v = ccl_cast_value(h, 0);
        } else {
            ccl_put_f32(vals + 4 * j, x);
        }
        if (recon != NULL)
            recon[idx[j]] = fb_residual ? CCL_FSUB(x, v) : v;
    }
}

extern "C" int ccl_cuda_sparse_values(const float *src, size_t count, const uint32_t *idx,
                                      const uint32_t *n, size_t kmax, int fp16, void *vals,
                                      float *recon, int fb_residual, void *stream)
{
    cudaStream_t s = (cudaStream_t)stream;
    if (recon != NULL && count > 0)
        recon_fill_kernel<<<ccl_blocks_for(count), CCL_THREADS, 0, s>>>(src, count, recon, fb_residual);
    if (kmax > 0)
        values_kernel<<<ccl_blocks_for(kmax), CCL_THREADS, 0, s>>>(src, idx, n, kmax, fp16,
                                                                    (uint8_t *)vals, recon, fb_residual);
    return (int)cudaGetLastError();
}

__global__ static void scatter_kernel(const uint32_t *idx, const float *val, size_t k, float *out)
{
    CCL_GRID_LOOP(j, k)
        out[idx[j]] = CCL_FADD(out[idx[j]], val[j]); /* distinct indices: no races */
}

extern "C" int ccl_cuda_sparse_scatter(const uint32_t *idx, const float *val, size_t k,
                                       float *out, size_t count, int accumulate, void *stream)
{
    cudaStream_t s = (cudaStream_t)stream;
    cudaError_t e;
    if (!accumulate && count > 0 && (e = cudaMemsetAsync(out, 0, count * sizeof(float), s)) != cudaSuccess)
        return (int)e;
    if (k > 0)
        scatter_kernel<<<ccl_blocks_for(k), CCL_THREADS, 0, s>>>(idx, val, k, out);
    return (int)cudaGetLastError();
}

__global__ static void nonfinite_kernel(const float *src, size_t count, int *bad)
{
    int found = 0;
    CCL_GRID_LOOP(i, count)
        found |= !isfinite(src[i]);
    if (found)
        *bad = 1;
}

extern "C" int ccl_cuda_flag_nonfinite(const float *src, size_t count, int *bad, void *stream)
{
    if (count > 0)
        nonfinite_kernel<<<ccl_blocks_for(count), CCL_THREADS, 0, (cudaStream_t)stream>>>(src, count, bad);
    return (int)cudaGetLastError();
}
