"""Migrations stay frozen and never lock a big table while an index is built.

- the models and the migrations agree (no migration is missing);
- no migration imports the project's code, so a migration does the same on every database it
  ever runs on, whatever the code looks like by then;
- on PostgreSQL, an index added to or removed from an existing big table is built with
  CREATE/DROP INDEX CONCURRENTLY (on SQLite, which has neither, a plain one).
"""

from __future__ import annotations

import ast
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from django.contrib.postgres.operations import AddIndexConcurrently, RemoveIndexConcurrently
from django.core.management import call_command
from django.db import migrations
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.state import ProjectState

REPO = Path(__file__).resolve().parent.parent
PROJECT_PACKAGES = {"invoicing", "jobs", "integrations", "config", "core", "tenants", "console"}
# Tables that grow with every order: a plain CREATE INDEX would block their writes while it builds.
BIG_TABLES = {"jobs_joborder", "invoicing_invoice", "invoicing_invoiceevent"}


@pytest.mark.django_db
def test_models_and_migrations_agree() -> None:
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)


def _project_imports(tree: ast.AST) -> list[str]:
    found = []
    for node in ast.walk(tree):  # the whole tree: imports inside RunPython functions count too
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = ["." * node.level + (node.module or "")]
        else:
            continue
        found += [name for name in names if name.startswith(".") or name.split(".")[0] in PROJECT_PACKAGES]
    return found


def test_no_migration_imports_project_code() -> None:
    files = sorted(REPO.glob("*/migrations/*.py"))
    assert files
    offending = {
        str(path.relative_to(REPO)): imports
        for path in files
        if (imports := _project_imports(ast.parse(path.read_text(), filename=str(path))))
    }
    assert offending == {}, "copy what a migration needs into it instead of importing it"


def _index_operations_on_big_tables() -> list[tuple[Any, Any, ProjectState, ProjectState]]:
    """(migration, operation, state before it, state after it) for each index added to or removed
    from a big table that existed before the migration (a new table is empty: nothing to block)."""
    loader = MigrationLoader(None, ignore_no_migrations=True)
    found = []
    for key, migration in sorted(loader.disk_migrations.items()):
        if key[0] not in PROJECT_PACKAGES:
            continue
        operations = []
        for operation in migration.operations:
            if isinstance(operation, migrations.SeparateDatabaseAndState):
                operations += operation.database_operations
            else:
                operations.append(operation)
        if not any(isinstance(op, migrations.AddIndex | migrations.RemoveIndex) for op in operations):
            continue
        before_migration = loader.project_state(key, at_end=False)
        state = before_migration.clone()
        for operation in operations:
            before = state.clone()
            operation.state_forwards(migration.app_label, state)
            if not isinstance(operation, migrations.AddIndex | migrations.RemoveIndex):
                continue
            model_key = (migration.app_label, operation.model_name_lower)
            model = before_migration.models.get(model_key)
            table = model and (model.options.get("db_table") or "_".join(model_key))
            if table in BIG_TABLES:
                found.append((migration, operation, before, state.clone()))
    return found


class _RecordingEditor:
    """Stands in for a schema editor: records which index calls an operation makes, runs none."""

    def __init__(self, vendor: str) -> None:
        self.connection = SimpleNamespace(vendor=vendor, alias="default", in_atomic_block=False)
        self.calls: list[tuple[str, str, dict[str, Any]]] = []

    def add_index(self, model: Any, index: Any, **options: Any) -> None:
        self.calls.append(("add", index.name, options))

    def remove_index(self, model: Any, index: Any, **options: Any) -> None:
        self.calls.append(("remove", index.name, options))


def test_indexes_on_big_tables_are_built_concurrently_on_postgresql() -> None:
    operations = _index_operations_on_big_tables()
    assert len(operations) >= 6  # invoicing 0005, 0006 (3), jobs 0003, 0005 (2), 0008
    for migration, operation, before, after in operations:
        where = f"{migration.app_label}.{migration.name}: {operation.describe()}"
        assert isinstance(operation, AddIndexConcurrently | RemoveIndexConcurrently), where
        assert migration.atomic is False, f"{where}: CONCURRENTLY needs `atomic = False`"
        for vendor, options in (("postgresql", {"concurrently": True}), ("sqlite", {})):
            editor = _RecordingEditor(vendor)
            operation.database_forwards(migration.app_label, editor, before, after)
            operation.database_backwards(migration.app_label, editor, after, before)
            assert [call[2] for call in editor.calls] == [options, options], f"{where} on {vendor}"
