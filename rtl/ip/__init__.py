"""The core as portable IP: :class:`~ipvae.rtl.ip.axi_stream.AxiStreamCore` (AXI4-Stream ports
around :class:`~ipvae.rtl.core.ipvae_core.IpvaeCore`) and the Verilog top ``ipvae ip`` writes.

May import: ``ipvae.golden_model`` and ``ipvae.rtl.core`` (never ``link`` or ``boards``).
"""
