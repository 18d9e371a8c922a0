"""``ipvae host``'s session logic (host/client.py) against the host link RTL running in Amaranth's
simulator in a thread, bytes passed through queues in place of a serial port."""
import queue
import threading

import numpy as np
import pytest
from amaranth.sim import Simulator

from ipvae.golden_model.formats import Formats
from ipvae.golden_model.golden import fold
from ipvae.golden_model.random_model import random_float_model
from ipvae.host.client import BoardError, BoardSession, stream
from ipvae.rtl.core.config import CoreConfig
from ipvae.rtl.core.ipvae_core import IpvaeCore
from ipvae.rtl.link.host_link import HostLink


class Bundleish:
    def __init__(self, fixed):
        self.fixed = fixed


def _fixed(seed):
    tensors, _ = random_float_model(12, 8, seed=seed)
    return fold(tensors, Formats())


class SimulatedPort:
    """read/write of a serial port, served by the HostLink RTL in Amaranth's simulator."""

    def __init__(self, link, timeout=20.0):
        self.to_board, self.from_board, self.stop = queue.Queue(), queue.Queue(), threading.Event()
        self.timeout = timeout

        async def bench(ctx):
            ctx.set(link.tx.ready, 1)
            pending = None
            while not self.stop.is_set():
                if pending is None:
                    try:
                        pending = self.to_board.get_nowait()
                    except queue.Empty:
                        pass
                ctx.set(link.rx.valid, pending is not None)
                if pending is not None:
                    ctx.set(link.rx.payload, pending)
                _, _, rx_ready, tx_valid, tx_byte = await ctx.tick().sample(link.rx.ready, link.tx.valid,
                                                                            link.tx.payload)
                if pending is not None and rx_ready:
                    pending = None
                if tx_valid:
                    self.from_board.put(tx_byte)

        sim = Simulator(link)
        sim.add_clock(1e-6)
        sim.add_testbench(bench)
        self.thread = threading.Thread(target=sim.run, daemon=True)
        self.thread.start()

    def write(self, data):
        for b in data:
            self.to_board.put(b)

    def read(self, n):
        out = bytearray()
        try:
            while len(out) < n:
                out.append(self.from_board.get(timeout=self.timeout))
        except queue.Empty:
            pass
        return bytes(out)

    def close(self):
        self.stop.set()
        self.thread.join(timeout=30)


@pytest.fixture
def ram_board():
    fixed = _fixed(3)
    core = IpvaeCore(CoreConfig(fixed, 4, max_iterations=15, weights="ram"))
    port = SimulatedPort(HostLink(core, clock_hz=1_000_000, timeout_cycles=10_000))
    yield fixed, port
    port.close()


def test_stream_loads_and_checks(ram_board):
    fixed, port = ram_board
    codes = np.random.default_rng(0).integers(-128, 128, (2, 12))
    lines = []
    recs = stream(BoardSession(port.read, port.write), Bundleish(fixed), codes, 6, 100, lanes=4, with_u=True,
                  out=lines.append)
    assert [r["bit_exact"] for r in recs] == [True, True] and all(r["cycles"] > 0 for r in recs)
    assert any("weights loaded" in s for s in lines) and "2/2 bit-exact" in lines[-1]


def test_refuses_another_model(ram_board):
    _, port = ram_board
    other = _fixed(4)
    with pytest.raises(BoardError, match="fingerprint 0x[0-9a-f]{8} is not the bundle's 0x[0-9a-f]{8}"):
        stream(BoardSession(port.read, port.write), Bundleish(other), np.zeros((1, 12), int), 4, 1, lanes=4,
               out=lambda s: None)
    with pytest.raises(BoardError, match="lanes: board 4, bundle 8"):
        stream(BoardSession(port.read, port.write), Bundleish(_fixed(3)), np.zeros((1, 12), int), 4, 1, lanes=8,
               out=lambda s: None)
    with pytest.raises(BoardError, match="T=99 is more than the board's max_iterations 15"):
        stream(BoardSession(port.read, port.write), Bundleish(_fixed(3)), np.zeros((1, 12), int), 99, 1, lanes=4,
               out=lambda s: None)
