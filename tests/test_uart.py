"""UART receiver and transmitter (rtl/link/uart.py) in Amaranth's simulator: a transmitter feeding a
receiver with random gaps and backpressure, bit timing on the pin, framing errors, glitches."""
import random

import pytest
from amaranth import Module
from amaranth.sim import Simulator

from ipvae.golden_model.errors import ParameterError
from ipvae.rtl.link.uart import UARTReceiver, UARTTransmitter, uart_divisor
from ipvae.sim.amaranth_tb import stalls, stream_put


@pytest.mark.parametrize("divisor", [4, 7, 16])
def test_loopback_with_gaps(divisor):
    m = Module()
    m.submodules.tx = tx = UARTTransmitter(divisor)
    m.submodules.rx = rx = UARTReceiver(divisor)
    m.d.comb += rx.rx.eq(tx.tx)
    rng = random.Random(divisor)
    data = [rng.randrange(256) for _ in range(24)] + [0x00, 0xFF, 0x55, 0xAA]
    got = []

    async def send(ctx):
        gaps = stalls("random", divisor)
        for byte in data:
            await stream_put(ctx, tx.i, byte, gaps)

    async def receive(ctx):
        ctx.set(rx.o.ready, 1)
        while len(got) < len(data):
            _, _, valid, payload, ferr, ovr = await ctx.tick().sample(rx.o.valid, rx.o.payload, rx.framing_error,
                                                                        rx.overrun)
            assert not ferr and not ovr
            if valid:
                got.append(payload)

    sim = Simulator(m)
    sim.add_clock(1e-6)
    sim.add_testbench(send)
    sim.add_testbench(receive)
    sim.run_until(len(data) * 12 * divisor * 1e-6 * 2)
    assert got == data


def _drive_bits(ctx_bits, divisor):
    """Pin levels, one per bit time, as a list of per-cycle levels."""
    return [b for b in ctx_bits for _ in range(divisor)]


@pytest.mark.parametrize("stop, glitch", [(1, False), (0, False), (1, True)])
def test_receiver_pin_level(stop, glitch):
    """Drive the pin directly: a good byte, one with a low stop bit (framing error, dropped), and
    a one-cycle glitch before the byte (ignored)."""
    divisor, byte = 8, 0xB6
    rx = UARTReceiver(divisor)
    levels = ([1] * 20 + ([0, 1] if glitch else []) + [1] * 10 +
              _drive_bits([0] + [(byte >> i) & 1 for i in range(8)] + [stop], divisor) + [1] * 40)
    seen = dict(bytes=[], ferr=0)

    async def bench(ctx):
        ctx.set(rx.o.ready, 1)
        for level in levels:
            ctx.set(rx.rx, level)
            _, _, valid, payload, ferr = await ctx.tick().sample(rx.o.valid, rx.o.payload, rx.framing_error)
            if valid:
                seen["bytes"].append(payload)
            seen["ferr"] += ferr

    sim = Simulator(rx)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    if stop:
        assert seen == dict(bytes=[byte], ferr=0)
    else:
        assert seen == dict(bytes=[], ferr=1)


def test_transmitter_bit_timing():
    divisor, byte = 5, 0x3C
    tx = UARTTransmitter(divisor)
    levels = []

    async def bench(ctx):
        ctx.set(tx.i.payload, byte)
        ctx.set(tx.i.valid, 1)
        await ctx.tick()
        ctx.set(tx.i.valid, 0)
        for _ in range(12 * divisor):
            _, _, level = await ctx.tick().sample(tx.tx)
            levels.append(level)

    sim = Simulator(tx)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    bits = [0] + [(byte >> i) & 1 for i in range(8)] + [1]
    assert levels[:10 * divisor] == [b for b in bits for _ in range(divisor)]
    assert all(v == 1 for v in levels[10 * divisor:])


def test_divisor_errors():
    assert uart_divisor(48e6, 115200) == 417
    with pytest.raises(ParameterError, match="baud rate 3000000 is too high for a 10 MHz clock"):
        uart_divisor(10e6, 3_000_000)
    with pytest.raises(ParameterError, match=r"baud rate 2000000 is 5.0% off at 19 MHz \(divisor 10\)"):
        uart_divisor(19e6, 2_000_000)
    with pytest.raises(ParameterError, match="UART divisor must be an integer >= 4, got 3"):
        UARTReceiver(3)
