"""Shared helpers for the rules and subscriptions tests."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rules.docview import doc_from_json
from warning.records import DocumentRecord
from warning.store.ingest import ingest_document

FIXTURES = Path(__file__).parent / "fixtures" / "rules"
DOCS = FIXTURES / "docs.jsonl"
EXAMPLE_SUBS = Path(__file__).parent.parent / "rules" / "examples" / "subscriptions.yaml"
LIBRARY = Path(__file__).parent.parent / "rules" / "library"


def doc_dicts() -> list[dict]:
    return [
        json.loads(line) for line in DOCS.read_text(encoding="utf-8").splitlines() if line.strip()
    ]


def match_docs():
    return [doc_from_json(d) for d in doc_dicts()]


def ingest_fixture_docs(store) -> None:
    with store.session() as session:
        for data in doc_dicts():
            ingest_document(session, DocumentRecord.model_validate(data))


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """Run `ipwarn ARGS` in-process; (exit status, stdout, stderr)."""
    import logging

    from warning.cli import main

    root = logging.getLogger()
    handlers = root.handlers[:]
    try:
        returned = main(args)
        code = returned if isinstance(returned, int) else 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    finally:
        root.handlers[:] = handlers  # the CLI's log handler writes to this test's capture
    out = capsys.readouterr()
    return code, out.out, out.err


def use_store(monkeypatch: pytest.MonkeyPatch, store, tmp_path: Path) -> None:
    """Point the CLI (environment settings) at ``store``."""
    monkeypatch.setenv("IPWARN_DATABASE_URL", store.url)
    monkeypatch.setenv("IPWARN_DATA_DIR", str(tmp_path / "var"))


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def tag_like_ipc(store, *, skip: tuple[str, ...] = ()) -> str:
    """Tag every stored document with the active classifier version as its IPC implies.

    Match-stage tests need documents the active version has tagged (the stage waits for tags);
    IPC-implied tags keep these tests independent of the classifier's scores. Returns the version.
    """
    from sqlalchemy import select

    from models.registry import active_version
    from rules.storedocs import ipc_tags
    from warning.store.models import Document, DocumentTag

    with store.session() as session:
        version = active_version(session)
        for doc in session.scalars(select(Document).where(Document.is_stub.is_(False))):
            if doc.number in skip:
                continue
            sectors, subfields = ipc_tags(doc.ipc or [])
            session.add(
                DocumentTag(
                    document_id=doc.id,
                    model_version=version,
                    sector="other",
                    subfield="",
                    confidence=0.5,
                    assigned=not sectors,
                )
            )
            for sector in sectors:
                session.add(
                    DocumentTag(
                        document_id=doc.id,
                        model_version=version,
                        sector=sector,
                        subfield="",
                        confidence=1.0,
                    )
                )
            for name in subfields:
                sector, _, sub = name.partition(".")
                session.add(
                    DocumentTag(
                        document_id=doc.id,
                        model_version=version,
                        sector=sector,
                        subfield=sub,
                        confidence=1.0,
                    )
                )
    return version
