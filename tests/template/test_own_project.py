"""The README's "Use schemakit in your own project", followed to the letter from the built wheel.

The wheel is installed in a fresh virtual environment; the section's files are written into an empty folder,
and its commands are run there, on PostgreSQL: ``TEST_DATABASE_URL`` is the test server, ``DATABASE_URL`` an
empty database on it.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent.parent
SECTION = re.compile(r"## Use schemakit in your own project\n(.*?)\n## ", re.DOTALL)
FILE_BLOCK = re.compile(r"`([\w./]+)`[^\n]*:\n\n```(toml|python)\n(.*?)```", re.DOTALL)
JSON_BLOCK = re.compile(r"```json\n(.*?)```", re.DOTALL)


def section() -> str:
    found = SECTION.search((ROOT / "README.md").read_text())
    assert found is not None
    return found.group(1)


def run(command: list[str], cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=False, timeout=900)


@pytest.fixture(scope="module")
def virtualenv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtual environment, beside the wheel built from this checkout."""
    folder = tmp_path_factory.mktemp("wheel")
    built = run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(folder), str(ROOT)], ROOT)
    assert built.returncode == 0, built.stderr
    venv = folder / "venv"
    assert run([sys.executable, "-m", "venv", str(venv)], folder).returncode == 0
    return venv


def write_files(project: Path) -> None:
    text = section()
    for name, _language, body in FILE_BLOCK.findall(text):
        path = project / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(body)
    (project / "library_app" / "__init__.py").write_text("")
    authors, books = (json.loads(block) for block in JSON_BLOCK.findall(text))
    (project / "fixtures").mkdir(exist_ok=True)
    (project / "fixtures" / "authors.json").write_text(json.dumps(authors))
    (project / "fixtures" / "books.json").write_text(json.dumps(books))


@pytest.mark.parametrize("dialect", [pytest.param("postgresql", marks=pytest.mark.requires_postgres)])
def test_the_readme_takes_a_new_project_from_an_empty_folder_to_passing_checks(
    virtualenv: Path, empty_database_url: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    server = request.getfixturevalue("schemakit_test_environment").databases.server
    project = tmp_path / "library-app"
    project.mkdir()
    write_files(project)
    (wheel,) = virtualenv.parent.glob("schemakit-*.whl")
    environment = {
        key: value for key, value in os.environ.items() if not key.startswith(("SCHEMAKIT_", "PYTEST_", "APP_ENV"))
    }
    environment |= {
        "PATH": f"{virtualenv / 'bin'}{os.pathsep}{environment['PATH']}",
        "VIRTUAL_ENV": str(virtualenv),
        "DATABASE_URL": empty_database_url,
        "TEST_DATABASE_URL": server.render_as_string(hide_password=False),
    }
    commands = [line[2:] for line in section().splitlines() if line.startswith("$ ")]
    assert commands[0] == 'pip install "schemakit[testing,check,docs]"'
    commands[0] = f'pip install -q "{wheel}[testing,check,docs]"'
    for command in commands:
        result = run(["bash", "-c", command], project, environment)
        assert result.returncode == 0, f"{command}\n{result.stdout}\n{result.stderr}"
        if command.startswith("schemakit init"):
            assert "created   alembic.ini" in result.stdout
            again = run(["bash", "-c", command], project, environment)
            assert "Nothing to do: the project is set up." in again.stdout, again.stdout
        if command == "schemakit docs":
            assert "erDiagram" in (project / "docs" / "schema.md").read_text()
        if "schemakit seed" in command:
            assert re.search(r"^total +4 +0 +0$", result.stdout, re.MULTILINE), result.stdout
    unguarded = run(["bash", "-c", "schemakit seed"], project, environment)
    assert unguarded.returncode == 1
    assert "APP_ENV is not set" in unguarded.stderr
    assert "Nothing was written." in unguarded.stderr
    assert shlex.split(commands[-1]) == ["schemakit", "check"]
