/* test_hier.c: the hierarchical allreduce on emulated hosts (CCLZ_HOST_ID per rank, from a
 * layout string: "aabb" puts ranks 0, 1 on host a and 2, 3 on host b): the topology each rank
 * sees; exact results (sizes, types, ops, in place, nonblocking) identical on every rank and
 * equal to the sums; compressed calls equal, step for step, to their definition built by hand
 * from ccl_comm_split (host sums, each shard compressed across hosts with its own compressor,
 * so error feedback is per shard), through a skipped NaN step and a checkpoint restored into
 * a new compressor; int8 within its bound; sparse_hier equal to sparse_allgather bit for bit;
 * a killed rank inside a host or across hosts (a relay of sparse_hier's too) failing every
 * other rank. */
#include "harness.h"

#include <math.h>
#include <pthread.h>

static const char *layout;
static int S_of_layout, nranks_all;

/* Host letter of rank r, and the rank's host index and local rank, from the layout. */
static int host_of(int r) { return layout[r] - 'a'; }

static int local_rank_of(int r)
{
    int k = 0;
    for (int q = 0; q < r; q++)
        k += host_of(q) == host_of(r);
    return k;
}

static int local_size_of(int h)
{
    int k = 0;
    for (int q = 0; q < nranks_all; q++)
        k += host_of(q) == h;
    return k;
}

static void set_env(int rank)
{
    char name[16];
    snprintf(name, sizeof(name), "host-%c", layout[rank]);
    setenv("CCLZ_HOST_ID", name, 1);
    setenv("CCLZ_TIMEOUT", "15", 1);
}

static uint64_t hash(const void *p, size_t n)
{
    const uint8_t *b = p;
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 1099511628211ULL;
    return h;
}

/* Every rank holds the same bits. */
static int same_everywhere(ccl_comm_t comm, const void *buf, size_t bytes)
{
    int64_t v[2];
    uint64_t h = hash(buf, bytes);
    v[0] = (int64_t)h;
    v[1] = (int64_t)~h;
    if (ccl_allreduce(v, v, 2, CCL_INT64, CCL_MAX, comm) != CCL_SUCCESS)
        return 0;
    return (uint64_t)v[0] == h && ~(uint64_t)v[1] == h;
}

static int int_input(int r, size_t i) { return (int)((r * 7 + i * 13) % 17) - 8; }

/* ---- exact ---- */

static int check_exact(ccl_comm_t comm, int rank, int p, size_t n, ccl_datatype_t dt,
                       ccl_redop_t op, int in_place)
{
    size_t dts = ccl_datatype_size(dt);
    uint8_t *in = malloc(n * dts + 1), *out = malloc(n * dts + 1);
    int ok = 1;
    for (size_t i = 0; i < n; i++) {
        double v = int_input(rank, i);
        if (dt == CCL_FLOAT32) ((float *)in)[i] = (float)v;
        if (dt == CCL_FLOAT64) ((double *)in)[i] = v;
        if (dt == CCL_INT32) ((int32_t *)in)[i] = (int32_t)v;
    }
    if (in_place)
        memcpy(out, in, n * dts);
    ccl_result_t r = ccl_allreduce(in_place ? out : in, out, n, dt, op, comm);
    if (r != CCL_SUCCESS) {
        fprintf(stderr, "rank %d: allreduce of %zu: %s\n", rank, n, ccl_get_last_error(comm));
        ok = 0;
    }
    for (size_t i = 0; ok && i < n; i++) {
        double want = op == CCL_MAX ? -1e9 : 0, got = 0;
        for (int q = 0; q < p; q++)
            want = op == CCL_MAX ? fmax(want, int_input(q, i)) : want + int_input(q, i);
        if (op == CCL_AVG)
            want = dt == CCL_INT32 ? trunc(want / p) : want / p;
        if (dt == CCL_FLOAT32) got = ((float *)out)[i];
        if (dt == CCL_FLOAT64) got = ((double *)out)[i];
        if (dt == CCL_INT32) got = ((int32_t *)out)[i];
        if (fabs(got - want) > 1e-5) {
            fprintf(stderr, "rank %d: n %zu type %d op %d: [%zu] = %g, want %g\n", rank, n,
                    (int)dt, (int)op, i, got, want);
            ok = 0;
        }
    }
    ok &= same_everywhere(comm, out, n * dts);
    free(in);
    free(out);
    return ok;
}

