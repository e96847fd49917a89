"""cclz: collective communication with compression, on numpy arrays and torch tensors.

    import cclz
    comm = cclz.Communicator.from_env()          # cclz_run, torchrun, mpirun, srun
    comm.allreduce(grad, op="avg")               # in place; blocking
    work = comm.allreduce(grad, async_op=True)   # nonblocking: work.wait(), work.get_future()
    comp = cclz.Compressor(comm, "int:bits=8", grad.numel(), grad.dtype)
    comp.allreduce(grad, op="avg")               # error feedback kept in comp
    comm.allreduce_robust(params, rule="nna", f=1)  # Byzantine-robust mixing (MoNNA)

Buffers are passed to libcclz by address: nothing is copied, and a buffer must be contiguous.
A nonblocking call keeps its buffers alive until it is done. Errors raise a subclass of
CclzError named after the C result code, with ccl_get_last_error's message; a compressed
step refused because some rank's gradient holds NaN or Inf raises NonFiniteGradient (on
every rank), which a training loop catches to skip the step."""
from __future__ import annotations

import ctypes
import queue
import threading
from typing import Any, Callable, Dict, List, Optional, Tuple

from . import _lib as L

__all__ = ["Communicator", "Compressor", "Work", "CclzError", "InvalidArgument",
           "NonFiniteGradient", "NoMemory", "SystemCallError", "TransportError",
           "TimeoutError", "MismatchError", "RemoteError", "AbortedError", "UnsupportedError",
           "InternalError", "BootstrapError", "InvalidPayloadError", "unique_id",
           "RULES", "PRE_STEPS", "FAULTS"]


# ---- errors -------------------------------------------------------------------------------

class CclzError(RuntimeError):
    """A cclz call failed. code: the C result code; the message is ccl_get_last_error's."""

    def __init__(self, code: int, message: str):
        super().__init__(f"{L.get_error_string(code).decode()}: {message}")
        self.code = code


class InvalidArgument(CclzError, ValueError):
    """CCL_ERR_INVALID_ARG: a bad argument, refused before anything was sent."""


class NonFiniteGradient(InvalidArgument):
    """A compressed step refused on every rank because some rank's input held NaN or Inf;
    the compressor's error-feedback state is unchanged and the communicator usable."""


class NoMemory(CclzError, MemoryError):
    """CCL_ERR_NO_MEMORY."""


class SystemCallError(CclzError):
    """CCL_ERR_SYSTEM: a system call failed."""


class TransportError(CclzError):
    """CCL_ERR_TRANSPORT: UCX reported an error, or a peer is gone."""


class TimeoutError(CclzError):  # noqa: A001 (the C name; also a builtin's)
    """CCL_ERR_TIMEOUT: nothing moved for CCLZ_TIMEOUT seconds."""


class MismatchError(CclzError):
    """CCL_ERR_MISMATCH: ranks made different calls."""


class RemoteError(CclzError):
    """CCL_ERR_REMOTE: another rank failed and said so."""


class AbortedError(CclzError):
    """CCL_ERR_ABORTED: the communicator was aborted."""


class UnsupportedError(CclzError):
    """CCL_ERR_UNSUPPORTED."""


class InternalError(CclzError):
    """CCL_ERR_INTERNAL."""


class BootstrapError(CclzError):
    """CCL_ERR_BOOTSTRAP: the rendezvous failed."""


class InvalidPayloadError(CclzError):
    """CCL_ERR_INVALID_PAYLOAD: a peer's compressed bytes failed a check."""


_ERRORS = {-1: InvalidArgument, -2: NoMemory, -3: SystemCallError, -4: TransportError,
           -5: TimeoutError, -6: MismatchError, -7: RemoteError, -8: AbortedError,
           -9: UnsupportedError, -10: InternalError, -11: BootstrapError,
           -12: InvalidPayloadError}


def _error(code: int, handle: Optional[int], message: Optional[str] = None) -> CclzError:
    if message is None:
        message = L.get_last_error(handle).decode(errors="replace")
    return _ERRORS.get(code, CclzError)(code, message)


def _check(code: int, handle: Optional[int] = None) -> None:
    """Raises for a failed call: handle is the communicator the call reports its error on,
    None for calls that take none (a compressor's layout, state or stats), which report in
    the thread's last error."""
    if code != 0:
        raise _error(code, handle)


# ---- buffers ------------------------------------------------------------------------------

