"""Tune glibc malloc (and OpenMP's waiting threads) for PyTorch on CPU before torch is imported.

With glibc's defaults every large activation buffer is mmap'd and munmap'd per batch (about a million page
faults per 200 images at 224 px), halving inference speed. Raising the mmap and trim thresholds and using a
single arena keeps those buffers in the heap. Applied *after* torch is imported it makes things worse, so
this does nothing if torch is already loaded.

Two routes, same settings: a process started by tlcore (a job worker, the benchmark's probes) gets them from
its first allocation through the ``MALLOC_*`` environment variables of :func:`allocator_env`; a process started
by someone else (Streamlit, ``python -m tlcore``, a notebook) gets them through ``mallopt`` in
:func:`tlcore.runtime.setup`, which is why that call must come before ``import torch``. ``TLCORE_MALLOC_TUNING=0`` turns
both off. :func:`allocator_status` says which route is in force (``benchmarks/run.py`` measures both).

The other setting that only counts before torch loads: OpenMP worker threads that sleep while they wait
(``OMP_WAIT_POLICY=PASSIVE``) instead of spinning. It is a trade: on a machine where anything else needs a core
(the browser, the app, another job), spinning threads steal the time the thread they wait for needs, and inference
ran 1.3-2x slower than with sleeping threads (2 cores, one kept busy by another process); on an otherwise idle
machine sleeping threads wake up late and cost 10-30%, more on a virtual machine whose cores the host shares with
other guests (``benchmarks/run.py`` measures both). A workbench shares its machine with a browser and a server,
so the robust setting wins; a dedicated machine can spin with ``TLCORE_OMP_PASSIVE=0``. ``tlcore.runtime.setup()`` sets
it unless the variable is already set or ``TLCORE_OMP_PASSIVE=0``; children inherit it.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

# mallopt parameter numbers from glibc's malloc.h
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_M_ARENA_MAX = -8

_THRESHOLD = 1 << 30  # 1 GiB: larger than any activation buffer we allocate
_ENV_VARS = ("MALLOC_ARENA_MAX", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")
_OMP_WAIT = "OMP_WAIT_POLICY"
_status = "not applied yet"


def tuning_enabled() -> bool:
    """False when the user switched the tuning off with ``TLCORE_MALLOC_TUNING=0``."""
    return os.environ.get("TLCORE_MALLOC_TUNING", "1") != "0"


def allocator_env() -> dict[str, str]:
    """Environment variables that give a child process the same malloc settings from its first allocation.

    Empty when the tuning is switched off, so the child then runs with glibc's defaults too.
    """
    env = {} if os.environ.get(_OMP_WAIT) or not omp_passive_enabled() else {_OMP_WAIT: "PASSIVE"}
    if not tuning_enabled():
        return env
    return env | {
        "MALLOC_ARENA_MAX": "1",
        "MALLOC_MMAP_THRESHOLD_": str(_THRESHOLD),
        "MALLOC_TRIM_THRESHOLD_": str(_THRESHOLD),
    }


def omp_passive_enabled() -> bool:
    """False when the user switched passive OpenMP waiting off with ``TLCORE_OMP_PASSIVE=0``."""
    return os.environ.get("TLCORE_OMP_PASSIVE", "1") != "0"


def tune_openmp() -> bool:
    """Set ``OMP_WAIT_POLICY=PASSIVE`` for the OpenMP runtime torch loads, unless set already, switched off or too
    late (torch imported). Returns True if passive waiting will be in force."""
    if os.environ.get(_OMP_WAIT):
        return os.environ[_OMP_WAIT].strip().upper() == "PASSIVE"
    if not omp_passive_enabled() or "torch" in sys.modules:
        return False
    os.environ[_OMP_WAIT] = "PASSIVE"
    return True


def allocator_status() -> str:
    """How malloc is set up in this process: ``"environment"``, ``"mallopt"``, ``"off (TLCORE_MALLOC_TUNING=0)"``,
    ``"not applied: torch was imported before tlcore.runtime.setup()"``, ``"unsupported: ..."`` or ``"not applied yet"``."""
    return _status


def _libc() -> ctypes.CDLL | None:
    for name in (None, ctypes.util.find_library("c")):  # the running process's symbols first: no subprocess
        try:
            libc = ctypes.CDLL(name)
            libc.mallopt  # noqa: B018  raises AttributeError when absent
            return libc
        except (OSError, AttributeError, TypeError):
            continue
    return None


def tune_allocator() -> bool:
    """Apply the malloc settings through ``mallopt`` if safe; return True if they are in force.

    Also applies :func:`tune_openmp`, the other setting that must come before torch is imported.
    """
    global _status
    tune_openmp()
    if _status in ("environment", "mallopt"):
        return True
    if not tuning_enabled():
        _status = "off (TLCORE_MALLOC_TUNING=0)"
        return False
    if all(os.environ.get(v) for v in _ENV_VARS):
        _status = "environment"  # set before the process started, so in force from its first allocation
        return True
    if "torch" in sys.modules:
        _status = "not applied: torch was imported before tlcore.runtime.setup()"
        return False
    if not sys.platform.startswith("linux"):
        _status = f"unsupported: {sys.platform} has no glibc malloc"
        return False
    libc = _libc()
    if libc is None:
        _status = "unsupported: no mallopt in the C library (not glibc)"
        return False
    mallopt = libc.mallopt
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    results = [mallopt(param, value) for param, value in (
        (_M_ARENA_MAX, 1), (_M_MMAP_THRESHOLD, _THRESHOLD), (_M_TRIM_THRESHOLD, _THRESHOLD))]
    if all(r == 1 for r in results):
        _status = "mallopt"
        return True
    _status = f"unsupported: mallopt refused the settings (returned {results})"
    return False
