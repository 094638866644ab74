"""A loopback HTTP server playing CNIPA, USPTO and EPO OPS for the crawler tests.

Everything it serves is built from ``tests/fixtures/crawl`` (real documents). Paths live under
``/t/<token>/`` so that each test has its own state (the "500 then success" counter, the first
OPS token that expires); ``/robots.txt`` and ``/private/`` sit at the root.
"""

from __future__ import annotations

import base64
import email.utils
import hashlib
import io
import json
import sys
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

FIXTURES = Path(__file__).parent / "fixtures" / "crawl"
SAMPLES = Path(__file__).parent.parent / "crawlers" / "samples"
OPS_CLIENT = ("ipwarn-test", "s3cret")
THROTTLE = "busy (images=green:200, inpadoc=yellow:600, other=green:1000, retrieval=green:600, search=green:600)"
LAST_MODIFIED = email.utils.formatdate(1_700_000_000, usegmt=True)


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def concatenated(*names: str) -> bytes:
    """A USPTO weekly file: documents one after the other, each with its own declaration."""
    return b"".join(fixture(n).rstrip(b"\r\n") + b"\n" for n in names)


def zipped(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buf.getvalue()


def index_page(links: list[str]) -> bytes:
    items = "".join(f'<li><a href="{href}">{href}</a></li>' for href in links)
    return f"<!DOCTYPE html><html><body><ul>{items}</ul></body></html>".encode()


USPTO_WEEK = ("US20050004437A1.xml", "us_app_v44_example3.xml", "US06859910.xml")
CN_PACKAGE = ("cn_old1.xml", "cn_old3.xml", "cn_new2.xml")
TRANSACTIONS = (
    "公开公告号,申请号,法律状态公告日,法律状态代码,法律状态,法律状态信息\n"
    "CN104223352A,201410408762.5,2026.10.09,TR01,专利权的转移,"
    "变更前权利人：云南中烟工业有限责任公司 变更后权利人：鞍钢股份有限公司\n"
    "CN104245682A,,2026.10.16,CF01,专利权的终止,未缴年费专利权终止\n"
).encode()


def search_result(docdb: list[tuple[str, str, str]]) -> bytes:
    refs = "".join(
        f'<ops:publication-reference><document-id document-id-type="docdb"><country>{c}</country>'
        f"<doc-number>{n}</doc-number><kind>{k}</kind></document-id></ops:publication-reference>"
        for c, n, k in docdb
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><ops:world-patent-data xmlns="http://www.epo.org/exchange" '
        f'xmlns:ops="http://ops.epo.org"><ops:biblio-search total-result-count="{len(docdb)}"><ops:search-result>{refs}'
        "</ops:search-result></ops:biblio-search></ops:world-patent-data>"
    ).encode()


@dataclass
class Hit:
    method: str
    path: str
    headers: dict[str, str]
    status: int
    at: float


@dataclass
class LoopbackServer:
    base: str
    hits: list[Hit] = field(default_factory=list)
    counters: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    stopping: threading.Event = field(default_factory=threading.Event)

    def url(self, token: str, path: str) -> str:
        return f"{self.base}/t/{token}/{path.lstrip('/')}"

    def hits_for(self, token: str) -> list[Hit]:
        prefix = f"/t/{token}/"
        return [h for h in self.hits if h.path.startswith(prefix) or not h.path.startswith("/t/")]

    def bump(self, key: str) -> int:
        with self.lock:
            self.counters[key] = self.counters.get(key, 0) + 1
            return self.counters[key]


Reply = tuple[int, dict[str, str], bytes]


def _static(data: bytes, content_type: str) -> Callable[[BaseHTTPRequestHandler, str], Reply]:
    etag = f'"{hashlib.sha1(data).hexdigest()[:16]}"'

    def serve(handler: BaseHTTPRequestHandler, _key: str) -> Reply:
        headers = {"Content-Type": content_type, "ETag": etag, "Last-Modified": LAST_MODIFIED}
        if handler.headers.get("If-None-Match") == etag:
            return 304, headers, b""
        return 200, headers, data

    return serve


def build_routes(
    server: LoopbackServer,
) -> dict[str, Callable[[BaseHTTPRequestHandler, str], Reply]]:
    xml, html = "application/xml", "text/html"
    gazette_p1 = (SAMPLES / "gazette_p1.html").read_bytes()
    routes: dict[str, Callable[[BaseHTTPRequestHandler, str], Reply]] = {
        "uspto/": _static(
            index_page(
                [
                    "ipa_week.xml",
                    "ipg_week.zip",
                    f"{server.base}/private/secret.xml",
                    "http://example.invalid/elsewhere.xml",
                    "readme.pdf",
                ]
            ),
            html,
        ),
        "uspto/ipa_week.xml": _static(concatenated(*USPTO_WEEK[:2]), xml),
        "uspto/ipg_week.zip": _static(
            zipped({"ipg_week.xml": concatenated(USPTO_WEEK[2], "US07272630B2.xml")}),
            "application/zip",
        ),
        "cnipa/": _static(
            index_page(
                ["package.zip", "broken/truncated.xml", "flaky/transactions.csv", "loop/a.xml"]
            ),
            html,
        ),
        "cnipa/package.zip": _static(
            zipped({f"CN/XML/{n}": fixture(n) for n in CN_PACKAGE}), "application/zip"
        ),
        "cnipa/broken/truncated.xml": _static(fixture("truncated_cn_old4.xml"), xml),
        "gazette/gazette_p1.html": _static(gazette_p1, "text/html; charset=utf-8"),
        "gazette/gazette_p2.html": _static(fixture("gazette_page_gb18030.html"), html),
        "epo/3.2/rest-services/published-data/publication/docdb/AU.2013290010.A1/biblio": _static(
            fixture("published_biblio_example_3.xml"), xml
        ),
        "epo/3.2/rest-services/legal/publication/docdb/AU.2013290010.A1": _static(
            fixture("legal_example_3.xml"), xml
        ),
        "epo/3.2/rest-services/published-data/search": _static(
            search_result([("AU", "2013290010", "A1")]), xml
        ),
    }
    flaky = _static(TRANSACTIONS, "text/csv; charset=utf-8")

    def flaky_then_ok(handler: BaseHTTPRequestHandler, key: str) -> Reply:
        if server.bump(key) == 1:
            return 500, {"Content-Type": "text/plain"}, b"temporarily broken"
        return flaky(handler, key)

    def loop(handler: BaseHTTPRequestHandler, key: str) -> Reply:
        target = "b.xml" if key.endswith("a.xml") else "a.xml"
        return 302, {"Location": target}, b""

    def slow(handler: BaseHTTPRequestHandler, key: str) -> Reply:
        server.stopping.wait(30)  # longer than any download timeout; ends with the server
        return 200, {"Content-Type": xml}, b""

    routes["cnipa/flaky/transactions.csv"] = flaky_then_ok
    routes["cnipa/loop/a.xml"] = loop
    routes["cnipa/loop/b.xml"] = loop
    routes["slow/"] = _static(index_page(["../cnipa/package.zip", "hang.xml"]), html)
    routes["slow/hang.xml"] = slow
    return routes


def ops_auth(
    handler: BaseHTTPRequestHandler, server: LoopbackServer, token_scope: str
) -> Reply | None:
    """Token endpoint and bearer check: the first token of a test expires after one use."""
    path = urlsplit(handler.path).path
    if path.endswith("/3.2/auth/accesstoken"):
        expected = "Basic " + base64.b64encode(":".join(OPS_CLIENT).encode()).decode()
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length).decode()
        if (
            handler.headers.get("Authorization") != expected
            or "grant_type=client_credentials" not in body
        ):
            return 401, {"Content-Type": "application/json"}, b'{"error":"invalid_client"}'
        number = server.bump(f"{token_scope}:tokens")
        token = f"{token_scope}-token-{number}"
        return (
            200,
            {"Content-Type": "application/json"},
            json.dumps(
                {"access_token": token, "token_type": "BearerToken", "expires_in": "1199"}
            ).encode(),
        )
    auth = handler.headers.get("Authorization", "")
    first = f"Bearer {token_scope}-token-1"
    if auth == first and server.bump(f"{token_scope}:first-uses") > 1:
        return (
            400,
            {"Content-Type": "application/xml"},
            b"<error><code>invalid_access_token</code></error>",
        )
    if not auth.startswith(f"Bearer {token_scope}-token-"):
        return 401, {"Content-Type": "application/xml"}, b"<error>no token</error>"
    return None


