"""Argument helpers shared by the commands."""
from __future__ import annotations


def _ints(text):
    return tuple(int(v) for v in text.split(",") if v)


def _floats(text):
    return tuple(float(v) for v in text.split(",") if v)


def _format_args(p):
    from ipvae.golden_model.formats import Formats
    d = Formats()
    g = p.add_argument_group("fixed-point formats (docs/arithmetic.md)")
    g.add_argument("--weight-bits", type=int, default=d.weight_bits)
    g.add_argument("--u-bits", type=int, default=d.u_bits)
    g.add_argument("--input-bits", type=int, default=d.input_bits)
    g.add_argument("--input-int-bits", type=int, default=d.input_int_bits)
    g.add_argument("--count-bits", type=int, default=d.count_bits)
    g.add_argument("--prob-bits", type=int, default=d.prob_bits)
    g.add_argument("--sampler-frac", type=int, default=d.sampler_frac)


def _formats(a):
    from ipvae.golden_model.formats import Formats
    return Formats(weight_bits=a.weight_bits, u_bits=a.u_bits, input_bits=a.input_bits,
                   input_int_bits=a.input_int_bits, count_bits=a.count_bits, prob_bits=a.prob_bits,
                   sampler_frac=a.sampler_frac)
