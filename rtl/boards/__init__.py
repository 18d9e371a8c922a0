"""Boards: the registry of boards the flow builds for (:mod:`~ipvae.rtl.boards.registry`), one
module per FPGA family holding that family's facts (:mod:`~ipvae.rtl.boards.ice40`,
:mod:`~ipvae.rtl.boards.ecp5`, chosen once by :func:`~ipvae.rtl.boards.family.family_of`), the
board top (PLL, reset, the UART link, lights) and measurement tops.

May import: ``ipvae.golden_model``, ``ipvae.rtl.core`` and ``ipvae.rtl.link`` (never ``ip``).
The registry and the family modules load no Amaranth (the CLI builds its parser from them).
"""
