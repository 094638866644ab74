"""Every relative link and anchor in README.md and docs/*.md resolves; documented TOML is safe.

Links are read with markdown-it-py (CommonMark: links in code spans and code blocks are not
links), heading anchors with GitHub's slug rule (mdit-py-plugins' anchors plugin mimics it), so
what is checked is what a reader clicking on GitHub gets.
"""

from __future__ import annotations

import os
import tomllib
from functools import cache
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from markdown_it import MarkdownIt
from markdown_it.token import Token
from mdit_py_plugins.anchors import anchors_plugin

ROOT = Path(__file__).resolve().parent.parent
PAGES = sorted([ROOT / "README.md", *(ROOT / "docs").glob("*.md")])


def _parser() -> MarkdownIt:
    return MarkdownIt("commonmark").enable("table").use(anchors_plugin, min_level=1, max_level=6)


def _walk(tokens: list[Token]) -> list[Token]:
    out = []
    for token in tokens:
        out.append(token)
        if token.children:
            out.extend(_walk(token.children))
    return out


@cache
def _tokens(page: Path) -> tuple[Token, ...]:
    return tuple(_walk(_parser().parse(page.read_text(encoding="utf-8"))))


@cache
def anchors(page: Path) -> frozenset[str]:
    return frozenset(
        str(t.attrGet("id")) for t in _tokens(page) if t.type == "heading_open" and t.attrGet("id")
    )


def links(page: Path) -> list[tuple[int, str]]:
    found = []
    line = 0
    for token in _tokens(page):
        if token.map:
            line = token.map[0] + 1
        if token.type == "link_open":
            found.append((line, str(token.attrGet("href"))))
        elif token.type == "image":
            found.append((line, str(token.attrGet("src"))))
    return found


def broken_links(page: Path, root: Path = ROOT) -> list[str]:
    """``FILE:LINE: href: why`` for every relative link that does not resolve."""
    problems = []
    for line, href in links(page):
        parts = urlsplit(href)
        if parts.scheme or parts.netloc:  # external: not checked (no network here)
            continue
        where = f"{page.relative_to(root)}:{line}: {href}"
        target = (page.parent / unquote(parts.path)).resolve() if parts.path else page
        if not target.exists():
            problems.append(f"{where}: no such file {os.path.relpath(target, root)}")
            continue
        if parts.fragment:
            if target.suffix != ".md":
                problems.append(f"{where}: anchor into a non-Markdown file")
            elif unquote(parts.fragment) not in anchors(target):
                problems.append(f"{where}: no heading #{parts.fragment} in {target.name}")
    return problems


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(ROOT)) for p in PAGES])
def test_relative_links_and_anchors_resolve(page: Path) -> None:
    assert broken_links(page) == []


def test_the_checker_catches_a_broken_file_anchor_and_link(tmp_path: Path) -> None:
    """The checker itself: a page with one good and three bad links."""
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.md").write_text("# 运维 Operations\n\n## Back-ups (daily)\n", encoding="utf-8")
    page = docs / "b.md"
    page.write_text(
        "[ok](a.md#back-ups-daily) [zh](a.md#运维-operations) [gone](c.md) "
        "[bad anchor](a.md#backups) [self](#nowhere) `[code](x.md)` [ext](https://example.cn/x)\n",
        encoding="utf-8",
    )
    problems = broken_links(page, root=tmp_path)
    assert [p.split(": ")[1] for p in problems] == ["c.md", "a.md#backups", "#nowhere"]


def _toml_blocks(page: Path) -> list[tuple[int, str]]:
    return [
        ((t.map[0] + 1) if t.map else 0, t.content)
        for t in _tokens(page)
        if t.type == "fence" and t.info.strip() == "toml"
    ]


def _live_placeholder_sources(text: str) -> list[str]:
    sources = tomllib.loads(text).get("sources", {})
    bad = []
    for name, spec in sources.items():
        url = str(spec.get("base_url") or "")
        if not url or spec.get("enabled") is False:
            continue
        host = urlsplit(url).hostname
        placeholder = any(mark in url for mark in ("…", "...", "<", ">", "example"))
        if placeholder or (not host and not url.startswith("file:///")):
            bad.append(f"{name}: {url}")
    return bad


TOML_PAGES = [p for p in PAGES if _toml_blocks(p)] + [ROOT / "docs" / "ipwarn.example.toml"]


@pytest.mark.parametrize("page", TOML_PAGES, ids=[str(p.relative_to(ROOT)) for p in TOML_PAGES])
def test_copying_documented_toml_never_switches_on_a_placeholder_source(page: Path) -> None:
    blocks = (
        [(1, page.read_text(encoding="utf-8"))] if page.suffix == ".toml" else _toml_blocks(page)
    )
    for line, text in blocks:
        assert _live_placeholder_sources(text) == [], f"{page.relative_to(ROOT)}:{line}"
