"""``ipvae formal``: the formal proofs of sim/formal.py with their negative controls, as a table."""
from __future__ import annotations

import json
from pathlib import Path

from ipvae.sim.formal import KINDUCTION, PROOFS, run_proof

__all__ = ["run_formal", "formal_table"]


def run_formal(blocks=None, out_dir="runs/formal", mode=None, depth=None, log=print):
    """Each block's proof and its negative control; returns the records (also formal.json). mode and
    depth: None for each proof's own (sim/formal.py: unbounded, or bmc to its bounded depth), or "bmc"
    to a depth."""
    names = list(blocks or PROOFS)
    unknown = [n for n in names if n not in PROOFS]
    if unknown:
        from ipvae.golden_model.errors import ParameterError
        raise ParameterError(f"unknown formal block {unknown[0]!r}; choose one of {', '.join(PROOFS)}")
    records = []
    for name in names:
        runs = [(False, 0)] + [(True, k) for k in range(len(PROOFS[name].controls))]
        for mutant, control in runs:
            what = f"negative control {control + 1}" if mutant else "proof"
            run_mode = mode or PROOFS[name].mode
            log(f"[formal] {name}: {what} ({run_mode}, {PROOFS[name].engine_for(run_mode, mutant)}) ...")
            rec = run_proof(name, Path(out_dir), mode=mode, depth=depth, mutant=mutant, control=control, log=log)
            rec["expected"] = "FAIL" if mutant else "PASS"
            records.append(rec)
            trace = f"; trace {rec['trace']}" if rec["trace"] else ""
            log(f"[formal]   {rec['result']} in {rec['seconds']:.1f} s{trace}")
        if PROOFS[name].covers:
            log(f"[formal] {name}: covers (cover, {KINDUCTION}) ...")
            rec = run_proof(name, Path(out_dir), mode="cover", log=log)
            rec["expected"] = "PASS"
            records.append(rec)
            log(f"[formal]   {rec['result']} in {rec['seconds']:.1f} s")
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    (Path(out_dir) / "formal.json").write_text(json.dumps(records, indent=1))
    return records


def formal_table(records):
    lines = ["| block | property set | engine | depth | result | expected | s |", "|---|---|---|---|---|---|---|"]
    for r in records:
        p = PROOFS[r["block"]]
        what = (f"negative control: {p.controls[r['control']][1]}" if r["mutant"] else
                f"covers: {p.covered}" if r["mode"] == "cover" else p.states)
        lines.append(f"| {r['block']} | {what} | {r['engine']} | {r['depth']} | {r['result']} | {r['expected']} | "
                     f"{r['seconds']:.1f} |")
    return "\n".join(lines)
