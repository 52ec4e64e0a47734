"""Temporary copies of the library tests' Alembic project (``tests/library``), to which tests add revisions."""

from __future__ import annotations

import shutil
import textwrap
import uuid
from pathlib import Path

from alembic.config import Config
from alembic.script import ScriptDirectory

from schemakit import DatabaseSettings
from schemakit.migrations import make_config

ROOT = Path(__file__).parent.parent
LIBRARY = ROOT / "tests" / "library"
LIBRARY_INI = LIBRARY / "alembic.ini"


def copy_project(folder: Path) -> Path:
    """Copy the library tests' alembic.ini and alembic/ into ``folder``; return it."""
    shutil.copytree(LIBRARY / "alembic", folder / "alembic", ignore=shutil.ignore_patterns("__pycache__"))
    ini = LIBRARY_INI.read_text().replace("%(here)s/../..", str(ROOT))
    (folder / "alembic.ini").write_text(ini)
    return folder


def configure(project: Path, url: str, **settings: object) -> Config:
    return make_config(project / "alembic.ini", settings=DatabaseSettings(database_url=url, _env_file=None, **settings))


def scripts(project: Path) -> ScriptDirectory:
    return ScriptDirectory(str(project / "alembic"))


def initial_revision(project: Path) -> str:
    (base,) = scripts(project).get_bases()
    return base


def head_revision(project: Path) -> str:
    head = scripts(project).get_current_head()
    assert head is not None
    return head


def revision_count(project: Path) -> int:
    return len(list(scripts(project).walk_revisions()))


def add_revision(
    project: Path, name: str, body: str, *, down: str | None = None, stamp: str = "29990101000000"
) -> Path:
    """Write a revision after ``down`` (default: the head) whose functions are ``body``; return its path."""
    revision = uuid.uuid4().hex[:12]
    down_revision = down or head_revision(project)
    source = f'''
        """{name}"""

        import sqlalchemy as sa
        from alembic import op

        revision = {revision!r}
        down_revision = {down_revision!r}
        branch_labels = None
        depends_on = None

    '''
    path = project / "alembic" / "versions" / f"{stamp}_{name}.py"
    path.write_text(textwrap.dedent(source) + textwrap.dedent(body))
    return path
