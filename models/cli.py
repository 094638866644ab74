"""`ipwarn classify` and `ipwarn model train|evaluate|activate|list`."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import click
import orjson

from models.artifact import DEFAULT_VERSION
from warning.app import App
from warning.errors import ConfigError, InputError, Problem

#: lines classified together: big enough for vectorised scoring, small enough to stream
CHUNK = 4000


def _settings(app: App) -> Any:
    try:
        return app.settings
    except ConfigError:
        return None


def _stored_active_version(settings: Any) -> str | None:
    """The active version from the database, without creating one as a side effect."""
    if settings is None:
        return None
    url: str = settings.effective_database_url
    if (
        url.startswith("sqlite")
        and not (Path(settings.data_dir) / "ipwarn.db").exists()
        and not settings.database_url
    ):
        return None
    from sqlalchemy.exc import SQLAlchemyError

    from models.registry import active_version
    from warning.store.engine import Store

    store = Store(url)
    try:
        with store.read_session() as session:
            return active_version(session)
    except SQLAlchemyError:
        return None  # not migrated or unreachable: `classify` still works with the default
    finally:
        store.dispose()


#: orjson writes compact UTF-8 JSON, one object a line, 3x the stdlib's speed on these results
NEWLINE = orjson.OPT_APPEND_NEWLINE


def _plain(value: Any) -> Any:
    """numpy scalars (a score that escaped rounding) as plain numbers."""
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _chunks(lines: Iterator[Any], size: int) -> Iterator[list[Any]]:
    chunk: list[Any] = []
    for item in lines:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


@click.command("classify")
@click.argument("file", type=click.File("r", encoding="utf-8"), default="-")
@click.option("--text-only", is_flag=True, help="Ignore the `ipc` field; classify from text alone.")
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Processes for big inputs (worth it from a few thousand lines).",
)
@click.option(
    "--model",
    "version",
    default=None,
    help="Model version (default: the active one, else the packaged default).",
)
@click.pass_obj
def classify(app: App, file: IO[str], text_only: bool, workers: int, version: str | None) -> None:
    """Tag JSON lines (number, title, abstract, claims, ipc, language) with sectors.

    Writes one JSON line per valid input line, in order. Bad lines are reported on stderr with
    their line number and skipped; the exit status is then 2.
    """
    from models.classifier import load_classifier
    from models.jsonl import read_lines

    settings = _settings(app)
    version = version or _stored_active_version(settings) or DEFAULT_VERSION
    model = load_classifier(settings, version=version)
    name = "<stdin>" if file.name in ("-", "<stdin>") else file.name
    bad = 0
    out = sys.stdout
    buffer = getattr(out, "buffer", None)
    write = buffer.write if buffer is not None else (lambda data: out.write(data.decode()))
    out.flush()
    for chunk in _chunks(read_lines(file, name), CHUNK * (1 if workers == 1 else 8 * workers)):
        records = []
        for item in chunk:
            if item.problem is not None:
                bad += 1
                click.echo(f"error: {item.problem}", err=True)
            else:
                records.append(item.record)
        results = model.classify(records, text_only=text_only, workers=workers)
        # the result's own fields, encoded without the copy to_dict() makes for callers
        write(b"".join(orjson.dumps(vars(r), default=_plain, option=NEWLINE) for r in results))
        out.flush()
    if bad:
        raise click.exceptions.Exit(2)


@click.group("model")
def model() -> None:
    """Train, evaluate, list and activate sector-classifier versions."""


def _next_version(settings: Any) -> str:
    from models.registry import list_versions

    numbers = [
        int(v.version[1:])
        for v in list_versions(settings)
        if v.version.startswith("v") and v.version[1:].isdigit()
    ]
    return f"v{max(numbers, default=0) + 1}"


def _out_dir(settings: Any) -> Path:
    if settings is not None and settings.model_dir:
        return Path(settings.model_dir)
    if settings is not None:
        return Path(settings.data_dir) / "models"
    return Path("models-out")


@model.command("train")
@click.option("--version", default=None, help="Version name (default: next vN).")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Artifact directory (default: model_dir, else DATA_DIR/models).",
)
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    default=None,
    help="Training data folder (default: the shipped models/data).",
)
@click.option(
    "--from-store",
    is_flag=True,
    help="Also learn from the stored documents with IPC (labels from their IPC).",
)
@click.pass_obj
def train_cmd(
    app: App, version: str | None, out_dir: Path | None, data_dir: Path | None, from_store: bool
) -> None:
    """Train a version from the shipped data (and the store); prints its held-out metrics."""
    from models.data import DATA_DIR, read_gazette
    from models.evaluate import format_report
    from models.train import TrainConfig, train

    settings = _settings(app)
    version = version or _next_version(settings)
    data_dir = data_dir or DATA_DIR
    extra = (
        _store_examples(app, exclude={e.number for e in read_gazette(data_dir)})
        if from_store
        else []
    )
    folder, metadata = train(
        TrainConfig(version=version, data_dir=data_dir), out_dir or _out_dir(settings), extra=extra
    )
    click.echo(format_report(metadata["metrics"]))
    if metadata.get("metrics_store"):
        click.echo(f"-- of which held-out stored documents ({len(extra)} stored in all):")
        click.echo(format_report(metadata["metrics_store"]))
    click.echo(f"trained {version} in {metadata['train_seconds']} s -> {folder}")
    click.echo(f"activate it with: ipwarn model activate {version}")


def _store_examples(app: App, exclude: set[str] | None = None) -> list[Any]:
    """Labelled examples from the store, with a clear error when there is no usable store."""
    from sqlalchemy.exc import SQLAlchemyError

    from models.data import read_store_examples
    from warning.errors import StoreError

    try:
        with app.store.read_session() as session:
            return read_store_examples(session, exclude)
    except SQLAlchemyError as exc:
        raise StoreError(
            f"cannot read documents from the store: {type(exc).__name__}; "
            "is the database migrated (`ipwarn db upgrade`)?"
        ) from exc


@model.command("evaluate")
@click.option("--version", default=None, help="Version (default: the active one).")
@click.option(
    "--data",
    "data_file",
    type=click.File("r", encoding="utf-8"),
    default=None,
    help="JSON lines with number, title and ipc (labels come from the IPC); "
    "default: the held-out split of the shipped gazette data.",
)
@click.option(
    "--threshold",
    type=float,
    default=None,
    help="Auto-tag threshold (default: the one stored with the model).",
)
@click.option(
    "--from-store",
    is_flag=True,
    help="Evaluate on the stored documents with IPC (labels from their IPC).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the metrics as JSON.")
@click.pass_obj
def evaluate_cmd(
    app: App,
    version: str | None,
    data_file: IO[str] | None,
    threshold: float | None,
    from_store: bool,
    as_json: bool,
) -> None:
    """Per-label precision/recall/F1, macro/micro-F1, auto-tag precision/coverage and ECE."""
    from models.classifier import load_classifier
    from models.data import TEST_BUCKETS, Example, iter_split, read_gazette
    from models.evaluate import evaluate, format_report
    from models.jsonl import read_lines

    settings = _settings(app)
    classifier = load_classifier(
        settings, version=version or _stored_active_version(settings) or DEFAULT_VERSION
    )
    if from_store and data_file is not None:
        raise click.UsageError("give --data or --from-store, not both")
    if from_store:
        examples = _store_examples(app)
        if classifier.params.metadata.get("store_documents"):
            # this version learnt from the store: only its held-out buckets are a fair test
            examples = list(iter_split(examples, TEST_BUCKETS))
        if not examples:
            raise click.UsageError("the store holds no documents with title and IPC to evaluate on")
    elif data_file is None:
        examples = list(iter_split(read_gazette(), TEST_BUCKETS))
    else:
        from warning.ipc import normalize_ipc_list

        examples, problems = [], []
        for item in read_lines(data_file, data_file.name):
            if item.record is None or not item.record.get("ipc"):
                problems.append(
                    item.problem
                    or Problem(
                        "no ipc: cannot derive the label", file=data_file.name, line=item.line
                    )
                )
                continue
            rec = item.record
            examples.append(
                Example(
                    rec["number"],
                    rec.get("title") or "",
                    tuple(normalize_ipc_list(rec["ipc"])),
                    "external",
                )
            )
        if problems:
            raise InputError(problems)
    auto = threshold or float(classifier.params.metadata.get("auto_tag_threshold", 0.9))
    report = evaluate(classifier, examples, auto)
    if as_json:
        click.echo(json.dumps({"version": classifier.version, **report}, indent=2))
    else:
        click.echo(f"model {classifier.version}")
        click.echo(format_report(report))


@model.command("activate")
@click.argument("version")
@click.pass_obj
def activate_cmd(app: App, version: str) -> None:
    """Make VERSION the one the classify stage tags with; re-tagging runs in the background."""
    from sqlalchemy import exists, func, select
    from sqlalchemy.exc import SQLAlchemyError

    from models.registry import set_active_version
    from warning.errors import StoreError
    from warning.store.models import Document, DocumentTag

    try:
        with app.store.session() as session:
            folder = set_active_version(session, version, app.settings)
            tagged = exists().where(
                DocumentTag.document_id == Document.id, DocumentTag.model_version == version
            )
            pending = session.scalar(
                select(func.count())
                .select_from(Document)
                .where(Document.is_stub.is_(False), ~tagged)
            )
    except SQLAlchemyError as exc:
        raise StoreError(
            f"cannot record the active classifier: {type(exc).__name__}; "
            "is the database migrated (`ipwarn db upgrade`)?"
        ) from exc
    click.echo(f"active classifier: {version} ({folder})")
    click.echo(
        f"{pending or 0} stored documents will be (re-)tagged by the classify stage, in batches"
    )


@model.command("list")
@click.pass_obj
def list_cmd(app: App) -> None:
    """Versions with their creation time and held-out macro-F1; * marks the active one."""
    from models.registry import list_versions

    settings = _settings(app)
    active = _stored_active_version(settings) or DEFAULT_VERSION
    for info in list_versions(settings):
        metrics = info.metadata.get("metrics", {})
        text = metrics.get("text_only", {}).get("macro_f1", float("nan"))
        ipc = metrics.get("with_ipc", {}).get("macro_f1", float("nan"))
        mark = "*" if info.version == active else " "
        click.echo(
            f"{mark} {info.version:<10} {info.metadata.get('created_at', '?'):<26} "
            f"macro-F1 text {text:.3f}  with IPC {ipc:.3f}  {info.folder}"
        )
