"""Mail transports: SMTP (aiosmtplib, one reused connection) and ``.eml`` files (no server).

Both raise :class:`warning.errors.DeliveryError` with ``retryable`` set from the server's
answer: 4xx, timeouts and connection errors are retried later; 5xx and refused recipients are
final. :class:`ServerUnavailable` (a retryable DeliveryError) means the server itself cannot be
used right now, so the deliverer stops the run instead of failing every message in turn.
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

    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=True)


class Transport(Protocol):
    """Sends one message to one recipient, or raises :class:`DeliveryError`."""

    #: files written (file transport); empty for SMTP
    outputs: list[str]

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
    """An SMTP client that keeps one connection open for a whole run (``reuse=True``).

    Each send (connect, TLS, auth included when needed) runs under an overall timeout of
    ``smtp_timeout_seconds``; aiosmtplib's own timeout only bounds single socket operations,
    so a server that trickles bytes could otherwise hold a deliverer forever.
    """

    def __init__(
        self, settings: Settings, *, reuse: bool = True, tls_context: ssl.SSLContext | None = None
    ) -> None:
        if not settings.smtp_host:
            raise ValueError("SmtpTransport needs smtp_host; use FileTransport without a server")
        self.settings = settings
        self.reuse = reuse
        self.tls_context = tls_context
        self.outputs: list[str] = []
        self.connections = 0
        self._client: aiosmtplib.SMTP | None = None

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

    async def _connected(self) -> aiosmtplib.SMTP:
        if self._client is not None and self._client.is_connected:
            return self._client
        client = self._new_client()
        await client.connect()
        self.connections += 1
        self._client = client
        return client

    async def _send_once(self, data: bytes, sender: str, recipient: str) -> None:
        reused = self._client is not None and self._client.is_connected
        client = await self._connected()
        try:
            await client.sendmail(sender, [recipient], data)
        except aiosmtplib.SMTPServerDisconnected:
            if not reused:
                raise
            # the server closed our idle connection: reconnect once, within the same timeout
            await self._drop()
            client = await self._connected()
            await client.sendmail(sender, [recipient], data)
        if not self.reuse:
            await self._quit()

    async def send(self, message: EmailMessage, sender: str, recipient: str) -> None:
        await self.send_raw(flatten(message), sender, recipient)

    async def send_raw(self, data: bytes, sender: str, recipient: str) -> None:
        """Send an already flattened message (aiosmtplib does the dot-stuffing)."""
        try:
            await asyncio.wait_for(
                self._send_once(data, sender, recipient), self.settings.smtp_timeout_seconds
            )
        except TimeoutError as exc:
            await self._drop()
            raise ServerUnavailable(
                f"no answer within {self.settings.smtp_timeout_seconds:g}s (smtp_timeout_seconds)"
            ) from exc
        except DeliveryError:
            raise
        except Exception as exc:
            error = classify(exc)
            if isinstance(error, ServerUnavailable):
                await self._drop()
            raise error from exc

    async def _quit(self) -> None:
        client, self._client = self._client, None
        if client is not None and client.is_connected:
            try:
                await asyncio.wait_for(client.quit(), 5)
            except Exception:
                client.close()

    async def _drop(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.close()

    async def close(self) -> None:
        await self._quit()


class FileTransport:
    """Writes each message to ``<outbox_dir>/<message-id hash>.eml`` (atomic rename).

    The file name derives from the Message-ID, so re-sending after a crash rewrites the same
    file instead of adding a duplicate.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.outputs: list[str] = []

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
            raise ServerUnavailable(f"cannot write to {self.directory}: {exc}") from exc
        self.outputs.append(str(path))

    async def close(self) -> None:
        return None


def make_transport(settings: Settings, *, tls_context: ssl.SSLContext | None = None) -> Transport:
    if settings.smtp_host:
        return SmtpTransport(settings, tls_context=tls_context)
    return FileTransport(settings.outbox_dir)
