"""_lib.py: libcclz.so through ctypes, with the prototype of every C call the package makes.

ctypes rather than a C extension: the package then needs no Python headers or compiler, works
with any CPython 3 that can load libcclz.so, and buffers pass as raw pointers (a tensor's
data_ptr(), an array's address), so nothing is copied. A call costs a few microseconds more
than from C, small beside a collective's latency.

The library is found, in order: $CCLZ_LIBRARY; the build tree this package sits in
(python/cclz -> ../../.libs); the libdir `make install` recorded; the system's loader."""
import ctypes
import ctypes.util
import os

_here = os.path.dirname(os.path.abspath(__file__))


def _installed_libdir() -> str:
    try:
        from ._installed import LIBDIR  # written by make install
        return os.path.join(LIBDIR, "libcclz.so.0")
    except ImportError:
        return ""


def _load() -> ctypes.CDLL:
    tried = []
    for path in (os.environ.get("CCLZ_LIBRARY"),
                 os.path.join(_here, "..", "..", ".libs", "libcclz.so"),
                 _installed_libdir(), "libcclz.so.0", ctypes.util.find_library("cclz")):
        if not path:
            continue
        try:
            return ctypes.CDLL(path)
        except OSError as e:
            tried.append(f"{path}: {e}")
    raise ImportError("cclz: cannot load libcclz.so (set CCLZ_LIBRARY to its path); tried "
                      + "; ".join(tried))


lib = _load()

c_int, c_size_t, c_void_p, c_char_p = ctypes.c_int, ctypes.c_size_t, ctypes.c_void_p, ctypes.c_char_p
comm_t = c_void_p
comp_t = c_void_p
req_t = c_void_p
UNIQUE_ID_BYTES = 128
UNIQUE_ID_STRLEN = 2 * UNIQUE_ID_BYTES + 1


class UniqueId(ctypes.Structure):
    _fields_ = [("internal", ctypes.c_char * UNIQUE_ID_BYTES)]


class Stats(ctypes.Structure):
    _fields_ = [("calls", ctypes.c_uint64), ("skipped", ctypes.c_uint64),
                ("bytes_in", ctypes.c_uint64), ("bytes_sent", ctypes.c_uint64)]


class RobustParams(ctypes.Structure):
    """ccl_robust_params_t."""
    _fields_ = [("rule", ctypes.c_int), ("f", ctypes.c_int), ("pre", ctypes.c_uint),
                ("multi_k", ctypes.c_int), ("iters", ctypes.c_int), ("nu", ctypes.c_float),
                ("tau", ctypes.c_float), ("faults", ctypes.c_void_p)]


def _proto(name, *args):
    fn = getattr(lib, name)
    fn.restype = c_int
    fn.argtypes = list(args)
    return fn


P = ctypes.POINTER
get_error_string = getattr(lib, "ccl_get_error_string")
get_error_string.restype = c_char_p
get_error_string.argtypes = [c_int]
get_last_error = getattr(lib, "ccl_get_last_error")
get_last_error.restype = c_char_p
get_last_error.argtypes = [comm_t]
compressor_spec = getattr(lib, "ccl_compressor_spec")
compressor_spec.restype = c_char_p
compressor_spec.argtypes = [comp_t]
compressor_state_size = getattr(lib, "ccl_compressor_state_size")
compressor_state_size.restype = c_size_t
compressor_state_size.argtypes = [comp_t]

get_unique_id = _proto("ccl_get_unique_id", P(UniqueId))
unique_id_to_string = _proto("ccl_unique_id_to_string", P(UniqueId), c_char_p, c_size_t)
unique_id_from_string = _proto("ccl_unique_id_from_string", c_char_p, P(UniqueId))
comm_init_rank = _proto("ccl_comm_init_rank", P(comm_t), c_int, UniqueId, c_int)
comm_init_from_env = _proto("ccl_comm_init_from_env", P(comm_t))
comm_destroy = _proto("ccl_comm_destroy", comm_t)
comm_abort = _proto("ccl_comm_abort", comm_t)
comm_rank = _proto("ccl_comm_rank", comm_t, P(c_int))
comm_size = _proto("ccl_comm_size", comm_t, P(c_int))
comm_get_stats = _proto("ccl_comm_get_stats", comm_t, P(Stats))
comm_split = _proto("ccl_comm_split", comm_t, c_int, c_int, P(comm_t))


class HostInfo(ctypes.Structure):
    """ccl_host_info_t."""
    _fields_ = [("host", c_int), ("nhosts", c_int), ("local_rank", c_int),
                ("local_size", c_int), ("hier", c_int)]


comm_host_info = _proto("ccl_comm_host_info", comm_t, P(HostInfo))

