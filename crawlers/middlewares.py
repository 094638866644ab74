"""Downloader middleware that paces EPO OPS requests by its throttling header.

OPS answers every call with ``X-Throttling-Control: busy (images=green:200, inpadoc=green:60,
other=green:1000, retrieval=green:200, search=green:30)``: per service a traffic light and the
requests per minute still allowed. Each service gets its own download slot whose delay is set to
``60 / allowed`` (doubled on red, one minute on black, doubled again when the system says
``overloaded``), so the crawl slows down before OPS starts refusing it.
"""

from __future__ import annotations

import re
from typing import Any

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.http import Response

HEADER = b"X-Throttling-Control"
_SERVICE = re.compile(r"(\w+)=(green|yellow|red|black):(\d+)")
BLACK_DELAY = 60.0


def throttle_delays(header: str) -> dict[str, float]:
    """Seconds to wait between requests per OPS service, from one throttling header."""
    overloaded = header.strip().lower().startswith("overloaded")
    delays: dict[str, float] = {}
    for service, colour, allowed in _SERVICE.findall(header):
        per_minute = max(int(allowed), 1)
        delay = 60.0 / per_minute
        if colour == "red":
            delay *= 2
        elif colour == "black":
            delay = BLACK_DELAY
        if overloaded:
            delay *= 2
        delays[service] = delay
    return delays


class OpsThrottleMiddleware:
    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> OpsThrottleMiddleware:
        return cls(crawler)

    def process_request(self, request: Request) -> None:
        service = request.meta.get("ops_service")
        if service:
            request.meta.setdefault("download_slot", f"ops-{service}")
            # the header sets this slot's pace; AutoThrottle must not undo it
            request.meta["autothrottle_dont_adjust_delay"] = True

    def process_response(self, request: Request, response: Response) -> Response:
        header = response.headers.get(HEADER)
        if not header:
            return response
        floor = float(getattr(getattr(self.crawler.spider, "job", None), "download_delay", 0.0))
        stats = self.crawler.stats
        assert stats is not None
        engine: Any = self.crawler.engine
        slots = engine.downloader.slots if engine is not None else {}
        for service, delay in throttle_delays(header.decode("latin-1")).items():
            slot = slots.get(f"ops-{service}")
            if slot is not None:
                slot.delay = max(floor, delay)
            stats.max_value(f"ipwarn/ops_delay_ms/{service}", int(delay * 1000))
        return response
