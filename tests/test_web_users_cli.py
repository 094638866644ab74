"""`ipwarn users`: add (stdin or generated password), list, disable, reset-password, tokens."""

from __future__ import annotations

import io
import sys

import pytest
from sqlalchemy import select

from tests.rules_support import run_cli, use_store
from tests.web_support import make_web
from warning.store.models import ApiToken, AuditEntry, Enterprise, User
from warning.web.passwords import verify_password


@pytest.fixture
def cli_store(store, settings, tmp_path, monkeypatch):
    use_store(monkeypatch, store, tmp_path)
    with store.session() as session:
        session.add(Enterprise(id="ent-a", name="甲", recipients=[]))
    return store


def _stdin(monkeypatch, text: str) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(text))


def test_add_list_disable_reset_and_tokens(cli_store, settings, monkeypatch, capsys):
    _stdin(monkeypatch, "a-long-enough-password\n")
    code, out, err = run_cli(["users", "add", "Admin@IP.example.cn", "--role", "admin"], capsys)
    assert code == 0, err
    assert "password (shown once)" not in out
    with cli_store.session() as session:
        user = session.scalar(select(User))
        assert user.email == "admin@ip.example.cn"
        assert user.password_hash.startswith("$argon2id$")
        assert verify_password(user.password_hash, "a-long-enough-password")
    _stdin(monkeypatch, "")
    code, out, _ = run_cli(
        ["users", "add", "ip@ent-a.example.cn", "--role", "enterprise", "--enterprise", "ent-a"],
        capsys,
    )
    assert code == 0 and "password (shown once): " in out
    generated = out.split("password (shown once): ")[1].strip()
    assert len(generated) >= 20
    code, _, err = run_cli(["users", "add", "x@ent-a.example.cn", "--role", "enterprise"], capsys)
    assert code == 2 and "--enterprise: an enterprise user needs --enterprise ID" in err
    code, _, err = run_cli(
        ["users", "add", "y@ent-a.example.cn", "--role", "enterprise", "--enterprise", "nope"],
        capsys,
    )
    assert code == 2 and "unknown enterprise 'nope'" in err
    _stdin(monkeypatch, "short\n")
    code, _, err = run_cli(["users", "add", "z@ip.example.cn", "--role", "expert"], capsys)
    assert code == 2 and "at least 10 characters" in err
    code, out, _ = run_cli(["users", "list"], capsys)
    assert (
        "admin@ip.example.cn\tadmin" in out
        and "ip@ent-a.example.cn\tenterprise\tent-a\tactive" in out
    )
    code, out, err = run_cli(["users", "token", "ip@ent-a.example.cn", "--name", "erp"], capsys)
    raw = out.strip()
    assert code == 0 and raw.startswith("ipw_")
    with cli_store.session() as session:
        token = session.scalar(select(ApiToken))
        assert token.token_hash != raw and raw not in token.prefix + "…"
    web = make_web(cli_store, settings)
    client = web.client()
    assert (
        client.get("/api/v1/alerts", headers={"Authorization": f"Bearer {raw}"}).status_code == 200
    )
    assert run_cli(["users", "revoke", str(token.id)], capsys)[0] == 0
    assert (
        client.get("/api/v1/alerts", headers={"Authorization": f"Bearer {raw}"}).status_code == 401
    )
    code, out, _ = run_cli(["users", "reset-password", "ip@ent-a.example.cn"], capsys)
    fresh = out.split("password (shown once): ")[1].strip()
    assert fresh != generated
    assert run_cli(["users", "disable", "ip@ent-a.example.cn"], capsys)[0] == 0
    code, out, _ = run_cli(["users", "list"], capsys)
    assert "ip@ent-a.example.cn\tenterprise\tent-a\tdisabled" in out
    with cli_store.session() as session:
        actions = [a for a in session.scalars(select(AuditEntry.action).order_by(AuditEntry.id))]
    assert actions == [
        "user.add",
        "user.add",
        "token.create",
        "token.revoke",
        "user.reset_password",
        "user.disable",
    ]
