"""The pipeline's classify stage: tag stored documents that have no tags from the active version.

Newest documents go first and each run handles at most the setting ``classify_limit`` documents
(default 20,000) in batches of ``classify_batch`` (1,000), each batch its own transaction
(``StageContext.options`` may override both): after
`ipwarn model activate`, the corpus is re-tagged over a few runs while fresh documents still
get tagged (and alerted on) immediately. Re-running is harmless: tags are inserted with
ON CONFLICT DO NOTHING on (document, version, sector, subfield).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from models.classifier import Classification, load_classifier
from models.registry import active_version
from warning.pipeline import StageContext, StageResult
from warning.store.models import Document, DocumentTag, utcnow
from warning.store.upsert import dialect_insert

DEFAULT_BATCH = 1000
DEFAULT_LIMIT = 20_000


def tag_rows(document_id: int, result: Classification) -> list[dict[str, Any]]:
    """DocumentTag rows: every label at sector level (subfield ""), then assigned sub-fields."""
    now = utcnow()
    rows = [
        {
            "document_id": document_id,
            "model_version": result.model_version,
            "sector": label,
            "subfield": "",
            "confidence": score,
            "assigned": label in result.sectors,
            "created_at": now,
        }
        for label, score in result.scores.items()
    ]
    rows.extend(
        {
            "document_id": document_id,
            "model_version": result.model_version,
            "sector": sf["sector"],
            "subfield": sf["subfield"],
            "confidence": sf["score"],
            "assigned": True,
            "created_at": now,
        }
        for sf in result.subfields
    )
    return rows


def untagged_backlog(session: Session) -> tuple[str, int]:
    """(active classifier version, stored documents it has not tagged yet), for `ipwarn status`."""
    version = active_version(session)
    untagged = ~exists().where(
        DocumentTag.document_id == Document.id, DocumentTag.model_version == version
    )
    count = session.scalar(
        select(func.count()).select_from(Document).where(Document.is_stub.is_(False), untagged)
    )
    return version, int(count or 0)


def run_classify_stage(ctx: StageContext) -> StageResult:
    batch_size = int(
        ctx.options.get("classify_batch", getattr(ctx.settings, "classify_batch", DEFAULT_BATCH))
    )
    limit = int(
        ctx.options.get("classify_limit", getattr(ctx.settings, "classify_limit", DEFAULT_LIMIT))
    )
    with ctx.store.read_session() as session:
        version = active_version(session)
    model = load_classifier(ctx.settings, version=version)
    tagged = tags = 0
    while tagged < limit:
        # classify outside the write transaction (it takes a second per batch): read, classify,
        # then store the tags of the documents whose text is still the one classified
        with ctx.store.read_session() as session:
            untagged = ~exists().where(
                DocumentTag.document_id == Document.id, DocumentTag.model_version == version
            )
            docs = session.scalars(
                select(Document)
                .where(Document.is_stub.is_(False), untagged)
                .order_by(Document.id.desc())
                .limit(min(batch_size, limit - tagged))
            ).all()
        if not docs:
            break
        results = model.classify(docs, explain=False)
        classified = {doc.id: doc.content_hash for doc in docs}
        with ctx.store.session() as session:
            current = {
                doc_id
                for doc_id, content_hash in session.execute(
                    select(Document.id, Document.content_hash).where(
                        Document.id.in_(list(classified))
                    )
                )
                if classified[doc_id] == content_hash
            }
            rows = [
                row
                for doc, res in zip(docs, results, strict=True)
                if doc.id in current
                for row in tag_rows(doc.id, res)
            ]
            if rows:
                stmt = dialect_insert(session, DocumentTag.__table__).on_conflict_do_nothing(
                    index_elements=["document_id", "model_version", "sector", "subfield"]
                )
                session.execute(stmt, rows)
        tagged += len(current)
        tags += len(rows)
        if len(current) < len(docs):
            # some changed while being classified: the next batch picks them up again
            limit -= len(docs) - len(current)
    with ctx.store.read_session() as session:
        backlog = session.scalar(
            select(Document.id)
            .where(
                Document.is_stub.is_(False),
                ~exists().where(
                    DocumentTag.document_id == Document.id, DocumentTag.model_version == version
                ),
            )
            .limit(1)
        )
    note = f"model {version}" + (
        "; more untagged documents remain for the next run" if backlog else ""
    )
    return StageResult(status="ok", counts={"documents": tagged, "tags": tags}, note=note)
