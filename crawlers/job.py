"""The crawl job handed from the parent process to the spider subprocess.

It travels in the environment (``IPWARN_CRAWL_JOB``, JSON), not on the command line, because it
carries the source's credentials; the database URL travels in ``IPWARN_DATABASE_URL``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import dataclass, field
from typing import Any

from warning.config import SourceConfig
from warning.errors import ConfigError, Problem

JOB_ENV = "IPWARN_CRAWL_JOB"
DATABASE_ENV = "IPWARN_DATABASE_URL"

#: spider kind per well-known source name; other names set ``options.spider``
SOURCE_KINDS: dict[str, str] = {
    "cnipa_bulk": "bulk",
    "cnipa_xml": "bulk",
    "uspto": "bulk",
    "uspto_bulk": "bulk",
    "cnipa_transactions": "bulk",
    "cn_transactions": "bulk",
    "cnipa_gazette": "gazette",
    "gazette": "gazette",
    "epo_ops": "epo_ops",
    "inbox": "inbox",
}
SPIDER_KINDS = ("bulk", "gazette", "epo_ops", "inbox")


def spider_kind(name: str, config: SourceConfig) -> str:
    """Which spider crawls source ``name``: ``options.spider`` or the well-known name."""
    kind = config.options.get("spider") or SOURCE_KINDS.get(name)
    if kind not in SPIDER_KINDS:
        raise ConfigError(
            [
                Problem(
                    f"unknown source kind; name the source one of {sorted(SOURCE_KINDS)} "
                    f"or set options.spider to one of {list(SPIDER_KINDS)}",
                    field=f"sources.{name}.options.spider",
                )
            ]
        )
    return str(kind)


@dataclass
class CrawlJob:
    source: str
    kind: str
    base_url: str
    run_id: int | None = None
    since: dt.date | None = None
    #: ignore stored ETag/Last-Modified/content hashes and parse everything again
    full: bool = False
    concurrency: int = 2
    download_delay: float = 1.0
    timeout_seconds: float = 1800.0
    log_file: str | None = None
    log_level: str = "INFO"
    user_agent: str = ""
    credentials: dict[str, str] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_source(cls, name: str, config: SourceConfig, **extra: Any) -> CrawlJob:
        if not config.base_url:
            raise ConfigError(
                [
                    Problem(
                        "no base_url: the source is switched off", field=f"sources.{name}.base_url"
                    )
                ]
            )
        credentials = {
            key: secret.get_secret_value()
            for key, secret in (
                ("password", config.password),
                ("client_secret", config.client_secret),
                ("api_key", config.api_key),
            )
            if secret is not None
        }
        if config.username:
            credentials["username"] = config.username
        if config.client_id:
            credentials["client_id"] = config.client_id
        return cls(
            source=name,
            kind=spider_kind(name, config),
            base_url=config.base_url,
            concurrency=config.concurrency,
            download_delay=config.download_delay,
            timeout_seconds=config.timeout_seconds,
            credentials=credentials,
            options={k: v for k, v in config.options.items() if k != "spider"},
            **extra,
        )

    def check(self) -> None:
        """Fail in the parent, naming the setting, before a subprocess is started."""
        where = f"sources.{self.source}"
        if self.kind == "epo_ops":
            if not (self.credentials.get("client_id") and self.credentials.get("client_secret")):
                secret = f"IPWARN_SOURCES__{self.source.upper()}__CLIENT_SECRET"
                raise ConfigError(
                    [Problem(f"EPO OPS needs client_id and {secret}", field=f"{where}.client_id")]
                )
            if not (self.options.get("query") or self.options.get("numbers")):
                raise ConfigError(
                    [
                        Problem(
                            "set options.query (CQL) or options.numbers", field=f"{where}.options"
                        )
                    ]
                )
        if self.kind == "inbox":
            from crawlers.localfiles import inbox_directory

            inbox_directory(self.base_url, self.source)
        elif not self.base_url.startswith(("http://", "https://")):
            raise ConfigError([Problem("must be an http(s) URL", field=f"{where}.base_url")])

    def to_env(self) -> str:
        data = self.__dict__ | {"since": self.since.isoformat() if self.since else None}
        return json.dumps(data, ensure_ascii=False)

    @classmethod
    def from_env(cls) -> CrawlJob:
        raw = os.environ.get(JOB_ENV)
        if not raw:
            raise ConfigError([Problem("missing crawl job", field=JOB_ENV)])
        data = json.loads(raw)
        data["since"] = dt.date.fromisoformat(data["since"]) if data.get("since") else None
        return cls(**data)
