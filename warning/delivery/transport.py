"""Mail transports: SMTP (aiosmtplib, one reused connection) and ``.eml`` files (no server).

Both raise :class:`warning.errors.DeliveryError` with ``retryable`` set from the server's
answer: 4xx, timeouts and connection errors are retried later; 5xx and refused recipients are
final. :class:`ServerUnavailable` (a retryable DeliveryError) means the server itself cannot be
used right now, so the deliverer stops the run instead of failing every message in turn; with
``before_message`` set (connect, TLS, EHLO or AUTH failed, or timed out, before the message was
handed over) no message is to blame, and no row is charged an attempt.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import ssl
import tempfile
from email.message import EmailMessage
from pathlib import Path
from typing import Protocol

import aiosmtplib

from warning.config import Settings
from warning.errors import DeliveryError
from warning.logging import get_logger

log = get_logger(__name__)


class ServerUnavailable(DeliveryError):
    """The mail server cannot be reached or refuses us (connection, TLS, auth): retry later."""

    def __init__(self, message: str, *, before_message: bool = False) -> None:
        super().__init__(message, retryable=True)
        #: True when the server never saw the message (the outage, not the message, failed)
        self.before_message = before_message


class Transport(Protocol):
    """Sends one message to one recipient, or raises :class:`DeliveryError`."""

    #: files written (file transport); empty for SMTP
    outputs: list[str]
    #: how many sends may be in flight at once
    max_parallel: int

    async def send(self, message: EmailMessage, sender: str, recipient: str) -> None: ...

    async def close(self) -> None: ...


def describe(exc: BaseException) -> str:
    """The server's answer (``550 5.1.1 ...``) or the exception, on one line."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused) and exc.recipients:
        first = exc.recipients[0]
        return f"{first.code} {first.message} ({first.recipient})"
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return f"{exc.code} {exc.message}"
    text = str(exc) or type(exc).__name__
    return " ".join(f"{type(exc).__name__}: {text}".split())


def classify(exc: BaseException) -> DeliveryError:
    """Map an aiosmtplib/OS error to a DeliveryError (final for 5xx, retryable otherwise)."""
    detail = describe(exc)
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        codes = [r.code for r in exc.recipients] or [0]
        return DeliveryError(detail, retryable=not all(500 <= c < 600 for c in codes))
    if isinstance(exc, aiosmtplib.SMTPAuthenticationError | aiosmtplib.SMTPHeloError):
        return ServerUnavailable(detail)
    if isinstance(exc, aiosmtplib.SMTPConnectResponseError):
        return ServerUnavailable(detail)
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return DeliveryError(detail, retryable=not 500 <= exc.code < 600)
    if isinstance(exc, ConnectionError | OSError | TimeoutError | ssl.SSLError):
        return ServerUnavailable(detail)
    return DeliveryError(detail, retryable=True)


def flatten(message: EmailMessage) -> bytes:
    """The message as SMTP wants it: CRLF line ends (the message policy does the encoding)."""
    return message.as_bytes(policy=message.policy.clone(linesep="\r\n"))


