"""rate limits counted a batch at a time: the requests one API process counts at once, in one
statement and one transaction

rate_limit_take_many(requests, buckets, limits, at) counts each request of a batch in its turn,
as rate_limit_take counts one (the buckets of request i are those whose entry in `requests` is
i, from 1), and returns each one's wait (0: it may go ahead). Every bucket of the batch is locked
first, in bucket order: batches that share buckets, in whatever order their requests name them,
cannot deadlock.

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-05 19:45:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0028"
down_revision: str | None = "0027"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SLOTS = 61  # as migration 0017's

TAKE_MANY = f"""
CREATE FUNCTION rate_limit_take_many(
    p_requests integer[], p_buckets text[], p_limits integer[], p_at timestamptz DEFAULT clock_timestamp()
) RETURNS double precision[] LANGUAGE plpgsql AS $$
DECLARE
    n integer := coalesce((SELECT max(r) FROM unnest(p_requests) AS r), 0);
    waits double precision[] := '{{}}';
    i integer;
BEGIN
    INSERT INTO rate_limit_slots (bucket, base, counts, touched_at)
    SELECT b, floor(extract(epoch FROM p_at))::bigint - {SLOTS - 1}, array_fill(0, ARRAY[{SLOTS}]), p_at
    FROM (SELECT DISTINCT unnest(p_buckets) AS b) AS given ORDER BY b
    ON CONFLICT (bucket) DO NOTHING;
    PERFORM 1 FROM rate_limit_slots WHERE bucket = ANY(p_buckets) ORDER BY bucket FOR UPDATE;
    FOR i IN 1..n LOOP
        waits := waits || rate_limit_take(
            ARRAY(SELECT b FROM unnest(p_requests, p_buckets) WITH ORDINALITY AS t(r, b, k) WHERE r = i ORDER BY k),
            ARRAY(SELECT l FROM unnest(p_requests, p_limits) WITH ORDINALITY AS t(r, l, k) WHERE r = i ORDER BY k),
            p_at
        );
    END LOOP;
    RETURN waits;
END $$
"""


def upgrade() -> None:
    op.execute(TAKE_MANY)


def downgrade() -> None:
    op.execute("DROP FUNCTION IF EXISTS rate_limit_take_many(integer[], text[], integer[], timestamptz)")
