"""Issue 13 item 6: every validation gap an operator hit in the first week is refused at once,
with the file, line or field named, and nothing stored is changed."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from tests.rules_support import LIBRARY, run_cli, use_store, write
from warning.config import load_settings
from warning.errors import ConfigError
from warning.store.models import Enterprise, OutboxMessage, Silence, Subscription

# --- settings -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("toml", "field", "message"),
    [
        ('digest_cron = "61 8 * * mon"\n', "digest_cron", "not a valid crontab"),
        ('[sources.gazette]\ncron = "0 25 * * *"\n', "sources.gazette.cron", "not a valid crontab"),
        ('bureau_recipients = ["not-an-email"]\n', "bureau_recipients", "not an e-mail address"),
        (
            'operator_recipients = ["ops@bureau.example", "ops at bureau"]\n',
            "operator_recipients",
            "'ops at bureau' is not an e-mail address",
        ),
        ('mail_from = "garbage"\n', "mail_from", "is not a mailbox"),
        (
            '[sources.cnipa_gazette]\nbase_url = "https://…"\n',
            "sources.cnipa_gazette.base_url",
            "looks like a placeholder",
        ),
        (
            '[sources.cnipa_gazette]\nbase_url = "https:///gazette"\n',
            "sources.cnipa_gazette.base_url",
            "has no host name",
        ),
    ],
)
def test_bad_settings_are_refused_at_load(settings, tmp_path, capsys, toml, field, message):
    path = write(tmp_path / "ipwarn.toml", toml)
    with pytest.raises(ConfigError) as err:
        load_settings(path)
    assert f"{field}: " in str(err.value) and message in str(err.value)
    code, _, stderr = run_cli(["--config", str(path), "config", "show"], capsys)
    assert code == 2 and message in stderr and "Traceback" not in stderr


def test_good_settings_still_load(settings, tmp_path):
    path = write(
        tmp_path / "ipwarn.toml",
        'digest_cron = "30 7 * * mon"\nmail_from = "鞍山知识产权局 <ipwarn@ipb.anshan.example>"\n'
        'bureau_recipients = ["ipb@anshan.example"]\n'
        '[sources.cnipa_gazette]\nbase_url = "http://127.0.0.1:8080/gazette/"\ncron = "0 6 * * *"\n',
    )
    loaded = load_settings(path)
    assert loaded.sources["cnipa_gazette"].base_url == "http://127.0.0.1:8080/gazette/"


def test_misspelt_top_level_environment_variable_is_an_error(settings, monkeypatch, capsys):
    monkeypatch.setenv("IPWARN_LOG_LEVL", "DEBUG")
    with pytest.raises(ConfigError) as err:
        load_settings(None)
    text = str(err.value)
    assert "log_levl: unknown setting; did you mean 'log_level'?" in text
    assert "environment IPWARN_LOG_LEVL" in text
    code, _, stderr = run_cli(["status"], capsys)
    assert code == 2 and "IPWARN_LOG_LEVL" in stderr


# --- rule files -----------------------------------------------------------------------------

BAD_RULE = """\
id: legal-typos
version: 1
title: 错误的法律状态规则
severity: low
when:
  legal_events: [CF01, CF99]
  kinds: [B, Z]
  offices: [CN, XX]
  applicants: []
  ipc: [Z99/00, C21D8/12, Q1]
"""


def test_rules_check_refuses_unknown_codes_kinds_offices_empty_applicants_and_every_bad_ipc(
    settings, capsys, tmp_path
):
    path = write(tmp_path / "bad.yaml", BAD_RULE)
    code, out, _ = run_cli(["rules", "check", str(path)], capsys)
    assert code == 2
    lines = {int(x.split(":")[1]): x for x in out.strip().splitlines()}
    assert "when.legal_events" in lines[6] and "'CF99' is not in the packaged" in lines[6]
    assert "'CF01'" not in lines[6]
    assert "when.kinds" in lines[7] and "'Z' is not a kind code" in lines[7]
    assert "when.offices" in lines[8] and "'XX' is not a patent office code" in lines[8]
    assert "when.applicants" in lines[9] and "empty list" in lines[9]
    assert "'Z99/00'" in lines[10] and "'Q1'" in lines[10] and "'C21D8/12'" not in lines[10]


def test_packaged_rule_library_still_passes(settings, capsys):
    code, _, err = run_cli(["rules", "check", str(LIBRARY)], capsys)
    assert code == 0, err


# --- subscriptions --------------------------------------------------------------------------

SUBS = """\
enterprises:
  - id: ansteel
    name: 鞍钢股份有限公司
    recipients: [ip@ansteel.example.cn, tech-centre@ansteel.example.cn]
    subscriptions:
      - name: silicon-steel
        scope: {sectors: [steel]}
      - name: legal
        scope: {subfields: [steel.silicon_steel]}
  - id: ashm
    name: 鞍山重型矿山机器股份有限公司
    recipients: [patents@ashm.example.cn]
    subscriptions:
      - name: default
        scope: {sectors: [equipment]}
