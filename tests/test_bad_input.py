"""Bad input, command by command: every case ends with exit status 2 and a message naming the problem
(argparse's "argument --x: must be ..." or the project's one-line "ipvae <cmd>: error: ..."), never a
traceback, never a silent default, never a hang. Cases run in-process and stop before any heavy work."""
import io
import json
import shutil
import threading

import numpy as np
import pytest

from ipvae.cli import build_parser, main
from ipvae.golden_model import bundle as bundle_mod
from ipvae.golden_model import protocol as proto
from ipvae.golden_model.errors import IpvaeError, ParameterError


def run_cli(args, capsys):
    """(exit status, stderr) of `ipvae ARGS`, argparse's own exits included."""
    try:
        code = main([str(a) for a in args])
    except SystemExit as exc:
        code = exc.code
    return code, capsys.readouterr().err


# ------------------------------------------------------------------ argument types (argparse)
ARG_CASES = [
    ("synth --board icebreaker --lanes 0", "argument --lanes: must be a positive integer, got '0'"),
    ("synth --board icebreaker --clock-mhz 0", "argument --clock-mhz: must be a positive finite number, got '0'"),
    ("synth --board icebreaker --clock-mhz nan", "argument --clock-mhz: must be a positive finite number, got 'nan'"),
    ("synth --board icebreaker --clock-mhz inf", "argument --clock-mhz: must be a positive finite number, got 'inf'"),
    ("synth --board icebreaker --seeds 0", "argument --seeds: must be a positive integer, got '0'"),
    ("synth --board icebreaker --seed 0", "argument --seed: must be a positive integer, got '0'"),
    ("synth --board icebreaker --jobs 0", "argument --jobs: must be a positive integer, got '0'"),
    ("synth --board icebreaker --max-iterations 0", "argument --max-iterations: must be a positive integer"),
    ("synth --board icebreaker --iterations -3", "argument --iterations: must be a positive integer, got '-3'"),
    ("synth --board icebreaker --search -1", "argument --search: must be an integer >= 0, got '-1'"),
    ("synth --board arty", "argument --board: invalid choice: 'arty'"),
    ("eval --t ''", "argument --t: must be a comma-separated list of positive integers, got ''"),
    ("eval --t -5", "argument --t: must be a comma-separated list of positive integers, got '-5'"),
    ("eval --t 16,,64", "argument --t: must be a comma-separated list of positive integers, got '16,,64'"),
    ("eval --samples 0", "argument --samples: must be a positive integer, got '0'"),
    ("eval --samples -1", "argument --samples: must be a positive integer, got '-1'"),
    ("eval --runaway -1", "argument --runaway: must be an integer >= 0, got '-1'"),
    ("eval --seed -1", "argument --seed: must be an integer seed in 0..4294967295, got '-1'"),
    (f"eval --seed {2 ** 40}", f"argument --seed: must be an integer seed in 0..4294967295, got '{2 ** 40}'"),
    ("eval --lanes 0", "argument --lanes: must be a positive integer, got '0'"),
    ("sim --gap 1.5", r"argument --gap: must be a probability in \[0, 1\), got '1.5'"),
    ("sim --gap 1", r"argument --gap: must be a probability in \[0, 1\), got '1'"),
    ("sim --backpressure -0.1", r"argument --backpressure: must be a probability in \[0, 1\), got '-0.1'"),
    ("sim --backpressure nan", r"argument --backpressure: must be a probability in \[0, 1\), got 'nan'"),
    ("sim --iterations 0", "argument --iterations: must be a positive integer, got '0'"),
    ("sim --samples 0", "argument --samples: must be a positive integer, got '0'"),
    ("sim --lanes x", "argument --lanes: must be a positive integer, got 'x'"),
    ("sim --seed -2", "argument --seed: must be an integer seed"),
    ("sim --sim modelsim", "argument --sim: invalid choice: 'modelsim'"),
    ("train --lr nan", "argument --lr: must be a positive finite number, got 'nan'"),
    ("train --lr 0", "argument --lr: must be a positive finite number, got '0'"),
    ("train --threads 0", "argument --threads: must be a positive integer, got '0'"),
    ("train --beta -1", "argument --beta: must be a finite number >= 0, got '-1'"),
    ("train --steps 0", "argument --steps: must be a positive integer, got '0'"),
    ("train --batch -4", "argument --batch: must be a positive integer, got '-4'"),
    ("train --latents 0", "argument --latents: must be a positive integer, got '0'"),
    ("train --t-train 0", "argument --t-train: must be a positive integer, got '0'"),
    ("train --checkpoint-minutes 0", "argument --checkpoint-minutes: must be a positive finite number"),
    ("train --max-minutes -1", "argument --max-minutes: must be a finite number >= 0, got '-1'"),
    ("train --beta-ramp-samples -5", "argument --beta-ramp-samples: must be an integer >= 0, got '-5'"),
    ("data --n-train 0", "argument --n-train: must be a positive integer, got '0'"),
    ("data --n-valid -1", "argument --n-valid: must be a positive integer, got '-1'"),
    ("data --patch 0", "argument --patch: must be a positive integer, got '0'"),
    ("data --seed -1", "argument --seed: must be an integer seed"),
    ("latency --iterations 0", "argument --iterations: must be a positive integer, got '0'"),
    ("latency --samples 0", "argument --samples: must be a positive integer, got '0'"),
    ("rtl --lanes 0", "argument --lanes: must be a positive integer, got '0'"),
    ("rtl --max-iterations 0", "argument --max-iterations: must be a positive integer, got '0'"),
    ("sweep --seeds 0", "argument --seeds: must be a positive integer, got '0'"),
    ("sweep --lanes 3,x", "argument --lanes: must be a comma-separated list of positive integers, got '3,x'"),
    ("sweep --weight-bits ''", "argument --weight-bits: must be a comma-separated list of positive integers"),
    ("sweep --samples 0", "argument --samples: must be a positive integer, got '0'"),
    ("host --port /dev/null --timeout -1", "argument --timeout: must be a positive finite number, got '-1'"),
    ("host --port /dev/null --timeout 0", "argument --timeout: must be a positive finite number, got '0'"),
    ("host --port /dev/null --samples 0", "argument --samples: must be a positive integer, got '0'"),
    ("host --port /dev/null --iterations -1", "argument --iterations: must be a positive integer, got '-1'"),
    ("host --port /dev/null --baud 0", "argument --baud: must be a positive integer, got '0'"),
    ("host --port /dev/null --seed -1", "argument --seed: must be an integer seed"),
    ("flow --sim-samples 0", "argument --sim-samples: must be a positive integer, got '0'"),
    ("flow --seeds 0", "argument --seeds: must be a positive integer, got '0'"),
    ("flow --lanes 0", "argument --lanes: must be a positive integer, got '0'"),
    ("flow --samples 0", "argument --samples: must be a positive integer, got '0'"),
    ("export --checkpoint x --out y --weight-bits 0", "argument --weight-bits: must be a positive integer, got '0'"),
    ("baseline --lambdas 0.3,nan", "argument --lambdas: must be a comma-separated list of positive finite numbers"),
]


