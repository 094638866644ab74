"""search score cells: max_tf, cell and fts_key per index row; FTS5 keyed by fts_key

``fts_key`` = publication day, office, kind letter, cell and document id in one integer
(warning.search.cells.fts_key).

Revision ID: 0042_search2
Revises: 0030_search

Every existing index row gets its max_tf, cell and FTS5 key from its stored tokens; on SQLite
the FTS5 table is recreated with ``fts_key`` as its rowid and rebuilt from ``search_index``.
"""

import datetime as dt
from collections import Counter
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0042_search2"
down_revision: str | None = "0030_search"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TRIGGERS = ("search_index_ai", "search_index_ad", "search_index_au")


def _fts(rowid: str) -> list[str]:
    return [
        "CREATE VIRTUAL TABLE search_fts USING fts5(tokens, content='search_index', "
        f"content_rowid='{rowid}', tokenize='unicode61 remove_diacritics 0')",
        "CREATE TRIGGER search_index_ai AFTER INSERT ON search_index BEGIN "
        f"INSERT INTO search_fts(rowid, tokens) VALUES (new.{rowid}, new.tokens); END",
        "CREATE TRIGGER search_index_ad AFTER DELETE ON search_index BEGIN "
        "INSERT INTO search_fts(search_fts, rowid, tokens) "
        f"VALUES ('delete', old.{rowid}, old.tokens); END",
        "CREATE TRIGGER search_index_au AFTER UPDATE ON search_index BEGIN "
        "INSERT INTO search_fts(search_fts, rowid, tokens) "
        f"VALUES ('delete', old.{rowid}, old.tokens); "
        f"INSERT INTO search_fts(rowid, tokens) VALUES (new.{rowid}, new.tokens); END",
        "INSERT INTO search_fts(search_fts) VALUES ('rebuild')",
    ]


def _drop_fts() -> None:
    for name in _TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.execute("DROP TABLE IF EXISTS search_fts")


def _backfill(conn: sa.Connection) -> None:
    # the index stage's own cell classes (changing them re-indexes: see warning.search.cells)
    from warning.search.cells import cell_of, fts_key

    last = 0
    while True:
        rows = conn.execute(
            sa.text(
                "SELECT s.document_id, s.tokens, s.length, d.kind, d.office, "
                "d.publication_date FROM search_index s JOIN documents d ON d.id = s.document_id "
                "WHERE s.document_id > :last ORDER BY s.document_id LIMIT 5000"
            ),
            {"last": last},
        ).all()
        if not rows:
            break
        updates = []
        for doc_id, tokens, length, kind, office, published in rows:
            top = max(Counter(tokens.split(" ") if tokens else []).values(), default=0)
            cell = cell_of(length, top)
            if isinstance(published, str):  # SQLite hands dates back as text here
                published = dt.date.fromisoformat(published[:10])
            key = fts_key(cell, doc_id, kind=kind, office=office, published=published)
            updates.append({"i": doc_id, "m": top, "c": cell, "k": key})
        conn.execute(
            sa.text(
                "UPDATE search_index SET max_tf = :m, cell = :c, fts_key = :k "
                "WHERE document_id = :i"
            ),
            updates,
        )
        last = rows[-1][0]


def upgrade() -> None:
    conn = op.get_bind()
    sqlite = conn.dialect.name == "sqlite"
    if sqlite:
        _drop_fts()  # the update below would otherwise go through the triggers row by row
    for name, kind in (("max_tf", sa.Integer()), ("cell", sa.Integer()), ("fts_key", sa.BigInteger())):
        op.add_column("search_index", sa.Column(name, kind, nullable=False, server_default="0"))
    _backfill(conn)
    if sqlite:
        for statement in _fts("fts_key"):
            op.execute(statement)


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        _drop_fts()
    with op.batch_alter_table("search_index") as batch:
        for name in ("fts_key", "cell", "max_tf"):
            batch.drop_column(name)
    if sqlite:
        for statement in _fts("document_id"):
            op.execute(statement)
