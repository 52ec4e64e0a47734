"""``schemakit init``: set up an existing project (or an empty folder) for schemakit, Alembic and pytest.

It writes what is missing and never overwrites what is there:

* ``alembic.ini`` with timestamped revision names (``file_template``) in UTC, and the ruff post-write hook
  when ruff is installed; ``<alembic>/env.py`` (the few lines), ``script.py.mako`` and ``versions/``;
* ``.env.example`` with ``DATABASE_URL`` and ``APP_ENV``; the seed fixtures' folder;
* ``conftest.py`` enabling the pytest plugin, and a first test in the tests folder;
* ``[tool.schemakit]`` and ``[tool.pytest.ini_options]`` appended to ``pyproject.toml`` when it has neither.

A file that exists is left as it is: when it lacks something schemakit needs, :func:`init_project` reports what
to add and where. Running it twice changes nothing.
"""

from __future__ import annotations

import importlib.util
import tomllib
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path

from schemakit.errors import SchemakitError

__all__ = ["InitError", "InitReport", "init_project"]

_FILES = files("schemakit.scaffold") / "files"


class InitError(SchemakitError):
    """The project cannot be set up as asked (an unreadable ``pyproject.toml``, say)."""


@dataclass
class InitReport:
    """What :func:`init_project` did, and what it left for you.

    Attributes:
        created: Files and folders written.
        unchanged: Files that exist and already have what schemakit needs.
        to_do: For each existing file that lacks something, what to add and how.
    """

    created: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    to_do: list[str] = field(default_factory=list)

    def format(self) -> str:
        """The report as text, one line an item."""
        lines = [f"created   {item}" for item in self.created]
        lines += [f"unchanged {item}" for item in self.unchanged]
        lines += [f"to do     {item}" for item in self.to_do]
        if not self.created and not self.to_do:
            lines.append("Nothing to do: the project is set up.")
        return "\n".join(lines)


def _template(name: str, **values: str) -> str:
    text = (_FILES / name).read_text()
    return text.format(**values) if values else text


def init_project(
    root: Path, *, models: str, alembic_dir: str = "alembic", fixtures: str = "fixtures", tests: str = "tests"
) -> InitReport:
    """Set up the project in ``root``.

    Args:
        root: The project's folder (where ``pyproject.toml`` is or will be).
        models: The import path of the module that defines (or imports) every model.
        alembic_dir: The migrations' folder.
        fixtures: The seed fixtures' folder.
        tests: The tests' folder.

    Returns:
        What was created, what was already right, and what is left to do by hand.

    Raises:
        InitError: If ``pyproject.toml`` exists but cannot be read.
    """
    report = InitReport()
    sys_path = "%(here)s/src" if (root / "src").is_dir() else "%(here)s"
    hooks = _template("ruff_hooks.ini.tmpl") if importlib.util.find_spec("ruff") else ""
    ini = _template("alembic.ini.tmpl", alembic_dir=alembic_dir, sys_path=sys_path, hooks=hooks)
    _write(report, root, "alembic.ini", ini)
    _write(report, root, f"{alembic_dir}/env.py", _template("env.py.tmpl", models=models))
    _write(report, root, f"{alembic_dir}/script.py.mako", _template("script.py.mako"))
    _folder(report, root, f"{alembic_dir}/versions")
    _folder(report, root, fixtures)
    _write(report, root, ".env.example", _template("env.example.tmpl"), needs=("DATABASE_URL=", "APP_ENV="))
    _write(report, root, "conftest.py", _template("conftest.py.tmpl"), needs=("schemakit.testing.plugin",))
    _write(report, root, f"{tests}/test_schema.py", _template("test_schema.py.tmpl", models=models))
    _pyproject(report, root, _template("pyproject.toml.tmpl", models=models, fixtures=fixtures, tests=tests))
    return report


def _write(report: InitReport, root: Path, name: str, content: str, *, needs: tuple[str, ...] = ()) -> None:
    path = root / name
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
        report.created.append(name)
        return
    missing = [line for line in content.splitlines() if line and any(need in line for need in needs)]
    missing = [line for line in missing if line not in path.read_text()]
    if missing:
        report.to_do.append(f"{name}: add {'; '.join(missing)}")
    else:
        report.unchanged.append(name)


def _folder(report: InitReport, root: Path, name: str) -> None:
    path = root / name
    if path.is_dir():
        report.unchanged.append(f"{name}/")
        return
    path.mkdir(parents=True)
    (path / ".gitkeep").write_text("")
    report.created.append(f"{name}/")


def _pyproject(report: InitReport, root: Path, tables: str) -> None:
    path = root / "pyproject.toml"
    existing = path.read_text() if path.exists() else ""
    try:
        tool = tomllib.loads(existing).get("tool", {})
    except tomllib.TOMLDecodeError as exc:
        raise InitError(f"cannot read {path}: {exc}") from None
    present = [name for name in ("schemakit", "pytest") if name in tool]
    if not present:
        path.write_text(existing.rstrip("\n") + ("\n" if existing else "") + tables)
        report.created.append("pyproject.toml: [tool.schemakit], [tool.pytest.ini_options]")
        return
    wanted = {"schemakit": "[tool.schemakit]", "pytest": "[tool.pytest.ini_options]"}
    absent = [wanted[name] for name in wanted if name not in present]
    if absent or not _pytest_ready(tool.get("pytest", {})):
        report.to_do.append(
            "pyproject.toml: make sure it has these settings (merge them into the tables you have):" + tables
        )
    else:
        report.unchanged.append("pyproject.toml")


def _pytest_ready(pytest_table: dict[str, object]) -> bool:
    options = pytest_table.get("ini_options", {})
    return isinstance(options, dict) and options.get("asyncio_mode") == "auto"
