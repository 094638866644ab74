"""One exception hierarchy for ipwarn; every message says what went wrong and what to do.

Modelled on httpx: callers catch :class:`IpwarnError` (or a subclass) and print ``str(exc)``.
The CLI maps :class:`InputError` and :class:`ConfigError` to exit status 2.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path


class IpwarnError(Exception):
    """Base class of every error ipwarn raises on purpose."""


@dataclass(frozen=True)
class Problem:
    """One located problem: ``FILE:LINE: field.path: message``."""

    message: str
    file: str | None = None
    line: int | None = None
    field: str | None = None

    def __str__(self) -> str:
        where = ""
        if self.file:
            where = self.file + (f":{self.line}" if self.line else "") + ": "
        elif self.line:
            where = f"line {self.line}: "
        field = f"{self.field}: " if self.field else ""
        return f"{where}{field}{self.message}"


class ProblemsError(IpwarnError):
    """An error made of one or more located problems, printed one per line."""

    def __init__(self, problems: Iterable[Problem], hint: str = "") -> None:
        self.problems = list(problems)
        self.hint = hint
        text = "\n".join(str(p) for p in self.problems)
        super().__init__(text + (f"\n{hint}" if hint else ""))


class ConfigError(ProblemsError):
    """The configuration (file or environment) is invalid; fix the named fields and start again."""


class InputError(ProblemsError):
    """A user-supplied file or stream is invalid; nothing already stored was changed."""


class ParseError(IpwarnError):
    """A bulletin could not be parsed; the record is quarantined and the crawl goes on."""

    def __init__(self, source: str, reason: str) -> None:
        self.source = source
        self.reason = reason
        super().__init__(f"{source}: {reason}")


class StoreError(IpwarnError):
    """The database is unreachable or not migrated; run `ipwarn db upgrade` or check the URL."""


class EmptyStore(IpwarnError):
    """Nothing to search: the store (or its search index) is empty; the message says how to fill it."""


class StageNotBuilt(IpwarnError):
    """A pipeline stage has no implementation yet; it is reported, never faked."""


class DeliveryError(IpwarnError):
    """Sending a message failed. ``retryable`` tells the outbox whether to try again."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        self.retryable = retryable
        super().__init__(message)


class ModelNotFound(IpwarnError):
    """No classifier artifact is available; run `ipwarn model train` or check `model_dir`."""


def problem_at(
    path: str | Path, message: str, *, line: int | None = None, field: str | None = None
) -> Problem:
    return Problem(message=message, file=str(path), line=line, field=field)


@contextmanager
def writing_to(path: str | Path, field: str) -> Iterator[None]:
    """Turn a failure to write an output the user named (``--report DIR``) into an
    :class:`InputError` naming the option and the path, instead of an ``OSError`` traceback."""
    try:
        yield
    except OSError as exc:
        raise InputError(
            [Problem(f"cannot write {path}: {exc.strerror or exc}", field=field)],
            hint="Choose a directory ipwarn can create and write.",
        ) from exc
