"""Account management shared by `ipwarn users` and the console's admin/bureau pages."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from warning.errors import InputError, Problem
from warning.store.models import ApiToken, Enterprise, User
from warning.web.auth import audit, create_token, end_sessions
from warning.web.passwords import MIN_PASSWORD_LENGTH, generate_password, hash_password
from warning.web.permissions import ROLES

_EMAIL = re.compile(r"^[^@\s<>\"',;]+@[^@\s<>\"',;]+\.[^@\s<>\"',;]+$")


@dataclass(frozen=True)
class Created:
    user: User
    #: the generated password, shown once; None when the caller supplied one
    generated_password: str | None


def normalise_email(email: str, field: str = "EMAIL") -> str:
    value = email.strip().lower()
    if not _EMAIL.match(value) or len(value) > 320:
        raise InputError([Problem(f"{email!r} is not an e-mail address", field=field)])
    return value


def check_password(password: str, field: str = "password") -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InputError(
            [Problem(f"a password needs at least {MIN_PASSWORD_LENGTH} characters", field=field)]
        )
    return password


def get_user(session: Session, email: str) -> User:
    user = session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None:
        raise InputError([Problem(f"no user {email!r}; see `ipwarn users list`", field="EMAIL")])
    return user


def add_user(
    session: Session,
    *,
    email: str,
    role: str,
    enterprise_id: str | None,
    password: str | None,
    actor: str,
    now: dt.datetime,
) -> Created:
    """Create an account; an ``enterprise`` user must name an existing enterprise, others none."""
    address = normalise_email(email)
    if role not in ROLES:
        raise InputError(
            [Problem(f"unknown role {role!r}; one of {', '.join(ROLES)}", field="--role")]
        )
    if role == "enterprise":
        if not enterprise_id:
            raise InputError(
                [Problem("an enterprise user needs --enterprise ID", field="--enterprise")]
            )
        if session.get(Enterprise, enterprise_id) is None:
            raise InputError(
                [
                    Problem(
                        f"unknown enterprise {enterprise_id!r}; see `ipwarn subscriptions list`",
                        field="--enterprise",
                    )
                ]
            )
    elif enterprise_id:
        raise InputError(
            [
                Problem(
                    f"only enterprise users belong to an enterprise, not {role}",
                    field="--enterprise",
                )
            ]
        )
    if session.scalar(select(User.id).where(User.email == address)) is not None:
        raise InputError([Problem(f"user {address} already exists", field="EMAIL")])
    generated = None if password else generate_password()
    secret = check_password(password) if password else generated
    assert secret is not None
    user = User(
        email=address,
        role=role,
        enterprise_id=enterprise_id if role == "enterprise" else None,
        password_hash=hash_password(secret),
        active=True,
        created_at=now,
        updated_at=now,
    )
    session.add(user)
    session.flush()
    audit(
        session,
        actor=actor,
        action="user.add",
        target=address,
        enterprise_id=user.enterprise_id,
        detail={"role": role},
        now=now,
    )
    return Created(user, generated)


def set_active(session: Session, email: str, active: bool, *, actor: str, now: dt.datetime) -> User:
    user = get_user(session, email)
    user.active = active
    user.updated_at = now
    if not active:
        end_sessions(session, user.id)
    audit(
        session,
        actor=actor,
        action="user.enable" if active else "user.disable",
        target=user.email,
        enterprise_id=user.enterprise_id,
        now=now,
    )
    return user


def reset_password(
    session: Session, email: str, password: str | None, *, actor: str, now: dt.datetime
) -> str | None:
    """Set a new password (generated when None, and returned); every session of the user ends."""
    user = get_user(session, email)
    generated = None if password else generate_password()
    secret = check_password(password) if password else generated
    assert secret is not None
    user.password_hash = hash_password(secret)
    user.updated_at = now
    end_sessions(session, user.id)
    audit(
        session,
        actor=actor,
        action="user.reset_password",
        target=user.email,
        enterprise_id=user.enterprise_id,
        now=now,
    )
    return generated


def issue_token(
    session: Session, email: str, name: str, *, actor: str, now: dt.datetime
) -> tuple[ApiToken, str]:
    user = get_user(session, email)
    if not user.active:
        raise InputError([Problem(f"user {user.email} is disabled", field="EMAIL")])
    row, raw = create_token(session, user, name, now)
    audit(
        session,
        actor=actor,
        action="token.create",
        target=f"{user.email}#{row.id}",
        enterprise_id=user.enterprise_id,
        detail={"name": name},
        now=now,
    )
    return row, raw


def revoke_token(session: Session, token_id: int, *, actor: str, now: dt.datetime) -> ApiToken:
    row = session.get(ApiToken, token_id)
    if row is None:
        raise InputError(
            [Problem(f"no API token #{token_id}; see `ipwarn users tokens`", field="TOKEN_ID")]
        )
    if row.revoked_at is None:
        row.revoked_at = now
        audit(session, actor=actor, action="token.revoke", target=f"#{row.id}", now=now)
    return row


def list_users(session: Session, enterprise_id: str | None = None) -> list[User]:
    stmt = select(User).order_by(User.role, User.email)
    if enterprise_id is not None:
        stmt = stmt.where(User.enterprise_id == enterprise_id)
    return list(session.scalars(stmt))
