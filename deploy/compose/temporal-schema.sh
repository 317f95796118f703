#!/bin/sh
# One-shot (temporalio/admin-tools): creates Temporal's two PostgreSQL databases and brings their
# schemas to the version this admin-tools image ships. Safe to re-run: create tolerates an existing
# database and update-schema applies only missing versions.
set -eu
PG_HOST=${POSTGRES_SEEDS:-temporal-postgresql}
PG_PORT=${DB_PORT:-5432}
SCHEMA=/etc/temporal/schema/postgresql/v12

echo "waiting for PostgreSQL at $PG_HOST:$PG_PORT"
i=0
until nc -z -w 5 "$PG_HOST" "$PG_PORT"; do
  i=$((i + 1)); [ "$i" -lt 60 ] || { echo "PostgreSQL did not answer"; exit 1; }
  sleep 2
done

for db in temporal temporal_visibility; do
  case $db in temporal) dir=temporal ;; *) dir=visibility ;; esac
  tool="temporal-sql-tool --plugin postgres12 --ep $PG_HOST -p $PG_PORT -u $POSTGRES_USER --db $db"
  $tool create || echo "database $db exists"
  $tool setup-schema -v 0.0
  $tool update-schema -d "$SCHEMA/$dir/versioned"
done
echo "Temporal schema is up to date"
