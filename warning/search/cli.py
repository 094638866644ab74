"""`ipwarn search`, `ipwarn screen` and `ipwarn search-index`: look the store up, screen a
product description or patent for risk, and maintain the full-text index."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import click

from rules.query import QuerySyntaxError
from warning.app import App
from warning.dates import within_range
from warning.errors import InputError, Problem, writing_to
from warning.legal_status import STATUS_ZH, STATUSES
from warning.search.highlight import highlight_terminal
from warning.search.service import KINDS, OFFICES, SORTS, Hit, SearchFilters
from warning.search.service import search as run_search
from warning.timefmt import local_today

DATE = click.DateTime(formats=["%Y-%m-%d"])


def query_error(exc: QuerySyntaxError) -> InputError:
    return InputError([Problem(str(exc), field="query")], hint="Syntax: see docs/search.md.")


def _bold(text: str) -> str:
    return click.style(text, bold=True, fg="yellow")


def _status_text(hit: Hit) -> str:
    st = hit.legal_status
    text = STATUS_ZH[st.status] + f" ({st.status})"
    if st.event or st.date:
        text += f" {st.event or 'term'} {st.date}"
    return text


def print_hit(rank: int, hit: Hit, extra: str = "") -> None:
    click.echo(
        f"{rank:>3}. {hit.number}  {highlight_terminal(hit.title, hit.matched_terms, _bold)}"
    )
    click.echo(
        f"     {highlight_terminal('; '.join(hit.applicants), hit.matched_terms, _bold) or '—'}"
        f" | IPC {' '.join(hit.ipc[:3]) or '—'} | {', '.join(hit.sectors) or '—'}"
        f" | {hit.publication_date or '—'}"
    )
    click.echo(
        f"     status: {_status_text(hit)} | score {hit.score:.3f}"
        f" | matched: {', '.join(hit.matched_terms) or '—'}{extra}"
    )


@click.command()
@click.argument("query")
@click.option("--sector", default=None, help="Sector id (steel, equipment, ...).")
@click.option("--subfield", default=None, help="Sub-field, e.g. steel.silicon_steel.")
@click.option("--ipc", default=None, metavar="PREFIX", help="IPC prefix, e.g. C21D8.")
@click.option("--applicant", default=None, metavar="NAME", help="Applicant name (part of it).")
@click.option("--office", type=click.Choice(OFFICES, case_sensitive=False), default=None)
@click.option("--kind", type=click.Choice(KINDS, case_sensitive=False), default=None)
@click.option("--since", type=DATE, default=None, help="Published on or after (YYYY-MM-DD).")
@click.option("--until", type=DATE, default=None, help="Published on or before (YYYY-MM-DD).")
@click.option("--status", type=click.Choice(STATUSES), default=None, help="Legal status.")
@click.option("--sort", type=click.Choice(SORTS), default="relevance", show_default=True)
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_obj
def search(
    app: App,
    query: str,
    since: dt.datetime | None,
    until: dt.datetime | None,
    sort: str,
    limit: int,
    as_json: bool,
    **options: Any,
) -> None:
    """Search the stored documents: QUERY in the rules' syntax (AND OR NOT, ( ), "phrases")."""
    filters = SearchFilters(
        since=within_range(since.date(), "--since") if since else None,
        until=within_range(until.date(), "--until") if until else None,
        **options,
    )
    try:
        result = run_search(
            app.store, query, filters, limit=limit, sort=sort, today=local_today(app.settings.tz)
        )
    except QuerySyntaxError as exc:
        raise query_error(exc) from exc
    if as_json:
        click.echo(json.dumps(result.as_json(), ensure_ascii=False, indent=2))
        return
    click.echo(f"{result.total} documents match; showing {len(result.hits)} by {sort}")
    for i, hit in enumerate(result.hits, 1):
        print_hit(i, hit)