_DTYPES = {"float32": 0, "float16": 1, "bfloat16": 2, "float64": 3, "int8": 4, "uint8": 5,
           "int32": 6, "int64": 7}
_SIZES = {0: 4, 1: 2, 2: 2, 3: 8, 4: 1, 5: 1, 6: 4, 7: 8}
_OPS = {"sum": 0, "prod": 1, "min": 2, "max": 3, "avg": 4}
# ccl_robust_rule_t, CCL_ROBUST_PRE_*, ccl_fault_t
RULES = ("mean", "nna", "median", "trimmed_mean", "krum", "multi_krum", "geomed", "cclip")
PRE_STEPS = {"arc": 1, "nnm": 2}
FAULTS = ("none", "message", "payload", "nonfinite")


def _dtype_code(dtype: Any) -> int:
    """A numpy or torch dtype, or its name, as a ccl_datatype_t."""
    name = str(dtype).replace("torch.", "")
    if name not in _DTYPES:
        name = getattr(dtype, "name", name)  # numpy dtype objects and scalar types
        if not isinstance(name, str) or name not in _DTYPES:
            name = getattr(getattr(dtype, "__name__", None), "lower", lambda: None)()
    if name not in _DTYPES:
        raise InvalidArgument(-1, f"dtype {dtype!r} is not one cclz moves "
                                  f"({', '.join(_DTYPES)})")
    return _DTYPES[name]


def _op_code(op: str) -> int:
    if op not in _OPS:
        raise InvalidArgument(-1, f"op {op!r} is not one of {', '.join(_OPS)}")
    return _OPS[op]


class _Buf:
    """A tensor's or array's address, element count, dtype and device, without a copy."""
    __slots__ = ("obj", "ptr", "numel", "dtype", "cuda")

    def __init__(self, obj: Any, what: str):
        self.obj = obj
        if hasattr(obj, "data_ptr") and hasattr(obj, "is_contiguous"):  # torch.Tensor
            if not obj.is_contiguous():
                raise InvalidArgument(-1, f"{what} must be contiguous (cclz copies nothing)")
            self.ptr, self.numel = obj.data_ptr(), obj.numel()
            self.dtype = _dtype_code(obj.dtype)
            self.cuda = bool(obj.is_cuda)
        elif hasattr(obj, "__array_interface__"):  # numpy.ndarray
            if not obj.flags["C_CONTIGUOUS"]:
                raise InvalidArgument(-1, f"{what} must be C-contiguous (cclz copies nothing)")
            if not obj.flags["WRITEABLE"] and what != "input":
                raise InvalidArgument(-1, f"{what} is read-only")
            self.ptr, self.numel = obj.ctypes.data, obj.size
            self.dtype = _dtype_code(obj.dtype)
            self.cuda = False
        else:
            raise InvalidArgument(-1, f"{what} must be a torch.Tensor or a numpy.ndarray, "
                                      f"not {type(obj).__name__}")


def _cuda_stream(buf: _Buf) -> int:
    import torch
    return torch.cuda.current_stream(buf.obj.device).cuda_stream


# ---- requests -----------------------------------------------------------------------------

