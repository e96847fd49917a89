/* cclz.h: public API of cclz, collective communication with compression built in. */
#ifndef CCLZ_H
#define CCLZ_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Everything declared below is libcclz's ABI. The library builds with hidden visibility,
 * so nothing else leaves it. */
#if defined(__GNUC__)
#pragma GCC visibility push(default)
#endif

#define CCLZ_VERSION_MAJOR 0
#define CCLZ_VERSION_MINOR 1
#define CCLZ_VERSION_PATCH 0

/* Result codes. Every call returns one; CCL_SUCCESS is 0 and every error is negative. */
typedef enum {
    CCL_SUCCESS          = 0,
    CCL_ERR_INVALID_ARG  = -1, /* bad argument: NULL buffer, unknown dtype or op, overflow */
    CCL_ERR_NO_MEMORY    = -2,
    CCL_ERR_SYSTEM       = -3, /* a system call failed (socket, thread, ...) */
    CCL_ERR_TRANSPORT    = -4, /* UCX reported an error, or a peer is unreachable */
    CCL_ERR_TIMEOUT      = -5, /* no progress for CCLZ_TIMEOUT seconds */
    CCL_ERR_MISMATCH     = -6, /* ranks called with different collectives, counts, dtypes or ops */
    CCL_ERR_REMOTE       = -7, /* another rank failed and told us; the cause is in the message */
    CCL_ERR_ABORTED      = -8, /* ccl_comm_abort() was called */
    CCL_ERR_UNSUPPORTED  = -9, /* valid request this build or algorithm cannot serve */
    CCL_ERR_INTERNAL     = -10,
    CCL_ERR_BOOTSTRAP    = -11, /* rendezvous failed: root unreachable, bad secret, rank clash */
    CCL_ERR_INVALID_PAYLOAD = -12 /* compressed bytes that fail a check: corrupt or hostile */
} ccl_result_t;

typedef enum {
    CCL_FLOAT32 = 0,
    CCL_FLOAT16,
    CCL_BFLOAT16,
    CCL_FLOAT64,
    CCL_INT8,
    CCL_UINT8,
    CCL_INT32,
    CCL_INT64,
    CCL_NUM_DATATYPES
} ccl_datatype_t;

/* Reductions. Integer sums and products wrap modulo 2^bits; AVG divides the sum by the
 * number of ranks (truncating toward zero for integer types). */
typedef enum {
    CCL_SUM = 0,
    CCL_PROD,
    CCL_MIN,
    CCL_MAX,
    CCL_AVG,
    CCL_NUM_OPS
} ccl_redop_t;

/* Opaque handle to a communicator. */
typedef struct ccl_comm *ccl_comm_t;

/* Everything ranks need to find each other: the root's TCP address and a random 128-bit
 * secret. Created by one process with ccl_get_unique_id() and passed to the others by any
 * means (MPI_Bcast, a file, the command line through ccl_unique_id_to_string()). */
#define CCL_UNIQUE_ID_BYTES 128
typedef struct {
    char internal[CCL_UNIQUE_ID_BYTES];
} ccl_unique_id_t;

/* Size of ccl_unique_id_to_string()'s output, terminating NUL included. */
#define CCL_UNIQUE_ID_STRLEN (2 * CCL_UNIQUE_ID_BYTES + 1)

/* Library version as MAJOR*10000 + MINOR*100 + PATCH. */
ccl_result_t ccl_get_version(int *version_p);

/* Short fixed description of a result code; never NULL. */
const char *ccl_get_error_string(ccl_result_t result);

/* The last error this thread's calls on `comm` met, with its cause ("rank 2: peer 3 sent
 * count 100, expected 200"). With comm NULL, the last error of calls that had no
 * communicator yet (init). Returns "" when there was none. The string is owned by cclz and
 * valid until the next call on the same communicator. */
const char *ccl_get_last_error(ccl_comm_t comm);

/* Creates a unique id: opens the rendezvous listener (on CCLZ_IFNAME's address, or the
 * first non-loopback interface, or loopback) and a background thread that serves it until
 * every rank has joined or CCLZ_TIMEOUT passes. Call once per communicator, on one process,
 * then pass the id to every rank. */
ccl_result_t ccl_get_unique_id(ccl_unique_id_t *id_p);

/* Hex-encodes an id into buf (CCL_UNIQUE_ID_STRLEN bytes) and decodes it back. */
ccl_result_t ccl_unique_id_to_string(const ccl_unique_id_t *id, char *buf, size_t len);
ccl_result_t ccl_unique_id_from_string(const char *str, ccl_unique_id_t *id_p);

