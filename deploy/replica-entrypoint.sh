#!/usr/bin/env bash
# The replica service: on an empty data volume, copy the primary (db) with pg_basebackup -R,
# which also writes standby.signal and the connection settings, then hand over to the image's
# own entrypoint, which starts PostgreSQL as a hot standby streaming from db.
set -euo pipefail

: "${PGDATA:?}"
export PGHOST=db PGPORT=5432 PGUSER=replicator PGPASSWORD="${REPLICATION_PASSWORD:?set REPLICATION_PASSWORD}"
SLOT=${REPLICATION_SLOT:-replica}

if [ ! -s "$PGDATA/PG_VERSION" ]; then
    until pg_isready --quiet --dbname=postgres; do
        echo "replica: waiting for db"
        sleep 2
    done
    # The slot makes db keep the WAL this replica has not received while it is down (bounded
    # by db's max_slot_wal_keep_size). Created here, if missing, so a re-created replica reuses it.
    psql --dbname=postgres -v ON_ERROR_STOP=1 -v slot="$SLOT" <<'SQL'
SELECT pg_create_physical_replication_slot(:'slot')
WHERE NOT EXISTS (SELECT FROM pg_replication_slots WHERE slot_name = :'slot');
SQL
    mkdir -p "$PGDATA"
    chown postgres:postgres "$PGDATA"
    chmod 0700 "$PGDATA"
    # PostgreSQL will not run as root; the copy must belong to the server's user.
    gosu postgres pg_basebackup --pgdata="$PGDATA" --write-recovery-conf --wal-method=stream \
        --slot="$SLOT" --checkpoint=fast --progress
fi

exec docker-entrypoint.sh postgres
