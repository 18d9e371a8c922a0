"""golden_model/protocol.py: CRC-8, frame layout, reply parsing and its error messages."""
import struct

import numpy as np
import pytest

from ipvae.golden_model import protocol as proto
from ipvae.golden_model.errors import IpvaeError, ParameterError
from ipvae.golden_model.formats import Formats
from ipvae.golden_model.golden import fold
from ipvae.golden_model.random_model import random_float_model


def test_crc8_check_value():
    # CRC-8 (poly 0x07, init 0, no reflection, no xorout): the catalogue check value of "123456789"
    assert proto.crc8(b"123456789") == 0xF4
    assert proto.crc8(b"") == 0


def test_infer_request_layout():
    codes = np.array([-128, -1, 0, 5, 127])
    f = proto.infer_request(codes, 32, 0xDEADBEEF, with_u=True)
    assert f[0] == proto.MAGIC_REQUEST and f[1] == proto.INFER
    assert struct.unpack("<H", f[2:4])[0] == proto.INFER_HEADER + 5
    assert f[4] == proto.FLAG_U and struct.unpack("<HI", f[5:11]) == (32, 0xDEADBEEF)
    assert list(np.frombuffer(f[11:16], np.int8)) == list(codes)
    assert f[-1] == proto.crc8(f[1:-1])


@pytest.mark.parametrize("args, message", [
    ((np.zeros((2, 3)), 4, 1), r"input codes must be one patch \(a 1-D array\), got shape \(2, 3\)"),
    ((np.array([200]), 4, 1), "input codes must fit a signed byte"),
    ((np.zeros(3), 70000, 1), "iterations must be an integer in 0..65535, got 70000"),
    ((np.zeros(3), -1, 1), "iterations must be an integer in 0..65535, got -1"),
    ((np.zeros(3), 4, -1), "seed must be a 32-bit unsigned integer, got -1"),
    ((np.array([0.5, 1.0]), 4, 1), "input codes must be integers, got float64 values"),
])
def test_infer_request_errors(args, message):
    with pytest.raises(ParameterError, match=message):
        proto.infer_request(*args)


def _reply(kind, payload):
    return proto.frame(kind, payload, magic=proto.MAGIC_REPLY)


def _reader(data):
    pos = [0]

    def read(n):
        out = data[pos[0]:pos[0] + n]
        pos[0] += n
        return out
    return read


def test_read_reply_and_result():
    z = np.arange(6) % 16
    u = np.array([-32768, -1, 0, 1, 1234, 32767])
    body = b"".join(bytes([int(zz)]) + struct.pack("<h", int(uu)) for zz, uu in zip(z, u))
    data = _reply(proto.RESULT, struct.pack("<IH", 12345, 7) + body)
    kind, payload = proto.read_reply(_reader(data))
    res = proto.parse_result(payload, 6, True, 4)
    assert kind == proto.RESULT and res.cycles == 12345 and res.iterations == 7
    assert np.array_equal(res.z, z) and np.array_equal(res.u, u)
    with pytest.raises(proto.ProtocolError, match="RESULT has 24 bytes, expected 9 for K=6 and 4-bit counts"):
        proto.parse_result(payload, 6, False, 4)
    with pytest.raises(proto.ProtocolError, match="RESULT has 24 bytes, expected 12 for K=6 and 5-bit counts"):
        proto.parse_result(payload, 6, False, 5)


@pytest.mark.parametrize("k", [1, 6, 7, 128])
def test_counts_only_result_is_packed_in_nibbles(k):
    """Counts of up to 4 bits: neuron 2i in the low nibble of byte i, 2i + 1 in the high one (an
    odd K pads the last high nibble with 0); 5 bits and more: one byte per count."""
    z = (np.arange(k) * 7 + 3) % 16
    padded = np.append(z, 0) if k % 2 else z
    body = bytes(int(lo) | int(hi) << 4 for lo, hi in zip(padded[0::2], padded[1::2]))
    res = proto.parse_result(struct.pack("<IH", 99, 3) + body, k, False, 4)
    assert np.array_equal(res.z, z) and res.u is None
    assert proto.result_length(k, False, 4) == 6 + (k + 1) // 2 and proto.result_length(k, False, 8) == 6 + k
    assert proto.result_length(k, True, 4) == proto.result_length(k, True, 8) == 6 + 3 * k
    res = proto.parse_result(struct.pack("<IH", 99, 3) + bytes(z.tolist()), k, False, 5)
    assert np.array_equal(res.z, z)


@pytest.mark.parametrize("data, message", [
    (b"", "no reply"),
    (b"\x00\x83\x00\x00\x00", "reply starts with 0x00, expected 0x5a"),
    (b"\x5a\x83\x05\x00\x01", r"reply 0x83 cut short: 1 of 6 bytes"),
    (b"\x5a\x81\x00\x00\x01", "reply 0x81 has a bad checksum"),
    (_reply(proto.ERROR, bytes([4, 3])), r"board error BAD_CHECKSUM \(frame type 0x03\)"),
])
def test_read_reply_errors(data, message):
    with pytest.raises(proto.ProtocolError, match=message):
        proto.read_reply(_reader(data))


def test_load_requests_split_words():
    tensors, _ = random_float_model(6, 8, seed=2)
    fx = fold(tensors, Formats())
    from ipvae.golden_model.layout import weight_words
    f_words, _ = weight_words(fx, 4)
    frames = proto.load_requests(0, f_words, 4, 8, chunk_words=5)
    assert len(frames) == -(-len(f_words) // 5)
    data = b"".join(f[4 + proto.LOAD_HEADER:-1] for f in frames)
    # lane p's weight is byte p of each word, in word order
    expect = np.array([[fx.F[s * 4 + p, n] for p in range(4)] for s in range(2) for n in range(6)])
    assert np.array_equal(np.frombuffer(data, np.int8).reshape(-1, 4), expect)
    assert [struct.unpack("<BH", f[4:7]) for f in frames[:2]] == [(0, 0), (0, 5)]


def test_fingerprint_tracks_weights():
    tensors, _ = random_float_model(6, 8, seed=2)
    fx = fold(tensors, Formats())
    a = proto.model_fingerprint(fx)
    fx.W[0, 1] += 1
    assert proto.model_fingerprint(fx) != a and 0 <= a < 2 ** 32


def test_protocol_errors_are_project_errors():
    """A malformed board reply is the user's (or the board's) problem, not a bug: the CLI prints it."""
    assert issubclass(proto.ProtocolError, IpvaeError)
    with pytest.raises(proto.ProtocolError, match="^ERROR reply has 1 bytes, expected 2$"):
        proto.parse_error(b"\x01")


def test_infer_bytes_are_the_frames_on_the_wire():
    req, rep = proto.infer_bytes(64, 128, 4)
    assert req == len(proto.infer_request(np.zeros(64, np.int64), 32, 1)) == 76
    assert rep == 4 + proto.result_length(128, False, 4) + 1 == 75
    assert proto.infer_bytes(64, 128, 4, with_u=True)[1] == 5 + 6 + 3 * 128
