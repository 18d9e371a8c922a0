"""Argument types and helpers shared by the commands.

Every number or path a user types is checked where it enters: argparse reports a bad value as
``ipvae <cmd>: error: argument --lanes: must be a positive integer, got '0'`` (exit status 2), so
an explicit value is never replaced by a default and never reaches a traceback. Paths mean what
they mean in the user's shell: they are made absolute here, before any tool changes directory.
"""
from __future__ import annotations

import argparse
import math
from pathlib import Path

SEED_MAX = (1 << 32) - 1


def _fail(what, text):
    raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}")


def _int(text, what):
    try:
        return int(str(text).strip())
    except ValueError:
        _fail(what, text)


def _ranged(parse, what, ok):
    """An argparse type: ``parse`` the text, then check ``ok(value)``; the message names ``what``."""
    def conv(text):
        v = parse(text, what)
        if not ok(v):
            _fail(what, text)
        return v
    return conv


def _float(text, what):
    try:
        v = float(str(text).strip())
    except ValueError:
        _fail(what, text)
    if not math.isfinite(v):
        _fail(what, text)
    return v


positive_int = _ranged(_int, "a positive integer", lambda v: v >= 1)
nonneg_int = _ranged(_int, "an integer >= 0", lambda v: v >= 0)
seed32 = _ranged(_int, f"an integer seed in 0..{SEED_MAX}", lambda v: 0 <= v <= SEED_MAX)
positive_float = _ranged(_float, "a positive finite number", lambda v: v > 0)
nonneg_float = _ranged(_float, "a finite number >= 0", lambda v: v >= 0)
#: the probability of an idle or stalled cycle: 0 <= p < 1 (p = 1 would never move a beat)
stall_probability = _ranged(_float, "a probability in [0, 1)", lambda v: 0 <= v < 1)


def _list(text, conv, what):
    items = [t.strip() for t in str(text).split(",")]
    if not text or not all(items):
        _fail(f"a comma-separated list of {what}", text)
    try:
        return tuple(conv(t) for t in items)
    except argparse.ArgumentTypeError:
        _fail(f"a comma-separated list of {what}", text)


def positive_ints(text):
    return _list(text, positive_int, "positive integers")


def positive_floats(text):
    return _list(text, positive_float, "positive finite numbers")


def out_dir(text):
    """A folder to write into (made if missing); not an existing file."""
    p = Path(text).expanduser().absolute()
    if p.exists() and not p.is_dir():
        raise argparse.ArgumentTypeError(f"{text!r} is an existing file, not a folder")
    return p


def out_file(text):
    """A file to write (its folder is made if missing); not an existing folder."""
    p = Path(text).expanduser().absolute()
    if p.is_dir():
        raise argparse.ArgumentTypeError(f"{text!r} is a folder, not a file")
    if p.parent.exists() and not p.parent.is_dir():
        raise argparse.ArgumentTypeError(f"{text!r}: {str(p.parent)!r} is a file, not a folder")
    return p


def in_path(text):
    """A path to read, absolute (so it means what it meant in the user's shell), as a string."""
    return str(Path(text).expanduser().absolute())


def cluster_spec(text):
    """'local' or a Dask scheduler's address (ipvae/cluster.py)."""
    from ipvae.cluster import check_spec
    from ipvae.golden_model.errors import ParameterError
    try:
        return check_spec(text)
    except ParameterError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix("--cluster ")) from None


def bundle_arg(text):
    """A bundle folder (absolute), builtin:NAME (a bundle the package ships, as the README and the
    board registry name them), or random:NxK for untrained weights of that size."""
    if str(text).startswith("random:"):
        return text
    if str(text).startswith("builtin:"):
        from ipvae.golden_model.bundle import builtin
        from ipvae.golden_model.errors import BundleError
        try:
            builtin(str(text)[len("builtin:"):])
        except BundleError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
        return text
    return in_path(text)


#: ``--lanes`` by what the command does with the lanes: the one definition of the option and its
#: defaults (None: the board's, or what the board reports)
LANES = {
    # a core on its own (rtl, ip): 8 divides K of every shipped bundle
    "core": (8, "parallel lanes P (must divide K)"),
    # co-simulation: 16 lanes keep a regression of the default bundle quick on the simulators
    "cosim": (16, "parallel lanes P of the simulated core (must divide K)"),
    # the golden model's PRNG lanes: the spikes depend on P (docs/arithmetic.md §6); 1 is the reference
    "golden": (1, "PRNG lanes P the golden model samples with (the spikes depend on P)"),
    # a board build or run: the board record's lanes
    "board": (None, "parallel lanes P (default: the board's)"),
    # a board already built: its INFO reply says
    "host": (None, "lanes the board was built with (checked against INFO)"),
}


def add_lanes(parser, purpose: str, help_text: str | None = None):
    """The ``--lanes`` option for a command of ``purpose`` (a key of :data:`LANES`)."""
    default, text = LANES[purpose]
    parser.add_argument("--lanes", type=positive_int, default=default, help=help_text or text)


def add_search(parser, board: bool = False):
    """The ``--search`` option: Poisson-table thresholds the sampler reads per cycle (a divisor of
    count_max + 1), 0 (``timing.PARALLEL_SAMPLER``) for the parallel sampler; the same integer
    reaches CoreConfig and the cycle model unchanged. ``board``: no default (the board's)."""
    from ipvae.rtl.core.timing import DEFAULT_SEARCH, PARALLEL_SAMPLER
    text = (f"Poisson-table thresholds the sampler reads per cycle (divides 16); {PARALLEL_SAMPLER}: the parallel "
            "sampler")
    if board:
        parser.add_argument("--search", type=nonneg_int, help=text + " (default: the board's, rtl/boards/registry.py)")
    else:
        parser.add_argument("--search", type=nonneg_int, default=DEFAULT_SEARCH, help=text + " (default %(default)s)")


def prepare_parent(path: Path):
    """Make the folder a file will be written into."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    return path


def _format_args(p):
    from ipvae.golden_model.formats import Formats
    d = Formats()
    g = p.add_argument_group("fixed-point formats (docs/arithmetic.md)")
    g.add_argument("--weight-bits", type=positive_int, default=d.weight_bits)
    g.add_argument("--u-bits", type=positive_int, default=d.u_bits)
    g.add_argument("--input-bits", type=positive_int, default=d.input_bits)
    g.add_argument("--input-int-bits", type=nonneg_int, default=d.input_int_bits)
    g.add_argument("--count-bits", type=positive_int, default=d.count_bits)
    g.add_argument("--prob-bits", type=positive_int, default=d.prob_bits)
    g.add_argument("--sampler-frac", type=nonneg_int, default=d.sampler_frac)


def _formats(a):
    from ipvae.golden_model.formats import Formats
    return Formats(weight_bits=a.weight_bits, u_bits=a.u_bits, input_bits=a.input_bits,
                   input_int_bits=a.input_int_bits, count_bits=a.count_bits, prob_bits=a.prob_bits,
                   sampler_frac=a.sampler_frac)
