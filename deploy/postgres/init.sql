-- One database per service; each keeps its own Alembic version table.
CREATE DATABASE taskqueue;
CREATE DATABASE drafts;
