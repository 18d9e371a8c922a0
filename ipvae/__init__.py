"""ipvae-fpga: the import root of the project, and its application layer.

The fixed folders of the checkout are installed under this name (pyproject.toml): ``ipvae.golden_model``
(the model side and the arithmetic contract), ``ipvae.rtl`` (Amaranth hardware), ``ipvae.sim``
(simulation harnesses), ``ipvae.host`` (host tools), ``ipvae.constraints`` (board constraints, data).
The modules directly in this package (cli, commands, flow, bench, synth, sweep, latency) are the
application: the only code that imports every other layer. This file imports nothing, so importing a
lower layer never loads the application. Layer rules: docs/architecture.md.
"""
