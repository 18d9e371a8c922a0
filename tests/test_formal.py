"""Formal proofs of the stream contracts (sim/formal.py, SymbiYosys with Boolector, or ABC's PDR):
each block's proof passes unbounded (k-induction or PDR), and its negative control, the same harness
around a deliberately broken block, fails with a counterexample trace; ``ipvae formal`` prints the
table and exits 2 when a result is not the expected one. A proof that takes minutes (the result
buffer's PDR, the sequencer's deep BMC) is ``slow``; the default suite checks its properties to a
smaller depth instead (``Proof.suite_depth``)."""
import pytest

from ipvae.cli import main
from ipvae.sim.formal import PROOFS, run_proof


@pytest.mark.parametrize("block", [pytest.param(name, marks=[pytest.mark.slow] if p.slow else [])
                                   for name, p in PROOFS.items()])
def test_proof_holds(block, tmp_path):
    """Unbounded, or to its depth for a bounded proof (the sequencer's cycle count)."""
    p = PROOFS[block]
    rec = run_proof(block, tmp_path)
    assert rec["result"] == "PASS" and rec["depth"] == (p.bounded or "unbounded"), rec
    assert rec["engine"] == p.engine


@pytest.mark.parametrize("block", [name for name, p in PROOFS.items() if p.slow])
def test_slow_proof_holds_to_the_suite_depth(block, tmp_path):
    """The default suite's share of a slow proof: the same properties, bounded to ``suite_depth``."""
    depth = PROOFS[block].suite_depth
    rec = run_proof(block, tmp_path, mode="bmc", depth=depth)
    assert rec["result"] == "PASS" and rec["depth"] == depth, rec


@pytest.mark.parametrize("block, control", [(name, k) for name, p in PROOFS.items() for k in range(len(p.controls))])
def test_negative_control_fails_with_a_trace(block, control, tmp_path):
    rec = run_proof(block, tmp_path, mutant=True, control=control)
    assert rec["result"] == "FAIL", rec
    assert rec["trace"] and rec["trace"].endswith(".vcd")


@pytest.mark.parametrize("block", [name for name, p in PROOFS.items() if p.covers])
def test_covers_are_reached(block, tmp_path):
    rec = run_proof(block, tmp_path, mode="cover")
    assert rec["result"] == "PASS" and rec["depth"] == PROOFS[block].covers, rec


def test_command_table_and_errors(tmp_path, capsys):
    assert main(["formal", "--block", "skid_buffer", "--bmc", "--depth", "8", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "| skid_buffer |" in out and "| 8 | PASS | PASS |" in out and "| FAIL | FAIL |" in out
    assert main(["formal", "--block", "nope", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert f"unknown formal block 'nope'; choose one of {', '.join(PROOFS)}" in err and "frame_receiver" in err