class Work:
    """A call in progress (or done). wait() returns its result (the output tensor or array)
    or raises its error; is_completed() asks without blocking; get_future() gives a
    torch.futures.Future completed by the communicator's one completion thread."""

    def __init__(self, comm: "Communicator", req: Optional[ctypes.c_void_p], result: Any,
                 keep: Tuple[Any, ...], comp: Optional["Compressor"] = None,
                 skipped_before: int = 0, done_error: Optional[BaseException] = None,
                 counter: Any = None):
        self._comm = comm
        self._req = req
        self._result = result
        self._keep = keep  # the buffers, alive until the call is done
        self._comp = comp
        # What counts refused non-finite steps (comp, or the communicator for robust calls),
        # and its count before the call was issued.
        self._counter = counter if counter is not None else comp
        self._skipped = skipped_before
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._waiting = False
        self._error: Optional[BaseException] = done_error
        self._callbacks: List[Callable[["Work"], None]] = []
        if req is None:
            self._finish(0, None)

    def _finish(self, code: int, message: Optional[str]) -> None:
        if code != 0 and self._error is None:
            err = _error(code, self._comm._handle, message)
            if (code == -1 and self._counter is not None and
                    self._counter._skipped() > self._skipped):
                err = NonFiniteGradient(code, str(err).split(": ", 1)[-1])
            self._error = err
        if self._comp is not None:
            self._comp._inflight = None
        self._keep = ()
        with self._lock:  # add_done_callback checks and appends under it
            self._done.set()
            callbacks, self._callbacks = self._callbacks, []
        for cb in callbacks:
            cb(self)

    def _outcome(self) -> Any:
        if self._error is not None:
            raise self._error
        return self._result

    def wait(self) -> Any:
        """Blocks until the call is done; returns its output or raises its error."""
        with self._lock:
            if self._done.is_set():
                return self._outcome()
            mine = not self._waiting
            self._waiting = True
        if mine:
            code = L.wait(ctypes.byref(self._req))  # ctypes lets go of the GIL meanwhile
            self._finish(code, None)
        else:
            self._done.wait()
        return self._outcome()

    def is_completed(self) -> bool:
        """Whether the call is done (its result is then what wait() returns)."""
        with self._lock:
            if self._done.is_set() or self._waiting:
                return self._done.is_set()
            done = ctypes.c_int(0)
            code = L.test(ctypes.byref(self._req), ctypes.byref(done))
            if done.value:
                self._waiting = True
        if done.value:
            self._finish(code, None)
        return self._done.is_set()

    def exception(self) -> Optional[BaseException]:
        """The error the call ended with, once done (None if it succeeded)."""
        return self._error if self._done.is_set() else None

    def add_done_callback(self, fn: Callable[["Work"], None]) -> None:
        """Calls fn(work) once the call is done: at once if it is, else from the
        communicator's completion thread, which waits on calls in the order they were given
        to it (one thread for all, none per call)."""
        with self._lock:
            if not self._done.is_set():
                self._callbacks.append(fn)
                self._comm._complete_later(self)
                return
        fn(self)

    def get_future(self):
        """A torch.futures.Future of the output (or of the error), completed through
        add_done_callback."""
        import torch
        fut = torch.futures.Future()

        def settle(w: "Work") -> None:
            if w._error is not None:
                fut.set_exception(w._error)
            else:
                fut.set_result(w._result)

        self.add_done_callback(settle)
        return fut


# ---- communicator -------------------------------------------------------------------------

def unique_id() -> str:
    """A new rendezvous id as text, for Communicator(nranks, id, rank) on every rank; this
    process serves the rendezvous (as ncclGetUniqueId)."""
    uid = L.UniqueId()
    _check(L.get_unique_id(ctypes.byref(uid)))
    buf = ctypes.create_string_buffer(L.UNIQUE_ID_STRLEN)
    _check(L.unique_id_to_string(ctypes.byref(uid), buf, len(buf)))
    return buf.value.decode()


