"""The UART host protocol (docs/uart_protocol.md): frame constants, CRC-8, encoders and a
decoder. The one Python definition, used by the board-top RTL (rtl/link/host_link.py), the
co-simulation test and ``ipvae host``."""
from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass

import numpy as np

from .errors import IpvaeError, ParameterError

VERSION = 2                # 2: RESULT counts packed two per byte when count_bits <= 4; INFER pipelined
MAGIC_REQUEST, MAGIC_REPLY = 0xA5, 0x5A
# request types
INFO, LOAD, INFER = 0x01, 0x02, 0x03
# reply types
INFO_REPLY, LOAD_REPLY, RESULT, ERROR = 0x81, 0x82, 0x83, 0xFF
#: the reply types a board sends besides ERROR
REPLY_TYPES = (INFO_REPLY, LOAD_REPLY, RESULT)
INFER_HEADER = 7           # flags, T (2), seed (4) before the N input codes
LOAD_HEADER = 3            # matrix, first word (2) before the words
INFO_FORMAT = "<BHHHHBBBBBBII"   # version, N, K, P, max T, 4 widths, RAM weights, loaded, fingerprint, clock
INFO_LENGTH = struct.calcsize(INFO_FORMAT)
RESULT_HEADER = 6          # cycles (4), T (2) before the K records
FLAG_U = 0x01              # INFER flags bit 0: the reply carries u as well as z

ERRORS = {
    1: "BAD_MAGIC", 2: "BAD_TYPE", 3: "BAD_LENGTH", 4: "BAD_CHECKSUM", 5: "TIMEOUT",
    6: "BAD_INPUT", 7: "BAD_ITERATIONS", 8: "NOT_LOADED", 9: "BAD_ADDRESS", 10: "READ_ONLY", 11: "BUSY",
}
ERROR_CODES = {name: code for code, name in ERRORS.items()}


class ProtocolError(IpvaeError):
    """A reply that does not parse, or an error reply from the board (a project error: the CLI
    prints it on one line)."""


def crc8(data: bytes, crc: int = 0) -> int:
    """CRC-8, polynomial x^8 + x^2 + x + 1 (0x07), initial value 0, no reflection, no final XOR,
    over the type, length and payload bytes (not the magic)."""
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = ((crc << 1) ^ 0x07) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
    return crc


#: the largest payload a frame's 16-bit length field can state
MAX_PAYLOAD = 0xFFFF


def frame(kind: int, payload: bytes, magic: int = MAGIC_REQUEST) -> bytes:
    """One frame: magic, type, 16-bit little-endian length, payload, CRC-8 of type..payload."""
    if len(payload) > MAX_PAYLOAD:
        raise ParameterError(f"a frame's payload is at most {MAX_PAYLOAD:,} bytes (its 16-bit length field), "
                             f"got {len(payload):,}")
    body = bytes([kind]) + struct.pack("<H", len(payload)) + bytes(payload)
    return bytes([magic]) + body + bytes([crc8(body)])


def info_request() -> bytes:
    return frame(INFO, b"")


def infer_request(codes, iterations: int, seed: int, with_u: bool = False) -> bytes:
    codes = np.asarray(codes)
    if codes.dtype.kind not in "iuf" or (codes.dtype.kind == "f" and not np.all(codes == np.round(codes))):
        raise ParameterError(f"input codes must be integers, got {codes.dtype} values")
    codes = codes.astype(np.int64)
    if codes.ndim != 1:
        raise ParameterError(f"input codes must be one patch (a 1-D array), got shape {codes.shape}")
    if codes.size and (codes.min() < -128 or codes.max() > 127):
        raise ParameterError("input codes must fit a signed byte")
    if not isinstance(iterations, (int, np.integer)) or not 0 <= iterations < 2 ** 16:
        raise ParameterError(f"iterations must be an integer in 0..65535, got {iterations!r}")
    if not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2 ** 32:
        raise ParameterError(f"seed must be a 32-bit unsigned integer, got {seed!r}")
    payload = struct.pack("<BHI", FLAG_U if with_u else 0, iterations, seed) + (codes & 0xFF).astype(np.uint8).tobytes()
    return frame(INFER, payload)


