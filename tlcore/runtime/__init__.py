"""Process set-up, explicit: every entry point (the app, the CLI, a job worker, the benchmark) calls :func:`setup`.

Importing :mod:`tlcore` changes nothing in the process. :func:`setup` does, once, what must happen before torch
loads: the malloc and OpenMP tuning of :mod:`tlcore.runtime.allocator`, torch's thread count (``TLCORE_THREADS``,
else the machine's physical cores, see :mod:`tlcore.runtime.threads`) and the plugins named in ``TLCORE_PLUGINS``
(:mod:`tlcore.runtime.plugins`). It never imports torch itself, so a command that computes nothing stays light.
"""

from __future__ import annotations

import os
import sys

from tlcore.runtime.allocator import tune_allocator
from tlcore.runtime.plugins import load_plugins
from tlcore.runtime.threads import configure_threads, cpu_budget, threads_from_env

_done = False


def setup(threads: int | None = None) -> None:
    """Prepare this process for tlcore's work; safe to call again (later calls only apply ``threads``).

    Args:
        threads: torch intra-op threads; None: ``TLCORE_THREADS``, else the CPU budget.

    Raises:
        ValueError: naming ``TLCORE_THREADS`` when it is not a whole number of at least 1.
    """
    global _done
    n = threads or threads_from_env() or cpu_budget()
    if "torch" in sys.modules:
        configure_threads(n)
    else:  # read by torch when it loads; children (job workers) inherit it and call setup() themselves
        os.environ["OMP_NUM_THREADS"] = str(n)
    if _done:
        return
    _done = True
    tune_allocator()
    load_plugins()
