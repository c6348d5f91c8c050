"""Process identity from ``/proc``: is a pid alive, and is it still the very process we recorded (not a reused pid).

The one place in tlcore that reads ``/proc``. A process is named by its pid plus its start time (clock ticks after
boot) and the machine's boot id, so a record written before a reboot or a pid the kernel handed to a new process is
never mistaken for the process it described. Off Linux (no ``/proc``) the checks fall back to ``os.kill(pid, 0)``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

_BOOT_ID = Path("/proc/sys/kernel/random/boot_id")
_GONE_STATES = ("Z", "X", "x")  # zombie or dead: it can do nothing any more


def boot_id() -> str:
    """This boot's id (changes at every reboot); "" where the kernel does not give one."""
    try:
        return _BOOT_ID.read_text().strip()
    except OSError:
        return ""


def process_start(pid: int | None) -> int | None:
    """Start time (clock ticks after boot) of a live, non-zombie process ``pid``; None if there is none.

    0 means "alive, start time unknown" (no ``/proc``).
    """
    if not pid:
        return None
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return None
    except OSError:  # no /proc (not Linux): fall back to a plain existence check
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            return 0
        return 0
    after_name = stat.rsplit(")", 1)[1].split()  # the name in parentheses may hold spaces and ")"
    if after_name[0] in _GONE_STATES:
        return None
    return int(after_name[19])  # field 22 of /proc/<pid>/stat


def pid_alive(pid: int | None) -> bool:
    """True if ``pid`` is a running process (a zombie, already exited but not yet reaped, counts as gone)."""
    return process_start(pid) is not None


def same_process(pid: int | None, start: int | None) -> bool:
    """True if ``pid`` is alive and is the very process that had start time ``start`` (not a reused pid).

    A ``start`` of None (not recorded) accepts any live ``pid``.
    """
    now = process_start(pid)
    return now is not None and (start is None or now == 0 or now == start)


def process_identity(pid: int | None = None) -> dict[str, Any]:
    """``{"pid", "start", "boot"}`` of ``pid`` (default: this process), to record and check later."""
    pid = os.getpid() if pid is None else pid
    return {"pid": pid, "start": process_start(pid), "boot": boot_id()}


def identity_alive(identity: dict[str, Any] | None) -> bool:
    """True if the process recorded by :func:`process_identity` is still running (same boot, same process)."""
    if not identity or identity.get("boot", "") != boot_id():
        return False
    return same_process(identity.get("pid"), identity.get("start"))


def process_cmdline(pid: int) -> list[str] | None:
    """The command line of ``pid`` (one string per argument); None if it can't be read (gone, or no ``/proc``)."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    return [os.fsdecode(arg) for arg in raw.split(b"\0")[:-1]]
