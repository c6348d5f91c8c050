"""``python -m tlcore``: the command line, one module per command group.

``main`` builds the parser and dispatches; ``common`` holds what the commands share (options, progress, JSON,
the training options and config); ``data``, ``train``, ``runs``, ``evaluate`` and ``explain`` each add their
subcommands with ``register(subparsers, common)``. Building the parser loads no torch.
"""
