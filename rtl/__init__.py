"""The hardware, in four rooms that import one way: ``core`` <- ``link`` <- ``boards``, and
``core`` <- ``ip``.

- :mod:`ipvae.rtl.core`: the inference core (its blocks, the sequencer ``IpvaeCore``,
  ``CoreConfig``, the timing constants and the cycle model). Imports only ``golden_model``.
- :mod:`ipvae.rtl.link`: the UART host link (UART, frame receiver, request executor, reply
  writer, result buffer) and ``BoardLink``, the core behind it. Imports ``core``.
- :mod:`ipvae.rtl.ip`: the core as portable IP with AXI4-Stream ports. Imports ``core``.
- :mod:`ipvae.rtl.boards`: the board registry, one module per FPGA family (``ice40``, ``ecp5``)
  holding that family's facts, and the board tops. Imports ``core`` and ``link``.

tests/test_layers.py enforces these rules and the layers around them (docs/architecture.md).
"""
