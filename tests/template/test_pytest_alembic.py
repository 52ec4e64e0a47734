"""pytest-alembic's own tests, default and experimental, on the template's migrations, on SQLite and PostgreSQL.

pytest-alembic 0.13's plugin fails to collect under pytest 9, so the pytest configuration disables it
(``-p no:pytest_alembic``) and its tests and runner fixture are imported here instead. pytest-alembic hands
schemakit's ``env.py`` an ``Engine`` in ``config.attributes["connection"]``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pytest_alembic.plugin.fixtures import alembic_runner
from pytest_alembic.tests import (
    test_model_definitions_match_ddl,
    test_single_head_revision,
    test_up_down_consistency,
    test_upgrade,
)
from pytest_alembic.tests.experimental import test_all_models_register_on_metadata, test_downgrade_leaves_no_trace
from sqlalchemy import Engine

from schemakit import DatabaseSettings, make_engine

ROOT = Path(__file__).parent.parent.parent

__all__ = [
    "alembic_runner",
    "test_all_models_register_on_metadata",
    "test_downgrade_leaves_no_trace",
    "test_model_definitions_match_ddl",
    "test_single_head_revision",
    "test_up_down_consistency",
    "test_upgrade",
]


@pytest.fixture
def alembic_config() -> dict[str, Any]:
    return {"file": str(ROOT / "alembic.ini")}


@pytest.fixture
def alembic_engine(empty_database_url: str) -> Iterator[Engine]:
    engine = make_engine(DatabaseSettings.for_url(empty_database_url), pool=False, explicit_sqlite_transactions=True)
    yield engine
    engine.dispose()
