/* fuzz_decode.c: libFuzzer target for every codec's decoder: arbitrary bytes must be refused
 * or decoded strictly inside the output buffer (run under AddressSanitizer by tests/fuzz.sh). */
#include "compress/codec.h"
#include "compress/wire.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* Decode with the count the header claims (bounded), so fuzzing reaches the payload
     * checks; the first byte's low bit picks accumulate or assign. */
    size_t count = 0;
    if (size >= CCL_WIRE_HDR_LEN)
        count = (size_t)(ccl_get_u32(data + 8) & 0xffff);
    float *out = malloc((count + 1) * sizeof(float));
    if (out == NULL)
        return 0;
    for (size_t i = 0; i < count; i++)
        out[i] = 1.0f;
    (void)ccl_codec_decode(data, size, out, count, size > 0 ? data[0] & 1 : 0);
    free(out);
    return 0;
}
