"""cclz.torch.robust: MoNNA, Byzantine-robust collaborative training, as an optimizer.

    opt = cclz.torch.robust.MoNNA(model.parameters(), lr=0.05, momentum=0.9, f=1)
    for x, y in data:
        opt.zero_grad()
        loss_fn(model(x), y).backward()
        opt.step()          # local momentum step, then robust mixing of the parameters

Each worker keeps Polyak momentum on its own gradients (m = b m + (1 - b) g), takes a local
step (theta -= lr m), then replaces its parameters by a robust rule over every worker's
(ccl_allreduce_robust): by default nearest-neighbour averaging, the mean of the n - f
parameter vectors nearest to its own, so that up to f workers that send anything at all
cannot pull it away. Any rule of cclz.RULES and the pre-steps ARC and NNM can replace it.

The parameters become views into one flat float32 buffer, which the robust call mixes in
place, so nothing is copied per step; make the optimizer before anything else keeps
references to the parameters' storage (another optimizer, a DDP wrapper), and move the model
to its device first. Workers start from the same parameters (the optimizer broadcasts rank
0's). A worker whose message fails a check counts as one of the f for that step; `faults`
holds, per rank, how many steps it was dropped in."""
from typing import Any, Dict, Iterable, Optional, Sequence

import numpy as np
import torch

from .. import Communicator, Compressor


class MoNNA(torch.optim.Optimizer):
    """Local momentum SGD with robust mixing of the parameters after each step. momentum is
    b in m = b m + (1 - b) g (MoNNA's dampened form); clip, if given, scales this worker's
    gradient down to that norm first. rule, pre, multi_k, iters, nu and tau are
    allreduce_robust's; compressor is a spec the parameters travel encoded with (a quantizer:
    the parameters themselves, not their changes, are sent)."""

    def __init__(self, params: Iterable[torch.nn.Parameter], lr: float, momentum: float = 0.9,
                 f: int = 1, comm: Optional[Communicator] = None, rule: str = "nna",
                 pre: Sequence[str] = (), weight_decay: float = 0.0,
                 clip: Optional[float] = None, compressor: Optional[str] = None,
                 **rule_args: Any):
        params = list(params)
        if not params:
            raise ValueError("MoNNA: no parameters")
        if any(p.dtype != torch.float32 or p.is_cuda for p in params):
            raise ValueError("MoNNA: the robust mixing takes float32 parameters in host memory")
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"MoNNA: momentum {momentum} is not in [0, 1)")
        super().__init__(params, dict(lr=lr, momentum=momentum, weight_decay=weight_decay))
        self.comm = comm if comm is not None else Communicator.from_env()
        self.f, self.rule, self.pre, self.clip = f, rule, tuple(pre), clip
        self.rule_args = rule_args
        total = sum(p.numel() for p in params)
        self._flat = torch.empty(total, dtype=torch.float32)
        self._momentum = torch.zeros(total, dtype=torch.float32)
        off = 0
        with torch.no_grad():
            for p in params:
                n = p.numel()
                self._flat[off:off + n].copy_(p.reshape(-1))
                p.data = self._flat[off:off + n].view_as(p)
                self.state[p]["momentum_buffer"] = self._momentum[off:off + n].view_as(p)
                off += n
        self.comm.broadcast(self._flat, root=0)
        self._params = params
        self._faults = np.zeros(self.comm.size, dtype=np.uint8)
        self.faults = np.zeros(self.comm.size, dtype=np.int64)
        self._compressor = (Compressor(self.comm, compressor, total, "float32")
                            if compressor is not None else None)

    @torch.no_grad()
    def local_step(self) -> None:
        """The local half of a step: momentum on this worker's gradient, then the step."""
        group = self.param_groups[0]
        lr, beta, wd = group["lr"], group["momentum"], group["weight_decay"]
        grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in self._params]
        scale = 1.0
        if self.clip is not None:
            norm = float(torch.norm(torch.stack([torch.norm(g) for g in grads])))
            if norm > self.clip:
                scale = self.clip / norm
        for p, g in zip(self._params, grads):
            m = self.state[p]["momentum_buffer"]
            if wd:
                g = g.add(p, alpha=wd)
            m.mul_(beta).add_(g, alpha=(1.0 - beta) * scale)
            p.add_(m, alpha=-lr)

    @torch.no_grad()
    def mix(self, send: Optional[torch.Tensor] = None) -> None:
        """The robust mixing: the parameters become the rule over every worker's. send, for
        experiments, goes out instead of this worker's parameters (a Byzantine worker's
        vector); the result still lands in the parameters."""
        self.comm.allreduce_robust(self._flat if send is None else send, out=self._flat,
                                   rule=self.rule, f=self.f, pre=self.pre,
                                   compressor=self._compressor, faults=self._faults,
                                   **self.rule_args)
        self.faults += self._faults != 0

    def step(self, closure: Any = None) -> Any:
        """local_step(), then mix()."""
        loss = closure() if closure is not None else None
        self.local_step()
        self.mix()
        return loss

    def flat_parameters(self) -> torch.Tensor:
        """The one buffer every parameter is a view of (what the robust call mixes)."""
        return self._flat

    def state_dict(self) -> Dict[str, Any]:
        state = super().state_dict()
        state["cclz_faults"] = self.faults.copy()
        if self._compressor is not None:
            state["cclz_compressor"] = self._compressor.state_dict()
        return state

    def load_state_dict(self, state_dict: Dict[str, Any]) -> None:
        state_dict = dict(state_dict)
        self.faults = np.array(state_dict.pop("cclz_faults", self.faults))
        comp = state_dict.pop("cclz_compressor", None)
        if comp is not None and self._compressor is not None:
            self._compressor.load_state_dict(comp)
        # Copy into the views (the flat buffers stay what the parameters are made of).
        saved = {id(p): self.state[p]["momentum_buffer"] for p in self._params}
        super().load_state_dict(state_dict)
        for p in self._params:
            buf = saved[id(p)]
            buf.copy_(self.state[p]["momentum_buffer"])
            self.state[p]["momentum_buffer"] = buf