static int sc_exact(int rank, int p, ccl_comm_t comm)
{
    ccl_host_info_t hi;
    int ok = ccl_comm_host_info(comm, &hi) == CCL_SUCCESS;
    int nhosts = 0;
    for (int q = 0; q < p; q++)
        nhosts = host_of(q) + 1 > nhosts ? host_of(q) + 1 : nhosts;
    ok &= hi.host == host_of(rank) && hi.nhosts == nhosts && hi.local_rank == local_rank_of(rank) &&
          hi.local_size == local_size_of(host_of(rank)) && hi.hier == 1;
    if (!ok)
        fprintf(stderr, "rank %d: host %d of %d, local %d of %d, hier %d\n", rank, hi.host,
                hi.nhosts, hi.local_rank, hi.local_size, hi.hier);
    /* 16777259 elements: 2 chunks in the pipeline where 2 shards (ccl_hier_chunks). */
    const size_t sizes[] = {0, 1, 2, 3, 5, 7, 1000, 100003, 16777259};
    for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
        ok &= check_exact(comm, rank, p, sizes[k], CCL_FLOAT32, CCL_SUM, k % 2);
        if (sizes[k] < 1000000)
            ok &= check_exact(comm, rank, p, sizes[k], CCL_INT32, CCL_MAX, 0);
    }
    ok &= check_exact(comm, rank, p, 4099, CCL_FLOAT64, CCL_AVG, 1);
    ok &= check_exact(comm, rank, p, 4099, CCL_INT32, CCL_AVG, 0);
    /* Nonblocking: the progress thread runs the phases. */
    float x[333], y[333];
    for (int i = 0; i < 333; i++)
        x[i] = (float)int_input(rank, (size_t)i);
    ccl_request_t req;
    ok &= ccl_iallreduce(x, y, 333, CCL_FLOAT32, CCL_SUM, comm, &req) == CCL_SUCCESS &&
          ccl_wait(&req) == CCL_SUCCESS;
    for (int i = 0; ok && i < 333; i++) {
        float want = 0;
        for (int q = 0; q < p; q++)
            want += (float)int_input(q, (size_t)i);
        ok &= y[i] == want;
    }
    return ok;
}

/* ---- compressed, against its definition ---- */

/* The hierarchy by hand: the host's ranks, and the owners of each shard this rank owns; the
 * buffer in C chunks of S shards each (core/comm.h, ccl_hier_chunks), one compressor per
 * chunk and owned shard. */
typedef struct {
    ccl_comm_t host, cross[8];
    int first, end, S, C;
    ccl_compressor_t comp[64];
} manual_t;

static int first_shard(int i, int S, int L) { return (i * S + L - 1) / L; }

static size_t chunk_size(const manual_t *m, size_t n) { return (n + (size_t)m->C - 1) / (size_t)m->C; }

/* Chunk ch's [off, off + len) of a buffer of n. */
static void chunk_of(const manual_t *m, size_t n, int ch, size_t *off, size_t *len)
{
    size_t cs = chunk_size(m, n);
    *off = (size_t)ch * cs;
    *len = *off >= n ? 0 : (n - *off < cs ? n - *off : cs);
}

static int manual_make(manual_t *m, ccl_comm_t comm, int rank, size_t n, const char *spec)
{
    int ok = 1, L = local_size_of(host_of(rank)), i = local_rank_of(rank);
    memset(m, 0, sizeof(*m));
    m->S = S_of_layout;
    size_t c = n / ((size_t)m->S << 19);
    m->C = c >= 8 ? 8 : c >= 4 ? 4 : c >= 2 ? 2 : 1;
    m->first = first_shard(i, m->S, L);
    m->end = first_shard(i + 1, m->S, L);
    const int own = m->end - m->first;
    ok &= ccl_comm_split(comm, host_of(rank), rank, &m->host) == CCL_SUCCESS;
    for (int j = 0; j < m->S; j++) {
        int mine = j >= m->first && j < m->end;
        ccl_comm_t sub = NULL;
        ok &= ccl_comm_split(comm, mine ? 0 : CCL_SPLIT_NOCOLOR, host_of(rank), &sub) ==
              CCL_SUCCESS;
        if (!mine)
            continue;
        m->cross[j - m->first] = sub;
        for (int ch = 0; ch < m->C; ch++) {
            size_t off, len;
            chunk_of(m, n, ch, &off, &len);
            size_t s = (len + (size_t)m->S - 1) / (size_t)m->S, at = (size_t)j * s;
            size_t sl = at >= len ? 0 : (len - at < s ? len - at : s);
            ok &= ccl_compressor_create(sub, spec, sl, CCL_FLOAT32,
                                        &m->comp[ch * own + j - m->first]) == CCL_SUCCESS;
        }
    }
    return ok;
}

