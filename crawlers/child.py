"""The crawl subprocess: ``python -m crawlers.child`` runs one spider in the Scrapy engine.

Reads the job from ``IPWARN_CRAWL_JOB`` and the database from ``IPWARN_DATABASE_URL``, crawls,
and prints one JSON line of statistics on stdout for the parent. Running each crawl in its own
process gives every crawl a fresh Twisted reactor and lets the parent enforce a hard timeout.
"""

from __future__ import annotations

import json
import sys
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from crawlers.job import CrawlJob
from warning.lifeline import die_with_parent

SPIDERS = {
    "bulk": "crawlers.spiders.bulk:BulkSpider",
    "gazette": "crawlers.spiders.gazette:GazetteSpider",
    "epo_ops": "crawlers.spiders.epo_ops:EpoOpsSpider",
    "inbox": "crawlers.spiders.inbox:InboxSpider",
}
STATS_PREFIX = "IPWARN_STATS "


def user_agent() -> str:
    try:
        release = version("ipwarn")
    except PackageNotFoundError:
        release = "dev"
    return (
        f"ipwarn/{release} (patent early-warning service of a city IP bureau; polite bulk crawler)"
    )


def scrapy_settings(job: CrawlJob) -> dict[str, Any]:
    """Polite, quiet, self-contained Scrapy settings for one source."""
    settings: dict[str, Any] = {
        "BOT_NAME": "ipwarn",
        "USER_AGENT": job.user_agent or user_agent(),
        "ROBOTSTXT_OBEY": True,
        "AUTOTHROTTLE_ENABLED": True,
        "AUTOTHROTTLE_START_DELAY": max(job.download_delay, 0.1),
        "AUTOTHROTTLE_MAX_DELAY": 60.0,
        "AUTOTHROTTLE_TARGET_CONCURRENCY": float(job.concurrency),
        "DOWNLOAD_DELAY": job.download_delay,
        "CONCURRENT_REQUESTS": job.concurrency,
        "CONCURRENT_REQUESTS_PER_DOMAIN": job.concurrency,
        "COOKIES_ENABLED": False,
        "TELNETCONSOLE_ENABLED": False,
        "REMOTE_CONTROL_ENABLED": False,
        "RETRY_ENABLED": True,
        "RETRY_TIMES": int(job.options.get("retry_times", 3)),
        "REDIRECT_MAX_TIMES": 5,
        "DOWNLOAD_TIMEOUT": float(job.options.get("download_timeout", 300)),
        "DOWNLOAD_MAXSIZE": 2 << 30,
        "DOWNLOAD_WARNSIZE": 512 << 20,
        "ITEM_PIPELINES": {"crawlers.pipelines.StorePipeline": 300},
        "DOWNLOADER_MIDDLEWARES": {"crawlers.middlewares.OpsThrottleMiddleware": 560},
        "LOG_LEVEL": job.log_level,
        "LOG_FILE": job.log_file,
        "LOG_FILE_APPEND": True,
    }
    if job.log_file is None:
        settings.pop("LOG_FILE")
    if job.kind == "inbox":
        # local files: no server to be polite to, so no delay between them (1 s a file before)
        settings |= {"DOWNLOAD_DELAY": 0.0, "AUTOTHROTTLE_ENABLED": False, "ROBOTSTXT_OBEY": False}
    return settings


def _spider_class(kind: str) -> type:
    module_name, _, attr = SPIDERS[kind].partition(":")
    module = __import__(module_name, fromlist=[attr])
    spider: type = getattr(module, attr)
    return spider


def run(job: CrawlJob) -> dict[str, Any]:
    """Crawl one source in this process; return the crawler's statistics."""
    from scrapy.crawler import CrawlerProcess

    process = CrawlerProcess(settings=scrapy_settings(job), install_root_handler=True)
    crawler = process.create_crawler(_spider_class(job.kind))
    process.crawl(crawler, job=job)
    process.start()
    assert crawler.stats is not None
    stats = crawler.stats.get_stats()
    return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in stats.items()}


def main() -> int:
    die_with_parent()
    job = CrawlJob.from_env()
    stats = run(job)
    sys.stdout.write(STATS_PREFIX + json.dumps(stats, default=str) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