/* Creates a communicator of nranks ranks; this process is `rank`. Collective: blocks until
 * all nranks have called it with the same id, or fails after CCLZ_TIMEOUT seconds. A
 * connection that does not present the id's secret is refused and logged. */
ccl_result_t ccl_comm_init_rank(ccl_comm_t *comm_p, int nranks, ccl_unique_id_t id, int rank);

/* Creates a communicator from what the launcher put in the environment, in this order:
 *  - CCLZ_RANK, CCLZ_NRANKS, CCLZ_ROOT=host:port (cclz_run, or set by hand);
 *  - torchrun: RANK, WORLD_SIZE, MASTER_ADDR; cclz listens on MASTER_PORT+1 since torchrun's
 *    own store holds MASTER_PORT;
 *  - mpirun (Open MPI): OMPI_COMM_WORLD_RANK, OMPI_COMM_WORLD_SIZE;
 *  - srun (Slurm): SLURM_PROCID, SLURM_NTASKS.
 * For mpirun and srun the root address is CCLZ_ROOT if set; else, when every rank is on one
 * host, 127.0.0.1 (mpirun) or the first host of SLURM_STEP_NODELIST (srun), with a port
 * derived from the job id. The shared secret is CCLZ_SECRET (32 hex digits) if set, else
 * derived from the job id. Rank 0 serves the rendezvous. */
ccl_result_t ccl_comm_init_from_env(ccl_comm_t *comm_p);

/* Frees the communicator once its issued nonblocking calls have run and its outstanding
 * messages are delivered (bounded by CCLZ_TIMEOUT), with every request not waited on. Local:
 * does not wait for other ranks. */
ccl_result_t ccl_comm_destroy(ccl_comm_t comm);

/* Makes any call in flight on comm, in any thread, return CCL_ERR_ABORTED (and every queued
 * nonblocking call complete with it), waits for it to return, then frees comm without
 * waiting for peers. Safe to call from a thread other than the one running the call. Its
 * nonblocking requests stay valid until waited on (see "Nonblocking calls"). */
ccl_result_t ccl_comm_abort(ccl_comm_t comm);

ccl_result_t ccl_comm_rank(ccl_comm_t comm, int *rank_p);
ccl_result_t ccl_comm_size(ccl_comm_t comm, int *size_p);

/* Where this rank runs: its host (hosts numbered 0 .. nhosts-1 in the order of their lowest
 * rank; ranks share a host when boot id, hostname and network namespace match, or
 * CCLZ_HOST_ID does), and its rank among that host's ranks (local_rank of local_size, by
 * rank), as a launcher's local rank, e.g. to choose a GPU. hier is 1 where comm has the
 * hierarchical allreduce's sub-communicators (several hosts, some of several ranks, and
 * CCLZ_HIER=1), so that the cost model may choose it (algorithm "hier"). */
typedef struct {
    int host, nhosts;
    int local_rank, local_size;
    int hier;
} ccl_host_info_t;
ccl_result_t ccl_comm_host_info(ccl_comm_t comm, ccl_host_info_t *info);

/* Splits comm into disjoint communicators, as MPI_Comm_split and ncclCommSplit do. Collective
 * over comm (every rank calls it, in its turn among comm's calls): the ranks that pass the
 * same color form one new communicator, ranked by key, then by their rank in comm. With
 * CCL_SPLIT_NOCOLOR a rank joins none and gets NULL. A new communicator is independent of
 * comm (its own connections, calls and failures; destroy each); its first rank serves its
 * rendezvous as ccl_get_unique_id does. A color below 0 other than CCL_SPLIT_NOCOLOR is
 * refused before anything is sent. */
#define CCL_SPLIT_NOCOLOR (-1)
ccl_result_t ccl_comm_split(ccl_comm_t comm, int color, int key, ccl_comm_t *newcomm_p);

/* Collectives. These block (each has a nonblocking form, below) and must be called by every
 * rank of comm in the same order with matching arguments. A mismatch (collective, count,
 * dtype, op, root) is detected where a message travels between ranks that disagree: every
 * rank that takes part in such a message returns CCL_ERR_MISMATCH, others may wait for the
 * timeout, and ranks that exchange no message (two that each take themselves for the root)
 * may return success with different data. With CCLZ_CHECK_CALLS=1 every call is compared
 * across ranks before it starts: every rank then returns CCL_ERR_MISMATCH and the
 * communicator stays usable. After any other error the communicator is failed: later calls
 * return CCL_ERR_REMOTE or the first error; destroy or abort it. Every rank ends with
 * bit-identical results. A count of 0 is valid and moves nothing. */