static void manual_free(manual_t *m)
{
    for (int k = 0; k < m->C * (m->end - m->first); k++)
        ccl_compressor_destroy(m->comp[k]);
    for (int k = 0; k < m->end - m->first; k++)
        ccl_comm_destroy(m->cross[k]);
    ccl_comm_destroy(m->host);
}

/* out = host sums, each chunk's owned shards compressed across hosts, the shards gathered in
 * the host (by a sum of zeros and one owner's shard: exact). */
static int manual_step(manual_t *m, const float *g, float *out, size_t n)
{
    float *hostsum = malloc(n * sizeof(float));
    const int own = m->end - m->first;
    int ok = ccl_allreduce(g, hostsum, n, CCL_FLOAT32, CCL_SUM, m->host) == CCL_SUCCESS;
    memset(out, 0, n * sizeof(float));
    for (int ch = 0; ok && ch < m->C; ch++) {
        size_t coff, clen;
        chunk_of(m, n, ch, &coff, &clen);
        size_t s = (clen + (size_t)m->S - 1) / (size_t)m->S;
        for (int j = m->first; ok && j < m->end; j++) {
            size_t off = (size_t)j * s, len = off >= clen ? 0 : (clen - off < s ? clen - off : s);
            if (len > 0)
                ok &= ccl_allreduce_compressed(hostsum + coff + off, out + coff + off, len,
                                               CCL_FLOAT32, CCL_SUM,
                                               m->comp[ch * own + j - m->first],
                                               m->cross[j - m->first]) == CCL_SUCCESS;
        }
    }
    ok &= ccl_allreduce(out, out, n, CCL_FLOAT32, CCL_SUM, m->host) == CCL_SUCCESS;
    free(hostsum);
    return ok;
}

static void grad(int rank, int step, float *g, size_t n)
{
    for (size_t i = 0; i < n; i++)
        g[i] = sinf((float)(rank * 1.7 + step * 0.9 + (double)i * 0.37)) *
               (1.0f + (float)(i % 11));
}

static int equal(const float *a, const float *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!(a[i] == b[i]))
            return 0;
    return 1;
}

