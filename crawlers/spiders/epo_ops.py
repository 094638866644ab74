"""EPO Open Patent Services 3.2: bibliographic data and INPADOC legal events.

OAuth2 client credentials (``client_id`` + ``IPWARN_SOURCES__EPO_OPS__CLIENT_SECRET``) buy a
bearer token at ``/3.2/auth/accesstoken``; an expired token is renewed once. The documents come
from a CQL search (``options.query``, plus ``pd>=`` with ``--since``) or a fixed list
(``options.numbers``, docdb ``CC.NUMBER.KIND``). Each request names its OPS service so that
:class:`crawlers.middlewares.OpsThrottleMiddleware` can pace it by the throttling header.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import quote

import scrapy
from lxml import etree
from scrapy.http import Response

from crawlers.parsers.common import clean
from crawlers.parsers.epo_ops import NS
from crawlers.spiders.base import BulletinSpider
from warning.errors import ConfigError, Problem

AUTH_FAILED = (400, 401)
PAGE = 100


class EpoOpsSpider(BulletinSpider):
    name = "epo_ops"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.token: str | None = None
        #: requests waiting for the token renewal in flight (one renewal for all of them)
        self.waiting: list[scrapy.Request] | None = None
        self.api = self.job.base_url.rstrip("/") + "/3.2"

    async def start(self) -> AsyncIterator[Any]:
        self.load_fetch_state()
        yield self.token_request(then=None)

    # --- authentication -----------------------------------------------------------------------

    def token_request(self, then: scrapy.Request | None) -> scrapy.Request:
        client_id = self.job.credentials.get("client_id", "")
        secret = self.job.credentials.get("client_secret", "")
        if not client_id or not secret:
            raise ConfigError(
                [
                    Problem(
                        "EPO OPS needs client_id and IPWARN_SOURCES__EPO_OPS__CLIENT_SECRET",
                        field=f"sources.{self.job.source}.client_id",
                    )
                ]
            )
        basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode("ascii")
        return scrapy.Request(
            f"{self.api}/auth/accesstoken",
            method="POST",
            body="grant_type=client_credentials",
            headers={
                "Authorization": f"Basic {basic}",
                "Content-Type": "application/x-www-form-urlencoded",
            },
            callback=self.on_token,
            errback=self.on_error,
            dont_filter=True,
            meta={"then": then, "ops_service": "other"},
        )

    def on_token(self, response: Response) -> Iterator[Any]:
        try:
            self.token = str(json.loads(response.body)["access_token"])
        except (ValueError, KeyError) as exc:
            self.logger.error("OPS token endpoint answered without a token: %s", exc)
            return
        waiting, self.waiting = self.waiting or [], None
        for request in waiting:
            yield self.with_token(request.replace(meta={**request.meta, "auth_renewed": True}))
        if response.meta.get("then") is None:
            yield from self.first_requests()

    def with_token(self, request: scrapy.Request) -> scrapy.Request:
        headers = dict(request.headers.to_unicode_dict())
        headers["Authorization"] = f"Bearer {self.token}"
        return request.replace(headers=headers, dont_filter=True)

    def ops_request(self, path: str, service: str, callback: Any, **meta: Any) -> scrapy.Request:
        request = self.file_request(f"{self.api}/rest-services/{path}", fmt="epo-ops")
        statuses = [*request.meta["handle_httpstatus_list"], *AUTH_FAILED]
        return self.with_token(
            request.replace(
                callback=callback,
                meta={
                    **request.meta,
                    **meta,
                    "handle_httpstatus_list": statuses,
                    "ops_service": service,
                },
            )
        )

    def auth_expired(self, response: Response) -> bool:
        return response.status in AUTH_FAILED and not response.meta.get("auth_renewed")

    def renew_token(self, failed: scrapy.Request) -> Iterator[scrapy.Request]:
        """Queue ``failed`` for a retry with a fresh token; only the first one asks for it."""
        sent = (failed.headers.get("Authorization") or b"").decode("latin-1")
        if self.token and sent != f"Bearer {self.token}":  # renewed meanwhile: just retry
            yield self.with_token(failed.replace(meta={**failed.meta, "auth_renewed": True}))
            return
        if self.waiting is not None:
            self.waiting.append(failed)
            return
        self.waiting = [failed]
        yield self.token_request(then=failed)

    # --- documents ----------------------------------------------------------------------------

    def first_requests(self) -> Iterator[scrapy.Request]:
        numbers = self.job.options.get("numbers") or []
        if numbers:
            for number in numbers:
                yield from self.document_requests(str(number))
            return
        query = str(self.job.options.get("query", "")).strip()
        if not query:
            raise ConfigError(
                [
                    Problem(
                        "set options.query (CQL) or options.numbers",
                        field=f"sources.{self.job.source}.options",
                    )
                ]
            )
        if self.job.since is not None:
            query = f"({query}) and pd>={self.job.since:%Y%m%d}"
        yield self.search_request(query, 1)

    def search_request(self, query: str, first: int) -> scrapy.Request:
        path = f"published-data/search?q={quote(query)}&Range={first}-{first + PAGE - 1}"
        return self.ops_request(path, "search", self.on_search, query=query, first=first)

    def on_search(self, response: Response) -> Iterator[Any]:
        if self.auth_expired(response):
            assert response.request is not None
            yield from self.renew_token(response.request)
            return
        if response.status != 200:
            self.logger.error("OPS search failed: HTTP %d", response.status)
            return
        root = etree.fromstring(
            response.body, etree.XMLParser(resolve_entities=False, no_network=True)
        )
        refs = root.findall(".//ops:search-result/ops:publication-reference/ex:document-id", NS)
        for ref in refs:
            country = clean(ref.findtext("ex:country", namespaces=NS))
            number = clean(ref.findtext("ex:doc-number", namespaces=NS))
            kind = clean(ref.findtext("ex:kind", namespaces=NS))
            if country and number and kind:
                yield from self.document_requests(f"{country}.{number}.{kind}")
        total_text = root.find(".//ops:biblio-search", NS)
        total = int(total_text.get("total-result-count", "0")) if total_text is not None else 0
        first = int(response.meta["first"])
        limit = int(self.job.options.get("max_results", 500))
        if refs and first + PAGE <= min(total, limit):
            yield self.search_request(response.meta["query"], first + PAGE)

    def document_requests(self, docdb: str) -> Iterator[scrapy.Request]:
        yield self.ops_request(
            f"published-data/publication/docdb/{docdb}/biblio", "retrieval", self.on_document
        )
        yield self.ops_request(f"legal/publication/docdb/{docdb}", "inpadoc", self.on_document)

    def on_document(self, response: Response) -> Iterator[Any]:
        if self.auth_expired(response):
            assert response.request is not None
            yield from self.renew_token(response.request)
            return
        if response.status in AUTH_FAILED:
            self.logger.error(
                "OPS refused %s after a fresh token: HTTP %d", response.url, response.status
            )
            return
        yield from self.file_batch(response, "epo-ops")