"""


@pytest.mark.parametrize(
    ("change", "line", "message"),
    [
        (("recipients: [patents@ashm.example.cn]", "recipients: []"), 10, "recipients is empty"),
        (("scope: {sectors: [equipment]}", "scope: {}"), 10, "the scope watches nothing"),
    ],
)
def test_import_refuses_empty_recipients_and_empty_scope(
    store, settings, tmp_path, monkeypatch, capsys, change, line, message
):
    use_store(monkeypatch, store, tmp_path)
    path = write(tmp_path / "subs.yaml", SUBS.replace(*change))
    code, _, err = run_cli(["subscriptions", "import", str(path)], capsys)
    assert code == 2
    assert f"{path}:{line}: " in err and message in err
    with store.session() as session:
        assert session.scalars(select(Enterprise)).all() == []


def test_duplicate_enterprise_id_is_located_and_reported_with_schema_errors(
    store, settings, tmp_path, monkeypatch, capsys
):
    use_store(monkeypatch, store, tmp_path)
    text = SUBS.replace("id: ashm", "id: ansteel").replace("frequency", "x") + (
        "        frequency: hourly\n"
    )
    path = write(tmp_path / "dup.yaml", text)
    code, _, err = run_cli(["subscriptions", "import", str(path)], capsys)
    assert code == 2
    assert f"{path}:10: enterprises[1].id: enterprise id 'ansteel' appears more than once" in err
    assert "(first at line 2)" in err
    assert f"{path}:16: enterprises[1].subscriptions[0].frequency: " in err


def test_duplicate_subscription_name_is_located(store, settings, tmp_path, monkeypatch, capsys):
    use_store(monkeypatch, store, tmp_path)
    path = write(tmp_path / "dup.yaml", SUBS.replace("name: legal", "name: silicon-steel"))
    code, _, err = run_cli(["subscriptions", "import", str(path)], capsys)
    assert code == 2
    assert (
        f"{path}:8: enterprises[0].subscriptions[1].name: subscription name 'silicon-steel' "
        "appears more than once in this enterprise (first at line 6)"
    ) in err


def test_a_nul_escape_in_a_yaml_file_is_located_and_nothing_is_imported(
    store, settings, tmp_path, monkeypatch, capsys
):
    """YAML's "\\0" escape yields a NUL, which PostgreSQL text refuses (it was a traceback)."""
    use_store(monkeypatch, store, tmp_path)
    text = SUBS.replace("name: 鞍钢股份有限公司", 'name: "鞍钢\\0股份有限公司"')
    path = write(tmp_path / "nul.yaml", text)
    code, _, err = run_cli(["subscriptions", "import", str(path)], capsys)
    assert code == 2 and "Traceback" not in err
    assert f"{path}:3: enterprises[0].name: contains a NUL character" in err
    with store.session() as session:
        assert session.scalar(select(Enterprise)) is None


def test_an_enterprise_can_be_unsubscribed_and_removed(
    store, settings, tmp_path, monkeypatch, capsys
):
    from tests.smtp_support import add_alerts, smtp_settings

    use_store(monkeypatch, store, tmp_path)
    code, _, err = run_cli(
        ["subscriptions", "import", str(write(tmp_path / "s.yaml", SUBS))], capsys
    )
    assert code == 0, err
    with store.session() as session:
        legal = session.scalars(select(Subscription).where(Subscription.name == "legal")).one()
    add_alerts(store, smtp_settings(settings, store, None), legal.id, 2)

    code, out, err = run_cli(
        ["subscriptions", "unsubscribe", "ansteel", "--subscription", "lgeal"], capsys
    )
    assert code == 2 and "did you mean 'legal'?" in err
    code, out, err = run_cli(["subscriptions", "unsubscribe", "ansteel"], capsys)
    assert code == 0, err
    assert "deactivated silicon-steel, legal" in out and "4 queued message(s) cancelled" in out
    code, out, _ = run_cli(["subscriptions", "list"], capsys)
    assert "ansteel\tlegal\tinactive" in out and "ansteel\tsilicon-steel\tinactive" in out

    code, out, err = run_cli(["subscriptions", "remove", "ashm"], capsys)
    assert code == 0 and "ashm: removed (deleted)" in out
    code, out, err = run_cli(["subscriptions", "remove", "ansteel"], capsys)
    assert code == 0 and "kept as history for" in out
    code, _, err = run_cli(["subscriptions", "remove", "nobody"], capsys)
    assert code == 2 and "unknown enterprise 'nobody'" in err
    with store.session() as session:
        assert session.get(Enterprise, "ashm") is None
        kept = session.get(Enterprise, "ansteel")
        assert kept is not None and kept.recipients == []
        assert {r.status for r in session.scalars(select(OutboxMessage))} == {"cancelled"}


# --- commands -------------------------------------------------------------------------------