static int sc_compressed(int rank, int p, ccl_comm_t comm, const char *codec, size_t n)
{
    char spec[128], mspec[128];
    snprintf(spec, sizeof(spec), "%s,algo=hier", codec);
    snprintf(mspec, sizeof(mspec), "%s", codec);
    float *g = malloc(n * sizeof(float)), *out = malloc(n * sizeof(float)),
          *want = malloc(n * sizeof(float)), *saved_out[2];
    manual_t m;
    ccl_compressor_t c = NULL, c2 = NULL;
    int ok = manual_make(&m, comm, rank, n, mspec);
    ok &= ccl_compressor_create(comm, spec, n, CCL_FLOAT32, &c) == CCL_SUCCESS;
    ok &= c != NULL && strstr(ccl_compressor_spec(c), "algo=hier") != NULL;
    uint8_t *cp = NULL;
    size_t cp_len = 0;
    saved_out[0] = malloc(n * sizeof(float));
    saved_out[1] = malloc(n * sizeof(float));
    for (int step = 0; ok && step < 7; step++) {
        grad(rank, step, g, n);
        if (step == 3 && rank == 1)
            g[n / 2] = NAN;
        ccl_result_t r;
        if (step == 2) { /* nonblocking: the progress thread runs the sub-communicators' calls */
            ccl_request_t req = NULL;
            r = ccl_iallreduce_compressed(g, out, n, CCL_FLOAT32, CCL_SUM, c, comm, &req);
            if (r == CCL_SUCCESS)
                r = ccl_wait(&req);
        } else {
            r = ccl_allreduce_compressed(g, out, n, CCL_FLOAT32, CCL_SUM, c, comm);
        }
        if (step == 3) {
            /* Skipped everywhere, the state kept: the hand-built one skips the step too. */
            ok &= r == CCL_ERR_INVALID_ARG && strstr(ccl_get_last_error(comm), "NaN") != NULL;
            continue;
        }
        ok &= r == CCL_SUCCESS && manual_step(&m, g, want, n);
        if (r != CCL_SUCCESS)
            fprintf(stderr, "rank %d step %d: %s\n", rank, step, ccl_get_last_error(comm));
        if (!equal(out, want, n)) {
            fprintf(stderr, "rank %d: %s step %d differs from its definition\n", rank, codec,
                    step);
            ok = 0;
        }
        ok &= same_everywhere(comm, out, n * sizeof(float));
        if (step == 4) {
            cp_len = ccl_compressor_state_size(c);
            cp = malloc(cp_len);
            ok &= ccl_compressor_save(c, cp, cp_len, &cp_len) == CCL_SUCCESS;
        }
        if (step >= 5)
            memcpy(saved_out[step - 5], out, n * sizeof(float));
    }
    /* A new compressor restored from step 4 repeats steps 5 and 6 bit for bit. */
    ok &= ccl_compressor_create(comm, spec, n, CCL_FLOAT32, &c2) == CCL_SUCCESS &&
          ccl_compressor_restore(c2, cp, cp_len) == CCL_SUCCESS;
    for (int step = 5; ok && step < 7; step++) {
        grad(rank, step, g, n);
        ok &= ccl_allreduce_compressed(g, out, n, CCL_FLOAT32, CCL_SUM, c2, comm) == CCL_SUCCESS &&
              memcmp(out, saved_out[step - 5], n * sizeof(float)) == 0;
    }
    /* A corrupt checkpoint is refused. */
    if (cp != NULL) {
        cp[cp_len - 1] ^= 1;
        ok &= ccl_compressor_restore(c2, cp, cp_len) == CCL_ERR_INVALID_PAYLOAD;
    }
    ccl_stats_t st;
    ok &= ccl_compressor_get_stats(c, &st) == CCL_SUCCESS && st.calls == 7 && st.bytes_sent > 0;
    if (!ok)
        fprintf(stderr, "rank %d: %s: %s\n", rank, codec, ccl_get_last_error(comm));
    /* An allgather on the same compressor makes its whole-buffer state; it checkpoints. */
    float *all = malloc(n * (size_t)p * sizeof(float));
    grad(rank, 9, g, n);
    ok &= ccl_allgather_compressed(g, all, n, CCL_FLOAT32, c2, comm) == CCL_SUCCESS;
    size_t len2 = ccl_compressor_state_size(c2);
    uint8_t *cp2 = malloc(len2);
    ok &= len2 > cp_len && ccl_compressor_save(c2, cp2, len2, &len2) == CCL_SUCCESS &&
          ccl_compressor_restore(c, cp2, len2) == CCL_SUCCESS;
    free(cp2);
    free(all);
    free(cp);
    ccl_compressor_destroy(c);
    ccl_compressor_destroy(c2);
    manual_free(&m);
    free(saved_out[0]);
    free(saved_out[1]);
    free(g);
    free(out);
    free(want);
    return ok;
}

/* sparse_hier (a sparse codec's default where hosts hold several ranks): the bits of
 * sparse_allgather step for step, its payloads relayed across hosts once, on every rank;
 * a NaN step skipped by both; nonblocking; with a layout (selection per tensor) too. */
static int sc_sparse_once(int rank, int p, ccl_comm_t comm, const char *codec, size_t n,
                          int with_layout);
static int sc_sparse(int rank, int p, ccl_comm_t comm, const char *codec, size_t n)
{
    return sc_sparse_once(rank, p, comm, codec, n, 0) &&
           sc_sparse_once(rank, p, comm, codec, n, 1);
}

