"""The UART host link: PHY (:mod:`~ipvae.rtl.link.uart`) -> frame receiver -> request executor ->
result buffer -> reply writer, joined in :class:`~ipvae.rtl.link.host_link.HostLink`, and
:class:`~ipvae.rtl.link.board_link.BoardLink`, the core behind that link on a board's UART pins
(docs/uart_protocol.md).

May import: ``ipvae.golden_model`` and ``ipvae.rtl.core`` (never ``ip`` or ``boards``).
"""
