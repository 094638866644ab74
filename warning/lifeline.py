"""Child processes die with their parent, and a process can be named so that others can tell
whether it is still alive.

``kill -9`` of a parent runs none of its clean-up, so a child started in its own session
(``start_new_session=True``, needed to kill the child's whole group on a timeout) would be
reparented to init and keep running beside the next run. The parent passes its pid in
:data:`PARENT_ENV`; the child calls :func:`die_with_parent` first thing: on Linux
``prctl(PR_SET_PDEATHSIG, SIGKILL)`` (the kernel kills it when the parent dies), elsewhere a
daemon thread that polls ``getppid()``. Either way a child whose parent is already gone when it
starts exits at once.

:func:`process_identity` names this process as ``host:pid:start-time`` for ``running`` rows
(``crawl_runs``, ``job_runs``); :func:`identity_alive` tells whether that process still runs
(the start time guards against a recycled pid).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Mapping
from functools import cache

#: the pid of the process that started us (set by :func:`child_env`, read by die_with_parent)
PARENT_ENV = "IPWARN_PARENT_PID"
#: from <linux/prctl.h>
PR_SET_PDEATHSIG = 1
#: how often the portable watchdog looks at its parent
WATCHDOG_SECONDS = 1.0


def child_env(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """``env`` (default: ours) plus our pid, for a child that must die with us."""
    out = dict(os.environ if env is None else env)
    out[PARENT_ENV] = str(os.getpid())
    return out


def _set_pdeathsig(sig: int) -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


def _watchdog(parent: int, sig: int) -> None:
    while os.getppid() == parent:
        time.sleep(WATCHDOG_SECONDS)
    os.kill(os.getpid(), sig)


def die_with_parent(sig: int = signal.SIGKILL) -> str | None:
    """Arrange to receive ``sig`` when the parent named in :data:`PARENT_ENV` dies.

    Returns how (``"prctl"`` or ``"watchdog"``), or None when no parent asked for it. The
    variable is removed so that our own children are not tied to our parent by mistake.
    """
    raw = os.environ.pop(PARENT_ENV, None)
    if not raw or not raw.isdigit():
        return None
    parent = int(raw)
    how = "prctl" if _set_pdeathsig(sig) else "watchdog"
    if os.getppid() != parent:  # the parent died before the signal was armed
        os._exit(1)
    if how == "watchdog":
        threading.Thread(
            target=_watchdog, args=(parent, sig), name="ipwarn-parent-watchdog", daemon=True
        ).start()
    return how


def _stat(pid: int) -> list[str]:
    """The fields of ``/proc/PID/stat`` after the command name (Linux), or []."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            stat = fh.read().decode("ascii", "replace")
    except OSError:
        return []
    return stat.rpartition(")")[2].split()


def _start_ticks(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (Linux), or None."""
    fields = _stat(pid)
    return fields[19] if len(fields) > 19 else None


@cache
def hostname() -> str:
    return socket.gethostname()


def process_identity(pid: int | None = None) -> str:
    """``host:pid:start-ticks`` of a process (default: this one)."""
    pid = os.getpid() if pid is None else pid
    return f"{hostname()}:{pid}:{_start_ticks(pid) or '-'}"


def identity_alive(identity: str) -> bool | None:
    """Whether the named process still runs; None when it ran on another host (unknown)."""
    host, pid_text, ticks = ([*identity.rsplit(":", 2), "", ""])[:3]
    if host != hostname() or not pid_text.isdigit():
        return None
    pid = int(pid_text)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # another user's process with that pid: compare start times below
    fields = _stat(pid)
    if fields and fields[0] in ("Z", "X"):  # killed, not yet reaped by its parent
        return False
    if ticks != "-" and fields:
        return fields[19] == ticks
    return True


def kill_group(pid: int, sig: int = signal.SIGKILL) -> None:
    """Signal the process group led by ``pid`` (started with ``start_new_session=True``)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)
