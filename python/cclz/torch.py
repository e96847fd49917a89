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
skips the step everywhere, as with the exact allreduce."""
from typing import Any, Callable, Dict, List, Optional, Union

import torch
import torch.distributed as dist

from . import Communicator, Compressor, NonFiniteGradient, Work


class CompressionState:
    """What the hook keeps: the spec (or a function giving a parameter's spec, as PowerSGD
    needs for each matrix's rows), the communicator (default: from the environment), the
    size below which a gradient goes exact, and a compressor per parameter, named after the
    model's parameters (give model=ddp.module; without it the names are shapes in order of
    first sight, which a restart with the same model reproduces)."""

    def __init__(self, spec: Union[str, Callable[[torch.Tensor], str]] = "int:bits=8",
                 comm: Optional[Communicator] = None, min_bytes: int = 64 * 1024,
                 model: Optional[torch.nn.Module] = None):
        self.spec = spec if isinstance(spec, str) else getattr(spec, "__name__", "custom")
        self._spec_of = spec if callable(spec) else (lambda p: spec)
        self.comm = comm if comm is not None else Communicator.from_env()
        self.min_bytes = min_bytes
        self._names = ({id(p): n for n, p in model.named_parameters()}
                       if model is not None else {})
        self._compressors: Dict[str, Compressor] = {}
        self._loaded: Dict[str, Dict[str, Any]] = {}

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

    def state_dict(self) -> Dict[str, Any]:
        """Every compressor's state by parameter name (and loaded states not used yet)."""
        states = dict(self._loaded)
        states.update({k: c.state_dict() for k, c in self._compressors.items()})
        return {"spec": self.spec, "compressors": states}

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        """Loads a state_dict() of the same spec; each compressor takes its state now, or
        when its parameter's gradient is next seen."""
        if state.get("spec") != self.spec:
            raise ValueError(f"cclz hook state was saved with spec {state.get('spec')!r}, "
                             f"not {self.spec!r}")
        for key, comp_state in state["compressors"].items():
            if key in self._compressors:
                self._compressors[key].load_state_dict(comp_state)
            else:
                self._loaded[key] = comp_state

    def close(self) -> None:
        for comp in self._compressors.values():
            comp.close()
        self._compressors.clear()


# No postponed annotations in this module: DDP checks the hook's (dist.GradBucket,
# torch.futures.Future[torch.Tensor]).
def allreduce_hook(state: CompressionState,
                   bucket: dist.GradBucket) -> torch.futures.Future[torch.Tensor]:
    """The DDP comm hook: the bucket's average over ranks, each gradient compressed by its
    parameter's compressor where it is a float tensor of at least state.min_bytes."""
    buf = bucket.buffer()
    params = bucket.parameters()
    works: List[Work] = []
    if sum(p.numel() for p in params) != buf.numel():  # not laid out as expected: whole
        works.append(state.comm.allreduce(buf, op="avg", async_op=True))
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