iallreduce = _proto("ccl_iallreduce", c_void_p, c_void_p, c_size_t, c_int, c_int, comm_t, P(req_t))
iallgather = _proto("ccl_iallgather", c_void_p, c_void_p, c_size_t, c_int, comm_t, P(req_t))
ireduce_scatter = _proto("ccl_ireduce_scatter", c_void_p, c_void_p, c_size_t, c_int, c_int,
                         comm_t, P(req_t))
ibroadcast = _proto("ccl_ibroadcast", c_void_p, c_void_p, c_size_t, c_int, c_int, comm_t, P(req_t))
ibarrier = _proto("ccl_ibarrier", comm_t, P(req_t))
iallreduce_compressed = _proto("ccl_iallreduce_compressed", c_void_p, c_void_p, c_size_t, c_int,
                               c_int, comp_t, comm_t, P(req_t))
iallgather_compressed = _proto("ccl_iallgather_compressed", c_void_p, c_void_p, c_size_t, c_int,
                               comp_t, comm_t, P(req_t))
ireduce_scatter_compressed = _proto("ccl_ireduce_scatter_compressed", c_void_p, c_void_p,
                                    c_size_t, c_int, c_int, comp_t, comm_t, P(req_t))
iallreduce_robust = _proto("ccl_iallreduce_robust", c_void_p, c_void_p, c_size_t, c_int,
                           P(RobustParams), comp_t, comm_t, P(req_t))
test = _proto("ccl_test", P(req_t), P(c_int))
wait = _proto("ccl_wait", P(req_t))

allreduce_stream = _proto("ccl_allreduce_stream", c_void_p, c_void_p, c_size_t, c_int, c_int,
                          comm_t, c_void_p)
allgather_stream = _proto("ccl_allgather_stream", c_void_p, c_void_p, c_size_t, c_int, comm_t,
                          c_void_p)
reduce_scatter_stream = _proto("ccl_reduce_scatter_stream", c_void_p, c_void_p, c_size_t, c_int,
                               c_int, comm_t, c_void_p)
broadcast_stream = _proto("ccl_broadcast_stream", c_void_p, c_void_p, c_size_t, c_int, c_int,
                          comm_t, c_void_p)
allreduce_compressed_stream = _proto("ccl_allreduce_compressed_stream", c_void_p, c_void_p,
                                     c_size_t, c_int, c_int, comp_t, comm_t, c_void_p)
allgather_compressed_stream = _proto("ccl_allgather_compressed_stream", c_void_p, c_void_p,
                                     c_size_t, c_int, comp_t, comm_t, c_void_p)
reduce_scatter_compressed_stream = _proto("ccl_reduce_scatter_compressed_stream", c_void_p,
                                          c_void_p, c_size_t, c_int, c_int, comp_t, comm_t,
                                          c_void_p)

compressor_create = _proto("ccl_compressor_create", comm_t, c_char_p, c_size_t, c_int, P(comp_t))
compressor_destroy = _proto("ccl_compressor_destroy", comp_t)
compressor_reset = _proto("ccl_compressor_reset", comp_t)


class Tensor(ctypes.Structure):
    """ccl_tensor_t: one tensor of a compressor's layout."""
    _fields_ = [("count", c_size_t), ("rows", c_size_t), ("cols", c_size_t)]


compressor_set_layout = _proto("ccl_compressor_set_layout", comp_t, c_int, P(Tensor))
compressor_copy_state = _proto("ccl_compressor_copy_state", comp_t, c_size_t, comp_t, c_size_t,
                               c_size_t)
compressor_save = _proto("ccl_compressor_save", comp_t, c_void_p, c_size_t, P(c_size_t))
compressor_restore = _proto("ccl_compressor_restore", comp_t, c_void_p, c_size_t)
compressor_get_stats = _proto("ccl_compressor_get_stats", comp_t, P(Stats))

allreduce = _proto("ccl_allreduce", c_void_p, c_void_p, c_size_t, c_int, c_int, comm_t)
allgather = _proto("ccl_allgather", c_void_p, c_void_p, c_size_t, c_int, comm_t)
reduce_scatter = _proto("ccl_reduce_scatter", c_void_p, c_void_p, c_size_t, c_int, c_int, comm_t)
broadcast = _proto("ccl_broadcast", c_void_p, c_void_p, c_size_t, c_int, c_int, comm_t)
barrier = _proto("ccl_barrier", comm_t)
allreduce_compressed = _proto("ccl_allreduce_compressed", c_void_p, c_void_p, c_size_t, c_int,
                              c_int, comp_t, comm_t)
allgather_compressed = _proto("ccl_allgather_compressed", c_void_p, c_void_p, c_size_t, c_int,
                              comp_t, comm_t)
allreduce_robust = _proto("ccl_allreduce_robust", c_void_p, c_void_p, c_size_t, c_int,
                          P(RobustParams), comp_t, comm_t)
reduce_scatter_compressed = _proto("ccl_reduce_scatter_compressed", c_void_p, c_void_p, c_size_t,
                                   c_int, c_int, comp_t, comm_t)
