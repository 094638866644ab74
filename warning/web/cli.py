"""`ipwarn web` (serve the console) and `ipwarn users` (accounts and API tokens)."""

from __future__ import annotations

import getpass
import json
import sys

import click
from sqlalchemy import select

from warning.app import App
from warning.cli_types import ROW_ID
from warning.store.models import ApiToken, User, utcnow
from warning.web.users import (
    add_user,
    issue_token,
    list_users,
    reset_password,
    revoke_token,
    set_active,
)


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (OSError, KeyError):
        return "cli"


def _read_password(generate: bool) -> str | None:
    """The password from stdin (first line), or None to generate one."""
    if generate or sys.stdin is None or sys.stdin.isatty():
        return None
    line = sys.stdin.readline().rstrip("\r\n")
    return line or None


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.pass_obj
def web(app: App, host: str, port: int) -> None:
    """Serve the web console and JSON API (uvicorn) on the configured database."""
    import uvicorn

    from warning.web.app import create_app

    app.store.check()  # SQLite migrates itself, PostgreSQL behind the code is refused
    click.echo(
        f"ipwarn console on http://{host}:{port}/ (database {app.settings.effective_database_url})"
    )
    # one process; sessions, throttling and the audit log live in the store, not in memory
    uvicorn.run(create_app(app), host=host, port=port, proxy_headers=False)


@click.group()
def users() -> None:
    """Console accounts (admin, bureau, expert, enterprise) and their API tokens."""


@users.command("add")
@click.argument("email")
@click.option(
    "--role", required=True, type=click.Choice(["admin", "bureau", "expert", "enterprise"])
)
@click.option(
    "--enterprise", "enterprise_id", default=None, help="Enterprise id (role enterprise)."
)
@click.option("--generate", is_flag=True, help="Generate the password even if stdin has one.")
@click.pass_obj
def users_add(app: App, email: str, role: str, enterprise_id: str | None, generate: bool) -> None:
    """Create a user; the password is read from stdin, or generated and printed once."""
    password = _read_password(generate)
    with app.store.session() as session:
        created = add_user(
            session,
            email=email,
            role=role,
            enterprise_id=enterprise_id,
            password=password,
            actor=_actor(),
            now=utcnow(),
        )
        click.echo(
            f"user {created.user.email} ({role}{' ' + enterprise_id if enterprise_id else ''}) created"
        )
    if created.generated_password:
        click.echo(f"password (shown once): {created.generated_password}")


@users.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def users_list(app: App, as_json: bool) -> None:
    """Users with role, enterprise, state and last login."""
    with app.store.session() as session:
        rows = [
            {
                "email": u.email,
                "role": u.role,
                "enterprise": u.enterprise_id,
                "active": u.active,
                "last_login_at": u.last_login_at.isoformat() if u.last_login_at else None,
            }
            for u in list_users(session)
        ]
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    if not rows:
        click.echo("no users; add one with `ipwarn users add EMAIL --role admin`", err=True)
    for r in rows:
        click.echo(
            f"{r['email']}\t{r['role']}\t{r['enterprise'] or '-'}\t"
            f"{'active' if r['active'] else 'disabled'}\t{r['last_login_at'] or 'never'}"
        )


@users.command("disable")
@click.argument("email")
@click.pass_obj
def users_disable(app: App, email: str) -> None:
    """Disable a user: logins and API tokens stop working, sessions end at once."""
    with app.store.session() as session:
        user = set_active(session, email, False, actor=_actor(), now=utcnow())
        click.echo(f"user {user.email} disabled")


@users.command("enable")
@click.argument("email")
@click.pass_obj
def users_enable(app: App, email: str) -> None:
    """Enable a disabled user again."""
    with app.store.session() as session:
        user = set_active(session, email, True, actor=_actor(), now=utcnow())
        click.echo(f"user {user.email} enabled")


@users.command("reset-password")
@click.argument("email")
@click.option("--generate", is_flag=True, help="Generate the password even if stdin has one.")
@click.pass_obj
def users_reset(app: App, email: str, generate: bool) -> None:
    """Set a new password (stdin, or generated and printed once); the user's sessions end."""
    password = _read_password(generate)
    with app.store.session() as session:
        generated = reset_password(session, email, password, actor=_actor(), now=utcnow())
    click.echo(f"password of {email.strip().lower()} reset")
    if generated:
        click.echo(f"password (shown once): {generated}")


@users.command("token")
@click.argument("email")
@click.option("--name", default="", help="What the token is for (shown in `users tokens`).")
@click.pass_obj
def users_token(app: App, email: str, name: str) -> None:
    """Print a new API token for EMAIL once (only its hash is stored)."""
    with app.store.session() as session:
        row, raw = issue_token(session, email, name, actor=_actor(), now=utcnow())
        click.echo(f"token #{row.id} for {email.strip().lower()} (shown once):", err=True)
    click.echo(raw)


@users.command("tokens")
@click.argument("email", required=False)
@click.pass_obj
def users_tokens(app: App, email: str | None) -> None:
    """List API tokens (prefix, name, created, last used, revoked)."""
    with app.store.session() as session:
        stmt = select(ApiToken, User).join(User, User.id == ApiToken.user_id).order_by(ApiToken.id)
        if email:
            stmt = stmt.where(User.email == email.strip().lower())
        for token, user in session.execute(stmt).all():
            state = f"revoked {token.revoked_at:%Y-%m-%d}" if token.revoked_at else "active"
            used = f"{token.last_used_at:%Y-%m-%d %H:%M}" if token.last_used_at else "never"
            click.echo(
                f"#{token.id}\t{user.email}\t{token.prefix}…\t{token.name or '-'}\t{state}\tlast used {used}"
            )


@users.command("revoke")
@click.argument("token_id", type=ROW_ID)
@click.pass_obj
def users_revoke(app: App, token_id: int) -> None:
    """Revoke API token TOKEN_ID (see `ipwarn users tokens`)."""
    with app.store.session() as session:
        row = revoke_token(session, token_id, actor=_actor(), now=utcnow())
        click.echo(f"token #{row.id} revoked")
