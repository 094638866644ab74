"""Logins, server-side sessions, API tokens and the audit log, all in the store.

The session cookie carries a random id; the store keeps only its SHA-256, the user, a CSRF
token, the last activity and an absolute expiry. A login always makes a new id (no session
fixation) and logout deletes the row. Failed logins are rows too, so throttling holds across
processes and restarts.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Executable, delete, func, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from warning.config import Settings
from warning.store.engine import Store, is_locked
from warning.store.models import ApiToken, AuditEntry, LoginAttempt, User, WebSession
from warning.web.passwords import (
    hash_password,
    needs_rehash,
    new_token,
    token_hash,
    verify_password,
)
from warning.web.permissions import Principal

#: a session's last_seen_at is written at most this often (fewer writes per page view)
TOUCH_EVERY = dt.timedelta(seconds=60)
TOKEN_PREFIX = "ipw_"

log = logging.getLogger(__name__)


class LoginRefused(Exception):
    """Wrong e-mail or password, a disabled account, or too many failures (``throttled``)."""

    def __init__(self, message: str, *, throttled: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.throttled = throttled


@dataclass(frozen=True)
class NewSession:
    cookie_value: str
    principal: Principal
    expires_at: dt.datetime


def audit(
    session: Session,
    *,
    actor: str,
    action: str,
    target: str = "",
    enterprise_id: str | None = None,
    detail: dict[str, Any] | None = None,
    address: str = "",
    now: dt.datetime,
) -> None:
    """Record one change; called in the same transaction as the change itself."""
    session.add(
        AuditEntry(
            at=now,
            actor=actor[:320],
            action=action,
            target=target[:300],
            enterprise_id=enterprise_id,
            detail=detail or {},
            address=address[:64],
        )
    )


def _principal(user: User, via: str, csrf: str = "") -> Principal:
    return Principal(
        user_id=user.id,
        email=user.email,
        role=user.role,
        enterprise_id=user.enterprise_id,
        via=via,
        csrf_token=csrf,
    )


def _throttled(
    session: Session, email: str, address: str, settings: Settings, now: dt.datetime
) -> str:
    since = now - dt.timedelta(minutes=settings.web_login_window_minutes)
    per_account = session.scalar(
        select(func.count()).where(LoginAttempt.email == email, LoginAttempt.at > since)
    )
    minutes = int(settings.web_login_window_minutes)
    if (per_account or 0) >= settings.web_login_max_failures:
        return f"该账号登录失败次数过多，请 {minutes} 分钟后再试 (too many failed logins for this account)"
    per_address = session.scalar(
        select(func.count()).where(LoginAttempt.address == address, LoginAttempt.at > since)
    )
    if (per_address or 0) >= settings.web_login_max_failures_per_address:
        return f"此地址登录失败次数过多，请 {minutes} 分钟后再试 (too many failed logins from this address)"
    return ""


def login(
    store: Store,
    settings: Settings,
    *,
    email: str,
    password: str,
    address: str,
    now: dt.datetime,
    replaces: str | None = None,
) -> NewSession:
    """A new session for valid credentials (the old session ``replaces`` is deleted)."""
    email = email.strip().lower()
    with store.write_session() as session:
        reason = _throttled(session, email, address, settings, now)
        if reason:
            raise LoginRefused(reason, throttled=True)
        user = session.scalar(select(User).where(User.email == email))
        ok = verify_password(user.password_hash if user else None, password)
        if not ok or user is None or not user.active:
            # committed with this transaction; the refusal is raised after it
            session.add(LoginAttempt(email=email, address=address[:64], at=now))
            failed = True
        else:
            failed = False
            if needs_rehash(user.password_hash):
                user.password_hash = hash_password(password)
            result = _open_session(session, user, address, settings, now, replaces)
    if failed:
        raise LoginRefused("邮箱或密码错误，或账号已停用 (wrong e-mail or password)")
    return result


def _open_session(
    session: Session,
    user: User,
    address: str,
    settings: Settings,
    now: dt.datetime,
    replaces: str | None,
) -> NewSession:
    """A fresh random session id (never the old one: no fixation); the old session is dropped."""
    session.execute(delete(LoginAttempt).where(LoginAttempt.email == user.email))
    if replaces:
        session.execute(delete(WebSession).where(WebSession.id == token_hash(replaces)))
    raw = new_token()
    csrf = secrets.token_urlsafe(32)
    expires = now + dt.timedelta(hours=settings.web_session_absolute_hours)
    session.add(
        WebSession(
            id=token_hash(raw),
            user_id=user.id,
            csrf_token=csrf,
            created_at=now,
            last_seen_at=now,
            expires_at=expires,
            address=address[:64],
        )
    )
    user.last_login_at = now
    audit(
        session, actor=user.email, action="user.login", target=user.email, address=address, now=now
    )
    return NewSession(raw, _principal(user, "session", csrf), expires)


def session_principal(
    store: Store, settings: Settings, cookie_value: str, now: dt.datetime
) -> Principal | None:
    """The user of a live session, or None (unknown, idle too long, expired, user disabled).

    The lookup is a read (never waits for a pipeline holding the SQLite write lock); the
    only writes are a dead session's removal and ``last_seen_at``, at most every
    :data:`TOUCH_EVERY`, each a one-row statement of its own (:func:`touch`).
    """
    if not cookie_value:
        return None
    key = token_hash(cookie_value)
    idle = dt.timedelta(minutes=settings.web_session_idle_minutes)
    with store.read_session() as session:
        row = session.get(WebSession, key)
        if row is None:
            return None
        user = session.get(User, row.user_id)
        dead = (
            user is None
            or not user.active
            or now >= row.expires_at
            or now - row.last_seen_at >= idle
        )
        stale = now - row.last_seen_at >= TOUCH_EVERY
        principal = None if dead or user is None else _principal(user, "session", row.csrf_token)
    if dead:
        touch(store, delete(WebSession).where(WebSession.id == key))
    elif stale:
        touch(
            store,
            update(WebSession)
            .where(WebSession.id == key, WebSession.last_seen_at <= now - TOUCH_EVERY)
            .values(last_seen_at=now),
        )
    return principal


def touch(store: Store, statement: Executable) -> bool:
    """Run a one-row bookkeeping write without waiting for SQLite's write lock.

    While a pipeline holds the lock the write is skipped (False): a page must not wait for
    ``last_seen_at`` or for removing a dead session (already refused); a later request tries
    again.
    """
    with store.engine.connect() as conn:
        cursor = None
        if store.is_sqlite:
            cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
            busy = cursor.execute("PRAGMA busy_timeout").fetchone()[0]
            cursor.execute("PRAGMA busy_timeout=0")
        try:
            with conn.begin():  # deferred on SQLite: the UPDATE asks for the lock once
                conn.execute(statement)
            return True
        except OperationalError as exc:
            if not is_locked(exc):
                raise
            log.debug("session touch skipped: the database is locked by another writer")
            return False
        finally:
            if cursor is not None:
                cursor.execute(f"PRAGMA busy_timeout={int(busy)}")
                cursor.close()


def logout(store: Store, cookie_value: str) -> None:
    if cookie_value:
        with store.session() as session:
            session.execute(delete(WebSession).where(WebSession.id == token_hash(cookie_value)))


def token_principal(store: Store, raw_token: str, now: dt.datetime) -> Principal | None:
    """The user of an unrevoked API token of an active account, or None.

    Read like a session (:func:`session_principal`); ``last_used_at`` is written at most
    every :data:`TOUCH_EVERY`, in a one-row statement of its own.
    """
    if not raw_token:
        return None
    with store.read_session() as session:
        row = session.scalar(select(ApiToken).where(ApiToken.token_hash == token_hash(raw_token)))
        if row is None or row.revoked_at is not None:
            return None
        user = session.get(User, row.user_id)
        if user is None or not user.active:
            return None
        token_id = row.id
        stale = row.last_used_at is None or now - row.last_used_at >= TOUCH_EVERY
        principal = _principal(user, "token")
    if stale:
        touch(store, update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=now))
    return principal


def create_token(session: Session, user: User, name: str, now: dt.datetime) -> tuple[ApiToken, str]:
    """A new API token for ``user``; the raw value is returned once and never stored."""
    raw = new_token(TOKEN_PREFIX)
    row = ApiToken(
        user_id=user.id,
        name=name[:120],
        token_hash=token_hash(raw),
        prefix=raw[: len(TOKEN_PREFIX) + 6],
        created_at=now,
    )
    session.add(row)
    session.flush()
    return row, raw


def end_sessions(session: Session, user_id: int) -> None:
    """Log a user out everywhere (password reset, account disabled)."""
    session.execute(delete(WebSession).where(WebSession.user_id == user_id))