/* recvbuf[i] = op over ranks of sendbuf[i], for i < count. sendbuf == recvbuf is in place. */
ccl_result_t ccl_allreduce(const void *sendbuf, void *recvbuf, size_t count,
                           ccl_datatype_t dtype, ccl_redop_t op, ccl_comm_t comm);

/* recvbuf[r*sendcount + i] = sendbuf of rank r, [i]. In place when
 * sendbuf == recvbuf + rank*sendcount*sizeof(dtype). recvbuf holds nranks*sendcount. */
ccl_result_t ccl_allgather(const void *sendbuf, void *recvbuf, size_t sendcount,
                           ccl_datatype_t dtype, ccl_comm_t comm);

/* recvbuf[i] = op over ranks of sendbuf[rank*recvcount + i]. sendbuf holds
 * nranks*recvcount. In place when recvbuf == sendbuf + rank*recvcount*sizeof(dtype). */
ccl_result_t ccl_reduce_scatter(const void *sendbuf, void *recvbuf, size_t recvcount,
                                ccl_datatype_t dtype, ccl_redop_t op, ccl_comm_t comm);

/* Copies root's sendbuf into every rank's recvbuf (sendbuf is read on root only; it may
 * equal recvbuf). */
ccl_result_t ccl_broadcast(const void *sendbuf, void *recvbuf, size_t count,
                           ccl_datatype_t dtype, int root, ccl_comm_t comm);

/* Returns once every rank has entered the barrier. */
ccl_result_t ccl_barrier(ccl_comm_t comm);

/* ---- Compressed collectives ---------------------------------------------------------
 *
 * A compressor is bound to one buffer (its element count and datatype) and holds that
 * buffer's error-feedback state; make one per gradient buffer and pass it to every
 * compressed call on that buffer. Its spec string is a codec with its parameters and, among
 * them, the handle's own keys:
 *
 *   "int:bits=8"                     8-bit max-min quantization (scatter-reduce-allgather;
 *                                    a tree for small buffers)
 *   "int:bits=4,bucket=512,ef=classic"
 *   "dgc:ratio=0.001,momentum=0.9"   DGC top-k (sparse allgather) with its momentum state
 *   "topk:ratio=0.01,ef=ef21"        EF21 instead of classic error feedback
 *   "sign:scale=none"                signSGD with majority vote
 *   "auto"                           a measured cost model picks, per call, 8-bit
 *                                    scatter-reduce-allgather or the exact collective
 *   "none"                           always the exact collective
 *
 * Handle keys: ef=none|classic|ef21|ef21w (error feedback; default classic, and dgc's own
 * state for dgc), weight=W (EF21-W: this rank's weight, default 1/nranks), algo=NAME (one of
 * the compressed allreduces that cclz_info lists; without it sign:scale=none gets the
 * majority vote, sparse codecs the sparse allgather, and dense codecs whichever of sra and
 * tree the cost model finds cheaper for the buffer's size and the rank count;
 * ccl_compressor_spec names the choice). cclz_info lists the codecs with their parameters;
 * docs/wire-format.md says what travels. The environment variable CCLZ_COMPRESS, when set,
 * replaces every spec ("auto", "none" or a spec string).
 *
 * Every rank must create its compressor with the same spec (weight aside); a mismatch makes
 * the first call fail on every rank: CCL_ERR_MISMATCH where a rank sees the difference,
 * CCL_ERR_REMOTE where it hears of it from another (with CCLZ_CHECK_CALLS=1,
 * CCL_ERR_MISMATCH on every rank). */
typedef struct ccl_compressor *ccl_compressor_t;

/* Collective over comm when spec is "auto" (it measures the links once per communicator);
 * local otherwise. */
ccl_result_t ccl_compressor_create(ccl_comm_t comm, const char *spec, size_t count,
                                   ccl_datatype_t dtype, ccl_compressor_t *comp_p);
ccl_result_t ccl_compressor_destroy(ccl_compressor_t comp);
/* Forgets the error-feedback state (as for a new buffer). */
ccl_result_t ccl_compressor_reset(ccl_compressor_t comp);
/* The spec in force after CCLZ_COMPRESS and defaults, e.g. "int:bits=8,ef=classic,algo=sra". */
const char *ccl_compressor_spec(ccl_compressor_t comp);

