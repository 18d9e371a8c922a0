"""rtl/link/frame_receiver.py on its own: payload bytes handed on with their index, header errors,
checksum verdict, timeout and bad-magic aborts, the executor's hold, and the wait for resume."""
import pytest
from amaranth.sim import Simulator

from ipvae.golden_model import protocol as proto
from ipvae.rtl.link.frame_receiver import FrameReceiver
from ipvae.sim.amaranth_tb import stalls, stream_put

N = 5


def _run(frames, *, ram=True, pattern="random", hold_every=0, timeout=40, gap_after=None):
    """Send ``frames`` (bytes) with ``pattern`` gaps, resuming the receiver 3 cycles after each
    done/abort. Returns the events: ("take", count, byte), ("done", crc_ok), ("abort", code,
    in_payload), ("err", code), ("begin", kind, length)."""
    rcv = FrameReceiver(n_inputs=N, ram=ram, timeout_cycles=timeout)
    f = rcv.frame
    events = []
    gaps = stalls(pattern, 1)

    async def send(ctx):
        for fr in frames:
            for i, b in enumerate(fr):
                if gap_after is not None and i == gap_after:
                    await ctx.tick().repeat(timeout + 5)
                await stream_put(ctx, rcv.rx, b, gaps)
            await ctx.tick().repeat(timeout + 10)

    async def watch(ctx):
        cycle, pending = 0, None
        async for _, _, take, count, byte, done, abort, code, inp, errv, err, begin, kind, length, crc_ok in \
                ctx.tick().sample(f.take, f.count, f.byte, f.done, f.abort, f.abort_code, f.in_payload,
                                  f.err_valid, f.err, f.begin, f.kind, f.length, f.crc_ok):
            cycle += 1
            ctx.set(f.hold, hold_every and cycle % hold_every == 0)
            ctx.set(f.resume, 0)
            if take:
                events.append(("take", count, byte))
            if errv:
                events.append(("err", err))
            if begin:
                pending = "begin"
            elif pending == "begin":
                events.append(("begin", kind, length))
                pending = None
            if done:
                pending = ("done", cycle)
            if abort:
                events.append(("abort", code, inp))
                ctx.set(f.resume, 1)
            if isinstance(pending, tuple) and cycle == pending[1] + 1:
                events.append(("done", crc_ok))
                pending = None
                ctx.set(f.resume, 1)

    sim = Simulator(rcv)
    sim.add_clock(1e-8)
    sim.add_testbench(send)
    sim.add_testbench(watch, background=True)
    sim.run()
    return events


@pytest.mark.parametrize("pattern, hold_every", [("none", 0), ("random", 3), ("every_other", 0), ("long", 2)])
def test_infer_frame_bytes_and_checksum(pattern, hold_every):
    fr = proto.infer_request([1, -2, 3, -4, 5], 9, 0xA1B2C3D4)
    ev = _run([fr], pattern=pattern, hold_every=hold_every)
    payload = fr[4:-1]
    assert ("begin", proto.INFER, len(payload)) in ev
    assert [e[1:] for e in ev if e[0] == "take"] == list(enumerate(payload))
    assert ev[-1] == ("done", 1) and not [e for e in ev if e[0] in ("err", "abort")]


def test_bad_checksum_and_header_errors():
    good = proto.info_request()
    bad_crc = good[:-1] + bytes([good[-1] ^ 0xFF])
    ev = _run([bad_crc])
    assert ev[-1] == ("done", 0)
    ev = _run([proto.frame(0x7E, b"")])                      # unknown type
    assert ("err", proto.ERROR_CODES["BAD_TYPE"]) in ev and ev[-1] == ("done", 1)
    ev = _run([proto.frame(proto.INFER, bytes(3))])            # INFER of the wrong length
    assert ("err", proto.ERROR_CODES["BAD_LENGTH"]) in ev
    ev = _run([proto.frame(proto.LOAD, bytes(4))], ram=False)  # a ROM build refuses LOADs
    assert ("err", proto.ERROR_CODES["READ_ONLY"]) in ev


def test_timeout_and_bad_magic_abort():
    fr = proto.infer_request([0] * N, 1, 1)
    ev = _run([fr], gap_after=9)                                # stops inside the payload
    assert ("abort", proto.ERROR_CODES["TIMEOUT"], 1) in ev
    ev = _run([fr], gap_after=2)                                # stops inside the header
    assert ("abort", proto.ERROR_CODES["TIMEOUT"], 0) in ev
    ev = _run([b"\x00\x00" + proto.info_request()])              # junk, then a good frame
    aborts = [e for e in ev if e[0] == "abort"]
    assert aborts == [("abort", proto.ERROR_CODES["BAD_MAGIC"], 0)]   # reported once, not per byte
    assert ev[-1] == ("done", 1)
