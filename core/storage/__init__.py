"""Persistence: SQLAlchemy models, engine set-up, Alembic migrations and the unit of work."""
