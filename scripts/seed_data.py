"""Load the template's development fixtures (src/example_app/fixtures) into the configured database.

    APP_ENV=development python scripts/seed_data.py [--mode converge] [--dry-run] [--fixtures DIR]

The template's use of ``schemakit seed`` (see its documentation for the guard, the modes and the exit codes),
with the template's models and fixtures, wherever it is run from.
"""

from __future__ import annotations

import sys
from pathlib import Path

from schemakit.seeding.command import main

SOURCES = Path(__file__).resolve().parent.parent / "src"

if __name__ == "__main__":
    defaults = ["--models", "example_app.models", "--fixtures", str(SOURCES / "example_app" / "fixtures")]
    sys.exit(main([*defaults, *sys.argv[1:]]))
