"""The float iP-VAE in PyTorch (docs/paper.md §2), the reference the fixed-point model is held to.

Dynamics for an input x (static over iterations), starting at u = u0:

    z_t     ~ Poisson(exp(u_t))                       (relaxed sampler while training)
    du      = eta * (Phi^T Sigma^-1 (x - Phi z_t) - b)
    u_{t+1} = S_c(u_t + S_c(du)),   S_c(v) = c - softplus(c - max(v, -8))

The folded form used by hardware is du = F x - c_b - W z with F = eta Phi^T Sigma^-1,
W = F Phi, c_b = eta b (see :meth:`IPVAE.fold`).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as tnf
from torch import nn

U_MIN = -8.0          # hard lower bound of u and du (authors' code)
CLAMP = 10.0          # c of the soft upper clamp S_c (the paper's default)
SIGMA_LOG_CLAMP = 3.45
RATE_EPS = 1.19e-7    # float32 epsilon added to rates (authors' code)


def softclamp_upper(v, c):
    return c - tnf.softplus(c - v)


def clamp_u(v, c):
    """S_c(v) = c - softplus(c - max(v, -8))."""
    return softclamp_upper(torch.clamp(v, min=U_MIN), c)


class IPVAE(nn.Module):
    def __init__(self, n_inputs, n_latents, init_scale=1e-4, prior_lo=-6.0, prior_hi=-4.0, seed=0):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.n_inputs, self.n_latents = n_inputs, n_latents
        self.phi = nn.Parameter(torch.randn(n_inputs, n_latents, generator=g) * init_scale)
        self.log_sigma = nn.Parameter(torch.zeros(n_inputs))
        self.log_b = nn.Parameter(torch.full((n_latents,), -3.0))
        self.log_eta = nn.Parameter(torch.zeros(()))
        self.u0 = nn.Parameter(torch.rand(n_latents, generator=g) * (prior_hi - prior_lo) + prior_lo)

    # -- derived quantities ------------------------------------------------------------------
    def sigma2(self):
        return torch.exp(2.0 * SIGMA_LOG_CLAMP * torch.tanh(self.log_sigma / SIGMA_LOG_CLAMP))

    def eta(self):
        return torch.exp(self.log_eta)

    def b(self):
        return torch.exp(self.log_b)

    @torch.no_grad()
    def fold(self):
        """Float folded tensors (float64): F (K,N), W (K,K), c (K,), u0 (K,)."""
        phi = self.phi.double()
        f = self.eta().double() * phi.T / self.sigma2().double()
        return dict(F=f, W=f @ phi, c=self.eta().double() * self.b().double(), u0=self.u0.double())

    # -- dynamics ----------------------------------------------------------------------------
    def delta(self, x, z):
        err = (x - z @ self.phi.T) / self.sigma2()
        return self.eta() * (err @ self.phi - self.b())

    def update(self, u, x, z, clamp):
        du = clamp_u(self.delta(x, z), clamp)
        return clamp_u(u + du, clamp)

    def initial_state(self, batch):
        return self.u0.unsqueeze(0).expand(batch, -1)

    def recon_nll(self, x, z):
        """Gaussian negative log-likelihood of x given Phi z, summed over pixels."""
        s2 = self.sigma2()
        return (0.5 * (x - z @ self.phi.T) ** 2 / s2 + 0.5 * torch.log(s2)
                + 0.5 * math.log(2 * math.pi)).sum(-1)

    @torch.no_grad()
    def infer(self, x, t_max, seed=0, count_cap=None, record=(), clamp=CLAMP):
        """Exact-Poisson inference (evaluation). Returns dict t -> (u_t, z_out_t) for t in record,
        where z_out_t ~ Poisson(exp(u_t)) is a fresh output sample (the hardware's output)."""
        g = torch.Generator().manual_seed(seed)
        x = torch.as_tensor(x, dtype=torch.float32)
        u = self.initial_state(len(x)).clone()
        out = {}
        record = set(record)

        def sample(v):
            z = torch.poisson(torch.exp(v) + RATE_EPS, generator=g)
            return torch.clamp(z, max=count_cap) if count_cap is not None else z

        for t in range(t_max + 1):
            if t in record:
                out[t] = (u.clone(), sample(u))
            if t == t_max:
                break
            u = self.update(u, x, sample(u), clamp)
        return out

    def state_dict_numpy(self):
        return {k: v.detach().cpu().numpy().copy() for k, v in self.state_dict().items()}

    @classmethod
    def from_numpy(cls, arrays):
        n, k = arrays["phi"].shape
        m = cls(n, k)
        m.load_state_dict({key: torch.as_tensor(v) for key, v in arrays.items()})
        return m