def test_silence_for_a_misspelt_rule_is_refused(store, settings, tmp_path, monkeypatch, capsys):
    use_store(monkeypatch, store, tmp_path)
    code, _, err = run_cli(
        ["silence", "add", "--rule", "infringement-screenin", "--for", "7d"], capsys
    )
    assert code == 2 and "unknown rule 'infringement-screenin'" in err
    assert "did you mean 'infringement-screening'?" in err
    with store.session() as session:
        assert session.scalars(select(Silence)).all() == []
    code, _out, err = run_cli(
        ["silence", "add", "--rule", "infringement-screening", "--for", "7d"], capsys
    )
    assert code == 0, err


@pytest.mark.parametrize(
    ("argv", "field"),
    [
        (
            ["silence", "add", "--rule", "infringement-screening", "--until", "9999-12-31"],
            "--until",
        ),
        (["alerts", "--since", "0001-01-01"], "--since"),
        (["digest", "build", "--week", "0001-W01"], "--week"),
        (["deliver", "--now", "0001-01-01T00:00"], "--now"),
        (
            ["rules", "test", str(LIBRARY), "--since", "0001-01-01", "--until", "0001-01-02"],
            "--since",
        ),
        (["expiring", "--as-of", "0001-01-01"], "--as-of"),
        (["forecast", "--as-of", "9999-W52"], "--as-of"),
    ],
    ids=lambda v: v[0] if isinstance(v, list) else v,
)
def test_the_calendars_ends_are_refused_naming_the_option(
    store, settings, tmp_path, monkeypatch, capsys, argv, field
):
    """Midnight of 0001-01-01 in Shanghai is no date in UTC, nor is the day after 9999-12-31:
    refused with the range (they were OverflowError tracebacks)."""
    use_store(monkeypatch, store, tmp_path)
    code, _, err = run_cli(argv, capsys)
    assert code == 2, err
    assert f"{field}: " in err and "is outside 1800" in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (["db", "upgrade", "--revision", "0044_search_postx"], 2, "--revision: unknown revision"),
        (["classify", "--model", "../../etc"], 1, "is not a classifier version name"),
        (["model", "evaluate", "--version", "v" * 300], 1, "is not a classifier version name"),
        (["indicators", "--report", "/proc/no-such-dir"], 2, "--report: cannot write"),
        (["outbox", "--requeue-dead", "9" * 20], 2, "--requeue-dead: expected a row id"),
        (["status", "--limit", "9" * 20], 2, "Invalid value for '--limit'"),
        (["digest", "show", "9" * 20], 2, "Invalid value for 'ID'"),
        (["silence", "remove", "9" * 20], 2, "Invalid value for 'SILENCE_ID'"),
        (
            ["silence", "add", "--rule", "infringement-screening", "--until", "   "],
            2,
            "--until: a date (YYYY-MM-DD) or ISO date-time is required",
        ),
    ],
    ids=[
        "db-revision",
        "classify-model",
        "model-version",
        "indicators-report",
        "requeue-huge-id",
        "status-huge-limit",
        "digest-huge-id",
        "silence-huge-id",
        "silence-blank-until",
    ],
)
def test_bad_option_values_are_named_not_tracebacks(
    store, settings, tmp_path, monkeypatch, capsys, argv, code, message
):
    """Found by sending every option of every command hostile values (they were alembic
    CommandError/AssertionError, OSError and OverflowError tracebacks)."""
    use_store(monkeypatch, store, tmp_path)
    got, _, err = run_cli(argv, capsys)
    assert got == code, err
    assert message in err and "Traceback" not in err


def test_digest_build_refuses_a_future_week(store, settings, tmp_path, monkeypatch, capsys):
    use_store(monkeypatch, store, tmp_path)
    future = dt.date.today() + dt.timedelta(days=21)
    year, week, _ = future.isocalendar()
    code, _, err = run_cli(["digest", "build", "--week", f"{year}-W{week:02d}"], capsys)
    assert code == 2 and "has not started yet" in err and "--week" in err


def test_rules_test_refuses_since_after_until(store, settings, tmp_path, monkeypatch, capsys):
    use_store(monkeypatch, store, tmp_path)
    code, _, err = run_cli(
        ["rules", "test", str(LIBRARY), "--since", "2019-07-31", "--until", "2019-07-01"], capsys
    )
    assert code == 2 and "--since 2019-07-31 is after --until 2019-07-01" in err


def test_a_rule_stored_before_the_stricter_checks_still_matches(store):
    """The new checks apply to rule files; a stored active version stays usable."""
    from rules.repository import compiled_rules
    from warning.store.models import Rule

    definition = {
        "id": "old-rule",
        "version": 1,
        "title": "旧规则",
        "severity": "low",
        "when": {"legal_events": ["CF99"], "kinds": ["Z"], "offices": ["XX"], "sectors": ["steel"]},
    }
    with store.session() as session:
        session.add(
            Rule(
                rule_id="old-rule",
                version=1,
                title="旧规则",
                severity="low",
                status="active",
                definition=definition,
                checksum="x",
            )
        )
    with store.session() as session:
        [compiled] = compiled_rules(session)
    assert compiled.id == "old-rule" and compiled.spec.when.legal_events == ["CF99"]
