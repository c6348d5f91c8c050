"""Tests for tlcore.runtime.processes: process identity from /proc (alive, same process, reused pids)."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from tlcore.runtime.processes import (
    boot_id, identity_alive, pid_alive, process_cmdline, process_identity, process_start, same_process,
)


def test_this_process_is_alive_and_keeps_its_identity() -> None:
    me = process_identity()
    assert me["pid"] == os.getpid() and me["start"] == process_start(os.getpid()) and me["boot"] == boot_id()
    assert pid_alive(os.getpid()) and identity_alive(me)
    assert same_process(os.getpid(), me["start"]) and same_process(os.getpid(), None)
    assert not same_process(os.getpid(), me["start"] + 1)  # a reused pid has another start time
    assert not identity_alive({**me, "boot": "another-boot"}) and not identity_alive(None)
    cmdline = process_cmdline(os.getpid())
    assert cmdline and all(isinstance(arg, str) for arg in cmdline)


def test_no_pid_is_not_alive() -> None:
    assert not pid_alive(None) and not pid_alive(0) and process_start(None) is None


@pytest.mark.slow  # a subprocess
def test_an_exited_but_unreaped_child_counts_as_gone() -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        deadline = time.monotonic() + 30
        while pid_alive(child.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not pid_alive(child.pid)  # a zombie until waited for
        assert child.poll() is not None
    finally:
        child.wait()
    assert process_cmdline(child.pid) is None
