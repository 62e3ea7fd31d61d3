#!/bin/sh
# Runs once, when PostgreSQL initialises an empty data directory (docker-entrypoint-initdb.d).
# One login role per app, owning only its own database: the apps never connect as the
# superuser. Passwords come from TASKQUEUE_DB_PASSWORD and DRAFTS_DB_PASSWORD, passed to psql as
# variables so no quoting in them can change the SQL.
# deploy/k8s/overlays/dev/postgres/10-roles.sh must stay a copy of this file (make deploy-check).
set -eu
: "${TASKQUEUE_DB_PASSWORD:?set TASKQUEUE_DB_PASSWORD}"
: "${DRAFTS_DB_PASSWORD:?set DRAFTS_DB_PASSWORD}"

psql -v ON_ERROR_STOP=1 --username "${POSTGRES_USER:-postgres}" --dbname postgres \
  -v tq_password="$TASKQUEUE_DB_PASSWORD" -v drafts_password="$DRAFTS_DB_PASSWORD" <<'SQL'
CREATE ROLE taskqueue LOGIN PASSWORD :'tq_password' NOSUPERUSER NOCREATEDB NOCREATEROLE;
CREATE ROLE drafts LOGIN PASSWORD :'drafts_password' NOSUPERUSER NOCREATEDB NOCREATEROLE;
CREATE DATABASE taskqueue OWNER taskqueue;
CREATE DATABASE drafts OWNER drafts;
-- Nobody but its owner (and the superuser) may connect to an app's database.
REVOKE ALL ON DATABASE taskqueue FROM PUBLIC;
REVOKE ALL ON DATABASE drafts FROM PUBLIC;
SQL
