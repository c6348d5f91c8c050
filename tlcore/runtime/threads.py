"""Process settings for fast CPU work: torch threads sized to the machine, and what is in force, for reports.

Call :func:`prepare_process` once at the start of a process that does heavy work (a job worker, the CLI, the
benchmark) *after* :func:`tlcore.runtime.setup` (which tunes malloc, see :mod:`tlcore.runtime.allocator`). It sets torch's intra-op
threads to the CPU budget: physical cores (hyper-threads don't help convolutions), within the CPUs this process
may run on and any container CPU quota. ``TLCORE_THREADS`` overrides the choice. The Streamlit app itself
doesn't call it: heavy work runs in job workers, and the app stays light.
"""

from __future__ import annotations

import logging
import math
import os
import sys
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from tlcore.runtime.allocator import allocator_status

log = logging.getLogger(__name__)

THREADS_ENV = "TLCORE_THREADS"


@dataclass(frozen=True)
class RuntimeInfo:
    """What a process runs with, for logs, run records and the benchmark's header."""

    logical_cpus: int  # CPUs this process may run on
    physical_cores: int  # distinct cores among them
    cpu_quota: float | None  # container CPU limit (cgroup), None if unlimited
    torch_threads: int | None  # intra-op threads; None if torch isn't imported yet
    allocator: str  # see tlcore.runtime.allocator.allocator_status
    omp_wait_policy: str  # "PASSIVE" (tlcore's default), the user's setting, or "default" (spinning)
    torch_version: str | None
    load_average: tuple[float, float, float] | None

    def describe(self) -> str:
        """One line, e.g. ``"2 threads on 2 physical cores (2 CPUs), malloc: mallopt, OpenMP wait: passive"``."""
        quota = f", quota {self.cpu_quota:g} CPUs" if self.cpu_quota else ""
        threads = f"{self.torch_threads} threads" if self.torch_threads else "torch not loaded"
        load = f", load {self.load_average[0]:.2f}" if self.load_average else ""
        return (f"{threads} on {self.physical_cores} physical cores ({self.logical_cpus} CPUs{quota}), "
                f"malloc: {self.allocator}, OpenMP wait: {self.omp_wait_policy.lower()}{load}")


def allowed_cpus() -> list[int]:
    """The CPU numbers this process may run on."""
    try:
        return sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return list(range(os.cpu_count() or 1))


def physical_cores(cpus: list[int] | None = None) -> int:
    """Distinct physical cores among ``cpus`` (default: the allowed ones), from Linux's CPU topology.

    Falls back to the number of CPUs when the topology can't be read.
    """
    cpus = allowed_cpus() if cpus is None else cpus
    cores = set()
    for cpu in cpus:
        topo = Path(f"/sys/devices/system/cpu/cpu{cpu}/topology")
        try:
            cores.add((topo.joinpath("physical_package_id").read_text().strip(),
                       topo.joinpath("core_id").read_text().strip()))
        except OSError:
            return len(cpus)
    return len(cores) or len(cpus)


def cpu_quota() -> float | None:
    """The container's CPU limit in CPUs (cgroup v2 ``cpu.max`` or v1 CFS quota), None if there is none."""
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError):
        pass
    try:
        quota_us = int(Path("/sys/fs/cgroup/cpu/cpu.cfs_quota_us").read_text())
        period_us = int(Path("/sys/fs/cgroup/cpu/cpu.cfs_period_us").read_text())
        return quota_us / period_us if quota_us > 0 and period_us > 0 else None
    except (OSError, ValueError):
        return None


def cpu_budget() -> int:
    """Threads worth running: physical cores, capped by the CPU quota (rounded up), at least 1."""
    budget = physical_cores()
    quota = cpu_quota()
    if quota:
        budget = min(budget, max(1, math.ceil(quota)))
    return max(1, budget)


def threads_from_env() -> int | None:
    """``TLCORE_THREADS`` as a positive whole number, None if unset.

    Raises:
        ValueError: naming the variable when it is set to something else.
    """
    raw = os.environ.get(THREADS_ENV, "").strip()
    if not raw:
        return None
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError(f"environment variable {THREADS_ENV} must be a whole number of at least 1, got {raw!r}")
    return int(raw)


def configure_threads(threads: int | None = None) -> int:
    """Set torch's intra-op threads: ``threads``, else ``TLCORE_THREADS``, else :func:`cpu_budget`. Returns it."""
    import torch

    n = threads or threads_from_env() or cpu_budget()
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
    return n


@contextmanager
def torch_threads(threads: int | None) -> Iterator[None]:
    """Run the block with ``threads`` intra-op threads (None: as they are), restoring the count afterwards.

    For work too small to split (a head on cached features), where thread hand-offs cost more than they save and,
    on a busy machine, a descheduled helper thread stalls every operation. The setting is process-wide.
    """
    import torch

    before = torch.get_num_threads()
    if threads is None or threads == before:
        yield
        return
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def runtime_info() -> RuntimeInfo:
    """What this process runs with now; never imports torch."""
    torch = sys.modules.get("torch")
    try:
        load = os.getloadavg()
    except OSError:
        load = None
    return RuntimeInfo(logical_cpus=len(allowed_cpus()), physical_cores=physical_cores(), cpu_quota=cpu_quota(),
                       torch_threads=torch.get_num_threads() if torch is not None else None,
                       allocator=allocator_status(), omp_wait_policy=os.environ.get("OMP_WAIT_POLICY") or "default",
                       torch_version=getattr(torch, "__version__", None),
                       load_average=tuple(load) if load else None)


def prepare_process(threads: int | None = None) -> RuntimeInfo:
    """Set up a process for heavy work (job worker, CLI, benchmark): threads sized to the machine; log the result.

    Warns when malloc isn't tuned because torch was imported before tlcore.
    """
    configure_threads(threads)
    info = runtime_info()
    if info.allocator.startswith("not applied"):
        log.warning("malloc tuning %s: call tlcore.runtime.setup() before importing torch for about 2x faster inference",
                    info.allocator)
    log.info("runtime: %s", info.describe())
    return info