@pytest.mark.parametrize("line, message", ARG_CASES, ids=[c[0] for c in ARG_CASES])
def test_argument_errors(line, message, capsys):
    import shlex
    code, err = run_cli(shlex.split(line), capsys)
    assert code == 2
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith(f"ipvae {line.split()[0]}: error: ")
    import re
    assert re.search(message, err), err


# ------------------------------------------------------------------ paths
def test_output_paths(tmp_path, capsys):
    a_file = tmp_path / "f.txt"
    a_file.write_text("x")
    code, err = run_cli(["rtl", "--out", a_file], capsys)
    assert code == 2 and f"argument --out: '{a_file}' is an existing file, not a folder" in err
    code, err = run_cli(["latency", "--write", tmp_path], capsys)
    assert code == 2 and f"argument --write: '{tmp_path}' is a folder, not a file" in err
    code, err = run_cli(["data", "--plot", tmp_path], capsys)
    assert code == 2 and "is a folder, not a file" in err
    code, err = run_cli(["bench", "--write", tmp_path], capsys)
    assert code == 2 and "is a folder, not a file" in err
    code, err = run_cli(["latency", "--write", a_file / "x.md"], capsys)
    assert code == 2 and f"'{a_file}' is a file, not a folder" in err
    # a missing folder for an output is made, not an error
    assert run_cli(["latency", "--samples", "3", "--iterations", "2", "--write", tmp_path / "new" / "l.md"],
                   capsys)[0] == 0
    assert (tmp_path / "new" / "l.md").read_text().startswith("# Latency of the inference core")


