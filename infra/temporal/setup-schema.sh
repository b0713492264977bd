#!/bin/sh
# One-shot job of docker-compose.yml (image temporalio/admin-tools): create
# Temporal's two databases on Postgres and bring their schemas to the
# version the server image expects. Safe to run on every `docker compose up`:
# an existing database or schema is kept, and update-schema applies only the
# versions that are missing (this is how a server upgrade migrates the data).
set -eu
: "${POSTGRES_SEEDS:?POSTGRES_SEEDS is required}"
: "${POSTGRES_USER:?POSTGRES_USER is required}"
: "${SQL_PASSWORD:?SQL_PASSWORD is required}"
PORT=${DB_PORT:-5432}
SCHEMAS=/etc/temporal/schema/postgresql/v12

until nc -z -w 5 "$POSTGRES_SEEDS" "$PORT"; do
  echo "waiting for Postgres at $POSTGRES_SEEDS:$PORT"
  sleep 2
done

for db in temporal temporal_visibility; do
  sql() { temporal-sql-tool --plugin postgres12 --ep "$POSTGRES_SEEDS" -u "$POSTGRES_USER" -p "$PORT" --db "$db" "$@"; }
  sql create >/dev/null 2>&1 && echo "database $db created" || echo "database $db exists"
  sql setup-schema -v 0.0 >/dev/null 2>&1 && echo "schema of $db initialised" || echo "schema of $db exists"
  case $db in
    temporal) dir=$SCHEMAS/temporal/versioned ;;
    *) dir=$SCHEMAS/visibility/versioned ;;
  esac
  sql update-schema -d "$dir"  # fails loudly: a schema that cannot reach the server's version must stop the stack
  echo "schema of $db is current"
done
