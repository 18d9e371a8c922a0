"""The inference core: the blocks of one iP-VAE inference (drive, membrane update, credit FIFO,
the two Poisson samplers, lateral units, output streamer, the weight memories), the sequencer
that runs them (:class:`~ipvae.rtl.core.ipvae_core.IpvaeCore`), :class:`~ipvae.rtl.core.config.CoreConfig`,
every timing constant (:mod:`~ipvae.rtl.core.timing`) and the exact cycle model
(:mod:`~ipvae.rtl.core.cycle_model`).

May import: ``ipvae.golden_model`` only (never ``link``, ``ip`` or ``boards``). ``timing`` and
``cycle_model`` load no Amaranth, so the CLI and the reports can use them cheaply.
"""
