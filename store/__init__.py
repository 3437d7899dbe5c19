"""Persistence: letters, proposals, decisions, users, the audit log and source files (SQLAlchemy, Alembic).

Repository functions take an open ``Session`` first and never commit; the caller owns the
transaction (``store.db.session_scope``). Nothing is built at import time: engines come from
``store.db.make_engine(url)`` and the schema from ``store.db.upgrade(url)``.

Import from the module that defines a name (``store.letters``, ``store.users`` ...): this package
re-exports nothing, so a pure helper such as ``store.masking`` or ``store.errors`` loads without
SQLAlchemy and the models behind it.
"""
