"""Issue 13.7: operator views that were missing or inconsistent."""

from __future__ import annotations

import json

from tests.rules_support import run_cli, use_store, write
from tests.smtp_support import add_alerts, add_enterprise, smtp_settings


def test_config_show_names_the_file_it_loaded(settings, tmp_path, capsys):
    path = write(tmp_path / "prod.toml", 'log_level = "WARNING"\n')
    code, out, err = run_cli(["--config", str(path), "config", "show"], capsys)
    assert code == 0, err
    assert f"config file: {path.resolve()}" in err
    assert json.loads(out)["config_file"] == str(path.resolve())
    code, out, err = run_cli(["config", "show"], capsys)
    assert "config file: none" in err and json.loads(out)["config_file"] is None


def test_outbox_dead_with_none_says_so_and_unknown_requeue_id_is_an_error(
    store, settings, tmp_path, monkeypatch, capsys
):
    use_store(monkeypatch, store, tmp_path)
    code, out, _ = run_cli(["outbox", "--dead"], capsys)
    assert code == 0 and "no dead letters" in out
    code, _, err = run_cli(["outbox", "--requeue-dead", "999"], capsys)
    assert code == 2 and "no outbox row #999" in err and "Nothing was requeued" in err
    sub = add_enterprise(store)
    add_alerts(store, smtp_settings(settings, store, None), sub, 1)
    code, _, err = run_cli(["outbox", "--requeue-dead", "1"], capsys)
    assert code == 2 and "row #1 is pending, not dead" in err


def test_silence_add_and_list_show_the_same_local_time(
    store, settings, tmp_path, monkeypatch, capsys
):
    use_store(monkeypatch, store, tmp_path)
    add_enterprise(store)
    code, out, err = run_cli(
        ["silence", "add", "--enterprise", "ent-1", "--until", "2099-12-31"], capsys
    )
    assert code == 0, err
    assert "until 2100-01-01 00:00 CST" in out
    code, out, _ = run_cli(["silence", "list"], capsys)
    assert "until 2100-01-01 00:00 CST" in out
    code, out, _ = run_cli(["silence", "list", "--json"], capsys)
    assert json.loads(out)[0]["until"] == "2100-01-01T00:00:00+08:00"
