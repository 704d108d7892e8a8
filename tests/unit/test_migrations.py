"""The schema's migrations: one head, no live code imported, and models ↔ migrations with no difference.

A second head means two engineers' revisions both follow the same parent: ``migrate()`` would still run them
(it upgrades to "heads"), but their order is undefined and the next revision cannot say what it follows. A
migration that imports live code changes meaning when that code changes. And a model edited without its
migration leaves every database built by ``migrate()`` behind the code: autogenerate shows the difference.
"""
from __future__ import annotations

import ast
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

import dashboard.models  # noqa: F401  (registers every table on Base.metadata)
from dashboard.db import ALEMBIC_DIR, Base, Database, alembic_config, migrate

VERSIONS = Path(ALEMBIC_DIR) / "versions"


def test_one_head():
    heads = ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads()
    assert len(heads) == 1, f"{len(heads)} Alembic heads {sorted(heads)}: add a merge revision (alembic merge heads)"


def test_migrations_import_no_live_code():
    offenders = []
    for path in sorted(VERSIONS.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] in ("dashboard", "layouts", "callbacks")]
    assert not offenders, f"migrations import live code (copy what they need instead): {offenders}"


def test_models_match_migrations(db_url):
    """On SQLite and PostgreSQL: a database built by the migrations is what the models describe."""
    db = Database(db_url)
    try:
        migrate(db.engine)
        with db.engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            diff = compare_metadata(ctx, Base.metadata)
    finally:
        db.dispose()
    assert diff == [], "models and migrations differ (write a migration for the model change):\n" + \
        "\n".join(map(repr, diff))
