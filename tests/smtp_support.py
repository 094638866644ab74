"""A real SMTP server for delivery tests (aiosmtpd on 127.0.0.1) and outbox test data.

``Controller(port=0)`` does not work on aiosmtpd 1.4.6 (it probes the port it was given), so
a free port is picked first. The handler records every message, can refuse chosen recipients
with a given reply, and can hold the reply to the Nth message (to kill a client mid-send).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import email
import email.policy
import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from warning.config import Settings
from warning.delivery.outbox import enqueue_alert
from warning.delivery.schedule import due_time
from warning.store.engine import Store
from warning.store.models import (
    Alert,
    Digest,
    Document,
    Enterprise,
    OutboxMessage,
    Rule,
    Subscription,
)

NOW = dt.datetime(2026, 11, 24, 2, 0, tzinfo=dt.UTC)  # 10:00 in Asia/Shanghai


def body(msg: EmailMessage, subtype: str) -> str:
    """The decoded ``text/<subtype>`` body of ``msg`` (fails the test if there is none)."""
    part = msg.get_body((subtype,))
    assert part is not None, f"no text/{subtype} part"
    return str(part.get_content())


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes

    @property
    def message(self) -> EmailMessage:
        return email.message_from_bytes(self.raw, policy=email.policy.default)

    @property
    def message_id(self) -> str:
        return str(self.message["Message-ID"])

    @property
    def alert_ids(self) -> list[int]:
        value = str(self.message.get("X-Ipwarn-Alerts") or "")
        return [int(v) for v in value.split(",") if v]


@dataclass
class RecordingHandler:
    received: list[Received] = field(default_factory=list)
    #: recipient -> SMTP reply to RCPT, e.g. "550 5.1.1 <x>: no such user"
    refuse: dict[str, str] = field(default_factory=dict)
    #: hold the reply to the message with this 1-based number until ``release`` is set
    hold_at: int | None = None
    release: threading.Event = field(default_factory=threading.Event)
    auth_users: dict[str, str] = field(default_factory=dict)

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.received.append(
            Received(envelope.mail_from, list(envelope.rcpt_tos), bytes(envelope.content))
        )
        if self.hold_at is not None and len(self.received) == self.hold_at:
            while not self.release.is_set():
                await asyncio.sleep(0.05)
        return "250 Message accepted"

    def authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        if isinstance(data, LoginPassword):
            user, password = data.login.decode(), data.password.decode()
            if self.auth_users.get(user) == password:
                return AuthResult(success=True)
        return AuthResult(success=False, handled=False)


class SmtpServer:
    """aiosmtpd in a background thread; ``start``/``stop`` may be called repeatedly."""

    def __init__(
        self, handler: RecordingHandler | None = None, port: int | None = None, **smtp_kwargs: Any
    ) -> None:
        self.handler = handler or RecordingHandler()
        self.port = port or free_port()
        self.smtp_kwargs = smtp_kwargs
        self.controller: Controller | None = None

    def start(self) -> SmtpServer:
        self.controller = Controller(
            self.handler, hostname="127.0.0.1", port=self.port, **self.smtp_kwargs
        )
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.handler.release.set()
            self.controller.stop()
            self.controller = None

    @property
    def received(self) -> list[Received]:
        return self.handler.received

    def wait_for(self, count: int, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.received) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"server got {len(self.received)} messages, expected {count}")
            time.sleep(0.02)


@contextmanager
def smtp_server(handler: RecordingHandler | None = None, **kwargs: Any) -> Iterator[SmtpServer]:
    server = SmtpServer(handler, **kwargs).start()
    try:
        yield server
    finally:
        server.stop()


def self_signed_cert(directory: Path) -> tuple[Path, Path]:
    """A certificate for localhost/127.0.0.1 made with ``cryptography`` (a Scrapy dependency)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def server_tls_context(cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


def smtp_settings(base: Settings, store: Store, port: int | None, **extra: Any) -> Settings:
    """``base`` pointed at ``store`` and (when ``port`` is given) at the local SMTP server."""
    update: dict[str, Any] = {"database_url": store.url, "mail_from": "ipwarn <alerts@ipwarn.test>"}
    if port is not None:
        update.update(smtp_host="127.0.0.1", smtp_port=port, smtp_timeout_seconds=5.0)
    update.update(extra)
    return base.model_copy(update=update)


def add_enterprise(
    store: Store,
    enterprise_id: str = "ent-1",
    *,
    recipients: list[str] | None = None,
    name: str = "鞍山示例钢铁有限公司",
    frequency: str = "immediate",
    daily_cap: int | None = None,
    quiet: tuple[str, str] | None = None,
) -> int:
    """An enterprise with one subscription; returns the subscription id."""
    with store.session() as session:
        session.add(
            Enterprise(id=enterprise_id, name=name, recipients=recipients or ["ip@example.com"])
        )
        sub = Subscription(
            enterprise_id=enterprise_id,
            name="default",
            frequency=frequency,
            daily_cap=daily_cap,
            quiet_start=quiet[0] if quiet else None,
            quiet_end=quiet[1] if quiet else None,
        )
        session.add(sub)
        session.flush()
        return sub.id


def add_alerts(
    store: Store,
    settings: Settings,
    subscription_id: int,
    count: int,
    *,
    now: dt.datetime = NOW,
    severity: str = "medium",
    title: str = "一种高磁感取向硅钢的制备方法",
    rule_id: str = "steel.competitor",
    explanation: dict[str, Any] | None = None,
    start: int = 0,
    document_ids: list[int] | None = None,
    legal_event_id: int | None = None,
) -> list[int]:
    """``count`` alerts (new documents unless ``document_ids``), queued like the match stage does."""
    ids: list[int] = []
    with store.session() as session:
        sub = session.get(Subscription, subscription_id)
        assert sub is not None
        enterprise = session.get(Enterprise, sub.enterprise_id)
        assert enterprise is not None
        rule = session.query(Rule).filter_by(rule_id=rule_id, version=1).one_or_none()
        if rule is None:
            rule = Rule(
                rule_id=rule_id,
                version=1,
                title="竞争对手新公开专利",
                severity=severity,
                status="active",
                definition={},
                checksum="x",
            )
            session.add(rule)
            session.flush()
        for i in range(count):
            n = start + i
            if document_ids:
                doc_id = document_ids[i]
                number = session.get(Document, doc_id).number  # type: ignore[union-attr]
            else:
                number = f"CN{115000000 + n}A"
                doc = Document(
                    office="CN",
                    number=number,
                    kind="A",
                    title=f"{title} {n}",
                    applicants=["宝山钢铁股份有限公司"],
                    ipc=["C21D8/12"],
                    content_hash=f"h{n}",
                    source="cnipa",
                )
                session.add(doc)
                session.flush()
                doc_id = doc.id
            exp = (
                explanation
                if explanation is not None
                else {
                    "rule_title": "竞争对手新公开专利",
                    "rule_version": 1,
                    "matched": {"applicant": "宝山钢铁股份有限公司", "ipc": "C21D8/12"},
                    "terms": ["取向硅钢", "高磁感"],
                    "ipc_overlap": ["C21D8/12"],
                    "similarity": {"score": 0.8731, "terms": ["硅钢"], "percentile": 97},
                    "applicants": ["宝山钢铁股份有限公司"],
                    "number": number,
                    "title": f"{title} {n}",
                    "source": "cnipa",
                    "as_of": "2026-11-20",
                    "severity": severity,
                    "sector": "steel",
                }
            )
            alert = Alert(
                dedupe_key=f"{rule_id}:{sub.enterprise_id}:{doc_id}:{legal_event_id}",
                rule_pk=rule.id,
                rule_id=rule_id,
                rule_version=1,
                enterprise_id=sub.enterprise_id,
                subscription_id=sub.id,
                document_id=doc_id,
                legal_event_id=legal_event_id,
                severity=severity,
                sector="steel",
                status="queued",
                explanation=exp,
                as_of=dt.date(2026, 11, 20),
            )
            session.add(alert)
            session.flush()
            due, key = due_time(sub, now, settings)
            enqueue_alert(session, alert, list(enterprise.recipients), due_at=due, group_key=key)
            ids.append(alert.id)
    return ids


def queue_digest(
    store: Store, html: Path, pdf: Path, subject: str = "知识产权风险周报 2026-W48"
) -> int:
    """An approved digest for the bureau, queued as the digest service queues it; its id."""
    with store.session() as session:
        digest = Digest(week="2026-W48", status="approved")
        session.add(digest)
        session.flush()
        session.add(
            OutboxMessage(
                idempotency_key=f"digest:{digest.id}:bureau@example.gov",
                kind="digest",
                digest_id=digest.id,
                recipient="bureau@example.gov",
                due_at=NOW,
                payload={
                    "subject": subject,
                    "html_path": str(html),
                    "text": "本周摘要",
                    "attachments": [str(pdf)],
                },
            )
        )
        return digest.id
