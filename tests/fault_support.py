"""Process helpers for the fault-injection tests and benchmark: environments for real
`ipwarn` child processes, /proc inspection, JSON log tailing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

from warning.store.engine import Store


def child_env(store: Store, data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IPWARN_")}
    env.update(
        IPWARN_DATABASE_URL=store.url,
        IPWARN_DATA_DIR=str(data_dir),
        IPWARN_LOG_FORMAT="json",
        IPWARN_LOG_LEVEL="INFO",
        **extra,
    )
    return env


def proc_state(pid: int) -> str | None:
    """The process state letter from /proc, None when it is gone (a zombie counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    state = stat.rpartition(")")[2].split()[0]
    return None if state in ("Z", "X") else state


def descendants(pid: int) -> list[tuple[int, str]]:
    """(pid, command line) of every live process below ``pid``."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parents[int(entry.name)] = int(stat.rpartition(")")[2].split()[1])
    found, frontier = [], [pid]
    while frontier:
        current = frontier.pop()
        for child, parent in parents.items():
            if parent == current and proc_state(child):
                try:
                    cmd = (Path(f"/proc/{child}/cmdline").read_bytes()).replace(b"\0", b" ")
                except OSError:
                    continue
                found.append((child, cmd.decode(errors="replace")))
                frontier.append(child)
    return found


def wait_until(predicate, timeout: float = 30.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


class LogTail:
    """Reads a process's JSON log lines (stderr) in a thread; waits for events."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc
        self.records: list[dict[str, Any]] = []
        self.raw: list[str] = []
        self._cond = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            try:
                record = json.loads(line)
            except ValueError:
                record = {"event": line.strip()}
            with self._cond:
                self.raw.append(line)
                self.records.append(record if isinstance(record, dict) else {"event": line})
                self._cond.notify_all()

    def wait_for(self, event: str, after: int = 0, timeout: float = 40.0) -> int:
        """Index of the first ``event`` record at or after ``after``."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for i in range(after, len(self.records)):
                    if self.records[i].get("event") == event:
                        return i
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"no {event!r} from pid {self.proc.pid}: {''.join(self.raw[-15:])}"
                    )
                self._cond.wait(min(left, 0.5))

    def at(self, index: int) -> dict[str, Any]:
        with self._cond:
            return self.records[index]

    def text(self) -> str:
        with self._cond:
            return "".join(self.raw)


def stop(proc: subprocess.Popen[str]) -> int:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    return proc.wait(30)
