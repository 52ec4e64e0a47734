"""The drift gate: the models match the migrated schema, so autogenerate has nothing to write."""

from __future__ import annotations

from alembic import command
from alembic.config import Config

from schemakit.gates.findings import Finding, GateResult
from schemakit.migrations.commands import upgrade
from schemakit.migrations.options import with_options
from schemakit.settings import DatabaseSettings

__all__ = ["check_drift"]

GATE = "drift"


def check_drift(config: Config, settings: DatabaseSettings) -> GateResult:
    """Migrate the database ``settings`` points at to head, then compare it with the models.

    Runs the project's own ``env.py`` (and so its models and options) through autogenerate, writing no file.

    Returns:
        A ``models-differ`` finding carrying the migration code autogenerate would write.
    """
    captured: list[str] = []
    config = with_options(config, settings=settings, capture_revision=captured)
    upgrade(config, "heads")
    command.revision(config, message="drift check", autogenerate=True)
    result = GateResult(GATE)
    for code in captured:
        result.findings.append(
            Finding(
                GATE,
                "models-differ",
                "the models differ from the migrated schema; add a migration "
                "(alembic revision --autogenerate -m '...') with this upgrade:",
                detail=code.strip(),
            )
        )
    return result
