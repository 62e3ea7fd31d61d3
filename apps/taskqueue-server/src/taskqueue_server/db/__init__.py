"""Storage: the SQLAlchemy schema, the engine factory and the repositories."""
