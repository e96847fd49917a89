"""cclz.torch: a DistributedDataParallel communication hook that averages each gradient
bucket through cclz, every parameter's gradient with a compressor of its own.

    state = cclz.torch.CompressionState("int:bits=8", model=ddp.module)
    ddp.register_comm_hook(state, cclz.torch.allreduce_hook)
    ...
    torch.save({"model": ..., "optim": ..., "cclz": state.state_dict()}, path)
    state.load_state_dict(ckpt["cclz"])    # in the resumed run, before its first step

Compressors belong to parameters (by name), not to buckets: DDP rebuilds its buckets after
the first iteration, and a resumed run starts with the first layout again, so state kept by
bucket would be lost or restored into the wrong bucket (PyTorch's own PowerSGD hook keeps it
by bucket index and loses it). Per parameter, every scale and every top-k selection also
stays inside one tensor. A bucket is the parameters' gradients one after another, so each
gradient is a slice of the bucket buffer and is reduced in place, with no copy: compressed
where it is a float tensor of at least min_bytes, exact (one call per tensor, so the sums do
not depend on the bucketing) otherwise.

The hook issues nonblocking calls and returns a future completed by the communicator's one
completion thread. A bucket with a gradient refused because some rank's holds NaN or Inf
comes back all NaN on every rank, so that GradScaler (or the loop's own finiteness check)
skips the step everywhere, as with the exact allreduce.

DGC corrects momentum inside its compressors; pair it with the optimizer through
cclz.torch.sgd(params, state, lr, momentum), which then gives SGD no momentum of its own.

For FullyShardedDataParallel, which reduce-scatters each unit's flat gradient:

    state = cclz.torch.ShardedCompressionState("int:bits=8")
    fsdp_model.register_comm_hook(state, cclz.torch.reduce_scatter_hook)

Debian's torch 1.13 has FullyShardedDataParallel.register_comm_hook, but its FSDP package
does not import under Python 3.11 (a dataclass with a mutable default in
torch.distributed._shard), so the hook is tested by calling it as FSDP does, from inside
backward passes."""
import math
from typing import Any, Callable, Dict, List, Optional, Tuple, Union

import torch
import torch.distributed as dist

from .. import Communicator, Compressor, NonFiniteGradient, UnsupportedError, Work