def weight_bytes(weight_bits: int) -> int:
    """Bytes per weight in a LOAD frame: 1 up to 8 bits, 2 up to 16."""
    return -(-weight_bits // 8)


def load_requests(matrix: int, words, lanes: int, weight_bits: int, chunk_words: int = 256):
    """LOAD frames for matrix 0 (F) or 1 (W): core words (golden_model/layout.py weight_words),
    lane p's weight as ``weight_bytes`` little-endian two's-complement bytes, lane 0 first;
    ``chunk_words`` words per frame."""
    frames = []
    mask = (1 << weight_bits) - 1
    nb = weight_bytes(weight_bits)
    for start in range(0, len(words), chunk_words):
        chunk = words[start:start + chunk_words]
        data = bytearray()
        for word in chunk:
            for p in range(lanes):
                v = (int(word) >> (p * weight_bits)) & mask
                if v >> (weight_bits - 1):
                    v -= 1 << weight_bits
                data += (v & ((1 << 8 * nb) - 1)).to_bytes(nb, "little")
        frames.append(frame(LOAD, struct.pack("<BH", matrix, start) + bytes(data)))
    return frames


@dataclass
class Info:
    version: int
    n_inputs: int
    n_latents: int
    lanes: int
    max_iterations: int
    input_bits: int
    count_bits: int
    u_bits: int
    weight_bits: int
    ram_weights: bool
    loaded: int               # bit 0: F loaded, bit 1: W loaded (always 3 on ROM builds)
    fingerprint: int
    clock_hz: int

    @property
    def ready(self):
        return self.loaded == 3


@dataclass
class Result:
    cycles: int
    iterations: int
    z: np.ndarray
    u: np.ndarray | None


def read_reply(read) -> tuple[int, bytes]:
    """One reply from ``read(n) -> bytes`` (exactly n bytes or fewer on timeout):
    returns (type, payload); raises ProtocolError on a malformed reply or an ERROR reply."""
    head = read(4)
    if len(head) < 4:
        raise ProtocolError(f"no reply (got {len(head)} of 4 header bytes)")
    if head[0] != MAGIC_REPLY:
        raise ProtocolError(f"reply starts with 0x{head[0]:02x}, expected 0x{MAGIC_REPLY:02x}")
    kind, length = head[1], struct.unpack("<H", head[2:4])[0]
    rest = read(length + 1)
    if len(rest) < length + 1:
        raise ProtocolError(f"reply 0x{kind:02x} cut short: {len(rest)} of {length + 1} bytes")
    payload, crc = rest[:length], rest[length]
    if crc8(head[1:] + payload) != crc:
        raise ProtocolError(f"reply 0x{kind:02x} has a bad checksum")
    if kind == ERROR:
        code = payload[0] if payload else 0
        about = payload[1] if len(payload) > 1 else 0
        raise ProtocolError(f"board error {ERRORS.get(code, code)} (frame type 0x{about:02x})")
    if kind not in REPLY_TYPES:
        raise ProtocolError(f"reply of unknown type 0x{kind:02x} (known: "
                            + ", ".join(f"0x{k:02x}" for k in sorted(REPLY_TYPES)) + ")")
    return kind, payload


def parse_error(payload: bytes) -> tuple[str, int]:
    if len(payload) != 2:
        raise ProtocolError(f"ERROR reply has {len(payload)} bytes, expected 2")
    return ERRORS.get(payload[0], str(payload[0])), payload[1]


def parse_info(payload: bytes) -> Info:
    if len(payload) != INFO_LENGTH:
        raise ProtocolError(f"INFO reply has {len(payload)} bytes, expected {INFO_LENGTH}")
    (version, n, k, p, tmax, ib, cb, ub, wb, mode, loaded, fp, clk) = struct.unpack(INFO_FORMAT, payload)
    return Info(version, n, k, p, tmax, ib, cb, ub, wb, bool(mode), loaded, fp, clk)


def packed_counts(count_bits: int) -> bool:
    """A counts-only RESULT carries two counts per byte when they fit 4 bits."""
    return count_bits <= 4


def result_length(n_latents: int, with_u: bool, count_bits: int) -> int:
    """RESULT payload bytes: the header, then the K records: with u, z (1 byte) and u (2 bytes) per
    neuron; counts only, one byte per neuron, or half a byte when ``packed_counts(count_bits)``."""
    if with_u:
        return RESULT_HEADER + 3 * n_latents
    return RESULT_HEADER + ((n_latents + 1) // 2 if packed_counts(count_bits) else n_latents)


def parse_result(payload: bytes, n_latents: int, with_u: bool, count_bits: int) -> Result:
    want = result_length(n_latents, with_u, count_bits)
    if len(payload) != want:
        raise ProtocolError(f"RESULT has {len(payload)} bytes, expected {want} "
                            f"for K={n_latents}{' with u' if with_u else ''} and {count_bits}-bit counts")
    cycles, iterations = struct.unpack("<IH", payload[:RESULT_HEADER])
    body = np.frombuffer(payload[RESULT_HEADER:], dtype=np.uint8)
    if with_u:
        body = body.reshape(n_latents, 3)
        return Result(cycles, iterations, body[:, 0].astype(np.int64),
                      body[:, 1:3].copy().view("<i2").reshape(-1).astype(np.int64))
    if packed_counts(count_bits):       # neuron 2i in the low nibble of byte i, 2i + 1 in the high one
        body = np.stack([body & 0x0F, body >> 4], axis=1).reshape(-1)[:n_latents]
    return Result(cycles, iterations, body.astype(np.int64), None)


def model_fingerprint(fixed) -> int:
    """32-bit fingerprint of an integer model, built into the board and reported by INFO, so the
    host can refuse a board that runs other weights: the first 4 bytes (little endian) of the
    sha256 of F, W, c, u0, the table (int64, C order) and the two exponents."""
    h = hashlib.sha256()
    for a in (fixed.F, fixed.W, fixed.c, fixed.u0, fixed.table, np.array([fixed.e_f, fixed.e_w])):
        h.update(np.ascontiguousarray(np.asarray(a, dtype=np.int64)).tobytes())
    return int.from_bytes(h.digest()[:4], "little")


FRAME_OVERHEAD = 5         # magic, type, length (2), checksum


def infer_bytes(n, k, count_bits, with_u=False):
    """(request, reply) bytes on the wire of one INFER and its RESULT."""
    return FRAME_OVERHEAD + INFER_HEADER + n, FRAME_OVERHEAD + result_length(k, with_u, count_bits)