static int sc_sparse_once(int rank, int p, ccl_comm_t comm, const char *codec, size_t n,
                          int with_layout)
{
    char spec[2][128];
    snprintf(spec[0], sizeof(spec[0]), "%s", codec);
    snprintf(spec[1], sizeof(spec[1]), "%s,algo=sparse_allgather", codec);
    float *g = malloc(n * sizeof(float)), *out[2] = {malloc(n * sizeof(float)),
                                                     malloc(n * sizeof(float))};
    ccl_compressor_t c[2] = {NULL, NULL};
    int ok = 1;
    for (int k = 0; k < 2; k++)
        ok &= ccl_compressor_create(comm, spec[k], n, CCL_FLOAT32, &c[k]) == CCL_SUCCESS;
    ok &= ok && strstr(ccl_compressor_spec(c[0]), "algo=sparse_hier") != NULL;
    const ccl_tensor_t lay[3] = {{n / 2, 0, 0}, {n - n / 2 - 7, 1, n - n / 2 - 7}, {7, 0, 0}};
    for (int k = 0; ok && with_layout && k < 2; k++)
        if (ccl_compressor_set_layout(c[k], 3, lay) != CCL_SUCCESS) {
            fprintf(stderr, "rank %d: %s: set_layout: %s\n", rank, spec[k],
                    ccl_get_last_error(NULL));
            ok = 0;
        }
    for (int step = 0; ok && step < 5; step++) {
        grad(rank, step, g, n);
        if (step == 2 && rank == p - 1)
            g[n / 3] = NAN;
        for (int k = 0; k < 2; k++) {
            ccl_request_t req = NULL;
            ccl_result_t r = step == 3
                ? ccl_iallreduce_compressed(g, out[k], n, CCL_FLOAT32, CCL_SUM, c[k], comm, &req)
                : ccl_allreduce_compressed(g, out[k], n, CCL_FLOAT32, CCL_SUM, c[k], comm);
            if (r == CCL_SUCCESS && req != NULL)
                r = ccl_wait(&req);
            if (step == 2)
                ok &= r == CCL_ERR_INVALID_ARG && strstr(ccl_get_last_error(comm), "NaN") != NULL;
            else if (r != CCL_SUCCESS) {
                fprintf(stderr, "rank %d step %d %s: %s\n", rank, step, spec[k],
                        ccl_get_last_error(comm));
                ok = 0;
            }
        }
        if (step == 2)
            continue;
        if (ok && memcmp(out[0], out[1], n * sizeof(float)) != 0) {
            fprintf(stderr, "rank %d: %s step %d%s: sparse_hier differs from sparse_allgather\n",
                    rank, codec, step, with_layout ? " (layout)" : "");
            ok = 0;
        }
        ok &= same_everywhere(comm, out[0], n * sizeof(float));
    }
    for (int k = 0; k < 2; k++)
        ccl_compressor_destroy(c[k]);
    free(g);
    free(out[0]);
    free(out[1]);
    return ok;
}

/* A layout through the hierarchy: every shard's compressor takes the tensors' parts in its
 * shard. int8 then scales the small tensors apart from a large one (x1000) beside them: their
 * error stays within their own scale, where a flat int8's is the large tensor's; top-k keeps
 * some of every tensor. */