class CompressionState:
    """What the hook keeps: the spec (or a function giving a parameter's spec, as PowerSGD
    needs for each matrix's rows), the communicator (default: from the environment), the
    size below which a gradient goes exact, and a compressor per parameter, named after the
    model's parameters (give model=ddp.module; without it the names are shapes in order of
    first sight, which a restart with the same model reproduces). per='layout' instead
    gives each bucket one compressor told its tensors (one call per bucket; the sparse codecs
    select in every tensor, the quantizers scale every tensor apart, PowerSGD approximates
    every matrix with its own factors), per='bucket' one that sees the bucket as one vector
    (the flat baseline). When DDP rebuilds its buckets, every parameter's error-feedback state
    moves with it into its new bucket's compressor, and a checkpoint keeps each bucket's
    parameters, so a resumed run, whose buckets start as the first run's did, gets every
    parameter's state back."""

    def __init__(self, spec: Union[str, Callable[[torch.Tensor], str]] = "int:bits=8",
                 comm: Optional[Communicator] = None, min_bytes: int = 64 * 1024,
                 model: Optional[torch.nn.Module] = None, per: str = "tensor"):
        if per not in ("tensor", "layout", "bucket"):
            raise ValueError(f"per={per!r}: 'tensor' (a compressor per parameter), 'layout' "
                             f"(one per bucket, told its tensors) or 'bucket' (one per "
                             f"bucket, the bucket as one vector)")
        if per != "tensor" and callable(spec):
            raise ValueError("a spec per parameter needs per='tensor'")
        self.spec = spec if isinstance(spec, str) else getattr(spec, "__name__", "custom")
        self._spec_of = spec if callable(spec) else (lambda p: spec)
        self.comm = comm if comm is not None else Communicator.from_env()
        self.min_bytes = min_bytes
        self.per = per
        self._names = ({id(p): n for n, p in model.named_parameters()}
                       if model is not None else {})
        self._compressors: Dict[str, Compressor] = {}
        self._loaded: Dict[str, Dict[str, Any]] = {}
        # per='layout'/'bucket': where each parameter's state lives (compressor, offset), and
        # the parameters (name, shape) of every compressor holding some.
        self._homes: Dict[str, Tuple[Compressor, int]] = {}
        self._members: Dict[int, List[Tuple[str, Tuple[int, ...]]]] = {}
        self._held: Dict[int, Tuple[Compressor, torch.dtype]] = {}

    def name(self, param: torch.Tensor) -> str:
        name = self._names.get(id(param))
        if name is None:  # no model given: the shape, numbered in order of first sight
            name = f"{'x'.join(map(str, param.shape))}/{len(self._names)}"
            self._names[id(param)] = name
        return name

    def compressor(self, param: torch.Tensor, grad: torch.Tensor) -> Compressor:
        """The compressor of param, made on first use (with a loaded state, if any)."""
        key = self.name(param)
        comp = self._compressors.get(key)
        if comp is None:
            comp = Compressor(self.comm, self._spec_of(param), grad.numel(), grad.dtype)
            if key in self._loaded:
                comp.load_state_dict(self._loaded.pop(key))
            self._compressors[key] = comp
        return comp

    def _bucket_comp(self, members: List[Tuple[str, Tuple[int, ...]]], numel: int,
                     dtype: torch.dtype) -> Compressor:
        """A compressor for a bucket of these (name, shape) parameters, told their shapes
        with per='layout', and held until none of them lives in it any more."""
        comp = Compressor(self.comm, self.spec, numel, dtype)
        if self.per == "layout":
            try:
                comp.set_layout([shape for _, shape in members])
            except Exception:
                comp.close()
                raise
        self._members[id(comp)] = members
        self._held[id(comp)] = (comp, dtype)
        return comp

    def _release_unused(self) -> None:
        live = {id(c) for c, _ in self._homes.values()}
        for cid in [cid for cid in self._held if cid not in live]:
            self._held.pop(cid)[0].close()
            self._members.pop(cid, None)

    def bucket_compressor(self, index: int, buf: torch.Tensor,
                          params: List[torch.Tensor]) -> Compressor:
        """per='layout' or 'bucket': the compressor of bucket `index`, told its tensors'
        shapes (per='layout'). DDP rebuilds its buckets after the first iterations: a bucket
        that changed gets a new compressor, into which every parameter's error-feedback state
        moves from the compressor that held it (ccl_compressor_copy_state; the hierarchical
        allreduce, whose state lives per shard, starts such a parameter's state again)."""
        key = f"bucket{index}"
        members = [(self.name(p), tuple(p.shape)) for p in params]
        comp = self._compressors.get(key)
        if comp is not None and self._members.get(id(comp)) == members:
            return comp
        comp = self._bucket_comp(members, buf.numel(), buf.dtype)
        offset = 0
        for (name, _), p in zip(members, params):
            home = self._homes.get(name)
            if home is not None:
                try:
                    comp.copy_state(home[0], offset, home[1], p.numel())
                except UnsupportedError:
                    pass
            self._homes[name] = (comp, offset)
            offset += p.numel()
        self._compressors[key] = comp
        self._release_unused()
        return comp

    def state_dict(self) -> Dict[str, Any]:
        """Every compressor's state by parameter name, or by bucket with the bucket's
        parameters (and loaded states not used yet)."""
        if self.per != "tensor":  # every compressor still holding a parameter's state
            states = {f"held{i}": dict(c.state_dict(), members=self._members[cid],
                                       dtype=str(dt).replace("torch.", ""))
                      for i, (cid, (c, dt)) in enumerate(self._held.items())}
        else:
            states = dict(self._loaded)
            states.update({k: c.state_dict() for k, c in self._compressors.items()})
        return {"spec": self.spec, "per": self.per, "compressors": states}

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        """Loads a state_dict() of the same spec; each compressor takes its state now, or
        when its parameter's gradient is next seen."""
        if state.get("spec") != self.spec:
            raise ValueError(f"cclz hook state was saved with spec {state.get('spec')!r}, "
                             f"not {self.spec!r}")
        if state.get("per", "tensor") != self.per:
            raise ValueError(f"cclz hook state was saved with per={state.get('per')!r}, "
                             f"not {self.per!r}")
        if self.per != "tensor":
            # Each saved compressor comes back as it was, holding its parameters' state until
            # their buckets (the first run's, or rebuilt ones) take it from there. All are
            # restored before any is used: a bad one changes nothing.
            restored = []
            try:
                for saved in state["compressors"].values():
                    members = [(n, tuple(s)) for n, s in saved["members"]]
                    comp = self._bucket_comp(members, int(saved["numel"]),
                                             getattr(torch, saved["dtype"]))
                    restored.append((comp, members))
                    comp.load_state_dict(saved)
            except Exception:
                for comp, _ in restored:
                    self._held.pop(id(comp), None)
                    self._members.pop(id(comp), None)
                    comp.close()
                raise
            for comp, members in restored:
                offset = 0
                for name, shape in members:
                    self._homes[name] = (comp, offset)
                    offset += math.prod(shape)
            self._compressors.clear()  # every bucket then takes its state from the homes
            self._release_unused()
            return
        for key, comp_state in state["compressors"].items():
            if key in self._compressors:
                self._compressors[key].load_state_dict(comp_state)
            else:
                self._loaded[key] = comp_state

    def close(self) -> None:
        for comp, _ in self._held.values():
            comp.close()
        for comp in self._compressors.values():
            if id(comp) not in self._held:
                comp.close()
        self._compressors.clear()
        self._held.clear()
        self._homes.clear()
        self._members.clear()