/* A compressor's buffer is often many tensors (a DDP bucket holds a model's parameters).
 * Told them, in order, a codec treats each on its own: the sparse codecs (topk, randomk,
 * dgc) keep k = ratio x a tensor's count (at least 1) in every tensor, as if each
 * were compressed alone (each with a seed of its own), in one message of buffer-wide
 * indices; the scaling dense codecs (int, qsgd, terngrad, sign with a scale) cut every piece
 * they encode at tensor boundaries, so that no bucket, norm, magnitude or agreed scale covers
 * two tensors, still one message per piece; PowerSGD (its spec may then omit rows=)
 * approximates every tensor with a 2-D shape, a rank below its smaller side and factors
 * smaller than it with its own P and Q (and warm start), sends the others exact, and moves
 * every P in one exact allreduce (with the exact tensors) and every Q in another. rows and
 * cols give a tensor's 2-D shape (0, 0: none; a convolution's as out x in*kh*kw). Counts of at least 1 that sum to the
 * compressor's count, and shapes that hold their counts, are required; anything else is
 * refused with CCL_ERR_INVALID_ARG naming the fault, before anything is sent. cast,
 * threshold and sign:scale=none, which work per element, take one and change nothing.
 * Sparse codecs refuse a layout with an algorithm that encodes pieces of the buffer
 * (CCL_ERR_UNSUPPORTED: they need sparse_allgather or hier) and with a fixed k=. For
 * PowerSGD a layout replaces rows= (a one-tensor layout without a shape sends the buffer
 * exact), except where rows= made a matrix that would not pay: that compressor is exact and
 * ignores a layout. Local and immediate; every rank
 * must set the same (it joins every call's signature and the checkpoint's identity, so a
 * checkpoint restores into a compressor with the same layout). It may change between calls,
 * as when DDP rebuilds its buckets: the error-feedback state, kept per element, stays.
 * n = 0 removes it: calls are then those without a layout, bit for bit. Why a call and not a
 * create variant: the layout can change under a compressor whose state must live on. */
typedef struct {
    size_t count;
    size_t rows, cols;
} ccl_tensor_t;
ccl_result_t ccl_compressor_set_layout(ccl_compressor_t comp, int n, const ccl_tensor_t *tensors);

/* Moves state between compressors of the same spec (their algorithms may differ), as when DDP rebuilds its buckets and a
 * parameter's gradient moves to another bucket: elements [dst_off, dst_off + count) of dst
 * take the error-feedback state (residual, DGC's velocity, EF21's estimates) of elements
 * [src_off, src_off + count) of src, and dst takes src's step count, which seeds and DGC's
 * warm-up follow. Where both ranges are exactly one tensor of the same shape in their
 * layouts, PowerSGD's warm start for it comes along. src is unchanged. Refused
 * (CCL_ERR_INVALID_ARG, changing nothing) for other specs, ranges outside either buffer,
 * a compressor with a call in flight; CCL_ERR_UNSUPPORTED for the hierarchical allreduce,
 * whose state lives per shard on the shard's owners. Local: every rank must make the same
 * moves. */
ccl_result_t ccl_compressor_copy_state(ccl_compressor_t dst, size_t dst_off,
                                       ccl_compressor_t src, size_t src_off, size_t count);

/* Checkpoints: the error-feedback state as bytes, and back. restore refuses state saved by
 * a compressor of another spec, count or rank, or any corrupt byte, and then changes nothing.
 * Saving and restoring in the middle of a run gives the same results as not doing so. */
size_t ccl_compressor_state_size(ccl_compressor_t comp);
ccl_result_t ccl_compressor_save(ccl_compressor_t comp, void *buf, size_t cap, size_t *len_p);
ccl_result_t ccl_compressor_restore(ccl_compressor_t comp, const void *buf, size_t len);

/* recvbuf = sum (or average) over ranks of what each rank's compressor sends for its
 * sendbuf: within the codec's error, with the error fed back into the next call. Every rank
 * ends with bit-identical recvbuf. op: CCL_SUM or CCL_AVG. dtype float32, float16 or
 * bfloat16 (converted to float32 for compression); any other dtype or op runs the exact
 * ccl_allreduce instead, as does a compressor whose spec is "none". count and dtype must be
 * those the compressor was made for. A gradient holding NaN or Inf is not sent: every rank
 * returns CCL_ERR_INVALID_ARG for that call, the error-feedback state is kept, and the
 * communicator stays usable (skip the step, as mixed-precision training does). Finite
 * gradients whose sum overflows float32 do the same with the algorithms that encode sums
 * (sra, ring, tree, sparse_rd, sparse_split); sparse_allgather, which adds decoded values
 * and encodes no sum, returns the infinity on every rank, as the exact sum would. */