static int sc_layout(int rank, int p, ccl_comm_t comm)
{
    const size_t n = 20011;
    const ccl_tensor_t lay[] = {{7, 0, 0}, {1, 0, 0}, {600, 20, 30}, {33, 3, 11},
                                {n - 641, 0, 0}};
    float *g = malloc(n * sizeof(float)), *out = malloc(n * sizeof(float));
    double err[2] = {0, 0};
    int ok = 1;
    for (int with = 0; with < 2; with++) {
        ccl_compressor_t c;
        for (size_t i = 0; i < n; i++)
            g[i] = sinf((float)(rank * 1.7 + (double)i * 0.37)) * (i >= 8 && i < 608 ? 1000.0f : 1.0f);
        ok &= ccl_compressor_create(comm, "int:bits=8,bucket=64,ef=none,algo=hier", n,
                                    CCL_FLOAT32, &c) == CCL_SUCCESS &&
              (!with || ccl_compressor_set_layout(c, 5, lay) == CCL_SUCCESS) &&
              ccl_allreduce_compressed(g, out, n, CCL_FLOAT32, CCL_SUM, c, comm) == CCL_SUCCESS &&
              same_everywhere(comm, out, n * sizeof(float));
        for (size_t i = 0; ok && i < n; i++) {
            double want = 0;
            for (int q = 0; q < p; q++)
                want += sinf((float)(q * 1.7 + (double)i * 0.37)) * (i >= 8 && i < 608 ? 1000.0f : 1.0f);
            if (i < 8 || i >= 608)
                err[with] = fmax(err[with], fabs(out[i] - want));
        }
        ccl_compressor_destroy(c);
    }
    ok &= err[1] <= 0.012 * p && err[0] > 0.5;
    if (!ok)
        fprintf(stderr, "rank %d: int8 hier with a layout: error %g on the small tensors "
                "(flat %g): %s\n", rank, err[1], err[0], ccl_get_last_error(comm));
    ccl_compressor_t tk;
    ok &= ccl_compressor_create(comm, "topk:ratio=0.01,algo=hier", n, CCL_FLOAT32, &tk) ==
              CCL_SUCCESS &&
          ccl_compressor_set_layout(tk, 5, lay) == CCL_SUCCESS &&
          ccl_allreduce_compressed(g, out, n, CCL_FLOAT32, CCL_SUM, tk, comm) == CCL_SUCCESS &&
          same_everywhere(comm, out, n * sizeof(float));
    for (int t = 0, at = 0; ok && t < 5; at += (int)lay[t].count, t++) {
        size_t kept = 0;
        for (size_t i = 0; i < lay[t].count; i++)
            kept += out[at + i] != 0.0f;
        ok &= kept >= 1;
        if (kept == 0)
            fprintf(stderr, "rank %d: top-k hier with a layout kept nothing of tensor %d\n",
                    rank, t);
    }
    /* State per shard, on the shards' owners, cannot move between buffers. */
    ccl_compressor_t tk2;
    ok &= ccl_compressor_create(comm, "topk:ratio=0.01,algo=hier", n, CCL_FLOAT32, &tk2) ==
              CCL_SUCCESS &&
          ccl_compressor_copy_state(tk2, 0, tk, 0, 100) == CCL_ERR_UNSUPPORTED;
    ccl_compressor_destroy(tk2);
    ccl_compressor_destroy(tk);
    /* dense_1d through the hierarchy: the vectors go whole, and a matrix that the shards cut
     * stays sparse in both its parts. */
    const ccl_tensor_t lay2[] = {{7, 0, 0}, {1, 0, 0}, {600, 20, 30}, {33, 3, 11},
                                 {n - 641, 2, (n - 641) / 2}};
    ccl_compressor_t d1;
    ok &= ccl_compressor_create(comm, "topk:ratio=0.01,dense_1d=1,algo=hier", n, CCL_FLOAT32,
                                &d1) == CCL_SUCCESS &&
          ccl_compressor_set_layout(d1, 5, lay2) == CCL_SUCCESS &&
          ccl_allreduce_compressed(g, out, n, CCL_FLOAT32, CCL_SUM, d1, comm) == CCL_SUCCESS;
    size_t vec_kept = 0, mat_kept = 0;
    for (size_t i = 0; ok && i < 8; i++)
        vec_kept += out[i] != 0.0f;
    for (size_t i = 641; ok && i < n; i++)
        mat_kept += out[i] != 0.0f;
    ok &= vec_kept == 8 && mat_kept * 10 < n - 641;
    if (vec_kept != 8 || mat_kept * 10 >= n - 641)
        fprintf(stderr, "rank %d: dense_1d hier: %zu of 8 vector elements, %zu of the cut "
                "matrix's %zu\n", rank, vec_kept, mat_kept, n - 641);
    ccl_compressor_destroy(d1);
    free(g);
    free(out);
    return ok;
}

/* int8 across hosts: two quantizations of the host sums (sra), each within half a step of
 * its bucket's scale: well within 2% of the largest sum. */
