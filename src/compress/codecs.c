/* codecs.c: every codec, one file each beside this one (its wire id in codec.h). The order
 * is the order cclz_info lists them in. */
#include "compress/codec.h"

extern const ccl_codec_ops_t ccl_codec_cast, ccl_codec_int, ccl_codec_qsgd, ccl_codec_terngrad,
    ccl_codec_sign, ccl_codec_topk, ccl_codec_dgc, ccl_codec_randomk, ccl_codec_threshold;

const ccl_codec_ops_t *const ccl_codecs[] = {
    &ccl_codec_cast, &ccl_codec_int, &ccl_codec_qsgd, &ccl_codec_terngrad, &ccl_codec_sign,
    &ccl_codec_topk, &ccl_codec_dgc, &ccl_codec_randomk, &ccl_codec_threshold, NULL,
};