ccl_result_t ccl_allreduce_compressed(const void *sendbuf, void *recvbuf, size_t count,
                                      ccl_datatype_t dtype, ccl_redop_t op,
                                      ccl_compressor_t comp, ccl_comm_t comm);

/* recvbuf[r*sendcount + i] = rank r's sendbuf[i] after compression (and error feedback);
 * identical on every rank. The compressor is made for sendcount elements. */
ccl_result_t ccl_allgather_compressed(const void *sendbuf, void *recvbuf, size_t sendcount,
                                      ccl_datatype_t dtype, ccl_compressor_t comp,
                                      ccl_comm_t comm);

/* recvbuf[i] = sum (or average) over ranks of what each rank's compressor sends for
 * sendbuf[rank*recvcount + i], for i < recvcount: sharded (ZeRO/FSDP) training's gradient
 * reduction. sendbuf holds nranks*recvcount elements and the compressor is made for that
 * many: its error feedback covers the whole input. Each rank encodes its part of every other
 * rank's shard once and sends it there, where the parts are summed in float32 with the
 * rank's own part, unencoded: one quantization per element (the allreduce makes two), and
 * each rank sends (nranks-1)/nranks of the encoded input. Codecs: quantizers, casts, sign
 * and the sparse codecs, with ef=none or ef=classic (dgc's own state for dgc); powersgd and
 * EF21 are refused with CCL_ERR_INVALID_ARG, the algo= key is ignored, and "auto", "none",
 * other dtypes and ops run the exact ccl_reduce_scatter. A NaN or Inf on any rank: every
 * rank returns CCL_ERR_INVALID_ARG, the state kept, as for the allreduce; a sum of finite
 * values that overflows float32 is returned as the infinity, as the exact sum would be.
 * In place when recvbuf == sendbuf + rank*recvcount*sizeof(dtype), as ccl_reduce_scatter. */
ccl_result_t ccl_reduce_scatter_compressed(const void *sendbuf, void *recvbuf, size_t recvcount,
                                           ccl_datatype_t dtype, ccl_redop_t op,
                                           ccl_compressor_t comp, ccl_comm_t comm);

/* ---- Robust aggregation -------------------------------------------------------------
 *
 * Collaborative training with some workers that send garbage (a bug, a poisoned shard, an
 * attacker): every rank's vector goes to every other rank, straight from its sender (no rank
 * relays another's), and a rule robust to f faulty vectors out of nranks combines them.
 * MoNNA (nearest-neighbour averaging, CCL_ROBUST_NNA, with local momentum: the Python
 * package's cclz.torch.MoNNA) is one; docs/robust.md defines each rule and its bound.
 *
 * Byzantine peers (over authenticated channels, which cclz assumes but does not enforce:
 * see docs/robust.md): in a robust call, a peer whose message fails a check (a header of another
 * call or of other arguments, a wrong length, a compressed payload the decoder refuses, a NaN
 * or Inf in its vector) counts as one of the f faulty ranks for that call: its vector is
 * dropped, the rule runs on the others with f less one, and params.faults names it. With at
 * most f such peers the call succeeds and the communicator stays usable; with more, every
 * rank that saw more returns CCL_ERR_INVALID_PAYLOAD and the communicator stays usable. A
 * peer that sends nothing, breaks its connection or sends a failure notice is a crash fault:
 * the call fails as any other (CCL_ERR_TIMEOUT after CCLZ_TIMEOUT, CCL_ERR_TRANSPORT,
 * CCL_ERR_REMOTE). A peer can also send different vectors to different ranks; the rules
 * bound each rank's result all the same, but then ranks may differ. CCLZ_CHECK_CALLS does
 * not compare robust calls beforehand: one rank's arguments would fail the call everywhere. */
