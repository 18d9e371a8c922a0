"""``ipvae``: the one console command. Subcommands: data, train, export, eval, baseline,
quant-sweep, rtl, latency, sim, flow. Errors the user can act on print one line and exit with status 2."""
from __future__ import annotations

import argparse
import os
import sys

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


def build_parser():
    import importlib

    from . import commands
    p = argparse.ArgumentParser(prog="ipvae", description="iP-VAE on FPGA: model, golden model, hardware flow")
    sub = p.add_subparsers(dest="cmd", required=True)
    for name in commands.MODULES:
        importlib.import_module(f"{commands.__name__}.{name}").register(sub)
    return p


def main(argv=None):
    from ipvae.golden_model.errors import IpvaeError
    args = build_parser().parse_args(argv)
    try:
        args.fn(args)
    except IpvaeError as exc:
        print(f"ipvae {args.cmd}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