def _spec_value(spec: str, key: str, default: float) -> float:
    """A numeric parameter of a spec string ("dgc:ratio=0.001,momentum=0.9")."""
    for item in spec.partition(":")[2].split(","):
        k, _, v = item.partition("=")
        if k.strip() == key:
            return float(v)
    return default


def sgd(params: Any, state: Optional[CompressionState], lr: float, momentum: float = 0.9,
        weight_decay: float = 0.0, nesterov: bool = False) -> torch.optim.SGD:
    """torch.optim.SGD paired with the hook's compressors. DGC corrects momentum inside its
    compressor (velocity and residual per parameter, with momentum factor masking), so what
    the hook returns is already the momentum step: for a dgc spec the optimizer gets no
    momentum of its own, and the spec's momentum (default 0.9) must be the one asked for.
    Weight decay stays in the optimizer, out of the compressed traffic (the parameters are
    the same on every rank, so it is the same everywhere). Other specs: SGD as asked."""
    spec = state.spec if state is not None else ""
    if spec.startswith("dgc"):
        inside = _spec_value(spec, "momentum", 0.9)
        if abs(inside - momentum) > 1e-12:
            raise ValueError(f"momentum {momentum} asked, but the dgc spec {spec!r} corrects "
                             f"momentum {inside} inside its compressors; make them agree")
        if nesterov:
            raise ValueError("DGC's momentum correction is plain momentum, not Nesterov's")
        momentum = 0.0
    return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay,
                           nesterov=nesterov)


# No postponed annotations in this module: DDP checks the hook's (dist.GradBucket,
# torch.futures.Future[torch.Tensor]).
def allreduce_hook(state: CompressionState,
                   bucket: dist.GradBucket) -> torch.futures.Future[torch.Tensor]:
    """The DDP comm hook: the bucket's average over ranks, each gradient compressed by its
    parameter's compressor where it is a float tensor of at least state.min_bytes (with
    per='layout' or 'bucket', the whole bucket in one call by the bucket's compressor)."""
    buf = bucket.buffer()
    params = bucket.parameters()
    works: List[Work] = []
    if sum(p.numel() for p in params) != buf.numel():  # not laid out as expected: whole
        works.append(state.comm.allreduce(buf, op="avg", async_op=True))
        params = []
    elif state.per != "tensor" and buf.is_floating_point():
        comp = state.bucket_compressor(bucket.index(), buf, params)
        works.append(comp.allreduce(buf, op="avg", async_op=True))
        params = []
    offset = 0
    for p in params:
        grad = buf[offset:offset + p.numel()]
        offset += p.numel()
        if grad.is_floating_point() and grad.numel() * grad.element_size() >= state.min_bytes:
            works.append(state.compressor(p, grad).allreduce(grad, op="avg", async_op=True))
        else:
            works.append(state.comm.allreduce(grad, op="avg", async_op=True))
    fut: torch.futures.Future = torch.futures.Future()

    def settle(last: Work) -> None:
        # Calls complete in issue order: with the last done, every one is.
        errors = []
        for w in works:
            try:
                w.wait()
            except Exception as e:  # noqa: BLE001 (each is looked at below)
                errors.append(e)
        if errors and all(isinstance(e, NonFiniteGradient) for e in errors):
            buf.fill_(float("nan"))  # skipped everywhere, as with the exact sum
            fut.set_result(buf)
        elif errors:
            fut.set_exception(next(e for e in errors if not isinstance(e, NonFiniteGradient)))
        else:
            fut.set_result(buf)

    if works:
        works[-1].add_done_callback(settle)
    else:
        fut.set_result(buf)
    return fut


