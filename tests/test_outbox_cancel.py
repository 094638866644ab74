"""Issue 13 item 4: queued mail for a removed recipient or a deactivated subscription is
cancelled (status `cancelled`, counted in `ipwarn outbox`), never sent."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from sqlalchemy import select

from tests.rules_support import run_cli
from tests.smtp_support import NOW, add_alerts, add_enterprise, smtp_settings
from warning.store.models import OutboxMessage

KEEP, DROP = "ip@example.com", "tech-centre@example.com"


def _file(tmp_path: Path, recipients: list[str], active: bool = True) -> Path:
    path = tmp_path / "subs.yaml"
    path.write_text(
        "enterprises:\n"
        "  - id: ent-1\n"
        "    name: 鞍山示例钢铁有限公司\n"
        f"    recipients: [{', '.join(recipients)}]\n"
        "    subscriptions:\n"
        "      - name: default\n"
        "        scope: {sectors: [steel]}\n"
        f"        active: {'true' if active else 'false'}\n",
        encoding="utf-8",
    )
    return path


def test_removed_recipient_and_deactivated_subscription_cancel_queued_mail(
    store, settings, tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("IPWARN_DATABASE_URL", store.url)
    monkeypatch.setenv("IPWARN_DATA_DIR", str(settings.data_dir))
    sub = add_enterprise(store, recipients=[KEEP, DROP])
    add_alerts(store, smtp_settings(settings, store, None), sub, 3, now=NOW)

    code, out, err = run_cli(["subscriptions", "import", str(_file(tmp_path, [KEEP]))], capsys)
    assert code == 0, err
    assert "3 queued message(s) cancelled" in out
    code, out, _ = run_cli(["outbox", "--json"], capsys)
    assert json.loads(out)["counts"]["cancelled"] == 3
    code, out, _ = run_cli(["outbox"], capsys)
    assert "cancelled         3" in out

    code, out, err = run_cli(["deliver", "--flush"], capsys)
    assert code == 0, err
    assert "sent 3 rows in 1 messages" in out
    with store.session() as session:
        rows = session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
        by_recipient = {(r.recipient, r.status) for r in rows}
        assert by_recipient == {(KEEP, "sent"), (DROP, "cancelled")}
        assert all("recipient removed" in (r.last_error or "") for r in rows if r.recipient == DROP)

    # new alerts for the kept recipient, then the subscription is deactivated
    add_alerts(store, smtp_settings(settings, store, None), sub, 2, now=NOW, start=10)
    code, out, _ = run_cli(
        ["subscriptions", "import", str(_file(tmp_path, [KEEP], active=False))], capsys
    )
    assert "2 queued message(s) cancelled" in out
    later = (NOW + dt.timedelta(hours=1)).isoformat()
    code, out, _ = run_cli(["deliver", "--now", later], capsys)
    assert "sent 0 rows" in out
    with store.session() as session:
        newest = session.scalars(
            select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(2)
        ).all()
        assert {r.status for r in newest} == {"cancelled"}
        assert all("subscription deactivated" in (r.last_error or "") for r in newest)