static int sc_int8(int rank, int p, ccl_comm_t comm)
{
    const size_t n = 50001;
    float *g = malloc(n * sizeof(float)), *out = malloc(n * sizeof(float));
    ccl_compressor_t c;
    int ok = ccl_compressor_create(comm, "int:bits=8,ef=none,algo=hier", n, CCL_FLOAT32, &c) ==
             CCL_SUCCESS;
    grad(rank, 0, g, n);
    ok &= ccl_allreduce_compressed(g, out, n, CCL_FLOAT32, CCL_AVG, c, comm) == CCL_SUCCESS;
    double worst = 0, top = 0;
    for (size_t i = 0; i < n; i++) {
        double want = 0;
        for (int q = 0; q < p; q++)
            want += sinf((float)(q * 1.7 + (double)i * 0.37)) * (1.0f + (float)(i % 11));
        want /= p;
        top = fmax(top, fabs(want));
        worst = fmax(worst, fabs(out[i] - want));
    }
    ok &= worst <= 0.02 * top;
    if (!ok)
        fprintf(stderr, "rank %d: int8 worst error %g of %g\n", rank, worst, top);
    ok &= same_everywhere(comm, out, n * sizeof(float));
    ccl_compressor_destroy(c);
    /* bfloat16 goes through float32 first: the same bound at bf16's precision. */
    uint16_t *h = malloc(n * sizeof(uint16_t)), *ho = malloc(n * sizeof(uint16_t));
    for (size_t i = 0; i < n; i++) {
        uint32_t bits;
        memcpy(&bits, &g[i], 4);
        h[i] = (uint16_t)(bits >> 16);
    }
    ok &= ccl_compressor_create(comm, "int:bits=8,algo=hier", n, CCL_BFLOAT16, &c) ==
              CCL_SUCCESS &&
          ccl_allreduce_compressed(h, ho, n, CCL_BFLOAT16, CCL_AVG, c, comm) == CCL_SUCCESS;
    double worst16 = 0;
    for (size_t i = 0; ok && i < n; i++) {
        uint32_t bits = (uint32_t)ho[i] << 16;
        float v;
        memcpy(&v, &bits, 4);
        worst16 = fmax(worst16, fabs(v - out[i]));
    }
    ok &= worst16 <= 0.03 * top && same_everywhere(comm, ho, n * sizeof(uint16_t));
    if (!ok)
        fprintf(stderr, "rank %d: bfloat16 worst error %g of %g: %s\n", rank, worst16, top,
                ccl_get_last_error(comm));
    ccl_compressor_destroy(c);
    free(h);
    free(ho);
    free(g);
    free(out);
    return ok && sc_layout(rank, p, comm);
}

/* A rank killed in the middle of a large hierarchical allreduce (sparse: sparse_hier's
 * relayed exchange, top-k): every other rank gets an error. */
static int sc_kill(int rank, ccl_comm_t comm, int victim, int sparse)
{
    const size_t n = sparse ? (size_t)1 << 20 : (size_t)16 << 20;
    float *buf = calloc(n, sizeof(float));
    ccl_compressor_t c = NULL;
    ccl_result_t r = sparse ? ccl_compressor_create(comm, "topk:ratio=0.01", n, CCL_FLOAT32, &c)
                            : CCL_SUCCESS;
    if (rank == victim) {
        pthread_t th;
        pthread_create(&th, NULL, h_killer, (void *)(intptr_t)100000);
    }
    for (size_t i = 0; i < n; i++)
        buf[i] = (float)((i * 7 + (size_t)rank) % 13);
    for (int k = 0; k < 400 && r == CCL_SUCCESS; k++)
        r = sparse ? ccl_allreduce_compressed(buf, buf, n, CCL_FLOAT32, CCL_SUM, c, comm)
                   : k < 50 ? ccl_allreduce(buf, buf, n, CCL_FLOAT32, CCL_SUM, comm) : r;
    fprintf(stderr, "rank %d: after rank %d's kill: %d (%s)\n", rank, victim, r,
            ccl_get_last_error(comm));
    free(buf);
    if (c != NULL)
        ccl_compressor_destroy(c);
    ccl_comm_abort(comm); /* its peers are gone: no flush */
    return r != CCL_SUCCESS;
}

static int rank_main(int rank, int p, ccl_unique_id_t id, const char *arg)
{
    char lay[32], scenario[64];
    if (sscanf(arg, "%31[a-z]:%63s", lay, scenario) != 2)
        return 99;
    layout = lay;
    nranks_all = p;
    for (int q = 0; q < p; q++)
        S_of_layout = local_size_of(host_of(q)) > S_of_layout ? local_size_of(host_of(q))
                                                              : S_of_layout;
    set_env(rank);
    if (strcmp(scenario, "exact") == 0 || strncmp(scenario, "kill", 4) == 0)
        setenv("CCLZ_ALGO", "allreduce:hier", 1);
    ccl_comm_t comm = h_init_comm(rank, p, id);
    int ok;
    if (strcmp(scenario, "exact") == 0)
        ok = sc_exact(rank, p, comm);
    else if (strcmp(scenario, "int8") == 0)
        ok = sc_int8(rank, p, comm);
    else if (strncmp(scenario, "kill", 4) == 0)
        return sc_kill(rank, comm, atoi(scenario + 4), 0) ? 0 : 1;
    else if (strncmp(scenario, "sparsekill", 10) == 0)
        return sc_kill(rank, comm, atoi(scenario + 10), 1) ? 0 : 1;
    else {
        char *at = strchr(scenario, '@'); /* codec@count */
        size_t n = at != NULL ? strtoul(at + 1, NULL, 10) : 10007;
        if (at != NULL)
            *at = '\0';
        ok = strncmp(scenario, "sparse_", 7) == 0 ? sc_sparse(rank, p, comm, scenario + 7, n)
                                                   : sc_compressed(rank, p, comm, scenario, n);
    }
    int32_t flag = ok ? 0 : 1;
    ok &= ccl_allreduce(&flag, &flag, 1, CCL_INT32, CCL_MAX, comm) == CCL_SUCCESS && flag == 0;
    ccl_comm_destroy(comm);
    return ok ? 0 : 1;
}

