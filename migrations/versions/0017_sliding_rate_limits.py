"""rate limits over any 60 seconds: per-second slots per client, taken atomically

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-04 15:00:00.000000

Fixed clock-minute windows let a client through twice the limit across a minute's end. Each
client (bucket) now keeps its hits of the last 61 seconds, one count per second; a request is let
through when every bucket it counts against has fewer than its limit in those 61 slots. Any 60
seconds lie within 61 consecutive slots, so no 60-second span ever holds more than the limit.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SLOTS = 61

# rate_limit_take(buckets, limits, at): 0 when the request may go ahead (a hit is then counted in
# every bucket), else the seconds until it may (nothing is counted: refusals do not prolong a
# refusal). Rows are locked in bucket order, so requests counting against shared buckets (an
# organization's, an address's) cannot deadlock.
TAKE = f"""
CREATE FUNCTION rate_limit_take(p_buckets text[], p_limits integer[], p_at timestamptz DEFAULT clock_timestamp())
RETURNS double precision LANGUAGE plpgsql AS $$
DECLARE
    now_s double precision := extract(epoch FROM p_at);
    sec bigint := floor(now_s)::bigint;
    want integer;
    r record;
    slots integer[];
    shift bigint;
    total integer;
    dropped integer;
    k integer;
    wait double precision := 0;
BEGIN
    INSERT INTO rate_limit_slots (bucket, base, counts, touched_at)
    SELECT b, sec - {SLOTS - 1}, array_fill(0, ARRAY[{SLOTS}]), p_at FROM unnest(p_buckets) AS b ORDER BY b
    ON CONFLICT (bucket) DO NOTHING;
    FOR r IN
        SELECT s.bucket, s.base, s.counts, l.lim
        FROM rate_limit_slots s
        JOIN unnest(p_buckets, p_limits) AS l(bucket, lim) ON l.bucket = s.bucket
        ORDER BY s.bucket FOR UPDATE OF s
    LOOP
        -- Slide the slots so that the last one is this second (a clock that went back keeps them).
        shift := greatest(sec - {SLOTS - 1} - r.base, 0);
        IF shift >= {SLOTS} THEN
            slots := array_fill(0, ARRAY[{SLOTS}]);
        ELSIF shift > 0 THEN
            slots := r.counts[shift + 1:{SLOTS}] || array_fill(0, ARRAY[shift::integer]);
        ELSE
            slots := r.counts;
        END IF;
        UPDATE rate_limit_slots SET base = r.base + shift, counts = slots, touched_at = p_at
        WHERE bucket = r.bucket;
        SELECT coalesce(sum(c), 0) INTO total FROM unnest(slots) AS c;
        IF total >= r.lim THEN
            -- The oldest slots must leave the window until fewer than the limit remain.
            dropped := 0;
            k := 0;
            WHILE total - dropped >= r.lim AND k < {SLOTS} LOOP
                k := k + 1;
                dropped := dropped + slots[k];
            END LOOP;
            wait := greatest(wait, (r.base + shift + k + {SLOTS - 1}) - now_s);
        END IF;
    END LOOP;
    IF wait > 0 THEN
        RETURN wait;
    END IF;
    UPDATE rate_limit_slots SET counts[{SLOTS}] = counts[{SLOTS}] + 1 WHERE bucket = ANY(p_buckets);
    IF random() < 0.01 THEN
        DELETE FROM rate_limit_slots WHERE touched_at < p_at - interval '10 minutes';
    END IF;
    RETURN 0;
END $$
"""


def upgrade() -> None:
    op.drop_index("ix_rate_limit_window_start", table_name="rate_limit_window")
    op.drop_table("rate_limit_window")
    op.create_table(
        "rate_limit_slots",
        sa.Column("bucket", sa.String(length=120), nullable=False),
        sa.Column("base", sa.BigInteger(), nullable=False),
        sa.Column("counts", sa.ARRAY(sa.Integer()), nullable=False),
        sa.Column("touched_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("bucket", name=op.f("pk_rate_limit_slots")),
    )
    op.create_index("ix_rate_limit_slots_touched_at", "rate_limit_slots", ["touched_at"], unique=False)
    op.execute(TAKE)


def downgrade() -> None:
    op.execute("DROP FUNCTION IF EXISTS rate_limit_take(text[], integer[], timestamptz)")
    op.drop_index("ix_rate_limit_slots_touched_at", table_name="rate_limit_slots")
    op.drop_table("rate_limit_slots")
    op.create_table(
        "rate_limit_window",
        sa.Column("bucket", sa.String(length=120), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("hits", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("bucket", "window_start", name=op.f("pk_rate_limit_window")),
    )
    op.create_index("ix_rate_limit_window_start", "rate_limit_window", ["window_start"], unique=False)
