"""Development data: fixture files loaded idempotently, behind a guard that keeps them out of production.

:func:`load_fixtures` reads a folder of fixture files (:mod:`~schemakit.seeding.fixtures` describes them),
:func:`check_seed_target` refuses unsafe databases (:mod:`~schemakit.seeding.guard`), and :func:`seed` loads
the rows in one transaction (:mod:`~schemakit.seeding.loader`). The template's ``scripts/seed_data.py`` puts
the three together.
"""

from schemakit.seeding.fixtures import Fixture, FixtureError, load_fixture_file, load_fixtures
from schemakit.seeding.guard import OVERRIDE_FLAG, SeedRefusedError, check_seed_target, refusal_reasons
from schemakit.seeding.loader import seed
from schemakit.seeding.report import ModelReport, Progress, SeedMode, SeedReport

__all__ = [
    "OVERRIDE_FLAG",
    "Fixture",
    "FixtureError",
    "ModelReport",
    "Progress",
    "SeedMode",
    "SeedRefusedError",
    "SeedReport",
    "check_seed_target",
    "load_fixture_file",
    "load_fixtures",
    "refusal_reasons",
    "seed",
]
