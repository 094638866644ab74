"""Persistent forked workers for big classification batches (``workers`` > 1).

Why persistent: forking afresh for every batch made the parent and the child pay copy-on-write
faults on every heap page either of them wrote (about 45,000 faults for a 20,000-title batch on
two cores, a quarter of the batch's time). A worker forked once pays them once; afterwards its
pages are its own. Records travel pickled through a pipe (plain dicts pickle fast); only compact
tuples come back. A pool serves the model as it was when the pool forked, and belongs to the
process that forked it: a forked child of that process makes its own.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable
from contextlib import suppress
from typing import Any

#: how long :meth:`WorkerPool.close` waits for a worker to exit before terminating it
JOIN_SECONDS = 5.0


def _serve(handler: Callable[[Any], Any], conn: Any) -> None:
    """Worker loop: answer every request with ``(True, result)`` or ``(False, error)``."""
    while True:
        try:
            request = conn.recv()
        except (EOFError, OSError):  # the parent is gone
            return
        if request is None:
            return
        try:
            answer: tuple[bool, Any] = (True, handler(request))
        except BaseException as error:  # the parent re-raises it; a worker has no one else to tell
            answer = (False, f"{type(error).__name__}: {error}")
        try:
            conn.send(answer)
        except OSError:  # the parent stopped listening
            return


class WorkerPool:
    """``size`` processes forked once, each running ``handler`` on the requests it is sent."""

    def __init__(self, handler: Callable[[Any], Any], size: int) -> None:
        context = multiprocessing.get_context("fork")
        self.size = size
        self._owner = os.getpid()
        self._workers: list[tuple[Any, Any]] = []
        for _ in range(size):
            ours, theirs = context.Pipe(duplex=True)
            process = context.Process(target=_serve, args=(handler, theirs), daemon=True)
            process.start()
            theirs.close()
            self._workers.append((process, ours))

    @property
    def usable(self) -> bool:
        """Forked by this process and every worker still alive."""
        return os.getpid() == self._owner and all(p.is_alive() for p, _ in self._workers)

    def submit(self, requests: list[Any]) -> None:
        """Send one request to each worker."""
        for (_, conn), request in zip(self._workers, requests, strict=True):
            conn.send(request)

    def collect(self) -> list[Any]:
        """Every worker's result, in worker order."""
        results = []
        for _, conn in self._workers:
            try:
                ok, payload = conn.recv()
            except (EOFError, OSError):
                raise RuntimeError("a classification worker died without an answer") from None
            if not ok:
                raise RuntimeError(f"a classification worker failed: {payload}")
            results.append(payload)
        return results

    def close(self) -> None:
        """Ask every worker to exit and terminate those that do not (only the owner may: in a
        forked child, this just drops the inherited handles)."""
        owner = os.getpid() == self._owner
        for process, conn in self._workers:
            if owner:
                with suppress(OSError):
                    conn.send(None)
            conn.close()
            if owner:
                process.join(timeout=JOIN_SECONDS)
                if process.is_alive():
                    process.terminate()
                    process.join()
        self._workers = []
