"""Expand and contract phases: run the migrations up to the first one that the running code would not survive.

A revision declares its phase at module level. Most revisions *expand* (the default): they add what the new
code needs and keep what the running code uses. A revision that drops or renames what the previous release
still uses declares itself ``phase = "contract"``. A deployment then runs in two steps::

    alembic -x phase=expand upgrade head   # stops before the first pending contract revision
    # ... deploy the new code ...
    alembic upgrade head                   # the contract revisions

From Python: ``upgrade(config, phase="expand")``. ``schemakit check`` holds each phase to its promise (see
:mod:`schemakit.gates.phases`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

from alembic.script import Script

from schemakit.errors import MigrationError

__all__ = ["CONTRACT", "EXPAND", "PHASES", "PHASE_ARGUMENT", "revision_phase", "stop_before_contract"]

log = logging.getLogger(__name__)

#: The phase of a revision that keeps everything the running code uses.
EXPAND = "expand"
#: The phase of a revision that drops or renames what the previous release used.
CONTRACT = "contract"
#: The phases a revision may declare.
PHASES = (EXPAND, CONTRACT)
#: The ``-x`` argument that stops a run before the first contract revision: ``-x phase=expand``.
PHASE_ARGUMENT = "phase"


def revision_phase(script: Script) -> str:
    """The phase ``script`` declares (``phase = "contract"`` at module level), ``"expand"`` when it declares none.

    Raises:
        MigrationError: For a phase other than ``"expand"`` and ``"contract"``.
    """
    phase = getattr(script.module, "phase", EXPAND)
    if phase not in PHASES:
        raise MigrationError(f"revision {script.revision} declares phase = {phase!r}; use 'expand' or 'contract'")
    return str(phase)


def stop_before_contract(steps: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Iterator[Any]]:
    """Wrap the function that lists an Alembic command's steps so the list ends before the first contract upgrade."""

    def expand_only(heads: Any, migration_context: Any) -> Iterator[Any]:
        for step in steps(heads, migration_context):
            info = step.info
            if info.is_upgrade and revision_phase(info.up_revision) == CONTRACT:
                log.warning(
                    "Stopping before %s, a contract revision: deploy the new code, then run the migrations again",
                    info.up_revision.revision,
                )
                return
            yield step

    return expand_only
