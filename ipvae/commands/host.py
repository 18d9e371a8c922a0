"""Talking to a board over its UART: host.

Heavy modules are imported inside the command functions: `ipvae --help` and argument errors stay fast."""
from __future__ import annotations

from .args import add_lanes, bundle_arg, positive_float, positive_int, seed32


def cmd_host(a):
    from ipvae.host.client import run_host
    run_host(a)


def register(sub):
    s = sub.add_parser("host", help="stream inputs to a board over its UART and print the results")
    s.add_argument("--port", required=True, help="serial port, e.g. /dev/ttyUSB1 (iCEBreaker: the second FTDI channel)")
    s.add_argument("--baud", type=positive_int, default=3_000_000,
                   help="the board's UART rate (constraints/<board>.toml; default %(default)s)")
    s.add_argument("--bundle", type=bundle_arg, help="the bundle the board was built from (default: the committed "
                                                     "default)")
    s.add_argument("--samples", type=positive_int, default=10, help="held-out patches to send")
    s.add_argument("--iterations", type=positive_int, default=32)
    s.add_argument("--seed", type=seed32, default=1)
    add_lanes(s, "host")
    s.add_argument("--with-u", action="store_true", help="ask for the final u as well as z")
    s.add_argument("--timeout", type=positive_float, default=5.0, help="seconds to wait for a reply")
    s.set_defaults(fn=cmd_host)