typedef enum {
    CCL_ROBUST_MEAN = 0,     /* the plain average of the vectors that passed the checks */
    CCL_ROBUST_NNA,          /* the mean of the nranks - f vectors nearest (L2) to this rank's
                              * own: results differ per rank, by design (MoNNA's mixing) */
    CCL_ROBUST_MEDIAN,       /* coordinate-wise median (mean of the two middle values) */
    CCL_ROBUST_TRIMMED_MEAN, /* coordinate-wise mean without the f smallest and f largest */
    CCL_ROBUST_KRUM,         /* the vector whose nranks - f - 2 nearest are nearest (squared
                              * L2 sum); needs nranks > 2f + 2 */
    CCL_ROBUST_MULTI_KRUM,   /* the mean of the multi_k best-scored vectors by Krum's score */
    CCL_ROBUST_GEOMED,       /* geometric median, smoothed Weiszfeld (iters, nu) from 0 */
    CCL_ROBUST_CCLIP,        /* centered clipping: from the coordinate-wise median, iters
                              * times v += mean of clip(x_i - v, tau) */
    CCL_ROBUST_NUM_RULES
} ccl_robust_rule_t;

/* Pre-aggregation steps, applied in this order before the rule. */
#define CCL_ROBUST_PRE_ARC (1u << 0) /* adaptive robust clipping: the floor(2f(n-f)/n)
                                      * largest vectors clipped to the next one's norm (n and
                                      * f less the dropped vectors) */
#define CCL_ROBUST_PRE_NNM (1u << 1) /* nearest-neighbour mixing: every vector replaced by
                                      * the mean of its nranks - f nearest */

/* Zero fields take their defaults. Every rank passes the same values (faults aside): a rank
 * that does not sends headers the others refuse, and counts as faulty. */
typedef struct {
    ccl_robust_rule_t rule;
    int      f;        /* faulty ranks tolerated: 2f < nranks (Krum: 2f + 2 < nranks) */
    unsigned pre;      /* CCL_ROBUST_PRE_* */
    int      multi_k;  /* Multi-Krum: vectors averaged, 1 .. nranks - f; 0: nranks - f */
    int      iters;    /* geomed and cclip: iterations; 0: 3 */
    float    nu;       /* geomed: smoothing distance; 0: 0.1 */
    float    tau;      /* cclip: clipping radius, > 0 (required) */
    uint8_t *faults;   /* NULL, or nranks bytes: set per rank to a ccl_fault_t for this call
                        * (written when the call is done, as recvbuf) */
} ccl_robust_params_t;

/* Why a peer's vector was dropped in a robust call. */
typedef enum {
    CCL_FAULT_NONE = 0,
    CCL_FAULT_MESSAGE,   /* malformed, of another call or other arguments, wrong length */
    CCL_FAULT_PAYLOAD,   /* compressed bytes the decoder refused */
    CCL_FAULT_NONFINITE  /* NaN or Inf in the vector (or no vector: a compressed sender's
                          * gradient was not finite) */
} ccl_fault_t;

/* recvbuf = params->rule over every rank's sendbuf (count float32 each; on the scale of one
 * vector, as CCL_AVG). sendbuf == recvbuf is in place. comp: NULL or a compressor of "none"
 * sends the vectors exactly; otherwise each vector travels encoded by its sender's
 * compressor (with its error feedback) and is decoded before the rule, the sender's own
 * included, so that every rank combines the same vectors. Compressed, every sender encodes
 * with its own scales and a seed derived from the call (no rank chooses another's
 * resolution or randomness): codecs with a scale agreed across ranks (terngrad), sign's
 * majority vote, powersgd and EF21 are refused, as is "auto". Invalid parameters or
 * arguments return CCL_ERR_INVALID_ARG before anything is sent. Every rule but NNA gives
 * bit-identical results on every rank that received the same vectors. This rank's own
 * vector holding NaN or Inf: it is still sent (its peers drop it), and this rank returns
 * CCL_ERR_INVALID_ARG with the communicator usable. */
ccl_result_t ccl_allreduce_robust(const void *sendbuf, void *recvbuf, size_t count,
                                  ccl_datatype_t dtype, const ccl_robust_params_t *params,
                                  ccl_compressor_t comp, ccl_comm_t comm);