def test_relative_paths_mean_what_they_mean_in_the_shell(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    p = build_parser()
    assert p.parse_args(["sim", "--bundle", "run/bundle"]).bundle == str(tmp_path / "run" / "bundle")
    assert p.parse_args(["flow", "--bundle", "b"]).bundle == str(tmp_path / "b")
    assert p.parse_args(["sim", "--build", "sb"]).build == tmp_path / "sb"
    assert p.parse_args(["train", "--resume", "r"]).resume == str(tmp_path / "r")
    assert p.parse_args(["synth", "--board", "icebreaker", "--bundle", "random:4x4"]).bundle == "random:4x4"


# ------------------------------------------------------------------ project errors (one line, exit 2)
def _project_error(args, capsys, message):
    code, err = run_cli(args, capsys)
    assert code == 2, err
    assert "Traceback" not in err
    assert err.startswith(f"ipvae {args[0]}: error: "), err
    assert message in err, err
    return err


@pytest.fixture(scope="module")
def bad_images(tmp_path_factory):
    from PIL import Image
    root = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(0)
    for name, make in (("black", lambda: np.zeros((64, 64), np.uint8)),
                       ("tiny", lambda: (rng.random((4, 4)) * 255).astype(np.uint8)),
                       ("corrupt", lambda: (rng.random((64, 64)) * 255).astype(np.uint8))):
        (root / name).mkdir()
        for i in range(3):
            Image.fromarray(make()).save(root / name / f"{i}.png")
    (root / "corrupt" / "9.png").write_bytes(b"\x89PNG broken")
    (root / "one").mkdir()
    Image.fromarray((rng.random((64, 64)) * 255).astype(np.uint8)).save(root / "one" / "0.png")
    (root / "junk.npy").write_bytes(b"not numpy")
    (root / "j.json").write_text('{"a": 1}')
    return root


@pytest.mark.parametrize("args, message", [
    (["data", "--patch", "1000"], "is smaller than the 1000x1000 patch; choose a smaller --patch"),
    (["data", "--patch", "1"], "patch size must be >= 2, got 1"),
    (["data", "--dataset", "folder"], "dataset 'folder' needs a path"),
    (["data", "--dataset", "nope"], "unknown dataset 'nope'"),
    (["data", "--dataset", "folder", "--path", "{root}/missing"], "does not exist"),
    (["data", "--dataset", "folder", "--path", "{root}/black"], "images are constant (all pixels equal)"),
    (["data", "--dataset", "folder", "--path", "{root}/tiny"], "an image of 4x4 pixels is smaller than the 8x8 patch"),
    (["data", "--dataset", "folder", "--path", "{root}/corrupt"], "cannot read image"),
    (["data", "--dataset", "folder", "--path", "{root}/one"], "needs at least 2 images"),
    (["data", "--dataset", "file", "--path", "{root}/junk.npy"], "cannot read"),
    (["data", "--dataset", "file", "--path", "{root}/j.json"], "cannot read {root}/j.json as .npy/.npz: not a NumPy"),
    (["train", "--patch", "1", "--steps", "1"], "patch size must be >= 2, got 1"),
    (["data", "--dataset", "mnist", "--patch", "3"], "--patch applies to the photos and folder datasets; 'mnist'"),
    (["train", "--dataset", "digits8", "--patch", "4"], "--patch applies to the photos and folder datasets"),
])
def test_data_errors(args, message, bad_images, capsys):
    _project_error([a.format(root=bad_images) for a in args], capsys, message.format(root=bad_images))


def test_checkpoint_errors(tmp_path, capsys):
    (tmp_path / "rand.pt").write_bytes(bytes(range(200)) * 3)
    (tmp_path / "j.json").write_text('{"a": 1}')
    for name, message in (("rand.pt", "is corrupt or not an ipvae checkpoint"),
                          ("j.json", "is corrupt or not an ipvae checkpoint"),
                          ("missing.pt", "does not exist")):
        _project_error(["export", "--checkpoint", tmp_path / name, "--out", tmp_path / "o"], capsys, message)
    _project_error(["export", "--checkpoint", tmp_path, "--out", tmp_path / "o"], capsys,
                   "is a folder; give the checkpoint.pt file inside it")
    import torch
    torch.save(dict(version=1, model={}, opt={}, step=3), tmp_path / "state.pt")
    _project_error(["export", "--checkpoint", tmp_path / "state.pt", "--out", tmp_path / "o"], capsys,
                   f"is a training state (the run's state.pt), not a finished checkpoint: finish the run with "
                   f"`ipvae train --resume {tmp_path}`")


def test_resume_errors(tmp_path, capsys):
    _project_error(["train", "--resume", tmp_path], capsys, "no state.pt to resume from")
    _project_error(["train", "--resume", tmp_path, "--steps", "9"], capsys,
                   "--resume continues a run with its own configuration and folder; drop --steps")


@pytest.mark.parametrize("args, message", [
    (["rtl", "--lanes", "3"], "lanes (3) must divide the number of latents K (128)"),
    (["rtl", "--search", "3"], "search must divide 16 (count_max + 1) or be 0 (the parallel sampler), got 3"),
    (["synth", "--board", "icebreaker", "--bundle", "random:0x5"], "a random bundle is random:NxK with N and K in "
                                                                   "1..4096"),
    (["synth", "--board", "icebreaker", "--bundle", "random:axb"], "a random bundle is random:NxK"),
    (["synth", "--board", "icebreaker", "--seed", "1", "--seeds", "2"], "give --seed S or --seeds N, not both"),
    (["eval", "--bundle", "/nonexistent/bundle"], "is not a directory"),
    (["bench", "--reports", "/nonexistent/report.json"], "synthesis report not found: /nonexistent/report.json"),
    (["eval", "--samples", "100000"], "--samples 100000 asks for more held-out samples than the dataset has (5,000"),
    (["latency", "--samples", "6000"], "--samples 6000 asks for more held-out samples than the dataset has"),
    (["sim", "--samples", "9000"], "--samples 9000 asks for more held-out samples than the dataset has"),
    (["train", "--batch", "70000", "--steps", "1"], "batch 70000 is larger than the training set (60,000 samples)"),
])
def test_hardware_parameter_errors(args, message, tmp_path, capsys):
    if args[0] in ("rtl", "synth", "train"):
        args = args + ["--out", str(tmp_path / "o")]
    if args[0] in ("latency", "bench"):
        args = args + ["--write", str(tmp_path / "l.md")]
    _project_error(args, capsys, message)


# ------------------------------------------------------------------ bundles: one schema
def _edit_bundle(tmp_path, edit_meta=None, edit_arrays=None):
    dst = tmp_path / "b"
    shutil.copytree(bundle_mod.DEFAULT_BUNDLE, dst)
    meta = json.loads((dst / "bundle.json").read_text())
    if edit_arrays is not None:
        with np.load(dst / "tensors.npz") as z:
            arrays = {k: z[k] for k in z.files}
        edit_arrays(arrays)
        np.savez(dst / "tensors.npz", **arrays)
        for k, v in arrays.items():
            meta["tensors"][k] = dict(dtype=str(v.dtype), shape=list(v.shape), sha256=bundle_mod._sha(v))
    if edit_meta is not None:
        edit_meta(meta)
    (dst / "bundle.json").write_text(json.dumps(meta))
    return dst


def _set(path, value):
    def edit(meta):
        d = meta
        for k in path[:-1]:
            d = d[k]
        d[path[-1]] = value
    return edit


@pytest.mark.parametrize("edit, message", [
    (_set(["exponents", "e_f"], 1000), "exponents.e_f = 1000 is outside -8..48"),
    (_set(["exponents", "e_w"], "eleven"), "exponents.e_w must be an integer, got 'eleven'"),
    (_set(["exponents", "drive_shift"], 9), "exponents.drive_shift 9 disagrees with e_f + input_frac - e_w"),
    (_set(["tensors"], []), "the 'tensors' section must be an object, got list"),
    (lambda m: m["tensors"]["F"].pop("shape"), "tensors.F lacks 'shape'"),
    (_set(["data", "colour"], "red"), "unknown key(s) in the 'data' section: 'colour'"),
    (_set(["surprise"], 1), "unknown key(s) 'surprise'"),
    (_set(["dims", "n_inputs"], 0), "dims.n_inputs must be an integer in 1..65536, got 0"),
    (_set(["dims", "sample_shape"], [9, 9]), "dims.sample_shape must be positive integers whose product is N=64"),
    (_set(["formats", "weight_bits"], 8.5), "formats.weight_bits must be an integer in 0..32, got 8.5"),
    (_set(["formats", "colour_bits"], 3), "unknown format fields: colour_bits"),
    (_set(["version"], 99), "bundle version 99 is not supported"),
    (_set(["metrics"], [1, 2]), "the 'metrics' section must be an object, got list"),
    (lambda m: m.pop("exponents"), "lacks the 'exponents' section"),
])
def test_bundle_schema(edit, message, tmp_path, capsys):
    path = _edit_bundle(tmp_path, edit_meta=edit)
    with pytest.raises(IpvaeError) as exc:
        bundle_mod.load(path)
    assert message in str(exc.value)
    # and every command that loads a bundle says the same, on one line
    _project_error(["eval", "--bundle", path], capsys, message)


def test_bundle_integer_tensors_must_be_integers(tmp_path, capsys):
    path = _edit_bundle(tmp_path, edit_arrays=lambda a: a.update(F=a["F"].astype(np.float64) + 0.25))
    _project_error(["eval", "--bundle", path], capsys, "tensor 'F' must hold integers (the hardware's codes), got "
                                                       "float64")
    _project_error(["rtl", "--bundle", path, "--out", tmp_path / "o"], capsys, "must hold integers")
    _project_error(["latency", "--bundle", path, "--write", tmp_path / "l.md"], capsys, "must hold integers")


def test_bundle_float_tensors_must_be_finite(tmp_path, capsys):
    path = _edit_bundle(tmp_path, edit_arrays=lambda a: a["phi"].__setitem__((0, 0), np.nan))
    _project_error(["eval", "--bundle", path], capsys, "float tensor 'phi' contains NaN or Inf")


# ------------------------------------------------------------------ host API and protocol
def test_data_plot_of_samples_without_an_image_shape(tmp_path, capsys):
    """(samples, features) data is valid data, but --plot draws images: one clear line, and the
    stats line prints the sample shape as plain integers."""
    np.save(tmp_path / "flat.npy", np.random.default_rng(0).standard_normal((400, 16)))
    code, err = run_cli(["data", "--dataset", "file", "--path", tmp_path / "flat.npy", "--plot",
                         tmp_path / "p.png"], capsys)
    assert code == 2 and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert err.startswith("ipvae data: error: --plot draws samples as images, and these samples are 16 features")
    code, err = run_cli(["data", "--dataset", "file", "--path", tmp_path / "flat.npy"], capsys)
    assert code == 0


def test_data_stats_print_plain_shapes(tmp_path, capsys):
    np.save(tmp_path / "flat.npy", np.random.default_rng(0).standard_normal((400, 16)))
    for _ in range(2):          # the second run reads the cache, whose shape was a NumPy array
        assert main(["data", "--dataset", "file", "--path", str(tmp_path / "flat.npy")]) == 0
        assert "sample shape (16,)" in capsys.readouterr().out


def test_bench_refuses_a_corrupt_report_before_measuring(tmp_path, capsys):
    import time
    bad = tmp_path / "r.json"
    bad.write_text('{"board": "x", ')
    t0 = time.time()
    err = _project_error(["bench", "--reports", bad, "--write", tmp_path / "b.md"], capsys,
                         f"synthesis report {bad} is not valid JSON")
    assert time.time() - t0 < 5 and len(err.strip().splitlines()) == 1
    bad.write_text('{"board": "x"}')
    _project_error(["bench", "--reports", bad, "--write", tmp_path / "b.md"], capsys,
                   f"synthesis report {bad} is not an ipvae synth report")


def test_frame_payload_over_the_length_field():
    with pytest.raises(ParameterError, match=r"^a frame's payload is at most 65,535 bytes .* got 65,536$"):
        proto.frame(proto.INFER, bytes(65536))
    assert len(proto.frame(proto.INFER, bytes(65535))) == 65535 + 5


def test_reply_of_an_unknown_type_is_refused():
    body = bytes([0x84]) + (0).to_bytes(2, "little")
    reply = bytes([proto.MAGIC_REPLY]) + body + bytes([proto.crc8(body)])
    with pytest.raises(proto.ProtocolError, match=r"^reply of unknown type 0x84 \(known: 0x81, 0x82, 0x83\)$"):
        proto.read_reply(io.BytesIO(reply).read)


@pytest.mark.parametrize("args", [["latency", "--bundle", "builtin:paper", "--samples", "999999"],
                                  ["eval", "--bundle", "builtin:paper", "--samples", "999999"]])
def test_builtin_bundles_on_the_command_line(args, tmp_path, capsys):
    """builtin:NAME names a shipped bundle wherever a bundle is taken (here it loads: the error is
    the sample count's, not "not a directory")."""
    if args[0] == "latency":
        args = args + ["--write", str(tmp_path / "l.md")]
    _project_error(args, capsys, "--samples 999999 asks for more held-out samples than the dataset has")


def test_unknown_builtin_bundle_names_the_shipped_ones(capsys):
    code, err = run_cli(["eval", "--bundle", "builtin:nope"], capsys)
    assert code == 2 and "Traceback" not in err
    assert "argument --bundle: no built-in bundle 'nope'; the package ships default, paper" in err


def test_protocol_replies_of_the_wrong_length_are_project_errors():
    with pytest.raises(proto.ProtocolError, match="^INFO reply has 3 bytes, expected"):
        proto.parse_info(b"abc")
    with pytest.raises(proto.ProtocolError, match="^RESULT has 7 bytes, expected 70 for K=128 and 4-bit counts$"):
        proto.parse_result(bytes(7), 128, False, 4)
    with pytest.raises(proto.ProtocolError, match="^no reply"):
        proto.read_reply(io.BytesIO(b"").read)
    assert issubclass(proto.ProtocolError, IpvaeError)


def test_host_stream_refuses_no_patches():
    from ipvae.host.client import stream
    b = bundle_mod.load()
    with pytest.raises(ParameterError, match="^no patches to send"):
        stream(None, b, np.zeros((0, 64), np.int64), 4, 1, 4)


def test_host_cannot_open_port(capsys):
    # a path that is no serial port: pyserial's error becomes one line naming the port
    _project_error(["host", "--port", "/nonexistent/tty", "--samples", "1"], capsys, "cannot open /nonexistent/tty")


# ------------------------------------------------------------------ long co-simulations report progress
def test_progress_printer_reports_cocotb_progress(tmp_path):
    from ipvae.sim.runner import _progress_printer
    path = tmp_path / "p.jsonl"
    lines, stop = [], threading.Event()
    t = threading.Thread(target=_progress_printer, args=(path, lines.append, stop, 0.05))
    t.start()
    path.write_text(json.dumps(dict(case=0, cases=2, t=500, iterations=100000, cycles=123456, wall=3.0)) + "\n")
    for _ in range(100):
        if lines:
            break
        stop.wait(0.05)
    stop.set()
    t.join()
    assert lines and lines[0] == ("[sim]   0/2 inferences done, pass 500/100000 of inference 1; "
                                  "123,456 cycles simulated in 3 s")


def test_cosim_estimate_is_announced():
    from ipvae.golden_model.formats import encode_input
    from ipvae.sim.runner import estimate_cycles
    b = bundle_mod.load()
    codes, _ = encode_input(np.random.default_rng(0).standard_normal((1, 64)), b.fmt)
    short = estimate_cycles(b.fixed, 16, [dict(x=codes[0], iterations=8, seed=1)], 4)
    long = estimate_cycles(b.fixed, 16, [dict(x=codes[0], iterations=100000, seed=1)], 4)
    assert 0 < short < long and long > 1000 * short / 10

