"""``ipvae host``: talk to a board over its UART (docs/uart_protocol.md). Checks that the board
runs the bundle's model (INFO: sizes, formats, fingerprint), loads the weights if the board
keeps them in RAM, streams held-out patches, and checks every reply against the golden model."""
import sys
import time

import numpy as np

from ipvae.golden_model import bundle as bundle_mod
from ipvae.golden_model import protocol as proto
from ipvae.golden_model.data import heldout, prepare
from ipvae.golden_model.errors import IpvaeError, ParameterError
from ipvae.golden_model.formats import encode_input
from ipvae.golden_model.golden import trace_one
from ipvae.golden_model.layout import weight_words


class BoardError(IpvaeError):
    """The board is not the one the bundle describes, or it answered with an error."""


class BoardSession:
    """Request/response over any byte transport: ``read(n)`` returns up to n bytes (fewer on
    timeout), ``write(data)`` sends."""

    def __init__(self, read, write):
        self.read, self.write = read, write

    def request(self, frame: bytes):
        self.write(frame)
        return self.reply()

    def reply(self):
        try:
            return proto.read_reply(self.read)
        except proto.ProtocolError as exc:
            raise BoardError(str(exc)) from None

    def info(self) -> proto.Info:
        kind, payload = self.request(proto.info_request())
        if kind != proto.INFO_REPLY:
            raise BoardError(f"INFO answered with reply type 0x{kind:02x}")
        return proto.parse_info(payload)

    def check(self, fixed, info: proto.Info, lanes=None):
        fmt = fixed.fmt
        want = dict(n_inputs=fixed.n_inputs, n_latents=fixed.n_latents, input_bits=fmt.input_bits,
                    count_bits=fmt.count_bits, u_bits=fmt.u_bits, weight_bits=fmt.weight_bits)
        if lanes is not None:
            want["lanes"] = lanes
        bad = [f"{k}: board {getattr(info, k)}, bundle {v}" for k, v in want.items() if getattr(info, k) != v]
        if bad:
            raise BoardError("the board was built for another model: " + "; ".join(bad))
        if info.fingerprint != proto.model_fingerprint(fixed):
            raise BoardError(f"the board's model fingerprint 0x{info.fingerprint:08x} is not the bundle's "
                             f"0x{proto.model_fingerprint(fixed):08x}: rebuild it from this bundle")

    def load(self, fixed, lanes, progress=None):
        f_words, w_words = weight_words(fixed, lanes)
        frames = [(0, f) for f in proto.load_requests(0, f_words, lanes, fixed.fmt.weight_bits)]
        frames += [(1, f) for f in proto.load_requests(1, w_words, lanes, fixed.fmt.weight_bits)]
        for i, (matrix, frame) in enumerate(frames):
            kind, _ = self.request(frame)
            if kind != proto.LOAD_REPLY:
                raise BoardError(f"LOAD answered with reply type 0x{kind:02x}")
            if progress:
                progress(i + 1, len(frames))

    def infer(self, codes, iterations, seed, info: proto.Info, with_u=False) -> proto.Result:
        return next(self.infer_many([codes], iterations, [seed], info, with_u))

    def infer_many(self, codes, iterations, seeds, info: proto.Info, with_u=False):
        """Yield the Result of each patch in order, the requests pipelined one ahead as the
        protocol allows (docs/uart_protocol.md, Pipelining): request i + 1 goes out before reply i
        is read, request i + 2 once it is in."""
        frames = [proto.infer_request(x, iterations, s, with_u) for x, s in zip(codes, seeds)]
        for f in frames[:2]:
            self.write(f)
        for i in range(len(frames)):
            kind, payload = self.reply()
            if i + 2 < len(frames):
                self.write(frames[i + 2])
            if kind != proto.RESULT:
                raise BoardError(f"INFER answered with reply type 0x{kind:02x}")
            yield proto.parse_result(payload, info.n_latents, with_u, info.count_bits)


def stream(session, b, codes, iterations, seed, lanes, with_u=False, out=print):
    """Send each patch, check it against the golden model; returns the per-patch records."""
    fixed = b.fixed
    if len(codes) == 0:
        raise ParameterError("no patches to send (samples must be at least 1)")
    info = session.info()
    session.check(fixed, info, lanes)
    out(f"[host] board: N={info.n_inputs} K={info.n_latents} P={info.lanes}, max T {info.max_iterations}, "
        f"{info.clock_hz / 1e6:g} MHz, weights {'in RAM' if info.ram_weights else 'in ROM'}, "
        f"fingerprint 0x{info.fingerprint:08x}")
    if iterations > info.max_iterations:
        raise BoardError(f"T={iterations} is more than the board's max_iterations {info.max_iterations}")
    if not info.ready:
        t0 = time.time()
        session.load(fixed, info.lanes, progress=lambda i, n: out(f"[host] loading weights: frame {i}/{n}")
                     if i == n or i % 16 == 0 else None)
        out(f"[host] weights loaded in {time.time() - t0:.1f} s")
        if not session.info().ready:
            raise BoardError("the board does not report its weights loaded after LOAD")
    records = []
    seeds = [(seed + i) % (1 << 32) for i in range(len(codes))]
    t0 = t_start = time.time()
    for i, res in enumerate(session.infer_many(codes, iterations, seeds, info, with_u)):
        t1 = time.time()
        x, s = codes[i], seeds[i]
        want = trace_one(fixed, x, iterations, s, lanes=info.lanes)
        exact = bool(np.array_equal(res.z, want["z"][-1]) and (res.u is None or np.array_equal(res.u, want["u"][-1])))
        records.append(dict(patch=i, seed=s, cycles=res.cycles, us=res.cycles / info.clock_hz * 1e6,
                            spikes=int(res.z.sum()), active=int((res.z > 0).sum()), bit_exact=exact,
                            interval_ms=(t1 - t0) * 1e3))
        t0 = time.time()        # the golden model's check is not the board's time
        r = records[-1]
        out(f"[host] patch {i}: {r['cycles']} cycles = {r['us']:.1f} us on the board, {r['active']}/{fixed.n_latents} "
            f"neurons spiked ({r['spikes']} spikes), reply after {r['interval_ms']:.1f} ms, "
            f"{'bit-exact' if exact else 'MISMATCH with the golden model'}")
    good = sum(r["bit_exact"] for r in records)
    out(f"[host] {good}/{len(records)} bit-exact; median {np.median([r['us'] for r in records]):.1f} us per "
        f"inference on the board, {len(records) / (time.time() - t_start):.0f} inferences/s through the link "
        "(requests pipelined, the golden model's checks included)")
    return records


def run_host(a):
    try:
        import serial  # lazy: pyserial only for a real port
    except ImportError:       # pragma: no cover - pyserial is a dependency
        raise IpvaeError("pyserial is not installed (pip install pyserial)") from None
    b = bundle_mod.load(a.bundle)
    x = heldout(prepare(b.data_spec(), log=lambda s: None), a.samples)
    codes, _ = encode_input(x, b.fmt)
    try:
        port = serial.Serial(a.port, a.baud, timeout=a.timeout)
    except (serial.SerialException, ValueError) as exc:     # ValueError: pyserial's check of baud and timeout
        raise IpvaeError(f"cannot open {a.port}: {exc}") from None
    with port:
        port.reset_input_buffer()
        records = stream(BoardSession(port.read, port.write), b, codes, a.iterations, a.seed, a.lanes,
                         with_u=a.with_u)
    if not all(r["bit_exact"] for r in records):
        raise BoardError("some replies differ from the golden model (see above)")
    sys.stdout.flush()
