#!/usr/bin/env bash
# Runs once, when the db service initialises an empty data volume (docker-entrypoint-initdb.d):
# a role that may stream WAL to the optional replica service, and a pg_hba.conf line letting it
# in over the network. A volume initialised before this script existed needs the same two steps
# run by hand (see deploy/README.md).
set -euo pipefail

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
    -v password="${REPLICATION_PASSWORD:?set REPLICATION_PASSWORD}" <<'SQL'
CREATE ROLE replicator WITH REPLICATION LOGIN PASSWORD :'password';
SQL

# `all` in pg_hba.conf's database column does not cover replication connections.
echo "host replication replicator all scram-sha-256" >> "$PGDATA/pg_hba.conf"
