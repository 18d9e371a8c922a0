"""One module per group of `ipvae` commands; each has ``register(sub)`` adding its parsers.

Adding a command: a ``cmd_<name>(args)`` function and its parser in ``register`` of the module it
belongs to (or a new module listed in :data:`MODULES`)."""

MODULES = ("training", "hardware", "sim", "host", "bench", "flow", "farm")