@click.command()
@click.option("--text", "text", default=None, help="A product description or draft claim.")
@click.option(
    "--file", "file", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None
)
@click.option(
    "--patent", default=None, metavar="NUMBER", help="A stored patent, e.g. CN102373366B."
)
@click.option("--sector", default=None)
@click.option("--ipc", default=None, metavar="PREFIX")
@click.option("--limit", type=click.IntRange(1, 500), default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option(
    "--report",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the screening report (FILE.html or FILE.pdf).",
)
@click.pass_obj
def screen(
    app: App,
    text: str | None,
    file: Path | None,
    patent: str | None,
    sector: str | None,
    ipc: str | None,
    limit: int,
    as_json: bool,
    report: Path | None,
) -> None:
    """Screen a product description, draft claim or stored patent against the store (not a
    legal opinion): similar documents in force or pending (review), lapsed or expired (free)."""
    from warning.search.report import write_report
    from warning.search.screen import screen as run_screen
    from warning.search.screen import screen_patent

    given = [
        name for name, value in (("--text", text), ("--file", file), ("--patent", patent)) if value
    ]
    if len(given) != 1:
        raise click.UsageError("give exactly one of --text, --file or --patent")
    if report is not None and report.suffix.lower() not in (".html", ".htm", ".pdf"):
        raise InputError(
            [Problem("the report must be a .html or .pdf file", file=str(report), field="report")]
        )
    kw: dict[str, Any] = {
        "sector": sector,
        "ipc": ipc,
        "limit": limit,
        "today": local_today(app.settings.tz),
    }
    if patent:
        result = screen_patent(app.store, patent, **kw)
    elif file:
        try:
            body = file.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise InputError(
                [Problem(f"not UTF-8 text ({exc.reason} at byte {exc.start})", file=str(file))]
            ) from exc
        result = run_screen(app.store, body, subject=f"file {file.name}", **kw)
    else:
        result = run_screen(app.store, text or "", **kw)
    if report is not None:
        with writing_to(report, "--report"):
            write_report(result, report)
    if as_json:
        click.echo(json.dumps(result.as_json(), ensure_ascii=False, indent=2))
        if report is not None:
            click.echo(f"report: {report}", err=True)
        return
    click.echo(
        f"screening of {result.subject} against {result.coverage.documents if result.coverage else 0} "
        f"stored documents ({result.candidates} candidates); text similarity, not a legal opinion"
    )
    for title, group in (
        ("in force or pending - review", result.review),
        ("lapsed or expired - free to use", result.free_to_use),
    ):
        click.echo(f"\n{title}: {len(group)}")
        for i, s in enumerate(group, 1):
            free = (
                f" | free since {s.hit.legal_status.since}"
                if s.hit.legal_status.since and s.hit.legal_status.is_free
                else ""
            )
            print_hit(
                i,
                s.hit,
                f"\n     similarity {s.similarity:.3f} (above {s.percentile:.1f}% of random pairs)"
                f" | overlap: {', '.join(s.overlap_terms)}{free}",
            )
    if report is not None:
        click.echo(f"\nreport: {report}")


@click.group("search-index")
def search_index() -> None:
    """Maintain the full-text search index (the pipeline's index stage keeps it current)."""


@search_index.command("update")
@click.pass_obj
def index_update(app: App) -> None:
    """Index new and changed documents (what the index stage does)."""
    from warning.search.index import index_pending

    counts = index_pending(app.store)
    click.echo(f"indexed {counts.indexed} documents; the index holds {counts.documents}")


@search_index.command("rebuild")
@click.pass_obj
def index_rebuild(app: App) -> None:
    """Drop the index and index every stored document again."""
    from warning.search.index import rebuild

    counts = rebuild(app.store)
    click.echo(f"rebuilt: {counts.documents} documents, {counts.tokens} tokens")


@search_index.command("status")
@click.pass_obj
def index_status(app: App) -> None:
    """Documents and tokens in the index."""
    from warning.search.index import index_stats

    with app.store.read_session() as session:
        stats = index_stats(session)
    click.echo(f"{stats['documents']} documents, {stats['tokens']} tokens indexed")
