"""Persistence: letters, proposals, decisions, users and the audit log (SQLAlchemy, Alembic)."""
