"""What an inference core is built from, in one validated object (pure Python: no Amaranth).

:class:`CoreConfig` travels whole from the CLI and the board records through the board top, the
board link and the host link to :class:`ipvae.rtl.core.ipvae_core.IpvaeCore`, so adding a core parameter
touches this class and the block that uses it, not every signature on the way.
"""
from __future__ import annotations

import dataclasses

from ipvae.golden_model.errors import ParameterError
from ipvae.golden_model.golden import FixedModel, check_lanes

from .timing import DEFAULT_SEARCH, PARALLEL_SAMPLER

__all__ = ["CoreConfig", "WEIGHT_PLACEMENTS", "check_weights"]

#: where F and W live: initialised block RAM, or memory loaded at run time
WEIGHT_PLACEMENTS = ("rom", "ram")


def check_weights(weights):
    if weights not in WEIGHT_PLACEMENTS:
        raise ParameterError(f"weights must be one of {WEIGHT_PLACEMENTS}, got {weights!r}")


@dataclasses.dataclass(frozen=True)
class CoreConfig:
    """fixed: the integer model (formats, tensors, tables). lanes: P, a divisor of K.
    max_iterations: the largest T the core accepts (1 .. 2^20 - 1).
    search: Poisson-table thresholds the search sampler reads per cycle (a divisor of count_max + 1),
    or ``PARALLEL_SAMPLER`` (0) for the parallel sampler, as on the command line and in the board
    records. weights: "rom" (F and W in initialised block RAM) or "ram"
    (loaded at run time through ``load``; SPRAM on an iCE40). trace: the per-pass trace stream.
    reseed_wait: the samplers' generators load the seed in every cycle the core waits for the last
    input code (the reseed comes from registers only), not just in the cycle that takes it; the
    same generator state either way. False saves logic cells on the iCE40 (rtl/boards/registry.py).
    lateral_lanes: 0 for today's core (P fused lanes: drive, update, sampler and lateral per lane);
    L > 0 for the array core (rtl/core/array_core.py): L neuron-parallel lateral lanes (a divisor of K)
    beside ``lanes`` = S update-and-sample units; ``drive_parts`` (words per column of F in the
    array's tiles) and ``tile_lanes`` (lanes per block-RAM tile) shape its memories."""
    fixed: FixedModel
    lanes: int
    max_iterations: int = 1023
    search: int = DEFAULT_SEARCH
    weights: str = "rom"
    trace: bool = False
    reseed_wait: bool = True
    lateral_lanes: int = 0
    drive_parts: int = 2
    tile_lanes: int = 36

    def __post_init__(self):
        fx = self.fixed
        check_lanes(fx.n_latents, self.lanes)
        check_weights(self.weights)
        s = self.search
        if not isinstance(s, int) or isinstance(s, bool) or s < 0 or (s and (fx.fmt.count_max + 1) % s):
            raise ParameterError(f"search must divide {fx.fmt.count_max + 1} (count_max + 1) or be "
                                 f"{PARALLEL_SAMPLER} (the parallel sampler), got {s!r}")
        L = self.lateral_lanes
        if not isinstance(L, int) or L < 0 or (L and fx.n_latents % L):
            raise ParameterError(f"lateral_lanes must be 0 or a divisor of K = {fx.n_latents}, got {L!r}")
        if not isinstance(self.drive_parts, int) or not 1 <= self.drive_parts <= self.tile_lanes:
            raise ParameterError(f"drive_parts must be in 1..tile_lanes ({self.tile_lanes}), "
                                 f"got {self.drive_parts!r}")
        if not isinstance(self.tile_lanes, int) or self.tile_lanes < 1:
            raise ParameterError(f"tile_lanes must be a positive integer, got {self.tile_lanes!r}")
        if not isinstance(self.max_iterations, int) or not 1 <= self.max_iterations < 2 ** 20:
            raise ParameterError(f"max_iterations must be in 1..2^20-1, got {self.max_iterations!r}")
        fx.check()

    @property
    def slots(self) -> int:
        """S = K / P: P-neuron words per pass."""
        return self.fixed.n_latents // self.lanes

    def build(self):
        """The core this configuration describes: the array core (``lateral_lanes`` > 0,
        rtl/core/array_core.py) or today's fused-lane core (rtl/core/ipvae_core.py)."""
        if self.lateral_lanes:
            from .array_core import ArrayCore
            return ArrayCore(self)
        from .ipvae_core import IpvaeCore
        return IpvaeCore(self)

    def replace(self, **changes) -> CoreConfig:
        return dataclasses.replace(self, **changes)

    def settings(self) -> dict:
        """Every field but the model, as JSON-ready data: what a testbench plan carries so the
        process that checks the core builds the same configuration (:meth:`from_settings`)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "fixed"}

    @classmethod
    def from_settings(cls, fixed, settings, **changes) -> CoreConfig:
        """The configuration ``settings`` (a dict holding :meth:`settings`'s keys, others ignored)
        describes for the model ``fixed``, with ``changes`` on top."""
        names = {f.name for f in dataclasses.fields(cls)} - {"fixed"}
        return cls(fixed, **{**{k: v for k, v in settings.items() if k in names}, **changes})