int main(int argc, char **argv)
{
    int codes[64];
    h_init(argc, argv, rank_main);
    const char *exact[] = {"aabb", "aab", "aaabb", "abab"};
    for (int k = 0; k < 4; k++) {
        char arg[64];
        snprintf(arg, sizeof(arg), "%s:exact", exact[k]);
        h_report(h_spawn((int)strlen(exact[k]), arg, 120, codes) == 0,
                 "hier %s: topology, exact sums of sizes 0-16M (float, int32, double; sum, "
                 "max, avg; in place; nonblocking; pipelined) identical on every rank", exact[k]);
    }
    /* @N: 2.1M elements, pipelined in 2 chunks. */
    const char *comp[][2] = {{"aabb", "topk:ratio=0.05"}, {"aab", "topk:ratio=0.05"},
                             {"abab", "dgc:ratio=0.05"}, {"aabb", "randomk:ratio=0.1"},
                             {"aabb", "topk:ratio=0.01@2109497"}};
    for (int k = 0; k < 5; k++) {
        char arg[64];
        snprintf(arg, sizeof(arg), "%s:%s", comp[k][0], comp[k][1]);
        h_report(h_spawn((int)strlen(comp[k][0]), arg, 120, codes) == 0,
                 "hier %s %s: equal to host sums compressed per shard (own error feedback), "
                 "a NaN step skipped everywhere, nonblocking, checkpoint restored, stats, allgather",
                 comp[k][0], comp[k][1]);
    }
    /* Codecs whose selection takes no seed (a seed comes from the spec, algo= included). */
    const char *sparse[][2] = {{"aab", "topk:ratio=0.05"}, {"aaabb", "dgc:ratio=0.01,sample=1"},
                               {"abab", "topk:ratio=0.1,fp16_values=1"}};
    for (int k = 0; k < 3; k++) {
        char arg[64];
        snprintf(arg, sizeof(arg), "%s:sparse_%s", sparse[k][0], sparse[k][1]);
        h_report(h_spawn((int)strlen(sparse[k][0]), arg, 120, codes) == 0,
                 "sparse_hier %s %s: chosen by default, the bits of sparse_allgather step for "
                 "step (payloads relayed across hosts once), a NaN step skipped, nonblocking, "
                 "with a layout too",
                 sparse[k][0], sparse[k][1]);
    }
    h_report(h_spawn(5, "aaabb:int8", 120, codes) == 0,
             "hier aaabb int8 avg: within 2%% of the largest sum, identical on every rank; "
             "bfloat16 likewise; with a layout every shard scales its tensors' parts apart "
             "(int8) or keeps some of each (top-k); its state cannot move (copy_state refused); "
             "dense_1d sends vectors whole and keeps a cut matrix sparse");
    const int victims[] = {1, 3};
    for (int k = 0; k < 2; k++) {
        char arg[64];
        snprintf(arg, sizeof(arg), "aabb:kill%d", victims[k]);
        h_spawn(4, arg, 60, codes);
        int ok = codes[victims[k]] == 128 + SIGKILL;
        for (int r = 0; r < 4; r++)
            ok &= r == victims[k] || codes[r] == 0;
        h_report(ok, "hier aabb: rank %d killed mid-call, every other rank gets an error",
                 victims[k]);
    }
    /* Rank 2 relays rank 0's payloads to rank 3 on host b. */
    h_spawn(4, "aabb:sparsekill2", 60, codes);
    int ok = codes[2] == 128 + SIGKILL && codes[0] == 0 && codes[1] == 0 && codes[3] == 0;
    h_report(ok, "sparse_hier aabb: a relay (rank 2) killed mid-call, every other rank gets "
             "an error");
    return h_failed ? 1 : 0;
}