class SmtpTransport:
    """An SMTP client with a small pool of connections kept open for a whole run.

    ``connections`` sends may be in flight at once, each on its own reused connection
    (``reuse=False`` opens and closes one connection per message: the benchmark's baseline).
    Each send (connect, TLS and AUTH included when needed) runs under an overall timeout of
    ``smtp_timeout_seconds``: aiosmtplib's own timeout only bounds single socket operations, so
    a server that trickles bytes could otherwise hold a deliverer forever.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        reuse: bool = True,
        connections: int = 4,
        tls_context: ssl.SSLContext | None = None,
    ) -> None:
        if not settings.smtp_host:
            raise ValueError("SmtpTransport needs smtp_host; use FileTransport without a server")
        self.settings = settings
        self.reuse = reuse
        #: how many sends the deliverer may run at once (one connection each)
        self.max_parallel = max(1, connections)
        self.tls_context = tls_context
        self.outputs: list[str] = []
        #: connections opened so far (reported by the benchmark)
        self.connections = 0
        self._idle: list[aiosmtplib.SMTP] = []

    def _new_client(self) -> aiosmtplib.SMTP:
        s = self.settings
        return aiosmtplib.SMTP(
            hostname=s.smtp_host,
            port=s.smtp_port,
            username=s.smtp_username,
            password=s.smtp_password.get_secret_value() if s.smtp_password else None,
            use_tls=s.smtp_ssl,
            start_tls=bool(s.smtp_starttls and not s.smtp_ssl),
            timeout=s.smtp_timeout_seconds,
            tls_context=self.tls_context,
        )

    async def _open(self) -> aiosmtplib.SMTP:
        """Connect, EHLO, STARTTLS and AUTH; a failure here is the server's, never a message's.

        A server that refuses or does not offer STARTTLS (with ``smtp_starttls`` on) would
        refuse every message the same way, so it stops the run (exit 1) instead of retrying
        each row: mail is never sent in clear text when TLS was asked for.
        """
        client = self._new_client()
        try:
            await client.connect()
        except aiosmtplib.SMTPException as exc:
            client.close()
            raise ServerUnavailable(self._session_error(exc), before_message=True) from exc
        except Exception as exc:
            client.close()
            error = classify(exc)
            if isinstance(error, ServerUnavailable):
                error.before_message = True
            raise error from exc
        self.connections += 1
        return client

    def _session_error(self, exc: aiosmtplib.SMTPException) -> str:
        s = self.settings
        detail = describe(exc)
        where = f"{s.smtp_host}:{s.smtp_port}"
        other_phase = (
            aiosmtplib.SMTPConnectError,
            aiosmtplib.SMTPConnectResponseError,
            aiosmtplib.SMTPConnectTimeoutError,
            aiosmtplib.SMTPHeloError,
            aiosmtplib.SMTPAuthenticationError,
            aiosmtplib.SMTPServerDisconnected,
        )
        if s.smtp_starttls and not s.smtp_ssl and not isinstance(exc, other_phase):
            return (
                f"STARTTLS refused by {where} ({detail}); smtp_starttls is on, so nothing was "
                "sent in clear text: fix the server or the setting, then run `ipwarn deliver`"
            )
        return f"cannot open an SMTP session with {where}: {detail}"

    def _take_idle(self) -> aiosmtplib.SMTP | None:
        while self._idle:
            client = self._idle.pop()
            if client.is_connected:
                return client
            client.close()
        return None

    async def _send_once(
        self, data: bytes, sender: str, recipient: str, progress: dict[str, bool]
    ) -> None:
        client = self._take_idle()
        reused = client is not None
        if client is None:
            client = await self._open()
        progress["handed_over"] = True
        try:
            try:
                await client.sendmail(sender, [recipient], data)
            except aiosmtplib.SMTPServerDisconnected:
                if not reused:
                    raise
                # the server closed our idle connection: reconnect once, within the same timeout
                client.close()
                client = await self._open()
                await client.sendmail(sender, [recipient], data)
        except (aiosmtplib.SMTPResponseException, aiosmtplib.SMTPRecipientsRefused):
            # the server answered (aiosmtplib sent RSET): the connection is still good
            self._give_back(client)
            raise
        except BaseException:
            client.close()  # timeouts, cancellation, broken connections
            raise
        if self.reuse:
            self._give_back(client)
        else:
            await _quit(client)

    def _give_back(self, client: aiosmtplib.SMTP) -> None:
        if self.reuse and client.is_connected:
            self._idle.append(client)
        else:
            client.close()

    async def send(self, message: EmailMessage, sender: str, recipient: str) -> None:
        await self.send_raw(flatten(message), sender, recipient)

    async def send_raw(self, data: bytes, sender: str, recipient: str) -> None:
        """Send an already flattened message (aiosmtplib does the dot-stuffing)."""
        progress = {"handed_over": False}
        try:
            await asyncio.wait_for(
                self._send_once(data, sender, recipient, progress),
                self.settings.smtp_timeout_seconds,
            )
        except TimeoutError as exc:
            raise ServerUnavailable(
                f"no answer within {self.settings.smtp_timeout_seconds:g}s (smtp_timeout_seconds)",
                before_message=not progress["handed_over"],
            ) from exc
        except DeliveryError:
            raise
        except Exception as exc:
            raise classify(exc) from exc

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        await asyncio.gather(*(_quit(c) for c in idle))


async def _quit(client: aiosmtplib.SMTP) -> None:
    if not client.is_connected:
        return
    try:
        await asyncio.wait_for(client.quit(), 5)
    except Exception:
        client.close()


class FileTransport:
    """Writes each message to ``<outbox_dir>/<message-id hash>.eml`` (atomic rename).

    The file name derives from the Message-ID, so re-sending after a crash rewrites the same
    file instead of adding a duplicate.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.outputs: list[str] = []
        self.max_parallel = 1

    async def send(self, message: EmailMessage, sender: str, recipient: str) -> None:
        message_id = str(message.get("Message-ID", ""))
        name = hashlib.sha256(f"{message_id}\x1f{recipient}".encode()).hexdigest()[:24]
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            path = self.directory / f"ipwarn-{name}.eml"
            fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".tmp-", suffix=".eml")
            with os.fdopen(fd, "wb") as fh:
                fh.write(message.as_bytes())
            os.replace(tmp, path)
        except OSError as exc:
            raise ServerUnavailable(
                f"cannot write to {self.directory}: {exc}", before_message=True
            ) from exc
        self.outputs.append(str(path))

    async def close(self) -> None:
        return None


def make_transport(settings: Settings, *, tls_context: ssl.SSLContext | None = None) -> Transport:
    if settings.smtp_host:
        return SmtpTransport(
            settings, tls_context=tls_context, connections=settings.smtp_connections
        )
    return FileTransport(settings.outbox_dir)