class Communicator:
    """A cclz communicator. Communicator(nranks, uid, rank) joins the rendezvous of
    unique_id()'s text; Communicator.from_env() reads what the launcher set."""

    def __init__(self, nranks: int, uid: str, rank: int):
        parsed = L.UniqueId()
        _check(L.unique_id_from_string(uid.encode(), ctypes.byref(parsed)))
        handle = L.comm_t()
        _check(L.comm_init_rank(ctypes.byref(handle), nranks, parsed, rank))
        self._adopt(handle)

    @classmethod
    def from_env(cls) -> "Communicator":
        """cclz_run, torchrun, mpirun or srun's variables (see ccl_comm_init_from_env)."""
        self = cls.__new__(cls)
        handle = L.comm_t()
        _check(L.comm_init_from_env(ctypes.byref(handle)))
        self._adopt(handle)
        return self

    def _adopt(self, handle: ctypes.c_void_p) -> None:
        self._handle = handle.value
        r, s = ctypes.c_int(), ctypes.c_int()
        _check(L.comm_rank(self._handle, ctypes.byref(r)), self._handle)
        _check(L.comm_size(self._handle, ctypes.byref(s)), self._handle)
        self.rank, self.size = r.value, s.value
        self._pending: "queue.Queue[Optional[Work]]" = queue.Queue()
        self._completer: Optional[threading.Thread] = None
        self._completer_lock = threading.Lock()

    def __enter__(self) -> "Communicator":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.destroy()

    def _h(self) -> int:
        if self._handle is None:
            raise InvalidArgument(-1, "the communicator was destroyed")
        return self._handle

    # Futures: one thread waits on calls in the order their futures were asked for.
    def _complete_later(self, work: Work) -> None:
        with self._completer_lock:
            if self._completer is None:
                self._completer = threading.Thread(target=self._complete_loop, daemon=True,
                                                   name=f"cclz-futures-{self.rank}")
                self._completer.start()
        self._pending.put(work)

    def _complete_loop(self) -> None:
        while True:
            work = self._pending.get()
            if work is None:
                return
            try:
                work.wait()
            except BaseException:  # the error is the future's, set by its callback
                pass

    def _run(self, blocking: Callable[[], int], issue: Callable[[Any], int], result: Any,
             keep: Tuple[Any, ...], async_op: bool, comp: Optional["Compressor"] = None,
             counter: Any = None) -> Any:
        """A blocking call, or an issued one as a Work. A -1 while counter's (default comp's)
        refused steps grew is NonFiniteGradient."""
        counter = counter if counter is not None else comp
        skipped = counter._skipped() if counter is not None else 0
        if not async_op:
            code = blocking()
            if code == -1 and counter is not None and counter._skipped() > skipped:
                raise NonFiniteGradient(code, L.get_last_error(self._handle).decode())
            _check(code, self._handle)
            return result
        req = L.req_t()
        _check(issue(ctypes.byref(req)), self._handle)
        work = Work(self, req, result, keep, comp, skipped, counter=counter)
        if comp is not None:
            comp._inflight = work
        return work

    def _stream_call(self, call: Callable[[int], int], result: Any, async_op: bool,
                     buf: _Buf) -> Any:
        """CUDA tensors: the _stream call on torch's current stream, which returns once the
        result is in place (the Work, if asked for, is done already)."""
        _check(call(_cuda_stream(buf)), self._handle)
        return Work(self, None, result, ()) if async_op else result

    def allreduce(self, tensor: Any, op: str = "sum", out: Any = None,
                  async_op: bool = False) -> Any:
        """out (default: tensor, in place) = op over ranks of tensor. Returns out, or a Work
        with async_op."""
        s = _Buf(tensor, "input")
        d = _Buf(out, "output") if out is not None else s
        o, h = _op_code(op), self._h()
        if s.cuda or d.cuda:
            return self._stream_call(lambda st: L.allreduce_stream(
                s.ptr, d.ptr, s.numel, s.dtype, o, h, st), d.obj, async_op, s)
        self._same(s, d, s.numel)
        return self._run(lambda: L.allreduce(s.ptr, d.ptr, s.numel, s.dtype, o, h),
                         lambda r: L.iallreduce(s.ptr, d.ptr, s.numel, s.dtype, o, h, r),
                         d.obj, (s.obj, d.obj), async_op)

    def allgather(self, tensor: Any, out: Any, async_op: bool = False) -> Any:
        """out (size * tensor's elements) = every rank's tensor, in rank order."""
        s, d = _Buf(tensor, "input"), _Buf(out, "output")
        h = self._h()
        if s.cuda or d.cuda:
            return self._stream_call(lambda st: L.allgather_stream(
                s.ptr, d.ptr, s.numel, s.dtype, h, st), d.obj, async_op, s)
        self._same(s, d, s.numel * self.size)
        return self._run(lambda: L.allgather(s.ptr, d.ptr, s.numel, s.dtype, h),
                         lambda r: L.iallgather(s.ptr, d.ptr, s.numel, s.dtype, h, r),
                         d.obj, (s.obj, d.obj), async_op)

    def reduce_scatter(self, tensor: Any, out: Any, op: str = "sum",
                       async_op: bool = False) -> Any:
        """out = op over ranks of this rank's block of tensor (size * out's elements)."""
        s, d = _Buf(tensor, "input"), _Buf(out, "output")
        o, h = _op_code(op), self._h()
        if s.cuda or d.cuda:
            return self._stream_call(lambda st: L.reduce_scatter_stream(
                s.ptr, d.ptr, d.numel, s.dtype, o, h, st), d.obj, async_op, s)
        self._shards(s, d)
        return self._run(lambda: L.reduce_scatter(s.ptr, d.ptr, d.numel, s.dtype, o, h),
                         lambda r: L.ireduce_scatter(s.ptr, d.ptr, d.numel, s.dtype, o, h, r),
                         d.obj, (s.obj, d.obj), async_op)

    def broadcast(self, tensor: Any, root: int = 0, async_op: bool = False) -> Any:
        """tensor = root's tensor, in place."""
        b, h = _Buf(tensor, "tensor"), self._h()
        if b.cuda:
            return self._stream_call(lambda st: L.broadcast_stream(
                b.ptr, b.ptr, b.numel, b.dtype, root, h, st), b.obj, async_op, b)
        return self._run(lambda: L.broadcast(b.ptr, b.ptr, b.numel, b.dtype, root, h),
                         lambda r: L.ibroadcast(b.ptr, b.ptr, b.numel, b.dtype, root, h, r),
                         b.obj, (b.obj,), async_op)

    def barrier(self, async_op: bool = False) -> Any:
        h = self._h()
        return self._run(lambda: L.barrier(h), lambda r: L.ibarrier(h, r), None, (), async_op)

    def allreduce_robust(self, tensor: Any, rule: str = "nna", f: int = 0,
                         pre: Tuple[str, ...] = (), out: Any = None,
                         compressor: Optional["Compressor"] = None, faults: Any = None,
                         multi_k: int = 0, iters: int = 0, nu: float = 0.0, tau: float = 0.0,
                         async_op: bool = False) -> Any:
        """out (default: tensor, in place) = a rule robust to f faulty ranks over every rank's
        float32 tensor (ccl_allreduce_robust): one of RULES, after the pre-steps named in pre
        ("arc", "nnm", applied in that order). "nna" averages the size - f tensors nearest to
        this rank's own, so its result differs per rank. A rank whose message fails a check
        is dropped as one of the f; faults, a uint8 array or tensor of size elements, gets
        why per rank (an index into FAULTS). compressor: each tensor travels encoded by its
        sender's (error feedback kept). NonFiniteGradient where this rank's own tensor holds
        NaN or Inf (the others drop it); InvalidPayloadError where more than f failed."""
        s = _Buf(tensor, "input")
        d = _Buf(out, "output") if out is not None else s
        if rule not in RULES:
            raise InvalidArgument(-1, f"rule {rule!r} is not one of {', '.join(RULES)}")
        bad = [p for p in pre if p not in PRE_STEPS]
        if bad:
            raise InvalidArgument(-1, f"pre-steps {bad} are not among {', '.join(PRE_STEPS)}")
        params = L.RobustParams(RULES.index(rule), int(f), sum(PRE_STEPS[p] for p in set(pre)),
                                int(multi_k), int(iters), float(nu), float(tau), None)
        keep: Tuple[Any, ...] = (s.obj, d.obj)
        if faults is not None:
            fb = _Buf(faults, "faults")
            if fb.dtype != _DTYPES["uint8"] or fb.numel != self.size or fb.cuda:
                raise InvalidArgument(-1, f"faults must be a host uint8 array of {self.size} "
                                          f"elements")
            params.faults = fb.ptr
            keep += (fb.obj,)
        if s.cuda or d.cuda:
            raise InvalidArgument(-1, "allreduce_robust takes host tensors (no _stream form)")
        self._same(s, d, s.numel)
        h = self._h()
        c = compressor._h() if compressor is not None else None
        # The communicator counts a robust call's refused own vector, compressed or not.
        return self._run(
            lambda: L.allreduce_robust(s.ptr, d.ptr, s.numel, s.dtype, ctypes.byref(params), c, h),
            lambda r: L.iallreduce_robust(s.ptr, d.ptr, s.numel, s.dtype, ctypes.byref(params),
                                          c, h, r),
            d.obj, keep, async_op, compressor, counter=self)

    def host_info(self) -> Dict[str, int]:
        """Where this rank runs (ccl_comm_host_info): host and nhosts, local_rank and
        local_size among the host's ranks (e.g. to choose a GPU), and hier, 1 where the
        hierarchical allreduce is available."""
        info = L.HostInfo()
        _check(L.comm_host_info(self._h(), ctypes.byref(info)), self._handle)
        return {name: getattr(info, name) for name, _ in L.HostInfo._fields_}

    def split(self, color: Optional[int], key: int = 0) -> Optional["Communicator"]:
        """A new communicator of the ranks that pass the same color, ranked by key, then by
        rank here (ccl_comm_split; collective over this one). color None: this rank joins
        none and gets None."""
        handle = L.comm_t()
        _check(L.comm_split(self._h(), -1 if color is None else int(color), int(key),
                            ctypes.byref(handle)), self._handle)
        if handle.value is None:
            return None
        child = Communicator.__new__(Communicator)
        child._adopt(handle)
        return child

    def _shards(self, s: _Buf, d: _Buf) -> None:
        """A reduce-scatter's buffers: the input holds size times the output."""
        if s.numel != d.numel * self.size:
            raise InvalidArgument(-1, f"input holds {s.numel} elements; {self.size} ranks "
                                      f"times the output's {d.numel} wanted")
        self._same(s, d, d.numel)

    @staticmethod
    def _same(s: _Buf, d: _Buf, want: int) -> None:
        if s.dtype != d.dtype:
            raise InvalidArgument(-1, "input and output have different dtypes")
        if d.numel != want:
            raise InvalidArgument(-1, f"output holds {d.numel} elements; {want} wanted")

    def _skipped(self) -> int:
        st = L.Stats()
        L.comm_get_stats(self._handle, ctypes.byref(st))
        return st.skipped

    def stats(self) -> Dict[str, int]:
        """Cumulative counts on this rank: calls, skipped (refused non-finite steps),
        bytes_in, bytes_sent (ccl_comm_get_stats)."""
        st = L.Stats()
        _check(L.comm_get_stats(self._h(), ctypes.byref(st)), self._handle)
        return {f: getattr(st, f) for f, _ in L.Stats._fields_}

    def destroy(self) -> None:
        """Runs the issued calls, then frees the communicator (ccl_comm_destroy)."""
        if self._handle is None:
            return
        handle, self._handle = self._handle, None
        self._stop_completer()
        _check(L.comm_destroy(handle))

    def abort(self) -> None:
        """Ends every call in flight with AbortedError and frees the communicator; safe
        from another thread (ccl_comm_abort)."""
        if self._handle is None:
            return
        handle, self._handle = self._handle, None
        _check(L.comm_abort(handle))
        self._stop_completer()

    def _stop_completer(self) -> None:
        if self._completer is not None:
            self._pending.put(None)
            self._completer.join()
            self._completer = None