/* ---- Nonblocking calls ---------------------------------------------------------------
 *
 * ccl_iX(..., &req) is ccl_X(...) that returns as soon as its arguments are checked (a bad
 * one gives the blocking call's error and no request); the collective itself runs later and
 * its result is the return value of the ccl_test that reports it done, or of ccl_wait.
 *  - Order: the calls on one communicator, blocking and nonblocking, run one at a time in
 *    the order they were made, and every rank must make the same sequence (as MPI
 *    requires). A blocking call made while requests are pending runs after them.
 *  - Progress: the communicator's first nonblocking call starts a progress thread that runs
 *    the queued calls while the caller computes; it sleeps on the transport's events while
 *    it waits for messages and on a condition variable when idle. With
 *    CCLZ_PROGRESS_THREAD=0 there is no thread: queued calls run inside ccl_test and
 *    ccl_wait (ccl_test then runs the queue up to its request and reports it done).
 *  - Buffers belong to the library from the call until the request is reported done. A
 *    compressor takes one call at a time: a second call on it, blocking or not, while one
 *    is pending gives CCL_ERR_INVALID_ARG (so does ccl_compressor_destroy).
 *  - Errors: each request returns its own call's result. An error that fails the
 *    communicator (a dead peer, a timeout, a mismatch, a hostile payload) is returned by
 *    every later request too; a compressed step refused for NaN or Inf fails its own request
 *    on every rank and the following ones run.
 *  - Threads: calls on one communicator may come from different threads: one may issue
 *    while another waits or tests, and several may wait on different requests. Each request
 *    is waited on (or tested to completion) once, by one thread. ccl_get_last_error(comm)
 *    then holds the message of the request that failed unless another thread's call on comm
 *    failed since. ccl_comm_abort from any thread makes the running call and every queued
 *    one complete with CCL_ERR_ABORTED, releases threads blocked in ccl_wait, and returns.
 *  - Destroy: ccl_comm_destroy lets every issued call run first, then frees the requests
 *    never waited on; a handle must not be used after it. After ccl_comm_abort every
 *    request stays valid and done: ccl_test or ccl_wait on it returns its result
 *    (CCL_ERR_ABORTED for the calls the abort cut short) and frees it; wait on each.
 *  - The _stream calls have no nonblocking form yet. */
typedef struct ccl_request *ccl_request_t;

ccl_result_t ccl_iallreduce(const void *sendbuf, void *recvbuf, size_t count,
                            ccl_datatype_t dtype, ccl_redop_t op, ccl_comm_t comm,
                            ccl_request_t *req_p);
ccl_result_t ccl_iallgather(const void *sendbuf, void *recvbuf, size_t sendcount,
                            ccl_datatype_t dtype, ccl_comm_t comm, ccl_request_t *req_p);
ccl_result_t ccl_ireduce_scatter(const void *sendbuf, void *recvbuf, size_t recvcount,
                                 ccl_datatype_t dtype, ccl_redop_t op, ccl_comm_t comm,
                                 ccl_request_t *req_p);
ccl_result_t ccl_ibroadcast(const void *sendbuf, void *recvbuf, size_t count,
                            ccl_datatype_t dtype, int root, ccl_comm_t comm,
                            ccl_request_t *req_p);
ccl_result_t ccl_ibarrier(ccl_comm_t comm, ccl_request_t *req_p);
ccl_result_t ccl_iallreduce_compressed(const void *sendbuf, void *recvbuf, size_t count,
                                       ccl_datatype_t dtype, ccl_redop_t op,
                                       ccl_compressor_t comp, ccl_comm_t comm,
                                       ccl_request_t *req_p);
ccl_result_t ccl_iallgather_compressed(const void *sendbuf, void *recvbuf, size_t sendcount,
                                       ccl_datatype_t dtype, ccl_compressor_t comp,
                                       ccl_comm_t comm, ccl_request_t *req_p);
ccl_result_t ccl_ireduce_scatter_compressed(const void *sendbuf, void *recvbuf,
                                            size_t recvcount, ccl_datatype_t dtype,
                                            ccl_redop_t op, ccl_compressor_t comp,
                                            ccl_comm_t comm, ccl_request_t *req_p);
ccl_result_t ccl_iallreduce_robust(const void *sendbuf, void *recvbuf, size_t count,
                                   ccl_datatype_t dtype, const ccl_robust_params_t *params,
                                   ccl_compressor_t comp, ccl_comm_t comm,
                                   ccl_request_t *req_p);

/* *done_p = 1 and the call's result when *req_p is done (the request is then freed and
 * *req_p set to NULL); else *done_p = 0 and CCL_SUCCESS. A NULL *req_p is done, with
 * CCL_SUCCESS. */
ccl_result_t ccl_test(ccl_request_t *req_p, int *done_p);
/* Blocks until *req_p is done; returns the call's result, frees the request and sets
 * *req_p to NULL. A NULL *req_p returns CCL_SUCCESS at once. */
