"""Exponential-arrival-time (EAT) relaxation of Poisson sampling, used only during training.

For rate r, n standard exponentials E_k give arrival times T_k = (E_1 + ... + E_k) / r and a
soft count z = sum_k sigmoid((1 - T_k) / tau). As tau -> 0, z -> min(Poisson(r), n).

The forward pass and its derivative dz/dr = sum_k s_k (1 - s_k) T_k / (r tau) are computed
together in one autograd function, so the n x B x K intermediate tensors are never kept for
backward (docs/paper.md §7: the sampler dominates training time).
"""
from __future__ import annotations

import torch


class _RelaxedPoisson(torch.autograd.Function):
    @staticmethod
    def forward(ctx, rate, tau, n_exp):
        with torch.no_grad():
            # -log(1 - U), U in [0, 1): standard exponentials, ~6x faster than exponential_()
            arrivals = torch.rand((n_exp,) + rate.shape, dtype=rate.dtype, device=rate.device)
            arrivals = arrivals.neg_().add_(1.0).log_().neg_()
            arrivals = arrivals.cumsum_(0).div_(rate)          # T_k
            s = torch.sigmoid((1.0 - arrivals) / tau)
            z = s.sum(0)
            grad = (s * (1.0 - s) * arrivals).sum(0).div_(rate * tau)
        ctx.save_for_backward(grad)
        return z

    @staticmethod
    def backward(ctx, grad_out):
        (grad,) = ctx.saved_tensors
        return grad_out * grad, None, None


def relaxed_poisson(rate: torch.Tensor, tau: float, n_exp: int) -> torch.Tensor:
    """Soft Poisson counts with a pathwise gradient with respect to ``rate``."""
    return _RelaxedPoisson.apply(rate, float(tau), int(n_exp))
