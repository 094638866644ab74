import json
import subprocess
import sys

import pytest

from warning.config import load_settings
from warning.errors import ConfigError


def write(tmp_path, text):
    path = tmp_path / "ipwarn.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_file_values_are_overridden_by_environment(settings, tmp_path, monkeypatch):
    path = write(
        tmp_path,
        'smtp_host = "mail.example.cn"\nsmtp_port = 2525\n[sources.gazette]\nbase_url = "http://a"\n',
    )
    monkeypatch.setenv("IPWARN_SMTP_PORT", "587")
    monkeypatch.setenv("IPWARN_SOURCES__GAZETTE__CRON", "0 7 * * *")
    s = load_settings(path)
    assert s.smtp_host == "mail.example.cn"
    assert s.smtp_port == 587
    assert s.sources["gazette"].base_url == "http://a"
    assert s.sources["gazette"].cron == "0 7 * * *"


def test_config_path_from_environment_variable(settings, tmp_path, monkeypatch):
    path = write(tmp_path, 'timezone = "UTC"\n')
    monkeypatch.setenv("IPWARN_CONFIG", str(path))
    assert load_settings(None).timezone == "UTC"


def test_every_bad_field_is_named_with_allowed_values(settings, tmp_path):
    path = write(
        tmp_path,
        'log_level = "LOUD"\nsmtp_port = 99999\ntimezone = "Mars/Base"\n'
        '[sources.x]\ncron = "daily"\n',
    )
    with pytest.raises(ConfigError) as err:
        load_settings(path)
    text = str(err.value)
    assert "log_level: Input should be 'DEBUG', 'INFO', 'WARNING' or 'ERROR'" in text
    assert "smtp_port:" in text and "65535" in text
    assert "timezone:" in text and "Mars/Base" in text
    assert "sources.x.cron:" in text and "5-field crontab" in text
    assert str(path) in text
    assert len(err.value.problems) == 4


def test_misspelt_setting_gets_a_did_you_mean(settings, tmp_path):
    path = write(tmp_path, 'smtp_hots = "x"\n')
    with pytest.raises(ConfigError, match="smtp_hots: unknown setting; did you mean 'smtp_host'"):
        load_settings(path)


def test_secrets_are_refused_in_the_config_file(settings, tmp_path):
    path = write(tmp_path, 'smtp_password = "hunter2"\n[sources.epo]\nclient_secret = "s"\n')
    with pytest.raises(ConfigError) as err:
        load_settings(path)
    text = str(err.value)
    assert "IPWARN_SMTP_PASSWORD" in text and "IPWARN_SOURCES__EPO__CLIENT_SECRET" in text
    assert "hunter2" not in text


def test_secret_from_secrets_dir_and_never_printed(settings, tmp_path, monkeypatch):
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "ipwarn_smtp_password").write_text("hunter2")
    monkeypatch.setenv("IPWARN_SECRETS_DIR", str(secrets))
    monkeypatch.setenv("IPWARN_DATABASE_URL", "postgresql://ipwarn:dbpass@db.example/ipwarn")
    s = load_settings(None)
    assert s.smtp_password is not None and s.smtp_password.get_secret_value() == "hunter2"
    assert s.database_url == "postgresql+psycopg://ipwarn:dbpass@db.example/ipwarn"
    out = subprocess.run(
        [sys.executable, "-m", "warning", "config", "show"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "hunter2" not in out and "dbpass" not in out
    assert json.loads(out)["smtp_password"] == "**********"


def test_cli_exits_2_with_field_message_on_bad_config(settings, tmp_path):
    path = write(tmp_path, 'smtp_port = "twenty-five"\n')
    proc = subprocess.run(
        [sys.executable, "-m", "warning", "--config", str(path), "status"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert "smtp_port: Input should be a valid integer" in proc.stderr
    assert "Traceback" not in proc.stderr