ccl_result_t ccl_wait(ccl_request_t *req_p);
/* ccl_wait on each of reqs[0..n-1], in that order; every one is freed and set to NULL.
 * Returns the first error among them, in array order, or CCL_SUCCESS. */
ccl_result_t ccl_waitall(int n, ccl_request_t *reqs);

/* ---- Traffic counters ----------------------------------------------------------------
 * Cumulative counts since the communicator or compressor was made, on this rank: calls
 * that ran (blocking or not, failed ones included), steps refused for a NaN or Inf
 * (compressed and robust calls), the bytes of input the calls were given (an allgather's and a
 * broadcast's send count, a reduce-scatter's whole input), and the bytes this rank handed
 * to the transport for them, message headers included. A compressor's counts are those of
 * the calls made with it, the messages its codec agrees on (shared scales) included; the
 * communicator's count every call, and the messages of ccl_compressor_create("auto") and
 * CCLZ_CHECK_CALLS too. Read them between calls (a call in flight is counted when it
 * ends). */
typedef struct {
    uint64_t calls;
    uint64_t skipped;
    uint64_t bytes_in;
    uint64_t bytes_sent;
} ccl_stats_t;

ccl_result_t ccl_comm_get_stats(ccl_comm_t comm, ccl_stats_t *stats);
ccl_result_t ccl_compressor_get_stats(ccl_compressor_t comp, ccl_stats_t *stats);

/* Size in bytes of one element of dtype, or 0 for an unknown dtype. */
size_t ccl_datatype_size(ccl_datatype_t dtype);

/* ---- CUDA streams and device buffers ------------------------------------------------
 * The *_stream calls are the calls above with a CUDA stream (a cudaStream_t; NULL for the
 * legacy default stream), as NCCL takes one. Each buffer may be host or device memory (each
 * is looked at on its own). A device input is read after the work already queued on the
 * stream; the call returns once the result is in recvbuf (a device recvbuf is written in the
 * stream's order, and the stream is synchronized), so work queued after it sees the result.
 * ccl_allreduce_compressed_stream and ccl_allgather_compressed_stream with both buffers on
 * the GPU (float32; sum or avg; a codec the GPU encodes: all but terngrad, and for the
 * allreduce not sign's majority vote or powersgd) encode and decode there and keep the
 * compressor's error-feedback state there; only encodings cross PCIe.
 * All ranks of a call must then pass device buffers. Other calls, or CCLZ_GPU_ENCODE=0, stage
 * device buffers through pinned host memory and run the collective on the host. Built
 * without CUDA, a stream other than NULL gives CCL_ERR_UNSUPPORTED. */
typedef void *ccl_stream_t;

ccl_result_t ccl_allreduce_stream(const void *sendbuf, void *recvbuf, size_t count,
                                  ccl_datatype_t dtype, ccl_redop_t op, ccl_comm_t comm,
                                  ccl_stream_t stream);
ccl_result_t ccl_allgather_stream(const void *sendbuf, void *recvbuf, size_t sendcount,
                                  ccl_datatype_t dtype, ccl_comm_t comm, ccl_stream_t stream);
ccl_result_t ccl_reduce_scatter_stream(const void *sendbuf, void *recvbuf, size_t recvcount,
                                       ccl_datatype_t dtype, ccl_redop_t op, ccl_comm_t comm,
                                       ccl_stream_t stream);
ccl_result_t ccl_broadcast_stream(const void *sendbuf, void *recvbuf, size_t count,
                                  ccl_datatype_t dtype, int root, ccl_comm_t comm,
                                  ccl_stream_t stream);
ccl_result_t ccl_allreduce_compressed_stream(const void *sendbuf, void *recvbuf, size_t count,
                                             ccl_datatype_t dtype, ccl_redop_t op,
                                             ccl_compressor_t comp, ccl_comm_t comm,
                                             ccl_stream_t stream);
ccl_result_t ccl_allgather_compressed_stream(const void *sendbuf, void *recvbuf,
                                             size_t sendcount, ccl_datatype_t dtype,
                                             ccl_compressor_t comp, ccl_comm_t comm,
                                             ccl_stream_t stream);
ccl_result_t ccl_reduce_scatter_compressed_stream(const void *sendbuf, void *recvbuf,
                                                  size_t recvcount, ccl_datatype_t dtype,
                                                  ccl_redop_t op, ccl_compressor_t comp,
                                                  ccl_comm_t comm, ccl_stream_t stream);

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif

#ifdef __cplusplus
}
#endif
#endif /* CCLZ_H */
