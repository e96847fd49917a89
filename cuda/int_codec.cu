/* int_codec.cu: the int codec's decode-and-accumulate kernel (int_codec.h). One thread per
 * element, grid-stride: the bucket's minimum and step from its 8-byte header, the code from
 * the packed stream, the value from the same function the CPU decoder calls. */
#include "int_codec.h"
#include "../src/compress/elem.h"

#include <cuda_runtime.h>

__global__ static void int_decode_kernel(const uint8_t *payload, unsigned bits, size_t bucket,
                                         float *out, size_t count, int accumulate)
{
    size_t nb = (count + bucket - 1) / bucket;
    const uint8_t *codes = payload + 8 * nb;
    uint64_t nbytes = ((uint64_t)count * bits + 7) / 8;
    size_t stride = (size_t)gridDim.x * blockDim.x;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < count; i += stride) {
        const uint8_t *h = payload + 8 * (i / bucket);
        float v = ccl_int_value(ccl_code_at(codes, nbytes, i, bits), ccl_le_f32(h), ccl_le_f32(h + 4));
        out[i] = accumulate ? CCL_FADD(out[i], v) : v;
    }
}

extern "C" int ccl_cuda_int_decode(const void *payload, unsigned bits, size_t bucket, float *out,
                                   size_t count, int accumulate, void *stream)
{
    if (count == 0)
        return 0;
    if (bits < 1 || bits > 8 || bucket == 0)
        return (int)cudaErrorInvalidValue;
    int threads = 256;
    size_t blocks = (count + threads - 1) / threads;
    if (blocks > 65535u * 4)
        blocks = 65535u * 4; /* the grid-stride loop covers the rest */
    int_decode_kernel<<<(unsigned)blocks, threads, 0, (cudaStream_t)stream>>>(
        (const uint8_t *)payload, bits, bucket, out, count, accumulate);
    return (int)cudaGetLastError();
}