class Compressor:
    """A compressor bound to one buffer of numel elements of dtype, with its error-feedback
    state: Compressor(comm, "int:bits=8", grad.numel(), grad.dtype). Every rank makes it
    with the same spec (a collective for "auto")."""

    def __init__(self, comm: Communicator, spec: str, numel: int, dtype: Any = "float32"):
        self.comm = comm
        self.numel = int(numel)
        self.dtype = _dtype_code(dtype)
        handle = L.comp_t()
        _check(L.compressor_create(comm._h(), spec.encode(), self.numel, self.dtype,
                                   ctypes.byref(handle)), comm._handle)
        self._handle = handle.value
        self._inflight: Optional[Work] = None

    @property
    def spec(self) -> str:
        """The spec in force (defaults and algo= filled in)."""
        return L.compressor_spec(self._h()).decode()

    def _h(self) -> int:
        if self._handle is None:
            raise InvalidArgument(-1, "the compressor was closed")
        return self._handle

    def _skipped(self) -> int:
        st = L.Stats()
        L.compressor_get_stats(self._handle, ctypes.byref(st))
        return st.skipped

    def allreduce(self, tensor: Any, op: str = "sum", out: Any = None,
                  async_op: bool = False) -> Any:
        """out (default: tensor, in place) = the sum or average over ranks of what each
        rank's compressor sends, the error fed back into the next call."""
        s = _Buf(tensor, "input")
        d = _Buf(out, "output") if out is not None else s
        o, h, c = _op_code(op), self.comm._h(), self._h()
        if s.cuda or d.cuda:
            return self.comm._stream_call(lambda st: L.allreduce_compressed_stream(
                s.ptr, d.ptr, s.numel, s.dtype, o, c, h, st), d.obj, async_op, s)
        Communicator._same(s, d, s.numel)
        return self.comm._run(
            lambda: L.allreduce_compressed(s.ptr, d.ptr, s.numel, s.dtype, o, c, h),
            lambda r: L.iallreduce_compressed(s.ptr, d.ptr, s.numel, s.dtype, o, c, h, r),
            d.obj, (s.obj, d.obj), async_op, self)

    def allgather(self, tensor: Any, out: Any, async_op: bool = False) -> Any:
        """out = every rank's tensor after compression, in rank order."""
        s, d = _Buf(tensor, "input"), _Buf(out, "output")
        h, c = self.comm._h(), self._h()
        if s.cuda or d.cuda:
            return self.comm._stream_call(lambda st: L.allgather_compressed_stream(
                s.ptr, d.ptr, s.numel, s.dtype, c, h, st), d.obj, async_op, s)
        Communicator._same(s, d, s.numel * self.comm.size)
        return self.comm._run(
            lambda: L.allgather_compressed(s.ptr, d.ptr, s.numel, s.dtype, c, h),
            lambda r: L.iallgather_compressed(s.ptr, d.ptr, s.numel, s.dtype, c, h, r),
            d.obj, (s.obj, d.obj), async_op, self)

    def reduce_scatter(self, tensor: Any, out: Any, op: str = "sum",
                       async_op: bool = False) -> Any:
        """out = the sum or average over ranks of what each rank's compressor sends for this
        rank's block of tensor (size * out's elements; the compressor is made for tensor's),
        the error fed back into the next call: sharded training's gradient reduction."""
        s, d = _Buf(tensor, "input"), _Buf(out, "output")
        o, h, c = _op_code(op), self.comm._h(), self._h()
        if s.cuda or d.cuda:
            return self.comm._stream_call(lambda st: L.reduce_scatter_compressed_stream(
                s.ptr, d.ptr, d.numel, s.dtype, o, c, h, st), d.obj, async_op, s)
        self.comm._shards(s, d)
        return self.comm._run(
            lambda: L.reduce_scatter_compressed(s.ptr, d.ptr, d.numel, s.dtype, o, c, h),
            lambda r: L.ireduce_scatter_compressed(s.ptr, d.ptr, d.numel, s.dtype, o, c, h, r),
            d.obj, (s.obj, d.obj), async_op, self)

    def state_dict(self) -> Dict[str, Any]:
        """The error-feedback state (ccl_compressor_save's checksummed bytes) and the spec."""
        cap = L.compressor_state_size(self._h())
        buf = ctypes.create_string_buffer(max(cap, 1))
        n = ctypes.c_size_t()
        _check(L.compressor_save(self._handle, buf, cap, ctypes.byref(n)))
        return {"spec": self.spec, "numel": self.numel, "state": buf.raw[:n.value]}

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        """Restores a state_dict() of this rank's compressor with the same spec and numel;
        anything else (or a corrupt byte) raises InvalidPayloadError and changes nothing."""
        raw = bytes(state["state"])
        _check(L.compressor_restore(self._h(), raw, len(raw)))

    def set_layout(self, shapes: List[Tuple[int, ...]]) -> None:
        """Tells the compressor the tensors its buffer holds, in order, by shape (a
        parameter's .shape): sparse codecs then select in every tensor on its own, and the
        quantizers scale every tensor apart (ccl_compressor_set_layout). A shape of two or more dimensions is a matrix of its
        first dimension by the rest (a convolution's out x in*kh*kw). [] removes it."""
        arr = (L.Tensor * max(len(shapes), 1))()
        for i, shape in enumerate(shapes):
            dims = [int(d) for d in shape]
            count = 1
            for d in dims:
                count *= d
            rows = dims[0] if len(dims) >= 2 else 0
            arr[i] = L.Tensor(count, rows, count // rows if rows else 0)
        _check(L.compressor_set_layout(self._h(), len(shapes), arr))

    def copy_state(self, src: "Compressor", dst_offset: int, src_offset: int,
                   count: int) -> None:
        """Elements [dst_offset, dst_offset + count) of this compressor take the error-feedback
        state of elements [src_offset, src_offset + count) of src, a compressor of the same
        spec, and its step count (ccl_compressor_copy_state): a gradient moving to another
        bucket keeps its state. Raises UnsupportedError for the hierarchical allreduce."""
        _check(L.compressor_copy_state(self._h(), dst_offset, src._h(), src_offset, count))

    def reset(self) -> None:
        """Forgets the error-feedback state."""
        _check(L.compressor_reset(self._h()))

    def stats(self) -> Dict[str, int]:
        """This compressor's calls, skipped steps, bytes_in and bytes_sent."""
        st = L.Stats()
        _check(L.compressor_get_stats(self._h(), ctypes.byref(st)))
        return {f: getattr(st, f) for f, _ in L.Stats._fields_}

    def close(self) -> None:
        """Frees the compressor (after its call in flight, if any, is done)."""
        if self._handle is None:
            return
        if self._inflight is not None:
            try:
                self._inflight.wait()
            except CclzError:
                pass
        handle, self._handle = self._handle, None
        _check(L.compressor_destroy(handle))