class QuietHTTPServer(ThreadingHTTPServer):
    """A client hanging up (the crawler's download timeout on ``slow/``) is expected here.

    The default ``handle_error`` prints the traceback to whatever ``sys.stderr`` is at that
    moment, which in a later test may be a ``CliRunner`` capturing a command's JSON output.
    """

    def handle_error(self, request: object, client_address: object) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)  # type: ignore[arg-type]


def start_server() -> tuple[LoopbackServer, ThreadingHTTPServer]:
    httpd = QuietHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    state = LoopbackServer(base=f"http://127.0.0.1:{httpd.server_address[1]}")
    routes = build_routes(state)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            return

        def _reply(self) -> None:
            path = urlsplit(self.path).path
            status, headers, body = self._route(path)
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
            state.hits.append(
                Hit(self.command, path, dict(self.headers.items()), status, time.monotonic())
            )

        def _route(self, path: str) -> Reply:
            if path == "/robots.txt":
                return 200, {"Content-Type": "text/plain"}, b"User-agent: *\nDisallow: /private/\n"
            if path.startswith("/private/"):
                return 200, {"Content-Type": "application/xml"}, fixture("cn_old1.xml")
            parts = path.split("/", 3)
            if len(parts) < 4 or parts[1] != "t":
                return 404, {}, b"not found"
            token, rest = parts[2], parts[3]
            if rest.startswith("epo/"):
                denied = ops_auth(self, state, token)
                if denied is not None:
                    return denied
            handler = routes.get(rest)
            if handler is None:
                return 404, {"Content-Type": "text/plain"}, b"not found"
            status, headers, body = handler(self, path)
            if rest.startswith("epo/"):
                headers = {**headers, "X-Throttling-Control": THROTTLE}
            return status, headers, body

        do_GET = _reply
        do_POST = _reply
        do_HEAD = _reply

    httpd.RequestHandlerClass = Handler
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    return state, httpd


def serving() -> Iterator[LoopbackServer]:
    """The loopback server for the length of a fixture (``yield from serving()``)."""
    state, httpd = start_server()
    try:
        yield state
    finally:
        state.stopping.set()
        httpd.shutdown()
        httpd.server_close()
