"""Validated configuration: ``ipwarn.toml`` overridden by ``IPWARN_*`` environment variables.

Settings are flat with documented defaults (like Scrapy's); per-source crawler settings live
under ``[sources.NAME]`` (env: ``IPWARN_SOURCES__NAME__FIELD``). Secrets are accepted only
from the environment or from files in ``IPWARN_SECRETS_DIR``, never from ``ipwarn.toml``, and
are never printed (``SecretStr``).
"""

from __future__ import annotations

import os
import re
import tomllib
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from warning.addresses import check_mailbox, check_recipients
from warning.errors import ConfigError, Problem

ENV_PREFIX = "IPWARN_"
DEFAULT_CONFIG_NAME = "ipwarn.toml"
SECRET_FIELDS = frozenset({"smtp_password", "password", "client_secret", "api_key", "link_secret"})

_config_path: ContextVar[Path | None] = ContextVar("ipwarn_config_path", default=None)


class SourceConfig(BaseModel):
    """One bulletin source. A source without ``base_url`` switches itself off."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    base_url: str | None = None
    #: crontab (5 fields, Asia/Shanghai unless ``timezone`` says otherwise)
    cron: str = "0 6 * * *"
    #: a source silent for longer than this is reported stale
    expected_cadence_hours: float = Field(default=192.0, gt=0)
    timeout_seconds: float = Field(default=1800.0, gt=0)
    concurrency: int = Field(default=2, ge=1, le=16)
    download_delay: float = Field(default=1.0, ge=0)
    username: str | None = None
    client_id: str | None = None
    password: SecretStr | None = None
    client_secret: SecretStr | None = None
    api_key: SecretStr | None = None
    #: extra spider-specific options (paths, query parameters)
    options: dict[str, Any] = Field(default_factory=dict)

    @field_validator("cron")
    @classmethod
    def _cron_has_five_fields(cls, value: str) -> str:
        return check_cron(value)

    @field_validator("base_url")
    @classmethod
    def _real_url(cls, value: str | None) -> str | None:
        return None if value is None else check_base_url(value)


def check_cron(value: str) -> str:
    """A 5-field crontab the scheduler accepts (checked at load, not when `serve` starts)."""
    if len(value.split()) != 5:
        raise ValueError("must be a 5-field crontab such as '0 6 * * *'")
    from apscheduler.triggers.cron import CronTrigger

    try:
        CronTrigger.from_crontab(value, timezone="UTC")
    except ValueError as exc:
        raise ValueError(f"not a valid crontab {value!r}: {exc}") from exc
    return value


_HOST = re.compile(r"^([0-9a-f:.]+|[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?)$")


def check_base_url(value: str) -> str:
    """Refuse a documentation placeholder (``https://…``, ``<host>``) before it goes live."""
    text = value.strip()
    if not text:
        raise ValueError("empty; leave base_url out to switch the source off")
    if any(mark in text for mark in ("…", "...", "<", ">", "{", "}")):
        raise ValueError(
            f"{value!r} looks like a placeholder; put the real address of the source "
            "(or leave base_url out to switch the source off)"
        )
    parts = urlsplit(text)
    if parts.scheme in ("http", "https") and not _HOST.match(parts.hostname or ""):
        raise ValueError(f"{value!r} has no host name; e.g. 'https://www.cnipa.gov.cn/...'")
    return text


class Settings(BaseSettings):
    """Every setting of ipwarn. Defaults make `ipwarn run --once` work with no server at all."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        extra="forbid",
        validate_default=True,
        case_sensitive=False,
    )

    #: working directory for the embedded database, outbox, digests and quarantine
    data_dir: Path = Path("var")
    #: SQLAlchemy URL; default ``sqlite:///<data_dir>/ipwarn.db``; PostgreSQL: ``postgresql+psycopg://...``
    database_url: str | None = None
    timezone: str = "Asia/Shanghai"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["kv", "json"] = "kv"

    # --- mail -------------------------------------------------------------------------------
    smtp_host: str | None = None
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = False
    smtp_ssl: bool = False
    #: overall timeout for one SMTP send (aiosmtplib's own timeout is per socket operation)
    smtp_timeout_seconds: float = Field(default=60.0, gt=0)
    #: SMTP connections kept open and reused during one deliver run
    smtp_connections: int = Field(default=4, ge=1, le=32)
    mail_from: str = "ipwarn <ipwarn@localhost>"
    #: public base URL for links in mail (unsubscribe/mute); none: links are omitted
    public_base_url: str | None = None
    #: HMAC key signing the mute links in mail (env/secrets dir only); none: no mute link
    link_secret: SecretStr | None = None
    #: immediate alerts wait this long so that a burst goes out as one message
    group_window_minutes: float = Field(default=5.0, ge=0)
    #: one mail shows at most this many alert cards (one per document); the rest of the batch
    #: follows in the next mail, and the mail says how many more there are
    max_cards_per_mail: int = Field(default=50, ge=1, le=1000)
    daily_digest_time: str = "08:00"
    weekly_digest_day: Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"] = "mon"
    max_send_attempts: int = Field(default=8, ge=1)
    retry_base_seconds: float = Field(default=30.0, gt=0)
    outbox_stale_minutes: float = Field(default=60.0, gt=0)
    #: a retryable failure makes a row dead only once it has had ``max_send_attempts`` attempts
    #: *and* first became due this long ago (3 days), so that queue size and delivery cadence do
    #: not decide what survives a long outage
    outbox_max_age_hours: float = Field(default=72.0, ge=0)
    #: operators are told (once per outage) when the mail server has been unavailable this long
    smtp_outage_notice_minutes: float = Field(default=30.0, gt=0)
    operator_recipients: list[str] = Field(default_factory=list)
    #: operators are mailed once a source's last this many crawls all failed (once a day)
    source_failure_alert_after: int = Field(default=3, ge=1)

    # --- digest -----------------------------------------------------------------------------
    bureau_recipients: list[str] = Field(default_factory=list)
    reviewer_recipients: list[str] = Field(default_factory=list)
    #: cron for the weekly digest draft (Monday 08:00 in ``timezone``)
    digest_cron: str = "0 8 * * mon"
    #: indicator thresholds for warning levels; none: the packaged defaults
    digest_thresholds_file: Path | None = None
    local_regions: list[str] = Field(default_factory=lambda: ["鞍山", "辽宁"])

    # --- forecasts and indicators ------------------------------------------------------------
    #: at most this many series per forecast run get the ETS candidate (the largest first);
    #: an ETS fit costs about 0.1 s, the other candidates a millisecond or two
    forecast_max_ets_series: int = Field(default=100, ge=0)
    #: the strategy's indicator targets (YAML); none: the packaged targets
    indicator_targets_file: Path | None = None

    # --- classifier and rules ---------------------------------------------------------------
    #: directory of classifier artifacts; none: the artifact shipped in the package
    model_dir: Path | None = None
    rules_dir: Path | None = None

    # --- web console (`ipwarn web`) -----------------------------------------------------------
    #: a console session unused for this long ends (the user logs in again)
    web_session_idle_minutes: float = Field(default=30.0, gt=0)
    #: a console session ends this long after login, however active
    web_session_absolute_hours: float = Field(default=12.0, gt=0)
    #: failed logins per account within ``web_login_window_minutes`` before logins are refused
    web_login_max_failures: int = Field(default=5, ge=1)
    #: failed logins per client address within the window before that address is refused
    web_login_max_failures_per_address: int = Field(default=20, ge=1)
    web_login_window_minutes: float = Field(default=15.0, gt=0)

    #: classify stage: at most this many documents per run (newest first), this many per
    #: transaction; the match stage waits for a document's tags, so nothing is lost either way
    classify_limit: int = Field(default=20_000, ge=1)
    classify_batch: int = Field(default=1000, ge=1)

    # --- store and concurrency --------------------------------------------------------------
    #: SQLite: how long one attempt to take the write lock waits (the busy timeout)
    store_busy_timeout_seconds: float = Field(default=30.0, gt=0)
    #: SQLite: how long a transaction waits in all for the write lock before the command stops
    store_lock_wait_seconds: float = Field(default=600.0, gt=0)
    #: a crawled file whose transaction fails on a transient database error (lock, deadlock,
    #: lost connection) is retried this many times in all before the crawl reports it failed
    store_retry_attempts: int = Field(default=4, ge=1, le=20)
    #: a stage (or crawl source) another process is running: wait this long, then skip it
    stage_lock_wait_seconds: float = Field(default=1800.0, ge=0)

    # --- scheduler --------------------------------------------------------------------------
    pipeline_interval_minutes: float = Field(default=10.0, gt=0)
    deliver_interval_seconds: float = Field(default=60.0, gt=0)
    job_timeout_seconds: float = Field(default=3600.0, gt=0)
    misfire_grace_seconds: int = Field(default=3600, ge=1)
    #: how often the active scheduler checks that it still holds the leader lock (it also
    #: checks before every job); a lost lock stops its jobs within this time
    leader_check_seconds: float = Field(default=5.0, gt=0)
    #: a standby retries the lock every ``serve --poll-seconds``; after a database error it
    #: reconnects with exponential back-off up to this many seconds
    leader_retry_max_seconds: float = Field(default=60.0, gt=0)

    sources: dict[str, SourceConfig] = Field(default_factory=dict)

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown IANA time zone {value!r}, e.g. 'Asia/Shanghai'") from exc
        return value

    @field_validator("digest_cron")
    @classmethod
    def _digest_cron(cls, value: str) -> str:
        return check_cron(value)

    @field_validator("operator_recipients", "bureau_recipients", "reviewer_recipients")
    @classmethod
    def _addresses(cls, values: list[str]) -> list[str]:
        return check_recipients(values)

    @field_validator("mail_from")
    @classmethod
    def _mailbox(cls, value: str) -> str:
        return check_mailbox(value)

    @field_validator("daily_digest_time")
    @classmethod
    def _hh_mm(cls, value: str) -> str:
        hh, sep, mm = value.partition(":")
        if not (sep and hh.isdigit() and mm.isdigit() and int(hh) < 24 and int(mm) < 60):
            raise ValueError("must be HH:MM, e.g. '08:00'")
        return value

    @field_validator("database_url")
    @classmethod
    def _supported_url(cls, value: str | None) -> str | None:
        if value and not value.startswith(("sqlite", "postgresql")):
            raise ValueError("must start with 'sqlite:///' or 'postgresql+psycopg://'")
        if value and value.startswith("postgresql://"):
            return "postgresql+psycopg://" + value.removeprefix("postgresql://")
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        path = _config_path.get()
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        secrets_dir = os.environ.get(ENV_PREFIX + "SECRETS_DIR")
        if secrets_dir:
            from pydantic_settings import SecretsSettingsSource

            sources.append(SecretsSettingsSource(settings_cls, secrets_dir=secrets_dir))
        if path is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
        return tuple(sources)

    # --- derived values ---------------------------------------------------------------------
    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'ipwarn.db'}"

    @property
    def outbox_dir(self) -> Path:
        return self.data_dir / "outbox"

    @property
    def digest_dir(self) -> Path:
        return self.data_dir / "digests"

    @property
    def quarantine_dir(self) -> Path:
        return self.data_dir / "quarantine"

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def redacted(self) -> dict[str, Any]:
        """The effective settings as plain data with every secret masked, for `ipwarn config`."""
        data = self.model_dump(mode="json")
        data["effective_database_url"] = _mask_url(self.effective_database_url)
        if data.get("database_url"):
            data["database_url"] = _mask_url(data["database_url"])
        return data


def _mask_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "***"


def resolve_config_path(explicit: str | Path | None) -> Path | None:
    """``--config`` beats ``IPWARN_CONFIG`` beats ``./ipwarn.toml`` (used only if present)."""
    if explicit:
        return Path(explicit)
    env = os.environ.get(ENV_PREFIX + "CONFIG")
    if env:
        return Path(env)
    default = Path(DEFAULT_CONFIG_NAME)
    return default if default.is_file() else None


def _secret_keys_in(data: dict[str, Any], prefix: str = "") -> list[str]:
    found: list[str] = []
    for key, value in data.items():
        path = f"{prefix}{key}"
        if key in SECRET_FIELDS and value not in (None, ""):
            found.append(path)
        elif isinstance(value, dict):
            found.extend(_secret_keys_in(value, path + "."))
    return found


def _env_name(loc: tuple[Any, ...]) -> str:
    return ENV_PREFIX + "__".join(str(p) for p in loc).upper()


def load_settings(config: str | Path | None = None, **overrides: Any) -> Settings:
    """Load and validate settings, or raise :class:`ConfigError` with one line per bad field."""
    path = resolve_config_path(config)
    file_data: dict[str, Any] = {}
    if path is not None:
        if not path.is_file():
            raise ConfigError(
                [Problem(f"config file not found: {path}", field="--config")],
                hint="Pass an existing file with --config or IPWARN_CONFIG.",
            )
        try:
            file_data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError([Problem(f"not valid TOML: {exc}", file=str(path))]) from exc
        secrets = _secret_keys_in(file_data)
        if secrets:
            raise ConfigError(
                [
                    Problem(
                        "secrets are not read from the config file; set the environment "
                        f"variable {_env_name(tuple(s.split('.')))} or a file in IPWARN_SECRETS_DIR",
                        file=str(path),
                        field=s,
                    )
                    for s in secrets
                ]
            )
    token = _config_path.set(path)
    problems = _unknown_environment()
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        for err in exc.errors():
            loc = tuple(err["loc"])
            field = ".".join(str(p) for p in loc)
            origin = _origin(file_data, loc, path)
            msg = err["msg"]
            if err["type"] == "extra_forbidden":
                msg = "unknown setting" + _did_you_mean(str(loc[-1]), _known_fields(loc))
            problems.append(Problem(f"{msg} (from {origin})", field=field))
        raise ConfigError(problems, hint="Fix these settings and start again.") from exc
    finally:
        _config_path.reset(token)
    if problems:
        raise ConfigError(problems, hint="Fix these settings and start again.")
    return settings


#: IPWARN_* variables that are not settings (read elsewhere, or by the tests and benchmarks)
ENV_NOT_SETTINGS = frozenset({"CONFIG", "SECRETS_DIR", "CRAWL_JOB"})
ENV_FREE_PREFIXES = ("TEST_", "BENCH_")


def _unknown_environment() -> list[Problem]:
    """A misspelt top-level IPWARN_* variable is an error, as a misspelt nested one is."""
    fields = list(Settings.model_fields)
    problems = []
    for key in sorted(os.environ):
        if not key.upper().startswith(ENV_PREFIX):
            continue
        name = key[len(ENV_PREFIX) :]
        if name.upper() in ENV_NOT_SETTINGS or name.upper().startswith(ENV_FREE_PREFIXES):
            continue
        top = name.split("__", 1)[0].lower()
        if top not in fields:
            problems.append(
                Problem(
                    "unknown setting" + _did_you_mean(top, fields) + f" (from environment {key})",
                    field=top,
                )
            )
    return problems


def _origin(file_data: dict[str, Any], loc: tuple[Any, ...], path: Path | None) -> str:
    node: Any = file_data
    for part in loc:
        if isinstance(node, dict) and part in node:
            node = node[part]
        else:
            return f"environment {_env_name(loc)}" if _env_name(loc) in os.environ else "default"
    return str(path)


def _known_fields(loc: tuple[Any, ...]) -> list[str]:
    if len(loc) >= 3 and loc[0] == "sources":
        return list(SourceConfig.model_fields)
    return list(Settings.model_fields)


def _did_you_mean(name: str, candidates: list[str]) -> str:
    import difflib

    close = difflib.get_close_matches(name, candidates, n=1)
    return (
        f"; did you mean {close[0]!r}?" if close else f"; known settings: {', '.join(candidates)}"
    )