class ShardedCompressionState:
    """What reduce_scatter_hook keeps: the spec, the communicator (default: from the
    environment), the size below which a gradient goes exact, and a compressor per FSDP
    unit. FSDP hands the hook a fresh padded flat gradient per unit, with nothing that names
    the unit, in the same order in every backward pass: compressors are kept by position in
    that order, and the position goes back to 0 when autograd ends the backward pass. A hook
    called outside a backward pass (a loop of its own) must call end_backward() after the
    last gradient of each step."""

    def __init__(self, spec: str = "int:bits=8", comm: Optional[Communicator] = None,
                 min_bytes: int = 64 * 1024):
        self.spec = spec
        self.comm = comm if comm is not None else Communicator.from_env()
        self.min_bytes = min_bytes
        self._compressors: List[Compressor] = []
        self._loaded: Dict[str, Dict[str, Any]] = {}
        self._next = 0
        self._end_queued = False

    def compressor(self, grad: torch.Tensor) -> Compressor:
        """The compressor of the next unit in this backward pass, made on first use (with a
        loaded state, if any)."""
        if not self._end_queued:
            try:  # the engine runs it once this backward pass is over
                torch.autograd.Variable._execution_engine.queue_callback(self.end_backward)
                self._end_queued = True
            except RuntimeError:  # not inside a backward pass: end_backward() by hand
                pass
        pos, self._next = self._next, self._next + 1
        if pos < len(self._compressors):
            comp = self._compressors[pos]
            if comp.numel != grad.numel():
                raise ValueError(f"FSDP unit {pos} of this backward pass has {grad.numel()} "
                                 f"gradient elements, {comp.numel} before: the units or their "
                                 f"order changed (or end_backward() was not called)")
            return comp
        comp = Compressor(self.comm, self.spec, grad.numel(), grad.dtype)
        if str(pos) in self._loaded:
            comp.load_state_dict(self._loaded.pop(str(pos)))
        self._compressors.append(comp)
        return comp

    def end_backward(self) -> None:
        """The backward pass is over: the next gradient is the first unit's again."""
        self._next = 0
        self._end_queued = False

    def state_dict(self) -> Dict[str, Any]:
        """Every unit's compressor state by position (and loaded states not used yet)."""
        states = dict(self._loaded)
        states.update({str(i): c.state_dict() for i, c in enumerate(self._compressors)})
        return {"spec": self.spec, "compressors": states}

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        """Loads a state_dict() of the same spec; each unit's compressor takes its state now,
        or when the unit's gradient is next seen."""
        if state.get("spec") != self.spec:
            raise ValueError(f"cclz hook state was saved with spec {state.get('spec')!r}, "
                             f"not {self.spec!r}")
        for key, comp_state in state["compressors"].items():
            if int(key) < len(self._compressors):
                self._compressors[int(key)].load_state_dict(comp_state)
            else:
                self._loaded[key] = comp_state

    def close(self) -> None:
        for comp in self._compressors:
            comp.close()
        self._compressors.clear()


def reduce_scatter_hook(state: ShardedCompressionState, grad: torch.Tensor,
                        output: Optional[torch.Tensor] = None) -> None:
    """The FSDP comm hook: output = this rank's shard of the average over ranks of grad (a
    unit's padded flat gradient, size * output's elements), compressed with the unit's
    compressor where grad is a float tensor of at least state.min_bytes. Without output
    (FSDP's NO_SHARD), grad is averaged in place. A gradient refused because some rank's
    holds NaN or Inf comes back as NaN on every rank, so that the step is skipped everywhere."""
    compress = grad.is_floating_point() and grad.numel() * grad.element_size() >= state.min_bytes
    try:
        if output is None:
            if compress:
                state.compressor(grad).allreduce(grad, op="avg")
            else:
                state.comm.allreduce(grad, op="avg")
        elif compress:
            state.compressor(grad).reduce_scatter(grad, output, op="avg")
        else:
            state.comm.reduce_scatter(grad, output, op="avg")
    except NonFiniteGradient:
        (grad if output is None else output).fill_(float("nan"))
