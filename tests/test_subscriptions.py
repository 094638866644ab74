"""Subscriptions: YAML import (create, update, deactivate), validation errors, listing."""

from __future__ import annotations

from sqlalchemy import select

from tests.rules_support import EXAMPLE_SUBS, run_cli, use_store, write
from warning.store.models import Enterprise, Subscription

ONE = """\
enterprises:
  - id: ansteel
    name: 鞍钢股份有限公司
    recipients: [ip@ansteel.example.cn]
    subscriptions:
      - name: silicon-steel
        scope: {subfields: [steel.silicon_steel], competitors: [POSCO]}
        frequency: daily
        quiet_hours: "22:00-07:00"
        daily_cap: 10
      - name: legal
        scope: {sectors: [steel]}
"""


def test_import_creates_then_updates_and_deactivates(
    store, settings, tmp_path, monkeypatch, capsys
):
    use_store(monkeypatch, store, tmp_path)
    code, out, err = run_cli(["subscriptions", "import", str(EXAMPLE_SUBS)], capsys)
    assert code == 0, err
    assert "enterprises: 4 new" in out
    path = write(tmp_path / "subs.yaml", ONE)
    code, out, err = run_cli(["subscriptions", "import", str(path)], capsys)
    assert code == 0, err
    assert (
        "1 updated" in out and "1 new" in out.split("subscriptions:")[1] and "1 deactivated" in out
    )
    with store.session() as session:
        ansteel = session.get(Enterprise, "ansteel")
        assert ansteel.recipients == ["ip@ansteel.example.cn"]
        subs = {
            s.name: s
            for s in session.scalars(
                select(Subscription).where(Subscription.enterprise_id == "ansteel")
            )
        }
        silicon = subs["silicon-steel"]
        assert (silicon.frequency, silicon.quiet_start, silicon.quiet_end, silicon.daily_cap) == (
            "daily",
            "22:00",
            "07:00",
            10,
        )
        assert silicon.scope == {"subfields": ["steel.silicon_steel"], "competitors": ["POSCO"]}
        assert subs["legal"].active is True
        assert subs["legal-status"].active is False  # kept for history, no longer in the file
    code, out, _ = run_cli(["subscriptions", "list"], capsys)
    assert code == 0 and "ansteel\tsilicon-steel\tactive\tdaily" in out
    code, out, _ = run_cli(["subscriptions", "import", str(path)], capsys)
    assert "0 new, 0 updated, 0 deactivated" in out.split("subscriptions:")[1]


def test_bad_subscription_file_lists_located_problems_and_imports_nothing(
    store, settings, tmp_path, monkeypatch, capsys
):
    use_store(monkeypatch, store, tmp_path)
    bad = (
        ONE.replace("frequency: daily", "frequency: dayly")
        .replace("[steel]", "[stel]")
        .replace('quiet_hours: "22:00-07:00"', 'quite_hours: "22:00-07:00"')
    )
    path = write(tmp_path / "bad.yaml", bad)
    code, _out, err = run_cli(["subscriptions", "import", str(path)], capsys)
    assert code == 2
    assert (
        f"{path}:8: enterprises[0].subscriptions[0].frequency: " in err
        and "did you mean 'daily'?" in err
    )
    assert (
        f"{path}:9: enterprises[0].subscriptions[0].quite_hours: unknown key; did you mean 'quiet_hours'?"
        in err
    )
    assert f"{path}:12: enterprises[0].subscriptions[1].scope.sectors: unknown sector 'stel'" in err
    with store.session() as session:
        assert session.scalars(select(Enterprise)).all() == []
