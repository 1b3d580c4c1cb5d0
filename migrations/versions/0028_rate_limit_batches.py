"""rate limits counted a batch at a time: the requests one API process counts at once, in one
statement and one transaction

rate_limit_take_many(requests, buckets, limits, at) counts each request of a batch in its turn,
with the answer rate_limit_take (0017) gives it counted on its own, at the batch's time, and
returns each one's wait (0: it may go ahead). A request is counted by rate_limit_count:
rate_limit_take's counting without its sweep of old rows (the API no longer calls
rate_limit_take). A batch makes or locks every one of its buckets first, in one pass in bucket
order, so batches that share buckets, in whatever order their requests name them, cannot
deadlock; it sweeps old rows once, after counting, and only those no other transaction holds.

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
SWEEP_AFTER = "10 minutes"  # as rate_limit_take's
SWEEP_MOST = 100  # old rows swept by one batch

# rate_limit_take's counting (migration 0017), rows locked in bucket order: 0 when the request may
# go ahead (a hit is then counted in every bucket), else the seconds until it may.
COUNT = f"""
CREATE FUNCTION rate_limit_count(p_buckets text[], p_limits integer[], p_at timestamptz)
RETURNS double precision LANGUAGE plpgsql AS $$
DECLARE
    now_s double precision := extract(epoch FROM p_at);
    sec bigint := floor(now_s)::bigint;
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
    RETURN 0;
END $$
"""

# rate_limit_take_many(requests, buckets, limits, at): each request's wait, in the order of their
# numbers (the entries of `requests`: 1 to the last, each with its buckets, once each).
TAKE_MANY = f"""
CREATE FUNCTION rate_limit_take_many(
    p_requests integer[], p_buckets text[], p_limits integer[], p_at timestamptz DEFAULT clock_timestamp()
) RETURNS double precision[] LANGUAGE plpgsql AS $$
DECLARE
    waits double precision[] := '{{}}';
    r record;
BEGIN
    IF cardinality(p_requests) <> cardinality(p_buckets) OR cardinality(p_requests) <> cardinality(p_limits) THEN
        RAISE EXCEPTION 'rate_limit_take_many: % request numbers, % buckets, % limits',
            cardinality(p_requests), cardinality(p_buckets), cardinality(p_limits);
    END IF;
    -- Every bucket of the batch, made or locked in one pass in bucket order: batches cannot
    -- deadlock. (Made, then locked in a second pass, a row swept in between was made again out of
    -- order.) An existing row is locked, not updated (the update's condition is false).
    INSERT INTO rate_limit_slots (bucket, base, counts, touched_at)
    SELECT b, floor(extract(epoch FROM p_at))::bigint - {SLOTS - 1}, array_fill(0, ARRAY[{SLOTS}]), p_at
    FROM (SELECT DISTINCT unnest(p_buckets) AS b) AS given ORDER BY b
    ON CONFLICT (bucket) DO UPDATE SET base = rate_limit_slots.base WHERE false;
    FOR r IN
        SELECT t.n, array_agg(t.b ORDER BY t.k) AS buckets, array_agg(t.l ORDER BY t.k) AS limits
        FROM unnest(p_requests, p_buckets, p_limits) WITH ORDINALITY AS t(n, b, l, k)
        GROUP BY t.n ORDER BY t.n
    LOOP
        IF r.n IS DISTINCT FROM cardinality(waits) + 1 THEN
            RAISE EXCEPTION 'rate_limit_take_many: request % has no buckets', cardinality(waits) + 1;
        END IF;
        waits := waits || rate_limit_count(r.buckets, r.limits, p_at);
    END LOOP;
    -- Rows untouched for a while, but none another transaction holds (no wait, so no deadlock),
    -- and at most SWEEP_MOST (a batch does not linger over a backlog; the next one goes on).
    DELETE FROM rate_limit_slots WHERE bucket IN (
        SELECT bucket FROM rate_limit_slots WHERE touched_at < p_at - interval '{SWEEP_AFTER}'
        LIMIT {SWEEP_MOST} FOR UPDATE SKIP LOCKED
    );
    RETURN waits;
END $$
"""


def upgrade() -> None:
    op.execute(COUNT)
    op.execute(TAKE_MANY)


def downgrade() -> None:
    op.execute("DROP FUNCTION IF EXISTS rate_limit_take_many(integer[], text[], integer[], timestamptz)")
    op.execute("DROP FUNCTION IF EXISTS rate_limit_count(text[], integer[], timestamptz)")
