/* elem.h: per-element arithmetic of the codecs, shared by the CPU codecs (this folder) and
 * the CUDA kernels (cuda/): the same functions run on both sides, so the CPU tests check the
 * code the GPU runs, and a GPU encoding decodes on the CPU bit for bit. Plain C99 that nvcc
 * also accepts: no library calls but what CUDA's device math provides (sqrt). */
#ifndef CCL_ELEM_H
#define CCL_ELEM_H

#include <float.h>
#include <math.h>
#include <stdint.h>

#include "base/half.h"

/* Counter-based random numbers (splitmix64 of seed + counter): the same (seed, counter)
 * always gives the same value, on any device, in any order. */
CCL_HD uint64_t ccl_rng64(uint64_t seed, uint64_t counter)
{
    uint64_t z = seed + 0x9e3779b97f4a7c15ULL * (counter + 1);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Uniform in [0, 1), 24 bits. */
CCL_HD float ccl_rng_unit(uint64_t seed, uint64_t counter)
{
    return (float)(ccl_rng64(seed, counter) >> 40) * (1.0f / 16777216.0f);
}

/* The inverse step the encoder used for a bucket whose step on the wire is `unit` (as
 * ccl_int_scale made it: 0, or a step whose inverse is finite). */
CCL_HD float ccl_int_inv(float unit)
{
    return unit > 0.0f ? CCL_FDIV(1.0f, unit) : 0.0f;
}

/* int codec, one bucket with minimum mn and maximum mx (finite, canonical zeros) quantized
 * to `levels` steps: the step `unit` the wire carries and its inverse. A constant bucket, or
 * one too narrow to resolve, gets unit = inv = 0 and is sent exactly as its minimum. */
CCL_HD void ccl_int_scale(float mn, float mx, unsigned levels, float *unit_p, float *inv_p)
{
    float unit = CCL_FDIV(CCL_FSUB(mx, mn), (float)levels);
    float inv = unit > 0.0f && unit <= FLT_MAX ? CCL_FDIV(1.0f, unit) : 0.0f;
    if (!(inv > 0.0f && inv <= FLT_MAX)) {
        unit = 0.0f;
        inv = 0.0f;
    }
    *unit_p = unit;
    *inv_p = inv;
}

/* A little-endian float32 at any alignment, loaded and stored. */
CCL_HD float ccl_get_f32(const uint8_t *p)
{
    union { uint32_t u; float f; } v;
    v.u = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    return v.f;
}

CCL_HD void ccl_put_f32(uint8_t *p, float f)
{
    union { uint32_t u; float f; } v;
    v.f = f;
    p[0] = (uint8_t)v.u;
    p[1] = (uint8_t)(v.u >> 8);
    p[2] = (uint8_t)(v.u >> 16);
    p[3] = (uint8_t)(v.u >> 24);
}

/* The code of x: (x - mn) / unit plus `offset` (0.5 rounds to nearest; a uniform in [0, 1)
 * rounds stochastically), truncated and clamped to [0, levels]. */
CCL_HD unsigned ccl_int_code(float x, float mn, float inv, float levels, float offset)
{
    float v = CCL_FADD(CCL_FMUL(CCL_FSUB(x, mn), inv), offset);
    v = v < 0.0f ? 0.0f : v;
    v = v > levels ? levels : v;
    return (unsigned)(int)v;
}

/* The value a code stands for. */
CCL_HD float ccl_int_value(unsigned q, float mn, float unit)
{
    return CCL_FADD(mn, CCL_FMUL(unit, (float)q));
}

/* Code i of a stream of `bits`-bit codes packed LSB first (compress/bitpack.h), `nbytes`
 * long; bits past the end read as zeros. Random access, for one thread per element. */
CCL_HD unsigned ccl_code_at(const uint8_t *codes, uint64_t nbytes, uint64_t i, unsigned bits)
{
    uint64_t bit = i * bits, byte = bit >> 3;
    unsigned lo = byte < nbytes ? codes[byte] : 0, hi = byte + 1 < nbytes ? codes[byte + 1] : 0;
    return ((lo | hi << 8) >> (bit & 7)) & ((1u << bits) - 1);
}

/* An int bucket's 8-byte header from its minimum and maximum (finite): zeros made
 * canonical (-0 and +0 compare equal, so which one a min() returns depends on its order),
 * then the minimum and the step. */
CCL_HD void ccl_int_header(float mn, float mx, unsigned levels, uint8_t *hdr)
{
    float unit, inv;
    mn = CCL_FADD(mn, 0.0f);
    mx = CCL_FADD(mx, 0.0f);
    ccl_int_scale(mn, mx, levels, &unit, &inv);
    ccl_put_f32(hdr, mn);
    ccl_put_f32(hdr + 4, unit);
}

/* The bits that element i's `bits`-bit code q puts into byte `byte` of a stream packed LSB
 * first (the elements touching the byte are byte*8/bits through (byte*8+7)/bits). */
CCL_HD unsigned ccl_code_in_byte(unsigned q, uint64_t i, unsigned bits, uint64_t byte)
{
    uint64_t at = i * bits;
    return at >= byte * 8 ? q << (unsigned)(at - byte * 8) : q >> (unsigned)(byte * 8 - at);
}

/* Byte `byte` of an int payload's packed code stream, once the bucket headers (hdrs: 8
 * bytes a bucket) are written: the codes of the elements that touch the byte (a code that
 * straddles two bytes is computed for both). For the elements whose code starts in the
 * byte, recon (if not NULL) receives the decoded value, or with fb_residual src minus it.
 * One GPU thread per byte runs this; the CPU tests run it over every byte. */
CCL_HD uint8_t ccl_int_code_byte(const float *src, uint64_t count, const uint8_t *hdrs,
                                 uint64_t bucket, unsigned bits, int stochastic, uint64_t seed,
                                 uint64_t byte, float *recon, int fb_residual)
{
    const float levels = (float)((1u << bits) - 1);
    uint64_t first = byte * 8 / bits, last = (byte * 8 + 7) / bits;
    unsigned acc = 0;
    for (uint64_t i = first; i <= last && i < count; i++) {
        const uint8_t *h = hdrs + 8 * (i / bucket);
        float mn = ccl_get_f32(h), unit = ccl_get_f32(h + 4), x = src[i];
        unsigned q = ccl_int_code(x, mn, ccl_int_inv(unit), levels,
                                  stochastic ? ccl_rng_unit(seed, i) : 0.5f);
        acc |= ccl_code_in_byte(q, i, bits, byte);
        if (recon != 0 && i * bits / 8 == byte) {
            float v = ccl_int_value(q, mn, unit);
            recon[i] = fb_residual ? CCL_FSUB(x, v) : v;
        }
    }
    return (uint8_t)acc;
}

/* ---- Sums in a fixed order, the same on the CPU and the GPU ----
 * A buffer's sum (of x, |x|, x^2 or (x - mean)^2, in double) is taken in blocks of
 * CCL_SUM_BLOCK elements. Within a block, lane j of CCL_SUM_LANES sums elements lo + j,
 * lo + j + 32, ... in turn; the lanes then combine by halving (lane j adds lane j ^ w for
 * w = 16, 8, 4, 2, 1), which a GPU warp does with shuffles. The block sums combine the same
 * way, as a vector of doubles. So the result does not depend on the device or thread count,
 * and a GPU-encoded magnitude is the CPU's to the bit. */
#define CCL_SUM_LANES 32
#define CCL_SUM_BLOCK 8192

enum { CCL_SUM_X = 0, CCL_SUM_ABS = 1, CCL_SUM_SQ = 2, CCL_SUM_SQDEV = 3 };

CCL_HD double ccl_sum_term(float x, int kind, double mean)
{
    double d = (double)x;
    switch (kind) {
    case CCL_SUM_ABS: return d < 0 ? -d : d;
    case CCL_SUM_SQ:  return CCL_DMUL(d, d);
    case CCL_SUM_SQDEV: d = CCL_DADD(d, -mean); return CCL_DMUL(d, d);
    default:          return d;
    }
}

/* Lane `lane`'s share of x[lo, hi). */
CCL_HD double ccl_sum_lane_f32(const float *x, uint64_t lo, uint64_t hi, unsigned lane, int kind,
                               double mean)
{
    double acc = 0;
    for (uint64_t i = lo + lane; i < hi; i += CCL_SUM_LANES)
        acc = CCL_DADD(acc, ccl_sum_term(x[i], kind, mean));
    return acc;
}

CCL_HD double ccl_sum_lane_f64(const double *v, uint64_t n, unsigned lane)
{
    double acc = 0;
    for (uint64_t i = lane; i < n; i += CCL_SUM_LANES)
        acc = CCL_DADD(acc, v[i]);
    return acc;
}

/* The lanes' combination (what the GPU's shuffles compute), in place; the sum is acc[0]. */
CCL_HD double ccl_sum_combine(double acc[CCL_SUM_LANES])
{
    for (unsigned w = CCL_SUM_LANES / 2; w > 0; w /= 2) {
        double t[CCL_SUM_LANES];
        for (unsigned j = 0; j < CCL_SUM_LANES; j++)
            t[j] = CCL_DADD(acc[j], acc[j ^ w]);
        for (unsigned j = 0; j < CCL_SUM_LANES; j++)
            acc[j] = t[j];
    }
    return acc[0];
}

/* ---- error feedback (compress/ef.c, cuda/ef_kernels.cu): the vector p compressed this step,
 * from the gradient g and the state e (ef.h gives the rules) ---- */

CCL_HD float ccl_ef21w_p(float g, float e, float inv_n, float w)
{
    return CCL_FSUB(CCL_FMUL(g, inv_n), CCL_FMUL(w, e));
}

/* DGC: momentum correction of g (clipped by clip_scale) with velocity vel; the new velocity
 * into *u, the accumulated p returned. */
CCL_HD float ccl_dgc_p(float g, float e, float vel, float clip_scale, float mo, int nesterov,
                       float *u)
{
    float gi = CCL_FMUL(g, clip_scale);
    if (nesterov) {
        *u = CCL_FMUL(mo, CCL_FADD(vel, gi));
        return CCL_FADD(CCL_FADD(e, *u), gi);
    }
    *u = CCL_FADD(CCL_FMUL(mo, vel), gi);
    return CCL_FADD(e, *u);
}

/* DGC's clipping factor: each rank's gradient to norm clip/sqrt(P), from the fixed-order sum
 * of its squares; 1 when within. */
CCL_HD float ccl_dgc_clip_scale(double sumsq, float clip, int nranks)
{
    double thr = (double)clip / sqrt((double)nranks), norm = sqrt(sumsq);
    return norm > thr ? (float)(thr / norm) : 1.0f;
}

/* ---- sparse codecs (topk, dgc, threshold) ---- */

/* |x|'s bits: for finite x their order is the order of |x|. */
CCL_HD uint32_t ccl_mag_bits(float x)
{
    return ccl_f32_bits(x) & 0x7fffffffu;
}

/* Sort key for selection by magnitude: |x| first, then the lower index. Distinct for
 * distinct indices. */
CCL_HD uint64_t ccl_mag_key(float x, uint64_t i)
{
    return (uint64_t)ccl_mag_bits(x) << 32 | (uint32_t)(0xffffffffu - (uint32_t)i);
}

/* ---- qsgd (codec 6) ---- */

/* A bucket's L2 norm from the fixed-order sum of its squares; beyond float's range it is
 * stored as FLT_MAX (levels clamp to s). The max norm is the largest |x|, exact in any order. */
CCL_HD float ccl_qsgd_l2(double sumsq)
{
    double r = sqrt(sumsq);
    return r > FLT_MAX ? FLT_MAX : (float)r;
}

/* The level step of a bucket with norm `norm` and s levels, and its inverse (0 for a zero
 * norm). */
CCL_HD float ccl_qsgd_unit(float norm, unsigned s)
{
    return CCL_FDIV(norm, (float)s);
}

CCL_HD float ccl_qsgd_inv(float norm, unsigned s)
{
    return norm > 0.0f ? CCL_FDIV((float)s, norm) : 0.0f;
}

/* Element i's code: a level l in 0..s (s = 2^(bits-1) - 1) for |x| * inv, rounded
 * stochastically from the generator at (seed, i) or to nearest, and the sign bit s + 1 on
 * nonzero levels of negative x, so that zero has one encoding. |x| * inv is NaN only for
 * x = 0 in a bucket whose inverse overflowed (a subnormal norm): level 0. */
CCL_HD unsigned ccl_qsgd_code(float x, float inv, unsigned s, int stochastic, uint64_t seed,
                              uint64_t i)
{
    float a = CCL_FMUL(x < 0.0f ? -x : x, inv);
    unsigned l = a >= (float)s ? s : a > 0.0f ? (unsigned)a : 0u;
    float frac = CCL_FSUB(a, (float)l);
    if (l < s && (stochastic ? ccl_rng_unit(seed, i) < frac : frac >= 0.5f))
        l++;
    return l | (l > 0 && x < 0.0f ? s + 1 : 0u);
}

CCL_HD float ccl_qsgd_value(unsigned c, float unit, unsigned s)
{
    unsigned l = c & s;
    return CCL_FMUL((c & (s + 1)) && l > 0 ? -unit : unit, (float)l);
}

/* Byte `byte` of a qsgd payload's code stream once the bucket norms (4 bytes a bucket) are
 * written; recon as in ccl_int_code_byte. */
CCL_HD uint8_t ccl_qsgd_code_byte(const float *src, uint64_t count, const uint8_t *norms,
                                  uint64_t bucket, unsigned bits, int stochastic, uint64_t seed,
                                  uint64_t byte, float *recon, int fb_residual)
{
    const unsigned s = (1u << (bits - 1)) - 1;
    uint64_t first = byte * 8 / bits, last = (byte * 8 + 7) / bits;
    unsigned acc = 0;
    for (uint64_t i = first; i <= last && i < count; i++) {
        float norm = ccl_get_f32(norms + 4 * (i / bucket)), x = src[i];
        unsigned c = ccl_qsgd_code(x, ccl_qsgd_inv(norm, s), s, stochastic, seed, i);
        acc |= ccl_code_in_byte(c, i, bits, byte);
        if (recon != 0 && i * bits / 8 == byte) {
            float v = ccl_qsgd_value(c, ccl_qsgd_unit(norm, s), s);
            recon[i] = fb_residual ? CCL_FSUB(x, v) : v;
        }
    }
    return (uint8_t)acc;
}

/* ---- cast (codec 1) ---- */

/* The largest finite bf16, 0x7f7f: floats above it round to an infinity in ccl_f2bf. */
#define CCL_BF16_MAX 3.38953138925153547590470800371487866880e38f

/* The 16-bit code of x: bf16 or fp16, saturated at the format's largest finite value (an
 * infinity would be refused by the decoder). */
CCL_HD uint16_t ccl_cast_code(float x, int bf16)
{
    if (bf16)
        return ccl_f2bf(x > CCL_BF16_MAX ? CCL_BF16_MAX : x < -CCL_BF16_MAX ? -CCL_BF16_MAX : x);
    return ccl_f2h(x > 65504.0f ? 65504.0f : x < -65504.0f ? -65504.0f : x);
}

CCL_HD float ccl_cast_value(uint16_t h, int bf16)
{
    return bf16 ? ccl_bf2f(h) : ccl_h2f(h);
}

/* ---- sign (codec 8) ---- */

/* The magnitude sent with the signs, from the fixed-order sum of |x| (mode 0) or x^2
 * (mode 1) over n elements; mode 2 sends 1. */
CCL_HD float ccl_sign_magnitude(double total, uint64_t n, int mode)
{
    double m;
    if (mode == 2)
        return 1.0f;
    if (n == 0)
        return 0.0f;
    m = total / (double)n;
    if (mode == 1)
        m = sqrt(m);
    return m > FLT_MAX ? FLT_MAX : (float)m;
}

/* Byte b of the sign bits (bit i of byte i/8 set for x >= 0, -0 included), and for its
 * elements what error feedback needs (recon may be NULL). */
CCL_HD uint8_t ccl_sign_byte(const float *src, uint64_t count, uint64_t b, float s, float *recon,
                             int fb_residual)
{
    unsigned byte = 0;
    for (uint64_t i = 8 * b; i < 8 * b + 8 && i < count; i++) {
        int pos = src[i] >= 0.0f;
        byte |= (unsigned)pos << (i & 7);
        if (recon != 0)
            recon[i] = fb_residual ? CCL_FSUB(src[i], pos ? s : -s) : (pos ? s : -s);
    }
    return (uint8_t)byte;
}

/* ---- terngrad (codec 7) ---- */

/* The scaler clip * std from the fixed-order sum of (x - mean)^2 over n elements; max |x|
 * (mx) where that is 0. */
CCL_HD float ccl_tern_scale(double sqdev, uint64_t n, float clip, float mx)
{
    double s = (double)clip * sqrt(sqdev / (double)n);
    return s > 0 ? (s > FLT_MAX ? FLT_MAX : (float)s) : mx;
}

/* Element i's 2-bit code under scaler s: kept (1 for +s, 2 for -s) with probability
 * min(|x|/s, 1), drawn from the counter-based generator at (seed, i). */
CCL_HD unsigned ccl_tern_code(float x, float s, uint64_t seed, uint64_t i)
{
    float ax = x < 0.0f ? -x : x;
    if (s > 0.0f && CCL_FMUL(ccl_rng_unit(seed, i), s) < ax)
        return x < 0.0f ? 2u : 1u;
    return 0u;
}

CCL_HD float ccl_tern_value(unsigned c, float s)
{
    return c == 0 ? 0.0f : c == 1 ? s : -s;
}

/* Byte b of the code stream (element i in bits 2(i mod 4) of byte i/4), and what error
 * feedback needs for its elements. */
CCL_HD uint8_t ccl_tern_byte(const float *src, uint64_t count, uint64_t b, float s, uint64_t seed,
                             float *recon, int fb_residual)
{
    unsigned byte = 0;
    for (uint64_t i = 4 * b; i < 4 * b + 4 && i < count; i++) {
        unsigned c = ccl_tern_code(src[i], s, seed, i);
        byte |= c << (2 * (i & 3));
        if (recon != 0) {
            float v = ccl_tern_value(c, s);
            recon[i] = fb_residual ? CCL_FSUB(src[i], v) : v;
        }
    }
    return (uint8_t)byte;
}

#endif
