"""cclz.torch.lowrank: low-rank factorized layers (Pufferfish): gradients that are small to
begin with, so they need no compression.

    model = Net()
    ... train full rank for a few warm-up epochs ...
    model = cclz.torch.lowrank.factorize(model, rank_ratio=0.25)   # then a new DDP/optimizer
    ... train on, gradients averaged exactly ...

factorize() replaces each Linear (out x in) by a Linear in -> r without bias followed by a
Linear r -> out with the original bias, and each Conv2d (out x in x kh x kw) by a Conv2d
in -> r with the original kernel, stride, padding, dilation and groups=1, followed by a 1x1
Conv2d r -> out with the bias. Both factors come from the truncated SVD of the trained
weight, W ~ (U_r S_r^1/2)(S_r^1/2 V_r^T), so the factorized model starts where the
full-rank one left off (exactly where r is the full rank). The first keep_first and the last
keep_last factorizable layers stay full rank (Pufferfish keeps the first layers, whose
factorization costs the most accuracy for the least saving), as does every layer whose
factors would not hold fewer parameters than the layer."""
from typing import List, Tuple

import torch
import torch.nn as nn


class LowRankLinear(nn.Sequential):
    """Linear in -> out as in -> rank (no bias) then rank -> out (the bias)."""

    def __init__(self, in_features: int, out_features: int, rank: int, bias: bool = True):
        super().__init__(nn.Linear(in_features, rank, bias=False),
                         nn.Linear(rank, out_features, bias=bias))
        self.rank = rank


class LowRankConv2d(nn.Sequential):
    """Conv2d in -> out as a conv in -> rank with the kernel, then a 1x1 conv rank -> out."""

    def __init__(self, conv: nn.Conv2d, rank: int):
        super().__init__(
            nn.Conv2d(conv.in_channels, rank, conv.kernel_size, stride=conv.stride,
                      padding=conv.padding, dilation=conv.dilation, bias=False,
                      padding_mode=conv.padding_mode),
            nn.Conv2d(rank, conv.out_channels, 1, bias=conv.bias is not None))
        self.rank = rank


def _matrix(layer: nn.Module) -> torch.Tensor:
    """The layer's weight as the (out x in*kh*kw) matrix it applies."""
    return layer.weight.detach().reshape(layer.weight.shape[0], -1)


def _rank_for(layer: nn.Module, rank_ratio: float) -> int:
    rows, cols = _matrix(layer).shape
    return max(1, int(round(rank_ratio * min(rows, cols))))


def _pays(layer: nn.Module, rank: int) -> bool:
    rows, cols = _matrix(layer).shape
    return rank * (rows + cols) < rows * cols


def _factors(layer: nn.Module, rank: int) -> Tuple[torch.Tensor, torch.Tensor]:
    """(left, right) with left @ right the best rank-`rank` approximation of the weight:
    left = U_r S_r^1/2 (out x r), right = S_r^1/2 V_r^T (r x in*kh*kw)."""
    u, s, vh = torch.linalg.svd(_matrix(layer).double(), full_matrices=False)
    root = s[:rank].sqrt()
    left = (u[:, :rank] * root).to(layer.weight.dtype)
    right = (root[:, None] * vh[:rank]).to(layer.weight.dtype)
    return left, right


def _factorized(layer: nn.Module, rank: int) -> nn.Module:
    left, right = _factors(layer, rank)
    if isinstance(layer, nn.Linear):
        new = LowRankLinear(layer.in_features, layer.out_features, rank, layer.bias is not None)
        first, second = new[0], new[1]
        with torch.no_grad():
            first.weight.copy_(right)
            second.weight.copy_(left)
    else:
        new = LowRankConv2d(layer, rank)
        first, second = new[0], new[1]
        with torch.no_grad():
            first.weight.copy_(right.reshape(first.weight.shape))
            second.weight.copy_(left.reshape(second.weight.shape))
    if layer.bias is not None:
        with torch.no_grad():
            second.bias.copy_(layer.bias.detach())
    return new.to(layer.weight.device)


def _candidates(model: nn.Module) -> List[Tuple[nn.Module, str, nn.Module]]:
    """(parent, attribute name, layer) of every Linear and ungrouped Conv2d, in the order
    of model.modules() (definition order)."""
    found = []
    for parent in model.modules():
        for name, child in parent.named_children():
            if isinstance(child, nn.Linear) or (isinstance(child, nn.Conv2d) and child.groups == 1):
                found.append((parent, name, child))
    return found


def factorize(model: nn.Module, rank_ratio: float = 0.25, keep_first: int = 1,
              keep_last: int = 1) -> nn.Module:
    """Replaces, in place, every Linear and (ungrouped) Conv2d of model but the first
    keep_first and the last keep_last by its rank-r factorization initialised from the
    SVD of its weight, r = rank_ratio * min(out, in*kh*kw) (at least 1); layers whose
    factors would hold as many parameters are kept. Returns model. Make the DDP wrapper and
    the optimizer again afterwards: the parameters are new."""
    if not 0 < rank_ratio <= 1:
        raise ValueError(f"rank_ratio {rank_ratio} is not in (0, 1]")
    if keep_first < 0 or keep_last < 0:
        raise ValueError("keep_first and keep_last count layers: 0 or more")
    layers = _candidates(model)
    chosen = layers[keep_first:len(layers) - keep_last] if keep_last else layers[keep_first:]
    for parent, name, layer in chosen:
        rank = _rank_for(layer, rank_ratio)
        if _pays(layer, rank):
            setattr(parent, name, _factorized(layer, rank))
    return model


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
