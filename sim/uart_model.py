"""8N1 UART models for cocotb, timed in clock cycles of the design (one bit = ``divisor``
cycles): a source that drives a pin and a sink that decodes one. Independent of rtl/link/uart.py,
so the co-simulation checks the RTL's UART against a second implementation."""
import cocotb
from cocotb.queue import Queue
from cocotb.triggers import ClockCycles, FallingEdge, RisingEdge


class UartSource:
    def __init__(self, clk, pin, divisor):
        self.clk, self.pin, self.divisor = clk, pin, divisor
        self.pin.value = 1

    async def send(self, data: bytes, gap_bits: int = 0):
        """Bytes back to back (plus ``gap_bits`` idle bits after each one)."""
        for byte in data:
            await FallingEdge(self.clk)
            for bit in [0] + [(byte >> i) & 1 for i in range(8)] + [1]:
                self.pin.value = bit
                await ClockCycles(self.clk, self.divisor, rising=False)
            if gap_bits:
                await ClockCycles(self.clk, self.divisor * gap_bits, rising=False)

    async def send_bits(self, bits):
        """Raw levels, one per bit time (for framing-error tests)."""
        await FallingEdge(self.clk)
        for bit in bits:
            self.pin.value = bit
            await ClockCycles(self.clk, self.divisor, rising=False)
        self.pin.value = 1


class UartSink:
    """Decodes the pin into a queue of bytes; a byte with a low stop bit is recorded in
    ``framing_errors`` and dropped."""

    def __init__(self, clk, pin, divisor):
        self.clk, self.pin, self.divisor = clk, pin, divisor
        self.queue = Queue()
        self.framing_errors = 0
        self._task = cocotb.start_soon(self._run())

    async def _run(self):
        while True:
            await RisingEdge(self.clk)
            if int(self.pin.value) != 0:
                continue
            await ClockCycles(self.clk, self.divisor // 2)        # middle of the start bit
            if int(self.pin.value) != 0:
                continue                                          # a glitch
            byte = 0
            for i in range(8):
                await ClockCycles(self.clk, self.divisor)
                byte |= int(self.pin.value) << i
            await ClockCycles(self.clk, self.divisor)
            if int(self.pin.value) != 1:
                self.framing_errors += 1
                continue
            self.queue.put_nowait(byte)

    async def read(self, n: int, timeout_cycles: int):
        """n bytes, or fewer if none arrives for ``timeout_cycles``."""
        from cocotb.triggers import SimTimeoutError, with_timeout
        out = bytearray()
        period = self._period_ns()
        for _ in range(n):
            try:
                out.append(await with_timeout(self.queue.get(), timeout_cycles * period, "ns"))
            except SimTimeoutError:
                break
        return bytes(out)

    def _period_ns(self):
        return getattr(self, "period_ns", 10)
