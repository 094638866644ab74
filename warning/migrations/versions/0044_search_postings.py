"""search postings on PostgreSQL: (term, cell, fts_key) per indexed token, kept by a trigger

Revision ID: 0044_search_postings
Revises: 0042_search2

PostgreSQL only (SQLite's FTS5 doclists already are postings): ``search_postings`` holds one
row per distinct token of every ``search_index`` row: the token, the score cell of the row's
length and *that token's* count (``search_cell``, the classes of warning.search.cells), and
the row's ``fts_key``; keyed (term, cell, key), so a search counts a word's matches and bounds
their scores from index-only scans of the primary key instead of visiting the wide
``search_index`` heap (warning.search.service). A row trigger on ``search_index`` keeps it in
step with every insert, update and delete (as SQLite's triggers keep FTS5); the migration
fills it from the stored tsvectors. Run ``VACUUM ANALYZE search_postings`` afterwards:
index-only scans need the visibility map. Changing the cell classes must re-create
``search_cell`` (and re-index).
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0044_search_postings"
down_revision: str | None = "0042_search2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# the classes of warning.search.cells as of this revision; width_bucket(x, thresholds) is the
# number of thresholds <= x: bisect_right (so bisect_left of an integer tf is that of tf - 1)
_TF_BOUNDS = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 128, 256, 1 << 30)
_LENGTH_FLOORS = (
    0, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 14, 16, 19, 22, 26, 30, 35, 40, 48, 56, 64, 80, 96,
    112, 128, 160, 192, 224, 256, 320, 384, 448, 512, 640, 768, 896, 1024, 1280, 1536, 1792,
    2048, 2560, 3072, 3584, 4096, 5120, 6144, 8192, 12288,
)  # fmt: skip
_CELL = f"""
CREATE FUNCTION search_cell(length integer, tf integer) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT width_bucket(tf - 1, '{{{",".join(map(str, _TF_BOUNDS))}}}'::integer[]) * 64
         + width_bucket(length, '{{{",".join(map(str, _LENGTH_FLOORS))}}}'::integer[]) - 1
$$
"""
_FUNCTION = """
CREATE FUNCTION search_postings_sync() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND OLD.tsv IS NOT DISTINCT FROM NEW.tsv
            AND OLD.length = NEW.length AND OLD.fts_key = NEW.fts_key THEN
        RETURN NULL;
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.tsv IS NOT NULL THEN
        DELETE FROM search_postings p
        USING unnest(OLD.tsv) AS u
        WHERE p.term = u.lexeme AND p.cell = search_cell(OLD.length, cardinality(u.positions))
          AND p.key = OLD.fts_key;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.tsv IS NOT NULL THEN
        INSERT INTO search_postings (term, cell, key)
        SELECT u.lexeme, search_cell(NEW.length, cardinality(u.positions)), NEW.fts_key
        FROM unnest(NEW.tsv) AS u;
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
    op.execute(_CELL)
    op.execute(
        "INSERT INTO search_postings (term, cell, key) "
        "SELECT u.lexeme, search_cell(s.length, cardinality(u.positions)), s.fts_key "
        "FROM search_index s, unnest(s.tsv) AS u WHERE s.tsv IS NOT NULL"
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
    op.execute("DROP FUNCTION IF EXISTS search_cell(integer, integer)")
    op.execute("DROP TABLE IF EXISTS search_postings")
