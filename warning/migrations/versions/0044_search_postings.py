"""search postings on PostgreSQL: (term, cell, fts_key) per indexed token, kept by a trigger

Revision ID: 0044_search_postings
Revises: 0042_search2

PostgreSQL only (SQLite's FTS5 doclists already are postings): ``search_postings`` holds one
row per distinct token of every ``search_index`` row, keyed (term, cell, fts_key), so a search
counts a word's matches and lists them per score cell from index-only scans of its primary key
instead of visiting the wide ``search_index`` heap (warning.search.service). A row trigger on
``search_index`` keeps it in step with every insert, update and delete (as SQLite's triggers
keep FTS5); the migration fills it from the stored tsvectors. Run ``VACUUM ANALYZE
search_postings`` afterwards: index-only scans need the visibility map.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0044_search_postings"
down_revision: str | None = "0042_search2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_FUNCTION = """
CREATE FUNCTION search_postings_sync() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND OLD.tsv IS NOT DISTINCT FROM NEW.tsv
            AND OLD.cell = NEW.cell AND OLD.fts_key = NEW.fts_key THEN
        RETURN NULL;
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.tsv IS NOT NULL THEN
        DELETE FROM search_postings
        WHERE term = ANY (tsvector_to_array(OLD.tsv)) AND cell = OLD.cell AND key = OLD.fts_key;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.tsv IS NOT NULL THEN
        INSERT INTO search_postings (term, cell, key)
        SELECT t, NEW.cell, NEW.fts_key FROM unnest(tsvector_to_array(NEW.tsv)) AS t;
    END IF;
    RETURN NULL;
END $$
"""


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        "CREATE TABLE search_postings (term text NOT NULL, cell integer NOT NULL, "
        "key bigint NOT NULL)"
    )
    op.execute(
        "INSERT INTO search_postings (term, cell, key) SELECT t, s.cell, s.fts_key "
        "FROM search_index s, unnest(tsvector_to_array(s.tsv)) AS t WHERE s.tsv IS NOT NULL"
    )
    op.execute("ALTER TABLE search_postings ADD PRIMARY KEY (term, cell, key)")
    op.execute(_FUNCTION)
    op.execute(
        "CREATE TRIGGER search_index_postings AFTER INSERT OR UPDATE OR DELETE ON search_index "
        "FOR EACH ROW EXECUTE FUNCTION search_postings_sync()"
    )
    op.execute("ANALYZE search_postings")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER IF EXISTS search_index_postings ON search_index")
    op.execute("DROP FUNCTION IF EXISTS search_postings_sync()")
    op.execute("DROP TABLE IF EXISTS search_postings")
